// Resumable watchers on a real 3-member cluster: the leader is killed with SIGKILL mid-load and restarted, then a
// follower that serves a watcher of its own is killed and restarted. Every watcher's events, across its
// reconnections and failovers, are complete, ordered and unique against the history read back at the end.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, type ClusterMember } from '../helpers/cluster.js';
import { assertWatch, History, Recorder, syncWatcher, type WatchSpec } from '../helpers/watch-checker.js';
import { Client, prefixRangeEnd, WatchFilterType, type Watcher, type WatchOptions } from '../../src/client/index.js';

const b = (s: string): Buffer => Buffer.from(s);
const KEYS = 40;

interface W {
  name: string;
  spec: WatchSpec;
  rec: Recorder;
  w: Watcher;
  /** the member its client connects to first */
  home: ClusterMember;
}

test('3 members: watchers resume across SIGKILL of the leader and of a follower, with no gap and no duplicate', { timeout: 120_000 }, async (t) => {
  const cluster = await TestCluster.start(3);
  const clients: Client[] = [];
  t.after(async () => {
    for (const c of clients) c.destroy();
    await cluster.stop();
  });
  try {
    await scenario(t, cluster, clients);
  } catch (err) {
    for (const m of cluster.members) t.diagnostic(`${m.name} (${m.child === null ? 'down' : `pid ${m.child.pid}`}) log tail:\n${m.log.slice(-1500)}`);
    throw err;
  }
});

async function scenario(t: TestContext, cluster: TestCluster, clients: Client[]): Promise<void> {
  const leader = await cluster.waitForLeader(30_000);
  const follower = cluster.members.find((m) => m !== leader)!;
  const clientFor = (endpoints: string[]): Client => {
    const c = new Client({ endpoints, dialTimeoutMs: 1000, requestTimeoutMs: 5000 });
    clients.push(c);
    return c;
  };
  const watchers: W[] = [];
  const watch = async (name: string, client: Client, home: ClusterMember, opts: WatchOptions): Promise<void> => {
    const rec = new Recorder();
    const w = client.watch(opts, rec.handlers);
    const created = await w.ready;
    const key = b(opts.key as string);
    const range_end = opts.prefix ? Buffer.from(prefixRangeEnd(key)) : opts.range_end === undefined ? undefined : Buffer.from(opts.range_end as Uint8Array);
    watchers.push({ name, rec, w, home, spec: { key, range_end, from: opts.start_revision ?? created + 1, prev_kv: opts.prev_kv, filters: opts.filters } });
  };

  // per member, a client that prefers it and fails over to the others, with a few watchers
  for (const [i, m] of cluster.members.entries()) {
    const c = clientFor([m.endpoint, ...cluster.members.filter((x) => x !== m).map((x) => x.endpoint)]);
    await watch(`${m.name}/prefix`, c, m, { key: 'c/', prefix: true, prev_kv: true });
    await watch(`${m.name}/key`, c, m, { key: `c/k${i + 3}`, prev_kv: i !== 1 });
    await watch(`${m.name}/from-key`, c, m, { key: 'c/k2', range_end: Buffer.from([0]), filters: [WatchFilterType.NODELETE] });
    await watch(`${m.name}/deletes`, c, m, { key: 'c/k1', range_end: 'c/k3', filters: [WatchFilterType.NOPUT], prev_kv: true });
  }
  // a watcher on the follower alone: while the follower is down it waits, then resumes on it
  await watch(`${follower.name}-only/prefix`, clientFor([follower.endpoint]), follower, { key: 'c/', prefix: true, prev_kv: true });

  // the load: puts and some deletes through every member, whatever happens to them
  let stop = false;
  const writers = Array.from({ length: 8 }, async (_, w) => {
    const c = clientFor([...cluster.members.slice(w % 3), ...cluster.members.slice(0, w % 3)].map((m) => m.endpoint));
    for (let i = 0; !stop; i++) {
      const key = b(`c/k${(w * 7 + i * 3) % KEYS}`);
      try {
        if (i % 9 === 8) await c.deleteRange({ key });
        else await c.put({ key, value: b(`w${w}-${i}`) });
      } catch {
        await new Promise((r) => setTimeout(r, 50)); // unknown outcome: the history will tell
      }
      await new Promise((r) => setTimeout(r, 15));
    }
  });
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const revision = async (): Promise<number> => {
    const s = await cluster.statuses();
    return Math.max(...[...s.values()].map((x) => x.revision));
  };

  /** lets the load move the revision on by `n` (the cluster may need a while after a kill) */
  const progress = async (n: number): Promise<void> => {
    const target = (await revision()) + n;
    const deadline = Date.now() + 30_000;
    while ((await revision()) < target) {
      if (Date.now() > deadline) throw new Error(`the revision did not reach ${target}`);
      await pause(100);
    }
  };

  await progress(150);
  await cluster.kill(leader);
  const newLeader = await cluster.waitForLeader(30_000);
  t.diagnostic(`killed leader ${leader.name} at ~${await revision()}; new leader ${newLeader.name}`);
  await progress(150);
  cluster.restart(leader);
  await cluster.waitForLeader(30_000);
  await progress(150);
  const followerOnly = watchers.find((x) => x.name.endsWith('-only/prefix'))!;
  const beforeKill = followerOnly.rec.events;
  await cluster.kill(follower);
  const killedAt = await revision();
  t.diagnostic(`killed ${follower.name} at ~${killedAt} (its own watcher had ${beforeKill} events)`);
  await progress(150);
  cluster.restart(follower);
  await cluster.waitForLeader(30_000);
  await progress(150);
  stop = true;
  await Promise.all(writers);
  await cluster.waitForConvergence();

  const reader = clientFor(cluster.members.map((m) => m.endpoint));
  const last = (await reader.status()).header.revision;
  const history = new History();
  await history.readTo(reader, last);
  await Promise.all(watchers.map((x) => syncWatcher(x.w, x.rec, last, 20_000)));
  let events = 0;
  for (const x of watchers) {
    assert.equal(x.rec.error, null, `${x.name}: ${x.rec.error?.message}`);
    assert.equal(x.rec.canceled, null, `${x.name} was not cancelled`);
    events += assertWatch(history, x.spec, x.rec.responses, { through: last, context: x.name }).events;
  }
  const summary = watchers.map((x) => `${x.name}: ${x.rec.events} events, ${x.w.reopens} reopen(s)`).join('; ');
  t.diagnostic(`${last} revisions; ${events} events checked; ${summary}`);
  assert.ok(last > 750, 'a real load');
  for (const x of watchers.filter((w) => w.home === leader)) assert.ok(x.w.reopens > 0, `${x.name} resumed after its member was killed`);
  assert.ok(followerOnly.w.reopens > 0);
  assert.ok(beforeKill > 0 && followerOnly.rec.events > beforeKill, 'the follower-only watcher got events before the kill and after the restart');
  const afterRestart = followerOnly.rec.responses.flatMap((r) => r.events).filter((e) => e.kv.mod_revision > killedAt).length;
  assert.ok(afterRestart > 0);
}
