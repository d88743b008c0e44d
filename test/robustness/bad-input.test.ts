// Bad input on the binary protocol, each case with the exact answer expected: oversize frames refused from their
// header alone, unknown methods, wrong field types and missing fields (InvalidArgument), corrupt headers (that one
// connection closes), many connections at once, and clients that do not read their responses (backpressure).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client, EtcdError } from '../../src/client/index.js';
import { FrameKind, packr } from '../../src/proto/index.js';
import { startChild, startInProcess, tempDir, type InProcessMember } from '../helpers/member.js';
import { frameHeader, rawBodyFrame, RawConnection, requestFrame, type RawReply } from '../helpers/raw-connection.js';
import { peakRssBytes } from '../helpers/process.js';

const REQUEST_BYTES_MAX = 1024;
const TOO_LARGE: RawReply = { ok: false, code: 3, message: 'etcdserver: request is too large' };
const b = (s: string): Buffer => Buffer.from(s);

let member: InProcessMember;
let root: string;
before(async () => {
  root = tempDir('etcd-ts-bad-input-');
  member = await startInProcess(['--max-request-bytes', String(REQUEST_BYTES_MAX)], path.join(root, 'data'));
});
after(async () => {
  await member.close();
  fs.rmSync(root, { recursive: true, force: true });
});

async function raw(t: { after(fn: () => unknown): void }): Promise<RawConnection> {
  const c = await RawConnection.connect(member.endpoint);
  t.after(() => c.close());
  return c;
}

function isOk(reply: RawReply): boolean {
  return reply.ok;
}

// ---- oversize frames --------------------------------------------------------------------------------------------

test('a frame longer than --max-request-bytes is refused from its header alone, and the connection goes on', { timeout: 30_000 }, async (t) => {
  const c = await raw(t);
  const declared = 5000;
  const refused = c.reply(1);
  await c.write(frameHeader(1, declared)); // the header only: no body byte has been sent yet
  assert.deepEqual(await refused, TOO_LARGE);
  // The body that follows is skipped, whatever it contains (0xff bytes would be a bad magic if parsed as a header),
  // in pieces, with the next request in the same write as the body's last bytes.
  const body = Buffer.alloc(declared, 0xff);
  await c.write(body.subarray(0, 1));
  await c.write(body.subarray(1, 3000));
  const status = c.reply(2);
  await c.write(Buffer.concat([body.subarray(3000), requestFrame(2, { method: 'Status', request: {} })]));
  assert.ok(isOk(await status), 'the request after the skipped body is served');
  assert.equal(c.socket.destroyed, false);
  // Several oversize frames with their bodies in one write, between valid requests.
  const replies = [c.reply(3), c.reply(4), c.reply(5)];
  await c.write(
    Buffer.concat([
      frameHeader(3, 2000), Buffer.alloc(2000, 0xee),
      requestFrame(4, { method: 'Put', request: { key: b('after-oversize'), value: b('1') } }),
      frameHeader(5, 0xffff_ffff),
    ]),
  );
  const [r3, r4, r5] = await Promise.all(replies);
  assert.deepEqual(r3, TOO_LARGE);
  assert.ok(isOk(r4!));
  assert.deepEqual(r5, TOO_LARGE, 'a 4 GiB declaration is refused like any other');
});

test('the limit is on the body: exactly --max-request-bytes is accepted, one byte more is refused', { timeout: 30_000 }, async (t) => {
  const c = await raw(t);
  const bodyOf = (valueBytes: number): Buffer =>
    Buffer.from(packr.pack({ method: 'Put', request: { key: b('edge'), value: Buffer.alloc(valueBytes, 0x61) } }));
  let n = 900;
  while (bodyOf(n).length < REQUEST_BYTES_MAX) n++;
  assert.equal(bodyOf(n).length, REQUEST_BYTES_MAX);
  const accepted = c.reply(1);
  await c.write(rawBodyFrame(1, bodyOf(n)));
  assert.ok(isOk(await accepted), 'a body of exactly the limit is accepted');
  const refused = c.reply(2);
  await c.write(rawBodyFrame(2, bodyOf(n + 1)));
  assert.deepEqual(await refused, TOO_LARGE);
  // Through the client library: the same error, and the client's connection keeps working.
  const client = member.client();
  await assert.rejects(client.put({ key: b('big'), value: Buffer.alloc(2 * REQUEST_BYTES_MAX) }), (err: unknown) => {
    assert.ok(err instanceof EtcdError);
    assert.equal(err.code, 3);
    assert.equal(err.message, 'etcdserver: request is too large');
    return true;
  });
  assert.equal((await client.get('edge')).kvs[0]!.value.length, n);
});

// ---- malformed bodies ---------------------------------------------------------------------------------------------

test('unknown methods, bodies that are not a {method, request} map, and malformed msgpack: InvalidArgument', { timeout: 30_000 }, async (t) => {
  const c = await raw(t);
  const cases: { body: Buffer; message: string }[] = [
    { body: Buffer.from(packr.pack({ method: 'Foo', request: {} })), message: 'etcdserver: unknown method "Foo"' },
    { body: Buffer.from(packr.pack({ method: 'range', request: { key: b('a') } })), message: 'etcdserver: unknown method "range"' },
    { body: Buffer.from(packr.pack({ method: 'Watch', request: {} })), message: 'etcdserver: unknown method "Watch"' },
    { body: Buffer.from(packr.pack({ method: '', request: {} })), message: 'etcdserver: unknown method ""' },
    { body: Buffer.from(packr.pack({ request: { key: b('a') } })), message: 'etcdserver: invalid request: field "method" must be a string, got nothing' },
    { body: Buffer.from(packr.pack({ method: 7 })), message: 'etcdserver: invalid request: field "method" must be a string, got a number' },
    { body: Buffer.from(packr.pack({ method: { toString: 1 } })), message: 'etcdserver: invalid request: field "method" must be a string, got a map' },
    { body: Buffer.from(packr.pack({ method: b('Range') })), message: 'etcdserver: invalid request: field "method" must be a string, got bytes' },
    { body: Buffer.from(packr.pack(['Range', {}])), message: 'etcdserver: invalid request: body must be a map {method, request}' },
    { body: Buffer.from(packr.pack('Range')), message: 'etcdserver: invalid request: body must be a map {method, request}' },
    { body: Buffer.from(packr.pack(null)), message: 'etcdserver: invalid request: body must be a map {method, request}' },
    { body: Buffer.from(packr.pack(42)), message: 'etcdserver: invalid request: body must be a map {method, request}' },
    { body: Buffer.alloc(0), message: 'etcdserver: invalid request: malformed msgpack body' },
    { body: Buffer.from([0x92, 0x01]), message: 'etcdserver: invalid request: malformed msgpack body' },
    { body: Buffer.from([0x82, 0xa6]), message: 'etcdserver: invalid request: malformed msgpack body' },
    {
      body: Buffer.concat([Buffer.from(packr.pack({ method: 'Status', request: {} })), Buffer.from([0])]),
      message: 'etcdserver: invalid request: malformed msgpack body',
    },
    { body: Buffer.alloc(REQUEST_BYTES_MAX, 0x91), message: 'etcdserver: invalid request: malformed msgpack body' },
  ];
  const replies = cases.map((_, i) => c.reply(i + 1));
  await c.write(Buffer.concat(cases.map((k, i) => rawBodyFrame(i + 1, k.body))));
  for (const [i, k] of cases.entries()) {
    assert.deepEqual(await replies[i], { ok: false, code: 3, message: k.message }, `case ${i}: ${k.body.toString('hex').slice(0, 40)}`);
  }
  assert.ok(isOk(await c.call(999, { method: 'Status', request: {} })), 'the connection is still served');
});

test('missing fields get etcd\'s own InvalidArgument errors', { timeout: 30_000 }, async (t) => {
  const c = await raw(t);
  const cases: [unknown, string][] = [
    [{ method: 'Range' }, 'etcdserver: key is not provided'],
    [{ method: 'Range', request: {} }, 'etcdserver: key is not provided'],
    [{ method: 'Range', request: null }, 'etcdserver: key is not provided'],
    [{ method: 'Put', request: { value: b('v') } }, 'etcdserver: key is not provided'],
    [{ method: 'DeleteRange', request: { range_end: b('z') } }, 'etcdserver: key is not provided'],
    [{ method: 'Txn', request: { compare: [{ target: 'VALUE', value: b('v') }] } }, 'etcdserver: key is not provided'],
    [{ method: 'Txn', request: { success: [{}] } }, 'etcdserver: key not found'],
    [{ method: 'Txn', request: { failure: [{ request_put: {} }] } }, 'etcdserver: key is not provided'],
    [{ method: 'Txn', request: { success: [{ request_txn: { success: [{ request_range: {} }] } }] } }, 'etcdserver: key is not provided'],
    [{ method: 'Put', request: { key: b('missing'), ignore_value: true } }, 'etcdserver: key not found'],
  ];
  let id = 1;
  for (const [body, message] of cases) {
    assert.deepEqual(await c.call(id++, body), { ok: false, code: 3, message }, JSON.stringify(body));
  }
});

// Every field of every method, given a value of a wrong type: InvalidArgument naming the field.

type Kind = 'bytes' | 'int' | 'enum' | 'bool' | 'list' | 'id' | 'map';
const WRONG: Record<Kind, unknown[]> = {
  bytes: [5, true, { a: 1 }, [1], 1.5],
  int: ['5', true, 1.5, { a: 1 }, [1], b('5'), NaN],
  enum: [true, 1.5, { a: 1 }, [1], b('1'), 'NO_SUCH_VALUE'],
  bool: [1, 'true', { a: 1 }, [1], b('1')],
  list: [{ a: 1 }, 5, 'x', b('x'), true],
  id: ['5', 1.5, true, { a: 1 }, [1], b('5')],
  map: [5, 'x', [1], b('x'), true],
};

const RANGE_FIELDS: Record<string, Kind> = {
  key: 'bytes', range_end: 'bytes', limit: 'int', revision: 'int', sort_order: 'enum', sort_target: 'enum',
  serializable: 'bool', keys_only: 'bool', count_only: 'bool', min_mod_revision: 'int', max_mod_revision: 'int',
  min_create_revision: 'int', max_create_revision: 'int',
};
const PUT_FIELDS: Record<string, Kind> = { key: 'bytes', value: 'bytes', lease: 'id', prev_kv: 'bool', ignore_value: 'bool', ignore_lease: 'bool' };
const DELETE_FIELDS: Record<string, Kind> = { key: 'bytes', range_end: 'bytes', prev_kv: 'bool' };
const COMPACT_FIELDS: Record<string, Kind> = { revision: 'int', physical: 'bool' };
/** Compare fields, with the target that makes the member read each one. */
const COMPARE_FIELDS: Record<string, [Kind, string]> = {
  result: ['enum', 'VERSION'], target: ['enum', 'VERSION'], key: ['bytes', 'VERSION'], range_end: ['bytes', 'VERSION'],
  version: ['int', 'VERSION'], create_revision: ['int', 'CREATE'], mod_revision: ['int', 'MOD'], value: ['bytes', 'VALUE'],
  lease: ['id', 'LEASE'],
};

interface WrongCase {
  name: string;
  body: unknown;
  field: string;
}

function wrongTypeCases(): WrongCase[] {
  const out: WrongCase[] = [];
  const request = (base: Record<string, unknown>, field: string, v: unknown): Record<string, unknown> => ({ ...base, [field]: v });
  const add = (method: string, fields: Record<string, Kind>, base: Record<string, unknown>, inTxn: string | null): void => {
    for (const [field, kind] of Object.entries(fields)) {
      for (const v of WRONG[kind]) {
        const r = request(base, field, v);
        out.push({ name: `${method}.${field} = ${JSON.stringify(v)}`, body: { method, request: r }, field });
        if (inTxn !== null) {
          out.push({ name: `Txn success[0].${inTxn}.${field} = ${JSON.stringify(v)}`, body: { method: 'Txn', request: { success: [{ [inTxn]: r }] } }, field });
        }
      }
    }
  };
  add('Range', RANGE_FIELDS, { key: b('k') }, 'request_range');
  add('Put', PUT_FIELDS, { key: b('k'), value: b('v') }, 'request_put');
  add('DeleteRange', DELETE_FIELDS, { key: b('k') }, 'request_delete_range');
  add('Compact', COMPACT_FIELDS, { revision: 1 }, null);
  for (const field of ['compare', 'success', 'failure']) {
    for (const v of WRONG.list) out.push({ name: `Txn.${field} = ${JSON.stringify(v)}`, body: { method: 'Txn', request: { [field]: v } }, field });
  }
  for (const [field, [kind, target]] of Object.entries(COMPARE_FIELDS)) {
    for (const v of WRONG[kind]) {
      const cmp = { key: b('k'), target, result: 'EQUAL', [field]: v };
      out.push({ name: `Txn compare[0].${field} = ${JSON.stringify(v)}`, body: { method: 'Txn', request: { compare: [cmp] } }, field });
    }
  }
  for (const v of WRONG.map) {
    for (const method of ['Range', 'Put', 'DeleteRange', 'Txn', 'Compact', 'Status']) {
      out.push({ name: `${method} request = ${JSON.stringify(v)}`, body: { method, request: v }, field: 'request' });
    }
    out.push({ name: `Txn compare[0] = ${JSON.stringify(v)}`, body: { method: 'Txn', request: { compare: [v] } }, field: 'Compare' });
    for (const op of ['request_range', 'request_put', 'request_delete_range', 'request_txn']) {
      out.push({ name: `Txn success[0].${op} = ${JSON.stringify(v)}`, body: { method: 'Txn', request: { success: [{ [op]: v }] } }, field: op });
    }
    out.push({ name: `Txn success[0] = ${JSON.stringify(v)}`, body: { method: 'Txn', request: { success: [v] } }, field: 'RequestOp' });
  }
  return out;
}

test('a wrong type in any field of any method gets InvalidArgument, and nothing is written', { timeout: 30_000 }, async (t) => {
  const c = await raw(t);
  const client = member.client();
  const revisionBefore = (await client.status()).header.revision;
  const cases = wrongTypeCases();
  const replies = cases.map((_, i) => c.reply(i + 1));
  await c.write(Buffer.concat(cases.map((k, i) => requestFrame(i + 1, k.body))));
  for (const [i, k] of cases.entries()) {
    const reply = await replies[i]!;
    assert.equal(reply.ok, false, `${k.name}: refused`);
    if (reply.ok) continue;
    assert.equal(reply.code, 3, `${k.name}: InvalidArgument, got ${reply.code} ${reply.message}`);
    assert.match(reply.message, /^etcdserver: invalid request: /, k.name);
    const named = k.field === 'request' || k.field === 'Compare' || k.field === 'RequestOp' || k.field.startsWith('request_');
    if (!named) assert.ok(reply.message.includes(`"${k.field}"`), `${k.name}: the message names the field: ${reply.message}`);
  }
  t.diagnostic(`${cases.length} wrong-type cases`);
  assert.equal((await client.status()).header.revision, revisionBefore, 'no refused request changed the store');
});

// ---- corrupt headers ----------------------------------------------------------------------------------------------

test('a corrupt frame header closes that connection only; the others keep being served', { timeout: 30_000 }, async (t) => {
  const healthy = member.client();
  await healthy.put({ key: b('corrupt/before'), value: b('1') });
  const corruptions: [string, Buffer][] = [
    ['bad magic', frameHeader(2, 10, { magic: 0x1234 })],
    ['magic of the wrong byte order', frameHeader(2, 10, { magic: 0xcde7 })],
    ['version 0', frameHeader(2, 10, { version: 0 })],
    ['version 2', frameHeader(2, 10, { version: 2 })],
    ['version 255', frameHeader(2, 10, { version: 255 })],
    ['kind 0', frameHeader(2, 10, { kind: 0 })],
    ['kind Response (a client may only send requests)', frameHeader(2, 10, { kind: FrameKind.Response })],
    ['kind Error', frameHeader(2, 10, { kind: FrameKind.Error })],
    ['kind 255', frameHeader(2, 10, { kind: 255 })],
    ['text', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['TLS client hello', Buffer.concat([Buffer.from('16030100a5010000a10303', 'hex'), Buffer.alloc(32, 1)])],
  ];
  for (const [name, bytes] of corruptions) {
    const c = await raw(t);
    assert.ok(isOk(await c.call(1, { method: 'Status', request: {} })), `${name}: served before`);
    // the corrupt header arrives one byte at a time, so the member sees it only once it is complete
    for (const byte of bytes) await c.write(Buffer.from([byte]));
    await c.closed;
    assert.equal(c.frames.length, 1, `${name}: no answer to the corrupt frame`);
    assert.ok((await healthy.put({ key: b('corrupt/after'), value: b(name) })).header.revision > 0, `${name}: others served`);
  }
  // A corrupt header behind valid requests in the same write closes the connection too.
  const c = await raw(t);
  await c.write(Buffer.concat([requestFrame(1, { method: 'Status', request: {} }), frameHeader(2, 0, { magic: 0 })]));
  await c.closed;
  assert.equal(Buffer.from((await healthy.get('corrupt/after')).kvs[0]!.value).toString(), 'TLS client hello');
});

// ---- many connections -----------------------------------------------------------------------------------------

test('many connections at once, including ones that vanish mid-frame', { timeout: 30_000 }, async () => {
  const n = 300;
  const clients = Array.from({ length: n }, () => member.client());
  const vanishing = await Promise.all(Array.from({ length: 100 }, () => RawConnection.connect(member.endpoint)));
  // half a header, half a body, or a whole request whose answer nobody waits for; then a reset
  await Promise.all(
    vanishing.map(async (c, i) => {
      const frame = requestFrame(1, { method: 'Put', request: { key: b(`many/vanished/${i}`), value: b('x') } });
      await c.write(frame.subarray(0, [5, 20, frame.length][i % 3]!));
      c.socket.resetAndDestroy();
    }),
  );
  const results = await Promise.all(
    clients.map(async (c, i) => {
      await c.put({ key: b(`many/${i}`), value: b(`v${i}`) });
      const got = await c.get(`many/${i}`);
      return got.kvs[0] === undefined ? undefined : Buffer.from(got.kvs[0].value).toString();
    }),
  );
  assert.deepEqual(results, Array.from({ length: n }, (_, i) => `v${i}`));
  const count = await clients[0]!.get('many/', { prefix: true, count_only: true });
  assert.ok(count.count >= n && count.count <= n + 34, `${count.count} keys`);
  for (const c of clients) c.destroy();
  const fresh = member.client();
  assert.equal((await fresh.status()).errors.length, 0);
});

// ---- clients that do not read -------------------------------------------------------------------------------------

test('a client that sends requests but never reads responses: bounded memory, others still served', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('etcd-ts-backpressure-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const m = await startChild([], path.join(dir, 'data'));
  t.after(() => m.kill('SIGKILL'));
  const other = new Client({ endpoints: [m.endpoint] });
  t.after(() => other.destroy());
  const valueBytes = 512 * 1024;
  await other.put({ key: b('big'), value: Buffer.alloc(valueBytes, 7) });
  await other.status();
  const baseline = peakRssBytes(m.child.pid!);

  // 4000 reads of a 512 KiB value: 2 GiB of responses for 100 KiB of requests, all in the member's receive buffer.
  const hog = await RawConnection.connect(m.endpoint);
  t.after(() => hog.close());
  hog.socket.pause();
  const range = (id: number): Buffer => requestFrame(id, { method: 'Range', request: { key: b('big') } });
  hog.socket.write(Buffer.concat(Array.from({ length: 4000 }, (_, i) => range(i + 1))));
  // Others are served while the hog is stuck: each round trip is also a turn of the member's event loop.
  for (let i = 0; i < 50; i++) {
    const put = await other.put({ key: b(`others/${i}`), value: b('x') });
    assert.equal((await other.get(`others/${i}`)).kvs[0]!.mod_revision, put.header.revision);
  }
  const grown = peakRssBytes(m.child.pid!) - baseline;
  t.diagnostic(`member peak RSS grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
  // Bounded by the per-connection write buffer limit (16 MiB) plus one response and the receive buffers; without
  // backpressure the member materialises gigabytes here.
  assert.ok(grown < 256 * 2 ** 20, `member peak RSS grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
  hog.close();

  // A slow reader gets every response once it reads: 400 x 200 KiB = 5 x the write buffer limit, through several
  // pause/resume cycles in the middle of one chunk of requests.
  await other.put({ key: b('medium'), value: Buffer.alloc(200 * 1024, 9) });
  const slow = await RawConnection.connect(m.endpoint);
  t.after(() => slow.close());
  slow.socket.pause();
  slow.socket.write(Buffer.concat(Array.from({ length: 400 }, (_, i) => requestFrame(i + 1, { method: 'Range', request: { key: b('medium') } }))));
  for (let i = 0; i < 10; i++) await other.status();
  slow.socket.resume();
  await slow.waitFrames(400);
  assert.deepEqual(slow.frames.map((f) => f.requestId), Array.from({ length: 400 }, (_, i) => i + 1), 'every response, in order');
  for (const f of slow.frames) {
    assert.equal(f.kind, FrameKind.Response);
    assert.equal((f.body as { kvs: { value: Uint8Array }[] }).kvs[0]!.value.length, 200 * 1024);
  }

  // Pipelined writes past the in-flight limit (4096 per connection), unread until the end: all applied once.
  const writer = await RawConnection.connect(m.endpoint);
  t.after(() => writer.close());
  writer.socket.pause();
  const puts = 10_000;
  writer.socket.write(Buffer.concat(Array.from({ length: puts }, (_, i) => requestFrame(i + 1, { method: 'Put', request: { key: b(`pipelined/${i}`), value: b('x') } }))));
  assert.equal((await other.put({ key: b('during-pipeline'), value: b('y') })).header.revision > 0, true);
  writer.socket.resume();
  await writer.waitFrames(puts);
  assert.ok(writer.frames.every((f) => f.kind === FrameKind.Response), 'every pipelined put acknowledged');
  const revisions = writer.frames.map((f) => (f.body as { header: { revision: number } }).header.revision);
  assert.equal(new Set(revisions).size, puts, 'each put applied once, at its own revision');
  const stored = await other.get('pipelined/', { prefix: true, count_only: true });
  assert.equal(stored.count, puts);
});
