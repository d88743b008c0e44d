// Differential testing of etcdctl-ts against the real etcdctl: the same command line runs through `etcdctl` against a
// real etcd and through `etcdctl-ts` against an etcd-ts member, and stdout, stderr and the exit code must agree byte
// for byte once what legitimately differs is normalised (endpoint addresses, durations, db sizes, raft indexes, the
// server version, Go's stack traces and log timestamps).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { freePort, startRealEtcd, type RealEtcd } from './etcd.js';
import { ETCDCTL_TS_BIN, startChild, type ChildMember } from './member.js';
import { Client } from '../../src/client/index.js';

export interface CliResult {
  code: number | null;
  /** the signal that ended the process, if one did */
  signal?: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

export interface RunOptions {
  stdin?: string | Buffer;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** The environment both CLIs run in: no ETCDCTL_* from the caller's environment. */
function baseEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCDCTL_') && v !== undefined) env[k] = v;
  return { ...env, ETCDCTL_API: '3', ...extra };
}

/** bash's $'...' quoting of raw bytes: Node's spawn can only pass UTF-8 arguments, bash can pass any bytes. */
function bashQuote(arg: string | Buffer): string {
  const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
  return "$'" + [...bytes].map((b) => '\\x' + b.toString(16).padStart(2, '0')).join('') + "'";
}

/** Runs a command to its end with `opts.stdin` (or nothing) as input; it is killed (SIGKILL) after opts.timeoutMs. */
export function run(command: string, args: (string | Buffer)[], opts: RunOptions = {}): Promise<CliResult> {
  const running = start(command, args, { ...opts, stdin: opts.stdin ?? '', timeoutMs: opts.timeoutMs ?? 20_000 });
  running.endInput();
  return running.result.then(({ code, stdout, stderr }) => ({ code, stdout, stderr }));
}

/** A CLI left running (watch, lock, elect, keep-alive): its output so far, its stdin, and signals. */
export interface RunningCli {
  output(): CliResult;
  write(data: string | Buffer): void;
  endInput(): void;
  signal(sig: NodeJS.Signals): void;
  /** resolves once the process has exited and its output is closed */
  readonly result: Promise<CliResult>;
}

/** Starts a command as run() does, without waiting for it; it is killed (SIGKILL) after opts.timeoutMs. */
export function start(command: string, args: (string | Buffer)[], opts: RunOptions = {}): RunningCli {
  const script = ['exec', bashQuote(command), ...args.map(bashQuote)].join(' ');
  const child = spawn('bash', ['-c', script], { env: baseEnv(opts.env ?? {}), stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {});
  if (opts.stdin !== undefined) child.stdin.write(opts.stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const result = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
  return {
    output: () => ({ code: null, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }),
    write: (data) => void child.stdin.write(data),
    endInput: () => child.stdin.end(),
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    result,
  };
}

export function runEtcdctl(args: (string | Buffer)[], opts: RunOptions = {}): Promise<CliResult> {
  return run('etcdctl', args, opts);
}

export function runEtcdctlTs(args: (string | Buffer)[], opts: RunOptions = {}): Promise<CliResult> {
  return run(process.execPath, [ETCDCTL_TS_BIN, ...args], opts);
}

export function etcdctlAvailable(): boolean {
  const etcd = spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
  const ctl = spawnSync('etcdctl', ['version'], { stdio: 'ignore', env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;
  return etcd && ctl;
}

// ---- normalisation ------------------------------------------------------------------------------------------------

/** Go duration text (1.2ms, 850.3µs, 2s, ...); the text is compared as latin1, so "µ" is its two UTF-8 bytes. */
const DURATION = /\b\d+(?:\.\d+)?(?:ns|\xc2\xb5s|ms|s|m|h)(?:\d+(?:\.\d+)?(?:ns|\xc2\xb5s|ms|s))*/g;

export interface Normalise {
  /** the endpoint of each side, replaced by "<endpoint>" */
  endpoints: [string, string];
  /** `took` durations (endpoint health) */
  took?: boolean;
  /** endpoint status: version, db size, raft index and applied index */
  status?: boolean;
  /** table output whose cells were normalised: collapse the padding that depends on cell widths */
  table?: boolean;
  /** --debug: drop grpc-go's own log lines, which etcdctl-ts has no counterpart for */
  debug?: boolean;
  /** etcdctl-ts's default endpoint (127.0.0.1:2378) read as etcdctl's (127.0.0.1:2379), as in help; on unless false */
  defaultEndpoint?: boolean;
  /** a help's command list: only the commands etcdctl-ts implements, tab alignment ignored */
  commandList?: boolean;
  /** literal replacements made before anything else (a side's lease IDs and keys by placeholders) */
  replace?: [string, string][];
  /** runs of identical lines or blocks of lines (keep-alive renewals, as many as timing allowed) collapsed into one */
  collapseRepeats?: boolean;
  /**
   * member and cluster IDs (hex and decimal), the padding of %16x, the order of ETCD_INITIAL_CLUSTER (members sort by
   * ID), and the revision of member responses' headers (etcd 3.4 leaves it 0 there, etcd-ts fills it in)
   */
  ids?: boolean;
  /**
   * keep the warnings etcdctl's gRPC client logs before retrying or failing a call (they carry the gRPC status code):
   * for comparisons where both sides run etcdctl; etcdctl-ts has no counterpart for them
   */
  retryLogs?: boolean;
}

function normaliseIds(s: string): string {
  return s
    .replace(/\b[0-9a-f]{12,16}\b/g, '<id>')
    .replace(/\b\d{15,20}\b/g, '<n>')
    .replace(/ +<id>/g, ' <id>')
    .replace(/"revision":\d+,/g, '')
    .replace(/"Revision" : \d+/g, '"Revision" : <rev>')
    .replace(/^ETCD_INITIAL_CLUSTER="([^"]*)"$/gm, (_m, list: string) => `ETCD_INITIAL_CLUSTER="${list.split(',').sort().join(',')}"`);
}

/** The commands (as help lists them, from the root or from "endpoint") that etcdctl-ts implements. */
const IMPLEMENTED = new Set([
  'compaction', 'del', 'endpoint health', 'endpoint status', 'get', 'help', 'put', 'txn', 'version', 'health', 'status',
  'member add', 'member list', 'member promote', 'member remove', 'member update', 'move-leader',
  'add', 'list', 'promote', 'remove', 'update',
  'watch', 'lock', 'elect', 'lease grant', 'lease keep-alive', 'lease list', 'lease revoke', 'lease timetolive',
  'grant', 'keep-alive', 'revoke', 'timetolive',
  'auth disable', 'auth enable', 'role add', 'role delete', 'role get', 'role grant-permission', 'role list',
  'role revoke-permission', 'user add', 'user delete', 'user get', 'user grant-role', 'user list', 'user passwd',
  'user revoke-role',
]);

function normaliseCommandList(s: string): string {
  const lines = s.split('\n');
  const start = lines.indexOf('COMMANDS:');
  if (start < 0) return s;
  let end = start + 1;
  while (end < lines.length && lines[end]!.startsWith('\t')) end++;
  const listed = lines
    .slice(start + 1, end)
    .map((l) => l.split('\t').filter((c) => c !== ''))
    .filter((cells) => cells[0] !== undefined && IMPLEMENTED.has(cells[0]))
    .map((cells) => '\t' + cells.join(' | '));
  return [...lines.slice(0, start + 1), ...listed, ...lines.slice(end)].join('\n');
}

function normaliseStatus(s: string): string {
  return s
    .replace(/"version":"[^"]*"/g, '"version":"<v>"')
    .replace(/"(dbSize|dbSizeInUse|raftIndex|raftAppliedIndex)":\d+/g, '"$1":<n>')
    .replace(/"Version" : "[^"]*"/g, '"Version" : "<v>"')
    .replace(/"(DBSize|RaftIndex|RaftAppliedIndex)" : \d+/g, '"$1" : <n>')
    .replace(/^((?:http:\/\/)?<endpoint>, [0-9a-f]+), [^,]+, [^,]+, (\w+, \w+, \d+), \d+, \d+, /gm, '$1, <v>, <size>, $2, <n>, <n>, ')
    .replace(/^(\| (?:http:\/\/)?<endpoint> \| [0-9a-f]+ \|)\s*[^|]+\|\s*[^|]+\|(\s*\w+ \|\s*\w+ \|\s*\d+ \|)\s*\d+ \|\s*\d+ \|/gm, '$1 <v> | <size> |$2 <n> | <n> |');
}

export function normalise(text: string, n: Normalise): string {
  let s = text;
  for (const [from, to] of [...(n.replace ?? [])].sort((x, y) => y[0].length - x[0].length)) if (from !== '') s = s.split(from).join(to);
  if (n.collapseRepeats === true) s = s.replace(/^((?:.*\n)+?)\1+/gm, '$1');
  for (const ep of n.endpoints) s = s.split(ep).join('<endpoint>');
  // etcdctl's gRPC client logs retries through zap before some errors; etcdctl-ts does not
  if (n.retryLogs !== true) {
    s = s
      .split('\n')
      .filter((line) => !line.includes('"msg":"retrying of unary invoker failed"'))
      .join('\n');
  }
  // capnslog's timestamps
  s = s.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} /gm, '<time> ');
  // Go's stack trace after a panic's first lines
  s = s.replace(/(goroutine 1 \[running\]:\n)[\s\S]*$/, '$1');
  if (n.took === true) s = s.replace(DURATION, '<took>');
  if (n.status === true) s = normaliseStatus(s);
  if (n.table === true) s = s.replace(/ {2,}/g, ' ').replace(/-{2,}/g, '-');
  if (n.debug === true) s = s.replace(/^(INFO|WARNING): \d{4}\/.*\n/gm, '');
  if (n.defaultEndpoint !== false) s = s.split('127.0.0.1:2378').join('127.0.0.1:2379');
  if (n.commandList === true) s = normaliseCommandList(s);
  if (n.ids === true) s = normaliseIds(s);
  return s;
}

// ---- the pair of servers and the comparison -----------------------------------------------------------------------

/** In arguments and environment values, replaced by each side's endpoint. */
export const EP = '@EP@';

export interface CompareOptions extends RunOptions {
  norm?: Omit<Normalise, 'endpoints'>;
  /**
   * values that differ between the two servers (lease IDs, keys made from them): in arguments and environment each
   * name is replaced by the side's value, and in the output each side's value by the name
   */
  vars?: Record<string, [string, string]>;
  label?: string;
  /** how the endpoint is given: --endpoints (default), ETCDCTL_ENDPOINTS, or only where the arguments say @EP@ */
  endpoint?: 'flag' | 'env' | 'none';
}

export interface Pair {
  real: RealEtcd;
  ts: ChildMember;
  /** runs the command line through both CLIs, asserts that the results agree, and returns etcdctl's */
  same(args: (string | Buffer)[], opts?: CompareOptions): Promise<CliResult>;
  /** both results (etcdctl's, etcdctl-ts's), without comparing */
  both(args: (string | Buffer)[], opts?: CompareOptions): Promise<[CliResult, CliResult]>;
  /** starts the command line on both sides and leaves it running */
  start(args: (string | Buffer)[], opts?: CompareOptions): RunningPair;
  close(): Promise<void>;
}

function text(b: Buffer): string {
  return b.toString('latin1');
}

function substituteText(x: string, endpoint: string, vars: Record<string, [string, string]>, side: 0 | 1): string {
  let s = x.split(EP).join(endpoint);
  for (const [name, values] of Object.entries(vars)) s = s.split(name).join(values[side]);
  return s;
}

function substitute(x: string | Buffer, endpoint: string, vars: Record<string, [string, string]>, side: 0 | 1): string | Buffer {
  return typeof x === 'string' ? substituteText(x, endpoint, vars, side) : x;
}

/** The output replacements of one side: its value of each variable by the variable's name. */
export function sideReplacements(vars: Record<string, [string, string]> | undefined, side: 0 | 1): [string, string][] {
  return Object.entries(vars ?? {}).map(([name, values]) => [values[side], name]);
}

export function sideOptions(args: (string | Buffer)[], opts: CompareOptions, endpoint: string, side: 0 | 1): [(string | Buffer)[], RunOptions] {
  const vars = opts.vars ?? {};
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env ?? {})) env[k] = substituteText(v, endpoint, vars, side);
  const mode = opts.endpoint ?? 'flag';
  if (mode === 'env') env.ETCDCTL_ENDPOINTS = endpoint;
  const prefix = mode === 'flag' ? ['--endpoints', endpoint] : [];
  return [[...prefix, ...args.map((x) => substitute(x, endpoint, vars, side))], { ...opts, env }];
}

/** `normB` (etcdctl-ts's side) defaults to `norm`; they differ only in their side's replacements. */
export function assertSame(a: CliResult, b: CliResult, norm: Normalise, label: string, normB: Normalise = norm): void {
  const context = `\n--- etcdctl-ts exit ${b.code ?? b.signal}, stderr:\n${text(b.stderr)}--- etcdctl exit ${a.code ?? a.signal}, stderr:\n${text(a.stderr)}`;
  assert.equal(normalise(text(b.stdout), normB), normalise(text(a.stdout), norm), `stdout of: ${label}${context}`);
  assert.equal(normalise(text(b.stderr), normB), normalise(text(a.stderr), norm), `stderr of: ${label}`);
  assert.equal(b.code, a.code, `exit code of: ${label}`);
  assert.equal(b.signal ?? null, a.signal ?? null, `signal of: ${label}`);
}

/** Both CLIs left running with the same command line (see Pair.start). */
export interface RunningPair {
  real: RunningCli;
  ts: RunningCli;
  /** waits until both sides' output (stdout + stderr, latin1) satisfies `ready` (side 0: etcdctl, 1: etcdctl-ts) */
  waitFor(ready: (output: string, side: 0 | 1) => boolean, timeoutMs?: number): Promise<void>;
  write(data: string): void;
  endInput(): void;
  signal(sig: NodeJS.Signals): void;
  /**
   * waits for both to exit and asserts that their (normalised) results agree; returns etcdctl's. `vars` replaces the
   * start's (values learnt from the output meanwhile).
   */
  same(label?: string, vars?: Record<string, [string, string]>): Promise<CliResult>;
  results(): Promise<[CliResult, CliResult]>;
}

export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until the etcd-ts member has a leader and serves linearizable reads (as etcd's /health does). */
async function waitUntilServing(endpoint: string): Promise<void> {
  const client = new Client({ endpoints: [endpoint], requestTimeoutMs: 1000 });
  const deadline = Date.now() + 20_000;
  try {
    for (;;) {
      try {
        const status = await client.status();
        if (status.leader !== 0n) {
          await client.range({ key: Buffer.from('health') });
          return;
        }
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`etcd-ts at ${endpoint} has no leader after 20 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.destroy();
  }
}

/** Stops a server and removes the temporary directory its data directory was made in. */
async function stopAndRemove(server: RealEtcd | ChildMember): Promise<void> {
  if ('stop' in server) await server.stop();
  else await server.kill();
  fs.rmSync(path.dirname(server.dataDir), { recursive: true, force: true });
}

export interface PairOptions {
  /**
   * the etcd-ts member advertises its binary endpoint as its client URL (--advertise-client-urls), as the real etcd
   * advertises its gRPC endpoint, so that member lists and `endpoint --cluster` agree
   */
  advertiseBinary?: boolean;
}

/** Starts a real etcd and an etcd-ts member; if either fails to come up, the other is stopped again. */
export async function startPair(opts: PairOptions = {}): Promise<Pair> {
  let tsFlags: string[] = [];
  if (opts.advertiseBinary === true) {
    const url = `http://127.0.0.1:${await freePort()}`;
    tsFlags = ['--listen-client-binary-urls', url, '--advertise-client-urls', url];
  }
  const [realStarted, tsStarted] = await Promise.allSettled([startRealEtcd(), startChild(tsFlags)]);
  if (realStarted.status === 'rejected' || tsStarted.status === 'rejected') {
    if (realStarted.status === 'fulfilled') await stopAndRemove(realStarted.value);
    if (tsStarted.status === 'fulfilled') await stopAndRemove(tsStarted.value);
    throw realStarted.status === 'rejected' ? realStarted.reason : (tsStarted as PromiseRejectedResult).reason;
  }
  const real = realStarted.value;
  const ts = tsStarted.value;
  try {
    await waitUntilServing(ts.endpoint);
  } catch (err) {
    await Promise.all([stopAndRemove(real), stopAndRemove(ts)]);
    throw err;
  }
  const both = (args: (string | Buffer)[], opts: CompareOptions = {}): Promise<[CliResult, CliResult]> => {
    const [argsA, optsA] = sideOptions(args, opts, real.endpoint, 0);
    const [argsB, optsB] = sideOptions(args, opts, ts.endpoint, 1);
    return Promise.all([runEtcdctl(argsA, optsA), runEtcdctlTs(argsB, optsB)]);
  };
  const norms = (opts: CompareOptions): [Normalise, Normalise] => {
    const base = { ...(opts.norm ?? {}), endpoints: [real.endpoint, ts.endpoint] as [string, string] };
    return [
      { ...base, replace: [...(opts.norm?.replace ?? []), ...sideReplacements(opts.vars, 0)] },
      { ...base, replace: [...(opts.norm?.replace ?? []), ...sideReplacements(opts.vars, 1)] },
    ];
  };
  const labelOf = (args: (string | Buffer)[], opts: CompareOptions): string =>
    opts.label ?? args.map((x) => (typeof x === 'string' ? x : `<${x.toString('hex')}>`)).join(' ');
  return {
    real,
    ts,
    both,
    async same(args, opts = {}) {
      const [a, b] = await both(args, opts);
      const [normA, normB] = norms(opts);
      assertSame(a, b, normA, labelOf(args, opts), normB);
      return a;
    },
    start(args, opts = {}) {
      const [argsA, optsA] = sideOptions(args, opts, real.endpoint, 0);
      const [argsB, optsB] = sideOptions(args, opts, ts.endpoint, 1);
      const a = start('etcdctl', argsA, optsA);
      const b = start(process.execPath, [ETCDCTL_TS_BIN, ...argsB], optsB);
      const outputText = (r: RunningCli): string => text(r.output().stdout) + text(r.output().stderr);
      return {
        real: a,
        ts: b,
        waitFor: (ready, timeoutMs = 10_000) =>
          waitUntil(() => ready(outputText(a), 0) && ready(outputText(b), 1), timeoutMs, `output of ${labelOf(args, opts)}`).catch((err: Error) => {
            throw new Error(`${err.message}\n--- etcdctl:\n${outputText(a)}\n--- etcdctl-ts:\n${outputText(b)}`);
          }),
        write: (data) => {
          a.write(substituteText(data, real.endpoint, opts.vars ?? {}, 0));
          b.write(substituteText(data, ts.endpoint, opts.vars ?? {}, 1));
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
        async same(label, vars) {
          const [ra, rb] = await Promise.all([a.result, b.result]);
          const [normA, normB] = norms(vars === undefined ? opts : { ...opts, vars });
          assertSame(ra, rb, normA, label ?? labelOf(args, opts), normB);
          return ra;
        },
      };
    },
    async close() {
      await Promise.all([stopAndRemove(real), stopAndRemove(ts)]);
    },
  };
}

/**
 * The pair for one test, closed when it ends; null (the test skipped) when etcd and etcdctl are not installed.
 * Usage: `const pair = await pairFor(t); if (pair === null) return;`
 */
export async function pairFor(t: import('node:test').TestContext, opts: PairOptions = {}): Promise<Pair | null> {
  if (!etcdctlAvailable()) {
    t.skip('etcd and etcdctl are not installed');
    return null;
  }
  const pair = await startPair(opts);
  t.after(() => pair.close());
  return pair;
}

/** Runs `body` with pairFor's pair (nothing when the test was skipped). */
export async function withPair(t: import('node:test').TestContext, body: (pair: Pair) => Promise<void>): Promise<void> {
  const pair = await pairFor(t);
  if (pair !== null) await body(pair);
}

/** `v` as a protobuf varint, in latin1 text: how a lease ID appears in `-w protobuf` output. */
export function varintText(v: bigint): string {
  const bytes: number[] = [];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes).toString('latin1');
}
