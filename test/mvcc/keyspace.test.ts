// Put and DeleteRange: revisions, versions, prev_kv, ignore_value / ignore_lease, leases, headers; each request is
// also sent to a real etcd when installed (see helpers/kv-differential.ts) and both answers must be equal.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { b, DEFAULT_CLUSTER_ID, DEFAULT_MEMBER_ID, ERR, keysOf, KvPair, kvSummary } from '../helpers/kv-differential.js';

let kv: KvPair;
before(async () => {
  kv = await KvPair.start();
});
after(() => kv?.close());

test('a fresh store is at revision 1 and every top-level header carries cluster_id, member_id, revision, raft_term', async () => {
  // Runs first in this file: the store is fresh.
  const expectHeader = (h: { cluster_id: bigint; member_id: bigint; revision: number; raft_term: number }, revision: number, what: string): void =>
    assert.deepEqual(h, { cluster_id: DEFAULT_CLUSTER_ID, member_id: DEFAULT_MEMBER_ID, revision, raft_term: 2 }, what);
  expectHeader((await kv.range({ key: b('hdr/a') })).header, 1, 'range on an empty store');
  expectHeader((await kv.put({ key: b('hdr/a'), value: b('1') })).header, 2, 'put');
  expectHeader((await kv.range({ key: b('hdr/a') })).header, 2, 'range');
  expectHeader((await kv.deleteRange({ key: b('hdr/a') })).header, 3, 'delete');
  expectHeader((await kv.deleteRange({ key: b('hdr/a') })).header, 3, 'delete of nothing');
  expectHeader((await kv.txn({ success: [{ request_put: { key: b('hdr/a') } }] })).header, 4, 'write txn');
  expectHeader((await kv.txn({ success: [{ request_range: { key: b('hdr/a') } }] })).header, 4, 'read-only txn');
});

test('put: every put bumps the revision; create_revision stays, mod_revision and version move', async () => {
  const start = await kv.revision();
  const revisions: number[] = [];
  for (const value of ['v1', 'v2', 'v2']) revisions.push((await kv.put({ key: b('put/k'), value: b(value) })).header.revision);
  assert.deepEqual(revisions, [start + 1, start + 2, start + 3], 'a put of an unchanged value still bumps the revision');
  const got = await kv.range({ key: b('put/k') });
  assert.equal(got.count, 1);
  assert.deepEqual(kvSummary(got.kvs[0]!), {
    key: 'put/k',
    value: 'v2',
    create_revision: start + 1,
    mod_revision: start + 3,
    version: 3,
    lease: 0n,
  });
  // An empty value is a value.
  await kv.put({ key: b('put/empty') });
  const empty = await kv.range({ key: b('put/empty') });
  assert.deepEqual(kvSummary(empty.kvs[0]!), { key: 'put/empty', value: '', create_revision: start + 4, mod_revision: start + 4, version: 1, lease: 0n });
  // Keys and values are bytes: 0x00 and 0xff included.
  await kv.put({ key: b('put/\0\xff'), value: b('\0\x01\xff') });
  const bin = await kv.range({ key: b('put/\0\xff') });
  assert.deepEqual(bin.kvs[0]!.value, b('\0\x01\xff'));
});

test('put with an empty key fails with key is not provided and changes nothing', async () => {
  const start = await kv.revision();
  assert.deepEqual(await kv.fails('Put', { key: b(''), value: b('x') }), ERR.emptyKey);
  assert.deepEqual(await kv.fails('Range', { key: b('') }), ERR.emptyKey);
  assert.deepEqual(await kv.fails('DeleteRange', { key: b('') }), ERR.emptyKey);
  assert.equal(await kv.revision(), start);
});

test('delete then re-create: version restarts at 1, create_revision is the new put; old incarnation readable by revision', async () => {
  const r1 = (await kv.put({ key: b('recreate/k'), value: b('a') })).header.revision;
  const r2 = (await kv.put({ key: b('recreate/k'), value: b('b') })).header.revision;
  const del = await kv.deleteRange({ key: b('recreate/k'), prev_kv: true });
  const r3 = del.header.revision;
  assert.equal(r3, r2 + 1);
  assert.equal(del.deleted, 1);
  assert.deepEqual(kvSummary(del.prev_kvs[0]!), { key: 'recreate/k', value: 'b', create_revision: r1, mod_revision: r2, version: 2, lease: 0n });
  assert.equal((await kv.range({ key: b('recreate/k') })).kvs.length, 0, 'gone after delete');
  const r4 = (await kv.put({ key: b('recreate/k'), value: b('c'), prev_kv: true })).header.revision;
  assert.equal(r4, r3 + 1);
  const now = await kv.range({ key: b('recreate/k') });
  assert.deepEqual(kvSummary(now.kvs[0]!), { key: 'recreate/k', value: 'c', create_revision: r4, mod_revision: r4, version: 1, lease: 0n });
  const atRevision = async (revision: number): Promise<unknown> => {
    const r = await kv.range({ key: b('recreate/k'), revision });
    assert.equal(r.header.revision, r4, 'a historical read answers with the current revision in its header');
    return r.kvs.map(kvSummary);
  };
  assert.deepEqual(await atRevision(r1 - 1), []);
  assert.deepEqual(await atRevision(r1), [{ key: 'recreate/k', value: 'a', create_revision: r1, mod_revision: r1, version: 1, lease: 0n }]);
  assert.deepEqual(await atRevision(r2), [{ key: 'recreate/k', value: 'b', create_revision: r1, mod_revision: r2, version: 2, lease: 0n }]);
  assert.deepEqual(await atRevision(r3), []);
  assert.deepEqual(await atRevision(r4), [{ key: 'recreate/k', value: 'c', create_revision: r4, mod_revision: r4, version: 1, lease: 0n }]);
});

test('put prev_kv: absent for a new key, the whole previous KeyValue otherwise, never without prev_kv', async () => {
  const first = await kv.put({ key: b('prevkv/k'), value: b('one'), prev_kv: true });
  assert.equal(first.prev_kv, undefined, 'no previous version');
  const second = await kv.put({ key: b('prevkv/k'), value: b('two'), prev_kv: true });
  assert.deepEqual(kvSummary(second.prev_kv!), {
    key: 'prevkv/k',
    value: 'one',
    create_revision: first.header.revision,
    mod_revision: first.header.revision,
    version: 1,
    lease: 0n,
  });
  const third = await kv.put({ key: b('prevkv/k'), value: b('three') });
  assert.equal(third.prev_kv, undefined, 'not asked for');
  const fourth = await kv.put({ key: b('prevkv/k'), value: b('four'), prev_kv: true });
  assert.equal(showValue(fourth.prev_kv?.value), 'three');
  assert.equal(fourth.prev_kv?.version, 3);
});

test('put ignore_value keeps the value; ignore_lease keeps the lease; both need an existing key', async () => {
  await kv.put({ key: b('ignore/k'), value: b('kept') });
  const iv = await kv.put({ key: b('ignore/k'), ignore_value: true, prev_kv: true });
  assert.equal(showValue(iv.prev_kv?.value), 'kept');
  let got = (await kv.range({ key: b('ignore/k') })).kvs[0]!;
  assert.equal(showValue(got.value), 'kept');
  assert.equal(got.version, 2);
  assert.equal(got.mod_revision, iv.header.revision);
  await kv.put({ key: b('ignore/k'), value: b('new'), ignore_lease: true });
  got = (await kv.range({ key: b('ignore/k') })).kvs[0]!;
  assert.deepEqual([showValue(got.value), got.version, got.lease], ['new', 3, 0n]);
  await kv.put({ key: b('ignore/k'), ignore_value: true, ignore_lease: true });
  got = (await kv.range({ key: b('ignore/k') })).kvs[0]!;
  assert.deepEqual([showValue(got.value), got.version], ['new', 4]);

  const start = await kv.revision();
  assert.deepEqual(await kv.fails('Put', { key: b('ignore/k'), value: b('x'), ignore_value: true }), ERR.valueProvided);
  assert.deepEqual(await kv.fails('Put', { key: b('ignore/k'), lease: 7n, ignore_lease: true }), ERR.leaseProvided);
  assert.deepEqual(await kv.fails('Put', { key: b('ignore/missing'), ignore_value: true }), ERR.keyNotFound);
  assert.deepEqual(await kv.fails('Put', { key: b('ignore/missing'), ignore_lease: true }), ERR.keyNotFound);
  assert.deepEqual(await kv.fails('Put', { key: b('ignore/missing'), ignore_value: true, ignore_lease: true, prev_kv: true }), ERR.keyNotFound);
  // ignore_value on a deleted key: the key is gone, so it fails too.
  await kv.deleteRange({ key: b('ignore/k') });
  const afterDelete = await kv.revision();
  assert.deepEqual(await kv.fails('Put', { key: b('ignore/k'), ignore_value: true }), ERR.keyNotFound);
  assert.equal(await kv.revision(), afterDelete, 'failed puts change nothing');
  assert.equal(afterDelete, start + 1);
});

test('put with an unknown lease fails with requested lease not found (checked before ignore_value on a plain put)', async () => {
  const start = await kv.revision();
  assert.deepEqual(await kv.fails('Put', { key: b('lease/k'), value: b('v'), lease: 0x1234n }), ERR.leaseNotFound);
  assert.deepEqual(await kv.fails('Put', { key: b('lease/k'), value: b('v'), lease: -5n }), ERR.leaseNotFound);
  // A missing key and an unknown lease: a plain Put checks the lease first (in a txn the key comes first, see txn tests).
  assert.deepEqual(await kv.fails('Put', { key: b('lease/missing'), ignore_value: true, lease: 0x1234n }), ERR.leaseNotFound);
  assert.equal((await kv.range({ key: b('lease/k') })).kvs.length, 0);
  assert.equal(await kv.revision(), start);
  // lease 0 is no lease.
  await kv.put({ key: b('lease/k'), value: b('v'), lease: 0n });
});

test('delete: prev_kv, single keys, [key, range_end), prefixes; one revision per request', async () => {
  for (const k of ['a', 'b', 'b/1', 'b/2', 'c', 'd']) await kv.put({ key: b(`del/${k}`), value: b(k) });
  const start = await kv.revision();
  const single = await kv.deleteRange({ key: b('del/a') });
  assert.deepEqual([single.deleted, single.prev_kvs.length, single.header.revision], [1, 0, start + 1], 'no prev_kvs unless asked');
  const prefix = await kv.deleteRange({ key: b('del/b/'), range_end: b('del/b0'), prev_kv: true });
  assert.equal(prefix.deleted, 2);
  assert.deepEqual(keysOf(prefix.prev_kvs), ['del/b/1', 'del/b/2']);
  assert.equal(prefix.header.revision, start + 2, 'one revision for all keys of one delete');
  const interval = await kv.deleteRange({ key: b('del/b'), range_end: b('del/d'), prev_kv: true });
  assert.deepEqual(keysOf(interval.prev_kvs), ['del/b', 'del/c'], 'range_end is exclusive');
  assert.deepEqual(prefix.prev_kvs.map((p) => p.version), [1, 1]);
  const left = await kv.range({ key: b('del/'), range_end: b('del0') });
  assert.deepEqual(keysOf(left.kvs), ['del/d']);
  // The deleted keys are readable at the revision before their deletion.
  const before = await kv.range({ key: b('del/'), range_end: b('del0'), revision: start });
  assert.deepEqual(keysOf(before.kvs), ['del/a', 'del/b', 'del/b/1', 'del/b/2', 'del/c', 'del/d']);
});

test('delete of nothing: no revision bump, deleted 0 (missing key, empty interval, range_end <= key)', async () => {
  await kv.put({ key: b('noop/x'), value: b('x') });
  const start = await kv.revision();
  for (const req of [
    { key: b('noop/missing') },
    { key: b('noop/y'), range_end: b('noop/z'), prev_kv: true },
    { key: b('noop/x'), range_end: b('noop/x') },
    { key: b('noop/z'), range_end: b('noop/a') },
  ]) {
    const r = await kv.deleteRange(req);
    assert.deepEqual([r.deleted, r.prev_kvs.length, r.header.revision], [0, 0, start]);
  }
  assert.equal(await kv.revision(), start);
  assert.equal((await kv.range({ key: b('noop/x') })).kvs.length, 1);
});

test('delete from-key (range_end "\\0") and the whole keyspace (key "\\0", range_end "\\0")', async () => {
  // Last test of this file: it deletes everything.
  await kv.put({ key: b('~zz/1'), value: b('1') });
  await kv.put({ key: b('~zz/2'), value: b('2') });
  await kv.put({ key: b('~zz\xff'), value: b('3') });
  const fromKey = await kv.deleteRange({ key: b('~zz/2'), range_end: b('\0'), prev_kv: true });
  assert.deepEqual(keysOf(fromKey.prev_kvs), ['~zz/2', '<hex 7e7a7aff>']);
  const total = (await kv.range({ key: b('\0'), range_end: b('\0'), count_only: true })).count;
  assert.ok(total > 5, 'earlier tests left keys behind');
  const all = await kv.deleteRange({ key: b('\0'), range_end: b('\0') });
  assert.equal(all.deleted, total);
  assert.equal((await kv.range({ key: b('\0'), range_end: b('\0') })).count, 0);
});

function showValue(v: Uint8Array | undefined): string | undefined {
  return v === undefined ? undefined : Buffer.from(v).toString('latin1');
}
