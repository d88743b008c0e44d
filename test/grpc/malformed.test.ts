// Bad input on the gRPC port never takes the member down, and each kind gets the answer grpc-go (etcd's gRPC server)
// gives: oversized messages ResourceExhausted, proposals above --max-request-bytes `request is too large`, invalid
// protobuf Internal, truncated or missing messages Unknown, compression refused, bad headers reset, a deadline
// honoured; at the HTTP/2 level, a bad preface, oversized frames and broken HPACK end that connection only (GOAWAY),
// and random bytes after the preface leave the member serving everyone else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import grpc from '@grpc/grpc-js';
import { grpcFrame, grpcSetup, rawCall, rejectsWith, unary } from '../helpers/grpc.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';

const b = (s: string): Buffer => Buffer.from(s);
/** PutRequest{key: "k", value: "v"} */
const PUT_K_V = Buffer.from([0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76]);
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}
const SETTINGS = frame(4, 0, 0, Buffer.alloc(0));

/** Sends bytes on a fresh connection; resolves with what came back once the server closed it (or after waitMs). */
function exchange(endpoint: string, bytes: Buffer, waitMs = 3000): Promise<{ received: Buffer; closedByServer: boolean }> {
  const [host, port] = endpoint.split(':');
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), host!);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closedByServer });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => finish(true));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.write(bytes);
  });
}

/** The error code of the first GOAWAY among the frames received, or null. */
function goAwayCode(received: Buffer): number | null {
  let at = 0;
  while (received.length - at >= 9) {
    const length = received.readUIntBE(at, 3);
    const type = received[at + 3]!;
    if (type === 7 && received.length - at >= 9 + 8) return received.readUInt32BE(at + 9 + 4);
    at += 9 + length;
  }
  return null;
}


test('message size: above the receive limit grpc-go ResourceExhausted, a proposal above --max-request-bytes etcd InvalidArgument', async (t) => {
  const [, c] = await grpcSetup(t, ['--max-request-bytes', '1000']);
  // PutRequest{key "k", value of 600,000 bytes}: 3 + 1 + 3 + 600,000 bytes; the limit is 1000 + 512 KiB
  await rejectsWith(
    unary(c.kv, 'Put', { key: b('k'), value: Buffer.alloc(600_000, 1) }),
    grpc.status.RESOURCE_EXHAUSTED,
    'grpc: received message larger than max (600007 vs. 525288)',
  );
  await rejectsWith(unary(c.kv, 'Put', { key: b('k'), value: Buffer.alloc(2000, 1) }), grpc.status.INVALID_ARGUMENT, 'etcdserver: request is too large');
  const txn = { success: [{ request_put: { key: b('t'), value: Buffer.alloc(1500, 1) } }] };
  await rejectsWith(unary(c.kv, 'Txn', txn), grpc.status.INVALID_ARGUMENT, 'etcdserver: request is too large');
  // a read of the same size is not a proposal
  await unary(c.kv, 'Range', { key: b('k'), range_end: Buffer.alloc(1500, 0x7a) });
  await unary(c.kv, 'Put', { key: b('k'), value: Buffer.alloc(900, 1) });
});

test('a message of nearly --max-request-bytes crosses many frames and windows both ways intact', async (t) => {
  const [, c] = await grpcSetup(t);
  const value = Buffer.alloc(1_400_000);
  for (let i = 0; i < value.length; i++) value[i] = (i * 7919) & 0xff;
  await unary(c.kv, 'Put', { key: b('large'), value });
  const got = await unary<{ kvs: { value: Buffer }[] }>(c.kv, 'Range', { key: b('large') });
  assert.ok(got.kvs[0]!.value.equals(value));
});

test('malformed calls get grpc-go answers and the member keeps serving', async (t) => {
  const [m, c] = await grpcSetup(t);
  const put = '/etcdserverpb.KV/Put';
  const bad = await rawCall(m.endpoint, put, grpcFrame(Buffer.from([0xff, 0xff, 0xff])));
  assert.equal(bad.status, grpc.status.INTERNAL);
  assert.match(bad.message!, /^grpc: error unmarshalling request: /);
  const wrongType = await rawCall(m.endpoint, put, grpcFrame(Buffer.from([0x08, 0x01]))); // field 1 (bytes) as a varint
  assert.deepEqual([wrongType.status, wrongType.message], [grpc.status.INTERNAL, 'grpc: error unmarshalling request: proto: wrong wireType = 0 for field key']);
  const huge = Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
  const hugePrefix = await rawCall(m.endpoint, put, huge);
  assert.deepEqual([hugePrefix.status, hugePrefix.message], [grpc.status.RESOURCE_EXHAUSTED, `grpc: received message larger than max (4294967295 vs. ${1.5 * 1024 * 1024 + 512 * 1024})`]);
  const truncated = await rawCall(m.endpoint, put, grpcFrame(PUT_K_V).subarray(0, 8));
  assert.deepEqual([truncated.status, truncated.message], [grpc.status.UNKNOWN, 'unexpected EOF']);
  const missing = await rawCall(m.endpoint, put, Buffer.alloc(0));
  assert.deepEqual([missing.status, missing.message], [grpc.status.UNKNOWN, 'EOF']);
  const compressed = await rawCall(m.endpoint, put, grpcFrame(PUT_K_V, true));
  assert.deepEqual([compressed.status, compressed.message], [grpc.status.INTERNAL, 'grpc: compressed flag set with identity or empty encoding']);
  const gzip = await rawCall(m.endpoint, put, grpcFrame(PUT_K_V, true), { 'grpc-encoding': 'gzip' });
  assert.deepEqual([gzip.status, gzip.message], [grpc.status.UNIMPLEMENTED, 'grpc: Decompressor is not installed for grpc-encoding "gzip"']);
  const malformedPath = await rawCall(m.endpoint, 'nope', grpcFrame(PUT_K_V));
  assert.deepEqual([malformedPath.status, malformedPath.message], [grpc.status.RESOURCE_EXHAUSTED, 'malformed method name: "nope"']);
  // not gRPC, or a malformed timeout: the stream is reset (PROTOCOL_ERROR), as grpc-go resets it
  const json = await rawCall(m.endpoint, put, grpcFrame(PUT_K_V), { 'content-type': 'application/json' });
  assert.deepEqual([json.status, json.rstCode], [null, 1]);
  const badTimeout = await rawCall(m.endpoint, put, grpcFrame(PUT_K_V), { 'grpc-timeout': '1x' });
  assert.deepEqual([badTimeout.status, badTimeout.rstCode], [null, 1]);
  // a message with a key etcd-ts would refuse: validation still applies (one table for every front end)
  const ok = await rawCall(m.endpoint, put, grpcFrame(PUT_K_V), { 'client-api-version': '3.4', 'user-agent': 'raw' });
  assert.equal(ok.status, 0);
  assert.equal((await unary<{ kvs: { value: Buffer }[] }>(c.kv, 'Range', { key: b('k') })).kvs[0]!.value.toString(), 'v');
});

test('grpc-timeout is honoured: a Lock still waiting at its deadline gets DeadlineExceeded and withdraws', async (t) => {
  const [m, c] = await grpcSetup(t);
  const lease = await unary<{ ID: string }>(c.lease, 'LeaseGrant', { TTL: 30 });
  const held = await unary<{ key: Buffer }>(c.lock, 'Lock', { name: b('L'), lease: lease.ID });
  const lease2 = await unary<{ ID: string }>(c.lease, 'LeaseGrant', { TTL: 30 });
  // LockRequest{name: "L", lease: lease2}
  const id = BigInt(lease2.ID);
  const varint: number[] = [];
  for (let v = id; ; ) {
    if (v < 0x80n) {
      varint.push(Number(v));
      break;
    }
    varint.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  const request = Buffer.from([0x0a, 0x01, 0x4c, 0x10, ...varint]);
  const waited = await rawCall(m.endpoint, '/v3lockpb.Lock/Lock', grpcFrame(request), { 'grpc-timeout': '300m' });
  assert.deepEqual([waited.status, waited.message], [grpc.status.DEADLINE_EXCEEDED, 'context deadline exceeded']);
  // the waiter's key is gone: only the holder's remains
  const keys = async (): Promise<string[]> => ((await unary<{ kvs?: { key: Buffer }[] }>(c.kv, 'Range', { key: b('L/'), range_end: b('L0') })).kvs ?? []).map((kv) => kv.key.toString());
  const deadline = Date.now() + 5000;
  while ((await keys()).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await keys(), [held.key.toString()]);
});

test('HTTP/2 level garbage ends only its own connection (GOAWAY); the member keeps serving', { timeout: 60_000 }, async (t) => {
  const [m, c] = await grpcSetup(t);
  const http1 = await exchange(m.endpoint, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  assert.ok(http1.closedByServer, 'a bad preface closes the connection');
  assert.equal(goAwayCode(http1.received), 1);

  const notSettings = await exchange(m.endpoint, Buffer.concat([PREFACE, frame(6, 0, 0, Buffer.alloc(8))]));
  assert.equal(goAwayCode(notSettings.received), 1, 'the first frame must be SETTINGS');

  const huge = await exchange(m.endpoint, Buffer.concat([PREFACE, SETTINGS, Buffer.from([0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01])]));
  assert.equal(goAwayCode(huge.received), 6, 'a frame above 16 KiB: FRAME_SIZE_ERROR');

  const hpack = await exchange(m.endpoint, Buffer.concat([PREFACE, SETTINGS, frame(1, 0x4, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]))]));
  assert.equal(goAwayCode(hpack.received), 9, 'an index beyond the table: COMPRESSION_ERROR');

  const evenStream = await exchange(m.endpoint, Buffer.concat([PREFACE, SETTINGS, frame(1, 0x5, 2, Buffer.from([0x83]))]));
  assert.equal(goAwayCode(evenStream.received), 1, 'a client stream with an even id: PROTOCOL_ERROR');

  const flood = await exchange(m.endpoint, Buffer.concat([PREFACE, SETTINGS, frame(1, 0x0, 1, Buffer.alloc(16_000, 0x82)), ...Array.from({ length: 5 }, () => frame(9, 0, 1, Buffer.alloc(16_000, 0x82)))]));
  assert.equal(goAwayCode(flood.received), 11, 'a header block above the bound: ENHANCE_YOUR_CALM');

  // random frames after a valid start, from a seed
  const seed = seedFromEnv();
  const rng = new Rng(seed);
  t.diagnostic(`SEED=${seed}`);
  for (let i = 0; i < 30; i++) {
    const junk = Buffer.from(Array.from({ length: 1 + rng.int(400) }, () => rng.int(256)));
    await exchange(m.endpoint, Buffer.concat([PREFACE, SETTINGS, junk]), 200);
  }
  await unary(c.kv, 'Put', { key: b('still'), value: b('serving') });
  assert.equal((await unary<{ kvs: { value: Buffer }[] }>(c.kv, 'Range', { key: b('still') })).kvs[0]!.value.toString(), 'serving');
  assert.ok(m.member.member.server.failure === null);
});
