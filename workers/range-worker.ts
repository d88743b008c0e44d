// Worker-thread entry point for MVCC range reads. It opens the member's LMDB environment (lmdb-js shares one
// environment per process, so the options must be the ones the main thread used) and answers each request with
// src/mvcc's range(), unchanged, against one read snapshot that also supplies the revision and compacted revision.
//
// Protocol (postMessage): in { id, request: RangeRequest }, out { id, ok: true, result } | { id, ok: false, code, message }.
// The pool and SharedArrayBuffer rings of the multi-core release plug in here; this entry point is the unit of work.

import { parentPort, workerData } from 'node:worker_threads';
import { toEtcdError } from '../src/errors/index.js';
import { range, type RangeResult } from '../src/mvcc/index.js';
import type { RangeRequest } from '../src/proto/index.js';
import { openTables, readPersistedState } from '../src/storage/index.js';

export interface RangeTask {
  id: number;
  request: RangeRequest;
}

export type RangeReply =
  | { id: number; ok: true; result: RangeResult }
  | { id: number; ok: false; code: number; message: string };

const { dbPath } = workerData as { dbPath: string };
const tables = openTables(dbPath);

export function evaluate(task: RangeTask): RangeReply {
  // A fresh snapshot per task: never serve from a read transaction left over from an earlier task.
  tables.env.resetReadTxn();
  try {
    const state = readPersistedState(tables.meta);
    return { id: task.id, ok: true, result: range(tables, state, task.request) };
  } catch (err) {
    const e = toEtcdError(err);
    return { id: task.id, ok: false, code: e.code, message: e.message };
  }
}

parentPort?.on('message', (task: RangeTask) => parentPort!.postMessage(evaluate(task)));
