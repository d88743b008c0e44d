// etcd's own Go client against a server: test/go/clientv3check (clientv3 and clientv3/concurrency from etcd 3.4) runs a
// scripted scenario and prints one JSON line per step; this module builds it, runs it, checks one run on its own (the
// watch against the history, the lock order, the STM counter) and compares two runs step by step once what must differ
// is normalised.
//
// To debug by hand (after `npx tsc`):
//   GO111MODULE=off GOPATH=/usr/share/gocode go build -o /tmp/clientv3check ./test/go/clientv3check
//   /tmp/clientv3check -endpoints 127.0.0.1:PORT -max-request-bytes 65536 > out.jsonl
// The test saves both sides' raw and normalised outputs when a comparison fails and prints where.
//
// What the comparison normalises, and nothing else:
//   - lease, member and cluster IDs become <lease#n>, <member#n>, <cluster#n> in order of first appearance (also inside
//     the keys the concurrency recipes make from a lease ID, lock/<hex> and elect/<hex>, and in the calls that name
//     one); a server that reuses an ID maps two leases to one name and shows up;
//   - raft terms (above 0) become <term>: elections are the server's own business;
//   - Status: version, db sizes and raft indexes;
//   - the endpoint's address becomes <endpoint>;
//   - a lease's remaining TTL becomes <remaining> when it lies in (0, granted]; sets the server returns in map order
//     (TimeToLive's keys, Leases' IDs) are sorted;
//   - watch responses: how events are batched into responses is the server's choice, so the events of one watch are
//     compared as one list;
//   - lines marked concurrent (writers, STM workers, the watch that follows them) are compared without revisions:
//     which revision each write got depends on scheduling, everything else does not (each goroutine owns its keys);
//     the watch's events are compared as per-key sequences, and checked against the history with the watch checker.
// Absolute revisions are compared as they are: the scenario starts on a fresh store and makes the same number of
// revisions on any server that behaves as etcd, so a revision that differs is a real difference.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyValue, RangeRequest, RangeResponse, WatchResponse } from '../../src/proto/index.js';
import { tempDir } from './member.js';
import { History, checkWatch, type WatchSpec } from './watch-checker.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** the program's source directory (from dist/test/helpers) */
export const CLIENTV3CHECK_SOURCE = path.resolve(here, '../../../test/go/clientv3check');
const GOPATH = '/usr/share/gocode';
const CLIENTV3_SOURCES = path.join(GOPATH, 'src/go.etcd.io/etcd/clientv3');
/** the --max-request-bytes both servers run with; the program sizes its too-large requests from it */
export const MAX_REQUEST_BYTES = 65536;
/** the scenario's own constants (test/go/clientv3check/main.go) */
const STM_INCREMENTS = 4 * 5;
const WATCHED_PREFIX = 'w/';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Why the program cannot be built here, or null when it can. */
export function goMissing(): string | null {
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) return 'Go is not installed (apt-get install golang-go; .ci/run does)';
  if (!fs.existsSync(CLIENTV3_SOURCES)) return `etcd's Go client sources are not in ${CLIENTV3_SOURCES} (apt-get install golang-etcd-server-dev; .ci/run does)`;
  return null;
}

let built: Promise<string> | undefined;

/**
 * Builds the program once per test process into a temporary directory, removed when the process exits (Go's own
 * build cache makes later builds quick), and returns the binary's path.
 */
export function buildClientv3Check(): Promise<string> {
  built ??= new Promise<string>((resolve, reject) => {
    const dir = tempDir('clientv3check-');
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    const bin = path.join(dir, 'clientv3check');
    const env: Record<string, string> = { ...(process.env as Record<string, string>), GO111MODULE: 'off', GOPATH, GOFLAGS: '' };
    // Go needs a build cache; without a home directory, keep one in the temporary directory
    if (env.GOCACHE === undefined && env.HOME === undefined && env.XDG_CACHE_HOME === undefined) env.GOCACHE = path.join(os.tmpdir(), 'etcd-ts-go-build-cache');
    const child = spawn('go', ['build', '-o', bin, '.'], { cwd: CLIENTV3CHECK_SOURCE, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(bin);
      else reject(new Error(`go build of ${CLIENTV3CHECK_SOURCE} failed (exit ${code}):\n${output}`));
    });
  });
  return built;
}

/** One run of the program: its lines in output order. */
export interface Clientv3Run {
  label: string;
  /** host:port the program was pointed at */
  endpoint: string;
  lines: JsonObject[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

/** Runs the program against `endpoint` to its end (it limits itself to 180 s; it is killed after 200 s). */
export function runClientv3Check(bin: string, endpoint: string, label: string): Promise<Clientv3Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-endpoints', endpoint, '-max-request-bytes', String(MAX_REQUEST_BYTES)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 200_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((text): JsonObject => {
          try {
            return JSON.parse(text) as JsonObject;
          } catch {
            return { step: 'unparsed', text };
          }
        });
      resolve({ label, endpoint, lines, code, signal, stderr, stdout });
    });
  });
}

// ---- reading lines ------------------------------------------------------------------------------------------------

const isObject = (x: Json | undefined): x is JsonObject => typeof x === 'object' && x !== null && !Array.isArray(x);
const obj = (x: Json | undefined): JsonObject => (isObject(x) ? x : {});
const arr = (x: Json | undefined): Json[] => (Array.isArray(x) ? x : []);
const num = (x: Json | undefined): number => (typeof x === 'number' ? x : NaN);
const str = (x: Json | undefined): string => (typeof x === 'string' ? x : '');
const stepOf = (l: JsonObject): string => str(l.step);

function find(run: Clientv3Run, step: string): JsonObject | undefined {
  return run.lines.find((l) => stepOf(l) === step);
}

const bytes = (b64: Json | undefined): Buffer => Buffer.from(str(b64), 'base64');

function toKeyValue(x: Json | undefined): KeyValue {
  const o = obj(x);
  return {
    key: bytes(o.key),
    value: bytes(o.value),
    create_revision: num(o.create_revision),
    mod_revision: num(o.mod_revision),
    version: num(o.version),
    lease: BigInt('0x' + (str(o.lease) || '0')),
  };
}

/** A watch response line as the watch checker reads responses. */
function toWatchResponse(resp: Json | undefined): WatchResponse {
  const r = obj(resp);
  const h = obj(r.header);
  const res: WatchResponse = {
    header: { cluster_id: BigInt('0x' + (str(h.cluster_id) || '0')), member_id: BigInt('0x' + (str(h.member_id) || '0')), revision: num(h.revision), raft_term: num(h.raft_term) },
    watch_id: 0,
    events: arr(r.events).map((e) => {
      const ev = obj(e);
      const event = { type: str(ev.type) === 'DELETE' ? 1 : 0, kv: toKeyValue(ev.kv) };
      return ev.prev_kv === undefined ? event : { ...event, prev_kv: toKeyValue(ev.prev_kv) };
    }),
  };
  if (r.created === true) res.created = true;
  if (r.canceled === true) {
    res.canceled = true;
    res.compact_revision = num(r.compact_revision);
    res.cancel_reason = str(r.err);
  }
  return res;
}

/** The revisions the watch under load covers: its start, and the end marker written after the writers. */
function watchWindow(run: Clientv3Run): { from: number; end: number } | null {
  const from = num(find(run, 'watch.start')?.start_revision);
  const end = num(obj(obj(find(run, 'watch.end')?.resp).header).revision);
  return Number.isFinite(from) && Number.isFinite(end) ? { from, end } : null;
}

/**
 * The history of the watched prefix as the program read it back (a Range of w/ at every revision of the window), as
 * a History (which then starts at the revision before the watch's start).
 */
export async function historyFromRun(run: Clientv3Run): Promise<History | null> {
  const window = watchWindow(run);
  if (window === null) return null;
  const at = new Map<number, KeyValue[]>();
  for (const l of run.lines) if (stepOf(l) === 'history' && l.err === undefined) at.set(num(l.revision), arr(l.kvs).map(toKeyValue));
  const reader = {
    async range(req: RangeRequest): Promise<RangeResponse> {
      const kvs = at.get(req.revision ?? 0);
      if (kvs === undefined) throw new Error(`${run.label}: the program read no history at revision ${req.revision}`);
      return { header: { cluster_id: 0n, member_id: 0n, revision: window.end, raft_term: 0 }, kvs, more: false, count: kvs.length };
    },
  };
  const history = new History();
  history.last = window.from - 2;
  await history.readTo(reader, window.end);
  return history;
}

/** The watch under load's spec and responses (in the order the program received them). */
export function loadWatch(run: Clientv3Run): { spec: WatchSpec; responses: WatchResponse[]; end: number } | null {
  const window = watchWindow(run);
  if (window === null) return null;
  const responses = run.lines.filter((l) => stepOf(l) === 'watch.load').map((l) => toWatchResponse(l.resp));
  const spec: WatchSpec = { key: Buffer.from(WATCHED_PREFIX), range_end: Buffer.from('w0'), from: window.from, prev_kv: true };
  return { spec, responses, end: window.end };
}

/**
 * Checks one run on its own: the program finished, the watch under load delivered exactly the history (watch
 * checker), a progress notification came once it had caught up, the second lock waited for the first, the STM counter
 * counts every increment, the keep-alive stream answered twice.
 */
export async function checkRun(run: Clientv3Run): Promise<string[]> {
  const problems: string[] = [];
  const last = run.lines[run.lines.length - 1];
  if (run.code !== 0 || last === undefined || stepOf(last) !== 'done') {
    problems.push(`the program did not finish (exit ${run.code ?? run.signal}; last line ${JSON.stringify(last ?? null)})`);
  }
  const watch = loadWatch(run);
  const history = await historyFromRun(run).catch((err: Error) => {
    problems.push(`history: ${err.message}`);
    return null;
  });
  if (watch !== null && history !== null) {
    const r = checkWatch(history, watch.spec, watch.responses, { through: watch.end });
    problems.push(...r.problems.map((p) => `watch under load: ${p}`));
    if (r.events === 0) problems.push('watch under load: no events delivered');
  }
  // the rest only where the program got that far (a run that stopped early says so above)
  const progress = find(run, 'watch.progress');
  if (progress !== undefined && progress.reached !== true) problems.push('watch under load: no progress notification at the end revision after RequestProgress');
  const lockOrder = find(run, 'lock.order');
  if (lockOrder !== undefined && JSON.stringify(lockOrder.order) !== JSON.stringify(['lock1 unlocking', 'lock2 acquired'])) {
    problems.push(`lock: the second session did not wait for the first to unlock: ${JSON.stringify(lockOrder.order)}`);
  }
  const counterLine = find(run, 'stm.counter');
  if (counterLine !== undefined) {
    const counter = bytes(obj(arr(obj(counterLine.resp).kvs)[0]).value).toString();
    const commits = run.lines.filter((l) => stepOf(l) === 'stm.worker').reduce((n, l) => n + num(l.commits), 0);
    if (counter !== String(STM_INCREMENTS) || commits !== STM_INCREMENTS) problems.push(`STM: counter ${JSON.stringify(counter)} after ${commits} commits, want ${STM_INCREMENTS}`);
  }
  if (find(run, 'lease.keep-alive.closed') !== undefined || find(run, 'lease.revoke-short') !== undefined) {
    const keepAlives = run.lines.filter((l) => stepOf(l) === 'lease.keep-alive' && l.resp !== undefined).length;
    if (keepAlives < 2) problems.push(`lease: ${keepAlives} keep-alive responses on the KeepAlive channel, want 2`);
  }
  return problems;
}

/** Differences between two histories over revisions [from, to] (events by key: type and every kv field). */
export function compareHistories(a: History, b: History, from: number, to: number): string[] {
  const problems: string[] = [];
  const show = (h: History, r: number): string =>
    JSON.stringify(
      [...h.at(r).entries()]
        .sort(([x], [y]) => x.localeCompare(y))
        // fields named one by one, in one order: the two histories' objects list them in different orders
        .map(([, ev]) => ({
          type: ev.type,
          key: Buffer.from(ev.kv.key).toString('latin1'),
          value: Buffer.from(ev.kv.value).toString('latin1'),
          create_revision: ev.kv.create_revision,
          mod_revision: ev.kv.mod_revision,
          version: ev.kv.version,
          lease: String(ev.kv.lease),
        })),
    );
  for (let r = from; r <= to && problems.length < 10; r++) {
    const x = show(a, r);
    const y = show(b, r);
    if (x !== y) problems.push(`revision ${r}: ${x} != ${y}`);
  }
  return problems;
}

// ---- normalisation ------------------------------------------------------------------------------------------------

class Names {
  private readonly byKind = new Map<string, Map<string, string>>();

  name(kind: string, value: string): string {
    if (value === '0' || value === '') return value;
    let map = this.byKind.get(kind);
    if (map === undefined) this.byKind.set(kind, (map = new Map()));
    let n = map.get(value);
    if (n === undefined) map.set(value, (n = `<${kind}#${map.size + 1}>`));
    return n;
  }

  known(kind: string, value: string): string | undefined {
    return this.byKind.get(kind)?.get(value);
  }
}

const MEMBER_FIELDS = new Set(['member_id', 'leader']);
const REVISION_FIELDS = new Set(['revision', 'create_revision', 'mod_revision']);

/** Names every ID in the run in order of first appearance. */
function collectNames(run: Clientv3Run): Names {
  const names = new Names();
  const walk = (x: Json, field: string): void => {
    if (Array.isArray(x)) x.forEach((y) => walk(y, field));
    else if (isObject(x)) for (const [k, v] of Object.entries(x)) walk(v, k);
    else if (typeof x === 'string') {
      if (field === 'lease' || field === 'leases') names.name('lease', x);
      else if (MEMBER_FIELDS.has(field)) names.name('member', x);
      else if (field === 'cluster_id') names.name('cluster', x);
    }
  };
  run.lines.forEach((l) => walk(l, ''));
  return names;
}

/** A recipe's key (lock/<lease hex>, elect/<lease hex>) or a call naming a lease, with the lease named. */
function nameLeasesIn(text: string, names: Names, call: boolean): string {
  if (call) return text.replace(/^(KeepAliveOnce|Revoke|TimeToLive)\(([0-9a-f]+)/, (m, fn: string, id: string) => `${fn}(${names.known('lease', id) ?? id}`);
  return text.replace(/\/([0-9a-f]+)$/, (m, id: string) => `/${names.known('lease', id) ?? id}`);
}

function normaliseValue(x: Json, field: string, names: Names, endpoint: string): Json {
  if (Array.isArray(x)) {
    const list = x.map((y) => normaliseValue(y, field, names, endpoint));
    // sets the server returns in its own (map) order
    return field === 'keys' || field === 'leases' ? list.sort((a, b) => String(a).localeCompare(String(b))) : list;
  }
  if (isObject(x)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(x)) out[k] = normaliseValue(v, k, names, endpoint);
    return out;
  }
  if (typeof x === 'string') {
    if (field === 'key' || field === 'value' || field === 'keys') return nameLeasesIn(bytes(x).toString('latin1'), names, false);
    if (field === 'lease' || field === 'leases') return names.name('lease', x);
    if (MEMBER_FIELDS.has(field)) return names.name('member', x);
    if (field === 'cluster_id') return names.name('cluster', x);
    return nameLeasesIn(x.split(endpoint).join('<endpoint>'), names, field === 'call');
  }
  if (typeof x === 'number' && field === 'raft_term' && x > 0) return '<term>';
  return x;
}

/** Step-specific normalisation of what must differ between servers. */
function normaliseStep(l: JsonObject): void {
  const resp = l.resp;
  if (!isObject(resp)) return;
  const step = stepOf(l);
  if (step === 'maintenance.status') {
    for (const f of ['version', 'db_size', 'db_size_in_use', 'raft_index', 'raft_applied_index']) if (f in resp) resp[f] = `<${f}>`;
  }
  if (str(l.call).startsWith('TimeToLive(')) {
    const ttl = num(resp.ttl);
    if (ttl > 0 && ttl <= num(resp.granted_ttl)) resp.ttl = '<remaining>';
  }
}

function stripRevisions(x: Json): Json {
  if (Array.isArray(x)) return x.map(stripRevisions);
  if (!isObject(x)) return x;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(x)) if (!REVISION_FIELDS.has(k)) out[k] = stripRevisions(v);
  return out;
}

/** One comparable item: where it is (step name and occurrence) and its normalised content. */
export interface Item {
  id: string;
  value: Json;
}

/** A run reduced to what two servers that behave alike must agree on. */
export interface NormalisedRun {
  /** the steps in order (the events of one watch merged into one item) */
  ordered: Item[];
  /** concurrent lines, by writer/worker and operation, without revisions */
  concurrent: Item[];
  /** the watch under load: per key, its events in order, without revisions; the progress notifications and the end */
  loadWatch: Json;
}

export function normaliseRun(run: Clientv3Run): NormalisedRun {
  const names = collectNames(run);
  const lines = run.lines.map((l) => {
    const n = normaliseValue(l, '', names, run.endpoint) as JsonObject;
    normaliseStep(n);
    return n;
  });
  const ordered: Item[] = [];
  const concurrent: Item[] = [];
  const occurrences = new Map<string, number>();
  const idOf = (step: string): string => {
    const n = (occurrences.get(step) ?? 0) + 1;
    occurrences.set(step, n);
    return n === 1 ? step : `${step}#${n}`;
  };
  let watchGroup: JsonObject | null = null;
  const perKey = new Map<string, Json[]>();
  const loadProgress: Json[] = [];
  const loadEnd: Json[] = [];
  for (const l of lines) {
    const step = stepOf(l);
    if (l.watch === true && l.concurrent === true) {
      const resp = obj(l.resp);
      for (const e of arr(resp.events)) {
        const ev = obj(e);
        const kv = obj(ev.kv);
        const list = perKey.get(str(kv.key)) ?? [];
        perKey.set(str(kv.key), list);
        list.push(stripRevisions({ type: ev.type ?? null, kv, prev_kv: ev.prev_kv ?? null }));
      }
      if (resp.progress_notify === true) loadProgress.push(obj(resp.header).revision ?? null);
      if (resp.canceled === true || resp.err !== undefined) loadEnd.push(resp);
      continue;
    }
    if (l.watch === true) {
      // the events of consecutive responses of one watch form one item
      const resp = obj(l.resp);
      if (watchGroup === null || watchGroup.step !== step) {
        watchGroup = { step, call: l.call ?? null, events: [], canceled: false, compact_revision: 0, err: null, progress: [] };
        ordered.push({ id: idOf(step), value: watchGroup });
      }
      arr(watchGroup.events).push(...arr(resp.events));
      if (resp.canceled === true) watchGroup.canceled = true;
      if (num(resp.compact_revision) > 0) watchGroup.compact_revision = resp.compact_revision ?? 0;
      if (resp.err !== undefined) watchGroup.err = { err: resp.err, code: resp.code ?? null };
      if (resp.progress_notify === true) arr(watchGroup.progress).push(obj(resp.header).revision ?? null);
      continue;
    }
    watchGroup = null;
    if (step === 'history') continue; // checked against the watch, on each side
    if (l.concurrent === true) {
      const who = l.writer !== undefined ? `writer ${String(l.writer)} op ${String(l.op)}` : l.worker !== undefined ? `worker ${String(l.worker)}` : '';
      concurrent.push({ id: `${step} ${who}`, value: stripRevisions(l) });
      continue;
    }
    ordered.push({ id: idOf(step), value: l });
  }
  concurrent.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  const keys = [...perKey.keys()].sort();
  return { ordered, concurrent, loadWatch: { events_by_key: Object.fromEntries(keys.map((k) => [k, perKey.get(k)!])), progress: loadProgress, end: loadEnd } };
}

// ---- comparison ---------------------------------------------------------------------------------------------------

/** The first place two JSON values differ, as a path and the two values. */
export function firstDifference(a: Json | undefined, b: Json | undefined, at = ''): string | null {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (d !== null) return d;
    }
  }
  if (isObject(a) && isObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[k], b[k], at === '' ? k : `${at}.${k}`);
      if (d !== null) return d;
    }
  }
  const short = (x: Json | undefined): string => {
    const s = x === undefined ? '(absent)' : JSON.stringify(x);
    return s.length > 300 ? `${s.slice(0, 300)}…` : s;
  };
  return `${at || '(whole)'}: ${short(a)} vs ${short(b)}`;
}

function compareItems(what: string, a: Item[], b: Item[], labels: [string, string]): string[] {
  const diffs: string[] = [];
  const bById = new Map(b.map((i) => [i.id, i.value]));
  const aIds = new Set(a.map((i) => i.id));
  let missing = 0;
  for (const item of a) {
    if (!bById.has(item.id)) {
      if (missing++ === 0) diffs.push(`${what} ${item.id}: in ${labels[0]}'s output, not in ${labels[1]}'s (nor the ${what} after it, unless listed)`);
      continue;
    }
    const other = bById.get(item.id);
    const d = firstDifference(item.value, other);
    if (d === null) continue;
    // an error on one side shows as a missing response: say what the error was
    const errorOf = (x: Json | undefined): string => (isObject(x) && x.err !== undefined ? JSON.stringify(x.err) : 'none');
    const errors = errorOf(item.value) !== errorOf(other) ? ` (errors: ${errorOf(item.value)} vs ${errorOf(other)})` : '';
    diffs.push(`${what} ${item.id} (${labels[0]} vs ${labels[1]}): ${d}${errors}`);
  }
  if (missing > 1) diffs.push(`${what}: ${missing} in ${labels[0]}'s output are missing from ${labels[1]}'s`);
  for (const item of b) if (!aIds.has(item.id)) diffs.push(`${what} ${item.id}: only in ${labels[1]}'s output: ${JSON.stringify(item.value).slice(0, 300)}`);
  return diffs;
}

/** Every difference between two runs once normalised (an empty list when they agree). */
export function compareRuns(a: Clientv3Run, b: Clientv3Run): string[] {
  const na = normaliseRun(a);
  const nb = normaliseRun(b);
  const labels: [string, string] = [a.label, b.label];
  const diffs = [...compareItems('step', na.ordered, nb.ordered, labels), ...compareItems('concurrent', na.concurrent, nb.concurrent, labels)];
  const d = firstDifference(na.loadWatch, nb.loadWatch);
  if (d !== null) diffs.push(`watch under load (events per key, revisions left out; ${labels[0]} vs ${labels[1]}): ${d}`);
  return diffs;
}

/** Writes both runs (raw, normalised, stderr) to a new temporary directory for a human; returns its path. */
export function saveRuns(runs: Clientv3Run[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clientv3check-runs-'));
  for (const run of runs) {
    const name = run.label.replace(/[^a-z0-9-]+/gi, '_');
    fs.writeFileSync(path.join(dir, `${name}.jsonl`), run.stdout);
    fs.writeFileSync(path.join(dir, `${name}.stderr`), run.stderr);
    const n = normaliseRun(run);
    const text = [...n.ordered, ...n.concurrent].map((i) => `${i.id}\t${JSON.stringify(i.value)}`).join('\n');
    fs.writeFileSync(path.join(dir, `${name}.normalised.txt`), `${text}\nwatch under load\t${JSON.stringify(n.loadWatch)}\n`);
  }
  return dir;
}

/** The failure message for a list of problems: the first few, how many more, and where the outputs were saved. */
export function report(title: string, problems: string[], runs: Clientv3Run[]): string {
  const shown = problems.slice(0, 25).map((p) => `  - ${p}`);
  if (problems.length > shown.length) shown.push(`  … and ${problems.length - shown.length} more`);
  const tail = runs.map((r) => `--- ${r.label}: exit ${r.code ?? r.signal}, last stderr:\n${r.stderr.split('\n').slice(-6).join('\n')}`);
  return `${title}:\n${shown.join('\n')}\noutputs (raw and normalised) saved in ${saveRuns(runs)}\n${tail.join('\n')}`;
}
