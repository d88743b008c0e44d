// Range reads in worker threads: a piscina pool whose threads each run one long task, the read loop of
// workers/read-worker.ts, fed through a pair of SharedArrayBuffer rings (requests in, encoded responses out). The
// main thread never blocks: it pushes (waiting asynchronously when a ring is full, which is backpressure) and drains
// replies with Atomics.waitAsync. A worker that dies is replaced and the reads it held are sent again (reads change
// nothing, so none is lost and each is answered once).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { READ_BATCH_REQUESTS_MAX, READ_REPLY_RING_BYTES, READ_REQUEST_RING_BYTES } from '../config/limits.js';
import { EtcdError } from '../errors/index.js';
import { packr, unpackr, type RangeRequest, type ResponseHeader } from '../proto/index.js';
import { Ring } from '../../workers/ring.js';

const workerFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../workers/read-worker.js');

const REPLY_OK = 1;
const REPLY_TOO_LARGE = 2;

/** A response the worker encoded: the front end frames these bytes as they are. */
export class EncodedResponse {
  constructor(readonly body: Uint8Array) {}
}

interface Pending {
  /** [id, request, header], as the worker takes it */
  request: unknown[];
  resolve(r: EncodedResponse | null): void;
  reject(err: Error): void;
}

interface Slot {
  requests: Ring;
  replies: Ring;
  pending: Map<number, Pending>;
  /** requests of this event-loop turn, sent as one message when the turn ends */
  batch: unknown[][];
  alive: boolean;
}

export class ReadPool {
  private readonly pool: Piscina;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  private restarts = 0;

  constructor(
    private readonly dbPath: string,
    threads: number,
  ) {
    this.pool = new Piscina({ filename: workerFile, minThreads: threads, maxThreads: threads, idleTimeout: Infinity, atomics: 'disabled' });
    for (let i = 0; i < threads; i++) this.slots.push(this.start());
  }

  private start(): Slot {
    const slot: Slot = { requests: Ring.create(READ_REQUEST_RING_BYTES), replies: Ring.create(READ_REPLY_RING_BYTES), pending: new Map(), batch: [], alive: true };
    this.pool.run({ requests: slot.requests.buffer, replies: slot.replies.buffer, dbPath: this.dbPath }).then(
      () => this.ended(slot),
      () => this.ended(slot),
    );
    void this.drain(slot);
    return slot;
  }

  /** The worker's loop ended (stopped, or the thread died): replace it and resend what it held. */
  private ended(slot: Slot): void {
    slot.alive = false;
    const i = this.slots.indexOf(slot);
    if (this.closed || i < 0) {
      for (const p of slot.pending.values()) p.resolve(null);
      return;
    }
    this.restarts++;
    const fresh = this.start();
    this.slots[i] = fresh;
    for (const [id, p] of slot.pending) {
      fresh.pending.set(id, p);
      this.enqueue(fresh, p.request);
    }
    slot.pending.clear();
  }

  /** Adds a request to the slot's batch for this turn; the batch leaves when the turn ends. */
  private enqueue(slot: Slot, request: unknown[]): void {
    slot.batch.push(request);
    if (slot.batch.length === 1) setImmediate(() => this.flush(slot));
  }

  private flush(slot: Slot): void {
    const batch = slot.batch;
    slot.batch = [];
    if (batch.length === 0 || !slot.alive) {
      // the slot died meanwhile: its pending reads (these included) went to its successor
      return;
    }
    // keep each message well inside the ring
    let part: unknown[][] = [];
    const send = (): void => {
      const message = Uint8Array.from(packr.pack(part));
      if (!slot.requests.push(message)) void slot.requests.pushAsync(message);
      part = [];
    };
    for (const r of batch) {
      part.push(r);
      if (part.length >= READ_BATCH_REQUESTS_MAX) send();
    }
    if (part.length > 0) send();
  }

  private async drain(slot: Slot): Promise<void> {
    while (slot.alive && !this.closed) {
      const m = slot.replies.pop();
      if (m === null) {
        await slot.replies.waitForDataAsync(500);
        continue;
      }
      const view = new DataView(m.buffer, m.byteOffset, m.byteLength);
      for (let at = 0; at < m.length; ) {
        const id = view.getUint32(at, true);
        const status = m[at + 4];
        const length = view.getUint32(at + 5, true);
        const body = m.subarray(at + 9, at + 9 + length);
        at += 9 + length;
        const p = slot.pending.get(id);
        if (p === undefined) continue; // answered already
        slot.pending.delete(id);
        if (status === REPLY_OK) p.resolve(new EncodedResponse(body));
        else if (status === REPLY_TOO_LARGE) p.resolve(null);
        else {
          const e = unpackr.unpack(body) as { code: number; message: string };
          p.reject(new EtcdError(e.code, e.message));
        }
      }
    }
  }

  /**
   * A range evaluated by a worker, as the encoded response; null when the worker cannot carry it (a response larger
   * than its ring), for the caller to evaluate on the main thread.
   */
  range(request: RangeRequest, header: Omit<ResponseHeader, 'revision'>): Promise<EncodedResponse | null> {
    if (this.closed) return Promise.resolve(null);
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fff_ffff ? 1 : this.nextId + 1;
    const entry = [id, request, header];
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.pending.size < slot.pending.size) slot = s;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { request: entry, resolve, reject });
      this.enqueue(slot, entry);
    });
  }

  /** Fault hook for tests: terminates one worker thread as if it had crashed. */
  async crashOneWorkerForTest(): Promise<void> {
    await this.pool.threads[0]?.terminate();
  }

  get stats(): { threads: number; pending: number; restarts: number } {
    return { threads: this.slots.length, pending: this.slots.reduce((n, s) => n + s.pending.size, 0), restarts: this.restarts };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.slots) {
      s.requests.push(new Uint8Array(0));
      for (const p of s.pending.values()) p.resolve(null);
      s.pending.clear();
    }
    await this.pool.destroy();
  }
}
