// The gRPC transport measurement behind src/grpc's design (BENCHMARKS.md, "gRPC (issue 13)"): the same two calls (KV/Put answering a
// header, KV/Range answering one 256-byte key-value) with no store behind them, served by
//   grpc-js     @grpc/grpc-js's Server, messages through @grpc/proto-loader (protobufjs)
//   node-http2  node:http2 with gRPC framing by hand, messages through protobufjs
//   own         src/grpc's HTTP/2 layer and protobuf codec (what the member runs)
// Drive it with a gRPC client (etcd's Go client: ../shared/tools/etcd-loadgen) and read the server's CPU per call:
//   node dist/native-free-bench/grpc-transport.js --server own --port 24000 &
//   etcd-loadgen -endpoints 127.0.0.1:24000 -workload put -clients 64 -conns 8 -duration 5s
// Each line on its stdin makes it print {"calls": N, "cpuUs": T} (process CPU, microseconds); the difference of two
// readings around a run, divided by the calls, is the CPU per call.
// `--server codec` instead times the two protobuf codecs alone (protobufjs and src/grpc/codec.ts) on these messages.

import net from 'node:net';
import http2 from 'node:http2';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { decodeMessage, encodeMessage } from '../src/grpc/codec.js';
import { encodeHeaderBlock } from '../src/grpc/hpack.js';
import { Http2Connection, type Http2Stream } from '../src/grpc/http2.js';
import { Schema as S } from '../src/proto/index.js';
import { eachFlag, positiveInteger, unknownOption } from './args.js';

const PROTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/grpc/protos');
const usage = 'usage: grpc-transport --server grpc-js|node-http2|own|codec --port N';

let server = 'own';
let port = 24000;
eachFlag(process.argv.slice(2), usage, (flag, value) => {
  switch (flag) {
    case '--server': server = value() ?? ''; break;
    case '--port': port = positiveInteger(flag, value()); break;
    default: throw unknownOption(flag);
  }
});

let calls = 0;
const value = Buffer.alloc(256, 0x76);
const headerBig = { cluster_id: 14841639068965178418n, member_id: 10276657743932975437n, revision: 100, raft_term: 2 };
const headerText = { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: '100', raft_term: '2' };

function grpcJs(): void {
  const def = protoLoader.loadSync(['rpc.proto'], { includeDirs: [PROTO_DIR], keepCase: true, longs: String, defaults: false });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { etcdserverpb: { KV: grpc.ServiceClientConstructor } };
  const s = new grpc.Server();
  s.addService(pkg.etcdserverpb.KV.service, {
    Range: (call: grpc.ServerUnaryCall<{ key: Buffer }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      calls++;
      cb(null, { header: headerText, kvs: [{ key: call.request.key, value, create_revision: '5', mod_revision: '10', version: '3' }], count: '1' });
    },
    Put: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
      calls++;
      cb(null, { header: headerText });
    },
  });
  s.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), () => console.log('ready'));
}

function nodeHttp2(): void {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, path.basename(target));
  root.loadSync('rpc.proto', { keepCase: true });
  const T = (n: string): protobuf.Type => root.lookupType(`etcdserverpb.${n}`);
  const [RangeRequest, RangeResponse, PutRequest, PutResponse] = [T('RangeRequest'), T('RangeResponse'), T('PutRequest'), T('PutResponse')];
  const handlers: Record<string, (m: Buffer) => Uint8Array> = {
    '/etcdserverpb.KV/Range': (m) => {
      const r = RangeRequest.decode(m) as unknown as { key: Buffer };
      return RangeResponse.encode({ header: headerText, kvs: [{ key: r.key, value, create_revision: 5, mod_revision: 10, version: 3 }], count: 1 }).finish();
    },
    '/etcdserverpb.KV/Put': (m) => {
      PutRequest.decode(m);
      return PutResponse.encode({ header: headerText }).finish();
    },
  };
  const s = http2.createServer();
  s.on('stream', (stream, headers) => {
    const handler = handlers[String(headers[':path'])]!;
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      calls++;
      const body = Buffer.concat(chunks);
      const response = handler(body.subarray(5, 5 + body.readUInt32BE(1)));
      const out = Buffer.alloc(5 + response.length);
      out.writeUInt32BE(response.length, 1);
      out.set(response, 5);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(out);
    });
  });
  s.listen(port, '127.0.0.1', () => console.log('ready'));
}

function own(): void {
  const responseHeaders = encodeHeaderBlock([[':status', '200'], ['content-type', 'application/grpc']]);
  const ok = encodeHeaderBlock([['grpc-status', '0']]);
  const handlers: Record<string, (m: Buffer) => Buffer> = {
    '/etcdserverpb.KV/Range': (m) => {
      const r = decodeMessage(m, S.RangeRequest);
      return encodeMessage({ header: headerBig, kvs: [{ key: r['key'], value, create_revision: 5, mod_revision: 10, version: 3 }], count: 1 }, S.RangeResponse, 14);
    },
    '/etcdserverpb.KV/Put': (m) => {
      decodeMessage(m, S.PutRequest);
      return encodeMessage({ header: headerBig }, S.PutResponse, 14);
    },
  };
  const options = { streamsMax: 4096, streamWindowBytes: 2 << 20, connectionWindowBytes: 4 << 20, headerBlockBytesMax: 65536, writeBufferBytesMax: 16 << 20 };
  const handler = {
    stream(stream: Http2Stream, headers: [string, string][]): void {
      const handle = handlers[headers.find(([n]) => n === ':path')?.[1] ?? '']!;
      const chunks: Buffer[] = [];
      stream.onData = (d) => chunks.push(d);
      stream.onEnd = () => {
        calls++;
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        stream.release(body.length);
        const out = handle(body.subarray(5, 5 + body.readUInt32BE(1)));
        out[9] = 0;
        out.writeUInt32BE(out.length - 14, 10);
        stream.respond(responseHeaders);
        stream.writeWithHeadroom(out);
        stream.end(ok);
      };
    },
  };
  net.createServer((socket) => new Http2Connection(socket, handler, options)).listen(port, '127.0.0.1', () => console.log('ready'));
}

function codecs(): void {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, path.basename(target));
  root.loadSync('rpc.proto', { keepCase: true });
  const T = (n: string): protobuf.Type => root.lookupType(`etcdserverpb.${n}`);
  const Long = protobuf.util.Long as unknown as { fromString(s: string, unsigned: boolean): unknown };
  const long = (s: string): unknown => Long.fromString(s, true);
  const [PutRequest, PutResponse, RangeRequest, RangeResponse] = [T('PutRequest'), T('PutResponse'), T('RangeRequest'), T('RangeResponse')];
  const headerLong = { cluster_id: long('14841639068965178418'), member_id: long('10276657743932975437'), revision: 100, raft_term: 2 };
  const put = Buffer.from(PutRequest.encode({ key: Buffer.from('00001234'), value }).finish());
  const range = Buffer.from(RangeRequest.encode({ key: Buffer.from('00000000'), serializable: true }).finish());
  const kv = { key: Buffer.from('00000000'), value, create_revision: 5, mod_revision: 10, version: 3 };
  const time = (name: string, fn: () => unknown, n = 300_000): void => {
    for (let i = 0; i < 20_000; i++) fn();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    console.log(`${name.padEnd(44)} ${(Number(process.hrtime.bigint() - t0) / n / 1000).toFixed(3)} µs`);
  };
  time('protobufjs: decode PutRequest', () => PutRequest.decode(put));
  time('own:        decode PutRequest', () => decodeMessage(put, S.PutRequest));
  time('protobufjs: encode PutResponse', () => PutResponse.encode({ header: headerLong }).finish());
  time('own:        encode PutResponse', () => encodeMessage({ header: headerBig }, S.PutResponse, 14));
  time('protobufjs: decode RangeRequest', () => RangeRequest.decode(range));
  time('own:        decode RangeRequest', () => decodeMessage(range, S.RangeRequest));
  time('protobufjs: encode RangeResponse (1 kv)', () => RangeResponse.encode({ header: headerLong, kvs: [kv], count: 1 }).finish());
  time('own:        encode RangeResponse (1 kv)', () => encodeMessage({ header: headerBig, kvs: [kv], count: 1 }, S.RangeResponse, 14));
  process.exit(0);
}

if (server === 'codec') codecs();
else if (server === 'grpc-js') grpcJs();
else if (server === 'node-http2') nodeHttp2();
else if (server === 'own') own();
else throw new Error(usage);
process.stdin.on('data', () => {
  const u = process.cpuUsage();
  console.log(JSON.stringify({ calls, cpuUs: u.user + u.system }));
});
