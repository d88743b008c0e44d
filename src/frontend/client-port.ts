// The client port (--listen-client-urls): one TCP listener for every client protocol, as etcd serves gRPC and HTTP on
// 2379 (etcd uses cmux). Each new connection is held until its first bytes say what it speaks (sniff.ts), then:
//   - HTTP/2 (gRPC)     -> the gRPC front end, given the socket with those bytes put back (socket.unshift);
//   - the binary magic  -> the binary front end, the same way;
//   - an HTTP/1 method  -> uWebSockets.js, which cannot adopt a socket: the bytes are piped both ways to uWS's private
//                          listener, behind a PROXY v2 header carrying the client's address (WebSockets too);
//   - anything else     -> Go's `400 Bad Request`, as etcd answers garbage, and the connection is closed (uWS would
//                          wait for more until its idle timeout).
// Nothing else is parsed here: a request with a valid method and garbage after it gets whatever uWS answers.
// With --listen-client-http-urls the HTTP side has its own listeners; this port then serves gRPC (and the binary
// protocol) only, and answers anything else as etcd 3.5's gRPC-only port does (GRPC_SERVER_SETTINGS_FRAME, then close).
// The same class serves those HTTP listeners when they are https:// (`httpOnly`): TLS is terminated here and the
// decrypted HTTP piped to uWS as above; anything but HTTP/1 is closed.
//
// TLS (https:// URLs, src/tls): the connection is handshaken first (ALPN: http/1.1 when the client offers it, else h2,
// which grpc-go requires), then the decrypted stream is sniffed as above. http:// and https:// URLs on one host:port
// share one listener, as in etcd: a connection starting with a TLS record gets TLS, any other is served in plaintext.
// The verified client CN (--client-cert-auth) travels with the connection to gRPC and the binary front end, and to
// uWS as the PROXY header's source address, registered with src/tls (uWS shows no TLVs).
//
// Bounds: a connection that has not told its protocol within CLIENT_PORT_SNIFF_TIMEOUT_MS of accept is closed; at most
// one read's bytes are held while sniffing; at most limits.connectionsMax connections per listener. A pipe buffers
// no more than the two sockets' own stream buffers (pipe() stops reading one side while the other is full).
//
// Lifecycle: close() stops the listeners and destroys every connection accepted on them (whichever front end has it)
// and every pipe to uWS. Front ends that want to close gracefully close before it.
//
// Observability: diagnostics channel `etcd-ts:client-port` gets { event: 'routed', protocol } per connection,
// { event: 'sniff-timeout', bytes } and { event: 'refused', protocol, reason }.

import net from 'node:net';
import diagnostics from 'node:diagnostics_channel';
import { CLIENT_PORT_CLOSE_GRACE_MS, CLIENT_PORT_SNIFF_TIMEOUT_MS } from '../config/limits.js';
import { listenTcp } from '../transport/index.js';
import { clientCommonName, isProxiedIdentityAddress, listenersOf, registerProxiedIdentity, type TlsServer } from '../tls/index.js';
import { GRPC_SERVER_SETTINGS_FRAME, HTTP_BAD_REQUEST, sniffProtocol, type ClientProtocol } from './sniff.js';
import { ipv6Bytes, proxyV2Header, proxyV2HeaderWithSource } from './proxy-protocol.js';

/** Takes over a connection whose first bytes were read and put back: it reads them again as its first data. */
export type ConnectionHandler = (socket: net.Socket) => void;

/** Where uWS listens privately for the connections the client port pipes to it. */
export type HttpUpstream = { readonly path: string } | { readonly host: string; readonly port: number };

/** A front end for HTTP/2 connections: the gRPC server's shape (src/grpc). */
export interface GrpcFrontEnd {
  handleConnection(socket: net.Socket): void;
  close(): Promise<void>;
}

export interface ClientPortOptions {
  /** http://host:port and https://host:port URLs */
  readonly urls: readonly string[];
  /** TLS for the https:// URLs (required when there is one) */
  readonly tls?: TlsServer | null;
  /** HTTP/2 connections; null: there is no gRPC front end, and they are closed with a warning */
  readonly grpc: ConnectionHandler | null;
  /** binary protocol connections; null (an HTTP-only listener): closed */
  readonly binary: ConnectionHandler | null;
  /** where HTTP connections go; null: HTTP is served on its own listeners (--listen-client-http-urls) */
  readonly http: HttpUpstream | null;
  /** an HTTP-only listener (--listen-client-http-urls with https://): HTTP/2 and binary connections are closed */
  readonly httpOnly?: boolean;
  /** per listener */
  readonly connectionsMax: number;
  /** CLIENT_PORT_SNIFF_TIMEOUT_MS unless a test shortens it */
  readonly sniffTimeoutMs?: number;
}

export interface ClientPortAddress {
  host: string;
  port: number;
}

export type ClientPortMessage =
  | { event: 'routed'; protocol: ClientProtocol }
  | { event: 'sniff-timeout'; bytes: number }
  | { event: 'refused'; protocol: ClientProtocol; reason: string };

export const clientPortChannel = diagnostics.channel('etcd-ts:client-port');

function publish(message: ClientPortMessage): void {
  if (clientPortChannel.hasSubscribers) clientPortChannel.publish(message);
}

/**
 * Copies `from`'s bytes to `to` and its end to `to`'s end, reading no further while `to` is full: stream.pipe() without
 * its bookkeeping (measured in BENCHMARKS.md, "The client port").
 */
function relay(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.once('end', () => to.end());
}

/** How often, at most, the member warns that it closed gRPC connections for want of a gRPC front end. */
const NO_GRPC_WARNING_INTERVAL_MS = 10_000;

export class ClientPort {
  private readonly servers: net.Server[] = [];
  /** every connection accepted and every pipe to uWS, until it closes */
  private readonly sockets = new Set<net.Socket>();
  private closing = false;
  private readonly sniffTimeoutMs: number;
  private noGrpcWarnedAt = -Infinity;
  private noGrpcRefused = 0;

  constructor(private readonly options: ClientPortOptions) {
    this.sniffTimeoutMs = options.sniffTimeoutMs ?? CLIENT_PORT_SNIFF_TIMEOUT_MS;
  }

  /** One address per listener: URLs naming the same host:port share it. */
  async listen(): Promise<ClientPortAddress[]> {
    const addresses: ClientPortAddress[] = [];
    for (const l of listenersOf(this.options.urls)) {
      const tls = this.options.tls ?? null;
      if (l.secure && tls === null) throw new Error(`client URL https://${l.host}:${l.port}: no TLS configuration`);
      const onConnection = l.secure
        ? (raw: net.Socket): void => this.acceptTls(tls!, raw, l.insecure)
        : (raw: net.Socket): void => this.accept(raw);
      const { server, address } = await listenTcp(l.host, l.port, onConnection, this.options.connectionsMax, { allowHalfOpen: true });
      this.servers.push(server);
      addresses.push(address);
    }
    return addresses;
  }

  /** A connection to an https:// listener: TLS first, then the usual sniffing on the decrypted stream. */
  private acceptTls(tls: TlsServer, raw: net.Socket, plaintextToo: boolean): void {
    if (this.closing) {
      raw.destroy();
      return;
    }
    this.track(raw);
    tls.accept(
      raw,
      (secure) => this.accept(secure),
      plaintextToo ? (plain) => this.accept(plain) : null,
      (secure) => this.track(secure),
    );
  }

  /** Connections open on the client port, pipes to uWS included (for tests and metrics). */
  get openSockets(): number {
    return this.sockets.size;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /**
   * Reads in paused mode ('readable' + read()), so that once the listener is removed the socket is back to its
   * initial state: the next owner's 'data' listener (or pipe) starts the flow, from the bytes put back.
   */
  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (!this.sockets.has(socket)) this.track(socket);
    socket.on('error', () => {});
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      publish({ event: 'sniff-timeout', bytes: head.length });
      socket.destroy();
    }, this.sniffTimeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      socket.removeListener('readable', onReadable);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onClose);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const protocol = sniffProtocol(head);
      if (protocol === null) return;
      done();
      this.route(socket, protocol, head);
    };
    // The client ended before it told its protocol: no request can be complete
    const onEnd = (): void => {
      done();
      socket.destroy();
    };
    const onClose = (): void => done();
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onClose);
  }

  private route(socket: net.Socket, protocol: ClientProtocol, head: Buffer): void {
    publish({ event: 'routed', protocol });
    if (protocol === 'http' || protocol === 'malformed') {
      if (this.options.http === null) this.refuseAsGrpcOnly(socket, protocol);
      else if (protocol === 'http') this.pipeToHttp(socket, head);
      else this.answerAndClose(socket, HTTP_BAD_REQUEST, protocol, 'not an HTTP/1 request, HTTP/2 preface or binary frame');
      return;
    }
    if (this.options.httpOnly === true || (protocol === 'binary' && this.options.binary === null)) {
      publish({ event: 'refused', protocol, reason: 'this URL serves HTTP only' });
      socket.destroy();
      return;
    }
    const handler = protocol === 'binary' ? this.options.binary : this.options.grpc;
    if (handler === null) {
      this.refuseGrpc(socket);
      return;
    }
    // As a connection of a listener of its own would be: the front end sees the client's end as the end.
    socket.allowHalfOpen = false;
    socket.unshift(head);
    handler(socket);
  }

  /** uWS cannot adopt a socket: relay the bytes to its private listener, the client's address in a PROXY header. */
  private pipeToHttp(client: net.Socket, head: Buffer): void {
    const upstream = net.connect({ ...this.options.http!, noDelay: true } as net.NetConnectOpts);
    this.track(upstream);
    upstream.on('error', () => {});
    client.setNoDelay(true);
    upstream.write(Buffer.concat([this.proxyHeader(client), head]));
    // Each side's end (FIN) is passed on to the other; the client going away takes the pipe with it at once, uWS closing
    // (its idle timeout, `Connection: close`) takes the client once what uWS wrote is flushed to it.
    relay(client, upstream);
    relay(upstream, client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroySoon());
  }

  /**
   * The client's address for uWS; for a TLS connection with a verified CN, an address registered with that identity
   * (released with the connection). A real client inside the registered block is announced as unknown.
   */
  private proxyHeader(client: net.Socket): Buffer {
    const commonName = clientCommonName(client);
    if (commonName !== undefined) {
      const { address, release } = registerProxiedIdentity({ commonName, remoteAddress: client.remoteAddress ?? '', remotePort: client.remotePort ?? 0 });
      client.once('close', release);
      return proxyV2HeaderWithSource(address, client);
    }
    const bytes = client.remoteAddress === undefined ? null : ipv6Bytes(client.remoteAddress);
    if (bytes !== null && isProxiedIdentityAddress(bytes)) return proxyV2Header({});
    return proxyV2Header(client);
  }

  /** --listen-client-http-urls is set: this port serves gRPC only, and answers the rest as etcd 3.5's does. */
  private refuseAsGrpcOnly(socket: net.Socket, protocol: ClientProtocol): void {
    this.answerAndClose(socket, GRPC_SERVER_SETTINGS_FRAME, protocol, 'this client URL serves gRPC only (--listen-client-http-urls is set)');
  }

  private answerAndClose(socket: net.Socket, answer: Buffer, protocol: ClientProtocol, reason: string): void {
    publish({ event: 'refused', protocol, reason });
    // As Go's server does: send the answer and our end, read and drop what the client still sends, and close only once
    // it closes or after a grace period, so that closing with its bytes unread (a TCP reset) cannot destroy the answer.
    socket.on('data', () => {});
    socket.end(answer);
    const timer = setTimeout(() => socket.destroy(), CLIENT_PORT_CLOSE_GRACE_MS);
    socket.once('close', () => clearTimeout(timer));
  }

  private refuseGrpc(socket: net.Socket): void {
    const reason = 'this member has no gRPC front end: use the binary protocol or HTTP/JSON on the same port';
    publish({ event: 'refused', protocol: 'http2', reason });
    socket.destroy();
    this.noGrpcRefused++;
    const now = performance.now();
    if (now - this.noGrpcWarnedAt < NO_GRPC_WARNING_INTERVAL_MS) return;
    this.noGrpcWarnedAt = now;
    process.emitWarning(`etcd-ts: closed ${this.noGrpcRefused} HTTP/2 (gRPC) connection(s) on the client port: ${reason}`);
    this.noGrpcRefused = 0;
  }

  /** Stops the listeners and closes every connection accepted on them and every pipe to uWS. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    this.servers.length = 0;
    for (const s of this.sockets) s.destroy();
    await Promise.all(closed);
  }
}
