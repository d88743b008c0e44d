// Worker-thread entry point for physical compaction (a piscina task per step, run by src/server/compactor.ts): one
// bounded step of src/mvcc's compactionStep, unchanged, against the member's LMDB environment opened with the main
// thread's options (lmdb-js shares one environment per process). Each step deletes at most batchKeysMax keys in one
// write transaction, so the main thread's apply commits, which take the same write lock, wait at most that long; and
// each plans from a fresh read snapshot released when the step ends, so an idle worker pins no old pages.

import { compactionStep, positionFromWire, positionToWire } from '../src/mvcc/index.js';
import type { CompactionTask, CompactionTaskResult } from '../src/server/compaction-task.js';
import { openTables } from '../src/storage/index.js';

let tables: ReturnType<typeof openTables> | null = null;

export default function compact(task: CompactionTask): CompactionTaskResult {
  tables ??= openTables(task.dbPath);
  const t = tables;
  // lmdb-js renews a thread's read snapshot on a timer; do not rely on it between tasks.
  t.env.resetReadTxn();
  try {
    const step = compactionStep(t, task.revision, positionFromWire(task.position), task.batchKeysMax);
    if (task.stallAfterDeletesForTest !== undefined) stallForever(new Int32Array(task.stallAfterDeletesForTest));
    return { removed: step.removed, next: step.next === null ? null : positionToWire(step.next) };
  } finally {
    t.env.resetReadTxn();
  }
}

function stallForever(flags: Int32Array): void {
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  for (;;) Atomics.wait(flags, 1, 0);
}
