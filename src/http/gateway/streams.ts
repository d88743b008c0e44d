// Server-side streams for the gateway's HTTP and WebSocket front ends: the same member streams the binary protocol
// opens (watch, lease keep-alive, election observe), plus etcd's require-leader check for clients that send
// `Grpc-Metadata-hasleader: true`.

import type { EtcdError } from '../../errors/index.js';
import type { StreamMethodName } from '../../proto/index.js';
import { openMethodStream, type EtcdServer, type RequestAuth, type StreamHandle } from '../../server/index.js';

/** Where a stream's responses go (a chunked HTTP response or a WebSocket). */
export interface StreamOutput {
  send(response: unknown): void;
  end(err?: EtcdError): void;
  pendingBytes(): number;
}

export interface ServerStream {
  handle(request: unknown): void;
  close(): void;
  drained(): void;
}

/**
 * Opens a member stream; throws an EtcdError when the member refuses it (stopped, learner, no leader). `auth`: the
 * credentials the stream's requests run with (an HTTP stream's Authorization header, a WebSocket's token at connect).
 */
export function openServerStream(server: EtcdServer, method: StreamMethodName, out: StreamOutput, requireLeader: boolean, auth?: RequestAuth): ServerStream {
  const inner: StreamHandle = openMethodStream(server, method, out, auth === undefined ? { requireLeader } : { requireLeader, auth });
  return { handle: (r) => inner.handle(r), close: () => inner.close(), drained: () => inner.drained?.() };
}
