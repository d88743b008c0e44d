// Worker-thread read loop (run as one long piscina task per thread): takes batches of reads (Range requests and
// Txns without writes) from its request ring, evaluates each with src/mvcc on one fresh LMDB read snapshot per batch,
// encodes the responses itself and puts them on its reply ring as one message per batch. The main thread writes each
// response's 12-byte frame header into the space left for it in front of the body and hands the bytes to the socket
// without decoding them. Batches are what make it pay: one cross-thread wake-up per batch, not per read.
// Protocol: src/server/read-protocol.ts.

import { EtcdError, toEtcdError } from '../src/errors/index.js';
import { MvccTxn, range, type MvccState } from '../src/mvcc/index.js';
import { decodeRequest, packr, unpackr, type RangeRequest, type ResponseHeader, type TxnRequest } from '../src/proto/index.js';
import { openTables, readPersistedState } from '../src/storage/index.js';
import { Ring } from '../src/ring/index.js';
import {
  COUNTER_TOO_LARGE_ENCODED,
  COUNTER_TOO_LARGE_STOPPED,
  READ_METHOD_RANGE,
  REPLY_ENTRY_BYTES,
  REPLY_ERROR,
  REPLY_FRAME_SPACE,
  REPLY_OK,
  REPLY_TOO_LARGE,
  REQUEST_BATCH_HEADER_BYTES,
  REQUEST_ENTRY_BYTES,
  type ReadLoopTask,
} from '../src/server/read-protocol.js';

const REPLY_PREFIX = REPLY_ENTRY_BYTES + REPLY_FRAME_SPACE;
/** msgpackr's RESERVE_START_SPACE flag: the packed buffer starts with REPLY_PREFIX bytes for us to fill */
const RESERVE_START_SPACE = 2048;

let tables: ReturnType<typeof openTables> | null = null;
/** empty polls of the request ring before the worker sleeps in Atomics.wait (a futex wake-up costs more than a poll) */
const SPIN_POLLS = 200;

/** Builds one reply message from packed entries, growing as needed. */
class ReplyWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  length = 0;

  add(entry: Uint8Array): void {
    if (this.length + entry.length > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + entry.length));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    this.buf.set(entry, this.length);
    this.length += entry.length;
  }

  take(): Uint8Array {
    const out = this.buf.subarray(0, this.length);
    this.length = 0;
    return out;
  }
}

/** Packs `value` with the entry prefix in front of it: one buffer, no intermediate copy. */
function entry(id: number, status: number, value: unknown): Buffer {
  const b = packr.pack(value, RESERVE_START_SPACE | REPLY_PREFIX) as Buffer;
  b.writeUInt32LE(id, 0);
  b[4] = status;
  b.writeUInt32LE(b.length - REPLY_PREFIX, 5);
  return b;
}

function tooLarge(id: number): Buffer {
  const b = Buffer.alloc(REPLY_PREFIX);
  b.writeUInt32LE(id, 0);
  b[4] = REPLY_TOO_LARGE;
  return b;
}

/** Evaluates one read; a Range whose keys and values exceed `rangeBytesMax` throws ResponseTooLarge part way. */
function evaluate(t: NonNullable<typeof tables>, state: MvccState, header: Omit<ResponseHeader, 'revision'>, method: number, body: Uint8Array, txnOpsMax: number, rangeBytesMax: number): unknown {
  const decoded = unpackr.unpack(body) as { request?: unknown };
  if (method === READ_METHOD_RANGE) {
    const req = decodeRequest('Range', decoded.request ?? {}, txnOpsMax) as RangeRequest;
    const r = range(t, state, req, rangeBytesMax);
    return { header: { ...header, revision: r.revision }, kvs: r.kvs, more: r.more, count: r.count };
  }
  const req = decodeRequest('Txn', decoded.request ?? {}, txnOpsMax) as TxnRequest;
  const r = new MvccTxn(t, { ...state }, undefined, true).txn(req);
  return { header: { ...header, revision: r.header.revision }, succeeded: r.succeeded, responses: r.responses };
}

export default function serve(task: ReadLoopTask): string {
  tables ??= openTables(task.dbPath);
  const t = tables;
  const requests = new Ring(task.requests);
  const replies = new Ring(task.replies);
  const writer = new ReplyWriter();
  const messageMax = replies.messageBytesMax / 2;
  // an entry is its prefix and more than its kvs' keys and values: past this, it cannot fit
  const rangeBytesMax = messageMax - REPLY_PREFIX;
  const counters = new Int32Array(task.counters);
  const flush = (): void => {
    if (writer.length === 0) return;
    const out = writer.take();
    while (!replies.push(out)) replies.waitForSpace(out.length, 1000);
  };
  for (;;) {
    const m = requests.take(SPIN_POLLS, 1000);
    if (m === null) continue;
    if (m.length === 0) return 'stopped';
    const view = new DataView(m.buffer, m.byteOffset, m.byteLength);
    const header = { cluster_id: view.getBigUint64(0, true), member_id: view.getBigUint64(8, true), raft_term: view.getFloat64(16, true) };
    // one fresh snapshot per batch: it sees every apply committed before the batch was sent
    t.env.resetReadTxn();
    const state = readPersistedState(t.meta);
    for (let at = REQUEST_BATCH_HEADER_BYTES; at < m.length; ) {
      const id = view.getUint32(at, true);
      const method = m[at + 4]!;
      const length = view.getUint32(at + 5, true);
      const body = m.subarray(at + REQUEST_ENTRY_BYTES, at + REQUEST_ENTRY_BYTES + length);
      at += REQUEST_ENTRY_BYTES + length;
      let e: Buffer;
      try {
        e = entry(id, REPLY_OK, evaluate(t, state, header, method, body, task.txnOpsMax, rangeBytesMax));
      } catch (err) {
        if (err instanceof EtcdError && err.name === 'ResponseTooLarge') {
          Atomics.add(counters, COUNTER_TOO_LARGE_STOPPED, 1);
          e = tooLarge(id);
        } else {
          const x = toEtcdError(err);
          e = entry(id, REPLY_ERROR, { code: x.code, message: x.message });
        }
      }
      if (e.length > messageMax) {
        // a Txn's ranges, or an encoding overhead the budget could not see: built for nothing
        Atomics.add(counters, COUNTER_TOO_LARGE_ENCODED, 1);
        e = tooLarge(id);
      }
      // a reply message must fit the ring: send what is gathered before it would not
      if (writer.length + e.length > messageMax) flush();
      writer.add(e);
    }
    flush();
    // release the snapshot before waiting: a read transaction held while idle stops LMDB from reusing freed pages
    t.env.resetReadTxn();
  }
}
