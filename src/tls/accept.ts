// The server side of a TLS listener, as etcd's (pkg/transport/listener_tls.go on crypto/tls): each accepted TCP
// connection is handshaken with the side's current certificate, then checked, and only then handed to the front end.
//
//   1. The first record must look like a TLS handshake, else `tls: first record does not look like a TLS handshake`
//      and the connection is closed without a reply. On a port that http:// and https:// URLs share (etcd serves both
//      on one port), a connection whose first byte is not a TLS record goes to the plaintext handler instead.
//   2. Client certificates are required and verified when the side has a trusted CA file or client-cert-auth (etcd's
//      RequireAndVerifyClientCert, trap 8); a client without one is refused in the handshake (`tls: client didn't
//      provide a certificate`), one whose chain does not verify right after it (`tls: failed to verify client
//      certificate: x509: ...`), with Go's texts.
//   3. --peer-cert-allowed-cn / --*-cert-allowed-hostname (`client certificate authentication failed`), the CRL
//      (`transport: certificate serial <hex> revoked`), and on peer listeners the SAN check against the connecting
//      address unless --experimental-peer-skip-client-san-verification.
// Any failure is logged as etcd logs it (`rejected connection`, tlsChannel) and closes that connection only.
//
// Node verifies a server-side client certificate only in its own tls.Server's connection handler, which also destroys
// a failing connection before saying why. The listeners here wrap accepted sockets themselves (they sniff first and
// pick the certificate per handshake), so the chain's verdict is read where tls.Server reads it: the TLS handle's
// verifyError(), an internal of Node 20 (package.json pins 20.x). If it is ever missing, every client certificate is
// refused rather than trusted.
//
// Bounds: a connection has TLS_HANDSHAKE_TIMEOUT_MS from accept to be handed over.

import { X509Certificate } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import { TLS_HANDSHAKE_TIMEOUT_MS } from '../config/limits.js';
import { handshakeErrorText, x509ErrorText } from './go-errors.js';
import { setClientIdentity } from './identity.js';
import type { TlsInfo } from './info.js';
import { tlsLog } from './log.js';
import type { CertificateFiles, RevocationList } from './material.js';
import { revokedMessage } from './crl.js';
import { certificateSerial } from './der.js';
import { checkCertSan, commonNameOf, sansOf, verifyHostname } from './verify.js';

export interface TlsServerOptions {
  readonly files: CertificateFiles;
  readonly crl: RevocationList | null;
  /**
   * ALPN: `client-port` selects http/1.1 whenever the client offers it (the HTTP side is HTTP/1 only), else h2 (gRPC
   * clients offer only h2; grpc-go requires it negotiated); `http1` selects http/1.1 only; null: no ALPN.
   */
  readonly alpn: Alpn;
  /** peer listeners: etcd's checkSAN on the client certificate */
  readonly peer: boolean;
  readonly handshakeTimeoutMs?: number;
}

export type Alpn = 'client-port' | 'http1' | null;

function selectProtocol(alpn: Alpn, protocols: string[]): string | undefined {
  if (protocols.includes('http/1.1')) return 'http/1.1';
  return alpn === 'client-port' && protocols.includes('h2') ? 'h2' : undefined;
}

type VerifyError = (Error & { code: string }) | null;

/** The chain verdict tls.Server reads (see the header). */
function chainVerdict(socket: tls.TLSSocket): VerifyError | 'unknown' {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => VerifyError } })._handle;
  if (typeof handle?.verifyError !== 'function') return 'unknown';
  return handle.verifyError();
}

/** The certificates the peer presented, leaf first. */
function presentedChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | Record<string, never>;
  const seen = new Set<unknown>();
  while (c !== undefined && 'raw' in c && c.raw !== undefined && !seen.has(c)) {
    seen.add(c);
    out.push(new X509Certificate(c.raw));
    if (c.issuerCertificate === c) break;
    c = c.issuerCertificate;
  }
  return out;
}

/** net.Conn.RemoteAddr().String() */
function remoteAddr(raw: net.Socket): string {
  const a = raw.remoteAddress ?? '';
  return `${a.includes(':') ? `[${a}]` : a}:${raw.remotePort ?? 0}`;
}

/** The first record of a TLS client: a handshake (or alert) record of a version below 0x1000 (Go's check). */
function tlsRecordVerdict(head: Buffer): 'tls' | 'not-tls' | null {
  if (head.length === 0) return null;
  if (head[0] !== 0x16 && head[0] !== 0x15) return 'not-tls';
  if (head.length < 3) return null;
  return head[1]! >= 0x10 ? 'not-tls' : 'tls';
}

export class TlsServer {
  private readonly requestCert: boolean;
  private readonly handshakeTimeoutMs: number;

  constructor(
    readonly info: TlsInfo,
    private readonly options: TlsServerOptions,
  ) {
    this.requestCert = info.trustedCaFile !== '' || info.clientCertAuth;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS;
  }

  /**
   * Serves TLS on an accepted connection: `secure` gets the TLS socket once every check passed. `plaintext`, for a
   * port shared with http:// URLs, gets the connections that do not start with a TLS record (their bytes put back).
   * Returns the TLS socket once there is one (for the caller's bookkeeping), through `onWrapped`.
   */
  accept(raw: net.Socket, secure: (socket: tls.TLSSocket) => void, plaintext: ((raw: net.Socket) => void) | null = null, onWrapped?: (socket: tls.TLSSocket) => void): void {
    raw.on('error', () => {});
    const remote = remoteAddr(raw); // gone from the socket once it is destroyed
    let settled = false;
    let wrapped: tls.TLSSocket | null = null;
    const timer = setTimeout(() => reject('i/o timeout', null), this.handshakeTimeoutMs);
    const reject = (err: Error | string, chain: X509Certificate[] | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.logRejected(remote, wrapped, typeof err === 'string' ? err : handshakeErrorText(err), chain);
      wrapped?.destroy();
      raw.destroy();
    };
    const done = (socket: tls.TLSSocket): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure(socket);
    };
    let head: Buffer = Buffer.alloc(0);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = raw.read() as Buffer | null) !== null) head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const verdict = plaintext !== null ? (head.length === 0 ? null : head[0] === 0x16 || head[0] === 0x15 ? 'tls' : 'plain') : tlsRecordVerdict(head);
      if (verdict === null) return;
      stopSniffing();
      raw.unshift(head);
      if (verdict === 'plain') {
        settled = true;
        clearTimeout(timer);
        plaintext!(raw);
      } else if (verdict === 'not-tls') reject('tls: first record does not look like a TLS handshake', null);
      else {
        wrapped = this.handshake(raw, done, reject);
        if (wrapped !== null) onWrapped?.(wrapped);
      }
    };
    const onEnd = (): void => {
      stopSniffing();
      reject('EOF', null);
    };
    const stopSniffing = (): void => {
      raw.removeListener('readable', onReadable);
      raw.removeListener('end', onEnd);
    };
    raw.on('readable', onReadable);
    raw.on('end', onEnd);
    // once wrapped, the TLS socket reports (its error may come a tick after the raw socket closed)
    raw.once('close', () => {
      if (!settled && wrapped === null) reject('EOF', null);
    });
  }

  /** Wraps the connection and runs the handshake and the checks; null when there is no certificate to serve. */
  private handshake(raw: net.Socket, done: (s: tls.TLSSocket) => void, reject: (err: Error | string, chain: X509Certificate[] | null) => void): tls.TLSSocket | null {
    let secureContext: tls.SecureContext;
    try {
      secureContext = this.options.files.current();
    } catch (err) {
      reject((err as Error).message, null);
      return null;
    }
    const socket = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext,
      requestCert: this.requestCert,
      // with requestCert: OpenSSL refuses a client without a certificate in the handshake (the chain is judged after)
      rejectUnauthorized: this.requestCert,
      ...(this.options.alpn !== null ? { ALPNCallback: ({ protocols }: { protocols: string[] }) => selectProtocol(this.options.alpn, protocols) } : {}),
    });
    socket.on('error', (err) => reject(err, null));
    // Node may emit a handshake error after 'close' has been queued: give it the turn before calling this an EOF
    socket.once('close', () => setImmediate(() => reject('EOF', null)));
    socket.once('secure', () => {
      void this.check(socket).then(
        (problem) => (problem === null ? done(socket) : reject(problem.error, problem.chain)),
        (err: unknown) => reject(err instanceof Error ? err.message : String(err), null),
      );
    });
    return socket;
  }

  /** Everything after the handshake, in etcd's order; null when the connection may be served. */
  private async check(socket: tls.TLSSocket): Promise<{ error: string; chain: X509Certificate[] | null } | null> {
    const info = this.info;
    const chain = presentedChain(socket);
    if (this.requestCert) {
      const verdict = chainVerdict(socket);
      if (verdict === 'unknown') return { error: 'tls: failed to verify client certificate: cannot read the verification result', chain: null };
      if (verdict !== null) return { error: `tls: failed to verify client certificate: ${x509ErrorText(verdict.code, verdict.message, chain)}`, chain: null };
      const leaf = chain[0];
      if (leaf !== undefined) {
        const allowed = info.allowedCn !== '' ? commonNameOf(leaf) === info.allowedCn : info.allowedHostname !== '' ? verifyHostname(leaf, info.allowedHostname) === null : true;
        if (!allowed) return { error: 'client certificate authentication failed', chain };
      }
    }
    if (this.options.crl !== null && chain.length > 0) {
      let revoked: Set<string>;
      try {
        revoked = this.options.crl.current();
      } catch (err) {
        return { error: (err as Error).message, chain };
      }
      for (const cert of chain) {
        const serial = Buffer.from(certificateSerial(cert.raw)).toString('hex');
        if (revoked.has(serial)) return { error: revokedMessage(serial), chain };
      }
    }
    if (this.options.peer && !info.skipClientSanVerify && chain[0] !== undefined) {
      const problem = await checkCertSan(chain[0], socket.remoteAddress ?? '');
      if (problem !== null) return { error: problem, chain };
    }
    if (info.clientCertAuth && chain[0] !== undefined) setClientIdentity(socket, { commonName: commonNameOf(chain[0]) });
    return null;
  }

  private logRejected(remote: string, socket: tls.TLSSocket | null, error: string, chain: X509Certificate[] | null): void {
    const servername = (socket as { servername?: unknown } | null)?.servername;
    const fields: Record<string, unknown> = { 'remote-addr': remote, 'server-name': typeof servername === 'string' ? servername : '' };
    const leaf = chain?.[0];
    if (leaf !== undefined) {
      const { ipAddresses, dnsNames } = sansOf(leaf);
      fields['ip-addresses'] = ipAddresses;
      fields['dns-names'] = dnsNames;
    }
    fields.error = error;
    tlsLog('warn', 'rejected connection', fields);
  }
}
