import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startInProcess } from '../helpers/member.js';

const b = (s: string): Buffer => Buffer.from(s);

test('put, get, delete and revision numbers on a fresh member', async (t) => {
  const m = await startInProcess();
  t.after(() => m.close());
  const c = m.client();
  const first = await c.get('missing');
  assert.equal(first.header.revision, 1, 'an empty store is at revision 1');
  assert.equal(first.kvs.length, 0);
  const put = await c.put({ key: b('foo'), value: b('bar') });
  assert.equal(put.header.revision, 2);
  assert.equal(put.header.raft_term, 2);
  assert.equal(put.header.member_id, 0x8e9e05c52164694dn, 'member id computed as etcd does');
  assert.equal(put.header.cluster_id, 0xcdf818194e3a8c32n);
  const got = await c.get('foo');
  assert.deepEqual(
    { ...got.kvs[0], key: got.kvs[0]!.key.toString(), value: got.kvs[0]!.value.toString() },
    { key: 'foo', value: 'bar', create_revision: 2, mod_revision: 2, version: 1, lease: 0n },
  );
  const del = await c.deleteRange({ key: b('foo') });
  assert.equal(del.deleted, 1);
  assert.equal(del.header.revision, 3);
  const none = await c.deleteRange({ key: b('foo') });
  assert.equal(none.deleted, 0);
  assert.equal(none.header.revision, 3, 'deleting nothing does not bump the revision');
});
