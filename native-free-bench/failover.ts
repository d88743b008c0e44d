// Leader failover time of a 3-member cluster under a steady write load, for etcd-ts and a real etcd.
//
//   npm run build && node dist/native-free-bench/failover.js [--systems etcd-ts,etcd] [--trials 5] [--rate 500]
//
// Each trial: wait until the three members agree on a leader and have applied the same index; start an open-loop
// write load (`--rate` puts/s spread round-robin over `--clients` clients, each with every member's endpoint, its own
// preferred one first, failing over to the next when the connection fails); after `--load-before` seconds kill -9
// the leader; the failover time is from the kill to the first acknowledged write committed in a later Raft term (a
// response whose header.raft_term is above the killed leader's term, so never an answer already on its way from the
// old leader). The load runs on for `--load-after` seconds, then stops; the killed member is restarted on its data.
//
// Open loop, so that new writes keep going out while earlier ones hang: a write a follower forwarded to the dead
// leader is lost, and both etcd and etcd-ts answer it only when their request timeout expires (etcd: 5 s + 2 election
// timeouts). Also reported: the first acknowledgement of a write *sent* after the kill, and the writes that failed.
//
// Drivers: etcd-ts through src/client (the binary protocol). etcd through its JSON gateway (POST /v3/kv/put on each
// member's client URL, Node's fetch with keep-alive connections): etcd-loadgen (Go) cannot be changed here and
// etcdctl costs a process per write. Only the time to the first acknowledgement is compared; the gateway's cost per
// request is irrelevant at this rate.

import { Client } from '../src/client/index.js';
import { eachFlag, outputFormat, positiveNumber, required, unknownOption } from './args.js';
import { Cluster, sleep, type Member, type System } from './servers.js';

interface Options {
  systems: System[];
  trials: number;
  rate: number;
  clients: number;
  loadBeforeS: number;
  loadAfterS: number;
  electionMs: number;
  heartbeatMs: number;
  requestTimeoutMs: number;
  trialTimeoutS: number;
  valueSize: number;
  dataRoot: string;
  etcd: string;
  output: 'simple' | 'json';
}

const USAGE = `usage: node dist/native-free-bench/failover.js [options]
  --systems LIST        etcd-ts,etcd (default both, one cluster after the other)
  --trials N            leader kills per system (default 5)
  --rate R              writes per second, open loop (default 500)
  --clients C           clients the writes are spread over, each preferring another member (default 6)
  --load-before S       seconds of load before the kill (default 2)
  --load-after S        seconds of load after the first new-term acknowledgement (default 1)
  --election-timeout MS both systems' --election-timeout (default 1000, both defaults)
  --heartbeat MS        both systems' --heartbeat-interval (default 100, both defaults)
  --request-timeout MS  client-side timeout of a write (default 10000: longer than the servers' own)
  --trial-timeout S     give up on a trial without a new-term acknowledgement after S seconds (default 30)
  --value-size B        (default 256)
  --data-root DIR       data directories and logs (default /tmp)
  --etcd PATH           etcd binary (default etcd)
  -w simple|json
`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    systems: ['etcd-ts', 'etcd'],
    trials: 5,
    rate: 500,
    clients: 6,
    loadBeforeS: 2,
    loadAfterS: 1,
    electionMs: 1000,
    heartbeatMs: 100,
    requestTimeoutMs: 10_000,
    trialTimeoutS: 30,
    valueSize: 256,
    dataRoot: '/tmp',
    etcd: 'etcd',
    output: 'simple',
  };
  eachFlag(argv, USAGE, (a, value, arg) => {
    const v = (): string => required(a, value());
    const n = (allowZero = false): number => positiveNumber(a, v(), allowZero);
    switch (a) {
      case '--systems': o.systems = v().split(',').map((s) => {
        if (s === 'ts') return 'etcd-ts';
        if (s !== 'etcd-ts' && s !== 'etcd') throw new Error(`--systems: etcd-ts or etcd, got ${s}`);
        return s;
      }); break;
      case '--trials': o.trials = n(); break;
      case '--rate': o.rate = n(); break;
      case '--clients': o.clients = n(); break;
      case '--load-before': o.loadBeforeS = n(true); break;
      case '--load-after': o.loadAfterS = n(true); break;
      case '--election-timeout': o.electionMs = n(); break;
      case '--heartbeat': o.heartbeatMs = n(); break;
      case '--request-timeout': o.requestTimeoutMs = n(); break;
      case '--trial-timeout': o.trialTimeoutS = n(); break;
      case '--value-size': o.valueSize = n(); break;
      case '--data-root': o.dataRoot = v(); break;
      case '--etcd': o.etcd = v(); break;
      case '-w': o.output = outputFormat(v()); break;
      default:
        throw unknownOption(arg);
    }
  });
  return o;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

// ---- drivers ---------------------------------------------------------------------------------------------------

interface MemberStatus {
  memberId: string;
  leader: string;
  term: number;
  applied: number;
}

interface Driver {
  /** one write through client c; resolves with the raft_term of the answer */
  put(c: number, key: Buffer, value: Buffer): Promise<number>;
  status(m: Member): Promise<MemberStatus | null>;
  /** fails everything in flight and releases connections */
  close(): void;
}

/** The endpoint list rotated so that client n prefers member n mod 3. */
function rotated(endpoints: string[], n: number): string[] {
  return endpoints.map((_, i) => endpoints[(n + i) % endpoints.length]!);
}

function etcdTsDriver(o: Options, endpoints: string[]): Driver {
  const clients = Array.from({ length: o.clients }, (_, n) => new Client({ endpoints: rotated(endpoints, n), dialTimeoutMs: 1000, requestTimeoutMs: o.requestTimeoutMs }));
  return {
    async put(c, key, value) {
      const r = await clients[c]!.put({ key, value });
      return Number(r.header.raft_term);
    },
    async status(m) {
      const client = new Client({ endpoints: [m.endpoint], dialTimeoutMs: 1000, requestTimeoutMs: 2000 });
      try {
        const s = await client.status();
        return { memberId: s.header.member_id.toString(), leader: s.leader.toString(), term: Number(s.raftTerm), applied: Number(s.raftAppliedIndex) };
      } catch {
        return null;
      } finally {
        client.destroy();
      }
    },
    close() {
      for (const c of clients) c.destroy();
    },
  };
}

/** etcd through the JSON gateway; a "client" is a preferred endpoint that moves on when a connection fails. */
function etcdHttpDriver(o: Options, endpoints: string[]): Driver {
  const preferred = Array.from({ length: o.clients }, (_, n) => n % endpoints.length);
  const abort = new AbortController();
  const post = async (endpoint: string, path: string, body: unknown, timeoutMs: number): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://${endpoint}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.any([abort.signal, AbortSignal.timeout(timeoutMs)]),
    });
    const j = (await res.json()) as Record<string, unknown>;
    if (!res.ok || j.error !== undefined) throw new Error(`${res.status} ${String(j.message ?? j.error ?? '')}`);
    return j;
  };
  /** a connection that could not be made: the write was not sent, so trying the next member is safe */
  const notSent = (err: unknown): boolean => {
    const cause = (err as { cause?: { code?: string } }).cause;
    return cause?.code === 'ECONNREFUSED';
  };
  return {
    async put(c, key, value) {
      const body = { key: key.toString('base64'), value: value.toString('base64') };
      for (let attempt = 1; ; attempt++) {
        const ep = endpoints[preferred[c]!]!;
        try {
          const j = await post(ep, '/v3/kv/put', body, o.requestTimeoutMs);
          return Number((j.header as { raft_term?: string }).raft_term ?? 0);
        } catch (err) {
          // as src/client: on a broken connection the next request starts with the next member
          if ((err as Error).name !== 'TimeoutError' && !(err as Error).message.match(/^\d{3} /)) {
            if (endpoints[preferred[c]!] === ep) preferred[c] = (preferred[c]! + 1) % endpoints.length;
          }
          if (!notSent(err) || attempt >= endpoints.length) throw err;
        }
      }
    },
    async status(m) {
      try {
        const j = await post(m.endpoint, '/v3/maintenance/status', {}, 2000);
        const h = j.header as { member_id: string };
        return { memberId: h.member_id, leader: String(j.leader), term: Number(j.raftTerm), applied: Number(j.raftAppliedIndex ?? j.raftIndex) };
      } catch {
        return null;
      }
    },
    close() {
      abort.abort();
    },
  };
}

// ---- one trial -----------------------------------------------------------------------------------------------

interface Ack {
  sentAt: number;
  ackAt: number;
  term: number;
}

interface Load {
  acks: Ack[];
  failures: { sentAt: number; failedAt: number; message: string }[];
  sent: number;
  /** when stop() was called: writes failing after it were cut off by the benchmark */
  stoppedAt: number;
  stop(): Promise<void>;
}

/** Open loop: `rate` writes per second, issued on a 1 ms timer (catching up on late ticks), round-robin over clients. */
function startLoad(o: Options, driver: Driver): Load {
  const value = Buffer.alloc(o.valueSize, 'v');
  const load: Load = { acks: [], failures: [], sent: 0, stoppedAt: Infinity, stop: async () => {} };
  const inflight = new Set<Promise<void>>();
  const t0 = now();
  let stopped = false;
  const issue = (): void => {
    const seq = load.sent++;
    const sentAt = now();
    const p = driver.put(seq % o.clients, Buffer.from(`/failover/${seq % 1000}`), value).then(
      (term) => void load.acks.push({ sentAt, ackAt: now(), term }),
      (err: unknown) => void load.failures.push({ sentAt, failedAt: now(), message: (err as Error).message }),
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  const timer = setInterval(() => {
    if (stopped) return;
    const due = Math.floor(((now() - t0) / 1000) * o.rate);
    while (load.sent < due) issue();
  }, 1);
  load.stop = async () => {
    stopped = true;
    load.stoppedAt = now();
    clearInterval(timer);
    driver.close();
    await Promise.allSettled([...inflight]);
  };
  return load;
}

async function statuses(cluster: Cluster, driver: Driver): Promise<Map<Member, MemberStatus>> {
  const out = new Map<Member, MemberStatus>();
  await Promise.all(
    cluster.members
      .filter((m) => m.proc !== null)
      .map(async (m) => {
        const s = await driver.status(m);
        if (s !== null) out.set(m, s);
      }),
  );
  return out;
}

/** Every live member answers, names the same leader and has applied the same index; returns the leader. */
async function waitConverged(cluster: Cluster, driver: Driver, timeoutMs = 60_000): Promise<{ leader: Member; term: number }> {
  const deadline = now() + timeoutMs;
  let last = '';
  for (;;) {
    const s = await statuses(cluster, driver);
    const live = cluster.members.filter((m) => m.proc !== null);
    const values = [...s.values()];
    const leaders = new Set(values.map((x) => x.leader));
    const applied = new Set(values.map((x) => x.applied));
    if (s.size === live.length && leaders.size === 1 && !leaders.has('0') && applied.size === 1) {
      const leaderId = values[0]!.leader;
      const leader = [...s].find(([, x]) => x.memberId === leaderId)?.[0];
      if (leader !== undefined) return { leader, term: s.get(leader)!.term };
    }
    last = JSON.stringify([...s].map(([m, x]) => [m.name, x.leader, x.term, x.applied]));
    if (now() > deadline) throw new Error(`cluster did not converge within ${timeoutMs} ms: ${last}`);
    await sleep(100);
  }
}

interface TrialResult {
  system: System;
  trial: number;
  killed: string;
  old_term: number;
  /** kill -> first acknowledged write of a later term */
  failover_ms: number | null;
  /** kill -> first acknowledgement of a write sent after the kill */
  first_ack_sent_after_kill_ms: number | null;
  new_term: number | null;
  new_leader: string | null;
  acks_per_s_before: number;
  writes_failed: number;
  failure_samples: string[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function runSystem(o: Options, system: System): Promise<TrialResult[]> {
  const cluster = await Cluster.start({
    system, members: 3, dataRoot: o.dataRoot, tag: 'failover', etcd: o.etcd, heartbeatMs: o.heartbeatMs, electionMs: o.electionMs,
  });
  const results: TrialResult[] = [];
  const makeDriver = (): Driver => (system === 'etcd-ts' ? etcdTsDriver(o, cluster.endpoints) : etcdHttpDriver(o, cluster.endpoints));
  const probe = makeDriver(); // status requests only
  try {
    for (let trial = 1; trial <= o.trials; trial++) {
      const { leader } = await waitConverged(cluster, probe);
      const driver = makeDriver();
      const load = startLoad(o, driver);
      await sleep(o.loadBeforeS * 1000);
      // the term at the kill: the leader's, or a later one an answer already carried
      const leaderStatus = await probe.status(leader);
      const oldTerm = Math.max(leaderStatus?.term ?? 0, ...load.acks.map((a) => a.term));
      const killAt = now();
      const killed = cluster.kill(leader); // SIGKILL is sent synchronously; this resolves once the process is gone
      const ackedBefore = load.acks.filter((a) => a.ackAt <= killAt && a.ackAt > killAt - o.loadBeforeS * 1000 + 500).length;
      await killed;
      const deadline = killAt + o.trialTimeoutS * 1000;
      let recoveredAt: number | null = null;
      while (now() < deadline) {
        const first = load.acks.find((a) => a.ackAt > killAt && a.term > oldTerm);
        if (first !== undefined) {
          recoveredAt = first.ackAt;
          break;
        }
        await sleep(5);
      }
      if (recoveredAt !== null) await sleep(o.loadAfterS * 1000);
      await load.stop();
      const newTermAcks = load.acks.filter((a) => a.ackAt > killAt && a.term > oldTerm);
      const failover = newTermAcks.length === 0 ? null : Math.min(...newTermAcks.map((a) => a.ackAt)) - killAt;
      const afterKill = load.acks.filter((a) => a.sentAt > killAt);
      const firstSentAfter = afterKill.length === 0 ? null : Math.min(...afterKill.map((a) => a.ackAt)) - killAt;
      const newTerm = newTermAcks.length === 0 ? null : Math.min(...newTermAcks.map((a) => a.term));
      const failures = load.failures.filter((f) => f.failedAt > killAt - 1000 && f.failedAt < load.stoppedAt);
      const samples = [...new Set(failures.map((f) => f.message))].slice(0, 3);
      let newLeader: string | null = null;
      try {
        newLeader = (await waitConverged(cluster, probe, 10_000)).leader.name;
      } catch {
        // reported as unknown
      }
      const r: TrialResult = {
        system,
        trial,
        killed: leader.name,
        old_term: oldTerm,
        failover_ms: failover === null ? null : Math.round(failover),
        first_ack_sent_after_kill_ms: firstSentAfter === null ? null : Math.round(firstSentAfter),
        new_term: newTerm,
        new_leader: newLeader,
        acks_per_s_before: Math.round(ackedBefore / Math.max(0.5, o.loadBeforeS - 0.5)),
        writes_failed: failures.length,
        failure_samples: samples,
      };
      results.push(r);
      if (o.output === 'json') process.stdout.write(JSON.stringify(r) + '\n');
      else {
        process.stdout.write(
          `${system} trial ${trial}: killed leader ${leader.name} (term ${oldTerm}); first new-term write acknowledged after ` +
            `${r.failover_ms ?? 'none'} ms (term ${r.new_term ?? '-'}, new leader ${newLeader ?? '?'}); first answer to a write sent after the kill ` +
            `${r.first_ack_sent_after_kill_ms ?? 'none'} ms; ${r.acks_per_s_before} writes/s before; ${r.writes_failed} writes failed` +
            `${samples.length > 0 ? ` (${samples.join('; ')})` : ''}\n`,
        );
      }
      await cluster.restart(leader);
    }
  } finally {
    probe.close();
    await cluster.stop();
  }
  return results;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const all: TrialResult[] = [];
  for (const system of o.systems) all.push(...(await runSystem(o, system)));
  const summary = o.systems.map((system) => {
    const xs = all.filter((r) => r.system === system && r.failover_ms !== null).map((r) => r.failover_ms!);
    const trials = all.filter((r) => r.system === system).length;
    return {
      system,
      trials,
      recovered: xs.length,
      min_ms: xs.length ? Math.min(...xs) : null,
      median_ms: xs.length ? median(xs) : null,
      max_ms: xs.length ? Math.max(...xs) : null,
      election_timeout_ms: o.electionMs,
      max_over_election_timeout: xs.length ? Math.round((Math.max(...xs) / o.electionMs) * 100) / 100 : null,
      within_2x: xs.length === trials && xs.every((x) => x <= 2 * o.electionMs),
    };
  });
  if (o.output === 'json') {
    for (const s of summary) process.stdout.write(JSON.stringify({ summary: true, ...s }) + '\n');
    return;
  }
  process.stdout.write(
    `\nfailover: 3 members, ${o.rate} writes/s open loop over ${o.clients} clients, election timeout ${o.electionMs} ms, heartbeat ${o.heartbeatMs} ms\n` +
      '| system | trials | recovered | min ms | median ms | max ms | max / election timeout | all within 2x |\n|---|---|---|---|---|---|---|---|\n',
  );
  for (const s of summary) {
    process.stdout.write(
      `| ${s.system} | ${s.trials} | ${s.recovered} | ${s.min_ms ?? 'n/a'} | ${s.median_ms ?? 'n/a'} | ${s.max_ms ?? 'n/a'} | ${s.max_over_election_timeout ?? 'n/a'} | ${s.within_2x ? 'yes' : 'no'} |\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`failover: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
