// A physical compaction step planned from data that a snapshot install then replaced deletes nothing: the install bumps
// the storage generation inside its transaction, and the step checks the generation it was planned under inside its
// own write transaction (and, for a compaction already under way, before planning).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  compactionStep,
  compactLogical,
  COMPACTION_BEGIN,
  MvccTxn,
  type CompactionTables,
  type MvccState,
} from '../../src/mvcc/index.js';
import { openStorage, readStorageGeneration, type Storage } from '../../src/storage/index.js';
import { installSnapshotData, produceSnapshotData } from '../../src/server/snapshot.js';
import { tempDir } from '../helpers/member.js';

async function storeWithHistory(t: { after(fn: () => unknown): void }): Promise<{ storage: Storage; state: MvccState }> {
  const root = tempDir();
  const storage = await openStorage(path.join(root, 'data'));
  t.after(async () => {
    await storage.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const state: MvccState = { revision: 1, compactRevision: -1 };
  storage.env.transactionSync(() => {
    for (let i = 0; i < 60; i++) {
      const txn = new MvccTxn(storage, state);
      if (i % 7 === 6) txn.deleteRange({ key: Buffer.from(`k${i % 5}`) });
      else txn.put({ key: Buffer.from(`k${i % 5}`), value: Buffer.from(`v${i}`) });
      txn.end();
    }
  });
  return { storage, state };
}

/** Every key of the key-space tables, as text. */
function tables(storage: Storage): string {
  const keys = (db: Storage['history']): string => [...db.getKeys({})].map((k) => Buffer.from(k).toString('hex')).join(',');
  return `${keys(storage.latest)} | ${keys(storage.history)} | ${keys(storage.keyindex)}`;
}

function compactionTables(storage: Storage, beforeCommit?: () => void): CompactionTables {
  return {
    env: {
      transactionSync<T>(action: () => T): T {
        beforeCommit?.();
        return storage.env.transactionSync(action);
      },
    },
    latest: storage.latest,
    history: storage.history,
    keyindex: storage.keyindex,
    storageGeneration: () => readStorageGeneration(storage.meta),
  };
}

test('a compaction step planned before a snapshot install commits no deletes', async (t) => {
  const { storage, state } = await storeWithHistory(t);
  // the snapshot holds the uncompacted key space, which the step's plan would partly delete
  const snapshot = produceSnapshotData(storage);
  compactLogical(state, 50);
  const before = tables(storage);
  const generation = readStorageGeneration(storage.meta);
  let installs = 0;
  const step = compactionStep(
    compactionTables(storage, () => {
      // between the step's plan and its write transaction
      if (installs++ === 0) storage.env.transactionSync(() => installSnapshotData(storage, snapshot, 99));
    }),
    50,
    COMPACTION_BEGIN,
    1000,
  );
  assert.equal(installs, 1, 'the step had something to delete, so it took its write transaction');
  assert.equal(readStorageGeneration(storage.meta), generation + 1, 'the install bumped the generation');
  assert.equal(step.stale, true);
  assert.equal(step.removed, 0);
  assert.deepEqual(step.next, COMPACTION_BEGIN, 'the compaction starts over on the new data');
  assert.equal(tables(storage), before, 'nothing was deleted');

  // Control: the same step without the install deletes.
  const fresh = compactionStep(compactionTables(storage), 50, COMPACTION_BEGIN, 1000);
  assert.equal(fresh.stale, undefined);
  assert.ok(fresh.removed > 0, `the step deletes when nothing intervenes (${fresh.removed})`);
});

test('a compaction under way when a snapshot is installed does nothing more from its old position', async (t) => {
  const { storage, state } = await storeWithHistory(t);
  const snapshot = produceSnapshotData(storage);
  compactLogical(state, 50);
  const first = compactionStep(compactionTables(storage), 50, COMPACTION_BEGIN, 3);
  assert.ok(first.removed > 0 && first.next !== null && first.next.generation === readStorageGeneration(storage.meta));
  storage.env.transactionSync(() => installSnapshotData(storage, snapshot, 99));
  const after = tables(storage);
  const second = compactionStep(compactionTables(storage), 50, first.next!, 3);
  assert.equal(second.stale, true);
  assert.equal(second.removed, 0);
  assert.equal(tables(storage), after, 'nothing was deleted');
});
