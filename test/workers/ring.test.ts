// The SharedArrayBuffer ring: byte-exact messages in order across the wrap-around, a full ring refusing pushes until
// the consumer frees space (backpressure, nothing lost or reordered), a real worker thread echoing 100,000 messages
// while the main thread waits only asynchronously, and many logical producers sharing one ring.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Ring, RingFullError } from '../../src/ring/index.js';
import { Rng } from '../helpers/rng.js';

const echoWorker = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'ring-echo-worker.js');

function message(rng: Rng, tag: number, maxBytes: number): Uint8Array {
  const len = 4 + rng.int(maxBytes - 3);
  const m = new Uint8Array(len);
  new DataView(m.buffer).setUint32(0, tag, true);
  for (let i = 4; i < len; i++) m[i] = (tag * 31 + i) & 0xff;
  return m;
}

function tagOf(m: Uint8Array): number {
  return new DataView(m.buffer, m.byteOffset).getUint32(0, true);
}

function checkContent(m: Uint8Array): void {
  const tag = tagOf(m);
  for (let i = 4; i < m.length; i++) if (m[i] !== ((tag * 31 + i) & 0xff)) assert.fail(`message ${tag} corrupted at byte ${i}`);
}

test('messages of random sizes come out byte for byte and in order across many wrap-arounds', () => {
  const rng = new Rng(7);
  const ring = Ring.create(256);
  const queue: Uint8Array[] = [];
  let next = 0;
  let popped = 0;
  for (let step = 0; step < 20_000; step++) {
    if (rng.int(2) === 0) {
      const m = message(rng, next, 60);
      if (ring.push(m)) {
        queue.push(m);
        next++;
      } else assert.ok(ring.usedBytes + 4 + m.length > ring.capacity, 'a push is refused only when it does not fit');
    } else {
      const got = ring.pop();
      const want = queue.shift();
      if (want === undefined) assert.equal(got, null);
      else {
        assert.deepEqual(got, want);
        popped++;
      }
    }
    assert.equal(ring.usedBytes, queue.reduce((n, m) => n + 4 + m.length, 0));
  }
  assert.ok(popped > 5000 && next * 64 > ring.capacity * 50, `the ring wrapped many times (${popped} popped)`);
});

test('a full ring refuses pushes until the consumer frees space; nothing is lost; oversize messages are an error', () => {
  const ring = Ring.create(64);
  const m = new Uint8Array(12).fill(1);
  let pushed = 0;
  while (ring.push(m)) pushed++;
  assert.equal(pushed, 4, '4 messages of 4 + 12 bytes fill 64 bytes');
  assert.equal(ring.push(new Uint8Array(0)), false, 'even an empty message needs its length prefix');
  assert.deepEqual(ring.pop(), m);
  assert.equal(ring.push(m), true, 'space freed by the consumer is reusable at once');
  let drained = 0;
  while (ring.pop() !== null) drained++;
  assert.equal(drained, 4);
  assert.throws(() => ring.push(new Uint8Array(ring.messageBytesMax + 1)), RingFullError);
  assert.equal(ring.push(new Uint8Array(ring.messageBytesMax)), true, 'the largest message fits an empty ring');
});

async function withEchoWorker<T>(capacity: number, run: (requests: Ring, replies: Ring) => Promise<T>): Promise<T> {
  const requests = Ring.create(capacity);
  const replies = Ring.create(capacity);
  const worker = new Worker(echoWorker, { workerData: { requests: requests.buffer, replies: replies.buffer } });
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  try {
    const result = await run(requests, replies);
    await requests.pushAsync(new Uint8Array(0));
    await done;
    return result;
  } finally {
    await worker.terminate();
  }
}

test('a worker thread echoes 100,000 messages through two small rings; the main thread only waits asynchronously', { timeout: 60_000 }, async () => {
  const rng = new Rng(11);
  const total = 100_000;
  await withEchoWorker(4096, async (requests, replies) => {
    let received = 0;
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1); // the event loop keeps turning while we wait
    const consumer = (async () => {
      while (received < total) {
        const m = replies.pop();
        if (m === null) {
          await replies.waitForDataAsync(50);
          continue;
        }
        assert.equal(tagOf(m), received, 'replies come back in order');
        checkContent(m);
        received++;
      }
    })();
    for (let i = 0; i < total; i++) await requests.pushAsync(message(rng, i, 200));
    await consumer;
    clearInterval(ticker);
    assert.equal(received, total);
    assert.ok(ticks > 0, 'the main thread never blocked its event loop');
  });
});

test('many producers on the main thread share one ring: every message arrives, each producer in its own order', { timeout: 60_000 }, async () => {
  const producers = 50;
  const perProducer = 400;
  await withEchoWorker(1024, async (requests, replies) => {
    const seen = new Array<number>(producers).fill(0);
    let received = 0;
    const consumer = (async () => {
      while (received < producers * perProducer) {
        const m = replies.pop();
        if (m === null) {
          await replies.waitForDataAsync(50);
          continue;
        }
        const tag = tagOf(m);
        const p = Math.floor(tag / 1_000_000);
        assert.equal(tag % 1_000_000, seen[p], `producer ${p}: messages in its order`);
        seen[p]!++;
        received++;
      }
    })();
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        const rng = new Rng(100 + p);
        for (let i = 0; i < perProducer; i++) {
          await requests.pushAsync(message(rng, p * 1_000_000 + i, 40));
          if (rng.int(4) === 0) await new Promise((r) => setImmediate(r)); // interleave the producers
        }
      }),
    );
    await consumer;
    assert.deepEqual(seen, new Array(producers).fill(perProducer));
  });
});
