// The messages between the read pool (src/server/read-pool.ts, main thread) and its workers' read loop
// (workers/read-worker.ts), one batch of reads per message on each ring. Constants and shapes only: no I/O, no
// imports, so the worker entry point loads nothing of the server with it.
//
// Request message (little-endian): batch header u64 cluster_id, u64 member_id, f64 raft_term; then per read u32 id,
// u8 method (1 Range, 2 Txn), u32 length, the request's msgpack bytes as the client sent them (the worker validates
// them again with decodeRequest, so the main thread never re-encodes a request). An empty message stops the loop.
//
// Reply message: per read u32 id, u8 status (1 response, 0 etcd error {code, message}, 2 too large for the ring:
// evaluate elsewhere), u32 body length, 12 bytes left for the frame header, then the msgpack body. A Range whose keys
// and values alone exceed the ring's largest message is stopped there (2) without being read further or encoded.

/** The long-running piscina task each read worker runs. */
export interface ReadLoopTask {
  requests: SharedArrayBuffer;
  replies: SharedArrayBuffer;
  dbPath: string;
  txnOpsMax: number;
  /** Int32 counters shared by every worker of the pool, indexed by the COUNTER_ constants (Atomics.add) */
  counters: SharedArrayBuffer;
}

/** reads a worker stopped as soon as their keys and values exceeded the reply ring's largest message */
export const COUNTER_TOO_LARGE_STOPPED = 0;
/** reads a worker evaluated and encoded whole, then found too large for the ring (work done twice) */
export const COUNTER_TOO_LARGE_ENCODED = 1;
export const READ_COUNTERS = 2;

export const READ_METHOD_RANGE = 1;
export const READ_METHOD_TXN = 2;
export const REPLY_OK = 1;
export const REPLY_ERROR = 0;
export const REPLY_TOO_LARGE = 2;
/** id, status, body length */
export const REPLY_ENTRY_BYTES = 9;
/** space for the binary protocol's frame header (src/proto/frame.ts FRAME_HEADER_BYTES) */
export const REPLY_FRAME_SPACE = 12;
export const REQUEST_BATCH_HEADER_BYTES = 24;
export const REQUEST_ENTRY_BYTES = 9;
