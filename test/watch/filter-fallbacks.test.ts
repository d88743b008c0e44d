// The hub's fallbacks around its watch filter, with a stand-in filter in place of the worker pool: a filter that
// refuses batches (a full request ring), one that never answers (the hub matches each batch itself once
// WATCH_FILTER_RESULT_WAIT_MS passed), one whose answers come after the hub matched the batch itself (they must be
// ignored), and one holding more than WATCH_FILTER_BATCHES_PENDING_MAX batches (the oldest are matched here at once).
// In each case every watcher gets every event of its range once, in apply order. The stand-in matches with the
// worker's own FilterView and reply encoding, so its answers are what the real worker would send. The cases that wait
// for WATCH_FILTER_RESULT_WAIT_MS run the hub on a ManualClock and advance it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WATCH_FILTER_BATCHES_PENDING_MAX } from '../../src/config/limits.js';
import type { EventsRead } from '../../src/mvcc/index.js';
import type { Event, ResponseHeader, WatchCreateRequest, WatchResponse } from '../../src/proto/index.js';
import { WatchHub, type WatchFilter, type WatchFilterClient, type WatchSource } from '../../src/watch/index.js';
import { addItem, batchItem, decodeReply, encodeReply, FilterView, type FilterWatcher } from '../../src/watch/filter-protocol.js';
import { waitFor } from '../helpers/watch-checker.js';
import { advanceUntilHolds } from '../helpers/manual-time.js';
import { ManualClock, type Clock } from '../../src/clock/index.js';

const b = (s: string): Buffer => Buffer.from(s);

/** The member's side over an in-memory event list: one revision per event. */
class MemorySource implements WatchSource {
  readonly events: Event[] = [];
  private rev = 1;

  revision(): number {
    return this.rev;
  }
  compactRevision(): number {
    return 0;
  }
  header(revision: number): ResponseHeader {
    return { cluster_id: 1n, member_id: 1n, revision, raft_term: 1 };
  }
  readEvents(from: number, to: number, _max: number, keep: (key: Buffer) => boolean): EventsRead {
    const events = this.events.filter((ev) => ev.kv.mod_revision >= from && ev.kv.mod_revision <= to && keep(Buffer.from(ev.kv.key)));
    return { events, lastRevision: to };
  }

  /** Applies one batch (puts and deletes of `keys`; a key starting with '-' is a delete) and hands it to the hub. */
  apply(hub: WatchHub, keys: string[]): void {
    const batch = keys.map((k): Event => {
      const del = k.startsWith('-');
      const rev = ++this.rev;
      return { type: del ? 1 : 0, kv: { key: b(del ? k.slice(1) : k), value: b(del ? '' : `v${rev}`), create_revision: rev, mod_revision: rev, version: 1, lease: 0n } };
    });
    this.events.push(...batch);
    hub.onApplied(batch);
  }
}

type Mode = 'answer' | 'refuse' | 'hold';

/** A WatchFilter that answers, refuses, or holds batches as the test says; held batches are answered on demand. */
class StandInFilter implements WatchFilter {
  mode: Mode = 'answer';
  private client: WatchFilterClient | null = null;
  private readonly view = new FilterView();
  /** answers computed at submit (against the view as it was then, as the worker does), not yet handed back */
  readonly held = new Map<number, Int32Array>();
  readonly forgotten = new Set<number>();
  readonly stats = { submits: 0, refused: 0 };

  attach(client: WatchFilterClient): void {
    this.client = client;
  }
  detach(): void {
    this.client = null;
  }
  added(w: FilterWatcher): void {
    this.view.add(addItem(w));
  }
  removed(serial: number): void {
    this.view.remove(serial);
  }
  submit(seq: number, events: readonly Event[]): boolean {
    this.stats.submits++;
    if (this.mode === 'refuse') {
      this.stats.refused++;
      return false;
    }
    const [, , keys, types, revisions] = batchItem(seq, events);
    const reply = decodeReply(encodeReply(seq, events.length, this.view.match({ keys, types, revisions }), Infinity));
    this.held.set(seq, reply.words);
    if (this.mode === 'answer') setImmediate(() => this.answer(seq));
    return true;
  }
  forget(seq: number): void {
    this.forgotten.add(seq);
  }
  /** Hands back the answer for `seq` (whether or not the hub still waits for it). */
  answer(seq: number): void {
    const words = this.held.get(seq);
    assert.ok(words !== undefined, `batch ${seq} was submitted`);
    this.held.delete(seq);
    this.client?.filtered(seq, words);
  }
}

interface Spec {
  name: string;
  create: WatchCreateRequest;
  wants(ev: Event): boolean;
}

const SPECS: Spec[] = [
  { name: 'prefix a/', create: { key: b('a/'), range_end: b('a0') }, wants: (ev) => Buffer.from(ev.kv.key).toString().startsWith('a/') },
  { name: 'key a/1', create: { key: b('a/1') }, wants: (ev) => Buffer.from(ev.kv.key).toString() === 'a/1' },
  { name: 'from-key b', create: { key: b('b'), range_end: Buffer.from([0]) }, wants: (ev) => Buffer.from(ev.kv.key).toString() >= 'b' },
  { name: 'range a/2..c', create: { key: b('a/2'), range_end: b('c') }, wants: (ev) => { const k = Buffer.from(ev.kv.key).toString(); return k >= 'a/2' && k < 'c'; } },
  { name: 'prefix a/ no deletes', create: { key: b('a/'), range_end: b('a0'), filters: [1] }, wants: (ev) => ev.type === 0 && Buffer.from(ev.kv.key).toString().startsWith('a/') },
  { name: 'key z (nothing)', create: { key: b('z') }, wants: () => false },
];

interface Setup {
  source: MemorySource;
  filter: StandInFilter;
  hub: WatchHub;
  /** per spec: the responses of its stream */
  received: WatchResponse[][];
}

function setup(t: { after(fn: () => unknown): void }, clock?: Clock): Setup {
  const source = new MemorySource();
  const filter = new StandInFilter();
  // thresholds of 1: every batch goes to the filter first
  const hub = new WatchHub(source, { fragmentBytes: 1 << 20, progressNotifyIntervalMs: 600_000, filter, filterMinWatchers: 1, filterMinRanges: 1, ...(clock ? { clock } : {}) });
  t.after(() => hub.close());
  const received = SPECS.map((spec) => {
    const responses: WatchResponse[] = [];
    hub.openStream({ send: (r) => responses.push(r), pendingBytes: () => 0 }).handle({ create_request: spec.create });
    assert.equal(responses[0]?.created, true, `${spec.name} created`);
    return responses;
  });
  return { source, filter, hub, received };
}

const KEYS = ['a/1', 'a/2', 'a/3', 'b', 'b/x', 'c', 'z0', '-a/1', '-a/3', '-b'];

/** Batch i of a run: one to three events, deterministic. */
function batchKeys(i: number): string[] {
  return Array.from({ length: 1 + (i % 3) }, (_, j) => KEYS[(i * 7 + j * 3) % KEYS.length]!);
}

const delivered = (s: Setup, i: number): string[] =>
  s.received[i]!.flatMap((r) => r.events.map((ev) => `${ev.kv.mod_revision}:${ev.type}:${Buffer.from(ev.kv.key).toString()}`));
const expected = (s: Setup, i: number): string[] =>
  s.source.events.filter((ev) => SPECS[i]!.wants(ev)).map((ev) => `${ev.kv.mod_revision}:${ev.type}:${Buffer.from(ev.kv.key).toString()}`);
const complete = (s: Setup): boolean => SPECS.every((_, i) => delivered(s, i).length >= expected(s, i).length);

/** Every watcher got exactly the events of its range, once each, in revision order. */
function assertExact(s: Setup, context: string): void {
  let total = 0;
  SPECS.forEach((spec, i) => {
    assert.deepEqual(delivered(s, i), expected(s, i), `${context}: ${spec.name}`);
    total += expected(s, i).length;
  });
  assert.ok(total > 20, `${context}: the watchers had events to get (${total})`);
  assert.equal(s.hub.pendingBatches, 0, `${context}: nothing left pending`);
}

test('a filter that refuses every batch (a full ring): the hub matches each itself, at once, in order', async (t) => {
  const s = setup(t);
  s.filter.mode = 'refuse';
  for (let i = 0; i < 30; i++) s.source.apply(s.hub, batchKeys(i));
  // nothing waits for a refused batch: all of it is out before this turn ends
  assert.equal(s.filter.stats.refused, 30);
  assert.equal(s.hub.stats.batchesFilteredHere, 30);
  assert.equal(s.hub.stats.batchesFilteredByWorker, 0);
  assertExact(s, 'refused');

  // refusals mixed with answers: a refused batch behind an unanswered one waits for it (apply order)
  for (let i = 30; i < 60; i++) {
    s.filter.mode = i % 2 === 0 ? 'refuse' : 'answer';
    s.source.apply(s.hub, batchKeys(i));
  }
  await waitFor(() => s.hub.pendingBatches === 0, 10_000, () => `${s.hub.pendingBatches} batches pending`);
  assert.equal(s.hub.stats.batchesFilteredByWorker, 15);
  assertExact(s, 'refused and answered, alternating');
});

test('a filter that never answers: each batch is matched here at its turn, and later answered batches wait behind it', { timeout: 60_000 }, async (t) => {
  const clock = new ManualClock();
  const s = setup(t, clock);
  s.filter.mode = 'hold';
  for (let i = 0; i < 10; i++) s.source.apply(s.hub, batchKeys(i));
  // delivery waits for the answers: nothing has gone out yet
  assert.equal(s.hub.pendingBatches, 10);
  SPECS.forEach((_, i) => assert.deepEqual(delivered(s, i), [], 'no event before the batch is answered or given up on'));
  // batches the filter does answer, applied after the silent ones: delivered only after them
  s.filter.mode = 'answer';
  for (let i = 10; i < 20; i++) s.source.apply(s.hub, batchKeys(i));
  await advanceUntilHolds(clock, () => complete(s), 30_000, () => `every watcher's events (${s.hub.pendingBatches} batches pending)`);
  assertExact(s, 'silent filter');
  assert.deepEqual([...s.filter.forgotten].sort((x, y) => x - y), Array.from({ length: 10 }, (_, i) => i + 1), 'the silent batches were given up on');
  assert.equal(s.hub.stats.batchesFilteredHere, 10);
  assert.equal(s.hub.stats.batchesFilteredByWorker, 10);
});

test('answers that come after the hub matched the batch itself are ignored: no event twice', { timeout: 60_000 }, async (t) => {
  const clock = new ManualClock();
  const s = setup(t, clock);
  s.filter.mode = 'hold';
  for (let i = 0; i < 8; i++) s.source.apply(s.hub, batchKeys(i));
  await advanceUntilHolds(clock, () => s.filter.forgotten.size === 8 && s.hub.pendingBatches === 0, 30_000, () => `the hub gives up on the silent batches (${s.filter.forgotten.size})`);
  assertExact(s, 'matched here');
  // newer batches wait in the filter while the stale answers arrive: a stale answer must not be taken for theirs
  for (let i = 8; i < 16; i++) s.source.apply(s.hub, batchKeys(i));
  assert.equal(s.hub.pendingBatches, 8);
  for (let seq = 1; seq <= 8; seq++) s.filter.answer(seq);
  assert.equal(s.hub.pendingBatches, 8, 'stale answers deliver nothing');
  for (let seq = 9; seq <= 16; seq++) s.filter.answer(seq);
  assert.equal(s.hub.pendingBatches, 0);
  assertExact(s, 'late answers');
  assert.equal(s.hub.stats.batchesFilteredByWorker, 8);
});

test(`more than ${WATCH_FILTER_BATCHES_PENDING_MAX} unanswered batches: the oldest are matched here; answers in reverse still deliver in order`, { timeout: 60_000 }, async (t) => {
  const s = setup(t);
  s.filter.mode = 'hold';
  const over = 20;
  const n = WATCH_FILTER_BATCHES_PENDING_MAX + over;
  for (let i = 0; i < n; i++) {
    s.source.apply(s.hub, batchKeys(i));
    assert.ok(s.hub.pendingBatches <= WATCH_FILTER_BATCHES_PENDING_MAX, `at most ${WATCH_FILTER_BATCHES_PENDING_MAX} batches wait (after ${i + 1})`);
  }
  for (let seq = 1; seq <= over; seq++) assert.ok(s.filter.forgotten.has(seq), `batch ${seq}, among the oldest, was matched here`);
  // what went out so far is a prefix of each watcher's events, in order
  SPECS.forEach((spec, i) => {
    const got = delivered(s, i);
    assert.deepEqual(got, expected(s, i).slice(0, got.length), `${spec.name}: a prefix, in order`);
  });
  // the rest answered newest first (those the hub gave up on meanwhile are stale and ignored)
  for (const seq of [...s.filter.held.keys()].sort((x, y) => y - x)) s.filter.answer(seq);
  await waitFor(() => s.hub.pendingBatches === 0, 30_000, () => `${s.hub.pendingBatches} batches pending`);
  assertExact(s, 'over the pending bound');
  assert.equal(s.hub.stats.batchesFilteredHere + s.hub.stats.batchesFilteredByWorker, n);
  assert.ok(s.hub.stats.batchesFilteredHere >= over);
});
