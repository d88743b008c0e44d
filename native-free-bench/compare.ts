// Side-by-side runs of etcd-ts and a real etcd on this machine, alternating A B A B (see STACK.md, "Measuring against
// a real etcd fairly"): each run starts its server (one member, or a cluster with --members 3) on fresh data
// directories under --data-root, drives it for --duration seconds, and records ops/s, p50/p99, server CPU seconds
// per op (summed over the members) and the CPU other processes used meanwhile.
//
//   npm run build && node dist/native-free-bench/compare.js [--workloads put,range,txn-mixed] [--members 1|3] [--rounds 2] [--duration 10]
//
// Workloads, etcd-ts driver / etcd driver (Go: etcd-loadgen; node: loadgen.ts --target etcd, the etcd3 npm client):
//   put                 loadgen.ts --workload put                / Go: -workload put      node: --workload put
//   range (alias range-serializable)
//                       loadgen.ts --workload range              / Go: -workload range-s  node: --workload range
//   range-linearizable  loadgen.ts --workload range-linearizable / Go: -workload range-l  node: the same
//   txn-mixed           loadgen.ts --workload txn-mixed          / node only (etcd-loadgen has no txn workload)
//   watch               watch-bench.ts --mode watch --watchers N / Go: -workload watch -watchers N
//                       with the node driver both sides run loadgen.ts --workload watch --watchers N instead
//                       (one run per count in --watchers; ops/s = events delivered per second)
//   keepalive           watch-bench.ts --mode keepalive          / none (etcd-loadgen has no lease workload)
// etcd-ts is driven over the binary protocol, etcd by etcd-loadgen (etcd's own Go client, built by
// /work/shared/tools/etcd-loadgen/build.sh) when it is built (--etcd-driver auto, the default), else by loadgen.ts
// --target etcd, which is client-bound around 6k ops/s here (STACK.md): etcd's numbers are then a floor, not its
// capacity, and compare says so. Same client and connection counts and value size. With several members both
// drivers get every member's endpoint: our loadgen spreads its connections over them round-robin, etcd's clients
// balance their requests over them.

import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { eachFlag, positiveInteger, required, unknownOption } from './args.js';
import { loadAverage1, machineCpu, processCpu } from './procstat.js';
import { Cluster, repoRoot, sleep, type System } from './servers.js';

const WORKLOADS = ['put', 'range', 'range-serializable', 'range-linearizable', 'txn-mixed', 'watch', 'keepalive'] as const;
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
  /** how etcd is driven: go = etcd-loadgen, node = loadgen.ts --target etcd, auto = go when it is built */
  etcdDriver: 'auto' | 'go' | 'node';
  writeRatio: number | null;
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

const USAGE =
  'usage: node dist/native-free-bench/compare.js [--workloads put,range,range-linearizable,txn-mixed,watch,keepalive]\n' +
  '  [--members N (default 1; 3 for a 3-member cluster of each)] [--rounds N] [--duration S] [--warmup S]\n' +
  '  [--clients N] [--conns C] [--threads T] [--value-size B] [--keys K] [--hot-key (etcd-ts ranges read one key,\n' +
  '  as etcd-loadgen does)] [--watchers N[,N...] (watch; default 100)] [--leases N (keepalive; default 10000)]\n' +
  '  [--write-ratio F (txn-mixed: share of compare-and-put txns; loadgen default 0.5)]\n' +
  '  [--data-root DIR] [--etcd-loadgen PATH] [--etcd PATH] [--only ts|etcd]\n' +
  '  [--etcd-driver auto|go|node (etcd side: go = etcd-loadgen, node = loadgen --target etcd, which is client-bound\n' +
  '  around 6k ops/s; auto (default) = go when --etcd-loadgen exists; txn-mixed is always node)]\n' +
  '  [--profile DIR (etcd-ts runs under node --cpu-prof)] [--ts-arg ARG]... [--etcd-arg ARG]...\n' +
  '  [--wait-idle S (before each run wait up to S s for the machine to be idle)] [--idle-cores X (default 0.25)]\n' +
  '  [--max-other-cores X (repeat a run during which other processes used more)] [--retries N (default 3)]\n';

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
    etcdDriver: 'auto',
    writeRatio: null,
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
  eachFlag(argv, USAGE, (a, value, arg) => {
    const v = (): string => required(a, value());
    const positiveInt = (x: string): number => positiveInteger(a, x);
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
      case '--etcd-driver': {
        const s = v();
        if (s !== 'auto' && s !== 'go' && s !== 'node') throw new Error('--etcd-driver: auto, go or node');
        o.etcdDriver = s;
        break;
      }
      case '--write-ratio': o.writeRatio = Number(v()); break;
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
      default:
        throw unknownOption(arg);
    }
  });
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

type EtcdDriver = 'go' | 'node';

interface RunSpec {
  workload: Workload;
  /** watch only */
  watchers?: number;
  /** how etcd is driven for this workload (the etcd-ts side of watch follows it: same code on both sides with node) */
  etcdDriver: EtcdDriver;
}

function label(spec: RunSpec): string {
  return spec.watchers === undefined ? spec.workload : `${spec.workload}-${spec.watchers}`;
}

interface RunResult {
  system: System;
  workload: string;
  members: number;
  round: number;
  /** the load generator: loadgen, watch-bench, etcd-loadgen (Go) or loadgen --target etcd (etcd3) */
  driver_name: string;
  /** watch: events delivered per second; keepalive: answers per second */
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
  /** the driver's whole JSON line (watch: puts/s, delivered ratio, ...; txn-mixed: compares held) */
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

/** The Node drivers: loadgen.ts (both targets) and watch-bench.ts (etcd-ts). */
async function runNode(o: Options, spec: RunSpec, round: number, system: System): Promise<RunResult> {
  const load = loadAverage1();
  const cluster = await Cluster.start(
    system === 'etcd-ts'
      ? { system, members: o.members, dataRoot: o.dataRoot, tag: `${label(spec)}-${round}`, extraArgs: o.tsArgs, profileDir: o.profileDir }
      : { system, members: o.members, dataRoot: o.dataRoot, tag: `${label(spec)}-${round}`, etcd: o.etcd, extraArgs: o.etcdArgs },
  );
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
    const target = ['--target', system];
    let args: string[];
    if (spec.workload === 'watch' && (system === 'etcd' || spec.etcdDriver === 'node')) {
      args = ['dist/native-free-bench/loadgen.js', ...target, '--workload', 'watch', '--watchers', String(spec.watchers), '--writers', '8',
        '--value-size', String(o.valueSize), ...common];
    } else if (spec.workload === 'watch') {
      args = ['dist/native-free-bench/watch-bench.js', '--mode', 'watch', '--watchers', String(spec.watchers), '--writers', '8', '--value-size', String(o.valueSize), ...common];
    } else if (spec.workload === 'keepalive') {
      args = ['dist/native-free-bench/watch-bench.js', '--mode', 'keepalive', '--leases', String(o.leases), ...common];
    } else {
      args = [
        'dist/native-free-bench/loadgen.js',
        ...target,
        '--workload', spec.workload,
        '--clients', String(o.clients),
        '--value-size', String(o.valueSize),
        '--keys', String(o.keys),
        ...(o.hotKey ? ['--hot-key'] : []),
        ...(spec.workload === 'txn-mixed' && o.writeRatio !== null ? ['--write-ratio', String(o.writeRatio)] : []),
        ...common,
      ];
    }
    const r = await runClient(process.execPath, args);
    if (r.code !== 0) throw new Error(`${args[0]} exited with ${r.code}`);
    const j = lastJsonLine(r.stdout);
    let clientCmd = ['node', ...args].join(' ');
    cluster.pids.forEach((pid, i) => (clientCmd = clientCmd.replace(String(pid), `PID${i + 1}`)));
    const tool = path.basename(args[0]!, '.js');
    return {
      system,
      workload: label(spec),
      members: o.members,
      round,
      driver_name: system === 'etcd' ? `${tool} --target etcd (etcd3 npm client)` : tool,
      ops_per_s: j.ops_per_s as number,
      p50_ms: j.p50_ms as number,
      p99_ms: j.p99_ms as number,
      errors: j.errors as number,
      server_cpu_s_per_op: j.server_cpu_s_per_op as number | null,
      server_cpu_cores: j.server_cpu_cores as number | null,
      client_cpu_cores: j.loadgen_cpu_cores as number | null,
      other_cpu_cores: j.other_cpu_cores as number | null,
      load_avg_1m_before: load,
      driver: spec.workload === 'watch' || spec.workload === 'keepalive' || spec.workload === 'txn-mixed' ? j : undefined,
      server_command: cluster.command,
      client_command: clientCmd,
    };
  } finally {
    await cluster.stop();
  }
}

const ETCD_LOADGEN_WORKLOAD: Partial<Record<Workload, string>> = {
  put: 'put',
  range: 'range-s',
  'range-serializable': 'range-s',
  'range-linearizable': 'range-l',
  watch: 'watch',
};

async function runEtcdGo(o: Options, spec: RunSpec, round: number): Promise<RunResult> {
  const workload = ETCD_LOADGEN_WORKLOAD[spec.workload];
  if (workload === undefined) throw new Error(`etcd-loadgen has no ${spec.workload} workload`);
  const load = loadAverage1();
  const cluster = await Cluster.start({
    system: 'etcd', members: o.members, dataRoot: o.dataRoot, tag: `${label(spec)}-${round}`, etcd: o.etcd, extraArgs: o.etcdArgs,
  });
  try {
    const args = [
      '-endpoints', cluster.endpoints.join(','),
      '-workload', workload,
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
      driver_name: 'etcd-loadgen (Go)',
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

function mean(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null && !Number.isNaN(x));
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const goBuilt = fs.existsSync(o.etcdLoadgen);
  if (o.etcdDriver === 'go' && !goBuilt) {
    throw new Error(`${o.etcdLoadgen} not found: build it with /work/shared/tools/etcd-loadgen/build.sh ${o.etcdLoadgen}, or use --etcd-driver node`);
  }
  const driverFor = (w: Workload): EtcdDriver =>
    ETCD_LOADGEN_WORKLOAD[w] === undefined ? 'node' : o.etcdDriver === 'node' ? 'node' : o.etcdDriver === 'go' || goBuilt ? 'go' : 'node';
  const specs: RunSpec[] = o.workloads.flatMap((workload): RunSpec[] =>
    workload === 'watch' ? o.watchers.map((watchers) => ({ workload, watchers, etcdDriver: driverFor(workload) })) : [{ workload, etcdDriver: driverFor(workload) }],
  );
  const note = (s: string): boolean => process.stderr.write(`compare: ${s}\n`);
  if (o.only !== 'ts') {
    const reason = (s: RunSpec): string =>
      ETCD_LOADGEN_WORKLOAD[s.workload] === undefined ? 'etcd-loadgen has no such workload' : o.etcdDriver === 'node' ? '--etcd-driver node' : `${o.etcdLoadgen} is not built`;
    const nodeDriven = specs.filter((s) => s.workload !== 'keepalive' && s.etcdDriver === 'node').map((s) => `${label(s)} (${reason(s)})`);
    const goDriven = specs.filter((s) => s.workload !== 'keepalive' && s.etcdDriver === 'go').map(label);
    if (goDriven.length > 0) note(`etcd driven by etcd-loadgen (${o.etcdLoadgen}, etcd's Go client) for ${goDriven.join(', ')}`);
    if (nodeDriven.length > 0) {
      note(
        `NOTE: etcd driven by loadgen --target etcd (the etcd3 npm client) for ${nodeDriven.join(', ')}. ` +
          'That client is client-bound around 6k ops/s on this machine (STACK.md), so those etcd numbers are a floor, ' +
          'not etcd\'s capacity, and the ratios flatter etcd-ts; server CPU per op is still comparable. ' +
          (goBuilt ? '' : `Build the Go driver with /work/shared/tools/etcd-loadgen/build.sh ${o.etcdLoadgen}.`),
      );
    }
    if (specs.some((s) => s.workload === 'keepalive')) note('keepalive runs etcd-ts only (no etcd driver has a lease workload)');
  }
  if (o.profileDir !== null) fs.mkdirSync(o.profileDir, { recursive: true });
  const plan: { spec: RunSpec; round: number; system: System }[] = [];
  for (const spec of specs) {
    for (let round = 1; round <= o.rounds; round++) {
      for (const system of ['etcd-ts', 'etcd'] as const) {
        if ((o.only === 'ts' && system === 'etcd') || (o.only === 'etcd' && system === 'etcd-ts')) continue;
        if (system === 'etcd' && spec.workload === 'keepalive') continue;
        plan.push({ spec, round, system });
      }
    }
  }
  note(`${plan.length} runs of about ${o.durationS + o.warmupS + 5} s each, A B A B`);
  const results: RunResult[] = [];
  for (const [k, { spec, round, system }] of plan.entries()) {
    for (let attempt = 1; ; attempt++) {
      const idle = await waitIdle(o);
      const r = system === 'etcd' && spec.etcdDriver === 'go' ? await runEtcdGo(o, spec, round) : await runNode(o, spec, round, system);
      r.idle_check_busy_cores = idle.busy;
      r.idle_wait_s = idle.waitedS;
      r.discarded = attempt - 1;
      const disturbed = r.other_cpu_cores !== null && r.other_cpu_cores > o.maxOtherCores;
      const discard = disturbed && attempt <= o.retries;
      note(
        `[${k + 1}/${plan.length}] ${r.system} ${r.workload} round ${round}: ${Math.round(r.ops_per_s)} ops/s, ` +
          `p50 ${fmt(r.p50_ms, 2)} ms, p99 ${fmt(r.p99_ms, 2)} ms, server ${r.server_cpu_s_per_op === null ? 'n/a' : (r.server_cpu_s_per_op * 1e6).toFixed(1)} µs/op, ` +
          `other processes ${fmt(r.other_cpu_cores, 2)} cores (${r.driver_name})${discard ? ' - DISCARDED, other processes busy: repeating' : ''}`,
      );
      process.stdout.write((discard ? 'discarded (other processes busy): ' : '') + JSON.stringify(r) + '\n');
      await sleep(1000);
      if (!discard) {
        results.push(r);
        break;
      }
    }
  }
  process.stdout.write(
    '\n| workload | members | system | round | ops/s | p50 ms | p99 ms | errors | server CPU µs/op | server cores | client cores | other processes, cores | busy before, cores | load avg before | runs discarded | driver |\n' +
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const r of results) {
    process.stdout.write(
      `| ${r.workload} | ${r.members} | ${r.system} | ${r.round} | ${Math.round(r.ops_per_s)} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ${r.errors} | ` +
        `${r.server_cpu_s_per_op === null ? 'n/a' : (r.server_cpu_s_per_op * 1e6).toFixed(1)} | ${fmt(r.server_cpu_cores, 2)} | ` +
        `${fmt(r.client_cpu_cores, 2)} | ${fmt(r.other_cpu_cores, 2)} | ${fmt(r.idle_check_busy_cores ?? null, 2)} | ${fmt(r.load_avg_1m_before, 2)} | ${r.discarded ?? 0} | ${r.driver_name} |\n`,
    );
  }
  // ratios: means over the rounds of each system
  const workloads = [...new Set(results.map((r) => r.workload))];
  const rows = workloads.flatMap((w) => {
    const ts = results.filter((r) => r.workload === w && r.system === 'etcd-ts');
    const et = results.filter((r) => r.workload === w && r.system === 'etcd');
    if (ts.length === 0 || et.length === 0) return [];
    const tsOps = mean(ts.map((r) => r.ops_per_s));
    const etOps = mean(et.map((r) => r.ops_per_s));
    const tsCpu = mean(ts.map((r) => r.server_cpu_s_per_op));
    const etCpu = mean(et.map((r) => r.server_cpu_s_per_op));
    const driver = et[0]!.driver_name;
    return [
      `| ${w} | ${fmt(tsOps, 0)} | ${fmt(etOps, 0)} | **${tsOps === null || etOps === null || etOps === 0 ? 'n/a' : (tsOps / etOps).toFixed(2)}** | ` +
        `${tsCpu === null ? 'n/a' : (tsCpu * 1e6).toFixed(1)} | ${etCpu === null ? 'n/a' : (etCpu * 1e6).toFixed(1)} | ` +
        `**${tsCpu === null || etCpu === null || tsCpu === 0 ? 'n/a' : (etCpu / tsCpu).toFixed(2)}** | ${driver}${driver.includes('etcd3') ? ' (client-bound: etcd figure is a floor)' : ''} |`,
    ];
  });
  if (rows.length > 0) {
    process.stdout.write(
      `\nRatios (means over ${o.rounds} round(s); ops/s ratio > 1 and CPU ratio > 1 both favour etcd-ts):\n\n` +
        '| workload | etcd-ts ops/s | etcd ops/s | ops/s etcd-ts / etcd | etcd-ts server CPU µs/op | etcd server CPU µs/op | CPU/op etcd / etcd-ts | etcd driver |\n' +
        '|---|---|---|---|---|---|---|---|\n' +
        rows.join('\n') +
        '\n',
    );
  }
  if (results.some((r) => r.workload.startsWith('watch') || r.workload === 'keepalive')) {
    process.stdout.write(
      '\nwatch: ops/s = events delivered per second (watch-bench and etcd-loadgen: events of the measured puts delivered by the end of a 2 s drain,\n' +
        'over duration + 2 s; loadgen: events arrived in the measured window, over it); p50/p99 = put-to-delivery latency (not etcd-loadgen).\n' +
        'keepalive: ops/s = keep-alive answers per second, p50/p99 = round trip.\n',
    );
    for (const r of results) {
      if (r.driver === undefined || !r.workload.startsWith('watch')) continue;
      const d = r.driver;
      const w = (d.watch as Record<string, unknown> | undefined) ?? d;
      process.stdout.write(`${r.workload} ${r.system} round ${r.round}: puts ${w.puts}, delivered ${w.events_delivered ?? w.delivered} of ${w.expected} expected\n`);
    }
  }
  const txn = results.filter((r) => r.workload === 'txn-mixed' && r.driver?.txn !== undefined);
  if (txn.length > 0) {
    process.stdout.write('\ntxn-mixed: per request, a compare-and-put txn (mod_revision) with the share --write-ratio, else a linearizable range:\n');
    for (const r of txn) {
      const t = r.driver!.txn as { cas_succeeded: number; cas_failed: number; ranges: number };
      process.stdout.write(`${r.system} round ${r.round}: compares held ${t.cas_succeeded}, failed ${t.cas_failed}, ranges ${t.ranges}\n`);
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
