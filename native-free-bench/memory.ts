// Memory of one member holding N keys: starts a fresh etcd-ts member or a real etcd on loopback with a temporary data
// directory, writes N distinct keys of V bytes, waits until the server is idle, then reports its RSS (VmRSS, RssAnon,
// RssFile), VmHWM, the part of RssFile that is the mapped data file, its threads and the data directory's size.
//
//   node dist/native-free-bench/memory.js --target etcd-ts --keys 100000
//   node dist/native-free-bench/memory.js --target etcd --keys 1000000 --json
//
// Keys are those of etcd's benchmark tool (`put --sequential-keys --key-size 8`: the zig-zag varint of the key's
// index in 8 zero-padded bytes), one random value of V bytes for all of them. etcd-ts is loaded over the binary
// protocol (src/client); etcd by etcd's own benchmark tool (Go clientv3, built by
// /work/shared/tools/etcd-benchmark/build.sh) when it is there, else by the pure-JS etcd3 client (slower, same keys).
//
// Pure Node: the servers run as child processes (servers.ts); /proc gives their memory.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { eachFlag, positiveInteger, required, targetSystem, unknownOption } from './args.js';
import { processCpu } from './procstat.js';
import { Cluster, sleep, type System } from './servers.js';
import { connect } from './targets.js';

interface Options {
  target: System;
  keys: number;
  valueSize: number;
  keySize: number;
  /** puts in flight while loading */
  clients: number;
  connections: number;
  /** seconds the server must stay (nearly) without CPU before memory is read */
  idleS: number;
  /** seconds to wait for idleness before reading memory anyway */
  idleTimeoutS: number;
  etcd: string;
  benchmark: string;
  loader: 'auto' | 'go' | 'node';
  dataRoot: string | null;
  keep: boolean;
  serverArgs: string[];
  json: boolean;
}

const USAGE = `usage: node dist/native-free-bench/memory.js [options]
  --target T            etcd-ts (default) or etcd
  --keys N              distinct keys to write (default 1000000)
  --value-size B        value bytes (default 256)
  --key-size B          key bytes (default 8, etcd benchmark's)
  --clients N           puts in flight while loading (default 64)
  --connections C       client connections (default 8)
  --idle S              seconds the server must stay idle (CPU under 2 % of a core) before memory is read (default 10)
  --idle-timeout S      read memory anyway after this many seconds of waiting (default 120; reported)
  --etcd PATH           etcd binary (default /usr/bin/etcd)
  --etcd-benchmark PATH etcd's benchmark tool (default /tmp/etcd-benchmark; build it with
                        bash /work/shared/tools/etcd-benchmark/build.sh /tmp/etcd-benchmark)
  --etcd-loader L       etcd side: go = the benchmark tool, node = the etcd3 npm client (slower, same keys),
                        auto (default) = go when the tool exists
  --server-arg ARG      one more flag for the server (repeatable), e.g. --server-arg=--worker-threads=0
  --data-root DIR       where the data directory and log go (default: a new directory under the system's tmp,
                        removed afterwards unless --keep)
  --keep                keep the data directory and log
  --json                print one JSON line instead of a table
`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    target: 'etcd-ts', keys: 1_000_000, valueSize: 256, keySize: 8, clients: 64, connections: 8, idleS: 10, idleTimeoutS: 120,
    etcd: '/usr/bin/etcd', benchmark: '/tmp/etcd-benchmark', loader: 'auto', dataRoot: null, keep: false, serverArgs: [], json: false,
  };
  eachFlag(argv, USAGE, (flag, value, arg) => {
    switch (flag) {
      case '--target': o.target = targetSystem(value()); break;
      case '--keys': o.keys = positiveInteger(flag, value()); break;
      case '--value-size': o.valueSize = positiveInteger(flag, value(), true); break;
      case '--key-size': o.keySize = positiveInteger(flag, value()); break;
      case '--clients': o.clients = positiveInteger(flag, value()); break;
      case '--connections': o.connections = positiveInteger(flag, value()); break;
      case '--idle': o.idleS = positiveInteger(flag, value(), true); break;
      case '--idle-timeout': o.idleTimeoutS = positiveInteger(flag, value()); break;
      case '--etcd': o.etcd = required(flag, value()); break;
      case '--etcd-benchmark': o.benchmark = required(flag, value()); break;
      case '--etcd-loader': {
        const l = value();
        if (l !== 'auto' && l !== 'go' && l !== 'node') throw new Error(`--etcd-loader: want auto, go or node, got ${l}`);
        o.loader = l;
        break;
      }
      case '--server-arg': o.serverArgs.push(required(flag, value())); break;
      case '--data-root': o.dataRoot = required(flag, value()); break;
      case '--keep': o.keep = true; break;
      case '--json': o.json = true; break;
      default: throw unknownOption(arg);
    }
  });
  // the key encoding needs room for a varint of the largest index (7 bits a byte, zig-zag doubles it)
  const varintBytes = Math.ceil(Math.log2(2 * o.keys + 1) / 7) || 1;
  if (o.keySize < varintBytes) throw new Error(`--key-size: ${o.keySize} bytes cannot hold ${o.keys} distinct keys (need ${varintBytes})`);
  return o;
}

/** etcd benchmark's key i: binary.PutVarint(k, i) into a zeroed buffer of keySize bytes. */
function benchmarkKey(i: number, keySize: number): Buffer {
  const k = Buffer.alloc(keySize);
  let v = BigInt(i) << 1n; // zig-zag of a non-negative integer
  let at = 0;
  while (v >= 0x80n) {
    k[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  k[at] = Number(v);
  return k;
}

// ---- loading --------------------------------------------------------------------------------------------------

/** Writes keys 0..N-1 with `clients` puts in flight over `connections` connections (targets.ts: both systems). */
async function loadWithClient(o: Options, endpoint: string): Promise<void> {
  const conns = await Promise.all(Array.from({ length: o.connections }, () => connect(o.target, { endpoints: [endpoint], requestTimeoutMs: 60_000 })));
  const value = randomBytes(o.valueSize);
  let next = 0;
  let done = 0;
  const progress = setInterval(() => process.stderr.write(`  ${done} / ${o.keys} keys\n`), 10_000);
  try {
    await Promise.all(Array.from({ length: o.clients }, async (_, c) => {
      const conn = conns[c % conns.length]!;
      while (next < o.keys) {
        const i = next++;
        await conn.put(benchmarkKey(i, o.keySize), value);
        done++;
      }
    }));
  } finally {
    clearInterval(progress);
    for (const c of conns) c.close();
  }
}

/** etcd's benchmark tool: `put --sequential-keys` writes exactly keys 0..N-1 (key-space-size N, total N). */
function loadWithBenchmark(o: Options, endpoint: string, logFile: string): Promise<void> {
  const args = [
    `--endpoints=${endpoint}`, `--conns=${o.connections}`, `--clients=${o.clients}`,
    'put', `--total=${o.keys}`, `--key-size=${o.keySize}`, `--val-size=${o.valueSize}`, `--key-space-size=${o.keys}`, '--sequential-keys',
  ];
  const log = fs.openSync(logFile, 'w');
  const child = spawn(o.benchmark, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${o.benchmark} exited (${code ?? signal}); see ${logFile}`))));
  });
}

// ---- measuring ----------------------------------------------------------------------------------------------------

/** Waits until the process used under 2 % of a core in each second of `idleS` consecutive seconds; false on timeout. */
async function waitIdle(pid: number, idleS: number, timeoutS: number): Promise<boolean> {
  const deadline = Date.now() + timeoutS * 1000;
  let quiet = 0;
  let last = processCpu(pid)?.selfS ?? 0;
  while (quiet < idleS) {
    if (Date.now() > deadline) return false;
    await sleep(1000);
    const now = processCpu(pid)?.selfS ?? 0;
    quiet = now - last <= 0.02 ? quiet + 1 : 0;
    last = now;
  }
  return true;
}

interface Memory {
  vmRssKiB: number;
  rssAnonKiB: number;
  rssFileKiB: number;
  rssShmemKiB: number;
  vmHwmKiB: number;
  threads: number;
  /**
   * RSS of mappings of files under the data directory (the database file LMDB or bbolt maps), part of RssFile. A page
   * mapped twice counts twice: lmdb-js keeps the old map when it grows the map, so a file mapped several times can
   * count more than its size here (and in VmRSS), though the page cache holds it once.
   */
  dataFileRssKiB: number;
  dataFileMappings: number;
}

function readMemory(pid: number, dataDir: string): Memory {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  let dataFileRssKiB = 0;
  let dataFileMappings = 0;
  let inData = false;
  const dir = fs.realpathSync(dataDir);
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping !== null) {
      inData = (mapping[1] ?? '').startsWith(dir + path.sep);
      if (inData) dataFileMappings++;
    }
    else if (inData && line.startsWith('Rss:')) dataFileRssKiB += Number(line.split(/\s+/)[1]);
  }
  return {
    vmRssKiB: field('VmRSS'), rssAnonKiB: field('RssAnon'), rssFileKiB: field('RssFile'), rssShmemKiB: field('RssShmem'),
    vmHwmKiB: field('VmHWM'), threads: field('Threads'), dataFileRssKiB, dataFileMappings,
  };
}

/** The database file of each system, relative to its data directory (the rest is etcd's WAL and snapshots). */
const DATABASE_FILE: Record<System, string> = { 'etcd-ts': 'member/etcd-ts.mdb', etcd: 'member/snap/db' };

/** Apparent bytes (file sizes) and allocated bytes (blocks; sparse files count less) under `dir`, and each file's size. */
function directorySize(dir: string): { bytes: number; allocatedBytes: number; files: Record<string, number> } {
  let bytes = 0;
  let allocatedBytes = 0;
  const files: Record<string, number> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const st = fs.statSync(p);
        bytes += st.size;
        allocatedBytes += st.blocks * 512;
        files[path.relative(dir, p)] = st.size;
      }
    }
  };
  walk(dir);
  return { bytes, allocatedBytes, files };
}

// ---- main ---------------------------------------------------------------------------------------------------------

const MiB = 1024 * 1024;
const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const useBenchmark = o.target === 'etcd' && (o.loader === 'go' || (o.loader === 'auto' && fs.existsSync(o.benchmark)));
  if (o.target === 'etcd' && o.loader === 'go' && !fs.existsSync(o.benchmark)) throw new Error(`${o.benchmark} not found: bash /work/shared/tools/etcd-benchmark/build.sh ${o.benchmark}`);
  const dataRoot = o.dataRoot ?? fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-memory-'));
  fs.mkdirSync(dataRoot, { recursive: true });
  const cluster = await Cluster.start({ system: o.target, members: 1, dataRoot, tag: 'memory', etcd: o.etcd, extraArgs: o.serverArgs });
  const member = cluster.members[0]!;
  const pid = member.proc!.pid;
  try {
    const atStart = readMemory(pid, member.dataDir);
    process.stderr.write(`${o.target} pid ${pid} at ${member.endpoint}: ${mib(atStart.vmRssKiB * 1024)} MiB RSS before the load; writing ${o.keys} keys of ${o.valueSize} bytes${useBenchmark ? ' with etcd-benchmark' : ''}\n`);
    const t0 = performance.now();
    if (useBenchmark) await loadWithBenchmark(o, member.endpoint, path.join(dataRoot, 'etcd-benchmark.log'));
    else await loadWithClient(o, member.endpoint);
    const loadS = (performance.now() - t0) / 1000;
    const cpuAfterLoad = processCpu(pid)?.selfS ?? NaN;
    process.stderr.write(`loaded in ${loadS.toFixed(1)} s; waiting for ${o.idleS} s of idle CPU\n`);
    const t1 = performance.now();
    const idle = await waitIdle(pid, o.idleS, o.idleTimeoutS);
    const memory = readMemory(pid, member.dataDir);
    const data = directorySize(member.dataDir);
    const result = {
      target: o.target,
      keys: o.keys,
      valueSize: o.valueSize,
      keySize: o.keySize,
      loader: o.target === 'etcd-ts' ? 'binary protocol (src/client)' : useBenchmark ? 'etcd-benchmark put --sequential-keys' : 'etcd3 npm client',
      loadSeconds: Number(loadS.toFixed(1)),
      putsPerSecond: Math.round(o.keys / loadS),
      serverCpuSecondsLoad: Number(cpuAfterLoad.toFixed(1)),
      idle,
      idleWaitSeconds: Number(((performance.now() - t1) / 1000).toFixed(1)),
      rssBeforeLoadKiB: atStart.vmRssKiB,
      ...memory,
      dataDirBytes: data.bytes,
      dataDirAllocatedBytes: data.allocatedBytes,
      databaseFile: DATABASE_FILE[o.target],
      databaseFileBytes: data.files[DATABASE_FILE[o.target]] ?? null,
      files: data.files,
      command: cluster.command,
    };
    if (o.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      const rows: [string, string][] = [
        ['target', `${o.target} (${result.command})`],
        ['keys x value bytes', `${o.keys} x ${o.valueSize} (keys of ${o.keySize} bytes; loaded by ${result.loader})`],
        ['load', `${result.loadSeconds} s, ${result.putsPerSecond} puts/s, server CPU ${result.serverCpuSecondsLoad} s`],
        ['idle', idle ? `yes, after ${result.idleWaitSeconds} s` : `NOT idle after ${result.idleWaitSeconds} s (read anyway)`],
        ['RSS before the load', `${mib(atStart.vmRssKiB * 1024)} MiB`],
        ['VmRSS', `${mib(memory.vmRssKiB * 1024)} MiB`],
        ['  RssAnon', `${mib(memory.rssAnonKiB * 1024)} MiB`],
        ['  RssFile', `${mib(memory.rssFileKiB * 1024)} MiB (of which the data directory's files ${mib(memory.dataFileRssKiB * 1024)} MiB, in ${memory.dataFileMappings} mappings)`],
        ['  RssShmem', `${mib(memory.rssShmemKiB * 1024)} MiB`],
        ['VmHWM', `${mib(memory.vmHwmKiB * 1024)} MiB`],
        ['threads', String(memory.threads)],
        ['database file', `${result.databaseFile} ${mib(result.databaseFileBytes ?? NaN)} MiB`],
        ['data directory', `${mib(data.bytes)} MiB (${mib(data.allocatedBytes)} MiB allocated; etcd preallocates 64 MB WAL files)`],
      ];
      const w = Math.max(...rows.map(([k]) => k.length));
      for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
    }
  } finally {
    await cluster.stop();
    if (o.dataRoot === null && !o.keep) fs.rmSync(dataRoot, { recursive: true, force: true });
    else process.stderr.write(`data and logs kept in ${dataRoot}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
