// A range whose answer is larger than a read worker's reply message (8 MiB) is stopped in the worker as soon as its
// keys and values pass that size, and answered once by the main thread: the worker neither reads the rest nor builds
// and encodes the whole answer only to throw it away. Reads whose scan passes the size but whose answer is small
// (paged, keys only, count only, filtered) stay in the worker.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess } from '../helpers/member.js';
import { prefixRangeEnd, type RangeRequest } from '../../src/proto/index.js';
import { EncodedResponse } from '../../src/server/read-pool.js';

const MiB = 1 << 20;
/** values just under the request size limit (1.5 MiB), so a dozen of them pass 8 MiB */
const VALUE_BYTES = MiB + 1000;
const BIG_KEYS = 10;

test('a range larger than a worker reply is stopped in the worker and answered once by the main thread', { timeout: 60_000 }, async (t) => {
  const m = await startInProcess(['--worker-threads', '1']);
  t.after(() => m.close());
  const server = m.member.server;
  const pool = server.readPool!;
  const c = m.client();
  const prefix = Buffer.from('big/');
  const scan = { key: prefix, range_end: prefixRangeEnd(prefix) };
  for (let i = 0; i < BIG_KEYS; i++) await c.put({ key: Buffer.from(`big/${i}`), value: Buffer.alloc(VALUE_BYTES, 0x41 + i) });
  const lastPut = server.revision;
  await c.put({ key: Buffer.from('big/~small'), value: Buffer.from('s') });

  // the whole range through the binary front end (the worker path), at the current and at a past revision
  for (const revision of [undefined, lastPut]) {
    const before = pool.stats;
    const r = await c.range({ ...scan, ...(revision !== undefined ? { revision } : {}) });
    const expected = revision === undefined ? BIG_KEYS + 1 : BIG_KEYS;
    assert.equal(r.count, expected);
    assert.equal(r.kvs.length, expected);
    assert.equal(r.more, false);
    for (let i = 0; i < BIG_KEYS; i++) {
      const kv = r.kvs[i]!;
      assert.equal(Buffer.from(kv.key).toString(), `big/${i}`);
      assert.ok(Buffer.from(kv.value).equals(Buffer.alloc(VALUE_BYTES, 0x41 + i)), `value of big/${i}`);
    }
    const after = pool.stats;
    assert.equal(after.tooLargeStopped - before.tooLargeStopped, 1, `revision ${revision ?? 'current'}: the worker stopped the read part way`);
    assert.equal(after.tooLargeEncoded - before.tooLargeEncoded, 0, `revision ${revision ?? 'current'}: the worker did not build and encode the whole answer`);
  }

  // answers that fit, although the scan passes the size: the worker serves them, nothing is stopped
  const before = pool.stats;
  const fitting: RangeRequest[] = [
    { ...scan, limit: 3 },
    { ...scan, keys_only: true },
    { ...scan, count_only: true },
    { ...scan, min_mod_revision: lastPut },
    { ...scan, limit: 2, sort_order: 2, sort_target: 3 },
  ];
  for (const req of fitting) {
    const r = await server.kv.rangeForClient({ ...req, serializable: true });
    assert.ok(r instanceof EncodedResponse, `${JSON.stringify({ ...req, key: undefined, range_end: undefined })} was answered by the worker`);
  }
  assert.deepEqual([pool.stats.tooLargeStopped, pool.stats.tooLargeEncoded], [before.tooLargeStopped, before.tooLargeEncoded]);
  const paged = await c.range({ ...scan, limit: 3 });
  assert.deepEqual([paged.kvs.length, paged.count, paged.more], [3, BIG_KEYS + 1, true]);
});
