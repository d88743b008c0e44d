// 10,000 watchers on one member (single keys and prefixes, over a handful of connections; most live, a thousand
// replaying history while the load runs) with a steady write load: every watcher receives every matching event,
// checked against the history of the test's own writes, within a sane time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startChild } from '../helpers/member.js';
import { assertWatch, expectedCount, History, Recorder, syncWatcher, waitFor, type WatchSpec } from '../helpers/watch-checker.js';
import { Client, prefixRangeEnd, type Watcher, type WatchOptions } from '../../src/client/index.js';

const b = (s: string): Buffer => Buffer.from(s);
const KEYS = 1000;
const PUTS = 2000;
const key = (i: number): string => `m/k${String(i % KEYS).padStart(3, '0')}`;

interface W {
  spec: WatchSpec;
  rec: Recorder;
  w: Watcher;
  want: number;
  late: boolean;
}

test('10,000 watchers over 4 connections: every watcher gets every event of its keys', { timeout: 120_000 }, async (t) => {
  const member = await startChild();
  t.after(() => member.kill('SIGKILL'));
  const clients = Array.from({ length: 4 }, () => new Client({ endpoints: [member.endpoint] }));
  const writer = new Client({ endpoints: [member.endpoint] });
  t.after(() => [...clients, writer].forEach((c) => c.destroy()));
  const watchers: W[] = [];

  /** watcher i: mostly single keys, else a prefix of ten keys, or (1 in 100) all of them */
  const add = (i: number, start_revision?: number): Promise<number> => {
    let opts: WatchOptions;
    if (i % 10 < 7) opts = { key: key(i * 7) };
    else if (i % 100 !== 99) opts = { key: key(i).slice(0, -1), prefix: true };
    else opts = { key: 'm/', prefix: true };
    if (start_revision !== undefined) opts.start_revision = start_revision;
    const rec = new Recorder();
    const w = clients[i % clients.length]!.watch(opts, rec.handlers);
    const k = b(opts.key as string);
    const x: W = { spec: { key: k, range_end: opts.prefix ? Buffer.from(prefixRangeEnd(k)) : undefined, from: start_revision ?? 0 }, rec, w, want: 0, late: start_revision !== undefined };
    watchers.push(x);
    return w.ready.then((rev) => {
      if (start_revision === undefined) x.spec.from = rev + 1;
      return rev;
    });
  };

  const t0 = Date.now();
  await Promise.all(Array.from({ length: 9000 }, (_, i) => add(i)));
  const createMs = Date.now() - t0;

  // steady load: 40 puts every 50 ms; half-way, a thousand more watchers replay everything from the start
  const writes: { rev: number; key: Buffer; value: Buffer }[] = [];
  const acked = new Map<number, number>();
  let late: Promise<unknown> = Promise.resolve();
  const l0 = Date.now();
  for (let i = 0; i < PUTS; i += 40) {
    const tick = new Promise((r) => setTimeout(r, 50));
    await Promise.all(
      Array.from({ length: 40 }, async (_, j) => {
        const k = b(key((i + j) * 13));
        const value = b(`v${i + j}`);
        const r = await writer.put({ key: k, value });
        acked.set(r.header.revision, Date.now());
        writes.push({ rev: r.header.revision, key: k, value });
      }),
    );
    if (i === PUTS / 2) late = Promise.all(Array.from({ length: 1000 }, (_, n) => add(9000 + n, 2)));
    await tick;
  }
  const loadMs = Date.now() - l0;
  await late;
  const last = Math.max(...acked.keys());
  const history = new History();
  history.recordWrites(writes);

  let want = 0;
  for (const x of watchers) want += x.want = expectedCount(history, x.spec);
  const done = Date.now();
  const total = (): number => watchers.reduce((n, x) => n + x.rec.events, 0);
  await waitFor(() => total() >= want, 30_000, () => `${total()} of ${want} events delivered`, 50);
  const drainMs = Date.now() - done;

  let maxLag = 0;
  const all = watchers.filter((x) => x.spec.range_end !== undefined && x.spec.key.length === 2 && !x.late);
  for (const x of all) for (const [rev, at] of x.rec.arrivals) maxLag = Math.max(maxLag, at - acked.get(rev)!);
  // a sample also proves it by a progress notification
  const sample = watchers.filter((_, i) => i % 97 === 0);
  await Promise.all(sample.map((x) => syncWatcher(x.w, x.rec, last)));
  for (const x of watchers) {
    const r = assertWatch(history, x.spec, x.rec.responses, { through: last });
    assert.equal(r.events, x.want);
  }
  t.diagnostic(
    `10,000 watchers created in ${createMs} ms; ${PUTS} puts in ${loadMs} ms; ${want} events delivered, the last ${drainMs} ms after the load; live whole-prefix watchers lagged at most ${maxLag} ms`,
  );
  assert.ok(want > 150_000);
  assert.ok(drainMs < 10_000 && maxLag < 5_000, 'within a sane time');
  for (const x of watchers) x.w.cancel();
});
