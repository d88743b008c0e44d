// etcd's auth on one member through the binary protocol and the TypeScript client's login: what each RPC needs and
// the exact refusals of the reference (etcd-security-ops.md 1.3 and 1.6, seen on etcd 3.4.23), the holes later 3.4
// releases closed (closed here too), the watch rules, the client's re-authentication, and auth surviving a restart.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, GrpcCode, type WatchResponse } from '../../src/client/index.js';
import { PermissionType } from '../../src/proto/index.js';
import { setUpAuth, refusal } from '../helpers/auth.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';

const b = (s: string): Buffer => Buffer.from(s);

let m: InProcessMember;
let root: Client;
let alice: Client;
let anon: Client;
const clients: Client[] = [];

function client(options: Partial<ConstructorParameters<typeof Client>[0]> = {}): Client {
  const c = new Client({ endpoints: [m.endpoint], ...options });
  clients.push(c);
  return c;
}


const DENIED: [number, string] = [GrpcCode.PermissionDenied, 'etcdserver: permission denied'];
const EMPTY_USER: [number, string] = [GrpcCode.InvalidArgument, 'etcdserver: user name is empty'];

before(async () => {
  m = await startInProcess(['--bcrypt-cost', '4']);
  const setup = client();
  // before auth is enabled: Authenticate says so, and auth enable needs root with role root
  assert.deepEqual(await refusal(setup.call('Authenticate', { name: 'x', password: 'y' })), [GrpcCode.FailedPrecondition, 'etcdserver: authentication is not enabled']);
  assert.deepEqual(await refusal(setup.call('AuthEnable', {})), [GrpcCode.FailedPrecondition, 'etcdserver: root user does not exist']);
  await setup.call('UserAdd', { name: 'root', password: 'rootpw' });
  assert.deepEqual(await refusal(setup.call('AuthEnable', {})), [GrpcCode.FailedPrecondition, 'etcdserver: root user does not have root role']);
  await setup.call('UserDelete', { name: 'root' }); // with auth off, root is an ordinary user
  await setUpAuth(setup, 'rootpw', [
    { name: 'alice', password: 'alicepw', roles: { r1: [['readwrite', '/a/', 'prefix'], ['read', '/r'], ['write', '/w/', 'prefix']] } },
    { name: 'bob', password: 'bobpw', roles: { r2: [['readwrite', '/b/', 'prefix']] } },
  ]);
  root = client({ username: 'root', password: 'rootpw' });
  alice = client({ username: 'alice', password: 'alicepw' });
  anon = client();
});

after(async () => {
  for (const c of clients) c.destroy();
  await m.close();
});

test('credentials: none is `user name is empty`, a forged token `invalid auth token`, a wrong password etcd\'s refusal', async () => {
  assert.deepEqual(await refusal(anon.get('/a/1')), EMPTY_USER);
  assert.deepEqual(await refusal(anon.put({ key: b('/a/1'), value: b('v') })), EMPTY_USER);
  assert.deepEqual(await refusal(client({ token: 'ABCDEFGHIJKLMNOP.3' }).get('/a/1')), [GrpcCode.Unauthenticated, 'etcdserver: invalid auth token']);
  assert.deepEqual(await refusal(client({ token: 'not-a-token' }).get('/a/1')), [GrpcCode.Unauthenticated, 'etcdserver: invalid auth token']);
  const wrong = [GrpcCode.InvalidArgument, 'etcdserver: authentication failed, invalid user ID or password'];
  assert.deepEqual(await refusal(client({ username: 'alice', password: 'nope' }).get('/a/1')), wrong);
  assert.deepEqual(await refusal(client({ username: 'nobody', password: 'x' }).get('/a/1')), wrong);
  assert.deepEqual(await refusal(anon.call('Authenticate', { name: '', password: '' })), wrong);
  // a user added with no password logs in by its certificate's CN only (code Unknown: etcd leaves it unmapped)
  await root.call('UserAdd', { name: 'nopw', password: '', options: { no_password: true } });
  assert.deepEqual(await refusal(anon.call('Authenticate', { name: 'nopw', password: '' })), [GrpcCode.Unknown, 'auth: authentication failed, password was given for no password user']);
  const token = (await anon.call('Authenticate', { name: 'alice', password: 'alicepw' })).token;
  assert.match(token, /^[a-zA-Z]{16}\.\d+$/);
  assert.equal((await client({ token }).get('/a/1')).count, 0);
});

test('Range needs READ on its whole range; Put WRITE (+READ with prev_kv); DeleteRange WRITE (+READ with prev_kv)', async () => {
  await alice.put({ key: b('/a/1'), value: b('v1') });
  assert.equal((await alice.get('/a/', { prefix: true })).count, 1);
  assert.deepEqual(await refusal(alice.get('/a', { prefix: true })), DENIED, 'no partial answer');
  assert.deepEqual(await refusal(alice.get('/b/1')), DENIED);
  assert.equal((await alice.get('/r')).count, 0, 'READ on a single key');
  assert.deepEqual(await refusal(alice.put({ key: b('/r'), value: b('x') })), DENIED);
  await alice.put({ key: b('/w/1'), value: b('x') });
  assert.deepEqual(await refusal(alice.put({ key: b('/w/1'), value: b('y'), prev_kv: true })), DENIED, 'prev_kv needs READ');
  assert.deepEqual(await refusal(alice.deleteRange({ key: b('/w/1'), prev_kv: true })), DENIED);
  assert.equal((await alice.deleteRange({ key: b('/w/1') })).deleted, 1);
  assert.deepEqual(await refusal(alice.deleteRange({ key: b('/a/'), range_end: b('/b0') })), DENIED);
  assert.equal((await root.get('/', { prefix: true })).count, 1, 'root reads everything');
});

test('Txn: READ on every compare, both branches checked whichever runs, nested txns and puts inside checked too', async () => {
  const cmpA = { key: b('/a/1'), target: 0, result: 0, version: 1 };
  // the failure branch reads /b/1: refused although the success branch would run
  assert.deepEqual(await refusal(alice.txn({ compare: [cmpA], success: [{ request_range: { key: b('/a/1') } }], failure: [{ request_range: { key: b('/b/1') } }] })), DENIED);
  assert.deepEqual(await refusal(alice.txn({ compare: [{ ...cmpA, key: b('/b/1') }], success: [], failure: [] })), DENIED, 'a compare needs READ');
  assert.deepEqual(await refusal(alice.txn({ compare: [], success: [{ request_put: { key: b('/a/2'), value: b('x') } }], failure: [{ request_delete_range: { key: b('/b/1') } }] })), DENIED);
  // closed as 3.4.42 closes it: 3.4.23 did not look inside a nested txn
  const nested = { compare: [], success: [{ request_txn: { compare: [], success: [{ request_range: { key: b('/b/1') } }], failure: [] } }], failure: [] };
  assert.deepEqual(await refusal(alice.txn(nested)), DENIED);
  // closed as 3.4.44 closes it: a put inside a txn is checked like a put (prev_kv needs READ)
  assert.deepEqual(await refusal(alice.txn({ compare: [], success: [{ request_put: { key: b('/w/2'), value: b('x'), prev_kv: true } }], failure: [] })), DENIED);
  const ok = await alice.txn({ compare: [cmpA], success: [{ request_put: { key: b('/a/2'), value: b('x') } }, { request_range: { key: b('/r') } }], failure: [] });
  assert.equal(ok.succeeded, true);
});

test('leases: grant and list are open; Put with a lease and LeaseRevoke need WRITE on the keys attached', async () => {
  const { ID } = await anon.call('LeaseGrant', { TTL: 60 });
  assert.ok((await anon.call('LeaseLeases', {})).leases.some((l) => l.ID === ID), 'LeaseLeases is unchecked');
  await root.put({ key: b('/b/owned'), value: b('x'), lease: ID });
  // alice may write /a/, but the lease holds /b/owned, which she may not write: she could not revoke it
  assert.deepEqual(await refusal(alice.put({ key: b('/a/l'), value: b('x'), lease: ID })), DENIED);
  assert.deepEqual(await refusal(alice.call('LeaseRevoke', { ID })), DENIED);
  assert.deepEqual(await refusal(anon.call('LeaseRevoke', { ID })), EMPTY_USER);
  // TimeToLive answers anyone, but lists key names only to a caller that may read them (closed as 3.4.26 closes it)
  assert.equal((await anon.call('LeaseTimeToLive', { ID, keys: false })).grantedTTL, 60);
  assert.deepEqual(await refusal(anon.call('LeaseTimeToLive', { ID, keys: true })), EMPTY_USER);
  assert.deepEqual(await refusal(alice.call('LeaseTimeToLive', { ID, keys: true })), DENIED);
  assert.deepEqual((await root.call('LeaseTimeToLive', { ID, keys: true })).keys.map((k) => Buffer.from(k).toString()), ['/b/owned']);
  await root.call('LeaseRevoke', { ID });
  // a lease with no keys can be revoked by anyone (no key to check)
  const { ID: empty } = await anon.call('LeaseGrant', { TTL: 60 });
  await anon.call('LeaseRevoke', { ID: empty });
});

test('never checked: Status, MemberList, Compaction; member changes need root; a bad token fails what goes through Raft', async () => {
  await anon.status();
  await anon.call('MemberList', {});
  await anon.compact({ revision: 1 });
  const bogus = client({ token: 'bogus.1' });
  await bogus.call('MemberList', {}); // etcd never looks at its credentials
  assert.deepEqual(await refusal(bogus.compact({ revision: 1 })), [GrpcCode.Unauthenticated, 'etcdserver: invalid auth token']);
  assert.deepEqual(await refusal(bogus.call('LeaseGrant', { TTL: 5 })), [GrpcCode.Unauthenticated, 'etcdserver: invalid auth token']);
  assert.deepEqual(await refusal(anon.call('MemberAdd', { peerURLs: ['http://127.0.0.1:1'] })), EMPTY_USER);
  assert.deepEqual(await refusal(alice.call('MemberRemove', { ID: 12345n })), DENIED);
});

test('auth management needs root, except UserGet on yourself and RoleGet of a role you hold', async () => {
  assert.deepEqual((await alice.call('UserGet', { name: 'alice' })).roles, ['r1']);
  assert.deepEqual(await refusal(alice.call('UserGet', { name: 'bob' })), DENIED);
  assert.deepEqual(await refusal(alice.call('UserGet', { name: 'nobody' })), DENIED);
  assert.equal((await alice.call('RoleGet', { role: 'r1' })).perm.length, 3);
  assert.deepEqual(await refusal(alice.call('RoleGet', { role: 'r2' })), DENIED);
  assert.deepEqual(await refusal(alice.call('RoleGet', { role: 'root' })), DENIED);
  for (const [method, request] of [
    ['UserList', {}], ['RoleList', {}], ['AuthStatus', {}], ['AuthDisable', {}], ['UserAdd', { name: 'x', password: 'y' }],
    ['UserDelete', { name: 'bob' }], ['RoleAdd', { name: 'x' }], ['UserGrantRole', { user: 'alice', role: 'r2' }],
  ] as const) {
    assert.deepEqual(await refusal(alice.call(method, request as never)), DENIED, method);
    assert.deepEqual(await refusal(anon.call(method, request as never)), EMPTY_USER, method);
  }
  assert.deepEqual((await root.call('UserList', {})).users, ['alice', 'bob', 'nopw', 'root']);
  assert.deepEqual((await root.call('RoleList', {})).roles, ['r1', 'r2']);
  assert.deepEqual(await refusal(root.call('UserGet', { name: 'nobody' })), [GrpcCode.FailedPrecondition, 'etcdserver: user name not found']);
  assert.deepEqual(await refusal(root.call('UserDelete', { name: 'root' })), [GrpcCode.InvalidArgument, 'etcdserver: invalid auth management']);
  assert.deepEqual(await refusal(root.call('RoleDelete', { role: 'root' })), [GrpcCode.InvalidArgument, 'etcdserver: invalid auth management']);
  assert.deepEqual(await refusal(root.call('UserRevokeRole', { name: 'root', role: 'root' })), [GrpcCode.InvalidArgument, 'etcdserver: invalid auth management']);
  const status = await root.call('AuthStatus', {});
  assert.equal(status.enabled, true);
  assert.ok(status.authRevision > 1);
});

/** A raw watch stream: its responses, in order. */
async function watchStream(c: Client, create: Record<string, unknown>): Promise<{ responses: WatchResponse[]; close(): void; next(): Promise<WatchResponse> }> {
  const responses: WatchResponse[] = [];
  let wake: (() => void) | null = null;
  const s = await c.openStream('Watch', { create_request: create as never }, {
    message: (r) => {
      responses.push(r);
      wake?.();
    },
    end: () => undefined,
  });
  let read = 0;
  return {
    responses,
    close: () => s.close(),
    next: async () => {
      while (responses.length <= read) await new Promise<void>((r) => (wake = r));
      return responses[read++]!;
    },
  };
}

test('Watch: a create without READ on its range is answered created and canceled, watch_id -1, with the reason', async () => {
  const refused = await watchStream(alice, { key: b('/b/'), range_end: b('/b0') });
  const r = await refused.next();
  assert.equal(r.created, true);
  assert.equal(r.canceled, true);
  assert.equal(Number(r.watch_id), -1);
  assert.equal(r.cancel_reason, 'rpc error: code = PermissionDenied desc = etcdserver: permission denied');
  refused.close();
  const anonymous = await watchStream(anon, { key: b('/a/1') });
  assert.equal((await anonymous.next()).cancel_reason, 'rpc error: code = InvalidArgument desc = etcdserver: user name is empty');
  anonymous.close();
  const forged = await watchStream(client({ token: 'bogus.2' }), { key: b('/a/1') });
  assert.equal((await forged.next()).cancel_reason, 'rpc error: code = Unauthenticated desc = etcdserver: invalid auth token');
  forged.close();
  // a range_end of "\0" watches every key from the key on: it needs READ on all of them (etcd checks the key alone)
  const fromKey = await watchStream(alice, { key: b('/a/x'), range_end: b('\0') });
  assert.equal((await fromKey.next()).cancel_reason, 'rpc error: code = PermissionDenied desc = etcdserver: permission denied');
  fromKey.close();
});

test('Watch: an allowed watch keeps delivering after its permission is revoked, as in etcd 3.4 (checked at create only)', async () => {
  const w = await watchStream(alice, { key: b('/a/'), range_end: b('/a0') });
  const created = await w.next();
  assert.equal(created.created, true);
  assert.notEqual(Number(created.watch_id), -1);
  await root.put({ key: b('/a/w1'), value: b('before') });
  assert.equal(Buffer.from((await w.next()).events[0]!.kv.key).toString(), '/a/w1');
  await root.call('RoleRevokePermission', { role: 'r1', key: b('/a/'), range_end: b('/a0') });
  await root.put({ key: b('/a/w2'), value: b('after') });
  assert.equal(Buffer.from((await w.next()).events[0]!.kv.key).toString(), '/a/w2', 'still delivered (etcd 3.4.23 does the same)');
  w.close();
  // a new watch is refused; the permission comes back for the tests after this one
  const again = await watchStream(alice, { key: b('/a/'), range_end: b('/a0') });
  assert.equal((await again.next()).cancel_reason, 'rpc error: code = PermissionDenied desc = etcdserver: permission denied');
  again.close();
  await root.call('RoleGrantPermission', { name: 'r1', perm: { permType: PermissionType.READWRITE, key: b('/a/'), range_end: b('/a0') } });
});

test('Lock and Election run as their caller: READ on <name>/ and WRITE on the own key; refusals are code Unknown', async () => {
  const { ID } = await alice.call('LeaseGrant', { TTL: 60 });
  const held = await alice.call('Lock', { name: b('/a/lk'), lease: ID });
  assert.ok(Buffer.from(held.key).toString().startsWith('/a/lk/'));
  await alice.call('Unlock', { key: held.key });
  assert.deepEqual(await refusal(alice.call('Lock', { name: b('/b/lk'), lease: ID })), [GrpcCode.Unknown, 'etcdserver: permission denied']);
  assert.deepEqual(await refusal(anon.call('Lock', { name: b('/a/lk'), lease: ID })), [GrpcCode.Unknown, 'etcdserver: user name is empty']);
  assert.deepEqual(await refusal(client({ token: 'bogus.3' }).call('Lock', { name: b('/a/lk'), lease: ID })), [GrpcCode.Unknown, 'etcdserver: invalid auth token']);
  assert.deepEqual(await refusal(alice.call('Campaign', { name: b('/b/el'), lease: ID, value: b('v') })), [GrpcCode.Unknown, 'etcdserver: permission denied']);
  assert.deepEqual(await refusal(alice.call('Leader', { name: b('/b/el') })), [GrpcCode.Unknown, 'etcdserver: permission denied']);
  const campaign = await alice.call('Campaign', { name: b('/a/el'), lease: ID, value: b('v') });
  assert.equal(Buffer.from((await alice.call('Leader', { name: b('/a/el') })).kv!.value).toString(), 'v');
  await alice.call('Resign', { leader: campaign.leader });
  await root.call('LeaseRevoke', { ID });
});

test('a Lock waiting while the auth store changes takes the lock afterwards: its steps resolve the token each time', async () => {
  const { ID: first } = await alice.call('LeaseGrant', { TTL: 60 });
  const { ID: second } = await alice.call('LeaseGrant', { TTL: 60 });
  const held = await alice.call('Lock', { name: b('/a/wait'), lease: first });
  const waiting = alice.call('Lock', { name: b('/a/wait'), lease: second });
  await root.call('RoleAdd', { name: 'unrelated' }); // bumps the auth revision while the second Lock waits
  await alice.call('Unlock', { key: held.key });
  const got = await waiting;
  assert.ok(Buffer.from(got.key).toString().startsWith('/a/wait/'));
  await alice.call('Unlock', { key: got.key });
  await root.call('RoleDelete', { role: 'unrelated' });
});

test('the client re-authenticates once when its token stops being valid; a given token is used as it is', async () => {
  const carol = client({ username: 'carol', password: 'c1' });
  await root.call('UserAdd', { name: 'carol', password: 'c1' });
  await root.call('UserGrantRole', { user: 'carol', role: 'r1' });
  await carol.get('/a/1');
  const first = carol.authToken;
  const asGiven = client({ token: first! });
  await asGiven.get('/a/1');
  // a password change drops carol's tokens; her client logs in again with what it was given
  await root.call('UserChangePassword', { name: 'carol', password: 'c1' });
  assert.equal((await carol.get('/a/1')).count, 1);
  assert.notEqual(carol.authToken, first);
  assert.deepEqual(await refusal(asGiven.get('/a/1')), [GrpcCode.Unauthenticated, 'etcdserver: invalid auth token']);
});

test('with auth disabled every token is invalid (etcd 3.4 drops them), and requests without one pass', async () => {
  const token = (await anon.call('Authenticate', { name: 'root', password: 'rootpw' })).token;
  await client({ token }).call('AuthDisable', {});
  assert.equal((await anon.get('/b/1')).count, 0);
  assert.deepEqual(await refusal(client({ token }).get('/a/1')), [GrpcCode.Unauthenticated, 'etcdserver: invalid auth token']);
  // a client with a username carries on without a token once the server says auth is not enabled
  assert.equal((await client({ username: 'alice', password: 'alicepw' }).get('/b/1')).count, 0);
  await anon.call('AuthEnable', {});
});

test('users, roles and the enabled flag survive a restart', async () => {
  const dataDir = m.dataDir;
  for (const c of clients) c.destroy();
  clients.length = 0;
  await m.member.close();
  const again = await startInProcess(['--bcrypt-cost', '4'], dataDir);
  try {
    const r = new Client({ endpoints: [again.endpoint], username: 'root', password: 'rootpw' });
    const a = new Client({ endpoints: [again.endpoint], username: 'alice', password: 'alicepw' });
    const n = new Client({ endpoints: [again.endpoint] });
    try {
      assert.equal((await r.call('AuthStatus', {})).enabled, true);
      assert.deepEqual((await r.call('UserList', {})).users, ['alice', 'bob', 'carol', 'nopw', 'root']);
      assert.equal((await a.get('/a/1')).count, 1);
      assert.deepEqual(await refusal(a.get('/b/1')), DENIED);
      assert.deepEqual(await refusal(n.get('/a/1')), EMPTY_USER);
    } finally {
      r.destroy();
      a.destroy();
      n.destroy();
    }
  } finally {
    await again.close();
  }
});
