// kill -9 of the write path under a concurrent write load (issue 12): a member dies at a named failpoint of the
// pipeline (src/failpoints: the step between the log's flush and anything else, inside and right after the apply
// transaction, inside a compaction step) or at a random moment, and is restarted on the same data directory. Then:
// every acknowledged write is there at the revision it was acknowledged with (also read back at that revision), no
// write is applied twice, every revision of the history is exactly one request's effect on a model, the store
// revision is the history's last, and the key space is the model's (test/helpers/write-history.ts does the check).
// Writes in flight at the crash may or may not be there, but at most once.
//
// These hold before and after group commit (the apply committed together with the next batch's log append).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client, type EtcdError, type Event } from '../../src/client/index.js';
import { startChild, tempDir, type ChildMember } from '../helpers/member.js';
import { TestCluster, type ClusterMember } from '../helpers/cluster.js';
import { KvModel, type ModelOp } from '../helpers/kv-model.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';
import {
  checkWriteHistory,
  matchDeletes,
  modelOf,
  LOAD_CLIENTS,
  LOAD_WINDOW,
  PREFIX,
  readAll,
  runWriteLoad,
  watchHistory,
  type LoadResult,
  type WriteRequest,
} from '../helpers/write-history.js';

type TestContext = { after(fn: () => unknown): void; diagnostic(message: string): void };

/**
 * A load gives up when no write has been acknowledged for this long: the member stopped answering. The bound a
 * write-path failpoint must fire within is in acknowledged writes (firesBy), not in time: its passes come one per
 * fsync'd batch, and a loaded machine makes fewer, larger batches per second (200 passes once took more than 8 s with
 * 5952 writes acknowledged, and a whole three-member case up to 37 s with two busy loops on the two cores).
 */
const STALL_MS = 15_000;
/** A compaction's steps are not paced by the load's writes: a compaction failpoint must fire within this long. */
const COMPACTION_LOAD_MS = 30_000;
/** The pass of a write-path failpoint that crashes: far enough in that the load is in full swing. */
const CRASH_AT = 200;

/**
 * The acknowledged writes by which a write-path failpoint armed to crash at pass `at` must have fired, however slow
 * the machine: one pass per log append (persist.afterFlush) or apply transaction (apply.*), and one append or apply
 * transaction holds at most the requests in flight (LOAD_CLIENTS x LOAD_WINDOW). Twice that leaves room for apply
 * transactions answered and not yet committed (apply.afterCommit) and for requests answered with an error while their
 * entry was still in the log.
 */
const firesBy = (at: number): number => 2 * at * LOAD_CLIENTS * LOAD_WINDOW;

const b = (s: string): Buffer => Buffer.from(s);

function newDataDir(t: TestContext): string {
  const root = tempDir('etcd-ts-write-crash-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return path.join(root, 'data');
}

async function start(t: TestContext, dataDir: string, flags: string[] = [], env: Record<string, string> = {}): Promise<ChildMember> {
  const m = await startChild(flags, dataDir, env);
  t.after(() => m.kill('SIGKILL'));
  return m;
}

function connect(t: TestContext, endpoint: string): Client {
  const c = new Client({ endpoints: [endpoint], requestTimeoutMs: 15_000 });
  t.after(() => c.destroy());
  return c;
}

const armed = (name: string, at: number, action: FailpointAction = 'crash'): Record<string, string> => ({ ETCD_TS_FAILPOINTS: `${name}=${action}@${at}` });

/** The keys an op writes (the start of a range delete), for reading them back at its revision. */
function keysOf(op: ModelOp): string[] {
  if (op.op !== 'txn') return [op.key];
  return [...op.success, ...op.failure].map((w) => w.key);
}

/**
 * Reads what the restarted member recovered and checks it against the load (and the key space `base` the load
 * started from); then reads acknowledged writes back at their revisions, and the whole key space at a few revisions.
 */
async function verifyRecovered(t: TestContext, c: Client, load: LoadResult, base: KvModel, seed: number): Promise<void> {
  const all = await readAll(c);
  const events: Event[] = await watchHistory(c, base.revision + 1, all.revision);
  const check = checkWriteHistory(load.requests, base, { revision: all.revision, events, kvs: all.kvs });
  assert.deepEqual(check.errors.slice(0, 8), [], `seed ${seed}: ${check.errors.length} violation(s) in the recovered history`);

  const rng = new Rng(seed ^ 0x5eed);
  const acked = load.requests.filter((r): r is WriteRequest & { ack: NonNullable<WriteRequest['ack']> } => r.ack !== undefined && check.applied.has(r.id));
  const sample = Array.from({ length: Math.min(200, acked.length) }, () => rng.pick(acked));
  await Promise.all(
    sample.flatMap((r) =>
      keysOf(r.op).map(async (key) => {
        const got = (await c.range({ key: b(key), revision: r.ack.revision })).kvs[0];
        const want = check.kvAt(key, r.ack.revision);
        const shown = got === undefined ? undefined : { value: Buffer.from(got.value).toString(), create_revision: got.create_revision, mod_revision: got.mod_revision, version: got.version };
        assert.deepEqual(shown, want, `seed ${seed}: ${key} read at revision ${r.ack.revision}, the revision of acknowledged request #${r.id}`);
      }),
    ),
  );
  for (let i = 0; i < 5 && all.revision > base.revision; i++) {
    const rev = base.revision + 1 + rng.int(all.revision - base.revision);
    const got = (await readAll(c, rev)).kvs.map((kv) => `${Buffer.from(kv.key).toString()}=${Buffer.from(kv.value).toString()}@${kv.mod_revision}/${kv.version}`);
    const want = check.keys().flatMap((k) => {
      const kv = check.kvAt(k, rev);
      return kv === undefined ? [] : [`${k}=${kv.value}@${kv.mod_revision}/${kv.version}`];
    });
    assert.deepEqual(got, want, `seed ${seed}: the key space at revision ${rev}`);
  }
  const unacked = load.requests.filter((r) => r.ack === undefined);
  t.diagnostic(
    `seed ${seed}: sent ${load.requests.length}, acknowledged ${load.acked}, recovered revision ${all.revision}; ` +
      `${unacked.filter((r) => check.applied.has(r.id)).length} of ${unacked.length} unacknowledged requests had been applied`,
  );
}

/** crash: the member SIGKILLs itself there; error: the step throws, as a failed disk write would */
type FailpointAction = 'crash' | 'error';

interface Kill {
  /** the member is armed with this failpoint (crash, or throw, at its `at`-th pass) */
  failpoint?: { name: string; at: number; action?: FailpointAction };
  /** or the test SIGKILLs it once this many writes are acknowledged */
  afterAcks?: number;
}

function describeKill(kill: Kill): string {
  return kill.failpoint !== undefined ? `failpoint ${kill.failpoint.name} (${kill.failpoint.action ?? 'crash'}@${kill.failpoint.at})` : `the kill after ${kill.afterAcks} acknowledged writes`;
}

/**
 * How a member died: by its failpoint, never by the test's own kill; or by the test's kill. A failpoint that throws
 * stops the member as any fatal error does: it logs "member stopped" and exits with code 1 (as etcd), neither hanging
 * nor crashing on the way out.
 */
function assertDeath(kill: Kill, exit: { code: number | null; signal: NodeJS.Signals | null }, killedByTest: boolean, stderr: string, mainThread: boolean): void {
  if (kill.failpoint?.action === 'error') {
    assert.ok(!killedByTest);
    assert.match(stderr, new RegExp(`failpoint ${kill.failpoint.name.replace('.', '\\.')}: throwing an error`));
    assert.deepEqual(exit, { code: 1, signal: null }, `the member stopped by its fatal error exits with code 1: ${stderr.slice(-2000)}`);
    return assert.match(stderr, /"level":"fatal".*"msg":"member stopped","error":"failpoint .*: injected error"/);
  }
  assert.equal(exit.signal, 'SIGKILL', `the member died of a SIGKILL, not of something else (exit ${exit.code}): ${stderr.slice(-2000)}`);
  if (kill.failpoint === undefined) return assert.ok(killedByTest);
  assert.ok(!killedByTest, 'the failpoint killed the member, not the test');
  // a worker thread's stderr goes through the main thread, and may be lost with the process
  if (mainThread) assert.match(stderr, new RegExp(`failpoint ${kill.failpoint.name.replace('.', '\\.')}: crashing`));
}

/** Loads a one-member cluster until it dies (at its failpoint, or by the test's kill), restarts it, checks it. */
async function oneMemberCase(t: TestContext, kill: Kill): Promise<void> {
  const seed = seedFromEnv();
  const dataDir = newDataDir(t);
  const env = kill.failpoint === undefined ? {} : armed(kill.failpoint.name, kill.failpoint.at, kill.failpoint.action);
  const m = await start(t, dataDir, [], env);
  let killedByTest = false;
  const load = await runWriteLoad({
    endpoint: m.endpoint,
    seed,
    died: m.exited,
    stallMs: STALL_MS,
    ...(kill.failpoint !== undefined ? { maxAcks: firesBy(kill.failpoint.at) } : {}),
    onAck: (n) => {
      if (kill.afterAcks !== undefined && n >= kill.afterAcks && !killedByTest) {
        killedByTest = true;
        m.child.kill('SIGKILL');
      }
    },
  });
  if (!load.died) {
    await m.kill('SIGKILL');
    assert.fail(`${describeKill(kill)} never fired, or the member did not exit: it was still up after ${load.acked} acknowledged writes (the load stops after ${STALL_MS} ms without an answer, or at ${kill.failpoint !== undefined ? firesBy(kill.failpoint.at) : '-'} writes): ${m.stderr().slice(-1000)}`);
  }
  assertDeath(kill, await m.exited, killedByTest, m.stderr(), true);
  const restarted = await start(t, dataDir);
  await verifyRecovered(t, connect(t, restarted.endpoint), load, new KvModel(), seed);
}

// ---- the checker itself can fail ----------------------------------------------------------------------------------

test('the history check refuses a lost acknowledged write, a write applied twice, a gap and a wrong version', () => {
  const ev = (type: number, key: string, value: string, create: number, mod: number, version: number): Event => ({
    type,
    kv: { key: b(key), value: b(value), create_revision: create, mod_revision: mod, version, lease: 0n },
  });
  const requests: WriteRequest[] = [
    { id: 1, op: { op: 'put', key: 'w/a', value: '#1' }, ack: { revision: 2 } },
    { id: 2, op: { op: 'put', key: 'w/a', value: '#2' }, ack: { revision: 3 } },
    { id: 3, op: { op: 'delete', key: 'w/a' } },
    { id: 4, op: { op: 'put', key: 'w/b', value: '#4' } },
  ];
  const good = [ev(0, 'w/a', '#1', 2, 2, 1), ev(0, 'w/a', '#2', 2, 3, 2), ev(1, 'w/a', '', 0, 4, 0)];
  const ok = checkWriteHistory(requests, new KvModel(), { revision: 4, events: good, kvs: [] });
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.applied.get(3), 4, 'the unacknowledged delete explains revision 4');

  const lost = checkWriteHistory(requests, new KvModel(), { revision: 2, events: good.slice(0, 1), kvs: [{ key: b('w/a'), value: b('#1'), create_revision: 2, mod_revision: 2, version: 1, lease: 0n }] });
  assert.ok(lost.errors.some((e) => /1 acknowledged request\(s\) lost, the first: acknowledged request #2 .* is not in the recovered history/.test(e)), lost.errors.join('\n'));

  const twice = checkWriteHistory(requests, new KvModel(), { revision: 5, events: [...good, ev(0, 'w/a', '#2', 5, 5, 1)], kvs: [] });
  assert.ok(twice.errors.some((e) => /#2 .* applied twice/.test(e)), twice.errors.join('\n'));

  const gap = checkWriteHistory(requests, new KvModel(), { revision: 4, events: [good[0]!, good[2]!], kvs: [] });
  assert.ok(gap.errors.some((e) => /revision 4 follows 2 \(gap\)/.test(e)), gap.errors.join('\n'));

  const version = checkWriteHistory(requests, new KvModel(), { revision: 4, events: [good[0]!, ev(0, 'w/a', '#2', 2, 3, 3), good[2]!], kvs: [] });
  assert.ok(version.errors.some((e) => /revision 3: events .* are not what request #2/.test(e)), version.errors.join('\n'));

  const revision = checkWriteHistory(requests, new KvModel(), { revision: 7, events: good, kvs: [] });
  assert.ok(revision.errors.some((e) => /store revision 7, last revision of the history 4/.test(e)), revision.errors.join('\n'));
});

test('the history check finds which unacknowledged delete made each revision, however they were in flight together', () => {
  const ev = (type: number, key: string, value: string, create: number, mod: number, version: number): Event => ({
    type,
    kv: { key: b(key), value: b(value), create_revision: create, mod_revision: mod, version, lease: 0n },
  });
  // revision 3 deletes w/o/14 alone: the single-key delete #2 or the range delete #3 (w/o/15 is absent then);
  // revision 6 deletes w/o/14 alone with w/o/15 present: only #2 can. Picking the narrowest for revision 3 (as the
  // check once did) leaves revision 6 unexplained: CI failed so on a correct history (seed 1385929483).
  const requests: WriteRequest[] = [
    { id: 1, op: { op: 'put', key: 'w/o/14', value: '#1' }, ack: { revision: 2 } },
    { id: 2, op: { op: 'delete', key: 'w/o/14' } },
    { id: 3, op: { op: 'delete', key: 'w/o/14', rangeEnd: 'w/o/16' } },
    { id: 4, op: { op: 'put', key: 'w/o/14', value: '#4' }, ack: { revision: 4 } },
    { id: 5, op: { op: 'put', key: 'w/o/15', value: '#5' }, ack: { revision: 5 } },
  ];
  const events = [
    ev(0, 'w/o/14', '#1', 2, 2, 1),
    ev(1, 'w/o/14', '', 0, 3, 0),
    ev(0, 'w/o/14', '#4', 4, 4, 1),
    ev(0, 'w/o/15', '#5', 5, 5, 1),
    ev(1, 'w/o/14', '', 0, 6, 0),
  ];
  const kvs = [{ key: b('w/o/15'), value: b('#5'), create_revision: 5, mod_revision: 5, version: 1, lease: 0n }];
  const ok = checkWriteHistory(requests, new KvModel(), { revision: 6, events, kvs });
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.applied.get(3), 3, 'the range delete made revision 3');
  assert.equal(ok.applied.get(2), 6, 'the single-key delete made revision 6');

  // without the range delete, one request would have to explain both revisions
  const once = checkWriteHistory(requests.filter((r) => r.id !== 3), new KvModel(), { revision: 6, events, kvs });
  assert.ok(once.errors.some((e) => /revision [36]: \[DELETE w\/o\/14 m[36]\] is the effect of no unacknowledged delete left/.test(e)), once.errors.join('\n'));
  assert.deepEqual(matchDeletes([[1, 2], [1], [2, 3]]), [2, 1, 3]);
  assert.deepEqual(matchDeletes([[1], [1]]), [1, undefined]);
});

// ---- one member ------------------------------------------------------------------------------------------------

test(`one member, kill -9 at failpoint persist.afterFlush (crash@${CRASH_AT}) under load: acknowledged writes survive, none twice, history = model`, { timeout: 60_000 }, async (t) => {
  await oneMemberCase(t, { failpoint: { name: 'persist.afterFlush', at: CRASH_AT } });
});

// inside the apply transaction before its commit (its waiters may already be answered) and right after the commit
for (const name of ['apply.beforeCommit', 'apply.afterCommit']) {
  test(`one member, kill -9 at failpoint ${name} (crash@${CRASH_AT}) under load: acknowledged writes survive, none twice, history = model`, { timeout: 60_000 }, async (t) => {
    await oneMemberCase(t, { failpoint: { name, at: CRASH_AT } });
  });
}

// a write that fails inside the apply transaction (as a disk error would) while later transactions are queued: the
// member stops and exits (process.exit() with an lmdb-js transaction waiting for this thread once hung or crashed it),
// and its log, flushed before the apply, restores every acknowledged write on restart, including the batch whose
// waiters were answered inside the failed transaction
test(`one member, an error thrown at failpoint apply.beforeCommit (error@${CRASH_AT}) under load: the member exits with code 1; acknowledged writes survive, none twice, history = model`, { timeout: 60_000 }, async (t) => {
  await oneMemberCase(t, { failpoint: { name: 'apply.beforeCommit', at: CRASH_AT, action: 'error' } });
});

test('one member, SIGKILL at a random moment under load: acknowledged writes survive, none twice, history = model', { timeout: 60_000 }, async (t) => {
  const afterAcks = 100 + new Rng(seedFromEnv()).int(3000);
  t.diagnostic(`SIGKILL after ${afterAcks} acknowledged writes`);
  await oneMemberCase(t, { afterAcks });
});

// ---- three members: the leader dies ------------------------------------------------------------------------------

/** Makes `target` the leader (after a restart that armed it): MoveLeader from whoever leads now. */
async function leadWith(cluster: TestCluster, target: ClusterMember): Promise<void> {
  const leader = await cluster.waitForLeader();
  if (leader === target) return;
  const tc = cluster.client(target);
  const lc = cluster.client(leader);
  try {
    const id = (await tc.status()).header.member_id;
    await lc.call('MoveLeader', { targetID: id });
  } finally {
    tc.destroy();
    lc.destroy();
  }
  assert.equal(await cluster.waitForLeader(), target, 'the leadership moved to the armed member');
}

async function threeMemberCase(t: TestContext, kill: Kill): Promise<void> {
  const seed = seedFromEnv();
  const cluster = await TestCluster.start(3);
  t.after(() => cluster.stop());
  const target = await cluster.waitForLeader();
  if (kill.failpoint !== undefined) {
    // a failpoint is armed at start-up: restart the leader with it, then give it the leadership back
    await cluster.kill(target);
    cluster.restart(target, armed(kill.failpoint.name, kill.failpoint.at));
    await leadWith(cluster, target);
  }
  const child = target.child!;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let killedByTest = false;
  const load = await runWriteLoad({
    endpoint: target.endpoint,
    seed,
    died: exited,
    stallMs: STALL_MS,
    ...(kill.failpoint !== undefined ? { maxAcks: firesBy(kill.failpoint.at) } : {}),
    onAck: (n) => {
      if (kill.afterAcks !== undefined && n >= kill.afterAcks && !killedByTest) {
        killedByTest = true;
        child.kill('SIGKILL');
      }
    },
  });
  if (!load.died) assert.fail(`${describeKill(kill)} never fired: the leader was still up after ${load.acked} acknowledged writes (the load stops after ${STALL_MS} ms without an answer, or at ${kill.failpoint !== undefined ? firesBy(kill.failpoint.at) : '-'} writes)`);
  assertDeath(kill, await exited, killedByTest, target.log, true);
  // the other two go on without it (and may commit what it had sent them), then it comes back and catches up
  target.child = null;
  const successor = await cluster.waitForLeader();
  assert.notEqual(successor, target);
  cluster.restart(target);
  await cluster.waitForLeader();
  await cluster.waitForConvergence();
  await verifyRecovered(t, connect(t, target.endpoint), load, new KvModel(), seed);
  const states = await Promise.all(
    cluster.members.map(async (m) => {
      const c = connect(t, m.endpoint);
      const all = await readAll(c);
      return { revision: all.revision, kvs: all.kvs.map((kv) => `${Buffer.from(kv.key).toString()}=${Buffer.from(kv.value).toString()}@${kv.mod_revision}`) };
    }),
  );
  for (const s of states.slice(1)) assert.deepEqual(s, states[0], `seed ${seed}: every member holds the same key space at the same revision`);
}

test(`three members, the leader dies at failpoint persist.afterFlush (crash@${CRASH_AT}) under load: the cluster keeps every acknowledged write, once`, { timeout: 90_000 }, async (t) => {
  await threeMemberCase(t, { failpoint: { name: 'persist.afterFlush', at: CRASH_AT } });
});

test('three members, the leader is SIGKILLed at a random moment under load: the cluster keeps every acknowledged write, once', { timeout: 90_000 }, async (t) => {
  const afterAcks = 100 + new Rng(seedFromEnv()).int(2000);
  t.diagnostic(`SIGKILL after ${afterAcks} acknowledged writes`);
  await threeMemberCase(t, { afterAcks });
});

// ---- compaction ---------------------------------------------------------------------------------------------------

/** Keys overwritten many times before the load, for the compaction to remove their old versions. */
const HISTORY_KEYS = 40;
const HISTORY_PUTS = 4000;
/** Small compaction steps: the physical compaction then takes hundreds of steps, interleaved with the load. */
const COMPACTION_BATCH = 10;

async function writeHistoryToCompact(c: Client): Promise<void> {
  const inflight = new Set<Promise<unknown>>();
  for (let i = 0; i < HISTORY_PUTS; i++) {
    const p = c.put({ key: b(`${PREFIX}h/${String(i % HISTORY_KEYS).padStart(2, '0')}`), value: b(`h${i}`) }).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 64) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

/**
 * A member compacts the history written before the load (Compact sent under load, physical compaction in the compact
 * worker in small steps) and dies during it; after a restart, the history above the compacted revision is the model's
 * and a new compaction completes.
 */
async function compactionCase(t: TestContext, kill: Kill & { compactAfterAcks: number }): Promise<void> {
  const seed = seedFromEnv();
  const dataDir = newDataDir(t);
  const env = kill.failpoint === undefined ? {} : armed(kill.failpoint.name, kill.failpoint.at);
  const flags = ['--experimental-compaction-batch-limit', String(COMPACTION_BATCH)];
  const m = await start(t, dataDir, flags, env);
  const c = new Client({ endpoints: [m.endpoint] });
  await writeHistoryToCompact(c);
  const before = await readAll(c);
  const base = modelOf(before.kvs, before.revision);
  let compactAcked: number | null = null; // acknowledged writes when the Compact was answered
  let killedByTest = false;
  let acked = 0;
  const load = await runWriteLoad({
    endpoint: m.endpoint,
    seed,
    died: m.exited,
    stallMs: STALL_MS,
    maxMs: COMPACTION_LOAD_MS,
    onAck: (n) => {
      acked = n;
      if (n === kill.compactAfterAcks) c.compact({ revision: base.revision }).then(() => (compactAcked = acked), () => {});
      if (kill.afterAcks !== undefined && compactAcked !== null && n >= compactAcked + kill.afterAcks && !killedByTest) {
        killedByTest = true;
        m.child.kill('SIGKILL');
      }
    },
  });
  c.destroy();
  if (!load.died) {
    await m.kill('SIGKILL');
    assert.fail(`${describeKill(kill)} never fired: the member was still up after ${COMPACTION_LOAD_MS} ms (or ${STALL_MS} ms without an answer) and ${load.acked} acknowledged writes (Compact answered: ${compactAcked !== null})`);
  }
  assertDeath(kill, await m.exited, killedByTest, m.stderr(), false);

  const restarted = await start(t, dataDir, flags);
  const rc = connect(t, restarted.endpoint);
  if (compactAcked !== null) {
    await assert.rejects(readAll(rc, base.revision - 1), (e: EtcdError) => e.message === 'etcdserver: mvcc: required revision has been compacted', 'the acknowledged compaction survived');
  }
  // reads above the compacted revision, the history after it, and every acknowledged write of the load
  await verifyRecovered(t, rc, load, base, seed);
  assert.deepEqual((await readAll(rc, base.revision)).kvs, before.kvs, `seed ${seed}: the key space at the compacted revision`);

  // a compaction requested again (to the current revision) runs to its end, and reads at its revision are right
  const now = await readAll(rc);
  await rc.compact({ revision: now.revision, physical: true });
  assert.deepEqual((await readAll(rc, now.revision)).kvs, now.kvs, 'the key space at the new compacted revision');
  await assert.rejects(readAll(rc, now.revision - 1), (e: EtcdError) => e.message === 'etcdserver: mvcc: required revision has been compacted');
  t.diagnostic(`Compact answered before the crash: ${compactAcked !== null}`);
}

// TODO(lead): compaction.step is placed by another helper (inside the compaction step's write transaction); until
// that is merged this case fails with "failpoint compaction.step never fired". Confirm it after the merge.
test('kill -9 at failpoint compaction.step (crash@3) while compacting under load: history above the compacted revision intact, compaction completes after restart', { timeout: 90_000 }, async (t) => {
  await compactionCase(t, { failpoint: { name: 'compaction.step', at: 3 }, compactAfterAcks: 100 });
});

test('SIGKILL during a physical compaction under load: history above the compacted revision intact, compaction completes after restart', { timeout: 90_000 }, async (t) => {
  await compactionCase(t, { afterAcks: 30, compactAfterAcks: 100 });
});
