// The real etcdctl (3.4) side by side against two servers: a real etcd, and an etcd-ts member's client URL (the port
// etcd serves gRPC on). The same command line runs against both, and stdout, stderr and the exit code must agree once
// what legitimately differs between two servers is normalised: IDs (members, cluster, leases and the keys made from
// them), raft indexes and, between clusters, terms, db sizes, version strings, durations and log timestamps.
//
// REAL_ETCDCTL_AGAINST=etcd runs the second side against a second real etcd instead of etcd-ts: every comparison must
// then pass, which shows that the normalisation hides nothing but what differs between two etcds.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { freePort } from './etcd.js';
import { ETCD_TS_BIN, tempDir } from './member.js';
import {
  etcdctlAvailable,
  normalise,
  run,
  sideOptions,
  sideReplacements,
  start,
  waitUntil,
  type CliResult,
  type CompareOptions,
  type Normalise,
  type RunningCli,
  type RunningPair,
} from './etcdctl.js';

export type ServerKind = 'etcd' | 'etcd-ts';

/** What the second side runs: etcd-ts, or a second real etcd (REAL_ETCDCTL_AGAINST=etcd) to validate the harness. */
export function secondKind(): ServerKind {
  const against = process.env.REAL_ETCDCTL_AGAINST ?? 'etcd-ts';
  if (against !== 'etcd' && against !== 'etcd-ts') throw new Error(`REAL_ETCDCTL_AGAINST must be etcd or etcd-ts, not ${against}`);
  return against;
}

// ---- servers --------------------------------------------------------------------------------------------------------

export interface ServerSpec {
  name: string;
  peerPort: number;
  /** the peer URL advertised: a single member advertises etcd's default (http://localhost:2380), as a fresh install */
  advertisePeerUrl: string;
  initialCluster: string;
  flags: string[];
}

export interface GrpcServer {
  kind: ServerKind;
  name: string;
  /** host:port of the client URL (etcd: gRPC and HTTP; etcd-ts: --listen-client-urls) */
  endpoint: string;
  /** host:port of the peer URL */
  peer: string;
  child: ChildProcess;
  /** the last 100 kB of its log */
  log(): string;
  /** SIGTERM, then waits for the exit (a member removed from its cluster may have exited already) */
  stop(): Promise<void>;
}

/**
 * Starts etcd or etcd-ts with the same flags (etcd-ts takes etcd's), the client URL listened on and advertised as
 * etcd is usually run. etcd-ts's own binary listener goes to a free port, out of the way.
 */
async function spawnServer(kind: ServerKind, spec: ServerSpec, dataDir: string): Promise<GrpcServer> {
  const clientPort = await freePort();
  const peerPort = spec.peerPort;
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const args = [
    '--name', spec.name,
    '--data-dir', dataDir,
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-advertise-peer-urls', spec.advertisePeerUrl,
    '--initial-cluster', spec.initialCluster,
    ...spec.flags,
  ];
  const child =
    kind === 'etcd'
      ? spawn('etcd', [...args, '--logger', 'zap', '--log-outputs', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(process.execPath, [ETCD_TS_BIN, ...args, '--listen-client-binary-urls', 'http://127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => {
    log += c.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    kind,
    name: spec.name,
    endpoint: `127.0.0.1:${clientPort}`,
    peer: `127.0.0.1:${peerPort}`,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Waits until every server's /health says true (etcd: a leader and a linearizable read; etcd-ts the same). */
async function waitHealthy(servers: GrpcServer[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const s of servers) {
    for (;;) {
      if (s.child.exitCode !== null) throw new Error(`${s.kind} ${s.name} exited (${s.child.exitCode}):\n${s.log().slice(-3000)}`);
      try {
        const res = await fetch(`http://${s.endpoint}/health`);
        if (res.ok && ((await res.json()) as { health?: string }).health === 'true') break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`${s.kind} ${s.name} not healthy after ${timeoutMs} ms:\n${s.log().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface Deployment {
  kind: ServerKind;
  servers: GrpcServer[];
  /** Date.now() when every member was healthy */
  healthyAt: number;
  stop(): Promise<void>;
}

/**
 * A cluster of `size` members (m1, m2, ...) of one kind on loopback; a single member is called "default" and
 * advertises http://localhost:2380 as etcd's defaults do. Its data is removed when it stops.
 */
export async function startDeployment(kind: ServerKind, size: number, flags: string[] = []): Promise<Deployment> {
  const root = tempDir(`real-etcdctl-${kind}-`);
  const servers: GrpcServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    if (size === 1) {
      const spec = { name: 'default', peerPort: await freePort(), advertisePeerUrl: 'http://localhost:2380', initialCluster: 'default=http://localhost:2380', flags };
      servers.push(await spawnServer(kind, spec, path.join(root, 'default')));
    } else {
      // peer ports are chosen first: every member's --initial-cluster names them all
      const peers = await Promise.all(Array.from({ length: size }, () => freePort()));
      const initialCluster = peers.map((p, i) => `m${i + 1}=http://127.0.0.1:${p}`).join(',');
      for (const [i, p] of peers.entries()) {
        const name = `m${i + 1}`;
        const spec = { name, peerPort: p, advertisePeerUrl: `http://127.0.0.1:${p}`, initialCluster, flags };
        servers.push(await spawnServer(kind, spec, path.join(root, name)));
      }
    }
    await waitHealthy(servers);
  } catch (err) {
    await stop();
    throw err;
  }
  return { kind, servers, healthyAt: Date.now(), stop };
}

// ---- normalisation --------------------------------------------------------------------------------------------------

export interface RealNormalise extends Omit<Normalise, 'endpoints' | 'ids' | 'retryLogs' | 'defaultEndpoint'> {
  /**
   * member and cluster IDs (hex, padded hex and decimal) and the order of ETCD_INITIAL_CLUSTER; unlike the etcdctl-ts
   * comparison, header revisions stay: both sides run etcdctl against the same API, so they must agree
   */
  ids?: boolean;
  /** raft terms (clusters elect on their own schedule; a single member is always at term 2) */
  terms?: boolean;
  /** endpoint hashkv's hashes (a key's lease is hashed, and lease IDs differ) */
  hashes?: boolean;
  /** lines in sorted order (a cluster lists members by ID, which differ; endpoint health answers as they come) */
  sortLines?: boolean;
  /** JSON arrays of members or per-endpoint results sorted (as sortLines for -w json) */
  sortJson?: boolean;
  /** a last replacement on each side's text */
  mask?: (text: string) => string;
}

/** zap's log lines: their timestamps, gRPC client IDs, durations and sizes. */
function maskZap(s: string): string {
  return s
    .replace(/"ts":("[^"]*"|[\d.e+]+)/g, '"ts":<ts>')
    .replace(/endpoint:\/\/client-[0-9a-f-]+\//g, 'endpoint://client-<uuid>/')
    .replace(/"took":("[^"]*"|[\d.e+-]+)/g, '"took":<took>')
    .replace(/"size":"[^"]*"/g, '"size":<size>');
}

function maskIds(s: string): string {
  return s
    .replace(/\b[0-9a-f]{12,16}\b/g, '<id>')
    .replace(/\b\d{15,20}\b/g, '<n>')
    .replace(/ +<id>/g, ' <id>')
    .replace(/^ETCD_INITIAL_CLUSTER="([^"]*)"$/gm, (_m, list: string) => `ETCD_INITIAL_CLUSTER="${list.split(',').sort().join(',')}"`);
}

function maskTerms(s: string): string {
  return s
    .replace(/"(raft_term|raftTerm)":\d+/g, '"$1":<term>')
    .replace(/"(RaftTerm)" : \d+/g, '"$1" : <term>')
    .replace(/^((?:http:\/\/)?[^,\n]+, <id>, <v>, <size>, \w+, \w+, )\d+,/gm, '$1<term>,')
    .replace(/^(\|[^|\n]+\| <id> \| <v> \| <size> \| \w+ \| \w+ \|) \d+ \|/gm, '$1 <term> |');
}

function maskHashes(s: string): string {
  return s.replace(/"hash":\d+/g, '"hash":<hash>').replace(/^([^,\n]+), \d+$/gm, '$1, <hash>').replace(/^(\| [^|]+ \|) \d+ \|$/gm, '$1 <hash> |');
}

/** The elements of a JSON array of members ({"ID":...}) or per-endpoint results ({"Endpoint"/"endpoint":...}), sorted. */
function sortJsonArrays(s: string): string {
  const members = s.replace(/"members":\[((?:\{[^{}]*\},?)*)\]/g, (_m, list: string) => `"members":[${(list.match(/\{[^{}]*\}/g) ?? []).sort().join(',')}]`);
  const m = /^\[(\{"[Ee]ndpoint".*)\]\n?$/s.exec(members);
  if (m === null) return members;
  const items = m[1]!.split(/,(?=\{"[Ee]ndpoint")/).sort();
  return `[${items.join(',')}]\n`;
}

/** One side's output text in the form compared. */
export function canonical(raw: Buffer, n: RealNormalise, endpoint: string, replace: [string, string][]): string {
  const { ids, terms, hashes, sortLines, sortJson, mask, ...generic } = n;
  let s = normalise(raw.toString('latin1'), { ...generic, endpoints: [endpoint, endpoint], replace, retryLogs: true, defaultEndpoint: false });
  // etcdctl prints some IDs with %16x: an ID of fewer hex digits comes padded with spaces, and each side has its own IDs
  s = s.replace(/ {2,}(@[A-Z0-9]+@)/g, ' $1');
  s = maskZap(s);
  if (ids === true) s = maskIds(s);
  if (terms === true) s = maskTerms(s);
  if (hashes === true) s = maskHashes(s);
  if (sortJson === true) s = sortJsonArrays(s);
  if (sortLines === true) s = s.split('\n').sort().join('\n');
  if (mask !== undefined) s = mask(s);
  return s;
}

// ---- the comparison -------------------------------------------------------------------------------------------------

export type Vars = Record<string, [string, string]>;

export interface RealCompareOptions extends Omit<CompareOptions, 'norm'> {
  norm?: RealNormalise;
}

export interface EtcdctlPair {
  /** side 0 runs against a real etcd, side 1 against the second kind */
  deployments: [Deployment, Deployment];
  /** what --endpoints (and @EP@) is on each side: the client URLs, comma-separated */
  endpoints: [string, string];
  /** each side's server names and addresses as placeholders: @C1@ (client host:port), @P1@ (peer) for m1, ... */
  vars: Vars;
  both(args: (string | Buffer)[], opts?: RealCompareOptions): Promise<[CliResult, CliResult]>;
  /** runs the command line on both sides, asserts that the results agree, and returns the real etcd's */
  same(args: (string | Buffer)[], opts?: RealCompareOptions): Promise<CliResult>;
  /** asserts that two results (real etcd's, the second side's) agree */
  compare(a: CliResult, b: CliResult, label: string, opts?: RealCompareOptions): void;
  /** starts the command line on both sides and leaves it running; RunningPair.same compares as `same` does */
  start(args: (string | Buffer)[], opts?: RealCompareOptions): RunningPair;
  close(): Promise<void>;
}

function labelOf(args: (string | Buffer)[], opts: RealCompareOptions): string {
  return opts.label ?? args.map((x) => (typeof x === 'string' ? x : `<${x.toString('hex')}>`)).join(' ');
}

function pairOf(deployments: [Deployment, Deployment]): EtcdctlPair {
  const endpoints = deployments.map((d) => d.servers.map((s) => s.endpoint).join(',')) as [string, string];
  const vars: Vars = {};
  if (deployments[0].servers.length > 1) {
    deployments[0].servers.forEach((s, i) => {
      const other = deployments[1].servers[i]!;
      vars[`@C${i + 1}@`] = [s.endpoint, other.endpoint];
      vars[`@P${i + 1}@`] = [s.peer, other.peer];
    });
  }
  const withVars = (opts: RealCompareOptions): RealCompareOptions => ({ ...opts, vars: { ...vars, ...(opts.vars ?? {}) } });
  const sideArgs = (args: (string | Buffer)[], opts: RealCompareOptions, side: 0 | 1): ReturnType<typeof sideOptions> =>
    sideOptions(args, withVars(opts) as CompareOptions, endpoints[side], side);
  const compare = (a: CliResult, b: CliResult, label: string, opts: RealCompareOptions = {}): void => {
    const all = withVars(opts).vars!;
    const norm = opts.norm ?? {};
    const [ca, cb] = ([a, b] as const).map((r, side) => {
      const replace: [string, string][] = [...(norm.replace ?? []), ...sideReplacements(all, side as 0 | 1)];
      const ep = endpoints[side]!;
      return { stdout: canonical(r.stdout, norm, ep, replace), stderr: canonical(r.stderr, norm, ep, replace) };
    });
    const context = `\n--- second side (${deployments[1].kind}): exit ${b.code ?? b.signal}, stderr:\n${b.stderr.toString('latin1')}--- etcd side: exit ${a.code ?? a.signal}, stderr:\n${a.stderr.toString('latin1')}`;
    assert.equal(cb!.stdout, ca!.stdout, `stdout of: ${label}${context}`);
    assert.equal(cb!.stderr, ca!.stderr, `stderr of: ${label}${context}`);
    assert.equal(b.code, a.code, `exit code of: ${label}${context}`);
    assert.equal(b.signal ?? null, a.signal ?? null, `signal of: ${label}`);
  };
  const both = (args: (string | Buffer)[], opts: RealCompareOptions = {}): Promise<[CliResult, CliResult]> => {
    const [argsA, optsA] = sideArgs(args, opts, 0);
    const [argsB, optsB] = sideArgs(args, opts, 1);
    return Promise.all([run('etcdctl', argsA, optsA), run('etcdctl', argsB, optsB)]);
  };
  return {
    deployments,
    endpoints,
    vars,
    both,
    compare,
    async same(args, opts = {}) {
      const [a, b] = await both(args, opts);
      compare(a, b, labelOf(args, opts), opts);
      return a;
    },
    start(args, opts = {}) {
      const [argsA, optsA] = sideArgs(args, opts, 0);
      const [argsB, optsB] = sideArgs(args, opts, 1);
      const a = start('etcdctl', argsA, optsA);
      const b = start('etcdctl', argsB, optsB);
      const outputText = (r: RunningCli): string => r.output().stdout.toString('latin1') + r.output().stderr.toString('latin1');
      const substitute = (data: string, side: 0 | 1): string => {
        let s = data;
        for (const [name, values] of Object.entries(withVars(opts).vars!)) s = s.split(name).join(values[side]);
        return s;
      };
      return {
        real: a,
        ts: b,
        waitFor: (ready, timeoutMs = 10_000) =>
          waitUntil(() => ready(outputText(a), 0) && ready(outputText(b), 1), timeoutMs, `output of ${labelOf(args, opts)}`).catch((err: Error) => {
            throw new Error(`${err.message}\n--- etcd side:\n${outputText(a)}\n--- second side (${deployments[1].kind}):\n${outputText(b)}`);
          }),
        write: (data) => {
          a.write(substitute(data, 0));
          b.write(substitute(data, 1));
        },
        endInput: () => {
          a.endInput();
          b.endInput();
        },
        signal: (sig) => {
          a.signal(sig);
          b.signal(sig);
        },
        results: () => Promise.all([a.result, b.result]),
        async same(label, laterVars) {
          const [ra, rb] = await Promise.all([a.result, b.result]);
          compare(ra, rb, label ?? labelOf(args, opts), laterVars === undefined ? opts : { ...opts, vars: { ...(opts.vars ?? {}), ...laterVars } });
          return ra;
        },
      };
    },
    async close() {
      await Promise.all(deployments.map((d) => d.stop()));
    },
  };
}

/**
 * A real etcd and the second kind (etcd-ts unless REAL_ETCDCTL_AGAINST says etcd), each `size` members started with
 * the same extra flags, closed when the test ends; null (the test skipped) when etcd and etcdctl are not installed.
 */
export async function realEtcdctlPair(t: TestContext, size = 1, flags: string[] = []): Promise<EtcdctlPair | null> {
  if (!etcdctlAvailable()) {
    t.skip('etcd and etcdctl are not installed');
    return null;
  }
  const [a, b] = await Promise.allSettled([startDeployment('etcd', size, flags), startDeployment(secondKind(), size, flags)]);
  if (a.status === 'rejected' || b.status === 'rejected') {
    if (a.status === 'fulfilled') await a.value.stop();
    if (b.status === 'fulfilled') await b.value.stop();
    throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
  }
  const pair = pairOf([a.value, b.value]);
  t.after(() => pair.close());
  return pair;
}
