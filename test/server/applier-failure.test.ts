// An apply transaction that fails (a broken invariant, a disk error) stops the member, and nothing applied after it
// may reach the disk: the transactions queued behind it run before its failure is reported, and had they committed,
// the stored applied index would pass the lost batch (its entries never applied, the member diverged from its peers;
// or, as a write-path crash test found, a restart refused: applied index past the stored commit index).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Packr } from 'msgpackr';
import { parseFlags } from '../../src/config/index.js';
import { Lessor } from '../../src/lease/index.js';
import { EntryType, type Entry } from '../../src/raft/index.js';
import { Applier } from '../../src/server/applier.js';
import { RUN_ID } from '../../src/server/proposals.js';
import { ServerStats } from '../../src/server/stats.js';
import { LmdbRaftStorage, openStorage, readPersistedState } from '../../src/storage/index.js';
import { tempDir } from '../helpers/member.js';
import { testAuth } from '../helpers/auth.js';

const MEMBER_ID = 1n;
const packr = new Packr({ useRecords: false, variableMapSize: true });
const b = (s: string): Buffer => Buffer.from(s);

const entry = (index: number, method: string, request: unknown): Entry => ({
  term: 1,
  index,
  type: EntryType.Normal,
  data: packr.pack([MEMBER_ID, RUN_ID, index, method, request]),
});
const put = (index: number, key: string): Entry => entry(index, 'Put', { key: b(key), value: b(`v${index}`) });

test('after an apply transaction fails, the transactions queued behind it commit nothing', async (t) => {
  const root = tempDir('etcd-ts-applier-failure-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dataDir = path.join(root, 'data');
  const { config } = parseFlags(['--data-dir', dataDir], {});
  const storage = await openStorage(dataDir);
  t.after(() => storage.close());
  const failures: unknown[] = [];
  const applier = new Applier(
    {
      memberId: MEMBER_ID,
      storage,
      config,
      lessor: new Lessor(storage.leases, () => Date.now(), 1),
      auth: testAuth(storage),
      stats: new ServerStats(),
      membership: { added() {}, removed() {}, updated() {} },
      header: (revision) => ({ cluster_id: 0n, member_id: MEMBER_ID, revision, raft_term: 1 }),
      answered() {},
      committed() {},
      fail: (err) => failures.push(err),
    },
    readPersistedState(storage.meta),
  );
  applier.attachRaftStorage(new LmdbRaftStorage(storage, () => applier.snapshotForRaft()));

  applier.apply([put(1, 'a')], new Map());
  await applier.whenIdle();
  assert.equal(readPersistedState(storage.meta).applied, 1);

  // three Readies' batches queued back to back: the second fails inside its transaction (an entry of a method no
  // applier knows: a broken invariant), the third would apply fine
  applier.apply([put(2, 'b')], new Map());
  applier.apply([entry(3, 'NoSuchMethod', {})], new Map());
  applier.apply([put(4, 'c')], new Map());
  await applier.whenIdle();

  assert.ok(failures.length > 0, 'the failure reached the member');
  assert.match(String(failures[0]), /unknown entry method NoSuchMethod/);
  storage.env.resetReadTxn();
  const stored = readPersistedState(storage.meta);
  assert.equal(stored.applied, 2, 'the stored applied index stops before the failed batch');
  assert.equal(storage.meta.get('raft-hardstate')?.commit ?? 0, 2, 'and the commit index stored with it covers it');
  assert.equal(applier.applied, 2, 'the published applied index too');
});
