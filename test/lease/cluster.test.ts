// Leases on a real 3-member cluster (child processes, --lease-checkpoint-interval 1s): an expiring lease deletes the
// same keys at the same revision on every member; a lease keeps its remaining TTL across a leader change (kill -9 of
// the leader) and across a full cluster restart instead of starting over; a Session keeps its lease alive across the
// loss of the member it talks to.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Session, type KeyValue } from '../../src/client/index.js';
import { TestCluster, type ClusterMember } from '../helpers/cluster.js';
import { sleep, waitUntil } from '../helpers/lease.js';

const b = (s: string): Buffer => Buffer.from(s);
const prefixEnd = (p: string): Buffer => {
  const k = b(p);
  return Buffer.concat([k.subarray(0, -1), Buffer.from([k[k.length - 1]! + 1])]);
};

let cluster: TestCluster;
const clients: Client[] = [];
function clientOf(m: ClusterMember): Client {
  const c = cluster.client(m);
  clients.push(c);
  return c;
}

before(async () => {
  cluster = await TestCluster.start(3, ['--lease-checkpoint-interval', '1s']);
  await cluster.waitForLeader();
});
after(async () => {
  for (const c of clients) c.destroy();
  await cluster?.stop();
});

/** The key-value pairs under a prefix at a revision, read from one member's own store. */
async function snapshotAt(m: ClusterMember, prefix: string, revision: number): Promise<string[]> {
  const c = clientOf(m);
  const r = await c.range({ key: b(prefix), range_end: prefixEnd(prefix), revision, serializable: true });
  c.destroy();
  return r.kvs.map((kv: KeyValue) => `${Buffer.from(kv.key).toString()}=${Buffer.from(kv.value).toString()}@${kv.mod_revision}/${kv.lease}`);
}

/** Resolves when no key under the prefix is left on the member (polling its own store). */
async function waitGone(c: Client, prefix: string, timeoutMs: number): Promise<number> {
  await waitUntil(`${prefix} deleted`, async () => ((await c.range({ key: b(prefix), range_end: prefixEnd(prefix), serializable: true, count_only: true })).count === 0 ? true : undefined), timeoutMs, 50);
  return Date.now();
}

test('an expiring lease deletes the same keys at the same revision on every member', async () => {
  const leader = await cluster.waitForLeader();
  const members = cluster.members;
  const lc = clientOf(leader);
  const g = await lc.call('LeaseGrant', { TTL: 2 });
  // attach keys through every member (followers forward the puts)
  for (const [i, m] of members.entries()) {
    const c = clientOf(m);
    await c.put({ key: b(`cx/k${i}`), value: b(`v${i}`), lease: g.ID });
    await c.put({ key: b(`cx/plain${i}`), value: b('p') });
  }
  const start = (await lc.get('cx/k0')).header.revision;
  await waitGone(lc, 'cx/k', 8000);
  await cluster.waitForConvergence();
  const end = (await lc.get('cx/')).header.revision;
  assert.equal(end, start + 1, 'the expiry is one revision');
  // every member: the keys exist at start, are gone at start + 1, and the whole history of the prefix is the same
  for (let rev = start - members.length * 2; rev <= end; rev++) {
    const views = await Promise.all(members.map((m) => snapshotAt(m, 'cx/', rev)));
    for (const [i, v] of views.entries()) assert.deepEqual(v, views[0], `member ${members[i]!.name} differs at revision ${rev}`);
  }
  const [atStart, atEnd] = [await snapshotAt(members[1]!, 'cx/', start), await snapshotAt(members[2]!, 'cx/', end)];
  assert.equal(atStart.filter((s) => s.startsWith('cx/k')).length, 3);
  assert.deepEqual(atEnd.map((s) => s.split('=')[0]), ['cx/plain0', 'cx/plain1', 'cx/plain2']);
  for (const m of members) {
    const c = clientOf(m);
    assert.equal((await c.call('LeaseTimeToLive', { ID: g.ID })).TTL, -1, `${m.name} forgot the lease`);
  }
});

test('a keep-alive answered TTL > 0 is never undone by an expiry the leader decided before applying it', async () => {
  // 400 leases of 2 s expire together; each gets one keep-alive through a follower, spread over the moments the
  // leader finds them expired. A keep-alive already in the log when the leader proposes the revocation used to be
  // answered "renewed" while the revocation right behind it deleted the lease.
  const leader = await cluster.waitForLeader();
  const follower = cluster.members.find((m) => m !== leader)!;
  const lc = clientOf(leader);
  const fc = clientOf(follower);
  const N = 400;
  const ids = await Promise.all(Array.from({ length: N }, () => lc.call('LeaseGrant', { TTL: 2 }).then((g) => g.ID)));
  const grantedAt = Date.now();
  const answers = new Map<bigint, { ttl: number; at: number }>();
  const stream = await fc.openStream('LeaseKeepAlive', undefined, { message: (r) => answers.set(r.ID, { ttl: r.TTL, at: Date.now() }), end: () => {} });
  for (let i = 0; i < N; i++) {
    const wait = grantedAt + 1800 + (i / N) * 900 - Date.now();
    if (wait > 0) await sleep(wait);
    stream.send({ ID: ids[i]! });
  }
  await waitUntil('every keep-alive answered', async () => (answers.size === N ? true : undefined), 5000);
  stream.close();
  const checkedAt = Date.now();
  const live = new Set((await lc.call('LeaseLeases', {})).leases.map((l) => l.ID));
  const renewed = [...answers].filter(([, a]) => a.ttl > 0);
  assert.ok(renewed.length > 20 && renewed.length < N, `${renewed.length} of ${N} renewed: the keep-alives missed the expiry moment`);
  const undone = renewed.filter(([id, a]) => !live.has(id) && checkedAt - a.at < 1800);
  assert.deepEqual(undone.map(([id]) => String(id)), [], `${undone.length} leases answered "renewed for 2 s" were revoked right after`);
  await Promise.all(ids.map((id) => lc.call('LeaseRevoke', { ID: id }).catch(() => {})));
});

test('a checkpoint measured before a keep-alive does not undo the renewal', async () => {
  // 600 leases of 10 s, each renewed once 2-4 s after the grant through a follower; checkpoints run every second.
  // A checkpoint measured just before a renewal and applied after it used to set the remaining TTL back to 6-8 s.
  const leader = await cluster.waitForLeader();
  const follower = cluster.members.find((m) => m !== leader)!;
  const lc = clientOf(leader);
  const fc = clientOf(follower);
  const N = 600;
  const ids = await Promise.all(Array.from({ length: N }, () => lc.call('LeaseGrant', { TTL: 10 }).then((g) => g.ID)));
  const grantedAt = Date.now();
  const stale: string[] = [];
  const checks: Promise<void>[] = [];
  const stream = await fc.openStream('LeaseKeepAlive', undefined, {
    message: (r) => {
      // the follower reports the replicated remaining TTL (no clock of its own): the full TTL until a checkpoint
      // measured after the renewal
      checks.push(fc.call('LeaseTimeToLive', { ID: r.ID }).then((t) => void (t.TTL < 9 && stale.push(`${r.ID}: ${t.TTL} s`))));
    },
    end: () => {},
  });
  for (let i = 0; i < N; i++) {
    const wait = grantedAt + 2000 + (i / N) * 2000 - Date.now();
    if (wait > 0) await sleep(wait);
    stream.send({ ID: ids[i]! });
  }
  await waitUntil('every check done', async () => (checks.length === N ? true : undefined), 5000);
  await Promise.all(checks);
  stream.close();
  assert.deepEqual(stale, [], 'renewed leases whose remaining TTL a stale checkpoint set back');
  await Promise.all(ids.map((id) => lc.call('LeaseRevoke', { ID: id }).catch(() => {})));
});

test('after a leader change (kill -9 of the leader) a lease keeps its remaining TTL and expires at its original deadline', async () => {
  const leader = await cluster.waitForLeader();
  const others = cluster.members.filter((m) => m !== leader);
  const lc = clientOf(leader);
  const TTL = 14;
  const sentAt = Date.now();
  const g = await lc.call('LeaseGrant', { TTL });
  await lc.put({ key: b('lc/k'), value: b('v'), lease: g.ID });
  // a Session on the same (doomed) member, with every endpoint to fail over to
  const sc = new Client({ endpoints: [leader.endpoint, ...others.map((m) => m.endpoint)], dialTimeoutMs: 1000, requestTimeoutMs: 5000 });
  clients.push(sc);
  const session = await Session.create(sc, { ttl: 3 });
  await sc.put({ key: b('lc/session'), value: b('s'), lease: session.lease });

  await sleep(7000); // several checkpoints (every 1 s)
  await cluster.kill(leader);
  const changedAt = Date.now();
  const next = await cluster.waitForLeader();
  const nc = clientOf(next);
  const t = await nc.call('LeaseTimeToLive', { ID: g.ID });
  const elapsed = (Date.now() - sentAt) / 1000;
  // remaining = TTL - elapsed, + up to 1 s of checkpoint rounding, the time from the last checkpoint (<= 1 s before
  // the kill) to the new leader's promotion (the election), and the new leader's 0.5 s of grace
  assert.ok(t.TTL <= Math.ceil(TTL - elapsed + 4), `timetolive ${t.TTL} s after the change, ${elapsed.toFixed(1)} s after the grant: the TTL started over`);
  assert.ok(t.TTL >= Math.floor(TTL - elapsed - 1), `timetolive ${t.TTL} s after ${elapsed.toFixed(1)} s: less than what was left`);
  assert.equal(t.grantedTTL, TTL);

  const goneAt = await waitGone(nc, 'lc/k', 15_000);
  const fromGrant = (goneAt - sentAt) / 1000;
  assert.ok(fromGrant >= TTL, `expired ${fromGrant.toFixed(1)} s after the grant: before its TTL`);
  assert.ok(fromGrant <= TTL + 4.5, `expired ${fromGrant.toFixed(1)} s after the grant, ${((goneAt - changedAt) / 1000).toFixed(1)} s after the leader change: not at its original deadline`);

  // the Session failed over and kept its lease alive through all of this
  assert.equal(session.isDone, false, 'session still running');
  assert.equal((await nc.get('lc/session')).count, 1, 'the session key survived the loss of its member and > 3 x its TTL');
  assert.ok((await nc.call('LeaseTimeToLive', { ID: session.lease })).TTL >= 1);
  await session.close();
  assert.equal((await nc.get('lc/session')).count, 0);

  cluster.restart(leader);
  await cluster.waitForLeader();
  await cluster.waitForConvergence();
});

test('after a full cluster restart a lease continues from its checkpointed remaining TTL', async () => {
  const leader = await cluster.waitForLeader();
  const lc = clientOf(leader);
  const TTL = 14;
  const g = await lc.call('LeaseGrant', { TTL });
  await lc.put({ key: b('rs/k'), value: b('v'), lease: g.ID });
  const long = await lc.call('LeaseGrant', { TTL: 60 });
  await sleep(7000);
  const left = (await lc.call('LeaseTimeToLive', { ID: g.ID })).TTL; // ~7
  await Promise.all(cluster.members.map((m) => cluster.kill(m)));
  for (const m of cluster.members) cluster.restart(m);
  const next = await cluster.waitForLeader();
  const upAt = Date.now();
  const nc = clientOf(next);
  const t = await nc.call('LeaseTimeToLive', { ID: g.ID });
  assert.ok(t.TTL <= left + 3, `timetolive ${t.TTL} s after the restart, ${left} s before it: the TTL started over`);
  assert.ok(t.TTL >= left - 1, `timetolive ${t.TTL} s after the restart, ${left} s before it`);
  const lt = await nc.call('LeaseTimeToLive', { ID: long.ID });
  assert.ok(lt.TTL >= 49 && lt.TTL <= 56, `the 60 s lease has ${lt.TTL} s left`);
  const goneAt = await waitGone(nc, 'rs/k', 15_000);
  const afterUp = (goneAt - upAt) / 1000;
  assert.ok(afterUp >= left - 1.5, `expired ${afterUp.toFixed(1)} s after the restart with ${left} s left`);
  assert.ok(afterUp <= left + 4.5, `expired ${afterUp.toFixed(1)} s after the restart with ${left} s left: the TTL started over`);
  await nc.call('LeaseRevoke', { ID: long.ID });
});
