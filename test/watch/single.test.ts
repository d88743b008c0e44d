// Watch on a single in-process member: ranges, replay then live, prev_kv, filters, IDs, cancel, compaction,
// progress requests and notifications, fragments. Every watcher's responses go through the checker against the
// history read back from the member, plus the specific expectations of each case.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { ManualClock } from '../../src/clock/index.js';
import { assertWatch, History, Recorder, syncWatcher, waitFor, type WatchSpec } from '../helpers/watch-checker.js';
import { prefixRangeEnd, WatchFilterType, type Client, type ClientStream, type WatchOptions, type WatchRequest, type WatchResponse } from '../../src/client/index.js';

const b = (s: string): Buffer => Buffer.from(s);
const FROM_KEY = Buffer.from([0]);
const DUPLICATE_ID = 'mvcc: duplicate watch ID provided on the WatchStream';
const MAX_REQUEST_BYTES = 256 * 1024;

let m: InProcessMember;
let c: Client;
const history = new History();

before(async () => {
  m = await startInProcess(['--experimental-watch-progress-notify-interval', '200ms', '--max-request-bytes', String(MAX_REQUEST_BYTES)]);
  c = m.client();
});
after(() => m.close());

async function rev(client: Client = c): Promise<number> {
  return (await client.status()).header.revision;
}

/** A resumable watcher with its recorder and checker spec. */
async function watchAndRecord(opts: WatchOptions, client: Client = c): Promise<{ rec: Recorder; spec: WatchSpec; w: ReturnType<Client['watch']> }> {
  const rec = new Recorder();
  const w = client.watch(opts, rec.handlers);
  const created = await w.ready;
  const key = typeof opts.key === 'string' ? b(opts.key) : Buffer.from(opts.key);
  const range_end = opts.prefix ? Buffer.from(prefixRangeEnd(key)) : opts.range_end === undefined ? undefined : typeof opts.range_end === 'string' ? b(opts.range_end) : Buffer.from(opts.range_end);
  const from = (opts.start_revision ?? 0) > 0 ? opts.start_revision! : created + 1;
  return { rec, w, spec: { key, range_end, from, prev_kv: opts.prev_kv, filters: opts.filters } };
}

/** A raw Watch stream on the client: every response as the member sent it. */
class RawStream {
  readonly responses: WatchResponse[] = [];
  ended: Error | null | undefined = undefined;
  private seen = 0;
  private constructor(private stream: ClientStream<WatchRequest> | null) {}

  static async open(client: Client): Promise<RawStream> {
    const s = new RawStream(null);
    s.stream = await client.openStream('Watch', undefined, {
      message: (r) => s.responses.push(r),
      end: (err) => (s.ended = err),
    });
    return s;
  }

  send(req: WatchRequest): void {
    assert.ok(this.stream!.send(req), 'stream still open');
  }

  /** The next response not yet taken. */
  async next(timeoutMs = 5000): Promise<WatchResponse> {
    await waitFor(() => this.responses.length > this.seen, timeoutMs, () => `no response after #${this.seen}`);
    return this.responses[this.seen++]!;
  }

  /** Takes responses until `pred` holds for one; returns the ones before and that one. */
  async until(pred: (r: WatchResponse) => boolean, timeoutMs = 5000): Promise<WatchResponse[]> {
    const out: WatchResponse[] = [];
    for (;;) {
      const r = await this.next(timeoutMs);
      out.push(r);
      if (pred(r)) return out;
    }
  }

  close(): void {
    this.stream!.close();
  }
}

async function syncAndCheck(watchers: { rec: Recorder; spec: WatchSpec; w: { requestProgress(): boolean } }[], through: number): Promise<void> {
  await Promise.all(watchers.map((x) => syncWatcher(x.w, x.rec, through)));
  await history.readTo(c, through);
  for (const x of watchers) assertWatch(history, x.spec, x.rec.responses, { through });
}

const types = (rec: Recorder): string => rec.responses.flatMap((r) => r.events.map((e) => (e.type === 0 ? 'P' : 'D'))).join('');

test('key, range, prefix and from-key watchers receive exactly the events of their keys', async () => {
  const ws = {
    key: await watchAndRecord({ key: 't1/b' }),
    range: await watchAndRecord({ key: 't1/b', range_end: 't1/d' }),
    prefix: await watchAndRecord({ key: 't1/', prefix: true }),
    fromKey: await watchAndRecord({ key: 't1/c', range_end: FROM_KEY }),
    none: await watchAndRecord({ key: 't1/zz', range_end: 't1/zzz' }),
  };
  for (const k of ['t1/a', 't1/b', 't1/c', 't1/d', 't1x', 't1/']) await c.put({ key: b(k), value: b(`v-${k}`) });
  await c.txn({ success: [{ request_put: { key: b('t1/b'), value: b('txn') } }, { request_delete_range: { key: b('t1/c') } }] });
  await c.deleteRange({ key: b('t1/a'), range_end: b('t1/c') }); // a and b in one revision
  await c.put({ key: b('t1/b'), value: b('again') });
  const last = (await c.deleteRange({ key: b('t1/'), range_end: prefixRangeEnd(b('t1/')) })).header.revision;
  await syncAndCheck(Object.values(ws), last);
  assert.equal(types(ws.key.rec), 'PPDPD');
  assert.equal(ws.range.rec.events, 2 + 2 + 1 + 1 + 1); // puts of b, c; the txn on b, c; delete of b; put of b; delete of b
  assert.equal(ws.none.rec.events, 0);
  assert.ok(ws.prefix.rec.events > ws.range.rec.events && ws.fromKey.rec.events > 0);
  // the from-key watcher saw t1x (after the prefix), the prefix watcher did not
  const keysOf = (rec: Recorder): Set<string> => new Set(rec.responses.flatMap((r) => r.events.map((e) => Buffer.from(e.kv.key).toString())));
  assert.ok(keysOf(ws.fromKey.rec).has('t1x') && !keysOf(ws.prefix.rec).has('t1x') && !keysOf(ws.fromKey.rec).has('t1/b'));
  for (const x of Object.values(ws)) x.w.cancel();
});

/** Puts `n` keys' worth of writes, `concurrency` at a time; returns the last revision. */
async function putMany(prefix: string, n: number, keys = 10, concurrency = 64, client: Client = c): Promise<number> {
  let last = 0;
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < n) {
      const j = i++;
      const r = await client.put({ key: b(`${prefix}${j % keys}`), value: b(`v${j}`) });
      last = Math.max(last, r.header.revision);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return last;
}

test('start_revision replays history in several catch-up rounds, then continues live without gap or duplicate', async () => {
  const start = (await rev()) + 1;
  await putMany('t2/k', 1200);
  const mid = await rev();
  const ws = [
    await watchAndRecord({ key: 't2/', prefix: true, start_revision: start, prev_kv: true }),
    await watchAndRecord({ key: 't2/k3', start_revision: start + 1 }),
    await watchAndRecord({ key: 't2/k5', range_end: FROM_KEY, start_revision: start + 700, filters: [WatchFilterType.NODELETE] }),
    await watchAndRecord({ key: 't2/', prefix: true, start_revision: mid }), // the current revision itself
    await watchAndRecord({ key: 't2/', prefix: true, start_revision: mid + 150 }), // in the future
  ];
  // live writes race with the catch-up
  const live = putMany('t2/k', 300, 10, 8);
  const deletes = (async () => {
    for (let i = 0; i < 20; i++) await c.deleteRange({ key: b(`t2/k${i % 10}`) });
  })();
  await Promise.all([live, deletes]);
  const last = await rev();
  await syncAndCheck(ws, last);
  assert.ok(last - start > 1300, 'more history than one catch-up round reads');
  assert.equal(ws[0]!.rec.events, 1200 + 300 + 20 - countNoopDeletes());
  assert.ok(ws[3]!.rec.events >= 301 && ws[4]!.rec.events > 0 && ws[4]!.rec.events < ws[3]!.rec.events);
  for (const x of ws) x.w.cancel();

  function countNoopDeletes(): number {
    let n = 0;
    for (let r = start; r <= last; r++) for (const ev of history.at(r).values()) if (ev.type === 1 && Buffer.from(ev.kv.key).toString().startsWith('t2/')) n++;
    return 20 - n;
  }
});

test('prev_kv and the NOPUT / NODELETE filters', async () => {
  const ws = {
    prev: await watchAndRecord({ key: 't3/', prefix: true, prev_kv: true }),
    noPut: await watchAndRecord({ key: 't3/', prefix: true, filters: [WatchFilterType.NOPUT], prev_kv: true }),
    noDelete: await watchAndRecord({ key: 't3/', prefix: true, filters: [WatchFilterType.NODELETE] }),
    neither: await watchAndRecord({ key: 't3/', prefix: true, filters: [WatchFilterType.NOPUT, WatchFilterType.NODELETE] }),
  };
  await c.put({ key: b('t3/a'), value: b('1') });
  await c.put({ key: b('t3/a'), value: b('2') });
  await c.put({ key: b('t3/b'), value: b('1') });
  await c.txn({ success: [{ request_delete_range: { key: b('t3/a') } }, { request_put: { key: b('t3/c'), value: b('x') } }] });
  await c.put({ key: b('t3/a'), value: b('3') }); // re-created: no prev_kv
  const last = (await c.deleteRange({ key: b('t3/'), range_end: prefixRangeEnd(b('t3/')) })).header.revision;
  await syncAndCheck(Object.values(ws), last);
  assert.equal(types(ws.prev.rec), 'PPPDPPDDD');
  assert.equal(types(ws.noPut.rec), 'DDDD');
  assert.equal(types(ws.noDelete.rec), 'PPPPP');
  assert.equal(ws.neither.rec.events, 0);
  const prevs = ws.prev.rec.responses.flatMap((r) => r.events.map((e) => (e.prev_kv ? Buffer.from(e.prev_kv.value).toString() : '-')));
  assert.deepEqual(prevs, ['-', '1', '-', '2', '-', '-', '3', '1', 'x']);
  for (const x of Object.values(ws)) x.w.cancel();
});

test('watch IDs: client-chosen, server-assigned from 0 skipping used ones, duplicates refused; cancel', async () => {
  const s = await RawStream.open(c);
  const create = async (watch_id?: number): Promise<WatchResponse> => {
    s.send({ create_request: { key: b('t4/a'), ...(watch_id === undefined ? {} : { watch_id }) } });
    return s.next();
  };
  const ids: number[] = [];
  for (const want of [undefined, 2, undefined, undefined, 4, undefined]) {
    const r = await create(want);
    assert.ok(r.created && !r.canceled, `${r.watch_id} ${r.cancel_reason ?? ''}`);
    ids.push(r.watch_id);
  }
  assert.deepEqual(ids, [0, 2, 1, 3, 4, 5]);
  for (const dup of [2, 5]) {
    const r = await create(dup);
    assert.equal(r.watch_id, -1);
    assert.equal(r.created, true);
    assert.equal(r.canceled, true);
    assert.equal(r.cancel_reason, DUPLICATE_ID);
  }
  // cancel: a reply for a known id, none for an unknown one
  s.send({ cancel_request: { watch_id: 3 } });
  const canceled = await s.next();
  assert.equal(canceled.watch_id, 3);
  assert.equal(canceled.canceled, true);
  s.send({ cancel_request: { watch_id: 99 } });
  s.send({ progress_request: {} });
  const progress = await s.next();
  assert.equal(progress.watch_id, -1, `nothing answers a cancel of an unknown id (got a response for ${progress.watch_id})`);
  assert.equal(progress.events.length, 0);
  const r = await c.put({ key: b('t4/a'), value: b('x') });
  const got = new Set<number>();
  await waitFor(() => s.responses.filter((x) => x.events.length > 0).length >= 5, 5000, () => 'events for the five watchers');
  for (const x of s.responses.slice(-5)) {
    assert.equal(x.events.length, 1);
    assert.equal(x.events[0]!.kv.mod_revision, r.header.revision);
    got.add(x.watch_id);
  }
  assert.deepEqual([...got].sort(), [0, 1, 2, 4, 5]);
  // ids belong to the stream: a new stream starts again at 0
  const s2 = await RawStream.open(c);
  s2.send({ create_request: { key: b('t4/a') } });
  assert.equal((await s2.next()).watch_id, 0);
  s.close();
  s2.close();
});

test('progress_request is answered with watch_id -1, only once every watcher of the stream is synced', async () => {
  const s = await RawStream.open(c);
  s.send({ progress_request: {} });
  const idle = await s.next();
  assert.equal(idle.watch_id, -1);
  assert.equal(idle.header.revision, await rev());
  // a watcher with more than one catch-up round of history to read, and a progress request in the same chunk
  const s2 = await RawStream.open(c);
  const cur = await rev();
  s2.send({ create_request: { key: b('t2/'), range_end: prefixRangeEnd(b('t2/')), start_revision: 2 } });
  s2.send({ progress_request: {} });
  const created = await s2.next();
  assert.ok(created.created);
  const rest = await s2.until((r) => r.watch_id === -1, 10_000);
  const progress = rest[rest.length - 1]!;
  assert.ok(progress.header.revision >= cur);
  assert.ok(rest.length >= 3, `the catch-up took ${rest.length - 1} response(s) before the progress`);
  await history.readTo(c, progress.header.revision);
  const r = assertWatch(history, { key: b('t2/'), range_end: Buffer.from(prefixRangeEnd(b('t2/'))), from: 2 }, [created, ...rest], { through: progress.header.revision });
  assert.ok(r.events > 1500);
  s.close();
  s2.close();
});

test('progress_notify: an idle watcher hears the current revision every interval, with its own id', async (t) => {
  // on a member of its own whose clock the test advances: the notifications come by its timer, not by real time
  const clock = new ManualClock();
  const mm = await startInProcess(['--experimental-watch-progress-notify-interval', '200ms'], undefined, { clock });
  t.after(() => mm.close());
  const mc = mm.client();
  const s = await RawStream.open(mc);
  s.send({ create_request: { key: b('t7/idle'), progress_notify: true, watch_id: 7 } });
  s.send({ create_request: { key: b('t7/idle'), watch_id: 8 } });
  await s.next();
  await s.next();
  const t0 = clock.now();
  await clock.advance(1100);
  const notes = s.responses.slice(2);
  assert.ok(notes.length >= 3 && notes.length <= 7, `${notes.length} notifications in ${clock.now() - t0} ms`);
  const cur = await rev(mc);
  for (const n of notes) {
    assert.equal(n.watch_id, 7);
    assert.equal(n.events.length, 0);
    assert.ok(!n.created && !n.canceled);
    assert.equal(n.header.revision, cur);
  }
  const put = await mc.put({ key: b('t7/idle'), value: b('x') });
  const evs = await s.until((r) => r.events.length > 0 && r.watch_id === 8);
  assert.ok(evs.some((r) => r.watch_id === 7 && r.events[0]?.kv.mod_revision === put.header.revision));
  s.close();
});

test('fragment: a revision larger than the limit arrives in fragments when asked for, whole otherwise', async () => {
  const value = Buffer.alloc(200_000, 'v');
  let first = 0;
  for (let i = 0; i < 8; i++) {
    const r = await c.put({ key: b(`t8/${i}`), value });
    if (i === 0) first = r.header.revision;
  }
  const raw = await RawStream.open(c);
  const prefix = { key: b('t8/'), range_end: prefixRangeEnd(b('t8/')) };
  raw.send({ create_request: { ...prefix, fragment: true, watch_id: 1 } });
  raw.send({ create_request: { ...prefix, watch_id: 2 } });
  raw.send({ create_request: { ...prefix, fragment: true, watch_id: 3, start_revision: first } }); // catch-up
  for (let i = 0; i < 3; i++) assert.ok((await raw.next()).created);
  const reassembled = await watchAndRecord({ key: 't8/', prefix: true, fragment: true, start_revision: first });
  // one txn, 8 puts keeping their 200 kB values: 1.6 MB in one revision, over max-request-bytes + 512 KiB
  const txn = await c.txn({ success: Array.from({ length: 8 }, (_, i) => ({ request_put: { key: b(`t8/${i}`), ignore_value: true } })) });
  const last = txn.header.revision;
  await waitFor(() => raw.responses.filter((r) => r.watch_id === 2 && r.events.length > 0).length >= 1, 10_000, () => 'unfragmented response');
  await waitFor(() => raw.responses.some((r) => r.watch_id === 1 && r.events.length > 0 && !r.fragment), 10_000, () => 'last fragment');
  await waitFor(() => raw.responses.filter((r) => r.watch_id === 3 && r.events.length > 0 && !r.fragment).length >= 2, 10_000, () => 'catch-up fragments');
  await syncWatcher(reassembled.w, reassembled.rec, last);
  await history.readTo(c, last);
  const of = (id: number): WatchResponse[] => raw.responses.filter((r) => r.watch_id === id && r.events.length > 0);
  const frags = of(1);
  assert.deepEqual(frags.map((r) => [r.events.length, r.fragment === true]), [[3, true], [3, true], [2, false]]);
  assert.deepEqual(of(2).map((r) => r.events.length), [8]);
  assert.ok(of(3).length >= 4 && of(3).slice(0, -1).some((r) => r.fragment), 'the catch-up was fragmented too');
  assertWatch(history, { ...prefix, from: last, rawFragments: true }, frags, { through: last });
  assertWatch(history, { ...prefix, from: last }, of(2), { through: last });
  assertWatch(history, { ...prefix, from: first, rawFragments: true }, of(3), { through: last });
  const r = assertWatch(history, reassembled.spec, reassembled.rec.responses, { through: last });
  assert.equal(r.events, 16);
  assert.ok(reassembled.rec.responses.every((x) => !x.fragment));
  // without rawFragments the checker refuses a split revision
  assert.throws(() => assertWatch(history, { ...prefix, from: last }, frags, { through: last }), /split over responses/);
  raw.close();
  reassembled.w.cancel();
});

test('compaction: a start revision below it is cancelled with compact_revision; one at it sees every event from it', async () => {
  const mc = await startInProcess();
  try {
    const cc = mc.client();
    const hist = new History();
    await cc.put({ key: b('k/a'), value: b('1') }); // 2
    await cc.put({ key: b('k/b'), value: b('1') }); // 3
    await cc.put({ key: b('k/a'), value: b('2') }); // 4
    const del = await cc.deleteRange({ key: b('k/b') }); // 5: a tombstone at the compacted revision
    await cc.txn({ success: [{ request_put: { key: b('k/c'), value: b('1') } }, { request_delete_range: { key: b('k/a') } }] }); // 6
    const compactAt = del.header.revision;
    await hist.readTo(cc, (await cc.status()).header.revision);
    await cc.compact({ revision: compactAt, physical: true });
    const specs: WatchOptions[] = [
      { key: 'k/', prefix: true, start_revision: 2 },
      { key: 'k/', prefix: true, start_revision: compactAt - 1, prev_kv: true },
      { key: 'k/', prefix: true, start_revision: compactAt },
      { key: 'k/b', start_revision: compactAt, prev_kv: true },
      { key: 'k/', prefix: true, start_revision: compactAt + 1, prev_kv: true },
    ];
    const ws = await Promise.all(specs.map((o) => watchAndRecord(o, cc)));
    const last = (await cc.put({ key: b('k/b'), value: b('2') })).header.revision;
    await hist.readTo(cc, last);
    await Promise.all(ws.slice(2).map((x) => syncWatcher(x.w, x.rec, last)));
    await waitFor(() => ws[0]!.rec.canceled !== null && ws[1]!.rec.canceled !== null, 5000, () => 'the cancels');
    for (const x of ws.slice(0, 2)) {
      assert.equal(x.rec.canceled!.compact_revision, compactAt);
      assert.equal(x.rec.events, 0);
      assert.equal(x.w.reopens, 0, 'a cancel is not retried');
    }
    // prev_kv of events at the compacted revision itself is gone with the compacted history (as in etcd)
    for (const x of ws) assertWatch(hist, x.spec, x.rec.responses, { through: last, prevKvCompactedAt: compactAt });
    assert.equal(types(ws[2]!.rec), 'DPDP', 'the delete at the compacted revision is delivered');
    assert.equal(types(ws[3]!.rec), 'DP');
    for (const x of ws) x.w.cancel();
    // a progress request waiting for a watcher that compaction then cancels is answered all the same
    const raw = await RawStream.open(cc);
    raw.send({ create_request: { key: b('k/'), range_end: prefixRangeEnd(b('k/')), start_revision: 2 } });
    raw.send({ progress_request: {} });
    assert.ok((await raw.next()).created);
    const cancel = await raw.next();
    assert.equal(cancel.canceled, true);
    assert.equal(cancel.compact_revision, compactAt);
    const progress = await raw.next(3000);
    assert.equal(progress.watch_id, -1);
    assert.equal(progress.header.revision, last);
    raw.close();
  } finally {
    await mc.close();
  }
});
