// Snapshot data carries everything a member that catches up by snapshot needs: the key space, the members and the
// IDs removed from the cluster (so it refuses them as every other member does).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStorage } from '../../src/storage/index.js';
import { installSnapshotData, produceSnapshotData } from '../../src/server/snapshot.js';
import { tempDir } from '../helpers/member.js';

test('a snapshot carries keys, members and removed member IDs; installing it replaces the key space', async (t) => {
  const root = tempDir();
  const a = await openStorage(path.join(root, 'a'));
  const bStore = await openStorage(path.join(root, 'b'));
  t.after(async () => {
    await a.close();
    await bStore.close();
  });
  await a.env.transaction(() => {
    a.latest.put(Buffer.from('k1'), Buffer.from('v1'));
    a.history.put(Buffer.from('h1'), Buffer.from('r1'));
    a.meta.put('members', { '1': { id: '1', name: 'x', peerURLs: ['http://a:1'], clientURLs: [], binaryURLs: [], isLearner: false } });
    a.meta.put('removed', ['42', '43']);
  });
  await bStore.env.transaction(() => {
    bStore.latest.put(Buffer.from('stale'), Buffer.from('gone'));
    bStore.meta.put('removed', ['7']);
  });
  const data = produceSnapshotData(a);
  const installed = bStore.env.transactionSync(() => installSnapshotData(bStore, data, 99));
  assert.equal(installed.state.applied, 99);
  assert.deepEqual(Object.keys(installed.members), ['1']);
  assert.deepEqual([...bStore.latest.getKeys({})].map((k) => Buffer.from(k as Buffer).toString()), ['k1']);
  assert.deepEqual(((bStore.meta.get('removed') as string[]) ?? []).sort(), ['42', '43', '7']);
});
