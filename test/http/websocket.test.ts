// WebSocket streams on the gateway: a watch created, fed by puts, asked for progress and cancelled on one open
// socket, in JSON text messages and with the msgpack subprotocol; a consumer that stops reading is closed with
// code 1008 and a reason once its buffer passes the bound, and what it did receive is an unbroken prefix.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Packr, Unpackr } from 'msgpackr';
import { HttpServer } from '../../src/http/index.js';
import { gatewayRoutes } from '../../src/http/gateway/index.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { b64, request } from '../helpers/http-gateway.js';

let member: InProcessMember;
let port: number;
let slowServer: HttpServer;
let slowPort: number;
const SLOW_BUFFER_BYTES = 256 * 1024;

before(async () => {
  member = await startInProcess();
  port = member.member.httpAddresses[0]!.port;
  // a second front end on the same member with a small WebSocket buffer bound
  slowServer = new HttpServer({
    server: member.member.server,
    limits: member.member.server.config.limits,
    urls: ['http://127.0.0.1:0'],
    routes: [gatewayRoutes({ webSocket: { bufferedBytesMax: SLOW_BUFFER_BYTES } })],
  });
  slowPort = (await slowServer.listen())[0]!.port;
});
after(async () => {
  await slowServer.close();
  await member.close();
});

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'number' });

/** A WebSocket client that queues decoded messages. */
class Client {
  readonly ws: WebSocket;
  readonly messages: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | null = null;
  constructor(url: string, readonly msgpack: boolean) {
    this.ws = new WebSocket(url, msgpack ? ['msgpack'] : []);
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.messages.push((isBinary ? unpackr.unpack(data) : JSON.parse(data.toString())) as Record<string, unknown>);
    });
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.ws.on('error', () => {});
  }
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  send(obj: unknown): void {
    this.ws.send(this.msgpack ? packr.pack(obj) : JSON.stringify(obj));
  }
  /** Resolves when the socket closed; rejects after timeoutMs. */
  async closedWithin(timeoutMs = 20_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (this.closed === null) {
      if (Date.now() > deadline) throw new Error(`socket not closed; messages: ${this.messages.length}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.closed;
  }
  async next(n: number, timeoutMs = 10_000): Promise<Record<string, unknown>[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < n) {
      if (Date.now() > deadline || this.closed) throw new Error(`wanted ${n} messages, got ${JSON.stringify(this.messages)} closed=${JSON.stringify(this.closed)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.messages.slice(0, n);
  }
}

for (const msgpack of [false, true]) {
  test(`watch over WebSocket (${msgpack ? 'msgpack' : 'JSON'}): create, events, progress, cancel`, async (t) => {
    const c = new Client(`ws://127.0.0.1:${port}/v3/watch`, msgpack);
    t.after(() => c.ws.terminate());
    await c.opened();
    assert.equal(c.ws.protocol, msgpack ? 'msgpack' : '');
    const prefix = msgpack ? 'mp/' : 'js/';
    const key = (s: string): unknown => (msgpack ? Buffer.from(prefix + s) : b64(prefix + s));
    c.send({ create_request: { key: key(''), range_end: msgpack ? Buffer.from(prefix.slice(0, -1) + '0') : b64(prefix.slice(0, -1) + '0'), prev_kv: true } });
    const [created] = await c.next(1);
    assert.equal((created!['result'] as Record<string, unknown>)['created'], true);

    await request(`http://127.0.0.1:${port}`, '/v3/kv/put', JSON.stringify({ key: b64(prefix + 'k'), value: b64('v1') }));
    await request(`http://127.0.0.1:${port}`, '/v3/kv/put', JSON.stringify({ key: b64(prefix + 'k'), value: b64('v2') }));
    await c.next(3);
    const [, first, second] = c.messages.map((m) => m['result'] as { events: { kv: { key: unknown; value: unknown; mod_revision: unknown }; prev_kv?: { value: unknown } }[] });
    const text = (v: unknown): string => (msgpack ? Buffer.from(v as Uint8Array).toString() : Buffer.from(v as string, 'base64').toString());
    assert.equal(text(first!.events[0]!.kv.key), prefix + 'k');
    assert.equal(text(second!.events[0]!.kv.value), 'v2');
    assert.equal(text(second!.events[0]!.prev_kv!.value), 'v1');
    if (msgpack) {
      assert.ok(Buffer.isBuffer(first!.events[0]!.kv.key) || first!.events[0]!.kv.key instanceof Uint8Array, 'bytes travel as bin');
      assert.equal(typeof first!.events[0]!.kv.mod_revision, 'number', 'int64 travels as an integer');
    } else assert.equal(typeof first!.events[0]!.kv.mod_revision, 'string');

    c.send({ progress_request: {} });
    const progress = (await c.next(4))[3]!['result'] as Record<string, unknown>;
    assert.equal(progress['events'], undefined);
    assert.ok(progress['header']);

    c.send({ cancel_request: { watch_id: 0 } });
    const canceled = (await c.next(5))[4]!['result'] as Record<string, unknown>;
    assert.equal(canceled['canceled'], true);

    // a malformed message gets an error and the socket closes (the member stays up)
    c.ws.send(msgpack ? packr.pack({ create_request: { key: 5 } }) : '{"create_request":{"key":5}}');
    assert.equal((await c.closedWithin()).code, 1007);
    const err = c.messages[5]!['error'] as Record<string, unknown>;
    assert.equal(err['grpc_code'], 3);
  });
}

test('keep-alive over WebSocket', async (t) => {
  const grant = JSON.parse((await request(`http://127.0.0.1:${port}`, '/v3/lease/grant', JSON.stringify({ TTL: '20' }))).body) as { ID: string };
  const c = new Client(`ws://127.0.0.1:${port}/v3/lease/keepalive`, false);
  t.after(() => c.ws.terminate());
  await c.opened();
  c.send({ ID: grant.ID });
  c.send({ ID: grant.ID });
  const answers = await c.next(2);
  for (const a of answers) assert.deepEqual({ ID: (a['result'] as Record<string, unknown>)['ID'], TTL: (a['result'] as Record<string, unknown>)['TTL'] }, { ID: grant.ID, TTL: '20' });
});

test('a WebSocket consumer that stops reading is closed with a reason; what it got has no gap', async (t) => {
  const c = new Client(`ws://127.0.0.1:${slowPort}/v3/watch`, false);
  t.after(() => c.ws.terminate());
  await c.opened();
  c.send({ create_request: { key: b64('slow/'), range_end: b64('slow0') } });
  await c.next(1);
  const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
  socket.pause();
  const value = Buffer.alloc(40_000, 1).toString('base64');
  const base = `http://127.0.0.1:${port}`;
  let puts = 0;
  // enough to fill the kernel's socket buffers and then the member's bound
  for (; puts < 600; puts++) {
    await request(base, '/v3/kv/put', JSON.stringify({ key: b64(`slow/${puts}`), value }));
  }
  socket.resume();
  assert.equal((await c.closedWithin()).code, 1008);
  assert.match(c.closed!.reason, /slow consumer/);
  const keys = c.messages.slice(1).flatMap((m) => ((m['result'] as { events?: { kv: { key: string } }[] }).events ?? []).map((e) => Buffer.from(e.kv.key, 'base64').toString()));
  assert.ok(keys.length > 0 && keys.length < puts, `received ${keys.length} of ${puts}`);
  assert.deepEqual(keys, Array.from({ length: keys.length }, (_, i) => `slow/${i}`), 'events are an unbroken prefix');
  // the member still serves
  assert.equal((await request(base, '/v3/kv/put', JSON.stringify({ key: b64('after-slow'), value: b64('v') }))).status, 200);
});
