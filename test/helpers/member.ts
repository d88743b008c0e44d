// Test helpers for starting etcd-ts members: in-process (fast) or as a child process (for kill -9 and CLI tests).
// Every member listens on port 0 and gets its own temporary data directory unless one is given.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from '../../src/config/index.js';
import { startMember, type FrontEndOptions, type Member } from '../../src/cli/member.js';
import { Client } from '../../src/client/index.js';
import { ManualClock, systemClock, type Clock } from '../../src/clock/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/src/cli/etcd-ts.js, from dist/test/helpers */
export const ETCD_TS_BIN = path.resolve(here, '../../src/cli/etcd-ts.js');
export const ETCDCTL_TS_BIN = path.resolve(here, '../../src/cli/etcdctl-ts.js');

export function tempDir(prefix = 'etcd-ts-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface InProcessMember {
  member: Member;
  endpoint: string;
  dataDir: string;
  /** the member's clock (the system clock unless one was given) */
  clock: Clock;
  client(): Client;
  close(): Promise<void>;
}

export interface InProcessOptions {
  /**
   * The member's timers and deadlines (default: the system clock). With a ManualClock, time only moves when the test
   * advances it, and waits meanwhile for the member's proposals in flight (see waitOnMember).
   */
  clock?: Clock;
  /** front ends beyond those every member has (the gRPC one on the client port) */
  frontEnds?: FrontEndOptions;
}

/**
 * Makes a ManualClock wait, at each step, while the member has proposals in flight or apply transactions not yet
 * committed: their disk writes take real time, and manual time racing on meanwhile would expire what they are renewing,
 * time them out, or stamp a watch event that waits for the commit (a lease's revocation) late. Returns the undo.
 */
export function waitOnMember(clock: Clock, member: Member): () => void {
  return clock instanceof ManualClock ? clock.waitWhile(() => member.server.pendingProposals > 0 || member.server.applyInFlight) : () => {};
}

/** Starts a member in this process on an ephemeral port. */
export async function startInProcess(flags: string[] = [], dataDir?: string, options: InProcessOptions = {}): Promise<InProcessMember> {
  // A data directory we made is ours to remove on close; one the caller passed is left for the caller.
  const owned = dataDir === undefined ? tempDir() : null;
  dataDir ??= path.join(owned!, 'data');
  const { config } = parseFlags(['--data-dir', dataDir, '--listen-client-binary-urls', 'http://127.0.0.1:0', '--listen-client-urls', 'http://127.0.0.1:0', ...flags], {});
  const clock = options.clock ?? systemClock;
  const member = await startMember(config, {}, { clock }, options.frontEnds);
  const unwait = waitOnMember(clock, member);
  const addr = member.binaryAddresses[0]!;
  const endpoint = `127.0.0.1:${addr.port}`;
  const clients: Client[] = [];
  return {
    member,
    endpoint,
    dataDir,
    clock,
    client() {
      const c = new Client({ endpoints: [endpoint] });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      unwait();
      await member.close();
      if (owned !== null) fs.rmSync(owned, { recursive: true, force: true });
    },
  };
}

export interface ChildMember {
  child: ChildProcess;
  endpoint: string;
  dataDir: string;
  stderr(): string;
  /** resolves with the exit code (or signal) */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `etcd-ts` as a child process and waits until it reports its binary address. */
export async function startChild(flags: string[] = [], dataDir = path.join(tempDir(), 'data'), env: Record<string, string> = {}): Promise<ChildMember> {
  const child = spawn(
    process.execPath,
    [ETCD_TS_BIN, '--data-dir', dataDir, '--listen-client-binary-urls', 'http://127.0.0.1:0', '--listen-client-urls', 'http://127.0.0.1:0', ...flags],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`etcd-ts did not start in 20 s: ${err}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const m = /"binary-client-urls":\["https?:\/\/([^"]+)"/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`etcd-ts exited (${code ?? signal}) before serving: ${err}`));
    });
  });
  return {
    child,
    endpoint,
    dataDir,
    stderr: () => err,
    exited,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs etcd-ts to completion (for start-up failures); returns its exit code and output. */
export async function runEtcdTs(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [ETCD_TS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
