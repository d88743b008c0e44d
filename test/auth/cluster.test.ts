// Auth on three members (child processes): users, roles and the enabled flag are replicated through Raft, so they
// hold on every member, survive a leader change, and reach a member that was down long enough to need a snapshot
// (the log compacted past it, --snapshot-count small) together with the key space. A simple token is registered by
// every member when it applies the login, so a token from the leader works on the followers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, EtcdError } from '../../src/client/index.js';
import { PermissionType } from '../../src/proto/index.js';
import { setUpAuth } from '../helpers/auth.js';
import { TestCluster, type ClusterMember } from '../helpers/cluster.js';

const b = (s: string): Buffer => Buffer.from(s);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof EtcdError ? err.message : String(err);
  }
}

function clientOf(m: ClusterMember, options: { username?: string; password?: string; token?: string } = {}): Client {
  return new Client({ endpoints: [m.endpoint], dialTimeoutMs: 1000, requestTimeoutMs: 10_000, ...options });
}

/** What a member says about alice's and bob's access, and its auth state as root sees it. */
async function view(m: ClusterMember): Promise<Record<string, unknown>> {
  const root = clientOf(m, { username: 'root', password: 'rootpw' });
  const alice = clientOf(m, { username: 'alice', password: 'alicepw' });
  const anon = clientOf(m);
  try {
    const status = await root.call('AuthStatus', {});
    return {
      enabled: status.enabled,
      authRevision: status.authRevision,
      users: (await root.call('UserList', {})).users,
      aliceA: await code(alice.get('/a/1', { serializable: true })),
      aliceC: await code(alice.get('/c/1', { serializable: true })),
      anon: await code(anon.get('/a/1', { serializable: true })),
    };
  } finally {
    root.destroy();
    alice.destroy();
    anon.destroy();
  }
}

test('auth state is replicated: it survives a leader change and reaches a member by snapshot install', { timeout: 180_000 }, async (t) => {
  const cluster = await TestCluster.start(3, ['--bcrypt-cost', '4', '--snapshot-count', '100']);
  t.after(() => cluster.stop());
  const leader = await cluster.waitForLeader();
  const setup = cluster.client(leader);
  await setUpAuth(setup, 'rootpw', [{ name: 'alice', password: 'alicepw', roles: { r1: [['readwrite', '/a/', 'prefix']] } }]);
  setup.destroy();
  await cluster.waitForConvergence();
  const expected = { enabled: true, users: ['alice', 'root'], aliceA: 'ok', aliceC: 'etcdserver: permission denied', anon: 'etcdserver: user name is empty' };
  for (const m of cluster.members) {
    const v = await view(m);
    assert.deepEqual({ ...v, authRevision: undefined }, { ...expected, authRevision: undefined }, m.name);
  }

  // a simple token made through the leader works on a follower (every member registered it at apply)
  const token = (await clientOf(leader).call('Authenticate', { name: 'alice', password: 'alicepw' })).token;
  const follower = cluster.members.find((m) => m !== leader)!;
  const onFollower = clientOf(follower, { token });
  assert.equal(await code(onFollower.get('/a/1')), 'ok');
  onFollower.destroy();

  // leader change: the new leader enforces the same users and roles
  await cluster.kill(leader);
  const next = await cluster.waitForLeader();
  assert.notEqual(next.name, leader.name);
  assert.deepEqual({ ...(await view(next)), authRevision: undefined }, { ...expected, authRevision: undefined });
  cluster.restart(leader);
  await cluster.waitForLeader();
  await cluster.waitForConvergence();

  // a member down while auth changes and the log moves far past it comes back by snapshot
  const behind = cluster.members.find((m) => m !== next)!;
  await cluster.kill(behind);
  const live = cluster.members.find((m) => m.child !== null && m !== behind)!;
  const root = clientOf(live, { username: 'root', password: 'rootpw' });
  await root.call('UserAdd', { name: 'bob', password: 'bobpw' });
  await root.call('RoleRevokePermission', { role: 'r1', key: b('/a/'), range_end: b('/a0') });
  await root.call('RoleGrantPermission', { name: 'r1', perm: { permType: PermissionType.READ, key: b('/c/'), range_end: b('/c0') } });
  // more entries than the log keeps behind the applied index (5000) plus --snapshot-count
  for (let i = 0; i < 6000; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => root.put({ key: b(`/fill/${i + j}`), value: b('x') })));
  }
  root.destroy();
  cluster.restart(behind);
  await cluster.waitForLeader();
  await cluster.waitForConvergence();
  const after = { enabled: true, users: ['alice', 'bob', 'root'], aliceA: 'etcdserver: permission denied', aliceC: 'ok', anon: 'etcdserver: user name is empty' };
  const views = await Promise.all(cluster.members.map(view));
  for (const [i, v] of views.entries()) assert.deepEqual({ ...v, authRevision: undefined }, { ...after, authRevision: undefined }, cluster.members[i]!.name);
  assert.equal(new Set(views.map((v) => v['authRevision'])).size, 1, 'every member at the same auth revision');
  // the member that caught up lets bob log in on it
  const bob = clientOf(behind, { username: 'bob', password: 'bobpw' });
  assert.equal(await code(bob.get('/a/1', { serializable: true })), 'etcdserver: permission denied');
  bob.destroy();
});
