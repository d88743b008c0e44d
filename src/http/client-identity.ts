// The credentials the TLS layer verified for an HTTP request's connection: the client certificate's CN, which the
// client port registers with src/tls and announces to uWS as the PROXY header's source address (uWS exposes no
// TLVs). Read it synchronously in a handler (uWS's request objects do not outlive it).

import type uWS from 'uWebSockets.js';
import type { RequestAuth } from '../server/index.js';
import { proxiedIdentity } from '../tls/index.js';

export function connectionAuth(res: uWS.HttpResponse): RequestAuth | undefined {
  const commonName = proxiedIdentity(res.getProxiedRemoteAddress())?.commonName;
  return commonName === undefined ? undefined : { commonName };
}
