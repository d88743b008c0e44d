// The auth store on disk: its table round-trips every record (names of any length, bytes in permissions, the
// no-password option), a snapshot carries it and installing one replaces it (a format-2 snapshot, from a member
// before the auth table, empties it), and an etcd-ts/4 data directory is marked etcd-ts/5 on open with an empty
// auth table (auth disabled, as it was).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Packr, Unpackr } from 'msgpackr';
import { openStorage, STORAGE_FORMAT } from '../../src/storage/index.js';
import { installSnapshotData, produceSnapshotData } from '../../src/server/snapshot.js';
import { authPersistence, readAuthContents } from '../../src/server/auth-table.js';
import { AuthStore, EMPTY_AUTH } from '../../src/auth/index.js';
import { PermissionType } from '../../src/proto/index.js';
import { startInProcess, tempDir } from '../helpers/member.js';

const noEffects = { enabled() {}, disabled() {}, userInvalidated() {} };

test('the auth table holds every record as the store wrote it; a snapshot carries and replaces it', async (t) => {
  const root = tempDir();
  const a = await openStorage(path.join(root, 'a'));
  const b = await openStorage(path.join(root, 'b'));
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const longName = 'u'.repeat(5000); // beyond LMDB's key size: names are hashed into keys
  a.env.transactionSync(() => {
    const store = new AuthStore(EMPTY_AUTH, authPersistence(a.auth), noEffects);
    store.userAdd('root', '$2a$04$hash', false);
    store.userGrantRole('root', 'root');
    store.userAdd(longName, '', true);
    store.roleAdd('r1');
    store.roleGrantPermission('r1', { permType: PermissionType.READWRITE, key: Uint8Array.of(0, 0xff, 1), range_end: Uint8Array.of(0) });
    store.userGrantRole(longName, 'r1');
    store.enable();
  });
  const contents = readAuthContents(a.auth);
  assert.deepEqual(contents.state, { enabled: true, revision: 7 });
  assert.deepEqual(contents.users.map((u) => [u.name.length, u.roles, u.noPassword]).sort(), [[4, ['root'], false], [5000, ['r1'], true]]);
  assert.deepEqual(contents.roles.map((r) => r.permissions.map((p) => [p.permType, [...p.key], [...p.range_end]])), [[[2, [0, 0xff, 1], [0]]]]);

  b.env.transactionSync(() => new AuthStore(EMPTY_AUTH, authPersistence(b.auth), noEffects).userAdd('stale', 'h', false));
  const snapshot = produceSnapshotData(a);
  b.env.transactionSync(() => installSnapshotData(b, snapshot, 10));
  assert.deepEqual(readAuthContents(b.auth), contents);

  // a format-2 snapshot (etcd-ts/4, no auth table) installs with auth empty
  const [, ...rest] = new Unpackr({ useRecords: false }).unpack(snapshot) as unknown[];
  const format2 = new Packr({ useRecords: false, variableMapSize: true }).pack([2, ...rest.slice(0, 7)]);
  b.env.transactionSync(() => installSnapshotData(b, format2, 11));
  assert.deepEqual(readAuthContents(b.auth), EMPTY_AUTH);
});

test('an etcd-ts/4 data directory is marked etcd-ts/5 on open, with auth disabled and empty', async (t) => {
  const root = tempDir();
  const dir = path.join(root, 'data');
  const m = await startInProcess([], dir);
  await m.client().put({ key: Buffer.from('k'), value: Buffer.from('v') });
  await m.close();
  const s = await openStorage(dir);
  s.meta.putSync('format', 'etcd-ts/4');
  await s.auth.drop();
  await s.close();
  const again = await startInProcess([], dir);
  t.after(() => again.close());
  const c = again.client();
  assert.equal((await c.get('k')).count, 1, 'the data is there, served without auth');
  assert.equal((await c.call('AuthStatus', {})).enabled, false);
  await again.member.close();
  const reopened = await openStorage(dir);
  try {
    assert.equal(reopened.meta.get('format'), STORAGE_FORMAT);
    assert.equal(STORAGE_FORMAT, 'etcd-ts/5');
  } finally {
    await reopened.close();
  }
});
