// Watch fan-out and lease keep-alive benchmarks for etcd-ts over the binary protocol (src/client).
//
//   npm run bench:watch -- --endpoints 127.0.0.1:23780 --mode watch --watchers 10000 --connections 8 --duration 10
//   npm run bench:watch -- --endpoints 127.0.0.1:23780 --mode keepalive --leases 10000 --connections 8 --duration 10
//
// watch: `--watchers` prefix watchers on /watchbench/, multiplexed on one Watch stream per connection (as etcd's Go
//   client multiplexes the watchers of one client on one gRPC stream), the connections spread over `--threads` worker
//   threads. `--writers` (8) closed-loop writers on their own connections put /watchbench/<w> with the send time
//   stamped in the value; every delivered event is counted and its put-to-delivery latency (arrival minus stamp)
//   recorded. etcd-loadgen's `-workload watch` does the same against a real etcd, without the latency.
// keepalive: `--leases` leases (granted first, TTL `--ttl`), spread over one LeaseKeepAlive stream per connection;
//   each lease has one keep-alive in flight (closed loop: the answer for a lease sends the next one for it). Counts
//   answers per second and the keep-alive round-trip latency.
//
// Pure JavaScript apart from what src/client needs (msgpackr, whose native part is optional).

import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Client, prefixRangeEnd, type ClientStream, type LeaseKeepAliveRequest, type WatchRequest } from '../src/client/index.js';
import { eachFlag, unknownOption, outputFormat, pidList, positiveInteger, positiveNumber } from './args.js';
import { Histogram, type HistData } from './histogram.js';
import { loadAverage1, machineCpu, processCpu } from './procstat.js';
import { readStamp, split, stampedValue, STAMP_BYTES, WATCH_PREFIX, WatchCreation, type Timeline } from './watch-stamp.js';

type Mode = 'watch' | 'keepalive';

interface Options {
  endpoints: string[];
  mode: Mode;
  watchers: number;
  leases: number;
  ttlS: number;
  connections: number;
  writers: number;
  threads: number;
  durationS: number;
  warmupS: number;
  drainS: number;
  valueSize: number;
  serverPids: number[];
  output: 'simple' | 'json';
}

const USAGE = `usage: node dist/native-free-bench/watch-bench.js [options]
  --endpoints LIST     comma-separated host:port of etcd-ts binary endpoints (default 127.0.0.1:2378);
                       connections are spread round-robin over them
  --mode watch|keepalive
  --watchers N         watch: prefix watchers on /watchbench/ in total (default 100)
  --writers W          watch: closed-loop writers, each on its own connection, putting /watchbench/<w> (default 8)
  --drain S            watch: seconds to wait for events after the writers stop (default 2, as etcd-loadgen)
  --value-size B       watch: value bytes, at least 20 (the send time is stamped in the first 20) (default 256)
  --leases N           keepalive: leases granted first, one keep-alive in flight each (default 1000)
  --ttl S              keepalive: TTL of the leases (default 60)
  --connections C      connections carrying the watch / keep-alive streams, one stream each (default 8)
  --threads T          worker threads for those connections (default 1; the writers run on the main thread)
  --duration S         measured seconds (default 10)
  --warmup S           seconds of load before measuring starts (default 1)
  --server-pid PIDS    local server process(es), comma-separated: report their CPU per event / keep-alive, summed
  -w simple|json       output format (default simple; json prints one line)
`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    endpoints: ['127.0.0.1:2378'],
    mode: 'watch',
    watchers: 100,
    leases: 1000,
    ttlS: 60,
    connections: 8,
    writers: 8,
    threads: 1,
    durationS: 10,
    warmupS: 1,
    drainS: 2,
    valueSize: 256,
    serverPids: [],
    output: 'simple',
  };
  eachFlag(argv, USAGE, (flag, value, arg) => {
    switch (flag) {
      case '--endpoints': o.endpoints = (value() ?? '').split(',').filter((s) => s.length > 0); break;
      case '--mode': {
        const m = value();
        if (m !== 'watch' && m !== 'keepalive') throw new Error(`--mode: want watch or keepalive, got ${m}`);
        o.mode = m;
        break;
      }
      case '--watchers': o.watchers = positiveInteger(flag, value()); break;
      case '--writers': o.writers = positiveInteger(flag, value()); break;
      case '--drain': o.drainS = positiveNumber(flag, value(), true); break;
      case '--value-size': o.valueSize = positiveInteger(flag, value()); break;
      case '--leases': o.leases = positiveInteger(flag, value()); break;
      case '--ttl': o.ttlS = positiveInteger(flag, value()); break;
      case '--connections': o.connections = positiveInteger(flag, value()); break;
      case '--threads': o.threads = positiveInteger(flag, value()); break;
      case '--duration': o.durationS = positiveNumber(flag, value()); break;
      case '--warmup': o.warmupS = positiveNumber(flag, value(), true); break;
      case '--server-pid': o.serverPids = pidList(flag, value()); break;
      case '-w':
      case '--write-out': o.output = outputFormat(value()); break;
      default:
        throw unknownOption(arg);
    }
  });
  if (o.endpoints.length === 0) throw new Error('--endpoints: no endpoint given');
  if (o.threads > o.connections) throw new Error(`--threads ${o.threads} > --connections ${o.connections}`);
  if (o.valueSize < STAMP_BYTES) throw new Error(`--value-size: at least ${STAMP_BYTES}`);
  return o;
}

/** Absolute milliseconds, comparable between threads. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

const PREFIX = WATCH_PREFIX;
const PREFIX_END = prefixRangeEnd(PREFIX);


/** A client for connection number n: the endpoint list rotated so that connections spread over the endpoints. */
function clientFor(o: Options, n: number): Client {
  const endpoints = o.endpoints.map((_, i) => o.endpoints[(n + i) % o.endpoints.length]!);
  return new Client({ endpoints, dialTimeoutMs: 5000, requestTimeoutMs: 30_000 });
}

// ---- worker threads: the watch / keep-alive streams ----------------------------------------------------------

interface WorkerInit {
  options: Options;
  firstConnection: number;
  /** watch: watchers per connection; keepalive: lease IDs per connection */
  perConnection: number[] | bigint[][];
}

interface WorkerResult {
  /** watch: events (any) arrived in [measureFrom, endAt] / keepalive: answers arrived in it */
  inWindow: number;
  /** watch: events arrived in [measureFrom, reportAt] (for CPU per event) */
  inCpuWindow: number;
  /** watch: events of puts stamped within [measureFrom, endAt], whenever they arrived before reportAt */
  stampedInWindow: number;
  /** all events / answers received */
  total: number;
  errors: number;
  errorSamples: string[];
  hist: HistData;
}

async function watchWorker(init: WorkerInit, port: NonNullable<typeof parentPort>): Promise<void> {
  const o = init.options;
  const perConnection = init.perConnection as number[];
  const hist = new Histogram();
  const r: Omit<WorkerResult, 'hist'> = { inWindow: 0, inCpuWindow: 0, stampedInWindow: 0, total: 0, errors: 0, errorSamples: [] };
  let t: Timeline = { measureFrom: Infinity, endAt: Infinity, reportAt: Infinity };
  const fail = (msg: string): void => {
    r.errors++;
    if (r.errorSamples.length < 5 && !r.errorSamples.includes(msg)) r.errorSamples.push(msg);
  };
  const clients: Client[] = [];
  const streams: ClientStream<WatchRequest>[] = [];
  const created: Promise<void>[] = [];
  const create: WatchRequest = { create_request: { key: PREFIX, range_end: PREFIX_END } };
  for (let c = 0; c < perConnection.length; c++) {
    const n = perConnection[c]!;
    if (n === 0) continue;
    const client = clientFor(o, init.firstConnection + c);
    await client.connect();
    clients.push(client);
    const creation = new WatchCreation(n);
    created.push(creation.created);
    const stream = await client.openStream('Watch', create, {
      message: (resp) => {
        if (creation.take(resp)) return;
        if (resp.canceled === true) return fail(`watch canceled: ${resp.cancel_reason ?? ''}`);
        const at = now();
        const k = resp.events.length;
        if (k === 0) return;
        r.total += k;
        if (at >= t.measureFrom) {
          if (at <= t.endAt) r.inWindow += k;
          if (at <= t.reportAt) r.inCpuWindow += k;
        }
        for (const ev of resp.events) {
          const stamp = readStamp(ev.kv.value);
          if (stamp >= t.measureFrom && stamp <= t.endAt && at <= t.reportAt) {
            r.stampedInWindow++;
            hist.record((at - stamp) * 1000);
          }
        }
      },
      end: (err) => {
        fail(`watch stream ended: ${err?.message ?? 'by the server'}`);
        creation.fail(err ?? new Error('watch stream ended'));
      },
    });
    streams.push(stream);
    for (let i = 1; i < n; i++) stream.send(create);
  }
  await Promise.all(created);
  t = await new Promise<Timeline>((resolve) => {
    port.once('message', (m: Timeline) => resolve(m));
    port.postMessage({ type: 'ready' });
  });
  await new Promise((res) => setTimeout(res, Math.max(0, t.reportAt - now())));
  const result: WorkerResult = { ...r, hist: { counts: hist.counts, total: hist.total, sumUs: hist.sumUs, maxUs: hist.maxUs } };
  port.postMessage({ type: 'result', result }, [hist.counts.buffer as ArrayBuffer]);
  for (const c of clients) c.destroy();
}

async function keepAliveWorker(init: WorkerInit, port: NonNullable<typeof parentPort>): Promise<void> {
  const o = init.options;
  const perConnection = init.perConnection as bigint[][];
  const hist = new Histogram();
  const r: Omit<WorkerResult, 'hist'> = { inWindow: 0, inCpuWindow: 0, stampedInWindow: 0, total: 0, errors: 0, errorSamples: [] };
  let t: Timeline = { measureFrom: Infinity, endAt: Infinity, reportAt: Infinity };
  const fail = (msg: string): void => {
    r.errors++;
    if (r.errorSamples.length < 5 && !r.errorSamples.includes(msg)) r.errorSamples.push(msg);
  };
  const clients: Client[] = [];
  const conns: { stream: ClientStream<LeaseKeepAliveRequest>; ids: bigint[]; sentAt: Map<bigint, number> }[] = [];
  let inflight = 0;
  let settled: (() => void) | null = null;
  for (let c = 0; c < perConnection.length; c++) {
    const ids = perConnection[c]!;
    if (ids.length === 0) continue;
    const client = clientFor(o, init.firstConnection + c);
    await client.connect();
    clients.push(client);
    const sentAt = new Map<bigint, number>();
    const conn = { stream: null as unknown as ClientStream<LeaseKeepAliveRequest>, ids, sentAt };
    conn.stream = await client.openStream('LeaseKeepAlive', undefined, {
      message: (resp) => {
        const at = now();
        const sent = sentAt.get(resp.ID);
        if (sent === undefined) return;
        sentAt.delete(resp.ID);
        inflight--;
        if (resp.TTL <= 0) fail(`lease ${resp.ID.toString(16)} not found`);
        else {
          r.total++;
          if (at >= t.measureFrom && at <= t.endAt) {
            r.inWindow++;
            hist.record((at - sent) * 1000);
          }
        }
        if (at < t.endAt && resp.TTL > 0) {
          sentAt.set(resp.ID, now());
          inflight++;
          conn.stream.send({ ID: resp.ID });
        } else if (inflight === 0) settled?.();
      },
      end: (err) => {
        fail(`keep-alive stream ended: ${err?.message ?? 'by the server'}`);
        inflight -= sentAt.size;
        sentAt.clear();
        if (inflight === 0) settled?.();
      },
    });
    conns.push(conn);
  }
  t = await new Promise<Timeline>((resolve) => {
    port.once('message', (m: Timeline) => resolve(m));
    port.postMessage({ type: 'ready' });
  });
  await new Promise((res) => setTimeout(res, Math.max(0, t.measureFrom - o.warmupS * 1000 - now())));
  for (const conn of conns) {
    for (const id of conn.ids) {
      conn.sentAt.set(id, now());
      inflight++;
      conn.stream.send({ ID: id });
    }
  }
  // after endAt no new keep-alive is sent: wait for the last answers (at most 5 s)
  await new Promise((res) => setTimeout(res, Math.max(0, t.endAt - now())));
  if (inflight > 0) {
    await Promise.race([new Promise<void>((res) => (settled = res)), new Promise((res) => setTimeout(res, 5000))]);
  }
  if (inflight > 0) fail(`${inflight} keep-alives unanswered 5 s after the end`);
  const result: WorkerResult = { ...r, hist: { counts: hist.counts, total: hist.total, sumUs: hist.sumUs, maxUs: hist.maxUs } };
  port.postMessage({ type: 'result', result }, [hist.counts.buffer as ArrayBuffer]);
  for (const c of clients) c.destroy();
}

// ---- main thread ---------------------------------------------------------------------------------------------

async function waitUntilServing(o: Options): Promise<void> {
  const deadline = now() + 30_000;
  const client = new Client({ endpoints: o.endpoints, dialTimeoutMs: 2000, requestTimeoutMs: 5000 });
  try {
    for (;;) {
      try {
        await client.put({ key: Buffer.from('/watchbench-ready'), value: Buffer.from('1') });
        return;
      } catch (err) {
        if (now() > deadline) throw new Error(`the server did not accept a write within 30 s: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    client.destroy();
  }
}

async function grantLeases(o: Options): Promise<bigint[]> {
  const client = new Client({ endpoints: o.endpoints, dialTimeoutMs: 5000, requestTimeoutMs: 30_000 });
  const ids: bigint[] = [];
  let left = o.leases;
  const worker = async (): Promise<void> => {
    while (left > 0) {
      left--;
      const r = await client.call('LeaseGrant', { TTL: o.ttlS });
      if (r.error) throw new Error(`LeaseGrant: ${r.error}`);
      ids.push(r.ID);
    }
  };
  await Promise.all(Array.from({ length: Math.min(256, o.leases) }, worker));
  await client.close();
  return ids;
}

interface Writers {
  /** puts acknowledged whose send time is in [measureFrom, endAt] */
  inWindow: number;
  total: number;
  errors: number;
  errorSamples: string[];
  done: Promise<void>;
}

function startWriters(o: Options, clients: Client[], start: number, measureFrom: number, endAt: number): Writers {
  const w: Omit<Writers, 'done'> = { inWindow: 0, total: 0, errors: 0, errorSamples: [] };
  const loop = async (i: number): Promise<void> => {
    const client = clients[i % clients.length]!;
    const key = Buffer.from(`/watchbench/${i}`);
    await new Promise((res) => setTimeout(res, Math.max(0, start - now())));
    for (;;) {
      const t0 = now();
      if (t0 >= endAt) return;
      try {
        await client.put({ key, value: stampedValue(o.valueSize, t0) });
        w.total++;
        if (t0 >= measureFrom) w.inWindow++;
      } catch (err) {
        w.errors++;
        const msg = (err as Error).message;
        if (w.errorSamples.length < 5 && !w.errorSamples.includes(msg)) w.errorSamples.push(msg);
        await new Promise((res) => setTimeout(res, 10));
      }
    }
  };
  const done = Promise.all(Array.from({ length: o.writers }, (_, i) => loop(i))).then(() => {});
  return Object.assign(w, { done });
}

interface Sample {
  server: number | null;
  machine: ReturnType<typeof machineCpu>;
  selfS: number;
  at: number;
}

function sample(o: Options): Sample {
  let server: number | null = o.serverPids.length === 0 ? null : 0;
  for (const pid of o.serverPids) {
    const c = processCpu(pid);
    server = c === null || server === null ? null : server + c.selfS;
  }
  const u = process.cpuUsage(); // the whole process, worker threads included
  return { server, machine: machineCpu(), selfS: (u.user + u.system) / 1e6, at: now() };
}

function sleepUntil(t: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, t - now())));
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
    if (processCpu(pid) === null) throw new Error(`--server-pid ${pid}: cannot read /proc/${pid}/stat`);
  }
  const loadBefore = loadAverage1();
  await waitUntilServing(o);
  const setupStart = now();
  let perConnection: number[] | bigint[][];
  if (o.mode === 'watch') perConnection = split(o.watchers, o.connections);
  else {
    const ids = await grantLeases(o);
    perConnection = Array.from({ length: o.connections }, () => [] as bigint[]);
    ids.forEach((id, i) => (perConnection as bigint[][])[i % o.connections]!.push(id));
  }
  const writerClients: Client[] = [];
  if (o.mode === 'watch') {
    // writer connections are numbered after the watch connections, so they too spread over the endpoints
    for (let i = 0; i < o.writers; i++) writerClients.push(clientFor(o, o.connections + i));
    await Promise.all(writerClients.map((c) => c.connect()));
  }

  const connectionsPerThread = split(o.connections, o.threads);
  const workers: Worker[] = [];
  const ready: Promise<void>[] = [];
  const results: Promise<WorkerResult>[] = [];
  let first = 0;
  for (let t = 0; t < o.threads; t++) {
    const n = connectionsPerThread[t]!;
    const init: WorkerInit = { options: o, firstConnection: first, perConnection: perConnection.slice(first, first + n) as WorkerInit['perConnection'] };
    first += n;
    const w = new Worker(new URL(import.meta.url), { workerData: init });
    workers.push(w);
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
  await Promise.race([Promise.all(ready), Promise.all(results)]);
  const setupS = (now() - setupStart) / 1000;
  const start = now() + 50;
  const measureFrom = start + o.warmupS * 1000;
  const endAt = measureFrom + o.durationS * 1000;
  const reportAt = o.mode === 'watch' ? endAt + o.drainS * 1000 : endAt;
  for (const w of workers) w.postMessage({ measureFrom, endAt, reportAt } satisfies Timeline);
  const writers = o.mode === 'watch' ? startWriters(o, writerClients, start, measureFrom, endAt) : null;
  await sleepUntil(measureFrom);
  const before = sample(o);
  await sleepUntil(reportAt);
  const after = sample(o);
  await writers?.done;
  const all = await Promise.all(results);
  for (const c of writerClients) c.destroy();

  const hist = new Histogram();
  const sum: Omit<WorkerResult, 'hist'> = { inWindow: 0, inCpuWindow: 0, stampedInWindow: 0, total: 0, errors: 0, errorSamples: [] };
  for (const r of all) {
    hist.merge(r.hist);
    sum.inWindow += r.inWindow;
    sum.inCpuWindow += r.inCpuWindow;
    sum.stampedInWindow += r.stampedInWindow;
    sum.total += r.total;
    sum.errors += r.errors;
    for (const s of r.errorSamples) if (sum.errorSamples.length < 5 && !sum.errorSamples.includes(s)) sum.errorSamples.push(s);
  }
  for (const s of writers?.errorSamples ?? []) if (sum.errorSamples.length < 5) sum.errorSamples.push(`writer: ${s}`);
  const sampledS = (after.at - before.at) / 1000;
  const serverS = before.server !== null && after.server !== null ? after.server - before.server : null;
  const clientS = after.selfS - before.selfS;
  const busyS = before.machine !== null && after.machine !== null ? after.machine.busyS - before.machine.busyS : null;
  const otherS = busyS === null ? null : Math.max(0, busyS - clientS - (serverS ?? 0));
  const ms = (us: number): number => Math.round(us) / 1000;
  const cpuOps = o.mode === 'watch' ? sum.inCpuWindow : sum.inWindow;
  const perOp = (s: number | null): number | null => (s === null || cpuOps === 0 ? null : s / cpuOps);
  const latency = {
    p50_ms: ms(hist.quantileUs(0.5)),
    p90_ms: ms(hist.quantileUs(0.9)),
    p99_ms: ms(hist.quantileUs(0.99)),
    max_ms: ms(hist.maxUs),
    mean_ms: ms(hist.meanUs),
  };
  const cpu = {
    server_cpu_s_per_op: perOp(serverS),
    server_cpu_cores: serverS === null ? null : serverS / sampledS,
    loadgen_cpu_cores: clientS / sampledS,
    other_cpu_cores: otherS === null ? null : otherS / sampledS,
    cores: os.cpus().length,
    load_avg_1m_before: loadBefore,
  };
  const report =
    o.mode === 'watch'
      ? {
          workload: 'watch',
          watchers: o.watchers,
          // etcd-loadgen's definition: events of the measured puts delivered by the end of the drain, over
          // (duration + drain)
          events_per_s: Math.round(sum.stampedInWindow / (o.durationS + o.drainS)),
          ops_per_s: Math.round(sum.stampedInWindow / (o.durationS + o.drainS)),
          events_per_s_in_window: Math.round(sum.inWindow / o.durationS),
          puts: writers!.inWindow,
          puts_per_s: Math.round(writers!.inWindow / o.durationS),
          events_delivered: sum.stampedInWindow,
          expected: writers!.inWindow * o.watchers,
          delivered_ratio: writers!.inWindow === 0 ? null : sum.stampedInWindow / (writers!.inWindow * o.watchers),
          latency: 'put sent -> event delivered',
          ...latency,
          errors: sum.errors + writers!.errors,
          setup_s: Math.round(setupS * 10) / 10,
          ...cpu,
          cpu_window: 'measured window + drain; server CPU per event delivered in it',
          config: { endpoints: o.endpoints, connections: o.connections, writers: o.writers, threads: o.threads, warmup_s: o.warmupS, duration_s: o.durationS, drain_s: o.drainS, value_size: o.valueSize },
          error_samples: sum.errorSamples,
        }
      : {
          workload: 'keepalive',
          leases: o.leases,
          ops_per_s: Math.round(sum.inWindow / o.durationS),
          keepalives: sum.inWindow,
          latency: 'keep-alive sent -> answer',
          ...latency,
          errors: sum.errors,
          setup_s: Math.round(setupS * 10) / 10,
          ...cpu,
          config: { endpoints: o.endpoints, connections: o.connections, threads: o.threads, ttl_s: o.ttlS, warmup_s: o.warmupS, duration_s: o.durationS },
          error_samples: sum.errorSamples,
        };
  if (o.output === 'json') {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  const f = (n: number | null, digits: number): string => (n === null ? 'n/a' : n.toFixed(digits));
  const us = (s: number | null): string => (s === null ? 'n/a' : `${(s * 1e6).toFixed(2)} µs`);
  const lines: string[] = [];
  if (o.mode === 'watch') {
    const w = report as Record<string, unknown>;
    lines.push(
      `watch: ${o.watchers} prefix watchers over ${o.connections} connection(s) / ${o.threads} thread(s), ${o.writers} writers, ` +
        `${o.durationS} s measured after ${o.warmupS} s warm-up, ${o.drainS} s drain; set-up ${f(setupS, 1)} s`,
      `events/s     ${w.events_per_s} (etcd-loadgen's definition)   ${w.events_per_s_in_window} arriving within the window`,
      `puts/s       ${w.puts_per_s}   delivered ${w.events_delivered} of ${w.expected} expected (${f(w.delivered_ratio as number | null, 4)})`,
    );
  } else {
    lines.push(
      `keepalive: ${o.leases} leases (TTL ${o.ttlS} s), one keep-alive in flight each, over ${o.connections} stream(s) / ${o.threads} thread(s), ` +
        `${o.durationS} s measured after ${o.warmupS} s warm-up; grants and set-up ${f(setupS, 1)} s`,
      `keepalives/s ${report.ops_per_s}`,
    );
  }
  lines.push(
    `latency      p50 ${latency.p50_ms} ms   p90 ${latency.p90_ms} ms   p99 ${latency.p99_ms} ms   max ${latency.max_ms} ms  (${report.latency})`,
    `errors       ${report.errors}${sum.errorSamples.length > 0 ? `  (${sum.errorSamples.join('; ')})` : ''}`,
    `server CPU   ${o.serverPids.length === 0 ? 'n/a (no --server-pid)' : `${us(cpu.server_cpu_s_per_op)} per ${o.mode === 'watch' ? 'event' : 'keep-alive'}, ${f(cpu.server_cpu_cores, 2)} cores`}`,
    `client CPU   ${f(cpu.loadgen_cpu_cores, 2)} cores; other processes ${f(cpu.other_cpu_cores, 2)} cores; load average before ${f(loadBefore, 2)}`,
  );
  process.stdout.write(lines.join('\n') + '\n');
}

if (isMainThread) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`watch-bench: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  const init = workerData as WorkerInit;
  (init.options.mode === 'watch' ? watchWorker(init, parentPort!) : keepAliveWorker(init, parentPort!)).catch((err: unknown) => {
    throw err;
  });
}
