// Linearizability of real 3-member clusters under faults, checked with test/helpers/linearizability.ts: concurrent
// clients (each starting at a different member, with every endpoint to fail over to) put, get and compare-and-set a
// few keys while the leader is killed with SIGKILL and restarted, or while a follower and then the leader are cut
// off through the transport's fault hooks and healed. A request that fails or times out is recorded with unknown
// outcome. Afterwards every acknowledged write must be readable at its revision from every member.
// SEED=n replays the clients' choices (not the timing).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, CompareResult, CompareTarget, type Compare } from '../../src/client/index.js';
import { TestCluster, type ClusterMember } from '../helpers/cluster.js';
import { isLeader, startInProcessCluster, until as waitUntil, type InProcessClusterMember } from '../helpers/in-process-cluster.js';
import { checkHistory, type KvOperation } from '../helpers/linearizability.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';

const b = (s: string): Buffer => Buffer.from(s);
const text = (v: Uint8Array): string => Buffer.from(v).toString();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const KEYS = ['lin/a', 'lin/b', 'lin/c', 'lin/d'];
const CLIENTS = 8;
const WORKLOAD_MS = 7500;

// ---- the workload ------------------------------------------------------------------------------------------

interface Workload {
  history: KvOperation[];
  /** when the workload started, on performance.now()'s clock (history times are relative to it) */
  t0: number;
  /** requests that failed or timed out, reads included */
  failures: number;
}

/** A client starting at endpoint `first`, failing over through the others. */
function clientFrom(endpoints: readonly string[], first: number): Client {
  const n = endpoints.length;
  return new Client({ endpoints: Array.from({ length: n }, (_, k) => endpoints[(first + k) % n]!), dialTimeoutMs: 500, requestTimeoutMs: 1500 });
}

/** compare for "the key holds `expected`" (etcd fails a value compare on a missing key, so absent is version 0) */
function holds(key: string, expected: string | null): Compare {
  return expected === null
    ? { key: b(key), target: CompareTarget.VERSION, result: CompareResult.EQUAL, version: 0 }
    : { key: b(key), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b(expected) };
}

interface Call {
  clientId: number;
  key: string;
  /** when it was sent, relative to t0 */
  call: number;
  t0: number;
}

/** What an operation recorded, and the key's value it showed the client. */
interface Done {
  op: KvOperation;
  seen: string | null;
}

async function doGet(client: Client, { t0, ...base }: Call): Promise<Done> {
  const kv = (await client.range({ key: b(base.key) })).kvs[0];
  const output = kv === undefined ? null : text(kv.value);
  return { op: { ...base, kind: 'get', input: null, output, return: performance.now() - t0, ...(kv ? { revision: kv.mod_revision } : {}) }, seen: output };
}

async function doPut(client: Client, { t0, ...base }: Call, value: string): Promise<Done> {
  const res = await client.put({ key: b(base.key), value: b(value) });
  return { op: { ...base, kind: 'put', input: value, output: null, return: performance.now() - t0, revision: res.header.revision }, seen: value };
}

/** A txn: if the key holds `expected` put `value`, else read it (what it found is the client's next expectation). */
async function doCas(client: Client, { t0, ...base }: Call, expected: string | null, value: string): Promise<Done> {
  const key = b(base.key);
  const res = await client.txn({ compare: [holds(base.key, expected)], success: [{ request_put: { key, value: b(value) } }], failure: [{ request_range: { key } }] });
  const found = res.responses[0]?.response_range?.kvs[0];
  return {
    op: { ...base, kind: 'cas', input: { expected, value }, output: res.succeeded, return: performance.now() - t0, ...(res.succeeded ? { revision: res.header.revision } : {}) },
    seen: res.succeeded ? value : found === undefined ? null : text(found.value),
  };
}

/**
 * One client's loop: gets, puts and cas on random keys until the deadline. Values are unique (client and serial);
 * a cas expects the value this client last saw for the key. After a failure the client moves to the next member,
 * as an application would after a timeout (its own failover only covers broken connections).
 */
/** How long clients may keep going past the workload's deadline to reach enoughOperations. */
const OVERTIME_MS = 60_000;

/** At least this many successful operations of each kind make a history worth checking. */
function enoughOperations(w: Workload): boolean {
  let gets = 0;
  let puts = 0;
  let casOk = 0;
  let done = 0;
  for (const op of w.history) {
    if (op.return === Infinity || op.clientId > CLIENTS) continue;
    done++;
    if (op.kind === 'get') gets++;
    else if (op.kind === 'put') puts++;
    else if (op.output === true) casOk++;
  }
  return done >= 400 && gets >= 100 && puts >= 80 && casOk >= 20;
}

async function runClient(clientId: number, endpoints: () => readonly string[], rng: Rng, w: Workload, until: number): Promise<void> {
  let first = clientId;
  let client = clientFrom(endpoints(), first);
  const lastSeen = new Map<string, string | null>();
  // past the deadline (the faults are over by then) a slow machine keeps going until the history means something
  const more = (): boolean => performance.now() < until || (!enoughOperations(w) && performance.now() < until + OVERTIME_MS);
  for (let serial = 0; more(); serial++) {
    const key = rng.pick(KEYS);
    const r = rng.next();
    const value = `c${clientId}-${serial}`;
    const expected = lastSeen.get(key) ?? null;
    const call: Call = { clientId, key, call: performance.now() - w.t0, t0: w.t0 };
    try {
      const done = await (r < 0.4 ? doGet(client, call) : r < 0.7 ? doPut(client, call, value) : doCas(client, call, expected, value));
      w.history.push(done.op);
      lastSeen.set(key, done.seen);
    } catch {
      w.failures++;
      // unknown outcome: it may have taken effect, now or much later (a failed read changed nothing: not recorded)
      const base = { clientId, key, call: call.call, return: Infinity };
      if (r >= 0.4) w.history.push(r < 0.7 ? { ...base, kind: 'put', input: value, output: null } : { ...base, kind: 'cas', input: { expected, value }, output: false });
      client.destroy();
      client = clientFrom(endpoints(), ++first);
      await sleep(20);
    }
  }
  client.destroy();
}

async function runWorkload(endpoints: () => readonly string[], seed: number, faults: (w: Workload) => Promise<void>): Promise<Workload> {
  const w: Workload = { history: [], t0: performance.now(), failures: 0 };
  const until = w.t0 + WORKLOAD_MS;
  const rng = new Rng(seed);
  await Promise.all([faults(w), ...Array.from({ length: CLIENTS }, (_, id) => runClient(id + 1, endpoints, new Rng(rng.int(2 ** 32)), w, until))]);
  return w;
}

/** A linearizable read of every key through every member, appended to the history: the final values must fit. */
async function finalReads(w: Workload, endpoints: readonly string[]): Promise<void> {
  for (const [k, endpoint] of endpoints.entries()) {
    const c = new Client({ endpoints: [endpoint], requestTimeoutMs: 10_000 });
    try {
      for (const key of KEYS) {
        const call = performance.now() - w.t0;
        const kv = (await c.range({ key: b(key) })).kvs[0];
        w.history.push({ clientId: 100 + k, key, call, kind: 'get', input: null, output: kv ? text(kv.value) : null, return: performance.now() - w.t0, ...(kv ? { revision: kv.mod_revision } : {}) });
      }
    } finally {
      c.destroy();
    }
  }
}

/** Every acknowledged write is in every member's history, at the revision it was acknowledged with. */
async function assertAckedWritesEverywhere(w: Workload, endpoints: readonly string[]): Promise<number> {
  const acked = w.history.filter((op) => op.return !== Infinity && (op.kind === 'put' || (op.kind === 'cas' && op.output)));
  for (const endpoint of endpoints) {
    const c = new Client({ endpoints: [endpoint], requestTimeoutMs: 10_000 });
    try {
      for (let i = 0; i < acked.length; i += 100) {
        await Promise.all(
          acked.slice(i, i + 100).map(async (op) => {
            const written = op.kind === 'put' ? op.input : op.kind === 'cas' ? op.input.value : '';
            const kv = (await c.range({ key: b(op.key), revision: op.revision!, serializable: true })).kvs[0];
            assert.ok(kv !== undefined && text(kv.value) === written && kv.mod_revision === op.revision, `${endpoint} lost the acknowledged write of ${written} to ${op.key} at revision ${op.revision}: it has ${kv ? `${text(kv.value)}@${kv.mod_revision}` : 'nothing'}`);
          }),
        );
      }
    } finally {
      c.destroy();
    }
  }
  return acked.length;
}

/** Checks the history and that it is not vacuous; returns a summary for the diagnostics. */
function assertLinearizable(w: Workload, seed: number): string {
  const result = checkHistory(w.history);
  assert.ok(result.ok, `SEED=${seed}: ${result.explanation}`);
  const done = w.history.filter((op) => op.return !== Infinity && op.clientId <= CLIENTS);
  const count = (kind: KvOperation['kind'], ok?: boolean): number => done.filter((op) => op.kind === kind && (ok === undefined || op.output === ok)).length;
  const unknown = w.history.filter((op) => op.return === Infinity).length;
  const summary = `${w.history.length} operations (${count('get')} gets, ${count('put')} puts, ${count('cas', true)}+${count('cas', false)} cas succeeded+failed, ${unknown} writes of unknown outcome; ${w.failures} requests failed), at most ${result.stats.maxPerKey} on a key, checked in ${result.stats.elapsedMs.toFixed(0)} ms`;
  assert.ok(enoughOperations(w), `too few successful operations to mean anything: ${summary}`);
  return summary;
}

// ---- kill -9 of the leader (child processes) ---------------------------------------------------------------

test('3 members, SIGKILL of the leader twice while clients put, get and cas: the history is linearizable', { timeout: 150_000 }, async (t) => {
  const seed = seedFromEnv();
  const cluster = await TestCluster.start(3);
  t.after(() => cluster.stop());
  await cluster.waitForLeader();
  const endpoints = cluster.members.map((m) => m.endpoint);
  const schedule: string[] = [];
  const at = (w: Workload, what: string): void => void schedule.push(`${((performance.now() - w.t0) / 1000).toFixed(1)}s ${what}`);
  const killLeaderFor = async (w: Workload, downMs: number): Promise<ClusterMember> => {
    const leader = await cluster.waitForLeader();
    await cluster.kill(leader);
    at(w, `killed leader ${leader.name}`);
    await sleep(downMs);
    cluster.restart(leader);
    at(w, `restarted ${leader.name}`);
    return leader;
  };
  const w = await runWorkload(() => endpoints, seed, async (w) => {
    await sleep(1200);
    await killLeaderFor(w, 2000);
    await sleep(1000);
    await killLeaderFor(w, 1500);
  });
  await cluster.waitForLeader();
  await cluster.waitForConvergence();
  await finalReads(w, endpoints);
  const summary = assertLinearizable(w, seed);
  const acked = await assertAckedWritesEverywhere(w, endpoints);
  t.diagnostic(`SEED=${seed}: ${schedule.join(', ')}`);
  t.diagnostic(`${summary}; ${acked} acknowledged writes read back from every member`);
});

// ---- partitions through the transport's fault hooks (in-process members) -----------------------------------

type Running = InProcessClusterMember;

const startCluster = (t: { after(fn: () => unknown): void }): Promise<Running[]> => startInProcessCluster(t, { heartbeatMs: 50, electionMs: 500 });

const until = (what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> => waitUntil(what, check, timeoutMs, 20);

/** Cuts member `m` off from the others in both directions. */
function isolate(ms: Running[], m: Running): void {
  const others = ms.filter((x) => x !== m);
  m.member.server.transport!.faults.isolate(others.map((x) => x.member.server.memberId));
  for (const x of others) x.member.server.transport!.faults.isolate([m.member.server.memberId]);
}

function heal(ms: Running[]): void {
  for (const m of ms) m.member.server.transport!.faults.clear();
}

test('3 members, a follower and then the leader partitioned away and healed while clients put, get and cas: the history is linearizable', { timeout: 150_000 }, async (t) => {
  const seed = seedFromEnv();
  const ms = await startCluster(t);
  await until('a leader', () => ms.some(isLeader));
  const endpoints = ms.map((m) => m.endpoint);
  const schedule: string[] = [];
  const at = (w: Workload, what: string): void => void schedule.push(`${((performance.now() - w.t0) / 1000).toFixed(1)}s ${what}`);
  const name = (m: Running): string => `p${ms.indexOf(m) + 1}`;
  const w = await runWorkload(() => endpoints, seed, async (w) => {
    await sleep(1200);
    const follower = ms.find((m) => !isLeader(m))!;
    isolate(ms, follower);
    at(w, `isolated follower ${name(follower)}`);
    await sleep(1500);
    heal(ms);
    at(w, 'healed');
    await sleep(800);
    const leader = ms.find(isLeader);
    if (leader === undefined) return void at(w, 'no leader to isolate');
    isolate(ms, leader);
    at(w, `isolated leader ${name(leader)}`);
    await until('a new leader among the majority', () => ms.some((m) => m !== leader && isLeader(m)));
    at(w, `new leader ${name(ms.find((m) => m !== leader && isLeader(m))!)}`);
    await sleep(1500);
    heal(ms);
    at(w, 'healed');
  });
  await until('one leader', () => ms.filter(isLeader).length === 1);
  const leader = ms.find(isLeader)!;
  await until('every member applied everything', () => ms.every((m) => m.member.server.revision === leader.member.server.revision));
  await finalReads(w, endpoints);
  const summary = assertLinearizable(w, seed);
  const acked = await assertAckedWritesEverywhere(w, endpoints);
  t.diagnostic(`SEED=${seed}: ${schedule.join(', ')}`);
  t.diagnostic(`${summary}; ${acked} acknowledged writes read back from every member`);
});
