// Reads in worker threads: a piscina pool whose threads each run one long task, the read loop of
// workers/read-worker.ts, fed through a pair of SharedArrayBuffer rings (requests in, encoded responses out). The
// main thread never blocks: it pushes (waiting asynchronously when a ring is full, which is backpressure) and drains
// replies with Atomics.waitAsync. A worker that dies is replaced and the reads it held are sent again (reads change
// nothing, so none is lost and each is answered once).
//
// Batching: the reads one socket chunk carries leave together, in one ring message, as soon as that chunk has been
// handled (a microtask), not at the end of the event-loop turn: while a worker evaluates one connection's reads the
// main thread is already decoding the next connection's, instead of the two taking turns.

import { systemClock, type Clock } from '../clock/index.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { READ_BATCH_REQUESTS_MAX, READ_REPLY_RING_BYTES, READ_REQUEST_RING_BYTES } from '../config/limits.js';
import { etcdError, fromStatus } from '../errors/index.js';
import { FRAME_HEADER_BYTES, packr, unpackr, type ResponseHeader } from '../proto/index.js';
import { reportWorkerFailure, Ring, superviseRingWorker, WORKER_EXEC_ARGV } from '../ring/index.js';
import {
  COUNTER_TOO_LARGE_ENCODED,
  COUNTER_TOO_LARGE_STOPPED,
  READ_COUNTERS,
  READ_METHOD_RANGE,
  READ_METHOD_TXN,
  REPLY_ENTRY_BYTES,
  REPLY_ERROR,
  REPLY_FRAME_SPACE,
  REPLY_OK,
  REQUEST_BATCH_HEADER_BYTES,
  REQUEST_ENTRY_BYTES,
  type ReadLoopTask,
} from './read-protocol.js';

const workerFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../workers/read-worker.js');

/**
 * A response a worker encoded: `frame` is the msgpack body with FRAME_HEADER_BYTES free in front of it, for the
 * binary front end to write its frame header into and send as it is.
 */
export class EncodedResponse {
  constructor(readonly frame: Buffer) {}

  get body(): Buffer {
    return this.frame.subarray(FRAME_HEADER_BYTES);
  }
}

export type WorkerReadMethod = 'Range' | 'Txn';

interface Pending {
  /** workers that died holding this read; past READ_ATTEMPTS_MAX it fails instead of killing another */
  attempts: number;
  method: number;
  /** the request as msgpack {method, request} */
  body: Uint8Array;
  resolve(r: EncodedResponse | null): void;
  reject(err: Error): void;
}

interface Slot {
  requests: Ring;
  replies: Ring;
  pending: Map<number, Pending>;
  /** ids of reads not yet sent, sent as one message when the current chunk of work ends */
  batch: number[];
  alive: boolean;
  startedAt: number;
}

/** Workers a read may see die before it fails (a read that kills every thread it reaches must not loop forever). */
const READ_ATTEMPTS_MAX = 3;
/** A worker that dies sooner than this after starting is restarted only after RESTART_DELAY_MS (a broken start-up). */
const YOUNG_MS = 250;
const RESTART_DELAY_MS = 1000;

export class ReadPool {
  /** null until the first read that goes to a worker: an idle member, or one serving only single-key reads, runs none */
  private pool: Piscina | null = null;
  /** null while a slot waits to be restarted: reads then go to the other slots, or to the main thread */
  private readonly slots: (Slot | null)[] = [];
  private nextId = 1;
  private closed = false;
  private restarts = 0;
  /** shared with every worker (read-protocol.ts COUNTER_*) */
  private readonly counters = new Int32Array(new SharedArrayBuffer(READ_COUNTERS * Int32Array.BYTES_PER_ELEMENT));
  constructor(
    private readonly dbPath: string,
    /** threads the pool runs once started */
    readonly threads: number,
    private readonly txnOpsMax: number,
    /** the response header fields a batch's responses carry (the revision comes from the worker's snapshot) */
    private readonly header: () => Omit<ResponseHeader, 'revision'>,
    /** when a worker died young, and the delay before it is tried again */
    private readonly clock: Clock = systemClock,
  ) {
    if (REPLY_FRAME_SPACE !== FRAME_HEADER_BYTES) throw new Error('read pool: reply frame space does not match the frame header');
  }

  /**
   * Starts the threads (the first read for a worker does it). Each thread is a Node isolate of its own (about 14 MiB
   * idle) with 17 MiB of rings, so a member pays for them only once reads need them; the reads sent meanwhile wait in
   * the rings for the threads to come up, as the first reads after a start always did.
   */
  private startThreads(): void {
    this.pool = new Piscina({ filename: workerFile, minThreads: this.threads, maxThreads: this.threads, idleTimeout: Infinity, atomics: 'disabled', execArgv: [...WORKER_EXEC_ARGV] });
    for (let i = 0; i < this.threads; i++) this.slots.push(this.start());
  }

  private start(): Slot {
    const pool = this.pool;
    if (pool === null) throw new Error('read pool: a worker slot started before the pool');
    const slot: Slot = { requests: Ring.create(READ_REQUEST_RING_BYTES), replies: Ring.create(READ_REPLY_RING_BYTES), pending: new Map(), batch: [], alive: true, startedAt: this.clock.now() };
    const task: ReadLoopTask = { requests: slot.requests.buffer, replies: slot.replies.buffer, dbPath: this.dbPath, txnOpsMax: this.txnOpsMax, counters: this.counters.buffer as SharedArrayBuffer };
    superviseRingWorker(slot, pool.run(task), this.drain(slot), (failure) => this.ended(slot, failure));
    return slot;
  }

  /** The worker's loop ended (stopped, or the thread died): replace it and resend what it held. */
  private ended(slot: Slot, failure: unknown): void {
    if (failure !== undefined && !this.closed) reportWorkerFailure('read', failure);
    slot.alive = false;
    const i = this.slots.indexOf(slot);
    if (this.closed || i < 0) {
      for (const p of slot.pending.values()) p.resolve(null);
      return;
    }
    this.restarts++;
    const held = [...slot.pending];
    slot.pending.clear();
    const restart = (): void => {
      if (this.closed) return;
      const fresh = this.start();
      this.slots[i] = fresh;
      for (const [id, p] of held) {
        if (++p.attempts >= READ_ATTEMPTS_MAX) {
          p.reject(etcdError('ReadWorkerDied'));
          continue;
        }
        fresh.pending.set(id, p);
        this.enqueue(fresh, id);
      }
    };
    if (this.clock.now() - slot.startedAt >= YOUNG_MS) return restart();
    // died young: wait before trying again; meanwhile its reads, and new ones, are evaluated on the main thread
    this.slots[i] = null;
    for (const [, p] of held) p.resolve(null);
    held.length = 0;
    this.clock.setTimeout(restart, RESTART_DELAY_MS);
  }

  private enqueue(slot: Slot, id: number): void {
    slot.batch.push(id);
    if (slot.batch.length === 1) queueMicrotask(() => this.flush(slot));
  }

  /** Sends the batch in messages of at most READ_BATCH_REQUESTS_MAX reads and half the ring's largest message. */
  private flush(slot: Slot): void {
    const batch = slot.batch;
    slot.batch = [];
    // a slot that died meanwhile handed its pending reads (these included) to its successor
    if (batch.length === 0 || !slot.alive) return;
    const bytesMax = slot.requests.messageBytesMax / 2;
    let part: Pending[] = [];
    let partIds: number[] = [];
    let bytes = REQUEST_BATCH_HEADER_BYTES;
    for (const id of batch) {
      const p = slot.pending.get(id);
      if (p === undefined) continue;
      const size = REQUEST_ENTRY_BYTES + p.body.length;
      if (REQUEST_BATCH_HEADER_BYTES + size > bytesMax) {
        // too big for the ring (a txn with a huge compare value): the main thread evaluates it
        slot.pending.delete(id);
        p.resolve(null);
        continue;
      }
      if (part.length >= READ_BATCH_REQUESTS_MAX || bytes + size > bytesMax) {
        this.send(slot, partIds, part, bytes);
        part = [];
        partIds = [];
        bytes = REQUEST_BATCH_HEADER_BYTES;
      }
      part.push(p);
      partIds.push(id);
      bytes += size;
    }
    if (part.length > 0) this.send(slot, partIds, part, bytes);
  }

  private send(slot: Slot, ids: number[], parts: Pending[], bytes: number): void {
    const message = Buffer.allocUnsafe(bytes);
    const h = this.header();
    message.writeBigUInt64LE(BigInt(h.cluster_id), 0);
    message.writeBigUInt64LE(BigInt(h.member_id), 8);
    message.writeDoubleLE(Number(h.raft_term), 16);
    let at = REQUEST_BATCH_HEADER_BYTES;
    for (let i = 0; i < ids.length; i++) {
      const p = parts[i]!;
      message.writeUInt32LE(ids[i]!, at);
      message[at + 4] = p.method;
      message.writeUInt32LE(p.body.length, at + 5);
      message.set(p.body, at + REQUEST_ENTRY_BYTES);
      at += REQUEST_ENTRY_BYTES + p.body.length;
    }
    if (!slot.requests.push(message)) void slot.requests.pushAsync(message);
  }

  private async drain(slot: Slot): Promise<void> {
    for await (const m of slot.replies.messages(() => slot.alive && !this.closed)) {
      const buf = Buffer.from(m.buffer, m.byteOffset, m.byteLength);
      for (let at = 0; at < buf.length; ) {
        const id = buf.readUInt32LE(at);
        const status = buf[at + 4];
        const length = buf.readUInt32LE(at + 5);
        const frame = buf.subarray(at + REPLY_ENTRY_BYTES, at + REPLY_ENTRY_BYTES + REPLY_FRAME_SPACE + length);
        at += REPLY_ENTRY_BYTES + REPLY_FRAME_SPACE + length;
        const p = slot.pending.get(id);
        if (p === undefined) continue; // answered already
        slot.pending.delete(id);
        // a small answer must not keep the whole reply message alive while a slow client holds it
        if (status === REPLY_OK) p.resolve(new EncodedResponse(frame.length * 4 < buf.length ? Buffer.from(frame) : frame));
        else if (status === REPLY_ERROR) {
          const e = unpackr.unpack(frame.subarray(REPLY_FRAME_SPACE)) as { code: number; message: string };
          p.reject(fromStatus(e.code, e.message));
        } else p.resolve(null);
      }
    }
  }

  /**
   * A read evaluated by a worker, as the encoded response; null when the worker cannot carry it (a response larger
   * than its ring), for the caller to evaluate on the main thread. `body` is the request as msgpack
   * {method, request}, e.g. the frame body the client sent (validated already: the worker validates it again).
   */
  read(method: WorkerReadMethod, body: Uint8Array): Promise<EncodedResponse | null> {
    if (this.closed) return Promise.resolve(null);
    if (this.pool === null) this.startThreads();
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fff_ffff ? 1 : this.nextId + 1;
    let slot: Slot | null = null;
    for (const s of this.slots) if (s !== null && (slot === null || s.pending.size < slot.pending.size)) slot = s;
    if (slot === null) return Promise.resolve(null); // every worker is waiting to be restarted
    const chosen = slot;
    return new Promise((resolve, reject) => {
      chosen.pending.set(id, { attempts: 0, method: method === 'Range' ? READ_METHOD_RANGE : READ_METHOD_TXN, body, resolve, reject });
      this.enqueue(chosen, id);
    });
  }

  /** The request body for a read that did not arrive as bytes (an in-process caller, the HTTP front end). */
  static encodeRequest(method: WorkerReadMethod, request: unknown): Uint8Array {
    return Uint8Array.from(packr.pack({ method, request }));
  }

  /** Fault hook for tests: terminates one worker thread as if it had crashed. */
  async crashOneWorkerForTest(): Promise<void> {
    await this.pool?.threads[0]?.terminate();
  }

  /**
   * threads running (0 until the first read for a worker) and reads in flight; restarts of dead workers; ring bytes in
   * use; reads too large for a worker's reply, evaluated on the main thread instead: stopped early by the worker, or
   * (work lost) encoded whole first.
   */
  get stats(): { threads: number; pending: number; restarts: number; requestRingBytes: number; replyRingBytes: number; tooLargeStopped: number; tooLargeEncoded: number } {
    let requestRingBytes = 0;
    let replyRingBytes = 0;
    let pending = 0;
    for (const s of this.slots) {
      if (s === null) continue;
      requestRingBytes += s.requests.usedBytes;
      replyRingBytes += s.replies.usedBytes;
      pending += s.pending.size;
    }
    return {
      threads: this.pool === null ? 0 : this.slots.length,
      pending,
      restarts: this.restarts,
      requestRingBytes,
      replyRingBytes,
      tooLargeStopped: Atomics.load(this.counters, COUNTER_TOO_LARGE_STOPPED),
      tooLargeEncoded: Atomics.load(this.counters, COUNTER_TOO_LARGE_ENCODED),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.slots) {
      if (s === null) continue;
      s.requests.push(new Uint8Array(0));
      for (const p of s.pending.values()) p.resolve(null);
      s.pending.clear();
    }
    await this.pool?.destroy();
  }
}

/** A range of at most one key (no range_end). */
export function isPointRead(req: { range_end?: Uint8Array | undefined }): boolean {
  return req.range_end === undefined || req.range_end.length === 0;
}
