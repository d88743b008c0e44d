// Worker-thread read loop (run as one long piscina task per thread): takes batches of Range requests from its request
// ring, evaluates each with src/mvcc's range() on a fresh LMDB read snapshot, encodes the responses itself and puts
// them on its reply ring as one message per batch; the main thread frames the bytes for the client without decoding
// them. Batches are what make it pay: one cross-thread wake-up per event-loop turn's reads, not per read.
//
// Request message: msgpack [[id, RangeRequest, header {cluster_id, member_id, raft_term}], ...]. Reply message: per
// request u32 id, u8 status (1 response, 0 etcd error {code, message}, 2 too large for the ring: evaluate elsewhere),
// u32 body length, msgpack body (all little-endian). An empty request message stops the loop.

import { toEtcdError } from '../src/errors/index.js';
import { range } from '../src/mvcc/index.js';
import { packr, unpackr, type RangeRequest, type ResponseHeader } from '../src/proto/index.js';
import { openTables, readPersistedState } from '../src/storage/index.js';
import { Ring } from './ring.js';

export interface ReadLoopTask {
  requests: SharedArrayBuffer;
  replies: SharedArrayBuffer;
  dbPath: string;
}

export const REPLY_OK = 1;
export const REPLY_ERROR = 0;
export const REPLY_TOO_LARGE = 2;
export const REPLY_HEADER_BYTES = 9;

let tables: ReturnType<typeof openTables> | null = null;
/** empty polls of the request ring before the worker sleeps in Atomics.wait */
const SPIN_POLLS = 2000;

type ReadRequest = [number, RangeRequest, Omit<ResponseHeader, 'revision'>];

function evaluate(t: NonNullable<typeof tables>, [id, request, header]: ReadRequest): { id: number; status: number; body: Uint8Array } {
  try {
    const state = readPersistedState(t.meta);
    const r = range(t, state, request);
    // msgpackr may reuse its buffer on the next pack: copy
    return { id, status: REPLY_OK, body: Uint8Array.from(packr.pack({ header: { ...header, revision: r.revision }, kvs: r.kvs, more: r.more, count: r.count })) };
  } catch (err) {
    const e = toEtcdError(err);
    return { id, status: REPLY_ERROR, body: Uint8Array.from(packr.pack({ code: e.code, message: e.message })) };
  }
}

function encodeReplies(replies: { id: number; status: number; body: Uint8Array }[], maxBytes: number): Uint8Array {
  let total = 0;
  for (const r of replies) {
    if (REPLY_HEADER_BYTES + r.body.length > maxBytes / 2) {
      r.body = new Uint8Array(0);
      r.status = REPLY_TOO_LARGE;
    }
    total += REPLY_HEADER_BYTES + r.body.length;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const r of replies) {
    view.setUint32(at, r.id, true);
    out[at + 4] = r.status;
    view.setUint32(at + 5, r.body.length, true);
    out.set(r.body, at + REPLY_HEADER_BYTES);
    at += REPLY_HEADER_BYTES + r.body.length;
  }
  return out;
}

export default function serve(task: ReadLoopTask): string {
  tables ??= openTables(task.dbPath);
  const t = tables;
  const requests = new Ring(task.requests);
  const replies = new Ring(task.replies);
  for (;;) {
    let m = requests.pop();
    // spin briefly before sleeping: a futex wake-up costs more than a read
    for (let spin = 0; m === null && spin < SPIN_POLLS; spin++) m = requests.pop();
    if (m === null) {
      requests.waitForData(1000);
      continue;
    }
    if (m.length === 0) return 'stopped';
    const batch = unpackr.unpack(m) as ReadRequest[];
    // one fresh snapshot per batch: it sees every apply committed before the batch was sent
    t.env.resetReadTxn();
    const results = batch.map((req) => evaluate(t, req));
    // a reply message must fit the ring: split the batch's replies if they do not fit together
    let start = 0;
    while (start < results.length) {
      let end = start;
      let bytes = 0;
      while (end < results.length && (end === start || bytes + REPLY_HEADER_BYTES + results[end]!.body.length <= replies.messageBytesMax / 2)) {
        bytes += REPLY_HEADER_BYTES + results[end]!.body.length;
        end++;
      }
      const out = encodeReplies(results.slice(start, end), replies.messageBytesMax);
      while (!replies.push(out)) replies.waitForSpace(out.length, 1000);
      start = end;
    }
  }
}
