// Crash safety: a member in a child process is killed with SIGKILL while many writes are in flight, then restarted on
// the same data directory (twice). Every acknowledged write must be there, exactly once, at the revision it was
// acknowledged with; unacknowledged writes may or may not be there, but the log is a prefix: no gaps in revisions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client, prefixRangeEnd, type KeyValue } from '../../src/client/index.js';
import { startChild, tempDir, type ChildMember } from '../helpers/member.js';
import { KvModel, randomOps, type ModelOp } from '../helpers/kv-model.js';
import { sendOp } from '../helpers/write-history.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';

const b = (s: string): Buffer => Buffer.from(s);
const str = (v: Uint8Array): string => Buffer.from(v).toString();

function newDataDir(t: { after(fn: () => unknown): void }): string {
  const root = tempDir('etcd-ts-crash-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return path.join(root, 'data');
}

/** Starts a child member on `dataDir` and registers its SIGKILL for the end of the test. */
async function start(t: { after(fn: () => unknown): void }, dataDir: string): Promise<ChildMember> {
  const m = await startChild([], dataDir);
  t.after(() => m.kill('SIGKILL'));
  return m;
}

function connect(t: { after(fn: () => unknown): void }, m: ChildMember): Client {
  const c = new Client({ endpoints: [m.endpoint] });
  t.after(() => c.destroy());
  return c;
}

interface PutRun {
  /** acknowledged put number -> the revision its response carried */
  acked: Map<number, number>;
  /** puts sent: k/0 .. k/(sent-1) */
  sent: number;
}

/**
 * Streams puts k/<n> = v<n> over several connections with many in flight each, and SIGKILLs the member as soon as
 * `killAfter` of them are acknowledged (0: right after the first requests are written, before any answer).
 */
async function putUntilKilled(m: ChildMember, killAfter: number, connections = 4, window = 200): Promise<PutRun> {
  const acked = new Map<number, number>();
  let next = 0;
  let killed = false;
  const kill = (): void => {
    if (killed) return;
    killed = true;
    m.child.kill('SIGKILL');
  };
  const clients = Array.from({ length: connections }, () => new Client({ endpoints: [m.endpoint] }));
  await Promise.all(clients.map((c) => c.connect()));
  const worker = async (c: Client): Promise<void> => {
    const inflight = new Set<Promise<void>>();
    while (!killed) {
      while (inflight.size < window && !killed) {
        const n = next++;
        const p: Promise<void> = c
          .put({ key: b(`k/${n}`), value: b(`v${n}`) })
          .then(
            (r) => {
              acked.set(n, r.header.revision);
              if (acked.size >= killAfter) kill();
            },
            () => {}, // the connection died with the member: not acknowledged
          )
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      if (killAfter === 0) setImmediate(kill); // after this turn's requests were written to the sockets
      await Promise.race(inflight);
    }
    await Promise.allSettled(inflight);
  };
  await Promise.all(clients.map(worker));
  for (const c of clients) c.destroy();
  const exit = await m.exited;
  assert.equal(exit.signal, 'SIGKILL', `the member died of the kill, not of something else: ${m.stderr()}`);
  return { acked, sent: next };
}

async function allKeys(c: Client, prefix: string): Promise<{ revision: number; kvs: KeyValue[] }> {
  const r = await c.range({ key: b(prefix), range_end: prefixRangeEnd(b(prefix)) });
  assert.equal(r.more, false);
  assert.equal(r.count, r.kvs.length);
  return { revision: r.header.revision, kvs: r.kvs };
}

/** The invariants of a key space written only by unique-key puts, after recovery. Returns the state for comparison. */
async function checkPutsRecovered(c: Client, run: PutRun): Promise<{ revision: number; kvs: KeyValue[] }> {
  const state = await allKeys(c, 'k/');
  const present = new Map<number, KeyValue>();
  for (const kv of state.kvs) {
    const m = /^k\/(\d+)$/.exec(str(kv.key));
    assert.ok(m, `unexpected key ${str(kv.key)}`);
    const n = Number(m[1]);
    assert.ok(n < run.sent, `key k/${n} was never sent`);
    assert.equal(str(kv.value), `v${n}`, `value of k/${n}`);
    assert.equal(kv.version, 1, `k/${n} applied more than once`);
    assert.equal(kv.create_revision, kv.mod_revision, `k/${n} create_revision`);
    present.set(n, kv);
  }
  for (const [n, revision] of run.acked) {
    const kv = present.get(n);
    assert.ok(kv !== undefined, `acknowledged put k/${n} (revision ${revision}) lost; ${present.size} keys present, ${run.acked.size} acknowledged`);
    assert.equal(kv.mod_revision, revision, `k/${n} is at the revision its acknowledgement carried`);
  }
  const mods = state.kvs.map((kv) => kv.mod_revision).sort((x, y) => x - y);
  assert.deepEqual(mods, Array.from({ length: mods.length }, (_, i) => i + 2), 'mod revisions are exactly 2..revision: no gap, no duplicate');
  assert.equal(state.revision, 1 + state.kvs.length, 'store revision = 1 + number of applied puts');
  return state;
}

/** After recovery: kill again without writing, restart, expect the very same state; then a new write continues it. */
async function restartTwiceAndContinue(
  t: { after(fn: () => unknown): void },
  dataDir: string,
  first: ChildMember,
  expected: { revision: number; kvs: KeyValue[] },
  prefix: string,
): Promise<void> {
  const termBefore = (await connect(t, first).status()).raftTerm;
  await first.kill('SIGKILL');
  const second = await start(t, dataDir);
  const c = connect(t, second);
  const again = await allKeys(c, prefix);
  assert.equal(again.revision, expected.revision, 'second restart: same revision');
  assert.deepEqual(again.kvs, expected.kvs, 'second restart: same key space');
  const status = await c.status();
  assert.ok(status.raftTerm > termBefore, `each start takes a new term (${termBefore} -> ${status.raftTerm})`);
  const put = await c.put({ key: b(`${prefix}after-restart`), value: b('x') });
  assert.equal(put.header.revision, expected.revision + 1, 'the next write continues at revision + 1');
  const exit = await second.kill('SIGTERM');
  assert.equal(exit.code, 0, `clean shutdown: ${second.stderr()}`);
}

for (const killAfter of [0, 50, 500, 3000]) {
  test(`SIGKILL after ${killAfter} acknowledged puts: every acknowledged put survives, exactly once, no gaps`, { timeout: 60_000 }, async (t) => {
    const dataDir = newDataDir(t);
    const first = await start(t, dataDir);
    const run = await putUntilKilled(first, killAfter);
    assert.ok(run.acked.size >= killAfter, `${run.acked.size} acknowledged`);
    t.diagnostic(`sent ${run.sent}, acknowledged ${run.acked.size}`);

    const restarted = await start(t, dataDir);
    const state = await checkPutsRecovered(connect(t, restarted), run);
    t.diagnostic(`recovered revision ${state.revision}: ${state.kvs.length - run.acked.size} unacknowledged puts had reached the log`);
    await restartTwiceAndContinue(t, dataDir, restarted, state, 'k/');
  });
}

test('SIGKILL right after start, before any request: the member restarts empty and serves', { timeout: 30_000 }, async (t) => {
  const dataDir = newDataDir(t);
  const first = await start(t, dataDir);
  await first.kill('SIGKILL');
  const again = await start(t, dataDir);
  const c = connect(t, again);
  const all = await c.range({ key: b('\0'), range_end: b('\0') });
  assert.equal(all.header.revision, 1);
  assert.equal(all.kvs.length, 0);
  assert.equal((await c.put({ key: b('a'), value: b('1') })).header.revision, 2);
});

// ---- puts, deletes and txns against a model ------------------------------------------------------------------

const PREFIX = 'm/';

function modelKvs(model: KvModel): { key: string; value: string; create_revision: number; mod_revision: number; version: number }[] {
  return model.entries().map(([key, kv]) => ({ key, ...kv }));
}

function memberKvs(kvs: KeyValue[]): ReturnType<typeof modelKvs> {
  return kvs.map((kv) => ({
    key: str(kv.key),
    value: str(kv.value),
    create_revision: kv.create_revision,
    mod_revision: kv.mod_revision,
    version: kv.version,
  }));
}

for (const killAfter of [300, 2000]) {
  test(`puts, deletes and txns, SIGKILL after ${killAfter} acknowledged: the recovered state is the model after a prefix of the ops`, { timeout: 60_000 }, async (t) => {
    const seed = seedFromEnv();
    t.diagnostic(`seed ${seed} (SEED=${seed} replays)`);
    const ops = randomOps(new Rng(seed), killAfter * 3, PREFIX);
    const dataDir = newDataDir(t);
    const first = await start(t, dataDir);
    // One connection: the member logs requests in the order one connection sends them, so the applied ops are a
    // prefix of `ops`, and every answer can be checked against the model as it arrives.
    const c = new Client({ endpoints: [first.endpoint] });
    await c.connect();
    const live = new KvModel();
    const expected = ops.map((op) => live.apply(op));
    const answers: ({ revision: number; deleted?: number; succeeded?: boolean } | undefined)[] = [];
    let acked = 0;
    let killed = false;
    let sent = 0;
    const inflight = new Set<Promise<void>>();
    while (!killed && sent < ops.length) {
      while (inflight.size < 64 && sent < ops.length && !killed) {
        const i = sent++;
        const p: Promise<void> = sendOp(c, ops[i]!)
          .then(
            (answer) => {
              answers[i] = answer;
              if (++acked >= killAfter && !killed) {
                killed = true;
                first.child.kill('SIGKILL');
              }
            },
            () => {},
          )
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await Promise.race(inflight);
    }
    await Promise.allSettled(inflight);
    c.destroy();
    assert.equal((await first.exited).signal, 'SIGKILL', `seed ${seed}: killed while ops were still being sent`);

    // Answers arrived in log order and match the model; they form a prefix 0..acked-1.
    const answered = answers.flatMap((a, i) => (a === undefined ? [] : [i]));
    assert.deepEqual(answered, Array.from({ length: answered.length }, (_, i) => i), `seed ${seed}: acknowledged ops are a prefix`);
    for (const i of answered) assert.deepEqual(answers[i], expected[i], `seed ${seed}: answer to op ${i} ${JSON.stringify(ops[i])}`);

    const restarted = await start(t, dataDir);
    const rc = connect(t, restarted);
    const state = await allKeys(rc, PREFIX);
    // The recovered state must be the model after some prefix of at least the acknowledged ops.
    const model = new KvModel();
    const snapshots = new Map<number, KvModel>([[1, model.clone()]]);
    let applied = 0;
    for (; applied < answered.length; applied++) {
      model.apply(ops[applied]!);
      snapshots.set(model.revision, model.clone());
    }
    while (model.revision < state.revision && applied < sent) {
      model.apply(ops[applied++]!);
      snapshots.set(model.revision, model.clone());
    }
    t.diagnostic(`sent ${sent}, acknowledged ${answered.length}, recovered revision ${state.revision} = the model after ${applied} ops`);
    assert.equal(state.revision, model.revision, `seed ${seed}: recovered revision matches the model after a prefix of the sent ops`);
    assert.deepEqual(memberKvs(state.kvs), modelKvs(model), `seed ${seed}: recovered key space`);

    // History survived too: reads at past revisions see the model as it was then.
    const rng = new Rng(seed ^ 0x5eed);
    const revisions = [...snapshots.keys()];
    for (let i = 0; i < 20 && revisions.length > 0; i++) {
      const rev = rng.pick(revisions);
      const r = await rc.range({ key: b(PREFIX), range_end: prefixRangeEnd(b(PREFIX)), revision: rev });
      assert.deepEqual(memberKvs(r.kvs), modelKvs(snapshots.get(rev)!), `seed ${seed}: key space at revision ${rev}`);
    }
    await restartTwiceAndContinue(t, dataDir, restarted, state, PREFIX);
  });
}
