// Load generator for etcd-ts (binary protocol, src/client) and for a real etcd (gRPC, the pure-JS `etcd3` client),
// with the same workloads, client model, histogram and output for both (targets.ts). Closed loop: `--clients`
// requests are kept in flight, spread over `--connections` connections, which are spread over `--threads` worker
// threads.
//
//   npm run bench -- --target etcd-ts --endpoints 127.0.0.1:23780 --workload put --connections 8 --clients 64 --duration 10 --server-pid PID
//   npm run bench -- --target etcd --endpoints 127.0.0.1:2379 --workload txn-mixed --server-pid PID -w json
//
// Pure JavaScript: src/client needs msgpackr, whose native part is optional; etcd3 is grpc-js, and is loaded only
// for --target etcd. See BENCHMARKS.md for how its numbers compare with etcd's own tools.

import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { parseEndpoint } from '../src/client/index.js';
import { eachFlag, unknownOption, outputFormat, pidList, positiveInteger, positiveNumber, targetSystem } from './args.js';
import { Histogram, type HistData } from './histogram.js';
import { loadAverage1, machineCpu, processCpu, tcpConnectionsTo } from './procstat.js';
import { connect, type Conn, type Target } from './targets.js';
import { readStamp, split, stampedValue, STAMP_BYTES, WATCH_PREFIX, type Timeline } from './watch-stamp.js';

const WORKLOADS = ['put', 'range-serializable', 'range-linearizable', 'txn-mixed', 'watch'] as const;
type Workload = (typeof WORKLOADS)[number];

interface Options {
  target: Target;
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
  /** range workloads: keys per read (1 = a single-key read) */
  rangeKeys: number;
  populate: boolean;
  /** txn-mixed: fraction of requests that are compare-and-put txns (the rest are linearizable ranges) */
  writeRatio: number;
  /** watch */
  watchers: number;
  writers: number;
  /** watch: puts/s of the putter, open loop; 0 = closed loop with --writers in flight */
  rate: number;
  drainS: number;
  /** local server processes (the members of a cluster): their CPU is summed */
  serverPids: number[];
  /** --user name:password (etcd's auth) */
  user?: { name: string; password: string };
  output: 'simple' | 'json';
}

const DEFAULT_PORT: Record<Target, string> = { 'etcd-ts': '127.0.0.1:2378', etcd: '127.0.0.1:2379' };

const USAGE = `usage: npm run bench -- [options]
  --target T           etcd-ts (default): the binary protocol through src/client;
                       etcd: a real etcd's gRPC API through the pure-JS etcd3 npm client, one Etcd3 instance (one
                       HTTP/2 connection) per connection. That client is client-bound around 6k ops/s on a 2-core
                       machine where etcd's Go client reaches 12-17k (STACK.md): use etcd-loadgen (Go) for etcd's
                       real capacity; compare.ts does, and falls back to this when it is not built
  --endpoints LIST     comma-separated host:port (default ${DEFAULT_PORT['etcd-ts']} for etcd-ts, ${DEFAULT_PORT.etcd} for etcd);
                       etcd-ts: connections are spread round-robin over them; etcd: each Etcd3 instance gets them
                       all, rotated, and balances over them itself
  --workload W         put: single-key puts over the key space;
                       range-serializable (alias: range): serializable single-key ranges over the key space
                         (pre-populated first);
                       range-linearizable: the same with linearizable reads (etcd-ts: a ReadIndex round per batch);
                       txn-mixed: per request, with probability --write-ratio an optimistic update as etcd's STM and
                         Kubernetes do it: Txn{ if mod_revision(k) == R then put(k) else range(k) } where R is the
                         last mod_revision the load generator saw for k (a cache filled by the populate phase and updated
                         from every answer: a failed compare returns the current one, so the next try succeeds);
                         otherwise a linearizable range of k (the default read of both clients). Keys uniform over
                         the key space (pre-populated first). Reports how many compares held;
                       watch: --watchers prefix watchers of /watchbench/ multiplexed on one watch stream per
                         connection, and a putter on a connection of its own putting /watchbench/<key> with the send
                         time stamped in the value: --writers puts in flight, or --rate puts/s. ops/s = events
                         delivered per second (arrivals in the measured window), latency = put-to-delivery
  --connections C      connections in total (default 8)
  --clients N          requests kept in flight in total, spread over the connections (default 64; not for watch)
  --threads T          client worker threads; connections are split between them (default 1; both targets)
  --duration S         measured seconds (default 10)
  --warmup S           seconds of load before measuring starts (default 1)
  --key-size B         key length: the key index zero-padded to B digits, as etcd-loadgen (default 8)
  --value-size B       value bytes (default 256; watch: at least 20, the send time is stamped in the first 20)
  --keys K             key space size (default 10000)
  --range-keys N       range workloads: each read is a scan of N consecutive keys [key i, key i+N) instead of one
                       key (scans go to worker threads; single-key reads stay on the main thread)
  --hot-key            every request uses the first key (as etcd-loadgen's range-s, which reads one key)
  --no-populate        ranges, txn-mixed: do not write the key space first
  --write-ratio F      txn-mixed: fraction of requests that are compare-and-put txns (default 0.5)
  --watchers W         watch: watchers in total (default 100)
  --writers N          watch: puts in flight of the putter (default 8, as etcd-loadgen)
  --rate R             watch: the putter sends R puts/s, open loop, instead
  --drain S            watch: seconds after the load to wait for the last events (default 2)
  --user NAME:PW       log every connection in as this user (a server with etcd's auth enabled)
  --server-pid PIDS    local server process(es), comma-separated (the members of a cluster): report their CPU
                       seconds per operation, summed (/proc/PID/stat)
  -w simple|json       output format (default simple; json prints one line)
`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    target: 'etcd-ts',
    endpoints: [],
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
    rangeKeys: 1,
    populate: true,
    writeRatio: 0.5,
    watchers: 100,
    writers: 8,
    rate: 0,
    drainS: 2,
    serverPids: [],
    output: 'simple',
  };
  eachFlag(argv, USAGE, (flag, value, arg) => {
    switch (flag) {
      case '--target': o.target = targetSystem(value()); break;
      case '--endpoints': o.endpoints = (value() ?? '').split(',').filter((s) => s.length > 0); break;
      case '--workload': {
        const w = value();
        if (w === 'range') o.workload = 'range-serializable';
        else if ((WORKLOADS as readonly (string | undefined)[]).includes(w)) o.workload = w as Workload;
        else throw new Error(`--workload: want ${WORKLOADS.join(', ')} (or range), got ${w}`);
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
      case '--range-keys': o.rangeKeys = positiveInteger(flag, value()); break;
      case '--no-populate': o.populate = false; break;
      case '--write-ratio': {
        o.writeRatio = positiveNumber(flag, value(), true);
        if (o.writeRatio > 1) throw new Error(`${flag}: want a fraction between 0 and 1`);
        break;
      }
      case '--watchers': o.watchers = positiveInteger(flag, value()); break;
      case '--writers': o.writers = positiveInteger(flag, value()); break;
      case '--rate': o.rate = positiveNumber(flag, value()); break;
      case '--drain': o.drainS = positiveNumber(flag, value(), true); break;
      case '--server-pid': o.serverPids = pidList(flag, value()); break;
      case '--user': {
        // etcd's auth: name:password, every connection logs in as this user
        const text = value() ?? '';
        const colon = text.indexOf(':');
        if (colon <= 0) throw new Error('--user takes name:password');
        o.user = { name: text.slice(0, colon), password: text.slice(colon + 1) };
        break;
      }
      case '-w':
      case '--write-out': o.output = outputFormat(value()); break;
      default:
        throw unknownOption(arg);
    }
  });
  if (o.endpoints.length === 0) o.endpoints = [DEFAULT_PORT[o.target]];
  for (const e of o.endpoints) parseEndpoint(e); // throws on a malformed one
  if (o.threads > o.connections) throw new Error(`--threads ${o.threads} > --connections ${o.connections}: each thread needs a connection`);
  if (o.workload !== 'watch' && o.clients < o.connections) {
    throw new Error(`--clients ${o.clients} < --connections ${o.connections}: each connection needs a request in flight`);
  }
  if (o.workload === 'watch' && o.valueSize < STAMP_BYTES) throw new Error(`--value-size: at least ${STAMP_BYTES} for watch`);
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function sleepUntil(t: number): Promise<void> {
  return sleep(Math.max(0, t - now()));
}

/** The endpoint list rotated so that connection n prefers endpoint n mod length. */
function endpointsFor(o: Options, n: number): string[] {
  return o.endpoints.map((_, i) => o.endpoints[(n + i) % o.endpoints.length]!);
}

function connectionFor(o: Options, n: number, requestTimeoutMs?: number, use: 'kv' | 'watch' = 'kv'): Promise<Conn> {
  return connect(o.target, { endpoints: endpointsFor(o, n), dialTimeoutMs: 5000, requestTimeoutMs, use, ...(o.user === undefined ? {} : { user: o.user }) });
}



// ---- worker thread -------------------------------------------------------------------------------------------

interface WorkerInit {
  options: Options;
  /** index of this thread's first connection (connections are numbered across threads) */
  firstConnection: number;
  /** per connection of this thread: requests in flight, or watchers for the watch workload */
  perConnection: number[];
  /**
   * txn-mixed: the last mod_revision seen per key, over a SharedArrayBuffer shared by all threads (filled by the
   * populate phase, so the cache starts warm), or null
   */
  revisions: Float64Array | null;
}

interface WorkerResult {
  /** requests answered in the window; watch: events arrived in it */
  ops: number;
  errors: number;
  /** ranges that found no key */
  misses: number;
  /** txn-mixed */
  casSucceeded: number;
  casFailed: number;
  /** watch: events of puts sent in the window, arrived before reportAt */
  stampedDelivered: number;
  errorSamples: string[];
  hist: HistData;
}

async function workerMain(init: WorkerInit): Promise<void> {
  const port = parentPort!;
  const o = init.options;
  const hist = new Histogram();
  const r: Omit<WorkerResult, 'hist' | 'errorSamples'> = { ops: 0, errors: 0, misses: 0, casSucceeded: 0, casFailed: 0, stampedDelivered: 0 };
  const errorSamples = new Set<string>();
  const fail = (msg: string): void => {
    r.errors++;
    if (errorSamples.size < 5) errorSamples.add(msg);
  };
  let t: Timeline = { measureFrom: Infinity, endAt: Infinity, reportAt: Infinity };

  const conns: (Conn | null)[] = [];
  for (let c = 0; c < init.perConnection.length; c++) {
    if (init.perConnection[c] === 0) {
      conns.push(null);
      continue;
    }
    conns.push(await connectionFor(o, init.firstConnection + c, undefined, o.workload === 'watch' ? 'watch' : 'kv'));
  }
  if (o.workload === 'watch') {
    await Promise.all(conns.map(async (conn, c) => {
      if (conn === null) return;
      await conn.watchPrefix(WATCH_PREFIX, init.perConnection[c]!, {
        events(values) {
          const at = now();
          const inWindow = at >= t.measureFrom && at <= t.endAt;
          for (const v of values) {
            const stamp = readStamp(v);
            if (inWindow) {
              r.ops++;
              hist.record((at - stamp) * 1000);
            }
            if (stamp >= t.measureFrom && stamp <= t.endAt && at <= t.reportAt) r.stampedDelivered++;
          }
        },
        error: fail,
      });
    }));
  }

  t = await new Promise<Timeline>((resolve) => {
    port.once('message', (m: Timeline) => resolve(m));
    port.postMessage({ type: 'ready' });
  });

  if (o.workload === 'watch') {
    await sleepUntil(t.reportAt);
  } else {
    const keyCount = o.hotKey ? 1 : o.keys;
    const keys: Buffer[] | null = keyCount <= 2_000_000 ? Array.from({ length: keyCount }, (_, i) => keyOf(i, o.keySize)) : null;
    const keyAt = keys !== null ? (i: number): Buffer => keys[i]! : (i: number): Buffer => keyOf(i, o.keySize);
    // txn-mixed: the last mod_revision seen per key, one cache for all threads (as one application's); a racy update
    // only makes a compare fail, which returns the current revision
    const revisions = init.revisions;
    const value = Buffer.alloc(o.valueSize, 'v');
    const { measureFrom, endAt } = t;

    const loop = async (conn: Conn): Promise<void> => {
      for (;;) {
        const t0 = now();
        if (t0 >= endAt) return;
        const i = keyCount === 1 ? 0 : Math.floor(Math.random() * keyCount);
        const key = keyAt(i);
        let failed = false;
        let missed = false;
        let cas: boolean | null = null;
        try {
          switch (o.workload) {
            case 'put':
              await conn.put(key, value);
              break;
            case 'range-serializable':
            case 'range-linearizable':
              missed = !(await conn.range(key, o.workload === 'range-serializable', o.rangeKeys > 1 ? keyOf(i + o.rangeKeys, o.keySize) : undefined)).found;
              break;
            case 'txn-mixed':
              if (Math.random() < o.writeRatio) {
                const c = await conn.cas(key, revisions![i]!, value);
                revisions![i] = c.modRevision;
                cas = c.succeeded;
              } else {
                const g = await conn.range(key, false);
                missed = !g.found;
                if (g.modRevision > revisions![i]!) revisions![i] = g.modRevision;
              }
              break;
          }
        } catch (err) {
          failed = true;
          if (errorSamples.size < 5) errorSamples.add((err as Error).message);
        }
        const t1 = now();
        if (t1 >= measureFrom && t1 <= endAt) {
          if (failed) r.errors++;
          else {
            r.ops++;
            if (missed) r.misses++;
            if (cas === true) r.casSucceeded++;
            else if (cas === false) r.casFailed++;
            hist.record((t1 - t0) * 1000);
          }
        }
        // a dead connection fails at once: do not spin on it
        if (failed) await sleep(10);
      }
    };
    const loops: Promise<void>[] = [];
    conns.forEach((conn, c) => {
      if (conn === null) return;
      for (let j = 0; j < init.perConnection[c]!; j++) loops.push(loop(conn));
    });
    await Promise.all(loops);
  }
  for (const c of conns) c?.close();
  const result: WorkerResult = { ...r, errorSamples: [...errorSamples], hist: { counts: hist.counts, total: hist.total, sumUs: hist.sumUs, maxUs: hist.maxUs } };
  port.postMessage({ type: 'result', result }, [hist.counts.buffer as ArrayBuffer]);
}

// ---- main thread ---------------------------------------------------------------------------------------------

/**
 * Waits until the server accepts a write (a member may report "ready" before it has a leader), writing the first key
 * as etcd-loadgen does.
 */
async function waitUntilServing(o: Options): Promise<void> {
  const deadline = now() + 20_000;
  const value = Buffer.alloc(o.valueSize, 'v');
  let conn: Conn | null = null;
  try {
    for (;;) {
      try {
        conn ??= await connectionFor(o, 0, 5000);
        await conn.put(keyOf(0, o.keySize), value);
        return;
      } catch (err) {
        if (now() > deadline) throw new Error(`the server did not accept a write within 20 s: ${(err as Error).message}`);
        await sleep(100);
      }
    }
  } finally {
    conn?.close();
  }
}

/** Writes the key space with many puts in flight; returns the mod_revision of each key. */
async function populate(o: Options): Promise<Float64Array> {
  const conn = await connectionFor(o, 0);
  const value = Buffer.alloc(o.valueSize, 'v');
  // shared with the worker threads: one cache for the whole load generator (see txn-mixed)
  const revisions = new Float64Array(new SharedArrayBuffer(8 * o.keys));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.keys) {
      const i = next++;
      revisions[i] = await conn.put(keyOf(i, o.keySize), value);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(256, o.keys) }, worker));
  } finally {
    conn.close();
  }
  return revisions;
}

interface PutterResult {
  /** puts sent in the window and acknowledged */
  putsInWindow: number;
  errors: number;
  errorSamples: string[];
}

/**
 * The watch workload's putter, on a connection of its own: `--writers` puts in flight (closed loop), or `--rate` puts/s
 * (open loop, at most 10,000 in flight), each value stamped with its send time, until endAt.
 */
async function runPutter(o: Options, conn: Conn, t: Timeline): Promise<PutterResult> {
  const r: PutterResult = { putsInWindow: 0, errors: 0, errorSamples: [] };
  let seq = 0;
  const putOne = async (): Promise<void> => {
    const i = seq++;
    const key = Buffer.concat([WATCH_PREFIX, keyOf(o.hotKey ? 0 : i % o.keys, o.keySize)]);
    const sent = now();
    try {
      await conn.put(key, stampedValue(o.valueSize, sent));
      if (sent >= t.measureFrom && sent <= t.endAt) r.putsInWindow++;
    } catch (err) {
      r.errors++;
      const m = (err as Error).message;
      if (r.errorSamples.length < 5 && !r.errorSamples.includes(m)) r.errorSamples.push(m);
      await sleep(10);
    }
  };
  if (o.rate === 0) {
    await Promise.all(Array.from({ length: o.writers }, async () => {
      while (now() < t.endAt) await putOne();
    }));
    return r;
  }
  const start = now();
  let sent = 0;
  let inflight = 0;
  const all = new Set<Promise<void>>();
  while (now() < t.endAt) {
    const due = Math.floor(((now() - start) / 1000) * o.rate);
    while (sent < due && inflight < 10_000) {
      sent++;
      inflight++;
      const p: Promise<void> = putOne().finally(() => {
        inflight--;
        all.delete(p);
      });
      all.add(p);
    }
    await sleep(1);
  }
  await Promise.all(all);
  return r;
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
  const isWatch = o.workload === 'watch';
  const loadBefore = loadAverage1();
  await waitUntilServing(o);
  let revisions: Float64Array | null = o.workload === 'txn-mixed' ? new Float64Array(new SharedArrayBuffer(8 * o.keys)) : null;
  if ((o.workload.startsWith('range') || o.workload === 'txn-mixed') && o.populate) {
    const t = now();
    revisions = await populate(o);
    if (o.output === 'simple') process.stdout.write(`populated ${o.keys} keys in ${((now() - t) / 1000).toFixed(1)} s\n`);
  }

  const connectionsPerThread = split(o.connections, o.threads);
  const perConnection = split(isWatch ? o.watchers : o.clients, o.connections);
  const workers: Worker[] = [];
  let first = 0;
  for (let t = 0; t < o.threads; t++) {
    const n = connectionsPerThread[t]!;
    const init: WorkerInit = {
      options: o,
      firstConnection: first,
      perConnection: perConnection.slice(first, first + n),
      revisions: o.workload === 'txn-mixed' ? revisions : null,
    };
    first += n;
    workers.push(new Worker(new URL(import.meta.url), { workerData: init }));
  }
  const results: Promise<WorkerResult>[] = [];
  const ready: Promise<void>[] = [];
  for (const w of workers) {
    let markReady!: () => void;
    ready.push(new Promise<void>((r) => (markReady = r)));
    results.push(
      new Promise<WorkerResult>((resolve, reject) => {
        w.on('message', (m: { type: 'ready' } | { type: 'result'; result: WorkerResult }) => {
          if (m.type === 'ready') markReady();
          else resolve(m.result);
        });
        w.on('error', reject);
        w.on('exit', (code) => reject(new Error(`worker exited with code ${code} before reporting`)));
      }),
    );
  }
  // the watch putter's connection: numbered after the others, so it prefers the next endpoint in turn
  const putterConn = isWatch ? await connectionFor(o, o.connections) : null;
  await Promise.race([Promise.all(ready), Promise.all(results)]);
  const start = now() + 20;
  const measureFrom = start + o.warmupS * 1000;
  const endAt = measureFrom + o.durationS * 1000;
  const timeline: Timeline = { measureFrom, endAt, reportAt: isWatch ? endAt + o.drainS * 1000 : endAt };
  for (const w of workers) w.postMessage(timeline);
  await sleepUntil(start);
  const putter = putterConn === null ? null : runPutter(o, putterConn, timeline);
  await sleepUntil(measureFrom);
  const before = sample(o);
  const beforeAt = now();
  const connections = tcpConnectionsTo(o.endpoints.map((e) => parseEndpoint(e).port));
  await sleepUntil(endAt);
  const after = sample(o);
  const afterAt = now();
  const all = await Promise.all(results);
  const putResult = putter === null ? null : await putter;
  putterConn?.close();

  const hist = new Histogram();
  const sum: Omit<WorkerResult, 'hist' | 'errorSamples'> = { ops: 0, errors: 0, misses: 0, casSucceeded: 0, casFailed: 0, stampedDelivered: 0 };
  const errorSamples = new Set<string>();
  for (const r of all) {
    hist.merge(r.hist);
    sum.ops += r.ops;
    sum.errors += r.errors;
    sum.misses += r.misses;
    sum.casSucceeded += r.casSucceeded;
    sum.casFailed += r.casFailed;
    sum.stampedDelivered += r.stampedDelivered;
    r.errorSamples.forEach((s) => errorSamples.add(s));
  }
  putResult?.errorSamples.forEach((s) => errorSamples.add(`put: ${s}`));
  const errors = sum.errors + (putResult?.errors ?? 0);
  const ops = sum.ops;
  const seconds = (endAt - measureFrom) / 1000;
  const sampledS = (afterAt - beforeAt) / 1000;
  const serverS = before.server !== null && after.server !== null ? after.server.selfS - before.server.selfS : null;
  const loadgenS = after.loadgenS - before.loadgenS;
  const machineBusyS = before.machine !== null && after.machine !== null ? after.machine.busyS - before.machine.busyS : null;
  const otherS = machineBusyS === null ? null : machineBusyS - loadgenS - (serverS ?? 0);
  const ms = (us: number): number => Math.round(us) / 1000;
  const perOp = (s: number | null): number | null => (s === null || ops === 0 ? null : s / ops);
  const expected = putResult === null ? 0 : putResult.putsInWindow * o.watchers;
  const report = {
    target: o.target,
    workload: o.workload,
    ops_per_s: Math.round(ops / seconds),
    p50_ms: ms(hist.quantileUs(0.5)),
    p90_ms: ms(hist.quantileUs(0.9)),
    p99_ms: ms(hist.quantileUs(0.99)),
    max_ms: ms(hist.maxUs),
    mean_ms: ms(hist.meanUs),
    ops,
    errors,
    misses: sum.misses,
    duration_s: seconds,
    server_cpu_s_per_op: perOp(serverS),
    server_cpu_cores: serverS === null ? null : serverS / sampledS,
    loadgen_cpu_s_per_op: perOp(loadgenS),
    loadgen_cpu_cores: loadgenS / sampledS,
    machine_busy_cores: machineBusyS === null ? null : machineBusyS / sampledS,
    other_cpu_cores: otherS === null ? null : Math.max(0, otherS) / sampledS,
    cores: os.cpus().length,
    load_avg_1m_before: loadBefore,
    /** established TCP connections to the endpoints at the start of the window (watch: the putter's included) */
    client_connections: connections,
    ...(o.workload === 'txn-mixed'
      ? { txn: { cas_succeeded: sum.casSucceeded, cas_failed: sum.casFailed, ranges: ops - sum.casSucceeded - sum.casFailed } }
      : {}),
    ...(putResult !== null
      ? {
          watch: {
            watchers: o.watchers,
            puts: putResult.putsInWindow,
            puts_per_s: Math.round(putResult.putsInWindow / seconds),
            expected,
            delivered: sum.stampedDelivered,
            delivered_ratio: expected === 0 ? null : sum.stampedDelivered / expected,
          },
        }
      : {}),
    config: {
      endpoints: o.endpoints,
      connections: o.connections,
      clients: isWatch ? null : o.clients,
      threads: o.threads,
      warmup_s: o.warmupS,
      key_size: o.keySize,
      value_size: o.valueSize,
      keys: o.keys,
      hot_key: o.hotKey,
      range_keys: o.rangeKeys,
      ...(o.workload === 'txn-mixed' ? { write_ratio: o.writeRatio } : {}),
      ...(isWatch ? { watchers: o.watchers, writers: o.rate > 0 ? null : o.writers, rate: o.rate > 0 ? o.rate : null, drain_s: o.drainS } : {}),
    },
    error_samples: [...errorSamples],
  };
  if (o.output === 'json') {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  const f = (n: number | null, digits: number): string => (n === null ? 'n/a' : n.toFixed(digits));
  const us = (s: number | null): string => (s === null ? 'n/a' : `${(s * 1e6).toFixed(1)} µs`);
  const load = isWatch
    ? `${o.watchers} watcher(s) over ${o.connections} connection(s), putter ${o.rate > 0 ? `at ${o.rate} puts/s` : `with ${o.writers} in flight`}`
    : `${o.clients} in flight over ${o.connections} connection(s)`;
  const lines = [
    `${o.target} ${o.workload}: ${load}, ${o.threads} thread(s), ${seconds} s measured after ${o.warmupS} s warm-up; ` +
      `${o.hotKey ? '1 hot key' : `${o.keys} keys`} of ${o.keySize} B, values of ${o.valueSize} B` +
      (o.target === 'etcd' ? '\n  (etcd3 npm client: client-bound around 6k ops/s on 2 cores; etcd-loadgen measures etcd itself)' : ''),
    `${isWatch ? 'events/s    ' : 'ops/s       '} ${report.ops_per_s}   (${ops} ${isWatch ? 'events delivered' : 'ops'})`,
    `latency      p50 ${report.p50_ms} ms   p90 ${report.p90_ms} ms   p99 ${report.p99_ms} ms   max ${report.max_ms} ms   mean ${report.mean_ms} ms` +
      (isWatch ? '   (put to delivery)' : ''),
    ...(report.txn !== undefined
      ? [`txn          compare held ${report.txn.cas_succeeded}, failed ${report.txn.cas_failed}; linearizable ranges ${report.txn.ranges}`]
      : []),
    ...(report.watch !== undefined
      ? [`watch        ${report.watch.puts_per_s} puts/s; events of the window's puts delivered ${report.watch.delivered} of ${report.watch.expected} expected (${f(report.watch.delivered_ratio, 4)})`]
      : []),
    `errors       ${errors}${errorSamples.size > 0 ? `  (${[...errorSamples].join('; ')})` : ''}${sum.misses > 0 ? `   range misses ${sum.misses}` : ''}`,
    `server CPU   ${o.serverPids.length === 0 ? 'n/a (no --server-pid)' : `${us(report.server_cpu_s_per_op)} per ${isWatch ? 'event' : 'op'}, ${f(report.server_cpu_cores, 2)} cores`}`,
    `loadgen CPU  ${us(report.loadgen_cpu_s_per_op)} per ${isWatch ? 'event' : 'op'}, ${f(report.loadgen_cpu_cores, 2)} cores; ${connections ?? 'n/a'} TCP connection(s) open to the endpoints`,
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
