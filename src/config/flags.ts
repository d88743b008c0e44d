// etcd's command-line flags and ETCD_* environment variables -> one validated, frozen Config.
// As in etcd: a flag wins over its environment variable; unknown ETCD_* variables are reported, not fatal.

import os from 'node:os';
import {
  byteStringToUtf8,
  checkBindUrlsError,
  DurationError,
  ERR_RANGE,
  newUrlsError,
  NumError,
  parseBool,
  parseDuration,
  parseInt64,
  parseUint64,
  utf8ToByteString,
} from '../gocompat/index.js';
import { DEFAULT_LIMITS, GiB, validateLimits, type Limits } from './limits.js';

export interface Config {
  readonly name: string;
  readonly dataDir: string;
  readonly listenClientUrls: readonly string[];
  /** --listen-client-http-urls (etcd 3.5): HTTP's own listeners; empty: HTTP shares the client URLs with gRPC */
  readonly listenClientHttpUrls: readonly string[];
  readonly advertiseClientUrls: readonly string[];
  readonly listenClientBinaryUrls: readonly string[];
  readonly listenPeerUrls: readonly string[];
  readonly initialAdvertisePeerUrls: readonly string[];
  readonly initialCluster: string;
  readonly initialClusterState: 'new' | 'existing';
  readonly initialClusterToken: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly snapshotCount: number;
  readonly autoCompactionMode: 'periodic' | 'revision';
  readonly autoCompactionRetention: string;
  readonly logLevel: string;
  /** --experimental-watch-progress-notify-interval: idle progress_notify watchers hear the revision this often */
  readonly watchProgressNotifyIntervalMs: number;
  /** --lease-checkpoint-interval: the leader replicates remaining lease TTLs this often (etcd-ts; etcd: 5 min, opt-in) */
  readonly leaseCheckpointIntervalMs: number;
  /** --worker-threads: threads serving range reads (0 = all on the main thread); > 0 also moves compaction to a thread */
  readonly workerThreads: number;
  readonly limits: Limits;
  // ---- auth (etcd's v3 auth: src/auth) ----
  /** --auth-token as given: 'simple', 'jwt,pub-key=..,priv-key=..,sign-method=..,ttl=..' or '' (parsed at start-up) */
  readonly authToken: string;
  /** --auth-token-ttl: seconds a simple token lives unused (0: etcd's 300) */
  readonly authTokenTtlSeconds: number;
  /** --bcrypt-cost, within bcrypt's 4..31 (etcd uses 10 for a value outside, with a warning) */
  readonly bcryptCost: number;
}

/** Value types as etcd declares its flags: `uint`/`int` parse as Go's strconv with base 0 (0x.., 0o.., 0b.., 0..). */
type Kind = 'string' | 'int' | 'uint' | 'bool' | 'urls';
interface FlagSpec {
  kind: Kind;
  default: string;
  help: string;
  /** the only values accepted (etcd's SelectiveStringValue) */
  choices?: readonly string[];
  /** urls: the empty value is accepted, meaning none (etcd's NewUniqueURLsWithExceptions("", "")) */
  emptyAllowed?: boolean;
}

/** bcrypt's cost bounds and etcd's default (golang.org/x/crypto/bcrypt MinCost, MaxCost, DefaultCost). */
const BCRYPT_COST_MIN = 4;
const BCRYPT_COST_MAX = 31;
const BCRYPT_COST_DEFAULT = 10;

/** Flags by etcd's names; defaults as etcd's, except the binary protocol which is ours. */
export const FLAGS: Record<string, FlagSpec> = {
  name: { kind: 'string', default: 'default', help: 'Human-readable name for this member.' },
  'data-dir': { kind: 'string', default: '${name}.etcd', help: 'Path to the data directory.' },
  'listen-client-urls': { kind: 'urls', default: 'http://127.0.0.1:2379', help: 'URLs to listen on for client traffic: gRPC, the binary protocol, and HTTP (the JSON API, WebSocket streams, health, metrics and the dashboard) as long as --listen-client-http-urls is not specified.' },
  'listen-client-http-urls': { kind: 'urls', default: '', emptyAllowed: true, help: 'List of URLs to listen on for http only client traffic. Enabling this flag removes http services from --listen-client-urls.' },
  'advertise-client-urls': { kind: 'urls', default: 'http://127.0.0.1:2379', help: "This member's client URLs to advertise to the public." },
  'listen-client-binary-urls': { kind: 'urls', default: 'http://127.0.0.1:2378', help: 'URLs to listen on for the binary client protocol (http:// plaintext).' },
  'listen-peer-urls': { kind: 'urls', default: 'http://localhost:2380', help: 'URLs to listen on for peer traffic.' },
  'initial-advertise-peer-urls': { kind: 'urls', default: 'http://localhost:2380', help: "This member's peer URLs to advertise to the rest of the cluster." },
  'initial-cluster': { kind: 'string', default: '${name}=http://localhost:2380', help: 'Initial cluster configuration for bootstrapping.' },
  'initial-cluster-state': { kind: 'string', default: 'new', help: "Initial cluster state ('new' or 'existing').", choices: ['new', 'existing'] },
  'initial-cluster-token': { kind: 'string', default: 'etcd-cluster', help: 'Initial cluster token for the etcd cluster during bootstrap.' },
  'heartbeat-interval': { kind: 'uint', default: '100', help: 'Time (in milliseconds) of a heartbeat interval.' },
  'election-timeout': { kind: 'uint', default: '1000', help: 'Time (in milliseconds) for an election to timeout.' },
  'snapshot-count': { kind: 'uint', default: '100000', help: 'Number of committed transactions to trigger a snapshot to disk.' },
  'max-request-bytes': { kind: 'uint', default: String(DEFAULT_LIMITS.requestBytesMax), help: 'Maximum client request size in bytes the server will accept.' },
  'max-txn-ops': { kind: 'uint', default: String(DEFAULT_LIMITS.txnOpsMax), help: 'Maximum number of operations permitted in a transaction.' },
  'quota-backend-bytes': { kind: 'int', default: '0', help: 'Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).' },
  'auto-compaction-mode': { kind: 'string', default: 'periodic', help: "Interpret 'auto-compaction-retention' one of: 'periodic', 'revision'." },
  'auto-compaction-retention': { kind: 'string', default: '0', help: 'Auto compaction retention (0 = off).' },
  'experimental-compaction-batch-limit': { kind: 'int', default: String(DEFAULT_LIMITS.compactionBatchKeysMax), help: 'Sets the maximum revisions deleted in each compaction batch.' },
  'experimental-watch-progress-notify-interval': { kind: 'string', default: '10m0s', help: 'Duration of periodic watch progress notifications.' },
  // Default 0 until the pool beats the main thread: measured in session 2, one worker served 37-39k ranges/s against
  // 115k/s on the main thread (the per-request wake-ups across threads dominate; see BENCHMARKS.md).
  'worker-threads': { kind: 'int', default: '-1', help: 'Worker threads for range scans and read-only txns, plus one for compaction and one matching watch events once there are many watchers (-1 = cores - 1, at least 1; 0 = everything on the main thread).' },
  'lease-checkpoint-interval': { kind: 'string', default: '5s', help: 'How often the leader checkpoints remaining lease TTLs through Raft, so leader changes and restarts keep them (0s = never).' },
  'log-level': { kind: 'string', default: 'info', help: "Configures log level. Only supports debug, info, warn, error, panic, or fatal." },
  // ---- auth (src/auth) ----
  'auth-token': { kind: 'string', default: 'simple', help: "Specify a v3 authentication token type and its options ('simple' or 'jwt')." },
  'bcrypt-cost': { kind: 'uint', default: String(BCRYPT_COST_DEFAULT), help: 'Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid values are between 4 and 31.' },
  'auth-token-ttl': { kind: 'uint', default: '300', help: 'Time (in seconds) of the auth-token-ttl.' },
};

/**
 * A refused command line or environment. `exitCode` follows etcd: 2 for what Go's flag package refuses while parsing
 * (the usage is printed after the message), 1 for what etcd refuses afterwards (stray arguments, bad ETCD_* values,
 * inconsistent settings).
 */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

export interface ParseResult {
  config: Config;
  warnings: string[];
  help: boolean;
  version: boolean;
}

function envName(flag: string): string {
  return 'ETCD_' + flag.toUpperCase().replace(/-/g, '_');
}

/**
 * Go's strconv.ParseUint(s, 0, 64) / ParseInt(s, 0, 64) as the flag package reports them: a value, or the flag
 * package's error text ("parse error", "value out of range").
 */
export function parseGoInteger(text: string, signed: boolean): bigint | 'parse error' | 'value out of range' {
  try {
    const s = utf8ToByteString(text);
    return signed ? parseInt64(s, 0) : parseUint64(s, 0);
  } catch (err) {
    if (err instanceof NumError) return err.err === ERR_RANGE ? 'value out of range' : 'parse error';
    throw err;
  }
}

/** strconv.ParseBool, or null where the flag package says "parse error". */
function parseGoBool(text: string): boolean | null {
  try {
    return parseBool(utf8ToByteString(text));
  } catch (err) {
    if (err instanceof NumError) return null;
    throw err;
  }
}

/** Go's time.ParseDuration, in milliseconds ("10m0s", "1.5s", "100ms", "0", "-0", "5µs"); null when it does not parse. */
function parseGoDuration(text: string): number | null {
  try {
    return Number(parseDuration(utf8ToByteString(text))) / 1e6;
  } catch (err) {
    if (err instanceof DurationError) return null;
    throw err;
  }
}

/** What the flag's Set would say about a value: null when it is accepted. */
function valueError(spec: FlagSpec, value: string): string | null {
  switch (spec.kind) {
    case 'int':
    case 'uint': {
      const n = parseGoInteger(value, spec.kind === 'int');
      return typeof n === 'bigint' ? null : n;
    }
    case 'bool':
      return parseGoBool(value) === null ? 'parse error' : null;
    case 'urls':
      return spec.emptyAllowed === true && value === '' ? null : urlsError(value);
    case 'string':
      return spec.choices !== undefined && !spec.choices.includes(value) ? 'invalid value' : null;
  }
}

/**
 * etcd's types.NewURLs checks for a comma-separated list, with etcd's texts; etcd-ts listens on no unix sockets. The
 * listeners then parse each URL with WHATWG's parser, which refuses a few that Go takes (an empty host, a port past
 * 65535): those are refused here too rather than when listening.
 */
function urlsError(value: string): string | null {
  const problem = newUrlsError(value.split(',').map(utf8ToByteString), ['http', 'https']);
  if (problem !== null) return byteStringToUtf8(problem);
  for (const u of value.split(',').map((x) => x.trim())) {
    if (!URL.canParse(u) || new URL(u).hostname === '') return `URL address does not have the form "host:port": ${u}`;
  }
  return null;
}

/**
 * Parses etcd's command line the way Go's flag package does (-flag, --flag, -flag=value, --flag value; parsing stops
 * at the first non-flag argument or after "--"), then fills unset flags from non-empty ETCD_* variables.
 */
export function parseFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  const given = new Map<string, string>();
  const warnings: string[] = [];
  let version = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.length < 2 || arg[0] !== '-') break; // the first non-flag argument ends the flags
    if (arg === '--') {
      i++;
      break;
    }
    const dashes = arg[1] === '-' ? 2 : 1;
    let name = arg.slice(dashes);
    if (name.length === 0 || name[0] === '-' || name[0] === '=') throw new ConfigError(`bad flag syntax: ${arg}`, 2);
    let value: string | undefined;
    const eq = name.indexOf('=', 1);
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name === 'version') {
      if (value !== undefined && valueError({ kind: 'bool', default: '', help: '' }, value) !== null) {
        throw new ConfigError(`invalid boolean value "${value}" for -${name}: parse error`, 2);
      }
      version = value === undefined || parseGoBool(value) === true;
      continue;
    }
    const spec = FLAGS[name];
    if (!spec) {
      if (name === 'help' || name === 'h') {
        // Go stops at -h/-help: the rest of the command line is not looked at
        return { ...parseFlags([], {}), help: true };
      }
      throw new ConfigError(`flag provided but not defined: -${name}`, 2);
    }
    if (spec.kind === 'bool') {
      if (value !== undefined && valueError(spec, value) !== null) throw new ConfigError(`invalid boolean value "${value}" for -${name}: parse error`, 2);
      value ??= 'true';
    } else if (value === undefined) {
      if (i + 1 >= argv.length) throw new ConfigError(`flag needs an argument: -${name}`, 2);
      value = argv[++i]!;
    }
    const problem = valueError(spec, value);
    if (problem !== null) throw new ConfigError(`invalid value "${value}" for flag -${name}: ${problem}`, 2);
    given.set(name, value);
  }
  if (i < argv.length) throw new ConfigError(`'${argv[i]}' is not a valid flag`);
  if (version) return { ...parseFlags([], {}), version: true };
  // As etcd's flags.SetFlagsFromEnv: flags in name order, empty variables ignored (as if unset), the last bad value
  // reported; then unknown ETCD_* variables and shadowed ones are warned about.
  let envError: ConfigError | null = null;
  for (const flag of Object.keys(FLAGS).sort()) {
    const key = envName(flag);
    const value = env[key];
    if (value === undefined || value === '') continue;
    if (given.has(flag)) {
      warnings.push(`recognized environment variable ${key}, but unused: shadowed by corresponding flag`);
      continue;
    }
    const problem = valueError(FLAGS[flag]!, value);
    if (problem !== null) envError = new ConfigError(`invalid value "${value}" for ${key}: ${problem}`);
    else given.set(flag, value);
  }
  const known = new Set(Object.keys(FLAGS).map(envName));
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('ETCD_') && value !== undefined && value !== '' && !known.has(key)) warnings.push(`unrecognized environment variable ${key}=${value}`);
  }
  if (envError !== null) throw envError;
  const raw = (flag: string): string => given.get(flag) ?? FLAGS[flag]!.default;
  const name = raw('name');
  const str = (flag: string): string => raw(flag).replace('${name}', name);
  /** Values were checked when set; beyond Number's safe range they only ever fail the limit checks below. */
  const int = (flag: string): number => {
    const n = parseGoInteger(raw(flag), FLAGS[flag]!.kind === 'int');
    if (typeof n !== 'bigint') throw new ConfigError(`invalid value "${raw(flag)}" for flag -${flag}: ${n}`, 2);
    return Number(n);
  };
  const urls = (flag: string): string[] => {
    if (FLAGS[flag]!.emptyAllowed === true && raw(flag) === '') return [];
    const problem = urlsError(raw(flag));
    if (problem !== null) throw new ConfigError(`invalid value "${raw(flag)}" for flag -${flag}: ${problem}`, 2);
    return raw(flag).split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  };
  const state = str('initial-cluster-state') as 'new' | 'existing';
  const mode = str('auto-compaction-mode');
  if (mode !== 'periodic' && mode !== 'revision') throw new ConfigError(`invalid auto-compaction-mode "${mode}"`);
  const heartbeat = int('heartbeat-interval');
  const election = int('election-timeout');
  if (heartbeat <= 0) throw new ConfigError('--heartbeat-interval must be > 0');
  if (election < 5 * heartbeat) throw new ConfigError(`--election-timeout[${election}ms] should be at least as 5 times as --heartbeat-interval[${heartbeat}ms]`);
  if (election > 50000) throw new ConfigError(`--election-timeout[${election}ms] is too long, and should be set less than 50000ms`);
  const quota = int('quota-backend-bytes');
  let limits: Limits;
  try {
    limits = validateLimits({
      ...DEFAULT_LIMITS,
      requestBytesMax: int('max-request-bytes'),
      txnOpsMax: int('max-txn-ops'),
      compactionBatchKeysMax: int('experimental-compaction-batch-limit'),
      backendQuotaBytes: quota <= 0 ? 2 * GiB : quota,
      requestTimeoutMs: 5000 + 2 * election,
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const duration = (flag: string, min: number): number => {
    const ms = parseGoDuration(str(flag));
    if (ms === null) throw new ConfigError(`invalid value "${str(flag)}" for flag -${flag}: parse error`, 2);
    if (ms < min) throw new ConfigError(`--${flag} must be at least ${min}ms`);
    return ms;
  };
  const watchProgressNotifyIntervalMs = duration('experimental-watch-progress-notify-interval', 100);
  const leaseCheckpointIntervalMs = duration('lease-checkpoint-interval', 0);
  const workerThreadsFlag = int('worker-threads');
  if (workerThreadsFlag < -1 || workerThreadsFlag > 256) throw new ConfigError('--worker-threads must be -1 (cores - 1), 0 or a count up to 256');
  const workerThreads = workerThreadsFlag === -1 ? Math.max(1, os.availableParallelism() - 1) : workerThreadsFlag;
  const listenClientHttpUrls = urls('listen-client-http-urls');
  // etcd's Config.Validate (checkBindURLs) on this flag; etcd-ts does not check its other listen URLs this way yet
  const bindProblem = checkBindUrlsError(listenClientHttpUrls.map(utf8ToByteString));
  if (bindProblem !== null) throw new ConfigError(byteStringToUtf8(bindProblem));
  const auth = authSettings(int, str, warnings);
  const snapshotCount = int('snapshot-count');
  if (snapshotCount <= 0) throw new ConfigError('--snapshot-count must be > 0');
  const config: Config = Object.freeze({
    name,
    dataDir: str('data-dir'),
    listenClientUrls: urls('listen-client-urls'),
    listenClientHttpUrls,
    advertiseClientUrls: urls('advertise-client-urls'),
    listenClientBinaryUrls: urls('listen-client-binary-urls'),
    listenPeerUrls: urls('listen-peer-urls'),
    initialAdvertisePeerUrls: urls('initial-advertise-peer-urls'),
    initialCluster: str('initial-cluster'),
    initialClusterState: state,
    initialClusterToken: str('initial-cluster-token'),
    heartbeatIntervalMs: heartbeat,
    electionTimeoutMs: election,
    snapshotCount,
    autoCompactionMode: mode,
    autoCompactionRetention: str('auto-compaction-retention'),
    logLevel: str('log-level'),
    watchProgressNotifyIntervalMs,
    leaseCheckpointIntervalMs,
    workerThreads,
    limits,
    ...auth,
  });
  return { config, warnings, help: false, version: false };
}

/** The auth flags; a --bcrypt-cost outside bcrypt's bounds is replaced by the default, with etcd's warning. */
function authSettings(
  int: (flag: string) => number,
  str: (flag: string) => string,
  warnings: string[],
): Pick<Config, 'authToken' | 'authTokenTtlSeconds' | 'bcryptCost'> {
  let bcryptCost = int('bcrypt-cost');
  if (bcryptCost < BCRYPT_COST_MIN || bcryptCost > BCRYPT_COST_MAX) {
    warnings.push('use default bcrypt cost instead of the invalid given cost');
    bcryptCost = BCRYPT_COST_DEFAULT;
  }
  return { authToken: str('auth-token'), authTokenTtlSeconds: int('auth-token-ttl'), bcryptCost };
}

export function usage(): string {
  const lines = ['Usage:', '', '  etcd-ts [flags]', '    Start an etcd-ts member.', '', 'Flags (each also readable from ETCD_<FLAG_NAME>):'];
  for (const [name, spec] of Object.entries(FLAGS)) {
    lines.push(`  --${name} '${spec.default}'`, `      ${spec.help}`);
  }
  return lines.join('\n') + '\n';
}
