// The task a physical-compaction step sends to its worker thread (src/server/compactor.ts -> workers/compact-worker.ts)
// and the result it gets back. Shapes only, no I/O, so the worker entry point loads nothing of the server with it.

import type { CompactionPositionWire } from '../mvcc/index.js';

export interface CompactionTask {
  dbPath: string;
  /** the compacted revision being made physical */
  revision: number;
  position: CompactionPositionWire;
  batchKeysMax: number;
  /**
   * Fault hook for tests: after its deletes commit, the step sets element 0 to 1, notifies, and waits forever (its
   * result is lost), for the test to terminate the thread at that point.
   */
  stallAfterDeletesForTest?: SharedArrayBuffer;
}

export interface CompactionTaskResult {
  removed: number;
  /** null: the compaction at `revision` is complete */
  next: CompactionPositionWire | null;
  /** the key space was replaced since the compaction started: nothing deleted, `next` starts over */
  stale?: boolean;
}
