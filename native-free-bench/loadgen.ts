// Load generator for etcd-ts over the binary protocol (src/client). Closed loop: `--clients` requests are kept in
// flight, spread over `--connections` TCP connections, which are spread over `--threads` worker threads.
//
//   npm run bench -- --workload put --connections 8 --clients 64 --duration 10 --server-pid PID
//
// Pure JavaScript apart from what src/client needs (msgpackr, whose native part is optional): it runs as a load
// generator on any machine with Node 20. See BENCHMARKS.md for how its numbers compare with etcd's own tools.

import net from 'node:net';
import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Client } from '../src/client/index.js';
import { eachFlag, outputFormat, pidList, positiveInteger, positiveNumber } from './args.js';
import { Histogram } from './histogram.js';
import { loadAverage1, machineCpu, processCpu } from './procstat.js';

type Workload = 'put' | 'range' | 'range-linearizable';

interface Options {
  endpoints: string[];
  workload: Workload;
  connections: number;
  clients: number;
  threads: number;
  durationS: number;
  warmupS: number;
  keySize: number;
  valueSize: number;
  keys: number;
  hotKey: boolean;
  populate: boolean;
  /** local server processes (the members of a cluster): their CPU is summed */
  serverPids: number[];
  output: 'simple' | 'json';
  cork: boolean;
}

const USAGE = `usage: npm run bench -- [options]
  --endpoints LIST     comma-separated host:port of etcd-ts binary endpoints (default 127.0.0.1:2378);
                       connections are spread round-robin over them
  --workload W         put: single-key puts over the key space;
                       range: serializable single-key ranges over the key space (pre-populated first);
                       range-linearizable: the same with linearizable reads (a ReadIndex round per batch)
  --connections C      TCP connections in total (default 8)
  --clients N          requests kept in flight in total, spread over the connections (default 64)
  --threads T          client worker threads; connections are split between them (default 1)
  --duration S         measured seconds (default 10)
  --warmup S           seconds of load before measuring starts (default 1)
  --key-size B         key length: the key index zero-padded to B digits, as etcd-loadgen (default 8)
  --value-size B       value bytes (default 256)
  --keys K             key space size (default 10000)
  --hot-key            every request uses the first key (as etcd-loadgen's range-s, which reads one key)
  --no-populate        range: do not write the key space first
  --server-pid PIDS    local server process(es), comma-separated (the members of a cluster): report their CPU
                       seconds per operation, summed (/proc/PID/stat)
  -w simple|json       output format (default simple; json prints one line)
`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    endpoints: ['127.0.0.1:2378'],
    workload: 'put',
    connections: 8,
    clients: 64,
    threads: 1,
    durationS: 10,
    warmupS: 1,
    keySize: 8,
    valueSize: 256,
    keys: 10_000,
    hotKey: false,
    populate: true,
    serverPids: [],
    output: 'simple',
    cork: true,
  };
  eachFlag(argv, (flag, value, arg) => {
    switch (flag) {
      case '--endpoints': o.endpoints = (value() ?? '').split(',').filter((s) => s.length > 0); break;
      case '--workload': {
        const w = value();
        if (w !== 'put' && w !== 'range' && w !== 'range-linearizable') throw new Error(`--workload: want put, range or range-linearizable, got ${w}`);
        o.workload = w;
        break;
      }
      case '--connections': o.connections = positiveInteger(flag, value()); break;
      case '--clients': o.clients = positiveInteger(flag, value()); break;
      case '--threads': o.threads = positiveInteger(flag, value()); break;
      case '--duration': o.durationS = positiveNumber(flag, value()); break;
      case '--warmup': o.warmupS = positiveNumber(flag, value(), true); break;
      case '--key-size': o.keySize = positiveInteger(flag, value()); break;
      case '--value-size': o.valueSize = positiveInteger(flag, value(), true); break;
      case '--keys': o.keys = positiveInteger(flag, value()); break;
      case '--hot-key': o.hotKey = true; break;
      case '--no-populate': o.populate = false; break;
      case '--server-pid': o.serverPids = pidList(flag, value()); break;
      case '-w':
      case '--write-out': o.output = outputFormat(value()); break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  });
  if (o.endpoints.length === 0) throw new Error('--endpoints: no endpoint given');
  if (o.threads > o.connections) throw new Error(`--threads ${o.threads} > --connections ${o.connections}: each thread needs a connection`);
  if (o.clients < o.connections) throw new Error(`--clients ${o.clients} < --connections ${o.connections}: each connection needs a request in flight`);
  return o;
}

/** Keys as etcd-loadgen writes them: the index zero-padded to keySize digits (longer if the index needs it). */
function keyOf(i: number, keySize: number): Buffer {
  return Buffer.from(String(i).padStart(keySize, '0'), 'latin1');
}

/** Absolute milliseconds, comparable between threads. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

// ---- worker thread -------------------------------------------------------------------------------------------

interface WorkerInit {
  options: Options;
  /** index of this thread's first connection (connections are numbered across threads) */
  firstConnection: number;
  connections: number;
  /** requests in flight for each of this thread's connections */
  clientsPerConnection: number[];
}

interface WorkerResult {
  ops: number;
  errors: number;
  misses: number;
  errorSamples: string[];
  hist: { counts: Uint32Array; total: number; sumUs: number; maxUs: number };
}

async function workerMain(init: WorkerInit): Promise<void> {
  const port = parentPort!;
  const o = init.options;
  const clients: Client[] = [];
  for (let c = 0; c < init.connections; c++) {
    const n = init.firstConnection + c;
    // rotate the endpoint list so connections spread over the endpoints
    const endpoints = o.endpoints.map((_, i) => o.endpoints[(n + i) % o.endpoints.length]!);
    const client = new Client({ endpoints, dialTimeoutMs: 5000 });
    await client.connect();
    clients.push(client);
  }
  const keys: Buffer[] | null = o.keys <= 2_000_000 ? Array.from({ length: o.hotKey ? 1 : o.keys }, (_, i) => keyOf(i, o.keySize)) : null;
  const key = o.hotKey
    ? (): Buffer => keys![0]!
    : keys !== null
      ? (): Buffer => keys[Math.floor(Math.random() * keys.length)]!
      : (): Buffer => keyOf(Math.floor(Math.random() * o.keys), o.keySize);
  const value = Buffer.alloc(o.valueSize, 'v');

  const { measureFrom, endAt } = await new Promise<{ measureFrom: number; endAt: number }>((resolve) => {
    port.once('message', (m: { measureFrom: number; endAt: number }) => resolve(m));
    port.postMessage({ type: 'ready', corked: o.cork });
  });

  const hist = new Histogram();
  let ops = 0;
  let errors = 0;
  let misses = 0;
  const errorSamples = new Set<string>();

  const loop = async (client: Client): Promise<void> => {
    for (;;) {
      const t0 = now();
      if (t0 >= endAt) return;
      let failed = false;
      let missed = false;
      try {
        if (o.workload === 'put') {
          await client.put({ key: key(), value });
        } else {
          const r = await client.range({ key: key(), serializable: o.workload === 'range' });
          missed = r.kvs.length !== 1;
        }
      } catch (err) {
        failed = true;
        if (errorSamples.size < 5) errorSamples.add((err as Error).message);
        if (client.inflight === 0 && (err as Error).message === 'client is closed') return;
      }
      const t1 = now();
      if (t1 >= measureFrom && t1 <= endAt) {
        if (failed) errors++;
        else {
          ops++;
          if (missed) misses++;
          hist.record((t1 - t0) * 1000);
        }
      }
      // a dead connection fails at once: do not spin on it
      if (failed) await new Promise((r) => setTimeout(r, 10));
    }
  };
  const loops: Promise<void>[] = [];
  clients.forEach((client, c) => {
    for (let j = 0; j < init.clientsPerConnection[c]!; j++) loops.push(loop(client));
  });
  await Promise.all(loops);
  for (const c of clients) c.destroy();
  const result: WorkerResult = {
    ops,
    errors,
    misses,
    errorSamples: [...errorSamples],
    hist: { counts: hist.counts, total: hist.total, sumUs: hist.sumUs, maxUs: hist.maxUs },
  };
  port.postMessage({ type: 'result', result }, [hist.counts.buffer as ArrayBuffer]);
}

// ---- main thread ---------------------------------------------------------------------------------------------

/**
 * Waits until the server accepts a write (a member may report "ready" before it has a leader), writing the first key
 * as etcd-loadgen does.
 */
async function waitUntilServing(o: Options): Promise<void> {
  const deadline = now() + 20_000;
  const client = new Client({ endpoints: o.endpoints, dialTimeoutMs: 2000, requestTimeoutMs: 5000 });
  const value = Buffer.alloc(o.valueSize, 'v');
  try {
    for (;;) {
      try {
        await client.put({ key: keyOf(0, o.keySize), value });
        return;
      } catch (err) {
        if (now() > deadline) throw new Error(`the server did not accept a write within 20 s: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    client.destroy();
  }
}

/** Writes the key space with many puts in flight. */
async function populate(o: Options): Promise<void> {
  const client = new Client({ endpoints: o.endpoints, dialTimeoutMs: 5000 });
  await client.connect();
  const value = Buffer.alloc(o.valueSize, 'v');
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.keys) {
      const i = next++;
      await client.put({ key: keyOf(i, o.keySize), value });
    }
  };
  await Promise.all(Array.from({ length: Math.min(256, o.keys) }, worker));
  await client.close();
}

/** n items split into k nearly equal parts. */
function split(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

function sleepUntil(t: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, t - now())));
}

interface Sample {
  /** summed over the server processes; null if any is unreadable */
  server: { selfS: number } | null;
  machine: ReturnType<typeof machineCpu>;
  loadgenS: number;
}

function serverCpu(pids: number[]): { selfS: number } | null {
  if (pids.length === 0) return null;
  let selfS = 0;
  for (const pid of pids) {
    const c = processCpu(pid);
    if (c === null) return null;
    selfS += c.selfS;
  }
  return { selfS };
}

function sample(o: Options): Sample {
  const u = process.cpuUsage(); // the whole process, worker threads included
  return {
    server: serverCpu(o.serverPids),
    machine: machineCpu(),
    loadgenS: (u.user + u.system) / 1e6,
  };
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  for (const pid of o.serverPids) {
    if (processCpu(pid) === null) {
      process.stderr.write(`--server-pid ${pid}: cannot read /proc/${pid}/stat\n`);
      process.exit(2);
    }
  }
  const loadBefore = loadAverage1();
  await waitUntilServing(o);
  if (o.workload !== 'put' && o.populate) {
    const t = now();
    await populate(o);
    if (o.output === 'simple') process.stdout.write(`populated ${o.keys} keys in ${((now() - t) / 1000).toFixed(1)} s\n`);
  }

  const connectionsPerThread = split(o.connections, o.threads);
  const clientsPerConnection = split(o.clients, o.connections);
  const workers: Worker[] = [];
  let first = 0;
  for (let t = 0; t < o.threads; t++) {
    const n = connectionsPerThread[t]!;
    const init: WorkerInit = { options: o, firstConnection: first, connections: n, clientsPerConnection: clientsPerConnection.slice(first, first + n) };
    first += n;
    workers.push(new Worker(new URL(import.meta.url), { workerData: init }));
  }
  const results: Promise<WorkerResult>[] = [];
  const ready: Promise<void>[] = [];
  let corked = o.cork;
  for (const w of workers) {
    let markReady!: () => void;
    ready.push(new Promise<void>((r) => (markReady = r)));
    results.push(
      new Promise<WorkerResult>((resolve, reject) => {
        w.on('message', (m: { type: 'ready'; corked: boolean } | { type: 'result'; result: WorkerResult }) => {
          if (m.type === 'ready') {
            if (!m.corked) corked = false;
            markReady();
          }
          else resolve(m.result);
        });
        w.on('error', reject);
        w.on('exit', (code) => reject(new Error(`worker exited with code ${code} before reporting`)));
      }),
    );
  }
  await Promise.race([Promise.all(ready), Promise.all(results)]);
  const start = now() + 20;
  const measureFrom = start + o.warmupS * 1000;
  const endAt = measureFrom + o.durationS * 1000;
  for (const w of workers) w.postMessage({ measureFrom, endAt });
  await sleepUntil(measureFrom);
  const before = sample(o);
  const beforeAt = now();
  await sleepUntil(endAt);
  const after = sample(o);
  const afterAt = now();
  const all = await Promise.all(results);

  const hist = new Histogram();
  let ops = 0;
  let errors = 0;
  let misses = 0;
  const errorSamples = new Set<string>();
  for (const r of all) {
    hist.merge(r.hist);
    ops += r.ops;
    errors += r.errors;
    misses += r.misses;
    r.errorSamples.forEach((s) => errorSamples.add(s));
  }
  const seconds = (endAt - measureFrom) / 1000;
  const sampledS = (afterAt - beforeAt) / 1000;
  const serverS = before.server !== null && after.server !== null ? after.server.selfS - before.server.selfS : null;
  const loadgenS = after.loadgenS - before.loadgenS;
  const machineBusyS = before.machine !== null && after.machine !== null ? after.machine.busyS - before.machine.busyS : null;
  const otherS = machineBusyS === null ? null : machineBusyS - loadgenS - (serverS ?? 0);
  const ms = (us: number): number => Math.round(us) / 1000;
  const perOp = (s: number | null): number | null => (s === null || ops === 0 ? null : s / ops);
  const report = {
    workload: o.workload,
    ops_per_s: Math.round(ops / seconds),
    p50_ms: ms(hist.quantileUs(0.5)),
    p90_ms: ms(hist.quantileUs(0.9)),
    p99_ms: ms(hist.quantileUs(0.99)),
    max_ms: ms(hist.maxUs),
    mean_ms: ms(hist.meanUs),
    ops,
    errors,
    misses,
    duration_s: seconds,
    server_cpu_s_per_op: perOp(serverS),
    server_cpu_cores: serverS === null ? null : serverS / sampledS,
    loadgen_cpu_s_per_op: perOp(loadgenS),
    loadgen_cpu_cores: loadgenS / sampledS,
    machine_busy_cores: machineBusyS === null ? null : machineBusyS / sampledS,
    other_cpu_cores: otherS === null ? null : Math.max(0, otherS) / sampledS,
    cores: os.cpus().length,
    load_avg_1m_before: loadBefore,
    config: {
      endpoints: o.endpoints,
      connections: o.connections,
      clients: o.clients,
      threads: o.threads,
      warmup_s: o.warmupS,
      key_size: o.keySize,
      value_size: o.valueSize,
      keys: o.keys,
      hot_key: o.hotKey,
      writes_coalesced: corked,
    },
    error_samples: [...errorSamples],
  };
  if (o.output === 'json') {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  const f = (n: number | null, digits: number): string => (n === null ? 'n/a' : n.toFixed(digits));
  const us = (s: number | null): string => (s === null ? 'n/a' : `${(s * 1e6).toFixed(1)} µs`);
  const lines = [
    `workload ${o.workload}: ${o.clients} in flight over ${o.connections} connection(s), ${o.threads} thread(s), ` +
      `${seconds} s measured after ${o.warmupS} s warm-up; ${o.hotKey ? '1 hot key' : `${o.keys} keys`} of ${o.keySize} B, values of ${o.valueSize} B; ` +
      `${corked ? 'writes coalesced per turn' : 'one write per request'}`,
    `ops/s        ${report.ops_per_s}   (${ops} ops)`,
    `latency      p50 ${report.p50_ms} ms   p90 ${report.p90_ms} ms   p99 ${report.p99_ms} ms   max ${report.max_ms} ms   mean ${report.mean_ms} ms`,
    `errors       ${errors}${errorSamples.size > 0 ? `  (${[...errorSamples].join('; ')})` : ''}${misses > 0 ? `   range misses ${misses}` : ''}`,
    `server CPU   ${o.serverPids.length === 0 ? 'n/a (no --server-pid)' : `${us(report.server_cpu_s_per_op)} per op, ${f(report.server_cpu_cores, 2)} cores`}`,
    `loadgen CPU  ${us(report.loadgen_cpu_s_per_op)} per op, ${f(report.loadgen_cpu_cores, 2)} cores`,
    `machine      ${f(report.machine_busy_cores, 2)} of ${report.cores} cores busy; other processes ${f(report.other_cpu_cores, 2)} cores; load average before ${f(loadBefore, 2)}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

if (isMainThread) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`loadgen: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  workerMain(workerData as WorkerInit).catch((err: unknown) => {
    // report through the 'error' event of the Worker
    throw err;
  });
}
