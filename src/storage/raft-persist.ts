// Step 1 of the Raft driver (src/driver/raft-driver.ts) for a member whose log lives in LMDB: what makes a Ready
// durable. A leader's snapshot is installed first (through the server, which owns the key space it replaces), then
// the entries and the hard state are written in a transaction on lmdb-js's writer thread; they are durable once
// `flushed` resolves, and only then may the driver send or apply anything of the Ready.
//
// As etcd's MustSync: a Ready whose only change is the hard state's commit index is not waited for. The hard state is
// held back and written inside the next apply transaction (or with the next synced Ready), so it costs no commit of
// its own; losing it in a crash loses nothing, since the commit index is learnt again from the leader (or, alone,
// from the log), and the applied index is never recorded ahead of it on disk: it goes in the same transaction.

import { failpoint } from '../failpoints/index.js';
import type { HardState, Ready, Snapshot } from '../raft/index.js';
import type { Storage } from './env.js';
import type { LmdbRaftStorage } from './raft-storage.js';

/** etcd's raft.MustSync: entries, or a change of term or vote, must be on disk before anything depends on them. */
export function mustSync(rd: Ready, previous: HardState): boolean {
  if (rd.entries.length > 0 || rd.snapshot !== undefined) return true;
  const hs = rd.hardState;
  return hs !== undefined && (hs.term !== previous.term || hs.vote !== previous.vote);
}

/**
 * The driver's persist port over LMDB. The entries and the hard state are written inside a transaction callback, not
 * as separate asynchronous writes: lmdb-js runs callbacks queued back to back in one transaction, so the apply the
 * driver queued in the previous Ready's step 3 goes into the same commit as this Ready's entries (group commit: one
 * commit per batch). Separate writes would make a transaction of their own (a callback ends lmdb-js's batch), and on
 * this kind of disk every commit costs a sync.
 */
export function lmdbPersist(
  storage: Storage,
  raftStorage: LmdbRaftStorage,
  installSnapshot: (snapshot: Snapshot) => void,
): (rd: Ready, done: (err?: unknown) => void) => void {
  let previous = raftStorage.initialState().hardState;
  return (rd, done) => {
    if (rd.snapshot) installSnapshot(rd.snapshot);
    const sync = mustSync(rd, previous);
    const hs = rd.hardState;
    if (hs !== undefined) previous = hs;
    if (!sync) {
      if (hs !== undefined) raftStorage.setHardState(hs, true);
      done();
      return;
    }
    const written = storage.env.transaction(() => {
      raftStorage.append(rd.entries);
      if (hs !== undefined) raftStorage.setHardState(hs);
    });
    Promise.all([written, storage.env.flushed]).then(() => {
      // lmdb-js can resolve the flush before it has renewed this thread's read snapshot for the commit: Raft reads
      // the entries back from the log next, so start a fresh snapshot now
      storage.env.resetReadTxn();
      failpoint('persist.afterFlush');
      done();
    }, done);
  };
}
