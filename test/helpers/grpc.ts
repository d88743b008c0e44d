// gRPC test helpers: an in-process member with a GrpcServer on its own port, etcd's protos loaded for @grpc/grpc-js
// (a client that shares no code with the server's codec), promise wrappers for its calls, and a raw HTTP/2 gRPC call
// through node:http2 for what grpc-js would check or do itself (deadlines, malformed messages).

import http2 from 'node:http2';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { GrpcServer } from '../../src/grpc/index.js';
import { startInProcess, type InProcessMember } from './member.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** src/grpc/protos, from dist/test/helpers */
export const PROTO_DIR = path.resolve(here, '../../../src/grpc/protos');

export interface GrpcMember {
  member: InProcessMember;
  grpc: GrpcServer;
  /** host:port of the gRPC listener */
  endpoint: string;
  close(): Promise<void>;
}

/** An in-process member (extra flags as etcd's) with a GrpcServer listening on a port of its own. */
export async function startGrpcMember(flags: string[] = []): Promise<GrpcMember> {
  const member = await startInProcess(flags);
  const server = new GrpcServer({ server: member.member.server, limits: member.member.server.config.limits });
  const [address] = await server.listen(['http://127.0.0.1:0']);
  return {
    member,
    grpc: server,
    endpoint: `127.0.0.1:${address!.port}`,
    async close() {
      await server.close();
      await member.close();
    },
  };
}

let definition: grpc.GrpcObject | null = null;

/** etcd's services as grpc-js loads them from our copy of etcd's protos (proto names, int64 as strings, enums as numbers). */
export function etcdProtos(): grpc.GrpcObject {
  definition ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(['rpc.proto', 'v3lock.proto', 'v3election.proto'], {
      includeDirs: [PROTO_DIR],
      keepCase: true,
      longs: String,
      enums: Number,
      defaults: false,
      oneofs: false,
    }),
  );
  return definition;
}

type ServiceClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export interface EtcdClients {
  kv: ServiceClient;
  watch: ServiceClient;
  lease: ServiceClient;
  cluster: ServiceClient;
  maintenance: ServiceClient;
  auth: ServiceClient;
  lock: ServiceClient;
  election: ServiceClient;
  close(): void;
}

function serviceClient(pkg: string, service: string, endpoint: string): ServiceClient {
  const ns = etcdProtos()[pkg] as grpc.GrpcObject;
  const Ctor = ns[service] as grpc.ServiceClientConstructor;
  return new Ctor(endpoint, grpc.credentials.createInsecure()) as unknown as ServiceClient;
}

export function etcdClients(endpoint: string): EtcdClients {
  const c = {
    kv: serviceClient('etcdserverpb', 'KV', endpoint),
    watch: serviceClient('etcdserverpb', 'Watch', endpoint),
    lease: serviceClient('etcdserverpb', 'Lease', endpoint),
    cluster: serviceClient('etcdserverpb', 'Cluster', endpoint),
    maintenance: serviceClient('etcdserverpb', 'Maintenance', endpoint),
    auth: serviceClient('etcdserverpb', 'Auth', endpoint),
    lock: serviceClient('v3lockpb', 'Lock', endpoint),
    election: serviceClient('v3electionpb', 'Election', endpoint),
  };
  return { ...c, close: () => Object.values(c).forEach((x) => x.close()) };
}

/** A unary call as a promise; a failed call rejects with grpc-js's ServiceError (code, details). */
export function unary<T = Record<string, unknown>>(
  client: ServiceClient,
  method: string,
  request: unknown,
  metadata: grpc.Metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    (client[method] as (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: T) => void) => void).call(
      client,
      request,
      metadata,
      options,
      (err, res) => (err === null ? resolve(res) : reject(err)),
    );
  });
}

/** Asserts that `call` fails with this gRPC status. */
export async function rejectsWith(call: Promise<unknown>, code: number, details: string | RegExp): Promise<void> {
  let error: unknown = null;
  try {
    await call;
  } catch (err) {
    error = err;
  }
  if (error === null) throw new Error(`expected status ${code} ${String(details)}, the call succeeded`);
  const e = error as grpc.ServiceError;
  if (e.code !== code || (typeof details === 'string' ? e.details !== details : !details.test(e.details))) {
    throw new Error(`expected status ${code} ${String(details)}, got ${e.code} ${JSON.stringify(e.details)}`);
  }
}

export interface RawResult {
  /** HTTP/2 response headers (absent when the stream was reset before any) */
  headers: http2.IncomingHttpHeaders | null;
  trailers: http2.IncomingHttpHeaders | null;
  /** the body as received (gRPC framing included) */
  body: Buffer;
  /** RST_STREAM code when the stream was reset, else null */
  rstCode: number | null;
  /** grpc-status from the trailers (or from the headers of a trailers-only response) */
  status: number | null;
  message: string | null;
}

/** One gRPC message with its 5-byte prefix. */
export function grpcFrame(message: Uint8Array, compressed = false): Buffer {
  const b = Buffer.alloc(5 + message.length);
  b[0] = compressed ? 1 : 0;
  b.writeUInt32BE(message.length, 1);
  b.set(message, 5);
  return b;
}

/**
 * One call over node:http2 with the request body given as raw bytes (gRPC framing included, so it may be malformed),
 * extra request headers, and the full answer.
 */
export function rawCall(endpoint: string, path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}, timeoutMs = 20_000): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${endpoint}`);
    session.on('error', () => {});
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let responseHeaders: http2.IncomingHttpHeaders | null = null;
    let trailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`raw call ${path} got no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('response', (h) => (responseHeaders = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('close', () => {
      clearTimeout(timer);
      const rstCode = req.rstCode === undefined || req.rstCode === 0 ? null : req.rstCode;
      session.close();
      const from = trailers ?? responseHeaders;
      const status = from?.['grpc-status'];
      const message = from?.['grpc-message'];
      resolve({
        headers: responseHeaders,
        trailers,
        body: Buffer.concat(chunks),
        rstCode,
        status: status === undefined ? null : Number(status),
        message: message === undefined ? null : decodeURIComponent(String(message)),
      });
    });
    req.end(body);
  });
}

/** A member with its gRPC front end and grpc-js clients of every service, both closed when the test ends. */
export async function grpcSetup(t: { after(fn: () => unknown): void }, flags: string[] = []): Promise<[GrpcMember, EtcdClients]> {
  const m = await startGrpcMember(flags);
  const c = etcdClients(m.endpoint);
  t.after(async () => {
    c.close();
    await m.close();
  });
  return [m, c];
}
