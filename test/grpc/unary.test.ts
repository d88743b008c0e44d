// etcd's unary gRPC calls against an etcd-ts member, with @grpc/grpc-js as the client (its own HTTP/2 and protobuf,
// nothing shared with the server): KV, txn, compaction, leases, cluster, maintenance, auth (disabled), lock and
// election, grpc-go's health service, and the errors, each with etcd's code and message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import grpc from '@grpc/grpc-js';
import { etcdProtos, grpcSetup, rejectsWith, unary } from '../helpers/grpc.js';

const S = grpc.status;
const b = (s: string): Buffer => Buffer.from(s);

interface Header {
  cluster_id: string;
  member_id: string;
  revision: string;
  raft_term: string;
}
interface KeyValue {
  key: Buffer;
  value: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  lease?: string;
}


test('KV: put, range, delete, txn and compaction, with etcd headers', async (t) => {
  const [m, c] = await grpcSetup(t);
  const server = m.member.member.server;
  const put = await unary<{ header: Header; prev_kv?: KeyValue }>(c.kv, 'Put', { key: b('k1'), value: b('v1') });
  assert.equal(put.header.cluster_id, server.clusterId.toString());
  assert.equal(put.header.member_id, server.memberId.toString());
  assert.equal(put.header.revision, '2');
  assert.equal(put.prev_kv, undefined);
  const again = await unary<{ header: Header; prev_kv?: KeyValue }>(c.kv, 'Put', { key: b('k1'), value: b('v2'), prev_kv: true });
  assert.equal(again.prev_kv?.value.toString(), 'v1');
  await unary(c.kv, 'Put', { key: b('k2'), value: b('x') });
  await unary(c.kv, 'Put', { key: b('k3'), value: Buffer.alloc(0) });

  const one = await unary<{ header: Header; kvs: KeyValue[]; count: string; more?: boolean }>(c.kv, 'Range', { key: b('k1') });
  assert.equal(one.kvs.length, 1);
  assert.deepEqual([one.kvs[0]!.key.toString(), one.kvs[0]!.value.toString(), one.kvs[0]!.version, one.kvs[0]!.create_revision, one.kvs[0]!.mod_revision], ['k1', 'v2', '2', '2', '3']);
  assert.equal(one.count, '1');
  const all = await unary<{ kvs: KeyValue[]; count: string; more?: boolean }>(c.kv, 'Range', { key: b('k'), range_end: b('l'), limit: 2, sort_order: 2, serializable: true });
  assert.deepEqual(all.kvs.map((kv) => kv.key.toString()), ['k3', 'k2']);
  assert.equal(all.count, '3');
  assert.equal(all.more, true);
  const counted = await unary<{ kvs?: KeyValue[]; count: string }>(c.kv, 'Range', { key: b('k'), range_end: b('l'), count_only: true });
  assert.deepEqual(counted.kvs ?? [], []);
  assert.equal(counted.count, '3');
  const old = await unary<{ kvs: KeyValue[] }>(c.kv, 'Range', { key: b('k1'), revision: 2 });
  assert.equal(old.kvs[0]!.value.toString(), 'v1');

  const txn = await unary<{ succeeded: boolean; responses: Record<string, { kvs?: KeyValue[] }>[] }>(c.kv, 'Txn', {
    compare: [{ key: b('k1'), target: 3, result: 0, value: b('v2') }],
    success: [{ request_put: { key: b('k4'), value: b('t') } }, { request_range: { key: b('k1') } }],
    failure: [{ request_delete_range: { key: b('k1') } }],
  });
  assert.equal(txn.succeeded, true);
  assert.ok(txn.responses[0]!['response_put'] !== undefined);
  assert.equal(txn.responses[1]!['response_range']!.kvs![0]!.value.toString(), 'v2');
  const failed = await unary<{ succeeded: boolean }>(c.kv, 'Txn', { compare: [{ key: b('k1'), target: 0, result: 1, version: 10 }], failure: [{ request_range: { key: b('k4') } }] });
  assert.equal(failed.succeeded ?? false, false);

  const del = await unary<{ deleted: string; prev_kvs: KeyValue[] }>(c.kv, 'DeleteRange', { key: b('k1'), range_end: b('k3'), prev_kv: true });
  assert.equal(del.deleted, '2');
  assert.deepEqual(del.prev_kvs.map((kv) => kv.key.toString()), ['k1', 'k2']);

  await unary(c.kv, 'Compact', { revision: 4 });
  await rejectsWith(unary(c.kv, 'Range', { key: b('k1'), revision: 3 }), S.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted');
  await rejectsWith(unary(c.kv, 'Range', { key: b('k1'), revision: 1000 }), S.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision');
});

test('KV: validation errors carry etcd codes and messages', async (t) => {
  const [, c] = await grpcSetup(t, ['--max-txn-ops', '2']);
  await rejectsWith(unary(c.kv, 'Put', { key: Buffer.alloc(0), value: b('v') }), S.INVALID_ARGUMENT, 'etcdserver: key is not provided');
  await rejectsWith(unary(c.kv, 'Range', {}), S.INVALID_ARGUMENT, 'etcdserver: key is not provided');
  await rejectsWith(unary(c.kv, 'Put', { key: b('a'), value: b('v'), ignore_value: true }), S.INVALID_ARGUMENT, 'etcdserver: value is provided');
  const puts = ['a', 'b', 'c'].map((k) => ({ request_put: { key: b(k), value: b('v') } }));
  await rejectsWith(unary(c.kv, 'Txn', { success: puts }), S.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request');
  await rejectsWith(
    unary(c.kv, 'Txn', { success: [{ request_put: { key: b('a'), value: b('1') } }, { request_put: { key: b('a'), value: b('2') } }] }),
    S.INVALID_ARGUMENT,
    'etcdserver: duplicate key given in txn request',
  );
});

test('Lease: grant, time-to-live with keys, list, revoke; a missing lease is NotFound', async (t) => {
  const [, c] = await grpcSetup(t);
  const grant = await unary<{ ID: string; TTL: string }>(c.lease, 'LeaseGrant', { TTL: 60 });
  assert.equal(grant.TTL, '60');
  const id = grant.ID;
  await unary(c.kv, 'Put', { key: b('leased'), value: b('v'), lease: id });
  const ttl = await unary<{ ID: string; TTL: string; grantedTTL: string; keys: Buffer[] }>(c.lease, 'LeaseTimeToLive', { ID: id, keys: true });
  assert.equal(ttl.ID, id);
  assert.equal(ttl.grantedTTL, '60');
  assert.ok(Number(ttl.TTL) > 50 && Number(ttl.TTL) <= 60, ttl.TTL);
  assert.deepEqual(ttl.keys.map((k) => k.toString()), ['leased']);
  const kv = await unary<{ kvs: KeyValue[] }>(c.kv, 'Range', { key: b('leased') });
  assert.equal(kv.kvs[0]!.lease, id);
  const list = await unary<{ leases: { ID: string }[] }>(c.lease, 'LeaseLeases', {});
  assert.deepEqual(list.leases.map((l) => l.ID), [id]);
  // a chosen ID, negative as int64: exact both ways
  const chosen = await unary<{ ID: string }>(c.lease, 'LeaseGrant', { TTL: 60, ID: '-5' });
  assert.equal(chosen.ID, '-5');
  await unary(c.lease, 'LeaseRevoke', { ID: id });
  assert.deepEqual((await unary<{ kvs?: KeyValue[] }>(c.kv, 'Range', { key: b('leased') })).kvs ?? [], []);
  const gone = await unary<{ TTL: string }>(c.lease, 'LeaseTimeToLive', { ID: id });
  assert.equal(gone.TTL, '-1');
  await rejectsWith(unary(c.lease, 'LeaseRevoke', { ID: id }), S.NOT_FOUND, 'etcdserver: requested lease not found');
});

test('Cluster and Maintenance: member list, status, alarms, defragment, move-leader; what etcd-ts lacks is Unimplemented', async (t) => {
  const [m, c] = await grpcSetup(t);
  const server = m.member.member.server;
  const members = await unary<{ members: { ID: string; name: string; peerURLs: string[]; clientURLs: string[] }[] }>(c.cluster, 'MemberList', {});
  assert.equal(members.members.length, 1);
  assert.equal(members.members[0]!.ID, server.memberId.toString());
  assert.equal(members.members[0]!.name, 'default');
  await rejectsWith(unary(c.cluster, 'MemberRemove', { ID: '12345' }), S.NOT_FOUND, 'etcdserver: member not found');
  await rejectsWith(unary(c.cluster, 'MemberAdd', { peerURLs: ['not a url'] }), S.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid');

  const status = await unary<{ header: Header; version: string; leader: string; raftIndex: string; raftTerm: string; dbSize: string }>(c.maintenance, 'Status', {});
  assert.equal(status.leader, server.memberId.toString());
  assert.equal(status.header.member_id, server.memberId.toString());
  assert.ok(Number(status.raftIndex) > 0);
  assert.ok(Number(status.dbSize) > 0);
  assert.match(status.version, /^3\.4\./);
  assert.deepEqual(await unary(c.maintenance, 'Alarm', { action: 0 }), {});
  await rejectsWith(unary(c.maintenance, 'Alarm', { action: 1, alarm: 1 }), S.UNIMPLEMENTED, 'method Alarm not implemented');
  assert.deepEqual(await unary(c.maintenance, 'Defragment', {}), {});
  await rejectsWith(unary(c.maintenance, 'Hash', {}), S.UNIMPLEMENTED, 'method Hash not implemented');
  await rejectsWith(unary(c.maintenance, 'HashKV', { revision: 0 }), S.UNIMPLEMENTED, 'method HashKV not implemented');
  // already the leader: etcd answers OK; anyone else is a bad transferee
  await unary(c.maintenance, 'MoveLeader', { targetID: server.memberId.toString() });
  await rejectsWith(unary(c.maintenance, 'MoveLeader', { targetID: '77' }), S.FAILED_PRECONDITION, 'etcdserver: bad leader transferee');
});

test('Auth answers as etcd 3.4 with auth disabled and no users (etcdctl auth/user/role)', async (t) => {
  const [m, c] = await grpcSetup(t);
  const list = await unary<{ header: Header; users?: string[] }>(c.auth, 'UserList', {});
  assert.equal(list.header.member_id, m.member.member.server.memberId.toString());
  assert.deepEqual(list.users ?? [], []);
  await unary(c.auth, 'RoleList', {});
  await unary(c.auth, 'AuthDisable', {});
  await rejectsWith(unary(c.auth, 'AuthEnable', {}), S.FAILED_PRECONDITION, 'etcdserver: root user does not exist');
  await rejectsWith(unary(c.auth, 'UserGet', { name: 'u' }), S.FAILED_PRECONDITION, 'etcdserver: user name not found');
  await rejectsWith(unary(c.auth, 'RoleDelete', { role: 'r' }), S.FAILED_PRECONDITION, 'etcdserver: role name not found');
  await rejectsWith(unary(c.auth, 'Authenticate', { name: 'u', password: 'p' }), S.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled');
  await rejectsWith(unary(c.auth, 'UserAdd', { name: '' }), S.INVALID_ARGUMENT, 'etcdserver: user name is empty');
});

test('Lock and Election: lock, unlock, campaign, leader, proclaim, resign', async (t) => {
  const [, c] = await grpcSetup(t);
  const lease = await unary<{ ID: string }>(c.lease, 'LeaseGrant', { TTL: 30 });
  const lock = await unary<{ key: Buffer }>(c.lock, 'Lock', { name: b('mylock'), lease: lease.ID });
  assert.ok(lock.key.toString().startsWith('mylock/'), lock.key.toString());
  await unary(c.lock, 'Unlock', { key: lock.key });

  const won = await unary<{ leader: { name: Buffer; key: Buffer; rev: string; lease: string } }>(c.election, 'Campaign', { name: b('el'), lease: lease.ID, value: b('first') });
  assert.equal(won.leader.name.toString(), 'el');
  assert.equal(won.leader.lease, lease.ID);
  const leader = await unary<{ kv: KeyValue }>(c.election, 'Leader', { name: b('el') });
  assert.equal(leader.kv.value.toString(), 'first');
  await unary(c.election, 'Proclaim', { leader: won.leader, value: b('second') });
  assert.equal((await unary<{ kv: KeyValue }>(c.election, 'Leader', { name: b('el') })).kv.value.toString(), 'second');
  await unary(c.election, 'Resign', { leader: won.leader });
  await rejectsWith(unary(c.election, 'Leader', { name: b('el') }), S.UNKNOWN, 'election: no leader');
  await rejectsWith(unary(c.election, 'Proclaim', { leader: won.leader, value: b('x') }), S.UNKNOWN, 'election: not leader');
});

test('unknown services and methods are Unimplemented with grpc-go text; the health service answers SERVING', async (t) => {
  const [m] = await grpcSetup(t);
  const pkg = etcdProtos();
  const kvDef = ((pkg['etcdserverpb'] as grpc.GrpcObject)['KV'] as grpc.ServiceClientConstructor).service;
  const path = (p: string): grpc.MethodDefinition<unknown, unknown> => ({ ...kvDef['Range']!, path: p }) as grpc.MethodDefinition<unknown, unknown>;
  const Custom = grpc.makeGenericClientConstructor({ Nope: path('/etcdserverpb.KV/Nope'), Other: path('/foo.Bar/Range') }, 'Custom');
  const client = new Custom(m.endpoint, grpc.credentials.createInsecure()) as unknown as Parameters<typeof unary>[0];
  t.after(() => client.close());
  await rejectsWith(unary(client, 'Nope', { key: b('a') }), S.UNIMPLEMENTED, 'unknown method Nope for service etcdserverpb.KV');
  await rejectsWith(unary(client, 'Other', { key: b('a') }), S.UNIMPLEMENTED, 'unknown service foo.Bar');

  const Health = grpc.makeGenericClientConstructor(
    {
      Check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (r: { service: string }) => Buffer.from(r.service === '' ? [] : [0x0a, r.service.length, ...Buffer.from(r.service)]),
        responseDeserialize: (buf: Buffer) => ({ status: buf.length === 2 && buf[0] === 0x08 ? buf[1] : -1 }),
      } as unknown as grpc.MethodDefinition<unknown, unknown>,
    },
    'Health',
  );
  const health = new Health(m.endpoint, grpc.credentials.createInsecure()) as unknown as Parameters<typeof unary>[0];
  t.after(() => health.close());
  assert.deepEqual(await unary(health, 'Check', { service: '' }), { status: 1 });
  await rejectsWith(unary(health, 'Check', { service: 'x' }), S.NOT_FOUND, 'unknown service');
});
