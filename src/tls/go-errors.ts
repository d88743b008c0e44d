// Go's words for what went wrong, so that etcd-ts logs and refuses as etcd does: OpenSSL's handshake errors and
// certificate verification codes turned into crypto/tls and crypto/x509 texts (Go 1.19, which etcd 3.4.23 is built
// with), and file errors as Go's os package prints them.

import { X509Certificate } from 'node:crypto';

/** crypto/tls alert.go: the alert numbers of RFC 8446 and Go's text for each. */
const ALERT_TEXT: Readonly<Record<number, string>> = {
  0: 'close notify',
  10: 'unexpected message',
  20: 'bad record MAC',
  21: 'decryption failed',
  22: 'record overflow',
  30: 'decompression failure',
  40: 'handshake failure',
  42: 'bad certificate',
  43: 'unsupported certificate',
  44: 'revoked certificate',
  45: 'expired certificate',
  46: 'unknown certificate',
  47: 'illegal parameter',
  48: 'unknown certificate authority',
  49: 'access denied',
  50: 'error decoding message',
  51: 'error decrypting message',
  60: 'export restriction',
  70: 'protocol version not supported',
  71: 'insufficient security level',
  80: 'internal error',
  86: 'inappropriate fallback',
  90: 'user canceled',
  100: 'no renegotiation',
  109: 'missing extension',
  110: 'unsupported extension',
  111: 'certificate unobtainable',
  112: 'unrecognized name',
  113: 'bad certificate status response',
  114: 'bad certificate hash value',
  115: 'unknown PSK identity',
  116: 'certificate required',
  120: 'no application protocol',
};

/** What Go's server logs for a handshake that failed with this Node/OpenSSL error. */
export function handshakeErrorText(err: Error & { code?: string }): string {
  const alert = /SSL alert number (\d+)/.exec(err.message);
  if (alert !== null) {
    const n = Number(alert[1]);
    return `remote error: tls: ${ALERT_TEXT[n] ?? `alert(${n})`}`;
  }
  switch (err.code) {
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return "tls: client didn't provide a certificate";
    case 'ERR_SSL_NO_SHARED_CIPHER':
      return 'tls: no cipher suite supported by both client and server';
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_UNKNOWN_PROTOCOL':
      return 'tls: client offered only unsupported versions';
    case 'ERR_SSL_NO_APPLICATION_PROTOCOL':
      return 'tls: client requested unsupported application protocols';
    case 'ECONNRESET':
      return 'read: connection reset by peer';
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return 'i/o timeout';
  }
  const reason = (err as { reason?: unknown }).reason;
  return `tls: ${typeof reason === 'string' && reason !== '' ? reason : err.message.split('\n')[0]}`;
}

/** Go's time.RFC3339 in UTC, to the second. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * crypto/x509's error for an OpenSSL verification code (Node's `verifyError().code`), given the certificates the peer
 * presented (leaf first) for the expiry message.
 */
export function x509ErrorText(code: string, message: string, chain: readonly X509Certificate[], now = new Date()): string {
  switch (code) {
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return 'x509: certificate signed by unknown authority';
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID': {
      for (const c of chain) {
        const from = new Date(c.validFrom);
        const to = new Date(c.validTo);
        if (now < from) return `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is before ${rfc3339(from)}`;
        if (now > to) return `x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is after ${rfc3339(to)}`;
      }
      return 'x509: certificate has expired or is not yet valid';
    }
    case 'INVALID_PURPOSE':
      return 'x509: certificate specifies an incompatible key usage';
    default:
      return `x509: ${message}`;
  }
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
};

/** os.ReadFile's error as Go prints it: `open ca.crt: no such file or directory`. */
export function fileErrorText(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const op = code === 'EISDIR' ? 'read' : 'open';
  return `${op} ${path}: ${ERRNO_TEXT[code] ?? (err as Error).message}`;
}
