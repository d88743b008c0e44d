// Real 3-member clusters in child processes on loopback: SIGKILL of the leader during writes, restart and catch-up
// (through a snapshot once the log moved past the member), agreement of every member's key space, and a
// linearizability check of concurrent reads and writes through different members.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TestCluster, type ClusterMember } from '../helpers/cluster.js';
import { checkHistory, type KvOperation } from '../helpers/linearizability.js';
import type { Client } from '../../src/client/index.js';

const b = (s: string): Buffer => Buffer.from(s);

async function keyspaceDigest(c: Client): Promise<{ revision: number; count: number; digest: string }> {
  const r = await c.range({ key: b('\0'), range_end: b('\0'), serializable: true });
  const h = createHash('sha256');
  for (const kv of r.kvs) h.update(`${Buffer.from(kv.key).toString('hex')}=${Buffer.from(kv.value).toString('hex')}@${kv.create_revision}/${kv.mod_revision}/${kv.version};`);
  return { revision: r.header.revision, count: r.count, digest: h.digest('hex') };
}

/** Puts unique keys through the given members until `until()` is true; returns the acknowledged keys. */
async function writeUntil(cluster: TestCluster, members: () => ClusterMember[], until: (acked: number) => boolean, prefix: string): Promise<Map<string, string>> {
  const acked = new Map<string, string>();
  let seq = 0;
  const worker = async (w: number): Promise<void> => {
    let client: Client | null = null;
    let member: ClusterMember | null = null;
    while (!until(acked.size)) {
      const live = members();
      if (client === null || member === null || member.child === null) {
        client?.destroy();
        member = live[(w + seq) % live.length]!;
        client = cluster.client(member);
      }
      const key = `${prefix}/${w}/${seq++}`;
      const value = `v-${key}`;
      try {
        await client.put({ key: b(key), value: b(value) });
        acked.set(key, value);
      } catch {
        // outcome unknown (leader lost, member killed): switch member and go on
        client.destroy();
        client = null;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    client?.destroy();
  };
  await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
  return acked;
}

test('3 members: SIGKILL of the leader loses no acknowledged write; the member catches up by snapshot after restart', { timeout: 120_000 }, async (t) => {
  const cluster = await TestCluster.start(3, ['--snapshot-count', '500']);
  t.after(() => cluster.stop());
  const leader = await cluster.waitForLeader();
  t.diagnostic(`first leader ${leader.name}`);
  let killed = false;
  const live = (): ClusterMember[] => cluster.members.filter((m) => m.child !== null);
  const first = writeUntil(cluster, live, (n) => n >= 1500, 'a');
  // kill the leader while writes are in flight
  while (!killed) {
    await new Promise((r) => setTimeout(r, 50));
    const s = await cluster.statuses();
    if ([...s.values()].some((x) => x.revision > 500)) {
      await cluster.kill(leader);
      killed = true;
    }
  }
  const ackedA = await first;
  const newLeader = await cluster.waitForLeader();
  assert.notEqual(newLeader.name, leader.name);
  // move the log far past the killed member, so it can only catch up from a snapshot
  const ackedB = await writeUntil(cluster, live, (n) => n >= 7000, 'b');
  cluster.restart(leader);
  await cluster.waitForLeader();
  await cluster.waitForConvergence();
  // Every member must come to hold the same key space at the same revision (a member may still be applying the
  // last entries when convergence of applied indexes is first seen, so poll for a while before judging).
  const digestsOf = (): Promise<{ revision: number; count: number; digest: string }[]> =>
    Promise.all(cluster.members.map(async (m) => {
      const c = cluster.client(m);
      try {
        return await keyspaceDigest(c);
      } finally {
        c.destroy();
      }
    }));
  let digests = await digestsOf();
  for (let i = 0; i < 100 && digests.some((d) => JSON.stringify(d) !== JSON.stringify(digests[0])); i++) {
    await new Promise((r) => setTimeout(r, 200));
    digests = await digestsOf();
  }
  const statuses = await cluster.statuses();
  digests.forEach((d, i) =>
    assert.deepEqual(d, digests[0], `member ${cluster.members[i]!.name} (restarted: ${leader.name}) holds a different key space: ${JSON.stringify(digests)} ${JSON.stringify([...statuses].map(([k, v]) => [k, v.applied, v.revision]))}`),
  );
  const c = cluster.client(leader);
  t.after(() => c.destroy());
  for (const [key, value] of [...ackedA, ...ackedB]) {
    const r = await c.range({ key: b(key), serializable: true });
    assert.equal(r.kvs.length, 1, `acknowledged key ${key} is present on the restarted member`);
    assert.equal(Buffer.from(r.kvs[0]!.value).toString(), value);
  }
  t.diagnostic(`acknowledged ${ackedA.size + ackedB.size} puts; ${digests[0]!.count} keys at revision ${digests[0]!.revision}`);
});

test('3 members: concurrent linearizable reads and writes through different members form a linearizable history', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(3);
  t.after(() => cluster.stop());
  await cluster.waitForLeader();
  const keys = ['x', 'y', 'z'];
  const history: KvOperation[] = [];
  const clients = cluster.members.map((m) => cluster.client(m));
  t.after(() => clients.forEach((c) => c.destroy()));
  let n = 0;
  const t0 = performance.now();
  const deadline = Date.now() + 4000;
  await Promise.all(
    Array.from({ length: 12 }, async (_, w) => {
      const c = clients[w % clients.length]!;
      while (Date.now() < deadline) {
        const key = keys[(w + n) % keys.length]!;
        const write = (n++ + w) % 3 === 0;
        const base = { clientId: w, key, call: performance.now() - t0 };
        const value = `w${w}-${n}`;
        try {
          if (write) {
            const r = await c.put({ key: b(key), value: b(value) });
            history.push({ ...base, kind: 'put', input: value, output: null, return: performance.now() - t0, revision: r.header.revision });
          } else {
            const kv = (await c.range({ key: b(key) })).kvs[0];
            const output = kv ? Buffer.from(kv.value).toString() : null;
            history.push({ ...base, kind: 'get', input: null, output, return: performance.now() - t0, ...(kv ? { revision: kv.mod_revision } : {}) });
          }
        } catch {
          // outcome unknown: the write may have taken effect at any time after its call (a failed read shows nothing)
          if (write) history.push({ ...base, kind: 'put', input: value, output: null, return: Infinity });
        }
      }
    }),
  );
  // Wing & Gong / Porcupine search for an order of each key's operations that respects real time and a register's
  // semantics, plus agreement of revisions with real time and with the values read.
  const result = checkHistory(history);
  assert.ok(result.ok, result.explanation);
  const reads = history.filter((o) => o.kind === 'get' && o.return !== Infinity).length;
  assert.ok(reads > 100, `only ${reads} reads were checked`);
  t.diagnostic(`${history.length} operations, ${reads} reads; ${result.explanation} in ${result.stats.elapsedMs.toFixed(0)} ms`);
});

test('the client fails over between endpoints: reads retry on another member, writes are never resent blindly', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(3);
  t.after(() => cluster.stop());
  await cluster.waitForLeader();
  const { Client } = await import('../../src/client/index.js');
  const { freePort } = await import('../helpers/etcd.js');
  const dead = `127.0.0.1:${await freePort()}`; // nothing listens there
  const client = new Client({ endpoints: [dead, ...cluster.members.map((m) => m.endpoint)], dialTimeoutMs: 500, requestTimeoutMs: 10_000 });
  t.after(() => client.destroy());
  // the first endpoint is down: the client connects to the next one
  await client.put({ key: b('f/1'), value: b('one') }).catch((e: Error) => assert.fail(`first put: ${e.message}`));
  const connected = cluster.members.find((m) => m.endpoint === (client as unknown as { options: { endpoints: string[] } }).options.endpoints[(client as unknown as { connectedTo: number }).connectedTo])!;
  assert.ok(connected !== undefined);
  // kill the member the client is talking to while reads are in flight: every read still gets its answer
  const reads = Array.from({ length: 50 }, () => client.range({ key: b('f/1') }).catch((e: Error) => assert.fail(`read during failover: ${e.message}`)));
  await cluster.kill(connected);
  const results = await Promise.all(reads);
  for (const r of results) assert.equal(Buffer.from(r.kvs[0]!.value).toString(), 'one');
  // a write whose connection breaks after it was sent is reported, not resent (its outcome is unknown)
  cluster.restart(connected);
  await cluster.waitForLeader();
  await cluster.waitForConvergence();
  const survivor = cluster.members.find((m) => m.endpoint === (client as unknown as { options: { endpoints: string[] } }).options.endpoints[(client as unknown as { connectedTo: number }).connectedTo])!;
  const write = client.put({ key: b('f/2'), value: b('two') }).then(() => 'acknowledged', (e: Error) => e.message);
  await cluster.kill(survivor);
  const outcome = await write;
  assert.ok(outcome === 'acknowledged' || outcome === 'connection closed', outcome);
});
