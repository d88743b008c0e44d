// Watch filtering in a worker thread: a piscina pool of one thread running one long task, the filter loop of
// workers/watch-filter-worker.ts, fed through a pair of SharedArrayBuffer rings. The hub tells it every change to its
// synced watchers and submits applied batches; it sends them down the request ring in that order, so the worker
// matches batch R against the synced watchers as they were when R was applied, and hands each reply back to the hub.
//
// One thread, not several partitioning the watchers: each batch's answer then comes back whole and in order (no
// merging of partial answers per batch on the main thread), and one thread's stab over a RangeIndex, O(log ranges +
// matches) per event, outpaces what the main thread can send to clients anyway; the read pool keeps the other cores.
//
// Registration changes wait in a map by watcher until the next batch is sent (changes to different watchers commute,
// only a watcher's last state matters), so they are bounded by the watchers and need no queue. The ring being full
// is backpressure: submit() returns false and the hub matches that batch itself; nothing waits, nothing grows.
// A worker that dies is replaced, given the current synced watchers, and sent the batches it had not answered.
//
// The thread starts with the first batch worth sending to it (WATCH_FILTER_WORKER_MIN_WATCHERS synced watchers on
// WATCH_FILTER_WORKER_MIN_RANGES ranges); the registration changes made until then wait in the map as they always
// did, and go first. A member that never has that many watchers never pays for the isolate (about 14 MiB) and its
// 12 MiB of rings.

import { systemClock, type Clock } from '../clock/index.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { WATCH_FILTER_CHANGES_MESSAGE_BYTES_MAX, WATCH_FILTER_REPLY_RING_BYTES, WATCH_FILTER_REQUEST_RING_BYTES } from '../config/limits.js';
import { packr, type Event } from '../proto/index.js';
import { reportWorkerFailure, Ring, RingFullError, superviseRingWorker, WORKER_EXEC_ARGV } from '../ring/index.js';
import { addItem, addItemBytes, batchItem, decodeReply, ITEM_CRASH, ITEM_REMOVE, REPLY_OK, type FilterWatcher, type RequestItem } from './filter-protocol.js';

const workerFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../workers/watch-filter-worker.js');

/** What the pool needs from the hub it serves. */
export interface WatchFilterClient {
  /** the synced watchers now (to rebuild a replaced worker's view) */
  syncedWatchers(): Iterable<FilterWatcher>;
  /** the worker's answer for batch `seq` (per watcher serial, event indices), or null: match it yourself */
  filtered(seq: number, words: Int32Array | null): void;
}

/** The hub's side of a watch filter (a worker pool, or a stand-in in tests). */
export interface WatchFilter {
  attach(client: WatchFilterClient): void;
  detach(): void;
  added(w: FilterWatcher): void;
  removed(serial: number): void;
  /** Sends a batch to be matched; false when it cannot go now (ring full, worker down): the hub matches it itself. */
  submit(seq: number, events: readonly Event[]): boolean;
  /** The hub delivered `seq` without the worker's answer: do not send it again. */
  forget(seq: number): void;
}

interface Slot {
  requests: Ring;
  replies: Ring;
  alive: boolean;
  startedAt: number;
}

/** A worker that ends within YOUNG_MS of starting is restarted only after RESTART_DELAY_MS (no crash loop). */
const YOUNG_MS = 250;
const RESTART_DELAY_MS = 1000;

export class WatchFilterPool implements WatchFilter {
  /** both null until the first batch is submitted */
  private pool: Piscina | null = null;
  private slot: Slot | null = null;
  private client: WatchFilterClient | null = null;
  /** registration changes not yet sent, by serial: the watcher to (re)add, or null to remove */
  private readonly changes = new Map<number, FilterWatcher | null>();
  /** serials in the worker's view once it has read everything sent */
  private readonly known = new Set<number>();
  /** batches sent and not answered, in order (kept for a resend after a crash) */
  private readonly inflight = new Map<number, readonly Event[]>();
  private closed = false;
  private crashOnNextBatch = false;
  readonly stats = { batchesSent: 0, batchesAnswered: 0, batchesRefused: 0, restarts: 0, resent: 0 };

  /** `clock`: when a worker died young, and the delay before it is tried again */
  constructor(private readonly clock: Clock = systemClock) {}

  /** Whether the worker thread has been started (by the first batch submitted). */
  get started(): boolean {
    return this.pool !== null;
  }

  private startThread(): Slot {
    this.pool = new Piscina({ filename: workerFile, minThreads: 1, maxThreads: 1, idleTimeout: Infinity, atomics: 'disabled', execArgv: [...WORKER_EXEC_ARGV] });
    const slot = this.start(this.pool);
    this.slot = slot;
    return slot;
  }

  private start(pool: Piscina): Slot {
    const slot: Slot = {
      requests: Ring.create(WATCH_FILTER_REQUEST_RING_BYTES),
      replies: Ring.create(WATCH_FILTER_REPLY_RING_BYTES),
      alive: true,
      startedAt: this.clock.now(),
    };
    superviseRingWorker(slot, pool.run({ requests: slot.requests.buffer, replies: slot.replies.buffer }), this.drain(slot), (failure) => this.ended(slot, failure));
    return slot;
  }

  attach(client: WatchFilterClient): void {
    this.client = client;
  }

  detach(): void {
    this.client = null;
    for (const seq of this.inflight.keys()) this.forget(seq);
  }

  added(w: FilterWatcher): void {
    this.changes.set(w.serial, w);
  }

  removed(serial: number): void {
    if (this.known.has(serial)) this.changes.set(serial, null);
    else this.changes.delete(serial);
  }

  forget(seq: number): void {
    this.inflight.delete(seq);
  }

  submit(seq: number, events: readonly Event[]): boolean {
    if (this.closed) return false;
    const slot = this.slot ?? this.startThread();
    if (!slot.alive || !this.sendChanges(slot)) return false;
    let message: Uint8Array;
    try {
      const items: RequestItem[] = [batchItem(seq, events)];
      if (this.crashOnNextBatch) items.unshift([ITEM_CRASH]);
      message = packr.pack(items);
      if (!slot.requests.push(message)) return false;
    } catch (err) {
      if (err instanceof RingFullError) return false; // a batch larger than the ring: matched on the main thread
      throw err;
    }
    this.inflight.set(seq, events);
    this.crashOnNextBatch = false;
    this.stats.batchesSent++;
    return true;
  }

  /** Sends the pending registration changes, in bounded messages; false if some could not go (the ring is full). */
  private sendChanges(slot: Slot): boolean {
    while (this.changes.size > 0) {
      const items: RequestItem[] = [];
      const sent: [number, boolean][] = [];
      let bytes = 0;
      for (const [serial, w] of this.changes) {
        if (items.length > 0 && bytes >= WATCH_FILTER_CHANGES_MESSAGE_BYTES_MAX) break;
        items.push(w === null ? [ITEM_REMOVE, serial] : addItem(w));
        sent.push([serial, w !== null]);
        bytes += w === null ? 16 : addItemBytes(w);
      }
      let pushed: boolean;
      try {
        pushed = slot.requests.push(packr.pack(items));
      } catch (err) {
        if (err instanceof RingFullError) throw new Error(`watch filter: a registration change of ${bytes} bytes exceeds the request ring`);
        throw err;
      }
      if (!pushed) return false;
      for (const [serial, present] of sent) {
        this.changes.delete(serial);
        if (present) this.known.add(serial);
        else this.known.delete(serial);
      }
    }
    return true;
  }

  private async drain(slot: Slot): Promise<void> {
    for await (const m of slot.replies.messages(() => slot.alive && !this.closed)) {
      const reply = decodeReply(m);
      // answered already (delivered by the hub itself, or by this worker's predecessor): nothing to do
      if (!this.inflight.delete(reply.seq)) continue;
      this.stats.batchesAnswered++;
      if (reply.status !== REPLY_OK) this.stats.batchesRefused++;
      this.client?.filtered(reply.seq, reply.status === REPLY_OK ? reply.words : null);
    }
  }

  /** The worker's loop ended (stopped, or the thread died): replace it, rebuild its view, resend what it held. */
  private ended(slot: Slot, failure: unknown): void {
    if (failure !== undefined && !this.closed) reportWorkerFailure('watch filter', failure);
    slot.alive = false;
    if (this.closed || slot !== this.slot) return;
    if (this.clock.now() - slot.startedAt < YOUNG_MS) {
      // it died young (a broken worker file, a crash at start-up): the hub matches everything until the retry
      const unanswered = [...this.inflight.keys()];
      this.inflight.clear();
      for (const seq of unanswered) this.client?.filtered(seq, null);
      this.clock.setTimeout(() => this.restart(slot), RESTART_DELAY_MS);
      return;
    }
    this.restart(slot);
  }

  private restart(dead: Slot): void {
    if (this.closed || dead !== this.slot || this.pool === null) return;
    this.stats.restarts++;
    this.slot = this.start(this.pool);
    this.known.clear();
    this.changes.clear();
    for (const w of this.client?.syncedWatchers() ?? []) this.changes.set(w.serial, w);
    // The new view is the synced watchers now, not as they were when these batches were applied: the hub checks
    // each answer against the watcher's state at delivery, which a view taken at any moment in between satisfies.
    const unanswered = [...this.inflight];
    this.inflight.clear();
    for (const [seq, events] of unanswered) {
      if (this.submit(seq, events)) this.stats.resent++;
      else this.client?.filtered(seq, null);
    }
  }

  /** Fault hook for tests: terminates the worker thread as if it had crashed. */
  async crashWorkerForTest(): Promise<void> {
    await this.pool?.threads[0]?.terminate();
  }

  /** Fault hook for tests: the worker thread exits on reading the next batch, which it thus holds unanswered. */
  crashWorkerOnNextBatchForTest(): void {
    this.crashOnNextBatch = true;
  }

  get inflightBatches(): number {
    return this.inflight.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.slot?.requests.push(new Uint8Array(0));
    this.inflight.clear();
    await this.pool?.destroy();
  }
}
