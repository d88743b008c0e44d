// Worker-thread read loop (run as one long piscina task per thread): takes Range requests from its request ring,
// evaluates them with src/mvcc's range() on a fresh LMDB read snapshot, encodes the response itself and puts the bytes
// on its reply ring; the main thread frames them for the client without decoding them.
//
// Request message: msgpack [id, RangeRequest, header {cluster_id, member_id, raft_term}]. Reply message: u32 id (LE),
// u8 status (1 response, 0 etcd error {code, message}, 2 too large for the ring: evaluate elsewhere), msgpack body.
// An empty request message stops the loop.

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

let tables: ReturnType<typeof openTables> | null = null;
/** empty polls of the request ring before the worker sleeps in Atomics.wait */
const SPIN_POLLS = 2000;

function reply(id: number, status: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(0, id, true);
  out[4] = status;
  out.set(body, 5);
  return out;
}

export default function serve(task: ReadLoopTask): string {
  tables ??= openTables(task.dbPath);
  const t = tables;
  const requests = new Ring(task.requests);
  const replies = new Ring(task.replies);
  for (;;) {
    let m = requests.pop();
    // spin briefly before sleeping: a futex wake-up per request costs more than the read itself
    for (let spin = 0; m === null && spin < SPIN_POLLS; spin++) m = requests.pop();
    if (m === null) {
      requests.waitForData(1000);
      continue;
    }
    if (m.length === 0) return 'stopped';
    const [id, request, header] = unpackr.unpack(m) as [number, RangeRequest, Omit<ResponseHeader, 'revision'>];
    let out: Uint8Array;
    // a fresh snapshot per request: it sees every apply committed before the request was sent
    t.env.resetReadTxn();
    try {
      const state = readPersistedState(t.meta);
      const r = range(t, state, request);
      out = reply(id, REPLY_OK, packr.pack({ header: { ...header, revision: r.revision }, kvs: r.kvs, more: r.more, count: r.count }));
    } catch (err) {
      const e = toEtcdError(err);
      out = reply(id, REPLY_ERROR, packr.pack({ code: e.code, message: e.message }));
    }
    if (out.length > replies.messageBytesMax) out = reply(id, REPLY_TOO_LARGE, new Uint8Array(0));
    while (!replies.push(out)) replies.waitForSpace(out.length, 1000);
  }
}
