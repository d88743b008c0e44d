#!/usr/bin/env node
// `etcd-ts`: runs one member. Flags and ETCD_* variables as etcd's (see src/config/flags.ts).

import { AuthTokenOptionsError } from '../auth/index.js';
import { ConfigError, parseFlags, usage } from '../config/index.js';
import { StorageError } from '../storage/index.js';
import { SERVER_VERSION } from '../server/index.js';
import { startMember, type Member } from './member.js';

function log(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ level, ts: new Date().toISOString(), caller: 'etcd-ts', msg, ...fields }) + '\n');
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      // as etcd: a parse error is followed by the usage (exit 2); a refused setting is one line (exit 1)
      if (err.exitCode === 2) process.stderr.write(`${err.message}\n${usage()}`);
      else process.stderr.write(`error verifying flags, ${err.message}. See 'etcd-ts --help'.\n`);
      return err.exitCode;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (parsed.version) {
    process.stdout.write(`etcd-ts Version: ${process.env.npm_package_version ?? '0.1.0'}\netcd API Version: ${SERVER_VERSION}\nNode.js Version: ${process.version}\n`);
    return 0;
  }
  for (const w of parsed.warnings) log('warn', w);
  const config = parsed.config;
  // ---- auth: etcd's start-up line for the default token type ----
  if (config.authToken === 'simple') log('warn', 'simple token is not cryptographically signed');
  let member;
  let starting: Promise<Member> | null = null;
  let fatal = false;
  try {
    starting = startMember(config, {
      // A member that cannot go on (removed from the cluster, storage failure) exits with 1, as etcd does, but only
      // once it is closed: process.exit() joins libuv's thread pool, where lmdb-js's writer may be waiting inside a
      // write transaction for this thread to run its callback; the exit then hung for good, or crashed (SIGSEGV).
      onFatal: (err) => {
        if (fatal) return;
        fatal = true;
        log('fatal', 'member stopped', { error: err.message });
        void Promise.resolve()
          .then(() => starting)
          .then((m) => m?.close(), () => {})
          .finally(() => process.exit(1));
      },
    });
    member = await starting;
  } catch (err) {
    if (err instanceof StorageError) {
      log('fatal', 'failed to open data directory', { 'data-dir': config.dataDir, error: err.message });
      return 1;
    }
    // ---- auth: what etcd logs before a refused --auth-token ----
    if (err instanceof AuthTokenOptionsError) for (const line of err.logs) log('error', line);
    log('fatal', 'failed to start member', { error: (err as Error).message });
    return 1;
  }
  log('info', 'ready to serve client requests', {
    name: config.name,
    'data-dir': member.storage.dataDir,
    'member-id': member.server.memberId.toString(16),
    'cluster-id': member.server.clusterId.toString(16),
    'binary-client-urls': member.binaryAddresses.map((a) => `http://${a.host}:${a.port}`),
    'client-urls': member.clientAddresses.map((a) => `http://${a.host}:${a.port}`),
    ...(config.listenClientHttpUrls.length > 0 ? { 'client-http-urls': member.httpAddresses.map((a) => `http://${a.host}:${a.port}`) } : {}),
    revision: member.server.revision,
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log('info', 'received signal; shutting down', { signal });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await member.close();
  return fatal ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log('fatal', 'unexpected error', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  },
);
