// The MVCC range read is a pure function over an LMDB snapshot: evaluated in a worker thread it must return exactly
// what the main thread returns, for random ranges, options and revisions, including compacted and future ones.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { startInProcess } from '../helpers/member.js';
import { EtcdError } from '../../src/errors/index.js';
import type { RangeRequest } from '../../src/proto/index.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';

const workerFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../workers/range-worker.js');

function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x && x.type === 'Buffer' ? Buffer.from(x.data).toString('hex') : x)));
}

test('range in a worker thread equals range on the main thread', async (t) => {
  const seed = seedFromEnv();
  const rng = new Rng(seed);
  t.diagnostic(`seed ${seed}`);
  const m = await startInProcess();
  t.after(() => m.close());
  const c = m.client();
  const keys = Array.from({ length: 30 }, (_, i) => Buffer.from(`k${String(i).padStart(2, '0')}${i % 7 === 0 ? '\0z' : ''}`));
  for (let i = 0; i < 400; i++) {
    const key = rng.pick(keys);
    if (rng.next() < 0.8) await c.put({ key, value: Buffer.from(`v${i}`) });
    else await c.deleteRange({ key, range_end: rng.next() < 0.3 ? rng.pick(keys) : undefined });
    if (i === 250) await c.compact({ revision: Math.floor(m.member.server.revision / 2), physical: true });
  }
  const worker = new Worker(workerFile, { workerData: { dbPath: m.member.storage.dbPath } });
  t.after(() => worker.terminate());
  let nextId = 1;
  const ask = (request: RangeRequest): Promise<unknown> =>
    new Promise((resolve) => {
      const id = nextId++;
      const onMessage = (reply: { id: number }): void => {
        if (reply.id !== id) return;
        worker.off('message', onMessage);
        resolve(reply);
      };
      worker.on('message', onMessage);
      worker.postMessage({ id, request });
    });
  const current = m.member.server.revision;
  let compared = 0;
  let errors = 0;
  for (let i = 0; i < 300; i++) {
    const a = rng.pick(keys);
    const request: RangeRequest = {
      key: rng.next() < 0.1 ? Buffer.from([0]) : a,
      range_end: rng.next() < 0.2 ? undefined : rng.next() < 0.2 ? Buffer.from([0]) : rng.pick(keys),
      revision: rng.next() < 0.5 ? 0 : rng.int(current + 3),
      limit: rng.next() < 0.3 ? rng.int(5) : 0,
      sort_order: rng.int(3),
      sort_target: rng.int(5),
      keys_only: rng.next() < 0.2,
      count_only: rng.next() < 0.1,
      min_mod_revision: rng.next() < 0.1 ? rng.int(current) : 0,
      max_create_revision: rng.next() < 0.1 ? rng.int(current) : 0,
    };
    let expected: unknown;
    try {
      const r = await m.member.server.range(request);
      expected = { ok: true, result: { kvs: r.kvs, count: r.count, more: r.more, revision: r.header.revision } };
    } catch (err) {
      assert.ok(err instanceof EtcdError, String(err));
      expected = { ok: false, code: err.code, message: err.message };
      errors++;
    }
    const reply = (await ask(request)) as { id?: number };
    delete reply.id;
    assert.deepEqual(plain(reply), plain(expected), `seed ${seed}, request ${i}: ${JSON.stringify(plain(request))}`);
    compared++;
  }
  assert.equal(compared, 300);
  assert.ok(errors > 0, 'the random requests include compacted or future revisions');
});
