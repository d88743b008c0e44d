// The watch hub: etcd's watchableStore and serverWatchStream over our MVCC tables.
//
// A watcher is either synced (it has seen everything up to the current revision and takes live events as batches are
// applied) or unsynced (it starts in the past, or its stream could not take more): unsynced watchers are caught up
// from history in LMDB (keyed by revision) in bounded rounds, whole revisions at a time, and become synced once they reach the
// current revision. Everything runs on the main thread between applies, so a watcher switches from history to live
// events at exactly the current revision: no gap, no duplicate.
//
// With a watch filter (src/watch/filter-pool.ts) and at least WATCH_FILTER_WORKER_MIN_WATCHERS synced watchers, a
// worker thread matches applied batches instead; delivery then waits for its answer. Ordering argument:
//   1. Batches are delivered strictly in apply order from one queue (`pending`); a batch the worker cannot take, or
//      does not answer in time, or that would make the queue too long, is matched here at its turn instead.
//   2. Registration changes reach the worker before any batch applied after them, so when it matches batch R its view
//      holds every watcher synced when R was applied. Its answer is checked at delivery against the watcher now: it
//      must still be synced, and events below its nextRev are dropped. A watcher synced at R's apply and still due R
//      at delivery was synced all along (becoming synced again sets nextRev past the current revision, past R), so it
//      is in any view taken between R's apply and R's delivery: that is what makes a resend after a crash, and
//      matching a batch here at delivery against the current index, give the same result.
//   3. A watcher leaving the synced set at delivery of R (congestion) resumes from R's first revision: every earlier
//      batch was delivered. Progress (notifications and answers to progress requests) reports only the revision
//      before the oldest undelivered batch.
//
// Memory: nothing is buffered per watcher. A stream whose connection holds WATCH_PENDING_BYTES_MAX unsent bytes is
// congested: its watchers that would receive events become unsynced (remembering only the next revision they need),
// and are caught up from history when the client reads again. A watcher whose next revision was compacted meanwhile
// is cancelled with compact_revision, never silently skipped.

import { systemClock, type Clock, type ClockTimer } from '../clock/index.js';
import {
  WATCH_CATCHUP_BYTES_MAX,
  WATCH_CATCHUP_EVENTS_MAX,
  WATCH_FILTER_BATCHES_PENDING_MAX,
  WATCH_FILTER_RESULT_WAIT_MS,
  WATCH_FILTER_WORKER_MIN_RANGES,
  WATCH_FILTER_WORKER_MIN_WATCHERS,
  WATCH_CATCHUP_REVISIONS_MAX,
  WATCH_PENDING_BYTES_MAX,
  WATCH_SYNC_INTERVAL_MS,
  WATCH_SYNC_WATCHERS_MAX,
  WATCHERS_MAX,
} from '../config/limits.js';
import { Errors } from '../errors/index.js';
import { EventType, isFromKeyEnd, WatchFilterType, type Event, type ResponseHeader, type WatchCreateRequest, type WatchRequest, type WatchResponse } from '../proto/index.js';
import type { EventsRead } from '../mvcc/index.js';
import { keyString, RangeIndex, type KeyString } from './range-index.js';
import type { WatchFilter } from './filter-pool.js';
import { forEachMatch, type FilterWatcher } from './filter-protocol.js';

/** What the hub needs from the member. */
export interface WatchSource {
  revision(): number;
  compactRevision(): number;
  header(revision: number): ResponseHeader;
  readEvents(from: number, to: number, maxEvents: number, keep: (key: Buffer) => boolean, withPrev: boolean, maxBytes?: number): EventsRead;
  /**
   * null when every write acknowledged to a client is in `revision()`; else a promise for when it is. A watch request
   * waits for it, so a watcher created after a put was acknowledged starts after that put, as in etcd.
   */
  visible?(): Promise<void> | null;
}

/** Where a stream's responses go (a binary-protocol stream, a WebSocket, an in-process consumer). */
export interface WatchSink {
  send(response: WatchResponse): void;
  /**
   * Optional fast path for a plain event response {header, watch_id, events}: during fan-out many watchers get the
   * very same `header` and `events` objects, which the sink may encode once (by object identity) and reuse.
   */
  sendEvents?(header: ResponseHeader, watchId: number, events: readonly Event[]): void;
  /** bytes queued towards the client and not yet written out */
  pendingBytes(): number;
}

export interface WatchHubOptions {
  /** responses above this are split when the watcher asked for fragments (--max-request-bytes + 512 KiB) */
  fragmentBytes: number;
  /** --experimental-watch-progress-notify-interval */
  progressNotifyIntervalMs: number;
  pendingBytesMax?: number;
  /** matches applied batches in a worker thread once there are enough synced watchers (null: always here) */
  filter?: WatchFilter | null;
  /** synced watchers from which batches go to `filter` (default WATCH_FILTER_WORKER_MIN_WATCHERS) */
  filterMinWatchers?: number;
  /** and distinct ranges among them (default WATCH_FILTER_WORKER_MIN_RANGES) */
  filterMinRanges?: number;
  /** the sync and progress timers, and how long a batch has waited for the filter (default: the system clock) */
  clock?: Clock;
}

interface Watcher extends FilterWatcher {
  readonly id: number;
  /** hub-wide, names the watcher to the filter worker */
  readonly serial: number;
  readonly stream: WatchStream;
  readonly start: KeyString;
  /** undefined: the single key; null: every key from start */
  readonly end: KeyString | null | undefined;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  readonly fragment: boolean;
  /** synced: events below it are not for this watcher (future start); unsynced: first revision not yet delivered */
  nextRev: number;
  synced: boolean;
  sentSinceProgress: boolean;
  removed: boolean;
}

function contains(w: Watcher, k: KeyString): boolean {
  if (w.end === undefined) return k === w.start;
  return k >= w.start && (w.end === null || k < w.end);
}

function wants(w: Watcher, ev: Event): boolean {
  return ev.type === EventType.PUT ? !w.noPut : !w.noDelete;
}

function eventBytes(ev: Event): number {
  return 64 + ev.kv.key.length + ev.kv.value.length + (ev.prev_kv ? 48 + ev.prev_kv.key.length + ev.prev_kv.value.length : 0);
}

function stripPrevKv(evs: readonly Event[]): readonly Event[] {
  return evs.some((ev) => ev.prev_kv !== undefined) ? evs.map((ev) => (ev.prev_kv === undefined ? ev : { type: ev.type, kv: ev.kv })) : evs;
}

/** An applied batch not yet delivered: in the worker, or waiting behind one that is. */
interface PendingBatch {
  readonly seq: number;
  readonly events: readonly Event[];
  readonly shared: SharedBatch;
  readonly firstRev: number;
  readonly appliedAt: number;
  /** worker: awaiting its answer; local: matched here at its turn */
  state: 'worker' | 'local';
  /** the worker's answer (serial, count, indices words) */
  answer: Int32Array | null;
}

/** One applied batch's header and events, with and without prev_kv, made once and shared by every watcher. */
class SharedBatch {
  private stripped: readonly Event[] | null = null;
  constructor(
    private readonly all: readonly Event[],
    readonly header: ResponseHeader,
  ) {}

  events(withPrevKv: boolean): readonly Event[] {
    if (withPrevKv) return this.all;
    this.stripped ??= stripPrevKv(this.all);
    return this.stripped;
  }
}

// cancel reasons of a refused watch creation
const DUPLICATE_ID = Errors.WatcherDuplicateID.message;
const EMPTY_RANGE = Errors.EmptyWatcherRange.message;
const TOO_MANY_WATCHERS = Errors.TooManyWatchers.message;

export class WatchHub {
  private readonly index = new RangeIndex<Watcher>();
  /** insertion-ordered: catch-up takes them round-robin */
  private readonly unsynced = new Set<Watcher>();
  private readonly progressWatchers = new Set<Watcher>();
  private readonly streams = new Set<WatchStream>();
  private readonly bySerial = new Map<number, Watcher>();
  private nextSerial = 0;
  /** applied batches not yet delivered, in apply order (only with a filter) */
  private readonly pending: PendingBatch[] = [];
  private nextSeq = 1;
  private readonly filter: WatchFilter | null;
  private readonly filterMinWatchers: number;
  private readonly filterMinRanges: number;
  private watcherCount = 0;
  private syncScheduled = false;
  private readonly clock: Clock;
  private readonly syncTimer: ClockTimer;
  private readonly progressTimer: ClockTimer;
  readonly pendingBytesMax: number;
  readonly stats = { eventsDelivered: 0, catchUpRounds: 0, congestions: 0, compactedCancels: 0, batchesFilteredByWorker: 0, batchesFilteredHere: 0 };

  constructor(
    private readonly source: WatchSource,
    private readonly options: WatchHubOptions,
  ) {
    this.pendingBytesMax = options.pendingBytesMax ?? WATCH_PENDING_BYTES_MAX;
    this.filter = options.filter ?? null;
    this.filterMinWatchers = options.filterMinWatchers ?? WATCH_FILTER_WORKER_MIN_WATCHERS;
    this.filterMinRanges = options.filterMinRanges ?? WATCH_FILTER_WORKER_MIN_RANGES;
    this.filter?.attach({
      syncedWatchers: () => [...this.bySerial.values()].filter((w) => w.synced),
      filtered: (seq, words) => this.filtered(seq, words),
    });
    this.clock = options.clock ?? systemClock;
    this.syncTimer = this.clock.setInterval(() => {
      this.deliverStalled();
      this.sync();
    }, WATCH_SYNC_INTERVAL_MS);
    this.progressTimer = this.clock.setInterval(() => this.notifyProgress(), options.progressNotifyIntervalMs);
  }

  get watchers(): number {
    return this.watcherCount;
  }

  /** open watch streams (etcd_debugging_mvcc_watch_stream_total) */
  get streamCount(): number {
    return this.streams.size;
  }

  get unsyncedWatchers(): number {
    return this.unsynced.size;
  }

  openStream(sink: WatchSink): WatchStream {
    const s = new WatchStream(this, sink);
    this.streams.add(s);
    return s;
  }

  close(): void {
    this.clock.clear(this.syncTimer);
    this.clock.clear(this.progressTimer);
    this.filter?.detach();
    this.pending.length = 0;
    for (const s of [...this.streams]) s.close();
  }

  /** Applied batches waiting for delivery (in the filter worker or behind one that is). */
  get pendingBatches(): number {
    return this.pending.length;
  }

  /** The revision through which every applied event was delivered to the synced watchers. */
  deliveredRevision(): number {
    const head = this.pending[0];
    return head === undefined ? this.source.revision() : head.firstRev - 1;
  }

  // ---- live events --------------------------------------------------------------------------------------------

  /** Events of one applied batch, in revision order, after its LMDB transaction committed. */
  onApplied(events: readonly Event[]): void {
    // no synced watcher now: none is due this batch later either (a watcher synced later starts after it)
    if (events.length === 0 || this.index.size === 0) return;
    const firstRev = events[0]!.kv.mod_revision;
    // Fan-out shares objects: watchers that matched the whole batch get the same events array (and header), so a
    // sink can encode it once for all of them (see WatchSink.sendEvents).
    const shared = new SharedBatch(events, this.source.header(this.source.revision()));
    if (this.filter === null) return this.deliver(events, shared, firstRev, null);
    const b: PendingBatch = { seq: this.nextSeq++, events, shared, firstRev, appliedAt: this.clock.now(), state: 'local', answer: null };
    // many watchers on few ranges cost a few stabs and then the sends, which stay here anyway: the trip to the worker
    // only pays when there are many ranges to search (BENCHMARKS.md, "Watch filtering in a worker")
    const worthIt = this.index.size >= this.filterMinWatchers && this.index.distinctRanges >= this.filterMinRanges;
    if (worthIt && this.filter.submit(b.seq, events)) b.state = 'worker';
    this.pending.push(b);
    // bounded: past the limit the oldest batch is matched here now rather than waited for
    while (this.pending.length > WATCH_FILTER_BATCHES_PENDING_MAX) {
      this.matchHere(this.pending[0]!);
      this.deliverReady();
    }
    this.deliverReady();
  }

  /** The filter worker's answer for batch `seq`, or null: match it here. */
  private filtered(seq: number, words: Int32Array | null): void {
    const head = this.pending[0];
    if (head === undefined) return;
    const b = this.pending[seq - head.seq];
    if (b === undefined || b.seq !== seq || b.state !== 'worker') return; // delivered already
    if (words === null) b.state = 'local';
    else b.answer = words;
    this.deliverReady();
  }

  private matchHere(b: PendingBatch): void {
    if (b.state === 'worker' && b.answer === null) {
      b.state = 'local';
      this.filter?.forget(b.seq);
    }
  }

  /** Batches the worker has left unanswered too long are matched here (a stuck worker delays events boundedly). */
  private deliverStalled(): void {
    const head = this.pending[0];
    if (head === undefined || this.clock.now() - head.appliedAt < WATCH_FILTER_RESULT_WAIT_MS) return;
    for (const b of this.pending) if (this.clock.now() - b.appliedAt >= WATCH_FILTER_RESULT_WAIT_MS) this.matchHere(b);
    this.deliverReady();
  }

  /** Delivers batches from the oldest while they are answered or to be matched here: apply order, always. */
  private deliverReady(): void {
    for (;;) {
      const b = this.pending[0];
      if (b === undefined || (b.state === 'worker' && b.answer === null)) return;
      this.pending.shift();
      this.deliver(b.events, b.shared, b.firstRev, b.state === 'worker' ? b.answer : null);
    }
  }

  /** Sends one batch to its synced watchers: those the worker matched (`answer`), or those this thread's index finds. */
  private deliver(events: readonly Event[], shared: SharedBatch, firstRev: number, answer: Int32Array | null): void {
    const matched = answer === null ? this.matchLocally(events) : this.matchAnswer(events, firstRev, answer);
    if (answer === null) this.stats.batchesFilteredHere++;
    else this.stats.batchesFilteredByWorker++;
    const touched = new Set<WatchStream>();
    for (const [w, evs] of matched) {
      if (w.stream.congested()) {
        this.stats.congestions++;
        // every batch before this one was delivered: the watcher resumes at this batch
        this.toUnsynced(w, Math.max(w.nextRev, firstRev));
        continue;
      }
      this.sendEvents(w, evs.length === events.length ? shared.events(w.prevKv) : evs, shared.header);
      touched.add(w.stream);
    }
    if (this.unsynced.size > 0) this.scheduleSync();
    for (const s of touched) s.maybeSendProgress();
  }

  private matchLocally(events: readonly Event[]): Map<Watcher, Event[]> {
    const matched = new Map<Watcher, Event[]>();
    for (const ev of events) {
      this.index.stab(keyString(ev.kv.key), (w) => {
        if (ev.kv.mod_revision < w.nextRev || !wants(w, ev)) return;
        const list = matched.get(w);
        if (list === undefined) matched.set(w, [ev]);
        else list.push(ev);
      });
    }
    return matched;
  }

  /** The worker's matches, checked against each watcher now: still synced, and due these revisions. */
  private matchAnswer(events: readonly Event[], firstRev: number, answer: Int32Array): Map<Watcher, readonly Event[]> {
    const matched = new Map<Watcher, readonly Event[]>();
    forEachMatch(answer, (serial, indices) => {
      const w = this.bySerial.get(serial);
      if (w === undefined || !w.synced) return;
      let evs: readonly Event[] = indices === null ? events : Array.from(indices, (i) => events[i]!);
      if (w.nextRev > firstRev) evs = evs.filter((ev) => ev.kv.mod_revision >= w.nextRev);
      if (evs.length > 0) matched.set(w, evs);
    });
    return matched;
  }

  /**
   * The key space jumped (a snapshot was installed): every synced watcher catches up from history from `nextRev`,
   * the first revision the snapshot brought in.
   */
  resyncAll(nextRev: number): void {
    // the batches applied before the jump go out first (matched here), so nextRev is right for every watcher
    for (const b of this.pending) this.matchHere(b);
    this.deliverReady();
    for (const s of this.streams) s.forEachWatcher((w) => {
      if (w.synced) this.toUnsynced(w, Math.max(w.nextRev, nextRev));
    });
    if (this.unsynced.size > 0) this.scheduleSync();
  }

  // ---- catch-up ----------------------------------------------------------------------------------------------

  scheduleSync(): void {
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      this.sync();
    });
  }

  /** One bounded catch-up round over unsynced watchers whose streams can take more. */
  private sync(): void {
    if (this.unsynced.size === 0) return;
    const batch: Watcher[] = [];
    for (const w of this.unsynced) {
      if (batch.length >= WATCH_SYNC_WATCHERS_MAX) break;
      if (!w.stream.congested()) batch.push(w);
    }
    if (batch.length === 0) return;
    this.stats.catchUpRounds++;
    const cur = this.source.revision();
    const compactRev = this.source.compactRevision();
    const live: Watcher[] = [];
    for (const w of batch) {
      if (compactRev > 0 && w.nextRev < compactRev) {
        this.stats.compactedCancels++;
        w.stream.cancelCompacted(w, compactRev);
      } else live.push(w);
    }
    if (live.length > 0) {
      const from = Math.max(1, Math.min(...live.map((w) => w.nextRev)));
      const to = Math.min(cur, from + WATCH_CATCHUP_REVISIONS_MAX - 1);
      let read: EventsRead = { events: [], lastRevision: to };
      if (from <= to) {
        const keep = this.keyFilter(live);
        read = this.source.readEvents(from, to, WATCH_CATCHUP_EVENTS_MAX, keep, live.some((w) => w.prevKv), WATCH_CATCHUP_BYTES_MAX);
      }
      const touched = new Set<WatchStream>();
      // Watchers of one range and filters that resume at one revision get the very same events and header objects,
      // so a sink encodes them once for all of them, as in live fan-out (catch-up after congestion hits many at once).
      const header = this.source.header(cur);
      const shaped = new Map<string, readonly Event[]>();
      for (const w of live) {
        // a stream this round already filled up takes no more: its watchers wait, unsynced, where they were
        if (w.stream.congested()) continue;
        const shape = JSON.stringify([w.nextRev, w.start, w.end ?? (w.end === null ? 1 : 0), w.noPut, w.noDelete, w.prevKv]);
        let evs = shaped.get(shape);
        if (evs === undefined) {
          const matched = read.events.filter((ev) => ev.kv.mod_revision >= w.nextRev && wants(w, ev) && contains(w, keyString(ev.kv.key)));
          shaped.set(shape, (evs = w.prevKv ? matched : stripPrevKv(matched)));
        }
        if (evs.length > 0) this.sendEvents(w, evs, header);
        w.nextRev = Math.max(w.nextRev, read.lastRevision + 1);
        this.unsynced.delete(w);
        if (w.nextRev > cur) this.toSynced(w);
        else this.unsynced.add(w); // to the back: round-robin between watchers
        touched.add(w.stream);
      }
      for (const s of touched) s.maybeSendProgress();
    }
    if ([...this.unsynced].some((w) => !w.stream.congested())) this.scheduleSync();
  }

  private keyFilter(ws: Watcher[]): (key: Buffer) => boolean {
    if (ws.length <= 8) return (key) => {
      const k = keyString(key);
      return ws.some((w) => contains(w, k));
    };
    const idx = new RangeIndex<Watcher>();
    for (const w of ws) idx.add(w, w.start, w.end);
    return (key) => {
      let hit = false;
      idx.stab(keyString(key), () => (hit = true));
      return hit;
    };
  }

  private toSynced(w: Watcher): void {
    w.synced = true;
    this.index.add(w, w.start, w.end);
    this.filter?.added(w);
  }

  private toUnsynced(w: Watcher, nextRev: number): void {
    if (w.synced) {
      this.index.remove(w, w.start, w.end);
      this.filter?.removed(w.serial);
    }
    w.synced = false;
    w.nextRev = nextRev;
    this.unsynced.add(w);
  }

  // ---- sending ------------------------------------------------------------------------------------------------

  private sendEvents(w: Watcher, evs: readonly Event[], sharedHeader?: ResponseHeader): void {
    const events = w.prevKv ? evs : stripPrevKv(evs);
    const header = sharedHeader ?? this.source.header(this.source.revision());
    this.stats.eventsDelivered += events.length;
    w.sentSinceProgress = true;
    if (w.fragment && events.length >= 2) {
      let size = 0;
      for (const ev of events) size += eventBytes(ev);
      if (size > this.options.fragmentBytes) {
        let part: Event[] = [];
        let partBytes = 0;
        const parts: Event[][] = [];
        for (const ev of events) {
          const b = eventBytes(ev);
          if (part.length > 0 && partBytes + b > this.options.fragmentBytes) {
            parts.push(part);
            part = [];
            partBytes = 0;
          }
          part.push(ev);
          partBytes += b;
        }
        parts.push(part);
        parts.forEach((p, i) => w.stream.sink.send({ header, watch_id: w.id, fragment: i < parts.length - 1, events: p }));
        return;
      }
    }
    if (w.stream.sink.sendEvents) w.stream.sink.sendEvents(header, w.id, events);
    else w.stream.sink.send({ header, watch_id: w.id, events: [...events] });
  }

  private notifyProgress(): void {
    if (this.progressWatchers.size === 0) return;
    const header = this.source.header(this.deliveredRevision());
    for (const w of this.progressWatchers) {
      if (!w.synced || w.stream.congested()) continue;
      if (!w.sentSinceProgress) w.stream.sink.send({ header, watch_id: w.id, events: [] });
      w.sentSinceProgress = false;
    }
  }

  // ---- used by streams ----------------------------------------------------------------------------------------

  /** See WatchSource.visible. */
  visible(): Promise<void> | null {
    return this.source.visible?.() ?? null;
  }

  /** Registers a watcher; returns the reason when it cannot be created. */
  register(stream: WatchStream, id: number, req: WatchCreateRequest): Watcher | string {
    if (this.watcherCount >= WATCHERS_MAX) return TOO_MANY_WATCHERS;
    const start = keyString(req.key);
    let end: KeyString | null | undefined;
    if (req.range_end === undefined || req.range_end.length === 0) end = undefined;
    else if (isFromKeyEnd(req.range_end)) end = null;
    else {
      end = keyString(req.range_end);
      if (start >= end) return EMPTY_RANGE;
    }
    const filters = req.filters ?? [];
    const cur = this.source.revision();
    const startRev = req.start_revision ?? 0;
    while (this.bySerial.has(this.nextSerial)) this.nextSerial = (this.nextSerial + 1) & 0x7fff_ffff;
    const serial = this.nextSerial;
    this.nextSerial = (this.nextSerial + 1) & 0x7fff_ffff;
    const w: Watcher = {
      id,
      serial,
      stream,
      start,
      end,
      noPut: filters.includes(WatchFilterType.NOPUT),
      noDelete: filters.includes(WatchFilterType.NODELETE),
      prevKv: req.prev_kv === true,
      progressNotify: req.progress_notify === true,
      fragment: req.fragment === true,
      // a negative start is a past revision to etcd too: canceled as compacted, or caught up from the first revision
      nextRev: startRev === 0 ? cur + 1 : startRev,
      synced: false,
      sentSinceProgress: false,
      removed: false,
    };
    this.watcherCount++;
    this.bySerial.set(serial, w);
    if (w.progressNotify) this.progressWatchers.add(w);
    if (w.nextRev > cur) this.toSynced(w);
    else {
      this.unsynced.add(w);
      this.scheduleSync();
    }
    return w;
  }

  unregister(w: Watcher): void {
    if (w.removed) return;
    if (w.synced) {
      this.index.remove(w, w.start, w.end);
      this.filter?.removed(w.serial);
    } else this.unsynced.delete(w);
    w.synced = false;
    w.removed = true;
    this.bySerial.delete(w.serial);
    this.progressWatchers.delete(w);
    this.watcherCount--;
  }

  streamClosed(s: WatchStream): void {
    this.streams.delete(s);
  }

  currentHeader(): ResponseHeader {
    return this.source.header(this.source.revision());
  }

  /** The header a progress report carries: the revision through which events were delivered. */
  progressHeader(): ResponseHeader {
    return this.source.header(this.deliveredRevision());
  }

  headerAt(revision: number): ResponseHeader {
    return this.source.header(revision);
  }
}

/** One client watch stream: many watchers multiplexed, created and cancelled by id. */
export class WatchStream {
  private readonly watchers = new Map<number, Watcher>();
  private nextAutoId = 0;
  private progressRequested = false;
  private closed = false;
  /** requests that arrived while acknowledged writes were not yet published, in order */
  private deferred: WatchRequest[] | null = null;

  constructor(
    private readonly hub: WatchHub,
    readonly sink: WatchSink,
  ) {}

  forEachWatcher(visit: (w: Watcher) => void): void {
    for (const w of this.watchers.values()) visit(w);
  }

  congested(): boolean {
    return this.sink.pendingBytes() >= this.hub.pendingBytesMax;
  }

  /** The client read some of what was queued: catch up the watchers that had to wait. */
  drained(): void {
    if (!this.congested()) this.hub.scheduleSync();
  }

  handle(req: WatchRequest): void {
    if (this.closed) return;
    if (this.deferred !== null) {
      this.deferred.push(req);
      return;
    }
    const wait = this.hub.visible();
    if (wait === null) return this.process(req);
    this.deferred = [req];
    void wait.then(() => {
      const reqs = this.deferred ?? [];
      this.deferred = null;
      for (const r of reqs) if (!this.closed) this.process(r);
    });
  }

  private process(req: WatchRequest): void {
    if (req.create_request !== undefined) this.create(req.create_request);
    else if (req.cancel_request !== undefined) this.cancel(req.cancel_request.watch_id);
    else if (req.progress_request !== undefined) {
      this.progressRequested = true;
      this.maybeSendProgress();
    }
  }

  private create(req: WatchCreateRequest): void {
    const refuse = (reason: string): void =>
      this.sink.send({ header: this.hub.currentHeader(), watch_id: -1, created: true, canceled: true, cancel_reason: reason, events: [] });
    let id = req.watch_id ?? 0;
    if (id !== 0) {
      if (this.watchers.has(id)) return refuse(DUPLICATE_ID);
    } else {
      while (this.watchers.has(this.nextAutoId)) this.nextAutoId++;
      id = this.nextAutoId++;
    }
    // the created response goes out before any event of the watcher
    const header = this.hub.currentHeader();
    const w = this.hub.register(this, id, req);
    if (typeof w === 'string') return refuse(w);
    this.watchers.set(id, w);
    this.sink.send({ header, watch_id: id, created: true, events: [] });
  }

  private cancel(id: number): void {
    const w = this.watchers.get(id);
    if (w === undefined) return;
    this.watchers.delete(id);
    this.hub.unregister(w);
    this.sink.send({ header: this.hub.currentHeader(), watch_id: id, canceled: true, events: [] });
    this.maybeSendProgress();
  }

  cancelCompacted(w: Watcher, compactRevision: number): void {
    this.watchers.delete(w.id);
    this.hub.unregister(w);
    // etcd's header for it carries revision 0: mvcc's compaction response has no revision
    this.sink.send({ header: this.hub.headerAt(0), watch_id: w.id, canceled: true, compact_revision: compactRevision, events: [] });
    this.maybeSendProgress(); // a progress request may have been waiting for this watcher alone
  }

  /** A progress request is answered once every watcher of the stream is synced (what it reports is then true). */
  maybeSendProgress(): void {
    if (!this.progressRequested || this.closed) return;
    for (const w of this.watchers.values()) if (!w.synced) return;
    this.progressRequested = false;
    this.sink.send({ header: this.hub.progressHeader(), watch_id: -1, events: [] });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) this.hub.unregister(w);
    this.watchers.clear();
    this.hub.streamClosed(this);
  }
}
