// Side-by-side runs of etcd-ts and a real etcd on this machine, alternating A B A B (see STACK.md, "Measuring against
// a real etcd fairly"): each run starts its server on a fresh data directory under --data-root, drives it for
// --duration seconds, and records ops/s, p50/p99, server CPU seconds per op and the CPU other processes used meanwhile.
//
//   npm run build && node dist/native-free-bench/compare.js [--workloads put,range] [--rounds 2] [--duration 10]
//
// etcd-ts is driven by our loadgen (native-free-bench/loadgen.ts), etcd by etcd-loadgen (etcd's own Go client,
// built by /work/shared/tools/etcd-loadgen/build.sh), with the same client and connection counts and value size.

import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadAverage1, machineCpu, processCpu } from './procstat.js';

interface Options {
  workloads: ('put' | 'range')[];
  rounds: number;
  durationS: number;
  warmupS: number;
  clients: number;
  conns: number;
  threads: number;
  valueSize: number;
  keys: number;
  dataRoot: string;
  etcdLoadgen: string;
  etcd: string;
  only: 'ts' | 'etcd' | null;
  profileDir: string | null;
  tsArgs: string[];
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
    rounds: 2,
    durationS: 10,
    warmupS: 1,
    clients: 64,
    conns: 8,
    threads: 1,
    valueSize: 256,
    keys: 10_000,
    dataRoot: '/tmp',
    etcdLoadgen: '/tmp/etcd-loadgen',
    etcd: 'etcd',
    only: null,
    profileDir: null,
    tsArgs: [],
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
    switch (a) {
      case '--workloads': o.workloads = v().split(',').map((w) => {
        if (w !== 'put' && w !== 'range') throw new Error(`--workloads: unknown workload ${w}`);
        return w;
      }); break;
      case '--rounds': o.rounds = Number(v()); break;
      case '--duration': o.durationS = Number(v()); break;
      case '--warmup': o.warmupS = Number(v()); break;
      case '--clients': o.clients = Number(v()); break;
      case '--conns': o.conns = Number(v()); break;
      case '--threads': o.threads = Number(v()); break;
      case '--value-size': o.valueSize = Number(v()); break;
      case '--keys': o.keys = Number(v()); break;
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
      case '--wait-idle': o.waitIdleS = Number(v()); break;
      case '--idle-cores': o.idleCores = Number(v()); break;
      case '--max-other-cores': o.maxOtherCores = Number(v()); break;
      case '--retries': o.retries = Number(v()); break;
      case '-h':
      case '--help':
        process.stdout.write(
          'usage: node dist/native-free-bench/compare.js [--workloads put,range] [--rounds N] [--duration S] [--warmup S]\n' +
            '  [--clients N] [--conns C] [--threads T] [--value-size B] [--keys K] [--data-root DIR] [--etcd-loadgen PATH]\n' +
            '  [--etcd PATH] [--only ts|etcd] [--profile DIR (etcd-ts runs under node --cpu-prof)] [--ts-arg ARG]...\n' +
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

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Preferred ports; a port another process holds is replaced by a free one (other engineers run servers here too). */
const TS_PORT = 23780;
const ETCD_PORT = 23790;
const ETCD_PEER_PORT = 23800;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function freePort(preferred: number): Promise<number> {
  if (await portIsFree(preferred)) return preferred;
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Server {
  child: ChildProcess;
  pid: number;
  command: string;
  stop(): Promise<void>;
}

function launch(cmd: string, args: string[], logFile: string): Server {
  const log = fs.openSync(logFile, 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', log, log], cwd: repoRoot });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid!,
    command: [cmd, ...args].join(' '),
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} during start-up`);
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

async function startEtcdTs(o: Options, dataDir: string, logFile: string): Promise<Server & { port: number }> {
  const port = await freePort(TS_PORT);
  const nodeArgs = o.profileDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', o.profileDir];
  const s = launch(process.execPath, [
    ...nodeArgs,
    'dist/src/cli/etcd-ts.js',
    '--data-dir', dataDir,
    '--listen-client-binary-urls', `http://127.0.0.1:${port}`,
    ...o.tsArgs,
  ], logFile);
  await waitFor('etcd-ts', () => fs.readFileSync(logFile, 'utf8').includes('ready to serve client requests'), s.child);
  return { ...s, port };
}

async function startEtcd(o: Options, dataDir: string, logFile: string): Promise<Server & { port: number }> {
  const port = await freePort(ETCD_PORT);
  let peerPort = await freePort(ETCD_PEER_PORT);
  if (peerPort === port) peerPort = await freePort(0);
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const s = launch(o.etcd, [
    '--data-dir', dataDir,
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `default=${peer}`,
  ], logFile);
  // Ready = our own child logged it (a health check alone could be answered by someone else's etcd on the port).
  await waitFor('etcd', async () => {
    if (!fs.readFileSync(logFile, 'utf8').includes('ready to serve client requests')) return false;
    try {
      const r = await fetch(`${client}/health`);
      return r.ok && ((await r.json()) as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  }, s.child);
  return { ...s, port };
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

interface RunResult {
  system: 'etcd-ts' | 'etcd';
  workload: string;
  round: number;
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
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
  server_command: string;
  client_command: string;
}

function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no JSON result in output:\n${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

async function runEtcdTs(o: Options, workload: 'put' | 'range', round: number): Promise<RunResult> {
  const dataDir = path.join(o.dataRoot, 'bench-ts');
  fs.rmSync(dataDir, { recursive: true, force: true });
  const load = loadAverage1();
  const server = await startEtcdTs(o, dataDir, path.join(o.dataRoot, `bench-ts-${workload}-${round}.log`));
  try {
    const args = [
      'dist/native-free-bench/loadgen.js',
      '--endpoints', `127.0.0.1:${server.port}`,
      '--workload', workload,
      '--connections', String(o.conns),
      '--clients', String(o.clients),
      '--threads', String(o.threads),
      '--duration', String(o.durationS),
      '--warmup', String(o.warmupS),
      '--value-size', String(o.valueSize),
      '--keys', String(o.keys),
      '--server-pid', String(server.pid),
      '-w', 'json',
    ];
    const r = await runClient(process.execPath, args);
    if (r.code !== 0) throw new Error(`loadgen exited with ${r.code}`);
    const j = lastJsonLine(r.stdout);
    return {
      system: 'etcd-ts',
      workload,
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
      server_command: server.command.replace(process.execPath, 'node'),
      client_command: ['node', ...args].join(' ').replace(String(server.pid), 'PID'),
    };
  } finally {
    await server.stop();
  }
}

async function runEtcd(o: Options, workload: 'put' | 'range', round: number): Promise<RunResult> {
  const dataDir = path.join(o.dataRoot, 'bench-etcd');
  fs.rmSync(dataDir, { recursive: true, force: true });
  const load = loadAverage1();
  const server = await startEtcd(o, dataDir, path.join(o.dataRoot, `bench-etcd-${workload}-${round}.log`));
  try {
    const args = [
      '-endpoints', `127.0.0.1:${server.port}`,
      '-workload', workload === 'put' ? 'put' : 'range-s',
      '-clients', String(o.clients),
      '-conns', String(o.conns),
      '-duration', `${o.durationS}s`,
      '-val-size', String(o.valueSize),
      '-keys', String(o.keys),
    ];
    const sBefore = processCpu(server.pid);
    const mBefore = machineCpu();
    const t0 = performance.now();
    const r = await runClient(o.etcdLoadgen, args);
    const elapsedS = (performance.now() - t0) / 1000;
    const sAfter = processCpu(server.pid);
    const mAfter = machineCpu();
    if (r.code !== 0) throw new Error(`etcd-loadgen exited with ${r.code}`);
    const j = lastJsonLine(r.stdout);
    const opsPerS = j.ops_per_s as number;
    // etcd-loadgen reports ops/s over its own run time, which is the duration (connection set-up is not in it)
    const ops = opsPerS * o.durationS;
    const serverS = sBefore !== null && sAfter !== null ? sAfter.selfS - sBefore.selfS : null;
    const busyS = mBefore !== null && mAfter !== null ? mAfter.busyS - mBefore.busyS : null;
    return {
      system: 'etcd',
      workload,
      round,
      ops_per_s: opsPerS,
      p50_ms: j.p50_ms as number,
      p99_ms: j.p99_ms as number,
      errors: j.errors as number,
      server_cpu_s_per_op: serverS === null || ops === 0 ? null : serverS / ops,
      server_cpu_cores: serverS === null ? null : serverS / elapsedS,
      client_cpu_cores: r.cpuS / elapsedS,
      other_cpu_cores: busyS === null || serverS === null ? null : Math.max(0, busyS - serverS - r.cpuS) / elapsedS,
      load_avg_1m_before: load,
      server_command: server.command,
      client_command: [o.etcdLoadgen, ...args].join(' '),
    };
  } finally {
    await server.stop();
  }
}

function fmt(n: number | null, digits: number): string {
  return n === null || Number.isNaN(n) ? 'n/a' : n.toFixed(digits);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.only !== 'ts' && !fs.existsSync(o.etcdLoadgen)) {
    throw new Error(`${o.etcdLoadgen} not found: build it with /work/shared/tools/etcd-loadgen/build.sh ${o.etcdLoadgen}`);
  }
  if (o.profileDir !== null) fs.mkdirSync(o.profileDir, { recursive: true });
  const results: RunResult[] = [];
  for (const workload of o.workloads) {
    for (let round = 1; round <= o.rounds; round++) {
      for (const system of ['etcd-ts', 'etcd'] as const) {
        if ((o.only === 'ts' && system === 'etcd') || (o.only === 'etcd' && system === 'etcd-ts')) continue;
        for (let attempt = 1; ; attempt++) {
          const idle = await waitIdle(o);
          const r = system === 'etcd-ts' ? await runEtcdTs(o, workload, round) : await runEtcd(o, workload, round);
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
    '\n| workload | system | round | ops/s | p50 ms | p99 ms | errors | server CPU µs/op | server cores | client cores | other processes, cores | busy before, cores | load avg before | runs discarded |\n' +
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const r of results) {
    process.stdout.write(
      `| ${r.workload} | ${r.system} | ${r.round} | ${Math.round(r.ops_per_s)} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ${r.errors} | ` +
        `${r.server_cpu_s_per_op === null ? 'n/a' : (r.server_cpu_s_per_op * 1e6).toFixed(1)} | ${fmt(r.server_cpu_cores, 2)} | ` +
        `${fmt(r.client_cpu_cores, 2)} | ${fmt(r.other_cpu_cores, 2)} | ${fmt(r.idle_check_busy_cores ?? null, 2)} | ${fmt(r.load_avg_1m_before, 2)} | ${r.discarded ?? 0} |\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`compare: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
