// Logins are bcrypt checks (~50 ms of a core each at the default cost 10): they run off the event loop, bounded
// (AUTH_PASSWORD_CHECKS_PARALLEL at once, AUTH_PASSWORD_CHECKS_PENDING_MAX running or waiting), so a burst of wrong
// passwords neither stops Raft's heartbeats (no election: the term does not move) nor the other clients' requests,
// and a burst beyond the bound is refused at once rather than queued.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, EtcdError } from '../../src/client/index.js';
import { AUTH_PASSWORD_CHECKS_PENDING_MAX } from '../../src/config/index.js';
import { setUpAuth } from '../helpers/auth.js';
import { TestCluster } from '../helpers/cluster.js';
import { startInProcess } from '../helpers/member.js';

const b = (s: string): Buffer => Buffer.from(s);

test('50 wrong-password logins at once on the leader: all refused with etcd\'s message, no election, other clients served', { timeout: 120_000 }, async (t) => {
  const cluster = await TestCluster.start(3); // bcrypt at etcd's default cost
  t.after(() => cluster.stop());
  const leader = await cluster.waitForLeader();
  const setup = cluster.client(leader);
  await setUpAuth(setup, 'rootpw', [{ name: 'alice', password: 'alicepw', roles: { r1: [['readwrite', '/a/', 'prefix']] } }]);
  setup.destroy();
  const alice = new Client({ endpoints: [leader.endpoint], username: 'alice', password: 'alicepw', requestTimeoutMs: 10_000 });
  t.after(() => alice.destroy());
  await alice.put({ key: b('/a/0'), value: b('x') });
  const termBefore = (await alice.status()).raftTerm;

  const attacker = cluster.client(leader);
  t.after(() => attacker.destroy());
  let bursting = true;
  const burst = Promise.all(
    Array.from({ length: 50 }, () => attacker.call('Authenticate', { name: 'alice', password: 'wrong' }).then(() => 'logged in', (err: EtcdError) => err.message)),
  ).finally(() => (bursting = false));
  // meanwhile alice reads and writes on the same member
  let served = 0;
  while (bursting) {
    await alice.put({ key: b(`/a/${served}`), value: b('v') });
    await alice.get(`/a/${served}`);
    served++;
  }
  const answers = await burst;
  assert.deepEqual(new Set(answers), new Set(['etcdserver: authentication failed, invalid user ID or password']));
  assert.ok(served > 0, 'the other client was served during the burst');
  const statuses = await cluster.statuses();
  for (const [name, s] of statuses) assert.equal(s.term, termBefore, `${name}: no election during the burst`);
});

test('password checks beyond the bound are refused at once with `too many authentication requests`', { timeout: 60_000 }, async (t) => {
  const m = await startInProcess(['--bcrypt-cost', '4']); // the checks of one burst arrive together: the bound holds at any cost
  t.after(() => m.close());
  const c = m.client();
  await setUpAuth(c, 'rootpw');
  const tries = AUTH_PASSWORD_CHECKS_PENDING_MAX + 16;
  const answers = await Promise.all(
    Array.from({ length: tries }, () => c.call('Authenticate', { name: 'root', password: 'wrong' }).then(() => 'logged in', (err: EtcdError) => err.message)),
  );
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  assert.equal(counts.get('etcdserver: too many authentication requests'), tries - AUTH_PASSWORD_CHECKS_PENDING_MAX, JSON.stringify([...counts]));
  assert.equal(counts.get('etcdserver: authentication failed, invalid user ID or password'), AUTH_PASSWORD_CHECKS_PENDING_MAX);
  // and the member still logs in a right password afterwards
  assert.match((await c.call('Authenticate', { name: 'root', password: 'rootpw' })).token, /\.\d+$/);
});
