// Side-by-side runs of etcd-ts and a real etcd on this machine, alternating A B A B (see STACK.md, "Measuring against
// a real etcd fairly"): each run starts its server (one member, or a cluster with --members 3) on fresh data
// directories under --data-root, drives it for --duration seconds, and records ops/s, p50/p99, server CPU seconds
// per op (summed over the members) and the CPU other processes used meanwhile.
//
//   npm run build && node dist/native-free-bench/compare.js [--workloads put,range] [--members 1|3] [--rounds 2] [--duration 10]
//
// Workloads, etcd-ts driver / etcd driver:
//   put                 loadgen.ts --workload put                / etcd-loadgen -workload put
//   range               loadgen.ts --workload range              / etcd-loadgen -workload range-s   (serializable)
//   range-linearizable  loadgen.ts --workload range-linearizable / etcd-loadgen -workload range-l
//   watch               watch-bench.ts --mode watch --watchers N / etcd-loadgen -workload watch -watchers N
//                       (one run per count in --watchers; ops/s = events delivered per second, etcd-loadgen's way)
//   keepalive           watch-bench.ts --mode keepalive          / none (etcd-loadgen has no lease workload)
// etcd-ts is driven over the binary protocol, etcd by etcd-loadgen (etcd's own Go client, built by
// /work/shared/tools/etcd-loadgen/build.sh), with the same client and connection counts and value size. With several
// members both drivers get every member's endpoint: our loadgen spreads its connections over them round-robin, etcd's
// client balances its requests over them.

import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { loadAverage1, machineCpu, processCpu } from './procstat.js';
import { Cluster, repoRoot, sleep, type System } from './servers.js';

const WORKLOADS = ['put', 'range', 'range-linearizable', 'watch', 'keepalive'] as const;
type Workload = (typeof WORKLOADS)[number];

interface Options {
  workloads: Workload[];
  members: number;
  rounds: number;
  durationS: number;
  warmupS: number;
  clients: number;
  conns: number;
  threads: number;
  valueSize: number;
  keys: number;
  hotKey: boolean;
  watchers: number[];
  leases: number;
  dataRoot: string;
  etcdLoadgen: string;
  etcd: string;
  only: 'ts' | 'etcd' | null;
  profileDir: string | null;
  tsArgs: string[];
  etcdArgs: string[];
  /** before each run, wait (at most this many seconds) until other processes use under --idle-cores */
  waitIdleS: number;
  idleCores: number;
  /** a run during which other processes used more than this many cores is repeated (at most --retries times) */
  maxOtherCores: number;
  retries: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    workloads: ['put', 'range'],
    members: 1,
    rounds: 2,
    durationS: 10,
    warmupS: 1,
    clients: 64,
    conns: 8,
    threads: 1,
    valueSize: 256,
    keys: 10_000,
    hotKey: false,
    watchers: [100],
    leases: 10_000,
    dataRoot: '/tmp',
    etcdLoadgen: '/tmp/etcd-loadgen',
    etcd: 'etcd',
    only: null,
    profileDir: null,
    tsArgs: [],
    etcdArgs: [],
    waitIdleS: 0,
    idleCores: 0.25,
    maxOtherCores: Infinity,
    retries: 3,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => {
      const s = argv[++i];
      if (s === undefined) throw new Error(`${a}: missing value`);
      return s;
    };
    const positiveInt = (s: string): number => {
      const n = Number(s);
      if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${a}: want a positive integer, got ${s}`);
      return n;
    };
    switch (a) {
      case '--workloads': o.workloads = v().split(',').map((w) => {
        if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`--workloads: unknown workload ${w} (want ${WORKLOADS.join(', ')})`);
        return w as Workload;
      }); break;
      case '--members': o.members = positiveInt(v()); break;
      case '--rounds': o.rounds = Number(v()); break;
      case '--duration': o.durationS = Number(v()); break;
      case '--warmup': o.warmupS = Number(v()); break;
      case '--clients': o.clients = Number(v()); break;
      case '--conns': o.conns = Number(v()); break;
      case '--threads': o.threads = Number(v()); break;
      case '--value-size': o.valueSize = Number(v()); break;
      case '--keys': o.keys = Number(v()); break;
      case '--hot-key': o.hotKey = true; break;
      case '--watchers': o.watchers = v().split(',').map(positiveInt); break;
      case '--leases': o.leases = positiveInt(v()); break;
      case '--data-root': o.dataRoot = v(); break;
      case '--etcd-loadgen': o.etcdLoadgen = v(); break;
      case '--etcd': o.etcd = v(); break;
      case '--only': {
        const s = v();
        if (s !== 'ts' && s !== 'etcd') throw new Error('--only: ts or etcd');
        o.only = s;
        break;
      }
      case '--profile': o.profileDir = path.resolve(v()); break;
      case '--ts-arg': o.tsArgs.push(v()); break;
      case '--etcd-arg': o.etcdArgs.push(v()); break;
      case '--wait-idle': o.waitIdleS = Number(v()); break;
      case '--idle-cores': o.idleCores = Number(v()); break;
      case '--max-other-cores': o.maxOtherCores = Number(v()); break;
      case '--retries': o.retries = Number(v()); break;
      case '-h':
      case '--help':
        process.stdout.write(
          'usage: node dist/native-free-bench/compare.js [--workloads put,range,range-linearizable,watch,keepalive]\n' +
            '  [--members N (default 1; 3 for a 3-member cluster of each)] [--rounds N] [--duration S] [--warmup S]\n' +
            '  [--clients N] [--conns C] [--threads T] [--value-size B] [--keys K] [--hot-key (etcd-ts ranges read one key,\n' +
            '  as etcd-loadgen does)] [--watchers N[,N...] (watch; default 100)] [--leases N (keepalive; default 10000)]\n' +
            '  [--data-root DIR] [--etcd-loadgen PATH] [--etcd PATH] [--only ts|etcd]\n' +
            '  [--profile DIR (etcd-ts runs under node --cpu-prof)] [--ts-arg ARG]... [--etcd-arg ARG]...\n' +
            '  [--wait-idle S (before each run wait up to S s for the machine to be idle)] [--idle-cores X (default 0.25)]\n' +
            '  [--max-other-cores X (repeat a run during which other processes used more)] [--retries N (default 3)]\n',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  return o;
}

/** CPU cores the whole machine keeps busy over the next `ms` (nothing of ours runs between runs). */
async function busyCores(ms: number): Promise<number | null> {
  const a = machineCpu();
  await sleep(ms);
  const b = machineCpu();
  return a === null || b === null ? null : (b.busyS - a.busyS) / (ms / 1000);
}

/** Waits until two consecutive 1 s samples show under `cores` busy; returns the last sample and the wait. */
async function waitIdle(o: Options): Promise<{ busy: number | null; waitedS: number }> {
  const t0 = performance.now();
  let busy = await busyCores(1000);
  if (o.waitIdleS <= 0) return { busy, waitedS: 0 };
  let calm = 0;
  while ((performance.now() - t0) / 1000 < o.waitIdleS) {
    if (busy !== null && busy < o.idleCores) {
      if (++calm >= 2) break;
    } else calm = 0;
    busy = await busyCores(1000);
  }
  return { busy, waitedS: Math.round((performance.now() - t0) / 1000) };
}

/** Runs a command to completion; returns stdout and the CPU seconds it used (from our cutime+cstime). */
function runClient(cmd: string, args: string[]): Promise<{ stdout: string; cpuS: number; code: number }> {
  return new Promise((resolve, reject) => {
    const before = processCpu('self');
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: repoRoot });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const after = processCpu('self');
      const cpuS = before !== null && after !== null ? after.childrenS - before.childrenS : NaN;
      resolve({ stdout, cpuS, code: code ?? -1 });
    });
  });
}

function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no JSON result in output:\n${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

interface RunSpec {
  workload: Workload;
  /** watch only */
  watchers?: number;
}

function label(spec: RunSpec): string {
  return spec.watchers === undefined ? spec.workload : `${spec.workload}-${spec.watchers}`;
}

interface RunResult {
  system: System;
  workload: string;
  members: number;
  round: number;
  /** watch: events delivered per second (etcd-loadgen's definition); keepalive: answers per second */
  ops_per_s: number;
  p50_ms: number | null;
  p99_ms: number | null;
  errors: number;
  server_cpu_s_per_op: number | null;
  server_cpu_cores: number | null;
  client_cpu_cores: number | null;
  other_cpu_cores: number | null;
  load_avg_1m_before: number | null;
  /** cores busy on the machine in the second before the run (nothing of ours running) */
  idle_check_busy_cores?: number | null;
  idle_wait_s?: number;
  /** runs discarded before this one because other processes disturbed them */
  discarded?: number;
  /** the driver's whole JSON line (watch: puts/s, delivered ratio, ...) */
  driver?: Record<string, unknown>;
  server_command: string;
  client_command: string;
}

function serverCpuS(pids: number[]): number | null {
  let sum = 0;
  for (const pid of pids) {
    const c = processCpu(pid);
    if (c === null) return null;
    sum += c.selfS;
  }
  return sum;
}

async function runEtcdTs(o: Options, spec: RunSpec, round: number): Promise<RunResult> {
  const load = loadAverage1();
  const cluster = await Cluster.start({
    system: 'etcd-ts', members: o.members, dataRoot: o.dataRoot, tag: `${label(spec)}-${round}`, extraArgs: o.tsArgs, profileDir: o.profileDir,
  });
  try {
    const common = [
      '--endpoints', cluster.endpoints.join(','),
      '--connections', String(o.conns),
      '--threads', String(o.threads),
      '--duration', String(o.durationS),
      '--warmup', String(o.warmupS),
      '--server-pid', cluster.pids.join(','),
      '-w', 'json',
    ];
    const args =
      spec.workload === 'watch'
        ? ['dist/native-free-bench/watch-bench.js', '--mode', 'watch', '--watchers', String(spec.watchers), '--writers', '8', '--value-size', String(o.valueSize), ...common]
        : spec.workload === 'keepalive'
          ? ['dist/native-free-bench/watch-bench.js', '--mode', 'keepalive', '--leases', String(o.leases), ...common]
          : [
              'dist/native-free-bench/loadgen.js',
              '--workload', spec.workload,
              '--clients', String(o.clients),
              '--value-size', String(o.valueSize),
              '--keys', String(o.keys),
              ...(o.hotKey ? ['--hot-key'] : []),
              ...common,
            ];
    const r = await runClient(process.execPath, args);
    if (r.code !== 0) throw new Error(`${args[0]} exited with ${r.code}`);
    const j = lastJsonLine(r.stdout);
    let clientCmd = ['node', ...args].join(' ');
    cluster.pids.forEach((pid, i) => (clientCmd = clientCmd.replace(String(pid), `PID${i + 1}`)));
    return {
      system: 'etcd-ts',
      workload: label(spec),
      members: o.members,
      round,
      ops_per_s: j.ops_per_s as number,
      p50_ms: j.p50_ms as number,
      p99_ms: j.p99_ms as number,
      errors: j.errors as number,
      server_cpu_s_per_op: j.server_cpu_s_per_op as number | null,
      server_cpu_cores: j.server_cpu_cores as number | null,
      client_cpu_cores: j.loadgen_cpu_cores as number | null,
      other_cpu_cores: j.other_cpu_cores as number | null,
      load_avg_1m_before: load,
      driver: spec.workload === 'watch' || spec.workload === 'keepalive' ? j : undefined,
      server_command: cluster.command,
      client_command: clientCmd,
    };
  } finally {
    await cluster.stop();
  }
}

const ETCD_LOADGEN_WORKLOAD: Record<Exclude<Workload, 'keepalive'>, string> = {
  put: 'put',
  range: 'range-s',
  'range-linearizable': 'range-l',
  watch: 'watch',
};

async function runEtcd(o: Options, spec: RunSpec, round: number): Promise<RunResult> {
  if (spec.workload === 'keepalive') throw new Error('etcd-loadgen has no keepalive workload');
  const load = loadAverage1();
  const cluster = await Cluster.start({
    system: 'etcd', members: o.members, dataRoot: o.dataRoot, tag: `${label(spec)}-${round}`, etcd: o.etcd, extraArgs: o.etcdArgs,
  });
  try {
    const args = [
      '-endpoints', cluster.endpoints.join(','),
      '-workload', ETCD_LOADGEN_WORKLOAD[spec.workload],
      '-clients', String(o.clients),
      '-conns', String(o.conns),
      '-duration', `${o.durationS}s`,
      '-val-size', String(o.valueSize),
      '-keys', String(o.keys),
      ...(spec.workload === 'watch' ? ['-watchers', String(spec.watchers)] : []),
    ];
    const pids = cluster.pids;
    const sBefore = serverCpuS(pids);
    const mBefore = machineCpu();
    const t0 = performance.now();
    const r = await runClient(o.etcdLoadgen, args);
    const elapsedS = (performance.now() - t0) / 1000;
    const sAfter = serverCpuS(pids);
    const mAfter = machineCpu();
    if (r.code !== 0) throw new Error(`etcd-loadgen exited with ${r.code}`);
    const j = lastJsonLine(r.stdout);
    const opsPerS = (j.ops_per_s as number | undefined) ?? (j.events_per_s as number);
    // etcd-loadgen reports ops/s over its own run time, which is the duration (connection set-up is not in it);
    // for watch, events_per_s is the events delivered over (duration + 2 s drain)
    const ops = spec.workload === 'watch' ? (j.events_delivered as number) : opsPerS * o.durationS;
    const serverS = sBefore !== null && sAfter !== null ? sAfter - sBefore : null;
    const busyS = mBefore !== null && mAfter !== null ? mAfter.busyS - mBefore.busyS : null;
    return {
      system: 'etcd',
      workload: label(spec),
      members: o.members,
      round,
      ops_per_s: opsPerS,
      p50_ms: (j.p50_ms as number | undefined) ?? null,
      p99_ms: (j.p99_ms as number | undefined) ?? null,
      errors: (j.errors as number | undefined) ?? 0,
      server_cpu_s_per_op: serverS === null || ops === 0 ? null : serverS / ops,
      server_cpu_cores: serverS === null ? null : serverS / elapsedS,
      client_cpu_cores: r.cpuS / elapsedS,
      other_cpu_cores: busyS === null || serverS === null ? null : Math.max(0, busyS - serverS - r.cpuS) / elapsedS,
      load_avg_1m_before: load,
      driver: spec.workload === 'watch' ? j : undefined,
      server_command: cluster.command,
      client_command: [o.etcdLoadgen, ...args].join(' '),
    };
  } finally {
    await cluster.stop();
  }
}

function fmt(n: number | null, digits: number): string {
  return n === null || Number.isNaN(n) ? 'n/a' : n.toFixed(digits);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const specs: RunSpec[] = o.workloads.flatMap((workload): RunSpec[] => (workload === 'watch' ? o.watchers.map((watchers) => ({ workload, watchers })) : [{ workload }]));
  const etcdNeeded = o.only !== 'ts' && specs.some((s) => s.workload !== 'keepalive');
  if (etcdNeeded && !fs.existsSync(o.etcdLoadgen)) {
    throw new Error(`${o.etcdLoadgen} not found: build it with /work/shared/tools/etcd-loadgen/build.sh ${o.etcdLoadgen}`);
  }
  if (o.only !== 'ts' && specs.some((s) => s.workload === 'keepalive')) {
    process.stderr.write('compare: keepalive runs etcd-ts only (etcd-loadgen has no lease workload)\n');
  }
  if (o.profileDir !== null) fs.mkdirSync(o.profileDir, { recursive: true });
  const results: RunResult[] = [];
  for (const spec of specs) {
    for (let round = 1; round <= o.rounds; round++) {
      for (const system of ['etcd-ts', 'etcd'] as const) {
        if ((o.only === 'ts' && system === 'etcd') || (o.only === 'etcd' && system === 'etcd-ts')) continue;
        if (system === 'etcd' && spec.workload === 'keepalive') continue;
        for (let attempt = 1; ; attempt++) {
          const idle = await waitIdle(o);
          const r = system === 'etcd-ts' ? await runEtcdTs(o, spec, round) : await runEtcd(o, spec, round);
          r.idle_check_busy_cores = idle.busy;
          r.idle_wait_s = idle.waitedS;
          r.discarded = attempt - 1;
          const disturbed = r.other_cpu_cores !== null && r.other_cpu_cores > o.maxOtherCores;
          process.stdout.write((disturbed && attempt <= o.retries ? 'discarded (other processes busy): ' : '') + JSON.stringify(r) + '\n');
          await sleep(1000);
          if (!disturbed || attempt > o.retries) {
            results.push(r);
            break;
          }
        }
      }
    }
  }
  process.stdout.write(
    '\n| workload | members | system | round | ops/s | p50 ms | p99 ms | errors | server CPU µs/op | server cores | client cores | other processes, cores | busy before, cores | load avg before | runs discarded |\n' +
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const r of results) {
    process.stdout.write(
      `| ${r.workload} | ${r.members} | ${r.system} | ${r.round} | ${Math.round(r.ops_per_s)} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ${r.errors} | ` +
        `${r.server_cpu_s_per_op === null ? 'n/a' : (r.server_cpu_s_per_op * 1e6).toFixed(1)} | ${fmt(r.server_cpu_cores, 2)} | ` +
        `${fmt(r.client_cpu_cores, 2)} | ${fmt(r.other_cpu_cores, 2)} | ${fmt(r.idle_check_busy_cores ?? null, 2)} | ${fmt(r.load_avg_1m_before, 2)} | ${r.discarded ?? 0} |\n`,
    );
  }
  if (results.some((r) => r.workload.startsWith('watch') || r.workload === 'keepalive')) {
    process.stdout.write(
      '\nwatch: ops/s = events delivered per second (events of the measured puts delivered by the end of a 2 s drain, over duration + 2 s);\n' +
        'p50/p99 = put-to-delivery latency (etcd-ts only). keepalive: ops/s = keep-alive answers per second, p50/p99 = round trip.\n',
    );
    for (const r of results) {
      if (r.driver === undefined) continue;
      const d = r.driver;
      if (r.workload.startsWith('watch')) {
        process.stdout.write(`${r.workload} ${r.system} round ${r.round}: puts ${d.puts}, delivered ${d.events_delivered} of ${d.expected} expected\n`);
      }
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`compare: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
