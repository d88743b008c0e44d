// Partitions through the transport's fault hooks, on a 3-member cluster running in this process (each member with
// its own LMDB environment, Raft driver and peer transport on loopback): an isolated leader steps down and serves
// no stale linearizable read, the majority elects a new leader and keeps accepting writes, and after healing the
// old leader catches up; an asymmetric partition (the leader hears nobody) also makes it step down; a lost ReadIndex
// request is sent again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/index.js';
import { isLeader, startInProcessCluster, until as waitUntil, type InProcessClusterMember } from '../helpers/in-process-cluster.js';

const b = (s: string): Buffer => Buffer.from(s);

interface Running extends InProcessClusterMember {
  client: Client;
}

async function startCluster(t: { after(fn: () => unknown): void }): Promise<Running[]> {
  const members = await startInProcessCluster(t, { heartbeatMs: 20, electionMs: 200 });
  const running = members.map((m) => ({ ...m, client: new Client({ endpoints: [m.endpoint], requestTimeoutMs: 1500 }) }));
  t.after(() => running.forEach((m) => m.client.destroy()));
  return running;
}

const until = (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> => waitUntil(what, check, timeoutMs, 10);
const leaderOf = (ms: Running[]): Running | undefined => ms.find(isLeader);

test('an isolated leader steps down and serves no stale read; the majority goes on; healing catches it up', { timeout: 60_000 }, async (t) => {
  const ms = await startCluster(t);
  await until('a leader', () => leaderOf(ms) !== undefined);
  const old = leaderOf(ms)!;
  const others = ms.filter((m) => m !== old);
  for (let i = 0; i < 50; i++) await old.client.put({ key: b(`k${i}`), value: b('before') });
  const oldTerm = old.member.server.raft.node.raft.term;

  // isolate the leader in both directions
  old.member.server.transport!.faults.isolate(others.map((m) => m.member.server.memberId));
  for (const m of others) m.member.server.transport!.faults.isolate([old.member.server.memberId]);
  await until('the isolated leader steps down (check-quorum)', () => !isLeader(old));
  await until('the majority elects a new leader', () => others.some(isLeader));
  const fresh = leaderOf(others)!;
  assert.ok(fresh.member.server.raft.node.raft.term > oldTerm);

  await fresh.client.put({ key: b('k0'), value: b('after') });
  const stale = await old.client.range({ key: b('k0') }).then(
    (r) => Buffer.from(r.kvs[0]!.value).toString(),
    (e: Error) => `failed: ${e.message}`,
  );
  assert.notEqual(stale, 'before', 'a linearizable read on the isolated member must not return the overwritten value');
  for (let i = 0; i < 50; i++) await others[i % 2]!.client.put({ key: b(`m${i}`), value: b('majority') });

  // heal: the old leader rejoins as a follower and catches up
  for (const m of ms) m.member.server.transport!.faults.clear();
  await until('the old leader caught up', () => old.member.server.revision === fresh.member.server.revision, 20_000);
  const read = await old.client.range({ key: b('k0') });
  assert.equal(Buffer.from(read.kvs[0]!.value).toString(), 'after');
  assert.equal((await old.client.range({ key: b('m'), range_end: b('n') })).count, 50);
});

test('an asymmetric partition where the leader hears nobody makes it step down', { timeout: 60_000 }, async (t) => {
  const ms = await startCluster(t);
  await until('a leader', () => leaderOf(ms) !== undefined);
  const old = leaderOf(ms)!;
  const others = ms.filter((m) => m !== old);
  // the leader's messages still reach the others, but nothing reaches the leader
  for (const m of others) old.member.server.transport!.faults.blockIn.add(m.member.server.memberId);
  await until('the deaf leader steps down', () => !isLeader(old));
  for (const m of ms) m.member.server.transport!.faults.clear();
  await until('one leader again', () => ms.filter(isLeader).length === 1 && ms.every((m) => m.member.server.leader !== 0n));
  const leader = leaderOf(ms)!;
  await leader.client.put({ key: b('healed'), value: b('yes') });
  for (const m of ms) assert.equal((await m.client.range({ key: b('healed') })).kvs.length, 1);
});

test('a follower whose ReadIndex request is lost sends it again: the linearizable read completes, not times out', { timeout: 60_000 }, async (t) => {
  const ms = await startCluster(t);
  await until('a leader', () => leaderOf(ms) !== undefined);
  const leader = leaderOf(ms)!;
  const follower = ms.find((m) => m !== leader)!;
  const client = new Client({ endpoints: [follower.endpoint], requestTimeoutMs: 20_000 });
  t.after(() => client.destroy());
  await client.put({ key: b('ri'), value: b('v') });
  // what the follower sends the leader is dropped for a moment: the ReadIndex request of this read is lost
  follower.member.server.transport!.faults.blockOut.add(leader.member.server.memberId);
  const started = performance.now();
  const read = client.range({ key: b('ri') }).then((r) => Buffer.from(r.kvs[0]!.value).toString(), (e: Error) => `failed: ${e.message}`);
  await new Promise((r) => setTimeout(r, 300));
  follower.member.server.transport!.faults.clear();
  assert.equal(await read, 'v');
  // resent after 500 ms (etcd's readIndexRetryTime), well before the request timeout (5.4 s here)
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 3000, `the read took ${elapsed.toFixed(0)} ms`);
});
