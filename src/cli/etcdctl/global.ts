// etcdctl's global flags and the client configuration built from them (ctlv3/ctl.go, command/global.go): in
// etcdctl's order, environment variables first, then endpoints, timeouts, TLS and auth checks, then the output format.

import type { Command } from './command.js';
import { Connection, deadlineAfter, type Credentials, type Deadline } from './connection.js';
import { setFlagsFromEnv, flagToEnv } from './env.js';
import {
  BoolValue,
  DiscardValue,
  Flag,
  DurationValue,
  StringSliceValue,
  StringValue,
  boolFlag,
  durationFlag,
  stringFlag,
  stringSliceFlag,
} from './flags.js';
import { type ByteString, byteStringToUtf8, trimSpace } from '../../gocompat/index.js';
import { ExitCode, exitWithError, stderr, stdout } from './output.js';
import { newPrinter, SimplePrinter, type Printer } from './printers/index.js';
import type { ClientTlsOptions } from '../../client/index.js';
import { askPassword } from './prompt.js';
import fs from 'node:fs';

/** etcdctl-ts talks to etcd-ts's binary protocol port by default (etcdctl: 127.0.0.1:2379). */
export const DEFAULT_ENDPOINT = '127.0.0.1:2378';

const SECOND = 1_000_000_000n;

export function globalFlags(): Flag[] {
  return [
    stringSliceFlag('endpoints', [DEFAULT_ENDPOINT], 'gRPC endpoints'),
    boolFlag('debug', '', false, 'enable client-side debug logging'),
    stringFlag('write-out', 'w', 'simple', 'set the output format (fields, json, protobuf, simple, table)'),
    boolFlag('hex', '', false, 'print byte strings as hex encoded strings'),
    durationFlag('dial-timeout', 2n * SECOND, 'dial timeout for client connections'),
    durationFlag('command-timeout', 5n * SECOND, 'timeout for short running command (excluding dial timeout)'),
    durationFlag('keepalive-time', 2n * SECOND, 'keepalive time for client connections'),
    durationFlag('keepalive-timeout', 6n * SECOND, 'keepalive timeout for client connections'),
    boolFlag('insecure-transport', '', true, 'disable transport security for client connections'),
    boolFlag('insecure-discovery', '', true, 'accept insecure SRV records describing cluster endpoints'),
    boolFlag(
      'insecure-skip-tls-verify',
      '',
      false,
      'skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)',
    ),
    stringFlag('cert', '', '', 'identify secure client using this TLS certificate file'),
    stringFlag('key', '', '', 'identify secure client using this TLS key file'),
    stringFlag('cacert', '', '', 'verify certificates of TLS-enabled secure servers using this CA bundle'),
    stringFlag('user', '', '', 'username[:password] for authentication (prompt if password is not supplied)'),
    stringFlag(
      'password',
      '',
      '',
      "password for authentication (if this option is used, --user option shouldn't include password)",
    ),
    stringFlag('discovery-srv', 'd', '', 'domain name to query for SRV records describing cluster endpoints'),
    stringFlag('discovery-srv-name', '', '', 'service name to query when using DNS discovery'),
  ];
}

function flag(cmd: Command, name: string): Flag {
  const f = cmd.flags().lookup(name);
  if (f === undefined) throw new Error(`flag --${name} is not defined for ${cmd.commandPath()}`);
  return f;
}

export function getBool(cmd: Command, name: string): boolean {
  return (flag(cmd, name).value as BoolValue).value;
}
export function getString(cmd: Command, name: string): ByteString {
  return (flag(cmd, name).value as StringValue).value;
}
export function getDuration(cmd: Command, name: string): bigint {
  return (flag(cmd, name).value as DurationValue).value;
}
export function getStringSlice(cmd: Command, name: string): ByteString[] {
  return (flag(cmd, name).value as StringSliceValue).value;
}

// ---- the output format ----------------------------------------------------------------------------------------

let display: Printer = new SimplePrinter(false);

export function currentDisplay(): Printer {
  return display;
}

export function initDisplayFromCmd(cmd: Command): void {
  const isHex = getBool(cmd, 'hex');
  const format = getString(cmd, 'write-out');
  const printer = newPrinter(format, isHex);
  if (printer === null) exitWithError(ExitCode.BadFeature, 'unsupported output format');
  display = printer;
}

// ---- the client ---------------------------------------------------------------------------------------------------

export interface ClientConfig {
  endpoints: ByteString[];
  dialTimeoutNs: bigint;
}

/** commandCtx: the deadline of a short command, from --command-timeout as it is at the time of the call. */
export function commandDeadline(cmd: Command): Deadline {
  return deadlineAfter(getDuration(cmd, 'command-timeout'));
}

/** endpointsFromCmd (without DNS discovery, which etcdctl-ts does not do). */
export function endpointsFromCmd(cmd: Command): ByteString[] {
  if (getString(cmd, 'discovery-srv') !== '') {
    exitWithError(ExitCode.Error, 'etcdctl-ts does not support DNS discovery (--discovery-srv)');
  }
  return getStringSlice(cmd, 'endpoints').map(trimSpace);
}

/** keyAndCertFromCmd's checks. */
export function checkTlsFlags(cmd: Command): void {
  for (const name of ['cert', 'key', 'cacert']) {
    if (getString(cmd, name) === '' && flag(cmd, name).changed) {
      exitWithError(ExitCode.BadArgs, `empty string is passed to --${name} option`);
    }
  }
}

// ---- authentication: --user and --password (authCfgFromCmd) ---------------------------------------------------------

let credentials: Credentials | null = null;

/**
 * authCfgFromCmd: the user and password the client logs in with, kept for the connections the command makes. A user
 * without a password (neither after a colon nor in --password) is asked for one, as speakeasy asks. clientv3 logs in
 * only when both the name and the password are non-empty; otherwise it goes on without a token.
 */
export function checkAuthFlags(cmd: Command): void {
  credentials = null;
  const user = getString(cmd, 'user');
  const password = getString(cmd, 'password');
  if (user === '') return;
  let name = user;
  let secret = password;
  if (password === '') {
    const colon = user.indexOf(':');
    if (colon < 0) secret = askPassword('Password: ');
    else {
      name = user.slice(0, colon);
      secret = user.slice(colon + 1);
    }
  }
  if (name !== '' && secret !== '') credentials = { username: byteStringToUtf8(name), password: byteStringToUtf8(secret) };
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  EISDIR: 'is a directory',
};

/** ioutil.ReadFile, failing with Go's error text. */
function readFileGo(path: ByteString): string {
  try {
    return fs.readFileSync(Buffer.from(path, 'latin1')).toString('latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const op = code === 'EISDIR' ? 'read' : 'open';
    return exitWithError(ExitCode.BadArgs, `${op} ${path}: ${ERRNO_TEXT[code] ?? (err as Error).message}`);
  }
}

// ---- TLS (newClientCfg's TLS set-up) ------------------------------------------------------------------------

/**
 * newClientCfg's TLS set-up: the files are read and checked as etcd's transport.TLSInfo does (a bad one exits 128),
 * and TLS is configured when --cert, --key or --cacert is given or --insecure-transport=false; --insecure-skip-tls-verify
 * only applies to a TLS configuration (trap 9). Undefined: no TLS configuration, so endpoints without a scheme are
 * dialled in plaintext (https:// ones are TLS all the same, with the system's roots, as clientv3 does).
 */
function tlsFromCmd(cmd: Command): ClientTlsOptions | undefined {
  const cert = getString(cmd, 'cert');
  const key = getString(cmd, 'key');
  const cacert = getString(cmd, 'cacert');
  const options: ClientTlsOptions = {};
  if (cert !== '' || key !== '') {
    if (key === '' || cert === '') exitWithError(ExitCode.BadArgs, `KeyFile and CertFile must both be present[key: ${key}, cert: ${cert}]`);
    const certPem = readFileGo(cert);
    const keyPem = readFileGo(key);
    if (!certPem.includes('-----BEGIN')) exitWithError(ExitCode.BadArgs, 'tls: failed to find any PEM data in certificate input');
    if (!keyPem.includes('-----BEGIN')) exitWithError(ExitCode.BadArgs, 'tls: failed to find any PEM data in key input');
    options.cert = Buffer.from(certPem, 'latin1');
    options.key = Buffer.from(keyPem, 'latin1');
  }
  if (cacert !== '') options.ca = Buffer.from(readFileGo(cacert), 'latin1');
  if (cert === '' && key === '' && cacert === '' && getBool(cmd, 'insecure-transport')) return undefined;
  if (getBool(cmd, 'insecure-skip-tls-verify')) options.insecureSkipVerify = true;
  return options;
}

/** clientConfigFromCmd */
export function clientConfigFromCmd(cmd: Command): ClientConfig {
  const inherited = cmd.inheritedFlags();
  if (cmd.use.startsWith('watch')) {
    // etcdctl silences "unrecognized environment variable ETCDCTL_WATCH_KEY/RANGE_END" this way (and --debug lists them)
    inherited.add(new Flag('watch-key', '', new DiscardValue(), 'watch key'));
    inherited.add(new Flag('watch-range-end', '', new DiscardValue(), 'watch range end'));
  }
  setFlagsFromEnv('ETCDCTL', inherited);
  if (getBool(cmd, 'debug')) {
    for (const f of inherited.sorted()) stderr(`${flagToEnv('ETCDCTL', f.name)}=${f.value.string()}\n`);
  }
  const endpoints = endpointsFromCmd(cmd);
  const dialTimeoutNs = getDuration(cmd, 'dial-timeout');
  checkTlsFlags(cmd);
  checkAuthFlags(cmd);
  initDisplayFromCmd(cmd);
  return { endpoints, dialTimeoutNs };
}

/**
 * A connection for the given endpoints; clientv3.New fails only when there is no endpoint at all, or (at the first
 * request here) when it cannot log in. `auth`: the credentials of --user (checkAuthFlags), or null for none.
 */
export function connect(endpoints: ByteString[], dialTimeoutNs: bigint, cmd: Command, auth: Credentials | null = credentials): Connection {
  const tls = tlsFromCmd(cmd);
  if (endpoints.length === 0) exitWithError(ExitCode.BadConnection, 'etcdclient: no available endpoints');
  return new Connection(endpoints, Number(dialTimeoutNs / 1_000_000n), tls, auth);
}

/** mustClientFromCmd */
export function mustClientFromCmd(cmd: Command): Connection {
  const cfg = clientConfigFromCmd(cmd);
  return connect(cfg.endpoints, cfg.dialTimeoutNs, cmd);
}
