// Readers see the state after a whole applied batch or before it, never part of one (issue 12). Under a write load
// from many clients, Raft batches hold several requests, each at its own revision; reads issued meanwhile (point reads
// on the main thread, scans in a worker thread, linearizable and serializable) report the revision of the snapshot
// they read. Every such revision must be the last revision of some batch: a store that published entry by entry (or a
// reader that saw a commit half-way) would report revisions from inside a batch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess } from '../helpers/member.js';

const b = (s: string): Buffer => Buffer.from(s);

interface BatchLike {
  events: { kv: { mod_revision: number } }[];
}

test('a read issued while batches are in flight sees whole batches only', { timeout: 60_000 }, async (t) => {
  const m = await startInProcess(['--worker-threads', '1']);
  t.after(() => m.close());
  // the applier's "committed" port: one call per batch, after its transaction committed
  const applier = (m.member.server as unknown as { applier: { ports: { committed(batch: BatchLike): void } } }).applier;
  const batches: { first: number; last: number }[] = [];
  const committed = applier.ports.committed.bind(applier.ports);
  applier.ports.committed = (batch) => {
    const revisions = batch.events.map((e) => e.kv.mod_revision);
    if (revisions.length > 0) batches.push({ first: Math.min(...revisions), last: Math.max(...revisions) });
    committed(batch);
  };

  const writers = Array.from({ length: 4 }, () => m.client());
  const reader = m.client();
  let writing = true;
  const load = Promise.all(
    writers.flatMap((c, w) =>
      Array.from({ length: 16 }, async (_, i) => {
        for (let n = 0; writing; n++) await c.put({ key: b(`k/${w}/${i}/${n % 8}`), value: b(`v${n}`) });
      }),
    ),
  );
  const seen: number[] = [];
  const reads = Array.from({ length: 8 }, async (_, r) => {
    for (let n = 0; n < 150; n++) {
      const serializable = (n + r) % 2 === 0;
      const resp = n % 3 === 0
        ? await reader.range({ key: b('k/'), range_end: b('k0'), count_only: true, serializable }) // a scan: the worker
        : await reader.range({ key: b(`k/${r % 4}/${n % 16}/0`), serializable }); // a point read: the main thread
      seen.push(resp.header.revision);
    }
  });
  await Promise.all(reads);
  writing = false;
  await load;

  const multi = batches.filter((x) => x.last > x.first);
  assert.ok(multi.length >= 10, `batches of several revisions formed (${multi.length} of ${batches.length}): the test can tell`);
  const inside = (rev: number): boolean => batches.some((x) => rev >= x.first && rev < x.last);
  const partial = seen.filter(inside);
  assert.deepEqual(partial, [], `reads that saw part of a batch (of ${seen.length} reads)`);
  assert.ok(new Set(seen).size >= 10, 'the reads ran while the revision moved');
});
