// --cipher-suites takes Go's cipher suite names (crypto/tls CipherSuites() and InsecureCipherSuites(), plus etcd's
// two CHACHA20 aliases: etcd's tlsutil.GetCipherSuite); OpenSSL, under Node, calls the same suites by other names.
// As in Go, the list governs TLS 1.2 only: TLS 1.3's suites are always all enabled (Go does not let them be chosen,
// and etcd accepts their names but they change nothing).

import tls from 'node:tls';

/** Go name -> OpenSSL name; null for TLS 1.3 suites, which are not configurable. */
const SUITES: Readonly<Record<string, string | null>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  // InsecureCipherSuites()
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  // etcd's aliases
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};

/** TLS 1.3's suites, all of them, always (Go's behaviour). */
const TLS13_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/**
 * Go 1.19's default TLS 1.2 suites (crypto/tls's preference order without the insecure ones), which etcd serves when
 * --cipher-suites is empty; Node's own default list differs (DHE suites, no CBC-SHA).
 */
const GO_DEFAULT_TLS12 = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-RSA-AES256-SHA',
  'AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-SHA',
  'AES256-SHA',
];

export class CipherSuiteError extends Error {}

export interface CipherSelection {
  /** Node's `ciphers` option: the TLS 1.2 suites in the given order, then TLS 1.3's */
  readonly ciphers: string;
  /** Go names given that this OpenSSL build cannot offer (RC4 and 3DES in OpenSSL 3): a start-up warning */
  readonly unavailable: readonly string[];
}

/** The OpenSSL cipher string for --cipher-suites; throws etcd's `unexpected TLS cipher suite "X"` for an unknown name. */
export function selectCipherSuites(goNames: readonly string[]): CipherSelection {
  if (goNames.length === 0) return { ciphers: `${TLS13_SUITES}:${GO_DEFAULT_TLS12.join(':')}`, unavailable: [] };
  const available = new Set(tls.getCiphers());
  const tls12: string[] = [];
  const unavailable: string[] = [];
  for (const name of goNames) {
    const openssl = SUITES[name];
    if (openssl === undefined) throw new CipherSuiteError(`unexpected TLS cipher suite "${name}"`);
    if (openssl === null) continue;
    if (available.has(openssl.toLowerCase())) tls12.push(openssl);
    else unavailable.push(name);
  }
  // Only unavailable TLS 1.2 suites given: TLS 1.2 then has none, as Go would have none it could use with OpenSSL.
  return { ciphers: [TLS13_SUITES, ...tls12].join(':'), unavailable };
}
