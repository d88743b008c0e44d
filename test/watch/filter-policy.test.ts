// When the watch filter worker is used: many watchers on few ranges stay on the main thread (a stab is cheap there and
// the sends stay there anyway: BENCHMARKS.md), many watchers on many distinct ranges go to the worker.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WATCH_FILTER_WORKER_MIN_RANGES, WATCH_FILTER_WORKER_MIN_WATCHERS } from '../../src/config/limits.js';
import { startInProcess } from '../helpers/member.js';
import { waitFor } from '../helpers/watch-checker.js';

test('the filter worker takes batches only once there are enough watchers on enough distinct ranges', { timeout: 120_000 }, async (t) => {
  const m = await startInProcess(['--worker-threads', '1']);
  t.after(() => m.close());
  const server = m.member.server;
  const pool = server.watchFilterPool!;
  assert.ok(pool !== null, 'a filter pool with --worker-threads 1');
  const c = m.client();
  let seen = 0;
  const watchers = [];
  for (let i = 0; i < WATCH_FILTER_WORKER_MIN_WATCHERS + 50; i++) {
    watchers.push(c.watch({ key: 'p/', prefix: true }, { onEvents: (r) => (seen += r.events.length) }));
  }
  await waitFor(() => server.watchHub.watchers === watchers.length, 30_000, () => 'the prefix watchers are registered');
  for (let i = 0; i < 5; i++) await c.put({ key: Buffer.from(`p/${i}`), value: Buffer.from('v') });
  await waitFor(() => seen === watchers.length * 5, 30_000, () => 'every prefix watcher saw the puts');
  assert.equal(pool.stats.batchesSent, 0, 'one shared range: matched on the main thread');
  assert.equal(pool.started, false, 'and the filter thread was not started');

  for (let i = 0; i < WATCH_FILTER_WORKER_MIN_RANGES; i++) watchers.push(c.watch({ key: `k/${i}` }, { onEvents: (r) => (seen += r.events.length) }));
  await waitFor(() => server.watchHub.watchers === watchers.length, 30_000, () => 'the single-key watchers are registered');
  const before = seen;
  await c.put({ key: Buffer.from('k/7'), value: Buffer.from('v') });
  await c.put({ key: Buffer.from('p/9'), value: Buffer.from('v') });
  await waitFor(() => seen === before + 1 + (WATCH_FILTER_WORKER_MIN_WATCHERS + 50), 30_000, () => 'the new events were delivered');
  assert.ok(pool.stats.batchesSent >= 1, `many distinct ranges: matched by the worker (${JSON.stringify(pool.stats)})`);
  assert.ok(pool.started, 'the first batch worth it started the thread');
  // the thread, given every registration made before it started, matches later batches for all of them
  const after = seen;
  for (let i = 0; i < 3; i++) await c.put({ key: Buffer.from(`k/${i}`), value: Buffer.from('v') });
  await waitFor(() => seen === after + 3, 30_000, () => 'the later events were delivered');
  assert.ok(pool.stats.batchesAnswered >= 1, `the worker answered (${JSON.stringify(pool.stats)})`);
  for (const w of watchers) w.cancel();
});
