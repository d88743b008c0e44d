// Starting and stopping one member: storage, server and front ends, in that order (and the reverse on close).
//
// The client URLs (--listen-client-urls) are the client port (src/frontend): each connection goes to gRPC, the binary
// protocol or HTTP by its first bytes. HTTP is uWS listening privately behind it, or, with --listen-client-http-urls,
// uWS listening on those URLs directly (the client URLs then serve gRPC and the binary protocol only). The binary
// protocol also keeps its own listeners (--listen-client-binary-urls), the fastest path.
//
// TLS (src/tls): https:// URLs on any of these listeners and on the peer URLs, with etcd's flags. The client port and
// the binary listeners terminate TLS themselves; https:// --listen-client-http-urls are served by a client port in
// HTTP-only mode that terminates TLS and pipes to uWS's private listener, as the client port does (uWS's SSLApp has
// no certificate reload, CRL, client CN or per-handshake checks).

import type { Config, Limits } from '../config/index.js';
import { openStorage, type Storage } from '../storage/index.js';
import { EtcdServer, type ServerEvents, type ServerOptions } from '../server/index.js';
import { BinaryServer, type ListeningAddress } from '../binary/index.js';
import { HttpServer, httpRoutes, type HttpPrivateAddress } from '../http/index.js';
import { ClientPort, type GrpcFrontEnd } from '../frontend/index.js';
import { GrpcServer } from '../grpc/index.js';
import { listenersOf, MemberTls } from '../tls/index.js';

export interface Member {
  readonly server: EtcdServer;
  readonly storage: Storage;
  /** --listen-client-binary-urls, bound */
  readonly binaryAddresses: ListeningAddress[];
  /** --listen-client-urls, bound: the client port (gRPC, the binary protocol, and HTTP unless it has its own) */
  readonly clientAddresses: ListeningAddress[];
  /** where HTTP is served: the client URLs' addresses, or --listen-client-http-urls' when set */
  readonly httpAddresses: ListeningAddress[];
  /** uWS's private listener, which the client port pipes HTTP to; null with --listen-client-http-urls */
  readonly httpPrivateAddress: HttpPrivateAddress | null;
  readonly clientPort: ClientPort;
  /** the member's TLS (both sides' settings), built at start-up */
  readonly tls: MemberTls;
  close(): Promise<void>;
}

/** What a front end built for this member gets. */
export interface FrontEndContext {
  readonly server: EtcdServer;
  readonly limits: Limits;
  readonly config: Config;
}

export interface FrontEndOptions {
  /**
   * Builds the gRPC front end for the client port: src/grpc's GrpcServer unless given (a test's stand-in); null: none,
   * and HTTP/2 connections to the client port are closed, with a warning.
   */
  grpc?: ((ctx: FrontEndContext) => GrpcFrontEnd) | null;
}

const defaultGrpc = (ctx: FrontEndContext): GrpcFrontEnd => new GrpcServer({ server: ctx.server, limits: ctx.limits });

function urlOf(a: ListeningAddress, scheme = 'http'): string {
  return `${scheme}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** The URLs of bound listeners (listenersOf's order): https when an https:// URL names the listener. */
export function boundUrls(urls: readonly string[], addresses: readonly ListeningAddress[]): string[] {
  const listeners = listenersOf(urls);
  return addresses.map((a, i) => urlOf(a, listeners[i]?.secure === true ? 'https' : 'http'));
}

const anySecure = (urls: readonly string[]): boolean => urls.some((u) => MemberTls.isSecure(u));

export async function startMember(config: Config, events: ServerEvents = {}, options: ServerOptions = {}, frontEnds: FrontEndOptions = {}): Promise<Member> {
  // etcd checks its TLS settings before it opens its data (auto TLS writes its certificates there afterwards)
  const tls = new MemberTls(config);
  const storage = await openStorage(config.dataDir);
  let server: EtcdServer | null = null;
  let binary: BinaryServer | null = null;
  let http: HttpServer | null = null;
  let grpc: GrpcFrontEnd | null = null;
  let clientPort: ClientPort | null = null;
  let httpsPort: ClientPort | null = null;
  try {
    tls.start();
    server = await EtcdServer.start(config, storage, events, { peerTls: tls.peer, ...options });
    const binaryTls = anySecure(config.listenClientBinaryUrls) ? tls.clientServer(null) : null;
    binary = new BinaryServer({ server, limits: config.limits, urls: config.listenClientBinaryUrls, tls: binaryTls });
    const binaryAddresses = await binary.listen();
    server.setBinaryURLs(boundUrls(config.listenClientBinaryUrls, binaryAddresses));
    const split = config.listenClientHttpUrls.length > 0;
    // https:// HTTP URLs: TLS is terminated by a client port in HTTP-only mode, which pipes to uWS's private listener
    const splitTls = split && anySecure(config.listenClientHttpUrls);
    http = new HttpServer({
      server,
      limits: config.limits,
      urls: split && !splitTls ? config.listenClientHttpUrls : [],
      flag: '--listen-client-http-urls',
      routes: httpRoutes,
    });
    let httpListening = split && !splitTls ? await http.listen() : null;
    const upstream = split && !splitTls ? null : await http.listenPrivate();
    if (splitTls) {
      httpsPort = new ClientPort({
        urls: config.listenClientHttpUrls,
        tls: tls.clientServer('http1'),
        grpc: null,
        binary: null,
        http: upstream,
        httpOnly: true,
        connectionsMax: config.limits.connectionsMax,
      });
      httpListening = await httpsPort.listen();
    }
    const makeGrpc = frontEnds.grpc === undefined ? defaultGrpc : frontEnds.grpc;
    grpc = makeGrpc?.({ server, limits: config.limits, config }) ?? null;
    const b = binary;
    const g = grpc;
    clientPort = new ClientPort({
      urls: config.listenClientUrls,
      tls: anySecure(config.listenClientUrls) ? tls.clientServer('client-port') : null,
      grpc: g === null ? null : (socket) => g.handleConnection(socket),
      binary: (socket) => b.acceptSocket(socket),
      http: split ? null : upstream,
      connectionsMax: config.limits.connectionsMax,
    });
    const clientAddresses = await clientPort.listen();
    let closing: Promise<void> | null = null;
    const s = server;
    const h = http;
    const c = clientPort;
    const hs = httpsPort;
    return {
      server: s,
      storage,
      binaryAddresses,
      clientAddresses,
      httpAddresses: httpListening ?? clientAddresses,
      httpPrivateAddress: split ? null : upstream,
      clientPort: c,
      tls,
      close(): Promise<void> {
        closing ??= (async () => {
          await g?.close();
          await c.close();
          await hs?.close();
          await h.close();
          await b.close();
          await s.close();
          await storage.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await grpc?.close();
    await clientPort?.close();
    await httpsPort?.close();
    await http?.close();
    await binary?.close();
    await server?.close();
    await storage.close();
    throw err;
  }
}
