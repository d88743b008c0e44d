// etcd's command-line flags and ETCD_* environment variables -> one validated, frozen Config.
// As in etcd: a flag wins over its environment variable; unknown ETCD_* variables are reported, not fatal.

import { DEFAULT_LIMITS, GiB, validateLimits, type Limits } from './limits.js';

export interface Config {
  readonly name: string;
  readonly dataDir: string;
  readonly listenClientUrls: readonly string[];
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
  readonly limits: Limits;
}

type Kind = 'string' | 'int' | 'bool' | 'urls';
interface FlagSpec {
  kind: Kind;
  default: string;
  help: string;
}

/** Flags by etcd's names; defaults as etcd's, except the binary protocol which is ours. */
export const FLAGS: Record<string, FlagSpec> = {
  name: { kind: 'string', default: 'default', help: 'Human-readable name for this member.' },
  'data-dir': { kind: 'string', default: '${name}.etcd', help: 'Path to the data directory.' },
  'listen-client-urls': { kind: 'urls', default: 'http://127.0.0.1:2379', help: 'URLs to listen on for HTTP/JSON client traffic (served by a later release).' },
  'advertise-client-urls': { kind: 'urls', default: 'http://127.0.0.1:2379', help: "This member's client URLs to advertise to the public." },
  'listen-client-binary-urls': { kind: 'urls', default: 'http://127.0.0.1:2378', help: 'URLs to listen on for the binary client protocol (http:// plaintext).' },
  'listen-peer-urls': { kind: 'urls', default: 'http://localhost:2380', help: 'URLs to listen on for peer traffic.' },
  'initial-advertise-peer-urls': { kind: 'urls', default: 'http://localhost:2380', help: "This member's peer URLs to advertise to the rest of the cluster." },
  'initial-cluster': { kind: 'string', default: '${name}=http://localhost:2380', help: 'Initial cluster configuration for bootstrapping.' },
  'initial-cluster-state': { kind: 'string', default: 'new', help: "Initial cluster state ('new' or 'existing')." },
  'initial-cluster-token': { kind: 'string', default: 'etcd-cluster', help: 'Initial cluster token for the etcd cluster during bootstrap.' },
  'heartbeat-interval': { kind: 'int', default: '100', help: 'Time (in milliseconds) of a heartbeat interval.' },
  'election-timeout': { kind: 'int', default: '1000', help: 'Time (in milliseconds) for an election to timeout.' },
  'snapshot-count': { kind: 'int', default: '100000', help: 'Number of committed transactions to trigger a snapshot to disk.' },
  'max-request-bytes': { kind: 'int', default: String(DEFAULT_LIMITS.requestBytesMax), help: 'Maximum client request size in bytes the server will accept.' },
  'max-txn-ops': { kind: 'int', default: String(DEFAULT_LIMITS.txnOpsMax), help: 'Maximum number of operations permitted in a transaction.' },
  'quota-backend-bytes': { kind: 'int', default: '0', help: 'Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).' },
  'auto-compaction-mode': { kind: 'string', default: 'periodic', help: "Interpret 'auto-compaction-retention' one of: 'periodic', 'revision'." },
  'auto-compaction-retention': { kind: 'string', default: '0', help: 'Auto compaction retention (0 = off).' },
  'log-level': { kind: 'string', default: 'info', help: "Configures log level. Only supports debug, info, warn, error, panic, or fatal." },
};

export class ConfigError extends Error {}

export interface ParseResult {
  config: Config;
  warnings: string[];
  help: boolean;
  version: boolean;
}

function envName(flag: string): string {
  return 'ETCD_' + flag.toUpperCase().replace(/-/g, '_');
}

export function parseFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  const given = new Map<string, string>();
  const warnings: string[] = [];
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) throw new ConfigError(`'${arg}' is not a valid flag`);
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === 'help' || name === 'h') { help = true; continue; }
    if (name === 'version') { version = true; continue; }
    const spec = FLAGS[name];
    if (!spec) throw new ConfigError(`flag provided but not defined: -${name}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else if (spec.kind === 'bool') value = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError(`flag needs an argument: -${name}`);
      value = next;
      i++;
    }
    given.set(name, value);
  }
  const known = new Set(Object.keys(FLAGS).map(envName));
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('ETCD_') || value === undefined) continue;
    if (!known.has(key)) { warnings.push(`unrecognized environment variable ${key}=${value}`); continue; }
    const flag = key.slice(5).toLowerCase().replace(/_/g, '-');
    if (given.has(flag)) warnings.push(`recognized environment variable ${key}, but unused: shadowed by corresponding flag`);
    else given.set(flag, value);
  }
  const raw = (flag: string): string => given.get(flag) ?? FLAGS[flag]!.default;
  const name = raw('name');
  const str = (flag: string): string => raw(flag).replace('${name}', name);
  const int = (flag: string): number => {
    const v = raw(flag);
    if (!/^-?\d+$/.test(v)) throw new ConfigError(`invalid value "${v}" for flag -${flag}: parse error`);
    return Number(v);
  };
  const urls = (flag: string): string[] => {
    const list = raw(flag).split(',').map((u) => u.trim()).filter((u) => u.length > 0);
    for (const u of list) {
      let parsed: URL;
      try { parsed = new URL(u); } catch { throw new ConfigError(`invalid value "${raw(flag)}" for flag -${flag}: URL address does not have the form "host:port": ${u}`); }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw new ConfigError(`invalid value "${raw(flag)}" for flag -${flag}: URL scheme must be http or https: ${u}`);
      }
      if (parsed.port === '') throw new ConfigError(`invalid value "${raw(flag)}" for flag -${flag}: URL address does not have the form "host:port": ${u}`);
    }
    return list;
  };
  const state = str('initial-cluster-state');
  if (state !== 'new' && state !== 'existing') throw new ConfigError(`invalid value "${state}" for flag -initial-cluster-state: invalid value`);
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
      backendQuotaBytes: quota <= 0 ? 2 * GiB : quota,
      requestTimeoutMs: 5000 + 2 * election,
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const snapshotCount = int('snapshot-count');
  if (snapshotCount <= 0) throw new ConfigError('--snapshot-count must be > 0');
  const config: Config = Object.freeze({
    name,
    dataDir: str('data-dir'),
    listenClientUrls: urls('listen-client-urls'),
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
    limits,
  });
  return { config, warnings, help, version };
}

export function usage(): string {
  const lines = ['Usage:', '', '  etcd-ts [flags]', '    Start an etcd-ts member.', '', 'Flags (each also readable from ETCD_<FLAG_NAME>):'];
  for (const [name, spec] of Object.entries(FLAGS)) {
    lines.push(`  --${name} '${spec.default}'`, `      ${spec.help}`);
  }
  return lines.join('\n') + '\n';
}
