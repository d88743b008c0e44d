// Step 1 of the Raft driver (src/driver/raft-driver.ts) for a member whose log lives in LMDB: what makes a Ready
// durable. A leader's snapshot is installed first (through the server, which owns the key space it replaces), then
// the entries and the hard state are queued as asynchronous writes; they are durable once `flushed` resolves, and
// only then may the driver send or apply anything of the Ready.

import { failpoint } from '../failpoints/index.js';
import type { Ready, Snapshot } from '../raft/index.js';
import type { Storage } from './env.js';
import type { LmdbRaftStorage } from './raft-storage.js';

/** The driver's persist port over LMDB. */
export function lmdbPersist(
  storage: Storage,
  raftStorage: LmdbRaftStorage,
  installSnapshot: (snapshot: Snapshot) => void,
): (rd: Ready, done: (err?: unknown) => void) => void {
  return (rd, done) => {
    if (rd.snapshot) installSnapshot(rd.snapshot);
    raftStorage.append(rd.entries);
    if (rd.hardState) raftStorage.setHardState(rd.hardState);
    if (rd.entries.length === 0 && rd.hardState === undefined && rd.snapshot === undefined) {
      done();
      return;
    }
    storage.log.flushed.then(() => {
      failpoint('persist.afterFlush');
      done();
    }, done);
  };
}
