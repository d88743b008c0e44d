// A gRPC client that sends many requests for large answers and does not read them (its HTTP/2 streams grant no
// window): the member answers until the connection's outstanding response bytes reach connectionWriteBufferBytesMax,
// then holds the remaining requests back (their bytes keep the client's connection window closed) instead of
// materialising every answer. Other clients are served meanwhile; when the client reads, every call completes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { DEFAULT_LIMITS } from '../../src/config/index.js';
import { etcdClients, grpcFrame, startGrpcMember, unary } from '../helpers/grpc.js';

const CALLS = 100;
const VALUE_BYTES = 1024 * 1024;

test('unread answers are bounded per connection; held requests complete once the client reads', { timeout: 120_000 }, async (t) => {
  const m = await startGrpcMember();
  const c = etcdClients(m.endpoint);
  t.after(async () => {
    c.close();
    await m.close();
  });
  await unary(c.kv, 'Put', { key: Buffer.from('big'), value: Buffer.alloc(VALUE_BYTES, 7) });
  // A serializable read waits until every answered write is published (its commit): read once so that the burst's reads
  // are answered at once. Answers that come later (a read waiting for that commit on a loaded machine) are admitted by
  // the connection's response-size estimate instead, which lets a first burst materialise up to
  // connectionRequestsInflightInitial answers (64 MiB here: seen once under load); the bound asserted is the bytes one.
  await unary(c.kv, 'Range', { key: Buffer.from('big'), serializable: true });
  assert.ok(CALLS * VALUE_BYTES > 4 * DEFAULT_LIMITS.connectionWriteBufferBytesMax, 'the answers are far larger than the bound');

  const session = http2.connect(`http://${m.endpoint}`);
  session.on('error', () => {});
  t.after(() => session.destroy());
  // RangeRequest{key: "big", serializable: true}: answered at once, so only the bytes bound the burst (a linearizable
  // read waits for its ReadIndex; a burst of those is bounded by connectionRequestsInflightInitial first)
  const request = grpcFrame(Buffer.from([0x0a, 0x03, ...Buffer.from('big'), 0x38, 0x01]));
  const calls = Array.from({ length: CALLS }, () => {
    const s = session.request({ ':method': 'POST', ':path': '/etcdserverpb.KV/Range', 'content-type': 'application/grpc', te: 'trailers' });
    s.end(request);
    s.pause(); // not read: the stream grants no window beyond the first 64 KiB
    return s;
  });

  let maxHeld = 0;
  let maxWaiting = 0;
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const s = m.grpc.stats();
    maxHeld = Math.max(maxHeld, s.queuedBytes + s.writeBufferedBytes);
    maxWaiting = Math.max(maxWaiting, s.waitingRequests);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.diagnostic(`held at most ${maxHeld} bytes of answers; up to ${maxWaiting} requests waiting`);
  assert.ok(maxHeld <= DEFAULT_LIMITS.connectionWriteBufferBytesMax + 2 * VALUE_BYTES, `the member held ${maxHeld} bytes for the client`);
  assert.ok(maxWaiting > 0, 'requests were held back');

  // another client is served meanwhile
  await unary(c.kv, 'Put', { key: Buffer.from('other'), value: Buffer.from('v') });

  const results = await Promise.all(
    calls.map(
      (s) =>
        new Promise<{ bytes: number; status: string | undefined }>((resolve) => {
          let bytes = 0;
          let status: string | undefined;
          s.on('data', (chunk: Buffer) => (bytes += chunk.length));
          s.on('trailers', (tr) => (status = tr['grpc-status'] as string | undefined));
          s.on('close', () => resolve({ bytes, status }));
          s.resume();
        }),
    ),
  );
  assert.ok(results.every((r) => r.status === '0' && r.bytes > VALUE_BYTES), JSON.stringify(results.filter((r) => r.status !== '0' || r.bytes <= VALUE_BYTES).slice(0, 3)));
});
