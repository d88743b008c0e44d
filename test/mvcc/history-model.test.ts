// A randomized model test of the MVCC tables (storage format etcd-ts/4): random puts, deletes, lease-less delete
// ranges and txns over a small key set, applied with MvccTxn to a real LMDB environment, against a model holding every
// revision of the key space. Checked: ranges at random past revisions (count_only, keys_only, limit, key ranges),
// readEvents with and without prev_kv, the tables' exact contents after each compaction (run in bounded steps
// interleaved with writes), and all of it again after closing and reopening. SEED=n replays a run; HISTORY_MODEL_OPS=n
// changes its length.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import {
  compactionStep,
  compactLogical,
  COMPACTION_BEGIN,
  historyKey,
  keyIndexKey,
  MvccTxn,
  range,
  readEvents,
  revisionOfHistoryKey,
  revisionOfKeyIndexKey,
  subOfHistoryKey,
  subOfKeyIndexValue,
  type CompactionPosition,
  type CompactionTables,
  type MvccState,
} from '../../src/mvcc/index.js';
import { CompareResult, CompareTarget, type RequestOp } from '../../src/proto/index.js';
import { openStorage, readStorageGeneration, type Storage } from '../../src/storage/index.js';
import { EtcdError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/member.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';
import { buf, byBytes, eventText, kvText, Model, modelEventText, type MWrite } from '../helpers/mvcc-model.js';

const KEYS = ['\0', 'a', 'b', 'c', 'c\0', 'c/1', 'c/2', 'd', 'k\0z', '\xff'];
const OPS = Number(process.env.HISTORY_MODEL_OPS ?? 2500);

class Harness {
  storage!: Storage;
  readonly state: MvccState = { revision: 1, compactRevision: -1 };
  readonly model = new Model(KEYS);
  /** the compaction whose physical steps are under way, and the last one completed */
  compaction: { revision: number; position: CompactionPosition } | null = null;
  compactedPhysically = -1;
  checks = 0;

  constructor(
    readonly rng: Rng,
    readonly dir: string,
  ) {}

  async open(): Promise<void> {
    this.storage = await openStorage(this.dir);
  }

  tables(): CompactionTables {
    const s = this.storage;
    return { env: s.env, latest: s.latest, history: s.history, keyindex: s.keyindex, storageGeneration: () => readStorageGeneration(s.meta) };
  }

  private key(): string {
    return this.rng.pick(KEYS);
  }

  /** A key as a range end: "\0" as a range end means from the key on (null here). */
  private rangeEnd(): string | null {
    const k = this.key();
    return k === '\0' ? null : k;
  }

  private value(): string {
    return this.rng.pick(['', 'x', 'y', 'zz', 'v\0']) + String(this.rng.int(100));
  }

  /** 1-8 random write requests in one write transaction (as an apply batch), applied to both. */
  writeBatch(): number {
    const n = 1 + this.rng.int(8);
    this.storage.env.transactionSync(() => {
      for (let i = 0; i < n; i++) this.write();
    });
    return n;
  }

  /** One random write request (inside a write transaction), applied to both. */
  private write(): void {
    const r = this.rng.next();
    const s = this.storage;
    const planned: ({ put: string; value: string } | { del: string })[] = [];
    {
      const txn = new MvccTxn(s, this.state);
      if (r < 0.5) {
        const key = this.key();
        const value = this.value();
        txn.put({ key: buf(key), value: buf(value) });
        planned.push({ put: key, value });
      } else if (r < 0.7) {
        const key = this.key();
        txn.deleteRange({ key: buf(key) });
        planned.push({ del: key });
      } else if (r < 0.8) {
        // lease-less delete of a range: [a, b), or from a key on
        const start = this.key();
        const end = this.rng.chance(0.3) ? null : this.rangeEnd();
        txn.deleteRange({ key: buf(start), range_end: end === null ? Buffer.from([0]) : buf(end) });
        for (const k of this.model.keysIn(start, end)) planned.push({ del: k });
      } else {
        // a txn: if key exists then put 1-3 distinct keys (and delete another) else put one key
        const probe = this.key();
        const exists = this.model.states[this.model.revision]!.has(probe);
        const keys = [...KEYS].sort(() => this.rng.next() - 0.5).slice(0, 4);
        const puts = keys.slice(0, 1 + this.rng.int(3)).map((k) => ({ put: k, value: this.value() }));
        const dels = this.rng.chance(0.5) ? [{ del: keys[3]! }] : [];
        const success: RequestOp[] = [
          ...puts.map((p) => ({ request_put: { key: buf(p.put), value: buf(p.value) } })),
          ...dels.map((d) => ({ request_delete_range: { key: buf(d.del) } })),
        ];
        const failure: RequestOp[] = [{ request_put: { key: buf(puts[0]!.put), value: buf('f') } }];
        const res = txn.txn({ compare: [{ key: buf(probe), target: CompareTarget.VERSION, result: CompareResult.GREATER, version: 0 }], success, failure });
        assert.equal(res.succeeded, exists, `txn outcome (seed ${seed})`);
        if (exists) planned.push(...puts, ...dels);
        else planned.push({ put: puts[0]!.put, value: 'f' });
      }
      txn.end();
    }
    this.model.apply(planned);
    assert.equal(this.state.revision, this.model.revision, `revision after a write (seed ${seed})`);
  }

  startCompaction(): void {
    const lo = Math.max(this.state.compactRevision + 1, 1);
    const rev = lo + this.rng.int(this.state.revision - lo + 1);
    if (rev <= this.state.compactRevision) return;
    compactLogical(this.state, rev);
    this.compaction = { revision: rev, position: COMPACTION_BEGIN };
  }

  /** One bounded physical step; true when the compaction completed. */
  compactionStep(): boolean {
    const c = this.compaction;
    if (c === null) return false;
    const step = compactionStep(this.tables(), c.revision, c.position, 1 + this.rng.int(this.rng.chance(0.5) ? 4 : 40));
    assert.notEqual(step.stale, true, 'no snapshot install here');
    if (step.next !== null) {
      c.position = step.next;
      return false;
    }
    this.compaction = null;
    this.compactedPhysically = c.revision;
    return true;
  }

  /** A random range at a random revision (current included), checked against the model. */
  checkRange(rev = this.randomRevision()): void {
    this.checks++;
    const start = this.key();
    const kind = this.rng.int(4);
    const end = kind === 0 ? undefined : kind === 1 ? null : kind === 2 ? this.rangeEnd() : start + '\xff';
    const keysOnly = this.rng.chance(0.3);
    const countOnly = this.rng.chance(0.2);
    const limit = this.rng.chance(0.4) ? 1 + this.rng.int(4) : 0;
    const req = {
      key: buf(start),
      ...(end === undefined ? {} : { range_end: end === null ? Buffer.from([0]) : buf(end) }),
      revision: rev,
      keys_only: keysOnly,
      count_only: countOnly,
      limit,
    };
    const what = `range ${JSON.stringify({ start, end, rev, keysOnly, countOnly, limit })} (seed ${seed})`;
    if (rev !== 0 && rev < this.state.compactRevision) {
      assert.throws(() => range(this.storage, this.state, req), (err) => err instanceof EtcdError, what);
      return;
    }
    const got = range(this.storage, this.state, req);
    const state = this.model.states[rev === 0 ? this.model.revision : rev]!;
    const all = this.model.keysIn(start, end).filter((k) => state.has(k)).map((k) => state.get(k)!);
    assert.equal(got.count, all.length, `${what}: count`);
    const expected = countOnly ? [] : limit > 0 ? all.slice(0, limit) : all;
    assert.deepEqual(got.kvs.map((kv) => kvText(kv, keysOnly)), expected.map((kv) => kvText(kv, keysOnly)), `${what}: kvs`);
    assert.equal(got.more, !countOnly && limit > 0 && all.length > limit, `${what}: more`);
    assert.equal(got.revision, this.state.revision, `${what}: header revision`);
  }

  private randomRevision(): number {
    if (this.rng.chance(0.2)) return 0;
    const lo = Math.max(1, this.state.compactRevision - 2);
    return lo + this.rng.int(this.state.revision - lo + 1);
  }

  /** readEvents from a random revision at or above the compacted one to the current, with and without prev_kv. */
  checkEvents(): void {
    this.checks++;
    const lo = Math.max(1, this.state.compactRevision);
    const from = lo + this.rng.int(this.state.revision - lo + 1);
    const withPrev = this.rng.chance(0.5);
    const got = readEvents(this.storage, from, this.state.revision, Infinity, () => true, withPrev);
    const expected: string[] = [];
    const gotText = got.events.map(eventText);
    for (let rev = from; rev <= this.state.revision; rev++) {
      for (const ev of this.model.events.get(rev) ?? []) {
        let prev = withPrev ? ev.prev : undefined;
        // The version before one at the compacted revision itself is superseded and may be gone (as in etcd).
        if (prev !== undefined && rev === this.state.compactRevision && gotText[expected.length]?.endsWith(' prev -')) prev = undefined;
        expected.push(modelEventText(rev, ev, prev));
      }
    }
    assert.deepEqual(gotText, expected, `events from ${from} (prev_kv ${withPrev}, compacted ${this.state.compactRevision}) (seed ${seed})`);
    assert.equal(got.lastRevision, this.state.revision);
  }

  /**
   * After a completed compaction at C: keyindex holds exactly every version above C and per key the newest at or
   * below C unless a tombstone (etcd's rule); history holds exactly their records plus the tombstones at C itself.
   */
  checkTables(): void {
    const c = this.compactedPhysically;
    const expectedIndex: string[] = [];
    const expectedHistory: string[] = [];
    const byKey = new Map<string, MWrite[]>();
    for (const w of this.model.writes) byKey.set(w.key, [...(byKey.get(w.key) ?? []), w]);
    for (const [, writes] of byKey) {
      const newestAtOrBelow = writes.filter((w) => w.revision <= c).at(-1);
      for (const w of writes) {
        const kept = w.revision > c || (w === newestAtOrBelow && !w.tombstone);
        if (kept) expectedIndex.push(keyIndexKey(buf(w.key), w.revision).toString('hex') + ` ${w.sub}`);
        if (kept || (w.revision === c && w.tombstone)) expectedHistory.push(historyKey(w.revision, w.sub).toString('hex'));
      }
    }
    const index = [...this.storage.keyindex.getRange({})].map(({ key, value }) => `${key.toString('hex')} ${subOfKeyIndexValue(value)}`);
    const history = [...this.storage.history.getKeys({})].map((k) => Buffer.from(k).toString('hex'));
    assert.deepEqual(index, expectedIndex.sort(), `keyindex after compacting at ${c} (seed ${seed})`);
    assert.deepEqual(history, expectedHistory.sort(), `history after compacting at ${c} (seed ${seed})`);
    for (const { key } of this.storage.keyindex.getRange({})) assert.ok(revisionOfKeyIndexKey(key) >= 1);
    for (const k of this.storage.history.getKeys({})) assert.ok(revisionOfHistoryKey(k) >= 1 && subOfHistoryKey(k) < 16);
  }

  /** Every retained revision, every key range of one key and the whole space, and all events. */
  checkEverything(): void {
    for (let rev = Math.max(1, this.state.compactRevision); rev <= this.state.revision; rev++) {
      const state = this.model.states[rev]!;
      const got = range(this.storage, this.state, { key: Buffer.from([0]), range_end: Buffer.from([0]), revision: rev });
      assert.deepEqual(got.kvs.map((kv) => kvText(kv)), [...state.keys()].sort(byBytes).map((k) => kvText(state.get(k)!)), `whole key space at ${rev} (seed ${seed})`);
    }
    this.checkEvents();
  }
}

const seed = seedFromEnv();

test(`MVCC tables against a model of every revision: ranges, events, compactions, reopen (SEED=${seed})`, { timeout: 120_000 }, async (t) => {
  const root = tempDir();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const h = new Harness(new Rng(seed), path.join(root, 'data'));
  await h.open();
  try {
    let compactions = 0;
    let reopens = 0;
    for (let ops = 0, i = 0; ops < OPS; i++) {
      ops += h.writeBatch();
      if (h.compaction !== null && h.rng.chance(0.8) && h.compactionStep()) {
        compactions++;
        h.checkTables();
        h.checkEverything();
      }
      if (h.compaction === null && h.rng.chance(0.04)) h.startCompaction();
      h.checkRange();
      if (i % 4 === 0) h.checkEvents();
      if (h.rng.chance(0.01)) {
        await h.storage.close();
        await h.open();
        reopens++;
        h.checkEverything();
      }
    }
    while (h.compaction !== null) h.compactionStep();
    h.checkTables();
    // a seed whose random run compacted rarely gets its compactions here, each checked the same way
    while (compactions < 3) {
      h.writeBatch();
      if (h.compaction === null) h.startCompaction();
      while (h.compaction !== null) {
        if (!h.compactionStep()) continue;
        compactions++;
        h.checkTables();
        h.checkEverything();
      }
    }
    await h.storage.close();
    await h.open();
    h.checkEverything();
    for (let i = 0; i < 200; i++) h.checkRange();
    assert.ok(compactions >= 3, `the run compacted (${compactions} times, seed ${seed})`);
    t.diagnostic(`seed ${seed}: ${h.state.revision} revisions, ${compactions} compactions, ${reopens} reopens, ${h.checks} random checks`);
  } catch (err) {
    process.stderr.write(`history-model failed with SEED=${seed}\n`);
    throw err;
  } finally {
    await h.storage.close();
  }
});
