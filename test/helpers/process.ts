// Running `etcd-ts` (and the real `etcd`) with exactly the arguments and environment a test chooses, and reading a
// child's memory use from /proc.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { ETCD_TS_BIN } from './member.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment without any ETCD_* variable of the test runner's own, plus `env`. */
export function cleanEnv(env: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ETCD_')) out[k] = v;
  return { ...out, ...env };
}

/**
 * Runs a command to completion. A process still running after `timeoutMs` is killed and reported with its signal;
 * tests use this for commands that are expected to exit on their own (start-up failures), so a hang fails the test.
 */
export function run(command: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(opts.env), cwd: opts.cwd });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
  return new Promise((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

export function runEtcdTsWith(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(process.execPath, [ETCD_TS_BIN, ...args], opts);
}

export interface ServingChild {
  child: ChildProcess;
  endpoint: string;
  stderr(): string;
  /** Stops the child (SIGKILL unless told otherwise) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `etcd-ts` with exactly `args` (no implicit --data-dir) and waits for its "ready" log line. The child must be
 * given a binary listen URL on port 0 through a flag or ETCD_LISTEN_CLIENT_BINARY_URLS.
 */
export async function startEtcdTsWith(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<ServingChild> {
  const child = spawn(process.execPath, [ETCD_TS_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv(opts.env), cwd: opts.cwd });
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const m = /"binary-client-urls":\["https?:\/\/([^"]+)"/.exec(err);
      if (m) resolve(m[1]!);
    });
    void exited.then(({ code, signal }) => reject(new Error(`etcd-ts exited (${code ?? signal}) before serving: ${err}`)));
  });
  return {
    child,
    endpoint,
    stderr: () => err,
    stop(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Peak resident set size of a live process, in bytes (Linux /proc). */
export function peakRssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Current resident memory of a live process (Linux /proc): all of it, and the anonymous part (heap, buffers; not
 * file pages such as LMDB's memory map). */
export function rssBytes(pid: number): { rss: number; anon: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon') };
}
