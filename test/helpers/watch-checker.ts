// Checks what a watcher received against the revision history of the key space.
//
// The history is read back revision by revision (a Range of the whole key space at each revision, diffed with the
// one before: keys whose mod_revision is the revision were put, keys that vanished were deleted), so it is exactly
// what the member's MVCC holds, whatever the test's writes did (txns, deletes of ranges, writes whose outcome the
// test never learnt). Tests cross-check it against their own acknowledged writes. A test whose writes are all
// single-key puts and deletes with known revisions records them instead (History.recordWrites): no read-back cost.
//
// checkWatch then verifies one watcher's responses, in the order the consumer got them:
//   ordered    revisions never go back;
//   unique     no (revision, key) twice;
//   complete   every history event matching the range and filters, from the first revision on, is delivered, with
//              no revision skipped before a later one arrives; through `through` when given, and up to the last
//              revision delivered otherwise (a cancel with compact_revision must lie past it: never a silent gap);
//   exact      every field of every event's kv equals the history's; nothing that is not in the history;
//   atomic     all events of one revision in one response (unless raw fragments were asked for and are checked);
//   prev_kv    the version before the event when asked for, absent otherwise;
//   filters    no PUT with NOPUT, no DELETE with NODELETE;
//   progress   a progress notification at revision R only once every matching event <= R was delivered.

import { isFromKeyEnd, WatchFilterType, type Bytes, type KeyValue, type WatchResponse } from '../../src/proto/index.js';
import type { Client } from '../../src/client/index.js';

export interface HistoryEvent {
  type: number;
  kv: KeyValue;
  /** the key's value before this revision (absent when it did not exist) */
  prev?: KeyValue;
}

const EVENT_PUT = 0;
const EVENT_DELETE = 1;
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const show = (b: Uint8Array): string => {
  const s = Buffer.from(b).toString('latin1');
  return s.length > 40 ? `${s.slice(0, 40)}…(${s.length})` : s;
};

/** The history of the key space, revision by revision, from a fresh store (revision 1) on. */
export class History {
  /** revision → its events, keyed by the key's hex */
  readonly revisions = new Map<number, Map<string, HistoryEvent>>();
  /** the key space at `last` */
  private state = new Map<string, KeyValue>();
  /** the last revision read */
  last = 1;

  /**
   * Reads every revision after `last` up to `to` back from the member (revisions must not be compacted yet), or from
   * anything that answers ranges as a member would (a recorded read-back).
   */
  async readTo(client: Pick<Client, 'range'>, to: number, window = 24): Promise<void> {
    while (this.last < to) {
      const revs: number[] = [];
      for (let r = this.last + 1; r <= to && revs.length < window; r++) revs.push(r);
      const ranges = await Promise.all(revs.map((revision) => client.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), revision })));
      ranges.forEach((res, i) => this.apply(revs[i]!, res.kvs));
    }
  }

  private apply(rev: number, kvs: KeyValue[]): void {
    const events = new Map<string, HistoryEvent>();
    const next = new Map<string, KeyValue>();
    for (const kv of kvs) {
      const k = hex(kv.key);
      next.set(k, kv);
      if (kv.mod_revision === rev) {
        const prev = this.state.get(k);
        events.set(k, prev === undefined ? { type: EVENT_PUT, kv } : { type: EVENT_PUT, kv, prev });
      } else if (kv.mod_revision > rev) throw new Error(`history: key ${show(kv.key)} at revision ${rev} has mod_revision ${kv.mod_revision}`);
    }
    for (const [k, prev] of this.state) {
      if (next.has(k)) continue;
      events.set(k, {
        type: EVENT_DELETE,
        kv: { key: prev.key, create_revision: 0, mod_revision: rev, version: 0, value: Buffer.alloc(0), lease: 0n },
        prev,
      });
    }
    this.state = next;
    this.revisions.set(rev, events);
    this.last = rev;
  }

  /**
   * Records the test's own writes instead of reading them back (single-key puts and deletes, each with the revision
   * its response reported). They must be every change after `last`: the revisions follow on without a hole.
   */
  recordWrites(writes: readonly { rev: number; key: Uint8Array; value?: Uint8Array; lease?: bigint; delete?: boolean }[]): void {
    for (const w of [...writes].sort((x, y) => x.rev - y.rev)) {
      if (w.rev !== this.last + 1) throw new Error(`history: write at revision ${w.rev} after ${this.last}: the writes are not every change`);
      const k = hex(w.key);
      const prev = this.state.get(k);
      const key = Buffer.from(w.key);
      let ev: HistoryEvent;
      if (w.delete) {
        if (prev === undefined) throw new Error(`history: delete of the missing key ${show(key)} at ${w.rev}`);
        ev = { type: EVENT_DELETE, kv: { key, create_revision: 0, mod_revision: w.rev, version: 0, value: Buffer.alloc(0), lease: 0n }, prev };
        this.state.delete(k);
      } else {
        const kv: KeyValue = { key, create_revision: prev?.create_revision ?? w.rev, mod_revision: w.rev, version: (prev?.version ?? 0) + 1, value: Buffer.from(w.value ?? []), lease: w.lease ?? 0n };
        ev = prev === undefined ? { type: EVENT_PUT, kv } : { type: EVENT_PUT, kv, prev };
        this.state.set(k, kv);
      }
      this.revisions.set(w.rev, new Map([[k, ev]]));
      this.last = w.rev;
    }
  }

  /** revisions that changed something, ascending; and per key (hex) the revisions that changed it */
  private readonly changed: number[] = [];
  private readonly byKey = new Map<string, number[]>();
  private indexed = 0;

  /** The revisions from `from` on whose events may match `spec` (those of its key only, for a single key). */
  revisionsFor(spec: Pick<WatchSpec, 'key' | 'range_end'>, from: number): number[] {
    for (; this.indexed < this.last; this.indexed++) {
      const r = this.indexed + 1;
      const evs = this.revisions.get(r);
      if (evs === undefined || evs.size === 0) continue;
      this.changed.push(r);
      for (const k of evs.keys()) {
        const list = this.byKey.get(k);
        if (list === undefined) this.byKey.set(k, [r]);
        else list.push(r);
      }
    }
    const list = spec.range_end === undefined || spec.range_end.length === 0 ? (this.byKey.get(hex(spec.key)) ?? []) : this.changed;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    return list.slice(lo);
  }

  /** The events of one revision (empty when it changed nothing, e.g. a lease grant's revision does not exist). */
  at(rev: number): Map<string, HistoryEvent> {
    return this.revisions.get(rev) ?? new Map();
  }

  /** All events in revision order (by key within a revision). */
  *all(from = 2): Iterable<HistoryEvent> {
    for (let r = from; r <= this.last; r++) {
      const evs = [...this.at(r).values()].sort((a, b) => Buffer.compare(a.kv.key, b.kv.key));
      yield* evs;
    }
  }
}

export interface WatchSpec {
  key: Bytes;
  /** absent: the single key; [0]: every key from `key`; else exclusive end */
  range_end?: Bytes;
  /** the first revision the watcher must see: its start_revision, or the created revision + 1 */
  from: number;
  prev_kv?: boolean;
  filters?: number[];
  /** the responses are raw fragments (fragment was asked for and nothing reassembled them) */
  rawFragments?: boolean;
}

export function matches(spec: Pick<WatchSpec, 'key' | 'range_end' | 'filters'>, ev: { type: number; kv: { key: Uint8Array } }): boolean {
  const k = ev.kv.key;
  const end = spec.range_end;
  const inRange =
    end === undefined || end.length === 0
      ? Buffer.compare(k, spec.key) === 0
      : Buffer.compare(k, spec.key) >= 0 && (isFromKeyEnd(end) || Buffer.compare(k, end) < 0);
  if (!inRange) return false;
  const filters = spec.filters ?? [];
  if (ev.type === EVENT_PUT && filters.includes(WatchFilterType.NOPUT)) return false;
  if (ev.type === EVENT_DELETE && filters.includes(WatchFilterType.NODELETE)) return false;
  return true;
}

function kvDiff(what: string, got: KeyValue | undefined, want: KeyValue | undefined): string | null {
  if (got === undefined && want === undefined) return null;
  if (got === undefined || want === undefined) return `${what}: got ${got === undefined ? 'none' : 'one'}, want ${want === undefined ? 'none' : 'one'}`;
  if (Buffer.compare(got.key, want.key) !== 0) return `${what}.key ${show(got.key)} != ${show(want.key)}`;
  if (Buffer.compare(got.value, want.value) !== 0) return `${what}.value ${show(got.value)} != ${show(want.value)}`;
  for (const f of ['create_revision', 'mod_revision', 'version'] as const) {
    if (got[f] !== want[f]) return `${what}.${f} ${got[f]} != ${want[f]}`;
  }
  if (BigInt(got.lease ?? 0) !== BigInt(want.lease ?? 0)) return `${what}.lease ${got.lease} != ${want.lease}`;
  return null;
}

export interface CheckOptions {
  /** every matching event up to this revision must have been delivered (unless the watch was cancelled) */
  through?: number;
  /** events at this (compacted) revision may lack prev_kv: the version before was compacted away */
  prevKvCompactedAt?: number;
}

export interface CheckResult {
  problems: string[];
  /** events delivered */
  events: number;
  /** the last revision delivered in full (events or progress) */
  lastRevision: number;
  canceled?: WatchResponse;
}

/** Checks one watcher's responses (in the order delivered) against the history. */
export function checkWatch(history: History, spec: WatchSpec, responses: readonly WatchResponse[], opts: CheckOptions = {}): CheckResult {
  const problems: string[] = [];
  const problem = (s: string): void => {
    if (problems.length < 20) problems.push(s);
  };
  // expected revisions with matching events, in order
  const expected: { rev: number; events: Map<string, HistoryEvent> }[] = [];
  for (const r of history.revisionsFor(spec, Math.max(spec.from, 2))) {
    const evs = new Map<string, HistoryEvent>();
    for (const [k, ev] of history.at(r)) if (matches(spec, ev)) evs.set(k, ev);
    if (evs.size > 0) expected.push({ rev: r, events: evs });
  }
  let gi = 0; // next expected group
  let cur: { rev: number; got: Set<string>; resp: number } | null = null;
  let delivered = 0;
  let lastRevision = spec.from - 1;
  let canceled: WatchResponse | undefined;

  const closeGroup = (): void => {
    if (cur === null) return;
    const want = expected[gi]!;
    for (const k of want.events.keys()) if (!cur.got.has(k)) problem(`revision ${cur.rev}: missing event for key ${show(want.events.get(k)!.kv.key)}`);
    gi++;
    lastRevision = Math.max(lastRevision, cur.rev);
    cur = null;
  };

  responses.forEach((resp, ri) => {
    if (canceled !== undefined) return problem(`response #${ri} after the cancel`);
    if (resp.canceled) {
      canceled = resp;
      return;
    }
    if (resp.created) return;
    if (resp.events.length === 0) {
      // progress notification: everything up to its revision is delivered
      const R = resp.header.revision;
      if (cur !== null && cur.rev <= R) closeGroup();
      if (gi < expected.length && expected[gi]!.rev <= R) problem(`progress at ${R} (response #${ri}) before the event(s) of revision ${expected[gi]!.rev}`);
      lastRevision = Math.max(lastRevision, R);
      return;
    }
    for (const ev of resp.events) {
      const rev = ev.kv.mod_revision;
      const k = hex(ev.kv.key);
      if (cur !== null && rev < cur.rev) {
        problem(`revision ${rev} (key ${show(ev.kv.key)}) after revision ${cur.rev}: out of order`);
        continue;
      }
      if (cur !== null && rev === cur.rev) {
        if (cur.resp !== ri && !spec.rawFragments) problem(`revision ${rev} split over responses #${cur.resp} and #${ri}`);
        if (spec.rawFragments && cur.resp !== ri && !responses[ri - 1]?.fragment) problem(`revision ${rev} continues in response #${ri} after a response without fragment`);
        cur.resp = ri;
      } else {
        closeGroup();
        if (rev <= lastRevision) {
          problem(`revision ${rev} (key ${show(ev.kv.key)}) delivered again after ${lastRevision}`);
          continue;
        }
        while (gi < expected.length && expected[gi]!.rev < rev) {
          problem(`revision ${expected[gi]!.rev} skipped (${expected[gi]!.events.size} event(s)) before revision ${rev}`);
          gi++;
        }
        if (gi >= expected.length || expected[gi]!.rev !== rev) {
          problem(`unexpected event at revision ${rev} key ${show(ev.kv.key)} (history ${history.at(rev).has(k) ? 'has it, but it does not match the watch' : 'has no such event'})`);
          continue;
        }
        cur = { rev, got: new Set(), resp: ri };
      }
      if (cur.got.has(k)) {
        problem(`revision ${rev} key ${show(ev.kv.key)} delivered twice`);
        continue;
      }
      cur.got.add(k);
      delivered++;
      const want = expected[gi]!.events.get(k);
      if (want === undefined) {
        problem(`revision ${rev}: unexpected event for key ${show(ev.kv.key)}`);
        continue;
      }
      if (ev.type !== want.type) problem(`revision ${rev} key ${show(ev.kv.key)}: type ${ev.type} != ${want.type}`);
      const d = kvDiff(`revision ${rev} key ${show(ev.kv.key)} kv`, ev.kv, want.kv);
      if (d !== null) problem(d);
      if (spec.prev_kv && !(ev.prev_kv === undefined && rev === opts.prevKvCompactedAt)) {
        const p = kvDiff(`revision ${rev} key ${show(ev.kv.key)} prev_kv`, ev.prev_kv, want.prev);
        if (p !== null) problem(p);
      } else if (ev.prev_kv !== undefined) problem(`revision ${rev} key ${show(ev.kv.key)}: prev_kv without prev_kv asked`);
    }
  });
  if (spec.rawFragments && responses.length > 0 && responses[responses.length - 1]!.fragment) problem('the last response is a fragment');
  closeGroup();
  if (canceled !== undefined) {
    const c = canceled.compact_revision ?? 0;
    if (c <= 0) problem(`cancelled without compact_revision: ${canceled.cancel_reason ?? ''}`);
    else if (c <= lastRevision) problem(`cancelled with compact_revision ${c} although revisions up to ${lastRevision} were delivered`);
  } else if (opts.through !== undefined) {
    while (gi < expected.length && expected[gi]!.rev <= opts.through) {
      problem(`revision ${expected[gi]!.rev} never delivered (${expected[gi]!.events.size} event(s); watched through ${opts.through})`);
      gi++;
    }
  }
  return { problems, events: delivered, lastRevision, canceled };
}

/** Throws with the problems found (and `context`, e.g. the seed) unless there are none. */
export function assertWatch(history: History, spec: WatchSpec, responses: readonly WatchResponse[], opts: CheckOptions & { context?: string } = {}): CheckResult {
  const r = checkWatch(history, spec, responses, opts);
  if (r.problems.length > 0) {
    throw new Error(`watch ${show(spec.key)}${spec.range_end ? `..${show(spec.range_end)}` : ''} from ${spec.from}${opts.context ? ` (${opts.context})` : ''}:\n  ${r.problems.join('\n  ')}`);
  }
  return r;
}

/** Matching events of the history from `from` through `through` (how many a complete watcher receives). */
export function expectedCount(history: History, spec: Pick<WatchSpec, 'key' | 'range_end' | 'filters' | 'from'>, through = history.last): number {
  let n = 0;
  for (const r of history.revisionsFor(spec, Math.max(2, spec.from))) {
    if (r > through) break;
    for (const ev of history.at(r).values()) if (matches(spec, ev)) n++;
  }
  return n;
}

// ---- collecting responses -------------------------------------------------------------------------------------

/** Polls `pred` until it holds; fails with `what()` after `timeoutMs`. */
export async function waitFor(pred: () => boolean, timeoutMs: number, what: () => string, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Handlers for client.watch() that keep every delivered response (progress included) and the cancel. */
export class Recorder {
  readonly responses: WatchResponse[] = [];
  canceled: WatchResponse | null = null;
  error: Error | null = null;
  events = 0;
  /** the highest revision a progress notification reported */
  progressRevision = 0;
  /** arrival time of each event revision (first arrival) */
  readonly arrivals = new Map<number, number>();
  readonly handlers = {
    onEvents: (resp: WatchResponse): void => {
      this.responses.push(resp);
      this.events += resp.events.length;
      if (resp.events.length === 0) this.progressRevision = Math.max(this.progressRevision, resp.header.revision);
      else {
        const now = Date.now();
        for (const ev of resp.events) if (!this.arrivals.has(ev.kv.mod_revision)) this.arrivals.set(ev.kv.mod_revision, now);
      }
    },
    onCanceled: (resp: WatchResponse): void => {
      this.canceled = resp;
      this.responses.push(resp);
    },
    onError: (err: Error): void => {
      this.error = err;
    },
  };
}

/**
 * Waits until the watcher has reported progress at `revision` or later (asking for it with progress requests), i.e.
 * until everything up to `revision` was delivered, if the member keeps its promise (checkWatch verifies it did).
 */
export async function syncWatcher(w: { requestProgress(): boolean }, rec: Recorder, revision: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let asked = 0;
  while (rec.progressRevision < revision && rec.canceled === null && rec.error === null) {
    if (Date.now() > deadline) throw new Error(`watcher not synced to ${revision} within ${timeoutMs} ms (progress ${rec.progressRevision}, ${rec.events} events)`);
    if (Date.now() - asked > 500 && w.requestProgress()) asked = Date.now();
    await new Promise((r) => setTimeout(r, 10));
  }
}
