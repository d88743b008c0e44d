// A seeded random workload (puts, deletes of keys and ranges, txns, leases and their revocation, a compaction, a
// connection torn down under its watchers) with many watchers of mixed ranges, options and start revisions
// (past, now, future; below the compaction), created while it runs. Every watcher is checked against the history.
// SEED=n replays a run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { startInProcess } from '../helpers/member.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';
import { assertWatch, History, Recorder, syncWatcher, type WatchSpec } from '../helpers/watch-checker.js';
import { runOps, watchSpecOf } from '../helpers/watch-workload.js';
import { prefixRangeEnd, WatchFilterType, type Client, type RequestOp, type Watcher, type WatchOptions } from '../../src/client/index.js';

const b = (s: string): Buffer => Buffer.from(s);
const KEYS = ['a', 'b', 'c', 'd'].flatMap((x) => ['', '0', '1', '2', '3'].map((y) => `r/${x}${y}`));

interface Watched {
  spec: WatchSpec;
  rec: Recorder;
  w: Watcher;
  client: number;
  /** created after the compaction with a start revision below it */
  mustCancel: boolean;
  /** started at or after the compacted revision */
  mustNotCancel: boolean;
  desc: string;
}

test('random workload: every watcher gets exactly the history of its range, in order, whole, once', { timeout: 90_000 }, async (t) => {
  const seed = seedFromEnv();
  t.diagnostic(`SEED=${seed}`);
  const rng = new Rng(seed);
  const m = await startInProcess();
  t.after(() => m.close());
  const writer = m.client();
  const clients = [m.client(), m.client(), m.client()];
  const history = new History();
  const watched: Watched[] = [];
  let compactRev = 0;
  const leases: bigint[] = [];
  const acked: { rev: number; key: string; value: string }[] = [];

  const cur = async (): Promise<number> => (await writer.status()).header.revision;

  async function addWatchers(n: number): Promise<void> {
    const now = await cur();
    for (let i = 0; i < n; i++) {
      const o: WatchOptions = { key: '' };
      const shape = rng.int(6);
      let desc: string;
      if (shape === 0) {
        o.key = rng.pick(KEYS);
        desc = `key ${o.key}`;
      } else if (shape === 1) {
        const [x, y] = [rng.pick(KEYS), rng.pick(KEYS)].sort();
        o.key = x!;
        o.range_end = y === x ? `${y}0` : y!;
        desc = `range ${o.key}..${String(o.range_end)}`;
      } else if (shape === 2) {
        o.key = rng.pick(['r/', 'r/a', 'r/b', 'r/c0', 'r/d', 'r/e']);
        o.prefix = true;
        desc = `prefix ${o.key}`;
      } else if (shape === 3) {
        o.key = rng.pick(KEYS);
        o.range_end = Buffer.from([0]);
        desc = `from-key ${o.key}`;
      } else if (shape === 4) {
        o.key = 'r/';
        o.prefix = true;
        desc = 'prefix r/';
      } else {
        o.key = 'r/none';
        desc = 'key r/none';
      }
      const when = rng.int(4);
      if (when === 1) o.start_revision = 2 + rng.int(Math.max(1, now - 1));
      else if (when === 2) o.start_revision = now + 1 + rng.int(60);
      else if (when === 3 && compactRev > 0) o.start_revision = Math.max(2, compactRev - 20 + rng.int(40));
      o.prev_kv = rng.chance(0.5);
      if (rng.chance(0.2)) o.filters = [WatchFilterType.NOPUT];
      else if (rng.chance(0.2)) o.filters = [WatchFilterType.NODELETE];
      o.fragment = rng.chance(0.1);
      const ci = rng.int(clients.length);
      const rec = new Recorder();
      const w = clients[ci]!.watch(o, rec.handlers);
      const created = await Promise.race([w.ready, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
      const spec = watchSpecOf(o, created);
      const from = spec.from;
      assert.ok(created >= 0 || rec.canceled !== null, `watch ${desc} was neither created nor cancelled`);
      desc += ` from ${from}${o.prev_kv ? ' prev_kv' : ''}${o.filters ? ` filter ${o.filters[0]}` : ''}`;
      watched.push({
        spec,
        rec,
        w,
        client: ci,
        mustCancel: compactRev > 0 && from < compactRev,
        mustNotCancel: from >= compactRev,
        desc,
      });
    }
  }

  function randomOp(): Promise<unknown> {
    const p = rng.int(100);
    const key = rng.pick(KEYS);
    const value = `${rng.int(1e6)}`.repeat(1 + rng.int(4));
    if (p < 45) {
      const lease = leases.length > 0 && rng.chance(0.1) ? rng.pick(leases) : undefined;
      return writer.put({ key: b(key), value: b(value), ...(lease ? { lease } : {}) }).then(
        (r) => acked.push({ rev: r.header.revision, key, value }),
        () => {}, // a revoked lease: nothing changed
      );
    }
    if (p < 55) return writer.deleteRange({ key: b(key) });
    if (p < 62) {
      const [x, y] = [rng.pick(KEYS), rng.pick(KEYS)].sort();
      return writer.deleteRange({ key: b(x!), range_end: b(`${y}0`) });
    }
    if (p < 65) return writer.deleteRange({ key: b(`r/${rng.pick(['a', 'b', 'c', 'd'])}`), range_end: prefixRangeEnd(b(`r/${rng.pick(['a', 'b', 'c', 'd'])}`)) });
    if (p < 92) {
      const keys = [...new Set(Array.from({ length: 1 + rng.int(5) }, () => rng.pick(KEYS)))];
      const ops = (ks: string[]): RequestOp[] =>
        ks.map((k) => (rng.chance(0.7) ? { request_put: { key: b(k), value: b(`t${rng.int(1000)}`) } } : { request_delete_range: { key: b(k) } }));
      const split = rng.int(keys.length + 1);
      return writer.txn({
        compare: [{ key: b(key), target: 0 /* VERSION */, result: rng.pick([0, 1, 2, 3]), version: rng.int(3) }],
        success: ops(keys.slice(0, split)),
        failure: ops(keys.slice(split)),
      });
    }
    if (p < 96) return writer.call('LeaseGrant', { TTL: 600 }).then((r) => leases.push(r.ID));
    if (leases.length === 0) return Promise.resolve();
    const id = leases.splice(rng.int(leases.length), 1)[0]!;
    return writer.call('LeaseRevoke', { ID: id });
  }

  const workload = (n: number, concurrency = 6): Promise<void> => runOps(n, concurrency, randomOp);

  await workload(100);
  await addWatchers(25);
  const running = workload(600);
  await addWatchers(15);
  await running;
  // a connection torn down under its watchers: they resume where they were
  const victim = clients[1]!;
  const victims = watched.filter((x) => x.client === 1);
  const load = workload(200);
  (victim as unknown as { socket: net.Socket }).socket.destroy();
  await load;
  // compaction, then watchers around it
  const atCompaction = await cur();
  await history.readTo(writer, atCompaction);
  compactRev = atCompaction - 30 - rng.int(100);
  await writer.compact({ revision: compactRev, physical: rng.chance(0.5) });
  const more = workload(400);
  await addWatchers(20);
  await more;
  const last = await cur();
  await history.readTo(writer, last);

  // the history agrees with the writes the test saw acknowledged
  for (const a of acked) {
    const ev = history.at(a.rev).get(b(a.key).toString('hex'));
    assert.ok(ev !== undefined && ev.type === 0 && Buffer.from(ev.kv.value).toString() === a.value, `acknowledged put of ${a.key} at ${a.rev} is in the history`);
  }

  const results = await Promise.all(
    watched.map(async (x) => {
      if (!x.mustCancel) await syncWatcher(x.w, x.rec, last);
      return x;
    }),
  );
  let events = 0;
  let cancels = 0;
  for (const x of results) {
    if (x.rec.error) throw new Error(`${x.desc}: ${x.rec.error.message}`);
    if (x.mustCancel) assert.ok(x.rec.canceled !== null, `${x.desc}: below the compacted revision ${compactRev}: cancelled`);
    if (x.mustNotCancel) assert.equal(x.rec.canceled, null, `${x.desc}: not cancelled`);
    if (x.rec.canceled !== null) {
      assert.equal(x.rec.canceled.compact_revision, compactRev, x.desc);
      cancels++;
    }
    const r = assertWatch(history, x.spec, x.rec.responses, { through: last, context: `${x.desc}; SEED=${seed}`, prevKvCompactedAt: compactRev });
    events += r.events;
    x.w.cancel();
  }
  t.diagnostic(`${last} revisions, ${watched.length} watchers, ${events} events delivered, ${cancels} cancelled, ${victims.length} resumed after the connection loss`);
  assert.ok(events > 5000, 'the watchers saw a real workload');
  for (const x of victims) assert.ok(x.w.reopens > 0, `${x.desc}: resumed after its connection broke`);
});
