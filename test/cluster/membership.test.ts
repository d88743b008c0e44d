// Runtime reconfiguration of a real cluster: member list, add a learner that joins with
// --initial-cluster-state existing and catches up, promote it, move leadership to it, remove a member; and
// etcd's refusals (unknown member, promoting a voter, a second learner, moving leadership from a follower).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { TestCluster, type ClusterMember } from '../helpers/cluster.js';
import { runEtcdTs } from '../helpers/member.js';
import { startEtcdTsWith } from '../helpers/process.js';
import { EtcdError } from '../../src/errors/index.js';

const b = (s: string): Buffer => Buffer.from(s);

/** Calls `fn` until it is not refused with etcd's `unhealthy cluster` (a member added too soon after start-up). */
async function untilHealthy<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof EtcdError) || err.message !== 'etcdserver: unhealthy cluster' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

test('member list, add learner, join, promote, move-leader and remove in a running cluster', { timeout: 120_000 }, async (t) => {
  const cluster = await TestCluster.start(3);
  t.after(() => cluster.stop());
  const leader = await cluster.waitForLeader();
  const follower = cluster.members.find((m) => m !== leader)!;
  const lc = cluster.client(leader);
  const fc = cluster.client(follower);
  t.after(() => {
    lc.destroy();
    fc.destroy();
  });
  for (let i = 0; i < 200; i++) await lc.put({ key: b(`pre/${i}`), value: b(String(i)) });

  const listed = await fc.call('MemberList', {});
  assert.deepEqual(listed.members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
  assert.deepEqual((await lc.call('MemberList', {})).members, listed.members, 'every member lists the same members');

  const joiner = await cluster.addMember('m4');
  const peerURL = `http://127.0.0.1:${joiner.peerPort}`;
  // etcd adds a member only once the member asked has been connected to every voter for 5 s (HealthInterval)
  const added = await untilHealthy(() => fc.call('MemberAdd', { peerURLs: [peerURL], isLearner: true }));
  assert.equal(added.member.isLearner, true);
  assert.deepEqual(added.member.peerURLs, [peerURL]);
  assert.equal(added.members.length, 4);
  await assert.rejects(fc.call('MemberAdd', { peerURLs: ['http://127.0.0.1:1'], isLearner: true }), (e: EtcdError) => e.message === 'etcdserver: too many learner members in cluster');
  await assert.rejects(fc.call('MemberAdd', { peerURLs: [peerURL] }), (e: EtcdError) => e.message === 'etcdserver: Peer URLs already exists');
  await assert.rejects(fc.call('MemberPromote', { ID: listed.members[0]!.ID }), (e: EtcdError) => e.message === 'etcdserver: can only promote a learner member');
  await assert.rejects(fc.call('MemberRemove', { ID: 12345n }), (e: EtcdError) => e.message === 'etcdserver: member not found');

  cluster.startJoining(joiner);
  await cluster.waitForConvergence(60_000);
  const jc = cluster.client(joiner);
  t.after(() => jc.destroy());
  const got = await jc.range({ key: b('pre/'), range_end: b('pre0'), serializable: true });
  assert.equal(got.count, 200, 'the learner replicated the key space');
  const joinerStatus = await jc.status();
  assert.equal(joinerStatus.isLearner, true);
  assert.equal(joinerStatus.header.member_id, added.member.ID);

  // promote (retry while the learner is not yet in sync, as etcdctl users do)
  let promoted = null;
  for (let i = 0; i < 50 && promoted === null; i++) {
    promoted = await lc.call('MemberPromote', { ID: added.member.ID }).catch((e: EtcdError) => {
      if (e.message.includes('in sync')) return null;
      throw e;
    });
    if (promoted === null) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(promoted !== null);
  assert.equal(promoted.members.find((m) => m.ID === added.member.ID)!.isLearner, false);

  await assert.rejects(fc.call('MoveLeader', { targetID: added.member.ID }), (e: EtcdError) => e.message === 'etcdserver: not leader');
  await lc.call('MoveLeader', { targetID: added.member.ID });
  assert.equal((await jc.status()).leader, added.member.ID, 'leadership moved to the new member');

  const removedId = (await lc.status()).header.member_id;
  const removed = await jc.call('MemberRemove', { ID: removedId });
  assert.equal(removed.members.length, 3);
  assert.ok(!removed.members.some((m) => m.ID === removedId));
  await jc.put({ key: b('after-remove'), value: b('ok') });
  assert.equal((await fc.range({ key: b('after-remove') })).kvs.length, 1);

  // the removed member stops itself; restarted on its old data it is refused by its former peers and exits
  const gone = cluster.members.find((m) => m === leader)!;
  const exited = (child: import('node:child_process').ChildProcess): Promise<number | null> =>
    child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));
  assert.equal(await exited(gone.child!), 1, 'a removed member exits');
  gone.child = null;
  cluster.restart(gone);
  assert.equal(await exited(gone.child!), 1, 'a removed member cannot rejoin');
  assert.match(gone.log, /permanently removed from the cluster/);
  gone.child = null;
});

test("wrong configuration is refused: a joining member whose --initial-cluster disagrees, a member bootstrapping twice, another cluster's traffic", { timeout: 90_000 }, async (t) => {
  const cluster = await TestCluster.start(3);
  t.after(() => cluster.stop());
  const leader = await cluster.waitForLeader();
  const [m1, m2, m3] = cluster.members as [ClusterMember, ClusterMember, ClusterMember];
  const stranger = await cluster.addMember('m9');
  const strangerFlags = (initialCluster: string, state: string): string[] => [
    '--name', 'm9', '--data-dir', stranger.dataDir,
    '--listen-client-binary-urls', `http://127.0.0.1:${stranger.clientPort}`, '--listen-client-urls', 'http://127.0.0.1:0',
    '--listen-peer-urls', `http://127.0.0.1:${stranger.peerPort}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${stranger.peerPort}`,
    '--initial-cluster', initialCluster, '--initial-cluster-state', state,
    '--heartbeat-interval', '50', '--election-timeout', '500',
  ];
  const peer = (m: ClusterMember): string => `${m.name}=http://127.0.0.1:${m.peerPort}`;
  const self = `m9=http://127.0.0.1:${stranger.peerPort}`;

  // existing: the cluster has 3 members and was never told about m9
  let r = await runEtcdTs(strangerFlags([peer(m1), peer(m2), peer(m3), self].join(','), 'existing'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /error validating peerURLs \{ClusterID:[0-9a-f]+ Members:\[.*\]\}: member count is unequal/);

  // existing, right count, one URL wrong (m3 named at m9's address); same data dir: the refusal above stored nothing

  r = await runEtcdTs(strangerFlags([peer(m1), peer(m2), self].join(','), 'existing'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /unmatched member while checking PeerURLs/);

  // no peer answers at all
  r = await runEtcdTs(strangerFlags(`m8=http://127.0.0.1:1,${self}`, 'existing'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /could not retrieve cluster information from the given URLs/);

  // a started member that lost its data directory must not bootstrap a second cluster
  const victim = cluster.members.find((m) => m !== leader)!;
  await cluster.kill(victim);
  fs.rmSync(victim.dataDir, { recursive: true, force: true });
  r = await runEtcdTs(cluster.argsFor(victim));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /member [0-9a-f]+ has already been bootstrapped/);

  // new, with a disagreeing --initial-cluster: another cluster ID, so every peer refuses its traffic
  const bogus = await startEtcdTsWith(strangerFlags([peer(m1), peer(m2), self].join(','), 'new'));
  t.after(() => bogus.stop());
  const deadline = Date.now() + 15_000;
  while (!/cluster ID mismatch/.test(bogus.stderr()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
  assert.match(bogus.stderr(), /refused our connection: cluster ID mismatch/);
  const lc = cluster.client(leader);
  t.after(() => lc.destroy());
  await lc.put({ key: b('still'), value: b('serving') });
  const listed = await lc.call('MemberList', {});
  assert.deepEqual(listed.members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
});
