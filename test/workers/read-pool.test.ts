// Range reads in worker threads (--worker-threads) return exactly what the main thread's evaluation returns: a
// randomized comparison over ranges, options and revisions on a quiet store, then during concurrent writes and a
// compaction (reads at a fixed revision, so the answer does not depend on timing), and across a worker crash.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS } from '../../src/auth/index.js';
import { startInProcess } from '../helpers/member.js';
import { EtcdError } from '../../src/errors/index.js';
import { unpackr, type RangeRequest, type RangeResponse } from '../../src/proto/index.js';
import { EncodedResponse } from '../../src/server/read-pool.js';
import type { Compare, TxnRequest, TxnResponse } from '../../src/proto/index.js';
import os from 'node:os';
import { normalizeIds } from '../../src/client/normalize.js';
import type { EtcdServer } from '../../src/server/index.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';

function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x && x.type === 'Buffer' ? Buffer.from(x.data).toString('hex') : x)));
}

function isTxn(req: RangeRequest | TxnRequest): req is TxnRequest {
  return 'success' in req;
}

/** What a worker answered, decoded as the client would, or the error. */
async function viaWorker(server: EtcdServer, req: RangeRequest | TxnRequest): Promise<unknown> {
  try {
    const r = await (isTxn(req) ? server.kv.txnForClient(req, undefined, ANONYMOUS) : server.kv.rangeForClient(req));
    assert.ok(r instanceof EncodedResponse, 'the read was served by a worker');
    return plain(normalizeIds(unpackr.unpack(r.body))); // as the client decodes it (small ids arrive as numbers)
  } catch (err) {
    return { error: (err as EtcdError).message };
  }
}

/** On the main thread (a serializable read waits there until every acknowledged write is published). */
async function viaMain(server: EtcdServer, req: RangeRequest | TxnRequest): Promise<unknown> {
  try {
    if (isTxn(req)) return plain(normalizeIds((await server.kv.txn(req, ANONYMOUS)) as TxnResponse));
    return plain(normalizeIds((await server.kv.range({ ...req, serializable: true })) as RangeResponse));
  } catch (err) {
    return { error: (err as EtcdError).message };
  }
}

function randomRange(rng: Rng, keys: Buffer[], revisions: number): RangeRequest {
  const key = rng.pick(keys);
  const req: RangeRequest = { key, serializable: true };
  // single-key reads stay on the main thread (WORKER_POINT_READS_INLINE): every read here is a scan
  const shape = 1 + rng.int(3);
  if (shape === 1) req.range_end = Buffer.from([0]);
  else if (shape === 2) req.range_end = rng.pick(keys);
  else if (shape === 3) req.range_end = Buffer.concat([key.subarray(0, 2), Buffer.from([0xff])]);
  if (rng.chance(0.4)) req.revision = rng.int(revisions + 3) - 1;
  if (rng.chance(0.3)) req.limit = 1 + rng.int(5);
  if (rng.chance(0.2)) req.keys_only = true;
  if (rng.chance(0.2)) req.count_only = true;
  if (rng.chance(0.3)) req.sort_order = rng.int(3);
  if (rng.chance(0.3)) req.sort_target = rng.int(5);
  if (rng.chance(0.2)) req.min_mod_revision = rng.int(revisions);
  return req;
}

/** A txn without writes: compares on every target, then serializable ranges (evaluated by a worker). */
function randomReadTxn(rng: Rng, keys: Buffer[], revisions: number): TxnRequest {
  const compare = Array.from({ length: rng.int(3) }, () => {
    const target = rng.int(4);
    const c: Compare = { key: rng.pick(keys), result: rng.int(4), target };
    if (target === 0) c.version = rng.int(4);
    else if (target === 1) c.create_revision = rng.int(revisions);
    else if (target === 2) c.mod_revision = rng.int(revisions);
    else c.value = Buffer.from(`v${rng.int(20)}`);
    return c;
  });
  const ops = (): TxnRequest['success'] => Array.from({ length: 1 + rng.int(3) }, () => ({ request_range: { ...randomRange(rng, keys, revisions), serializable: true } }));
  return { compare, success: ops(), failure: ops() };
}

test('reads in a worker equal reads on the main thread, quiet, under writes and compaction, and across a worker crash', { timeout: 120_000 }, async (t) => {
  const seed = seedFromEnv();
  const rng = new Rng(seed);
  t.diagnostic(`seed ${seed}`);
  const m = await startInProcess(['--worker-threads', '2']);
  t.after(() => m.close());
  const server = m.member.server;
  assert.ok(server.readPool !== null, 'the member runs worker threads');
  const c = m.client();
  const keys = Array.from({ length: 24 }, (_, i) => Buffer.from(`k${String(i).padStart(2, '0')}${i % 7 === 0 ? '\0z' : ''}`));
  for (let i = 0; i < 300; i++) {
    const key = rng.pick(keys);
    if (rng.chance(0.8)) await c.put({ key, value: Buffer.from(`v${i}`.repeat(1 + rng.int(4))) });
    else await c.deleteRange({ key, range_end: rng.chance(0.3) ? rng.pick(keys) : undefined });
  }
  await c.compact({ revision: Math.floor(server.revision / 3), physical: true });

  // quiet: nothing changes between the two evaluations
  let compared = 0;
  for (let i = 0; i < 400; i++) {
    const req = randomRange(rng, keys, server.revision);
    const main = await viaMain(server, req);
    assert.deepEqual(await viaWorker(server, req), main, `seed ${seed}: ${JSON.stringify(plain(req))}`);
    const txn = randomReadTxn(rng, keys, server.revision);
    assert.deepEqual(await viaWorker(server, txn), await viaMain(server, txn), `seed ${seed}: ${JSON.stringify(plain(txn))}`);
    compared += 2;
  }
  // a single-key read is answered on the main thread
  assert.ok(!(server.kv.rangeForClient({ key: keys[1]!, serializable: true }) instanceof Promise), 'a point read stays on the main thread');

  // under writes and a compaction: reads at a revision fixed when they are sent (the header's revision is the store's
  // at evaluation time, so only the body is compared)
  let writing = true;
  const writer = (async () => {
    let i = 0;
    while (writing) {
      await c.put({ key: rng.pick(keys), value: Buffer.from(`w${i++}`) });
      if (i === 150) await c.compact({ revision: server.revision - 50 });
    }
  })();
  for (let i = 0; i < 300; i++) {
    const req = { ...randomRange(rng, keys, server.revision), revision: server.revision };
    const main = (await viaMain(server, req)) as { kvs?: unknown; count?: unknown; more?: unknown; error?: string };
    const worker = (await viaWorker(server, req)) as typeof main;
    if (worker.error !== undefined || main.error !== undefined) {
      // only compaction may come between: then the worker, evaluating later, may find the revision compacted
      if (worker.error !== main.error) assert.equal(worker.error, 'etcdserver: mvcc: required revision has been compacted', `seed ${seed}`);
      continue;
    }
    assert.deepEqual([worker.kvs, worker.count, worker.more], [main.kvs, main.count, main.more], `seed ${seed}: ${JSON.stringify(plain(req))}`);
    compared++;
  }
  writing = false;
  await writer;

  // a worker dies with reads in flight: they are answered once, by its replacement
  const inflight = Array.from({ length: 200 }, () => ({ key: rng.pick(keys), range_end: Buffer.from([0]), serializable: true }) as RangeRequest);
  const answers = inflight.map((req) => viaWorker(server, req));
  await server.readPool!.crashOneWorkerForTest();
  const got = await Promise.all(answers);
  for (const [i, req] of inflight.entries()) assert.deepEqual(got[i], await viaMain(server, req), 'every read in flight was answered');
  assert.ok(server.readPool!.stats.restarts >= 1, 'the dead worker was replaced');
  assert.deepEqual(await viaWorker(server, inflight[0]!), await viaMain(server, inflight[0]!), 'the pool serves after the crash');
  t.diagnostic(`${compared} reads compared`);
});

test('--worker-threads defaults to cores - 1 (at least 1); 0 serves every read on the main thread', async (t) => {
  const d = await startInProcess([]);
  t.after(() => d.close());
  assert.equal(d.member.server.readPool?.threads, Math.max(1, os.availableParallelism() - 1));
  const m = await startInProcess(['--worker-threads', '0']);
  t.after(() => m.close());
  assert.equal(m.member.server.readPool, null);
  const c = m.client();
  await c.put({ key: Buffer.from('a'), value: Buffer.from('1') });
  assert.equal(Buffer.from((await c.get('a', { serializable: true })).kvs[0]!.value).toString(), '1');
});

test('reads too big for the request ring are evaluated on the main thread; the member keeps serving', { timeout: 60_000 }, async (t) => {
  const m = await startInProcess(['--worker-threads', '1']);
  t.after(() => m.close());
  const c = m.client();
  await c.put({ key: Buffer.from('a'), value: Buffer.from('1') });
  const readTxn = (valueBytes: number): TxnRequest => ({
    compare: [{ key: Buffer.from('a'), target: 3, result: 0, value: Buffer.alloc(valueBytes, 7) }],
    success: [],
    failure: [{ request_range: { key: Buffer.from('a'), range_end: Buffer.from([0]), serializable: true } }],
  });
  // one read larger than the ring's largest message (a 1.2 MB compare value, under --max-request-bytes)
  const big = await c.txn(readTxn(1_200_000));
  assert.equal(big.succeeded, false);
  assert.equal(Buffer.from(big.responses[0]!.response_range!.kvs[0]!.value).toString(), '1');
  // many reads of one socket chunk that add up to more than the ring
  const many = await Promise.all(Array.from({ length: 40 }, () => c.txn(readTxn(60_000))));
  assert.ok(many.every((r) => r.responses[0]?.response_range?.kvs.length === 1));
  await c.put({ key: Buffer.from('b'), value: Buffer.from('2') });
  assert.equal((await c.range({ key: Buffer.from('a'), range_end: Buffer.from([0]) })).count, 2, 'the member still serves');
});

test('the read pool starts with the first read it serves: reads are answered before, while and after its threads start', async (t) => {
  const m = await startInProcess(['--worker-threads', '2']);
  t.after(() => m.close());
  const server = m.member.server;
  const pool = server.readPool!;
  assert.equal(pool.stats.threads, 0, 'an idle member runs no read thread');
  const c = m.client();
  for (let i = 0; i < 20; i++) await c.put({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) });
  assert.equal(Buffer.from((await c.get('k3', { serializable: true })).kvs[0]!.value).toString(), 'v3');
  assert.equal(pool.stats.threads, 0, 'single-key reads stay on the main thread and start nothing');
  // the first scans start the threads and wait in the rings for them; each is answered by a worker
  const scan: RangeRequest = { key: Buffer.from('k'), range_end: Buffer.from('l'), serializable: true };
  const first = await Promise.all(Array.from({ length: 10 }, () => viaWorker(server, scan)));
  assert.equal(pool.stats.threads, 2, 'the first scan started the configured threads');
  for (const got of first) assert.deepEqual(got, await viaMain(server, scan));
  assert.deepEqual(await viaWorker(server, scan), await viaMain(server, scan), 'later scans are served by the running threads');
  assert.equal((await c.get('k', { prefix: true })).kvs.length, 20, 'and clients see every key');
  assert.equal(pool.stats.restarts, 0);
});
