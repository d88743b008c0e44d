// Worker-thread entry point for physical compaction (a piscina task per step, run by src/server/compactor.ts): one
// bounded step of src/mvcc's compactionStep, unchanged, against the member's LMDB environment opened with the main
// thread's options (lmdb-js shares one environment per process). Each step deletes at most batchKeysMax keys in one
// write transaction, so the main thread's apply commits, which take the same write lock, wait at most that long; and
// each plans from a fresh read snapshot released when the step ends, so an idle worker pins no old pages.

import { compactionStep, positionFromWire, positionToWire } from '../src/mvcc/index.js';
import type { CompactionTask, CompactionTaskResult } from '../src/server/compaction-task.js';
import { openTables, readStorageGeneration } from '../src/storage/index.js';
import type { CompactionTables } from '../src/mvcc/index.js';

let opened: { tables: CompactionTables; env: ReturnType<typeof openTables>['env'] } | null = null;

export default function compact(task: CompactionTask): CompactionTaskResult {
  if (opened === null) {
    const { env, meta, latest, history, keyindex } = openTables(task.dbPath);
    opened = { env, tables: { env, latest, history, keyindex, storageGeneration: () => readStorageGeneration(meta) } };
  }
  const { env, tables: t } = opened;
  // lmdb-js renews a thread's read snapshot on a timer; do not rely on it between tasks.
  env.resetReadTxn();
  try {
    const step = compactionStep(t, task.revision, positionFromWire(task.position), task.batchKeysMax);
    if (task.stallAfterDeletesForTest !== undefined) stallForever(new Int32Array(task.stallAfterDeletesForTest));
    const result: CompactionTaskResult = { removed: step.removed, next: step.next === null ? null : positionToWire(step.next) };
    if (step.stale === true) result.stale = true;
    return result;
  } finally {
    env.resetReadTxn();
  }
}

function stallForever(flags: Int32Array): void {
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  for (;;) Atomics.wait(flags, 1, 0);
}
