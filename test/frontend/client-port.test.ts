// The client port on its own, in front of a uWS app with test routes, an HTTP/2 server standing in for gRPC and an
// echo standing in for the binary front end: routing by the first bytes (whole or one byte at a time), the PROXY
// header uWS reads the client's address from, the sniffing deadline, Go's 400 for garbage, the gRPC-only answer, and
// close() taking every connection with it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import http2 from 'node:http2';
import diagnostics from 'node:diagnostics_channel';
import WebSocket from 'ws';
import uWS from 'uWebSockets.js';
import { ClientPort, clientPortChannel, type ClientPortMessage, type HttpUpstream } from '../../src/frontend/index.js';
import { HttpServer, type HttpRoutes } from '../../src/http/index.js';
import { DEFAULT_LIMITS } from '../../src/config/index.js';
import { encodeFrame, FrameKind } from '../../src/proto/index.js';
import type { EtcdServer } from '../../src/server/index.js';
import { closed, connected, exchange, http2Get, http2StandIn, readUntil, trickleProxy } from '../helpers/client-port.js';

const SNIFF_TIMEOUT_MS = 300;
const GO_BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request';

const decoder = new TextDecoder();
const testRoutes: HttpRoutes = (app) => {
  app.get('/addr', (res) => {
    const body = JSON.stringify({ proxied: decoder.decode(res.getProxiedRemoteAddressAsText()), remote: decoder.decode(res.getRemoteAddressAsText()) });
    res.cork(() => res.writeHeader('Content-Type', 'application/json').end(body));
  });
  app.ws('/ws', { message: (ws, message, isBinary) => void ws.send(message, isBinary) } as uWS.WebSocketBehavior<unknown>);
};

/** An echo standing in for the binary front end: sends back every byte it reads. */
const binaryEcho = (socket: net.Socket): void => {
  socket.on('data', (c: Buffer) => socket.write(c));
  socket.on('error', () => {});
};

let http: HttpServer;
let upstream: HttpUpstream;

before(async () => {
  http = new HttpServer({ server: undefined as unknown as EtcdServer, limits: DEFAULT_LIMITS, urls: [], routes: [testRoutes] });
  upstream = await http.listenPrivate();
});
after(() => http.close());

async function startPort(options: { grpc?: boolean; http?: boolean } = {}): Promise<{ port: ClientPort; address: number; standIn: ReturnType<typeof http2StandIn> }> {
  const standIn = http2StandIn();
  const port = new ClientPort({
    urls: ['http://127.0.0.1:0'],
    grpc: options.grpc === false ? null : (s) => standIn.handleConnection(s),
    binary: binaryEcho,
    http: options.http === false ? null : upstream,
    connectionsMax: 100,
    sniffTimeoutMs: SNIFF_TIMEOUT_MS,
  });
  const [address] = await port.listen();
  return { port, address: address!.port, standIn };
}

function messages(): { list: ClientPortMessage[]; stop(): void } {
  const list: ClientPortMessage[] = [];
  const onMessage = (m: unknown): void => void list.push(m as ClientPortMessage);
  diagnostics.subscribe(clientPortChannel.name, onMessage);
  return { list, stop: () => diagnostics.unsubscribe(clientPortChannel.name, onMessage) };
}

test('each protocol on one port: HTTP/1 with the client address in the PROXY header, a WebSocket, HTTP/2, the binary magic', async (t) => {
  const { port, address, standIn } = await startPort();
  t.after(() => port.close());
  const res = await fetch(`http://127.0.0.1:${address}/addr`);
  assert.deepEqual(await res.json(), { proxied: '127.0.0.1', remote: '' }, 'uWS sees the client address from the header, and the pipe (a unix socket) as its peer');

  const ws = new WebSocket(`ws://127.0.0.1:${address}/ws`);
  t.after(() => ws.terminate());
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const echoed = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
  ws.send('over the pipe');
  assert.equal(await echoed, 'over the pipe');

  assert.equal(await http2Get(address, '/etcdserverpb.KV/Range'), 'stand-in /etcdserverpb.KV/Range');
  assert.equal(standIn.connections, 1);

  const frame = encodeFrame(FrameKind.Request, 9, { method: 'Range', request: { key: Buffer.from('k') } });
  const socket = await connected(address);
  t.after(() => socket.destroy());
  socket.write(frame);
  const back = await readUntil(socket, (text) => text.length >= frame.length);
  assert.equal(Buffer.from(back, 'latin1').compare(frame), 0, 'the binary front end got the frame whole, magic included');
});

test('first bytes arriving one at a time still route each protocol correctly', async (t) => {
  const { port, address } = await startPort();
  t.after(() => port.close());
  const proxy = await trickleProxy(address);
  t.after(() => proxy.close());
  const seen = messages();
  t.after(() => seen.stop());

  const res = await fetch(`http://127.0.0.1:${proxy.port}/addr`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { proxied: string }).proxied, '127.0.0.1');
  assert.equal(await http2Get(proxy.port, '/etcdserverpb.Watch/Watch'), 'stand-in /etcdserverpb.Watch/Watch');
  const frame = encodeFrame(FrameKind.StreamMessage, 3, { method: 'Watch', request: { create_request: { key: Buffer.from('a') } } });
  const socket = await connected(proxy.port);
  t.after(() => socket.destroy());
  socket.write(frame);
  const back = await readUntil(socket, (text) => text.length >= frame.length);
  assert.equal(Buffer.from(back, 'latin1').compare(frame), 0);
  assert.deepEqual(
    seen.list.filter((m) => m.event === 'routed').map((m) => (m as { protocol: string }).protocol),
    ['http', 'http2', 'binary'],
  );
});

test('a connection that tells nothing (or too little) within the deadline is closed; a routed one is not', { timeout: 20_000 }, async (t) => {
  const { port, address } = await startPort();
  t.after(() => port.close());
  const seen = messages();
  t.after(() => seen.stop());
  const silent = await connected(address);
  const partialPreface = await connected(address);
  partialPreface.write('PRI * HTTP/2.0\r\n');
  const partialMagic = await connected(address);
  partialMagic.write(Buffer.from([0xe7]));
  const routed = await connected(address);
  t.after(() => routed.destroy());
  routed.write('GET /addr HTTP/1.1\r\nHost: x\r\n\r\n');
  await readUntil(routed, (text) => text.endsWith('}'));

  await Promise.all([closed(silent), closed(partialPreface), closed(partialMagic)]);
  const timeouts = seen.list.filter((m) => m.event === 'sniff-timeout').map((m) => (m as { bytes: number }).bytes);
  assert.deepEqual(timeouts.sort((a, b) => a - b), [0, 1, 16]);
  // the keep-alive connection outlived the deadline and still serves
  await new Promise((r) => setTimeout(r, 2 * SNIFF_TIMEOUT_MS));
  assert.equal(routed.closed, false);
  routed.write('GET /addr HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(await readUntil(routed, (text) => text.endsWith('}')), /^HTTP\/1\.1 200 OK/);
});

test("garbage gets Go's 400 Bad Request and the end of the connection, not a hang", { timeout: 20_000 }, async (t) => {
  const { port, address } = await startPort();
  t.after(() => port.close());
  for (const garbage of ['GARBAGE\r\n\r\n', '\x00\x01\x02\x03\r\n', '{"key":"Zm9v"}', '\xe7\x00\x01']) {
    const answer = await exchange(address, [Buffer.from(garbage, 'latin1')]);
    assert.equal(answer.toString('latin1'), GO_BAD_REQUEST, JSON.stringify(garbage));
  }
});

test('gRPC-only (HTTP on its own listener): HTTP/1 gets the SETTINGS frame grpc-go sends, then the close; HTTP/2 and binary are served', { timeout: 20_000 }, async (t) => {
  const { port, address } = await startPort({ http: false });
  t.after(() => port.close());
  const answer = await exchange(address, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\n']);
  assert.equal(answer.toString('hex'), '000006040000000000000500004000', 'SETTINGS, SETTINGS_MAX_FRAME_SIZE = 16384');
  assert.equal((await exchange(address, ['GARBAGE\r\n\r\n'])).toString('hex'), '000006040000000000000500004000');
  assert.equal(await http2Get(address, '/etcdserverpb.KV/Put'), 'stand-in /etcdserverpb.KV/Put');
  const socket = await connected(address);
  t.after(() => socket.destroy());
  const frame = encodeFrame(FrameKind.Request, 1, { method: 'Status', request: {} });
  socket.write(frame);
  assert.equal((await readUntil(socket, (text) => text.length >= frame.length)).length, frame.length);
});

test('without a gRPC front end an HTTP/2 connection is closed, with a warning that says why', { timeout: 20_000 }, async (t) => {
  const { port, address } = await startPort({ grpc: false });
  t.after(() => port.close());
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  t.after(() => process.removeListener('warning', onWarning));
  const session = http2.connect(`http://127.0.0.1:${address}`);
  session.on('error', () => {});
  await new Promise((resolve) => session.once('close', resolve));
  await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0]!, /HTTP\/2 \(gRPC\) connection.*no gRPC front end/);
  // HTTP/1 on the same port is unaffected
  assert.equal((await fetch(`http://127.0.0.1:${address}/addr`)).status, 200);
});

test('close() stops the listener and closes every connection: piped HTTP, a WebSocket, one still being sniffed', { timeout: 20_000 }, async () => {
  const { port, address } = await startPort();
  const keepAlive = await connected(address);
  keepAlive.write('GET /addr HTTP/1.1\r\nHost: x\r\n\r\n');
  await readUntil(keepAlive, (text) => text.endsWith('}'));
  const ws = new WebSocket(`ws://127.0.0.1:${address}/ws`);
  ws.on('error', () => {});
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const wsClosed = new Promise((resolve) => ws.once('close', resolve));
  const silent = await connected(address);
  const binary = await connected(address);
  binary.write(encodeFrame(FrameKind.Request, 1, { method: 'Status', request: {} }));
  await readUntil(binary, (text) => text.length > 0);
  assert.ok(port.openSockets >= 6, `client sockets and pipes: ${port.openSockets}`);

  await port.close();
  await Promise.all([closed(keepAlive), wsClosed, closed(silent), closed(binary)]);
  assert.equal(port.openSockets, 0);
  await assert.rejects(connected(address), /ECONNREFUSED/);
  // uWS's private listener is the HTTP server's to close (the member closes both): still there until then
  assert.ok('path' in upstream && fs.existsSync(upstream.path));
});
