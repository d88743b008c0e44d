// Crash tests of the write path: a concurrent write load whose every request is recorded (with its answer when one
// came back), and the check of what a member recovered after a kill -9 against that record.
//
// Every put carries its request's id as its value ("#<id>"), so each revision of the recovered history can be traced
// to exactly one request: a revision with a PUT event names it; a revision with DELETE events only is an acknowledged
// delete that claimed that revision, or else an unacknowledged delete whose effect on the model it matches. Txns put
// in both branches, so a txn always makes a revision with a PUT. The history is replayed on a model (kv-model.ts), and
// each revision's events must be exactly what the request does to the model at that point.

import { Client, prefixRangeEnd, type Event, type KeyValue } from '../../src/client/index.js';
import { KvModel, type ModelCompare, type ModelKv, type ModelOp, type ModelOutcome, type ModelWrite } from './kv-model.js';
import { Rng } from './rng.js';

/** Every key the load writes starts with this. */
export const PREFIX = 'w/';
/** Keys shared by all clients: overwritten, deleted and compared by txns. */
const SHARED_KEYS = 16;
/** The load's clients by default, and the requests each keeps in flight. */
export const LOAD_CLIENTS = 4;
export const LOAD_WINDOW = 16;

const b = (s: string): Buffer => Buffer.from(s);
const str = (v: Uint8Array): string => Buffer.from(v).toString();
const shared = (k: number): string => `${PREFIX}o/${String(k).padStart(2, '0')}`;

export interface WriteRequest {
  id: number;
  op: ModelOp;
  /** the member's answer, when one arrived (otherwise the request may or may not have been applied) */
  ack?: ModelOutcome;
}

/** One request of client `client`'s `n`-th: distinct-key puts, shared-key puts, deletes (key and range), txns. */
function nextOp(rng: Rng, id: number, client: number, n: number): ModelOp {
  const value = `#${id}`;
  const r = rng.int(100);
  if (r < 35) return { op: 'put', key: `${PREFIX}d/${client}/${String(n).padStart(6, '0')}`, value };
  if (r < 62) return { op: 'put', key: shared(rng.int(SHARED_KEYS)), value };
  if (r < 72) return { op: 'delete', key: shared(rng.int(SHARED_KEYS)) };
  if (r < 77) {
    const a = rng.int(SHARED_KEYS);
    return { op: 'delete', key: shared(a), rangeEnd: shared(a + 1 + rng.int(3)) };
  }
  const k = shared(rng.int(SHARED_KEYS));
  const compare: ModelCompare[] = [
    rng.pick([
      { key: k, target: 'VERSION', result: 'GREATER', version: 0 },
      { key: k, target: 'VERSION', result: 'EQUAL', version: 0 },
      { key: k, target: 'MOD', result: 'LESS', mod_revision: rng.int(4000) },
      { key: k, target: 'VALUE', result: 'NOT_EQUAL', value: `#${rng.int(id + 1)}` },
    ] as const),
  ];
  const branch = (putKey: string): ModelWrite[] => {
    const out: ModelWrite[] = [{ op: 'put', key: putKey, value }];
    const other = shared(rng.int(SHARED_KEYS));
    if (rng.chance(0.4) && other !== putKey) out.push({ op: 'delete', key: other });
    return out;
  };
  return { op: 'txn', compare, success: branch(shared(rng.int(SHARED_KEYS))), failure: branch(`${PREFIX}t/${client}`) };
}

function toRequestOp(w: ModelWrite): Record<string, unknown> {
  return w.op === 'put'
    ? { request_put: { key: b(w.key), value: b(w.value) } }
    : { request_delete_range: { key: b(w.key), ...(w.rangeEnd !== undefined ? { range_end: b(w.rangeEnd) } : {}) } };
}

/** Sends one op; resolves with the answer in model terms. */
export async function sendOp(c: Client, op: ModelOp): Promise<ModelOutcome> {
  if (op.op === 'put') return { revision: (await c.put({ key: b(op.key), value: b(op.value) })).header.revision };
  if (op.op === 'delete') {
    const r = await c.deleteRange({ key: b(op.key), ...(op.rangeEnd !== undefined ? { range_end: b(op.rangeEnd) } : {}) });
    return { revision: r.header.revision, deleted: r.deleted };
  }
  const r = await c.call('Txn', {
    compare: op.compare.map((cmp) => ({
      key: b(cmp.key),
      target: cmp.target,
      result: cmp.result,
      ...(cmp.version !== undefined ? { version: cmp.version } : {}),
      ...(cmp.mod_revision !== undefined ? { mod_revision: cmp.mod_revision } : {}),
      ...(cmp.value !== undefined ? { value: b(cmp.value) } : {}),
    })) as never,
    success: op.success.map(toRequestOp) as never,
    failure: op.failure.map(toRequestOp) as never,
  });
  return { revision: r.header.revision, succeeded: r.succeeded };
}

export interface LoadOptions {
  endpoint: string;
  seed: number;
  clients?: number;
  /** requests in flight per client */
  window?: number;
  /** resolves when the member is gone: no new request is sent after it */
  died: Promise<unknown>;
  /**
   * the load gives up once no write has been acknowledged for this long with the member still alive: it stopped
   * answering (a guard on progress, not on how long the load takes: a loaded machine is slow, not stalled)
   */
  stallMs: number;
  /** and, if given, after this long in all (for what the load's progress does not pace, e.g. a compaction's steps) */
  maxMs?: number;
  /**
   * the load also gives up once this many writes are acknowledged with the member still alive: a bound in progress,
   * not in time, for what must have happened by then (e.g. a failpoint's Nth pass), however slow the machine is
   */
  maxAcks?: number;
  /** after each answer, with the number answered so far (e.g. to kill the member at a chosen moment) */
  onAck?(acked: number): void;
}

export interface LoadResult {
  requests: WriteRequest[];
  acked: number;
  /** the member died during the load (false: it stalled, maxMs passed or maxAcks were acknowledged first) */
  died: boolean;
}

/** Runs the load until the member dies (or stalls, or maxMs, or maxAcks); every request sent is in the result, answered or not. */
export async function runWriteLoad(opts: LoadOptions): Promise<LoadResult> {
  const rng = new Rng(opts.seed);
  const requests: WriteRequest[] = [];
  let acked = 0;
  let died = false;
  let stop = false;
  void opts.died.then(() => {
    died = true;
    stop = true;
  });
  const clients = Array.from({ length: opts.clients ?? LOAD_CLIENTS }, () => new Client({ endpoints: [opts.endpoint] }));
  // giving up on a member that is alive: the requests in flight may never be answered, their outcome stays unknown
  const giveUp = (): void => {
    stop = true;
    for (const c of clients) c.destroy();
  };
  const stalled = setTimeout(giveUp, opts.stallMs);
  const timer = opts.maxMs === undefined ? null : setTimeout(giveUp, opts.maxMs);
  try {
    await Promise.all(clients.map((c) => c.connect()));
    await Promise.all(
      clients.map(async (c, client) => {
        const inflight = new Set<Promise<void>>();
        for (let n = 0; !stop; ) {
          while (inflight.size < (opts.window ?? LOAD_WINDOW) && !stop) {
            const req: WriteRequest = { id: requests.length + 1, op: nextOp(rng, requests.length + 1, client, n++) };
            requests.push(req);
            const p: Promise<void> = sendOp(c, req.op)
              .then(
                (answer) => {
                  req.ack = answer;
                  stalled.refresh();
                  if (++acked >= (opts.maxAcks ?? Infinity)) stop = true;
                  opts.onAck?.(acked);
                },
                () => {}, // the member died with it in flight (or refused it): its outcome is unknown
              )
              .finally(() => inflight.delete(p));
            inflight.add(p);
          }
          await Promise.race(inflight);
        }
        await Promise.allSettled(inflight);
      }),
    );
  } finally {
    clearTimeout(stalled);
    if (timer !== null) clearTimeout(timer);
    for (const c of clients) c.destroy();
  }
  // the exit may be reported a moment after the connections broke
  if (!died) await Promise.race([opts.died, new Promise((r) => setTimeout(r, 200))]);
  return { requests, acked, died };
}

// ---- the check --------------------------------------------------------------------------------------------------

/** What a restarted member shows. */
export interface Recovered {
  /** its store revision */
  revision: number;
  /** a watch's events from the base revision + 1 to `revision`, in delivery order */
  events: Event[];
  /** every key under PREFIX at `revision` */
  kvs: KeyValue[];
}

export interface HistoryCheck {
  /** every violation found (empty: the history is right) */
  errors: string[];
  /** the model after the whole history */
  model: KvModel;
  /** request id -> the revision it was applied at */
  applied: Map<number, number>;
  /** the value of `key` after `revision` (undefined: absent), for revisions from the base's on */
  kvAt(key: string, revision: number): ModelKv | undefined;
  /** every key that ever existed in the history (base included) */
  keys(): string[];
}

const inRange = (key: string, start: string, end: string | undefined): boolean =>
  end === undefined ? key === start : Buffer.compare(b(key), b(start)) >= 0 && Buffer.compare(b(key), b(end)) < 0;

/** The keys `op` may change on `model` (a superset: both branches of a txn). */
function touched(model: KvModel, op: ModelOp): Set<string> {
  const writes = op.op === 'txn' ? [...op.success, ...op.failure] : [op];
  const out = new Set<string>();
  for (const w of writes) {
    if (w.op === 'put') out.add(w.key);
    else for (const k of model.keys.keys()) if (inRange(k, w.key, w.rangeEnd)) out.add(k);
  }
  return out;
}

const describeEvent = (e: Event): string =>
  e.type === 0 ? `PUT ${str(e.kv.key)}=${str(e.kv.value)} c${e.kv.create_revision} m${e.kv.mod_revision} v${e.kv.version}` : `DELETE ${str(e.kv.key)} m${e.kv.mod_revision}`;
const describeKv = (key: string, kv: ModelKv | undefined, rev: number): string =>
  kv === undefined ? `DELETE ${key} m${rev}` : `PUT ${key}=${kv.value} c${kv.create_revision} m${kv.mod_revision} v${kv.version}`;

/** A model holding `kvs` at `revision` (the base of a history that starts after a compaction). */
export function modelOf(kvs: readonly KeyValue[], revision: number): KvModel {
  const m = new KvModel();
  m.revision = revision;
  for (const kv of kvs) m.keys.set(str(kv.key), { value: str(kv.value), create_revision: kv.create_revision, mod_revision: kv.mod_revision, version: kv.version });
  return m;
}

/**
 * Checks a recovered history against the requests sent: the revisions follow the base's without gap or repeat, each
 * revision is exactly one request's effect on the model (no request twice), every acknowledged request is there at
 * the revision it was acknowledged with and answered what the model says, and the recovered key space and revision
 * are the model's after the whole history.
 */
export function checkWriteHistory(requests: readonly WriteRequest[], base: KvModel, recovered: Recovered): HistoryCheck {
  const errors: string[] = [];
  const model = base.clone();
  const byId = new Map(requests.map((r) => [r.id, r]));
  const applied = new Map<number, number>();
  const timeline = new Map<string, { revision: number; kv: ModelKv | undefined }[]>();
  for (const [key, kv] of model.keys) timeline.set(key, [{ revision: base.revision, kv: { ...kv } }]);

  // the revision each acknowledged request that changed something claims
  const claimed = new Map<number, WriteRequest>();
  for (const r of requests) {
    if (r.ack === undefined || (r.op.op === 'delete' && r.ack.deleted === 0)) continue;
    const other = claimed.get(r.ack.revision);
    if (other !== undefined) errors.push(`requests #${other.id} and #${r.id} were both acknowledged with revision ${r.ack.revision}`);
    claimed.set(r.ack.revision, r);
  }

  // group the events by revision, in delivery order
  const groups: { revision: number; events: Event[] }[] = [];
  for (const e of recovered.events) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last.revision === e.kv.mod_revision) last.events.push(e);
    else groups.push({ revision: e.kv.mod_revision, events: [e] });
  }

  // revisions made by an unacknowledged delete: which one is decided at the end, by a matching (see matchDeletes)
  const unclaimedDeletes: { revision: number; events: Event[]; candidates: number[] }[] = [];
  for (const { revision, events } of groups) {
    if (revision !== model.revision + 1) {
      errors.push(`history: revision ${revision} follows ${model.revision} (${revision <= model.revision ? 'repeated or out of order' : 'gap'})`);
      break; // the model no longer follows the member: every later comparison would repeat this one
    }
    const found = identify(revision, events, model, byId, claimed, errors);
    if (found === null) break;
    const request = found.request;
    if (found.candidates === undefined) {
      const earlier = applied.get(request.id);
      if (earlier !== undefined) {
        errors.push(`request #${request.id} ${JSON.stringify(request.op)} applied twice: at revisions ${earlier} and ${revision}`);
        break;
      }
    } else {
      unclaimedDeletes.push({ revision, events, candidates: found.candidates });
    }
    const keys = touched(model, request.op);
    const before = new Map([...keys].map((k) => [k, model.keys.get(k)]));
    const outcome = model.apply(request.op);
    if (found.candidates === undefined) applied.set(request.id, revision);
    const expected: string[] = [];
    for (const k of [...keys].sort((x, y) => Buffer.compare(b(x), b(y)))) {
      const after = model.keys.get(k);
      if (after === before.get(k)) continue; // unchanged: apply replaces the record of a key it writes
      expected.push(describeKv(k, after, revision));
      const line = timeline.get(k) ?? [];
      line.push({ revision, kv: after === undefined ? undefined : { ...after } });
      timeline.set(k, line);
    }
    const got = events.map(describeEvent).sort();
    if (outcome.revision !== revision || JSON.stringify(got) !== JSON.stringify([...expected].sort())) {
      errors.push(`revision ${revision}: events [${got.join(', ')}] are not what request #${request.id} ${JSON.stringify(request.op)} does to the model: [${expected.join(', ')}]`);
      break;
    }
    if (request.ack !== undefined && JSON.stringify(request.ack) !== JSON.stringify(outcome)) {
      errors.push(`request #${request.id} ${JSON.stringify(request.op)} was answered ${JSON.stringify(request.ack)}, the history says ${JSON.stringify(outcome)}`);
    }
  }

  const kvAt = (key: string, revision: number): ModelKv | undefined => {
    const line = timeline.get(key);
    if (line === undefined) return undefined;
    let found: ModelKv | undefined;
    for (const entry of line) if (entry.revision <= revision) found = entry.kv;
    return found;
  };

  // every acknowledged change is in the history, at its revision; acknowledged no-op deletes found nothing there
  const lost: string[] = [];
  for (const r of requests) {
    if (r.ack === undefined) continue;
    if (r.op.op === 'delete' && r.ack.deleted === 0) {
      const { key, rangeEnd } = r.op;
      if (r.ack.revision >= base.revision && r.ack.revision <= model.revision) {
        const present = [...timeline.keys()].filter((k) => inRange(k, key, rangeEnd) && kvAt(k, r.ack!.revision) !== undefined);
        if (present.length > 0) errors.push(`delete #${r.id} of ${key} found nothing at revision ${r.ack.revision}, the history has ${present.join(', ')} there`);
      }
      continue;
    }
    if (r.ack.revision <= base.revision) continue;
    const at = applied.get(r.id);
    if (at === undefined) lost.push(`acknowledged request #${r.id} ${JSON.stringify(r.op)} (revision ${r.ack.revision}) is not in the recovered history (last revision ${model.revision})`);
    else if (at !== r.ack.revision) errors.push(`acknowledged request #${r.id} was answered with revision ${r.ack.revision} and is at ${at} in the history`);
  }

  if (lost.length > 0) errors.push(`${lost.length} acknowledged request(s) lost, the first: ${lost[0]}`);
  const matched = matchDeletes(unclaimedDeletes.map((d) => d.candidates));
  unclaimedDeletes.forEach((d, i) => {
    const id = matched[i];
    if (id === undefined) {
      errors.push(`revision ${d.revision}: [${d.events.map(describeEvent).join(', ')}] is the effect of no unacknowledged delete left (${d.candidates.length} could do it, each needed for another revision)`);
    } else applied.set(id, d.revision);
  });

  if (recovered.revision !== model.revision) errors.push(`store revision ${recovered.revision}, last revision of the history ${model.revision}`);
  const got = recovered.kvs.map((kv) => describeKv(str(kv.key), { value: str(kv.value), create_revision: kv.create_revision, mod_revision: kv.mod_revision, version: kv.version }, 0));
  const want = model.entries().map(([k, kv]) => describeKv(k, kv, 0));
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    const missing = want.filter((x) => !got.includes(x));
    const extra = got.filter((x) => !want.includes(x));
    errors.push(`recovered key space differs from the model after the history: missing [${missing.slice(0, 5).join(', ')}], unexpected [${extra.slice(0, 5).join(', ')}]`);
  }
  return { errors, model, applied, kvAt, keys: () => [...timeline.keys()].sort((x, y) => Buffer.compare(b(x), b(y))) };
}

/**
 * The request that made `revision`, or null after recording why none can be. A revision of deletes only that no
 * acknowledged delete claims comes with every unacknowledged delete that would do exactly this to the model now
 * (`candidates`, `request` being any of them: they have the same effect); which of them it was is left to the end.
 */
function identify(
  revision: number,
  events: Event[],
  model: KvModel,
  byId: Map<number, WriteRequest>,
  claimed: Map<number, WriteRequest>,
  errors: string[],
): { request: WriteRequest; candidates?: number[] } | null {
  const ids = new Set<number>();
  for (const e of events) {
    if (e.type !== 0) continue;
    const m = /^#(\d+)$/.exec(str(e.kv.value));
    if (m === null) {
      errors.push(`revision ${revision}: ${describeEvent(e)} was written by no request of the load`);
      return null;
    }
    ids.add(Number(m[1]));
  }
  if (ids.size > 1) {
    errors.push(`revision ${revision}: one revision holds the writes of requests ${[...ids].map((id) => `#${id}`).join(', ')}`);
    return null;
  }
  if (ids.size === 1) {
    const id = [...ids][0]!;
    const request = byId.get(id);
    if (request === undefined) {
      errors.push(`revision ${revision}: request #${id} was never sent`);
      return null;
    }
    return { request };
  }
  // deletes only: the acknowledged delete that claims this revision, else the unacknowledged ones that do exactly this
  const claim = claimed.get(revision);
  if (claim !== undefined) return { request: claim };
  const deleted = events.map((e) => str(e.kv.key)).sort().join('\n');
  const candidates: WriteRequest[] = [];
  for (const r of byId.values()) {
    if (r.ack !== undefined || r.op.op !== 'delete') continue;
    const { key, rangeEnd } = r.op;
    const would = [...model.keys.keys()].filter((k) => inRange(k, key, rangeEnd)).sort();
    if (would.join('\n') === deleted) candidates.push(r);
  }
  if (candidates.length === 0) {
    errors.push(`revision ${revision}: [${events.map(describeEvent).join(', ')}] is the effect of no unacknowledged delete`);
    return null;
  }
  return { request: candidates[0]!, candidates: candidates.map((r) => r.id) };
}

/**
 * Gives each revision made by an unacknowledged delete a distinct request among its candidates, if that can be done
 * (a maximum bipartite matching by augmenting paths): picking greedily, e.g. the narrowest delete, can take the one
 * request a later revision needs. Returns the request id per revision, undefined where none is left.
 */
export function matchDeletes(candidates: readonly (readonly number[])[]): (number | undefined)[] {
  const owner = new Map<number, number>(); // request id -> the revision (index) it explains
  const assign = (i: number, seen: Set<number>): boolean => {
    for (const id of candidates[i]!) {
      if (seen.has(id)) continue;
      seen.add(id);
      const other = owner.get(id);
      if (other === undefined || assign(other, seen)) {
        owner.set(id, i);
        return true;
      }
    }
    return false;
  };
  for (let i = 0; i < candidates.length; i++) assign(i, new Set());
  const out: (number | undefined)[] = candidates.map(() => undefined);
  for (const [id, i] of owner) out[i] = id;
  return out;
}

// ---- reading what a member recovered ----------------------------------------------------------------------------

/** Every key under PREFIX, and the store revision. */
export async function readAll(c: Client, revision?: number): Promise<{ revision: number; kvs: KeyValue[] }> {
  const r = await c.range({ key: b(PREFIX), range_end: prefixRangeEnd(b(PREFIX)), ...(revision !== undefined ? { revision } : {}) });
  return { revision: r.header.revision, kvs: r.kvs };
}

/** The events under PREFIX from `from` through `to`, by a watch (every revision of the load has an event). */
export function watchHistory(c: Client, from: number, to: number, timeoutMs = 15_000): Promise<Event[]> {
  const events: Event[] = [];
  if (to < from) return Promise.resolve(events);
  return new Promise((resolve, reject) => {
    let last = from - 1;
    const timer = setTimeout(() => {
      w.cancel();
      reject(new Error(`a watch from revision ${from} delivered events up to revision ${last} of ${to} in ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      w.cancel();
      if (err === undefined) resolve(events);
      else reject(err);
    };
    const w = c.watch(
      { key: PREFIX, prefix: true, start_revision: from },
      {
        onEvents(resp) {
          events.push(...resp.events);
          const e = resp.events[resp.events.length - 1];
          if (e !== undefined) last = e.kv.mod_revision;
          if (last >= to) finish();
        },
        onCanceled(resp) {
          finish(new Error(`the watch from revision ${from} was cancelled (compact_revision ${resp.compact_revision ?? '-'}, ${resp.cancel_reason ?? ''})`));
        },
        onError: (err) => finish(err),
      },
    );
  });
}
