// Starting and stopping one member: storage, server and front ends, in that order (and the reverse on close).
//
// The client URLs (--listen-client-urls) are the client port (src/frontend): each connection goes to gRPC, the binary
// protocol or HTTP by its first bytes. HTTP is uWS listening privately behind it, or, with --listen-client-http-urls,
// uWS listening on those URLs directly (the client URLs then serve gRPC and the binary protocol only). The binary
// protocol also keeps its own listeners (--listen-client-binary-urls), the fastest path.

import type { Config, Limits } from '../config/index.js';
import { openStorage, type Storage } from '../storage/index.js';
import { EtcdServer, type ServerEvents, type ServerOptions } from '../server/index.js';
import { BinaryServer, type ListeningAddress } from '../binary/index.js';
import { HttpServer, httpRoutes, type HttpPrivateAddress } from '../http/index.js';
import { ClientPort, type GrpcFrontEnd } from '../frontend/index.js';
import { GrpcServer } from '../grpc/index.js';

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

function urlOf(a: ListeningAddress): string {
  return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

export async function startMember(config: Config, events: ServerEvents = {}, options: ServerOptions = {}, frontEnds: FrontEndOptions = {}): Promise<Member> {
  const storage = await openStorage(config.dataDir);
  let server: EtcdServer | null = null;
  let binary: BinaryServer | null = null;
  let http: HttpServer | null = null;
  let grpc: GrpcFrontEnd | null = null;
  let clientPort: ClientPort | null = null;
  try {
    server = await EtcdServer.start(config, storage, events, options);
    binary = new BinaryServer({ server, limits: config.limits, urls: config.listenClientBinaryUrls });
    const binaryAddresses = await binary.listen();
    server.setBinaryURLs(binaryAddresses.map(urlOf));
    const split = config.listenClientHttpUrls.length > 0;
    http = new HttpServer({
      server,
      limits: config.limits,
      urls: split ? config.listenClientHttpUrls : [],
      flag: '--listen-client-http-urls',
      routes: httpRoutes,
    });
    const httpListening = split ? await http.listen() : null;
    const upstream = split ? null : await http.listenPrivate();
    const makeGrpc = frontEnds.grpc === undefined ? defaultGrpc : frontEnds.grpc;
    grpc = makeGrpc?.({ server, limits: config.limits, config }) ?? null;
    const b = binary;
    const g = grpc;
    clientPort = new ClientPort({
      urls: config.listenClientUrls,
      grpc: g === null ? null : (socket) => g.handleConnection(socket),
      binary: (socket) => b.acceptSocket(socket),
      http: upstream,
      connectionsMax: config.limits.connectionsMax,
    });
    const clientAddresses = await clientPort.listen();
    let closing: Promise<void> | null = null;
    const s = server;
    const h = http;
    const c = clientPort;
    return {
      server: s,
      storage,
      binaryAddresses,
      clientAddresses,
      httpAddresses: httpListening ?? clientAddresses,
      httpPrivateAddress: upstream,
      clientPort: c,
      close(): Promise<void> {
        closing ??= (async () => {
          await g?.close();
          await c.close();
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
    await http?.close();
    await binary?.close();
    await server?.close();
    await storage.close();
    throw err;
  }
}
