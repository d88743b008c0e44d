// Starting etcd-ts and a real etcd on loopback for the benchmarks: one member or a cluster of several, each member a
// child process with a fresh data directory, a log file, and ports picked so that servers other people run on this
// machine are not disturbed (a preferred port another process holds is replaced by a free one). Members can be
// killed with SIGKILL and restarted on the same data (failover.ts).
//
// Pure Node: no imports from src/ (the servers run as separate processes).

import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export type System = 'etcd-ts' | 'etcd';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The preferred port when free and not handed out already in this process, else a free one. */
const handedOut = new Set<number>();
export async function freePort(preferred: number): Promise<number> {
  let port = preferred > 0 && !handedOut.has(preferred) && (await portIsFree(preferred)) ? preferred : 0;
  while (port === 0 || handedOut.has(port)) port = await anyFreePort();
  handedOut.add(port);
  return port;
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  command: string;
  exited: Promise<void>;
  /** SIGTERM, then SIGKILL after 15 s */
  stop(): Promise<void>;
  /** SIGKILL; resolves once the process is gone */
  kill(): Promise<void>;
}

export function launch(cmd: string, args: string[], logFile: string, append = false): Proc {
  const log = fs.openSync(logFile, append ? 'a' : 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', log, log], cwd: repoRoot });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    pid: child.pid!,
    command: [cmd, ...args].join(' '),
    exited,
    async stop(): Promise<void> {
      if (gone()) return;
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    async kill(): Promise<void> {
      if (gone()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) during start-up`);
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

export interface Member {
  name: string;
  /** host:port of the client endpoint (etcd-ts: binary protocol; etcd: gRPC and the JSON gateway) */
  endpoint: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  logFile: string;
  proc: Proc | null;
}

export interface ClusterOptions {
  system: System;
  members: number;
  /** directory for data directories and logs */
  dataRoot: string;
  /** a word in data-directory and log names, e.g. the workload */
  tag: string;
  /** etcd binary (etcd only) */
  etcd?: string;
  /** extra flags for every member */
  extraArgs?: string[];
  /** etcd-ts members run under node --cpu-prof into this directory */
  profileDir?: string | null;
  heartbeatMs?: number;
  electionMs?: number;
}

/** Preferred ports (as before for one member: etcd-ts 23780, etcd 23790 and peer 23800). */
const PORTS: Record<System, { client: number; peer: number }> = {
  'etcd-ts': { client: 23780, peer: 23880 },
  etcd: { client: 23790, peer: 23800 },
};

export class Cluster {
  private constructor(
    readonly options: ClusterOptions,
    readonly members: Member[],
  ) {}

  static async start(o: ClusterOptions): Promise<Cluster> {
    const members: Member[] = [];
    const base = PORTS[o.system];
    const short = o.system === 'etcd-ts' ? 'ts' : 'etcd';
    for (let i = 0; i < o.members; i++) {
      const name = o.members === 1 ? 'default' : `m${i + 1}`;
      const suffix = o.members === 1 ? '' : `-m${i + 1}`;
      const clientPort = await freePort(base.client + (o.members === 1 ? 0 : i + 1));
      // etcd's single member keeps its historical peer port 23800; cluster members use 23801...
      const peerPort = await freePort(base.peer + (o.members === 1 ? 0 : i + 1));
      const dataDir = path.join(o.dataRoot, `bench-${short}${suffix}`);
      fs.rmSync(dataDir, { recursive: true, force: true });
      members.push({
        name,
        endpoint: `127.0.0.1:${clientPort}`,
        clientPort,
        peerPort,
        dataDir,
        logFile: path.join(o.dataRoot, `bench-${short}-${o.tag}${suffix}.log`),
        proc: null,
      });
    }
    const c = new Cluster(o, members);
    try {
      for (const m of members) m.proc = c.spawnMember(m, false);
      await Promise.all(members.map((m) => c.waitReady(m, 0)));
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** PIDs of the live members. */
  get pids(): number[] {
    return this.members.flatMap((m) => (m.proc === null ? [] : [m.proc.pid]));
  }

  /** The command line of the first member (the others differ only in names, ports and directories). */
  get command(): string {
    const p = this.members[0]!.proc;
    return p === null ? '' : p.command.replace(process.execPath, 'node');
  }

  private args(m: Member): string[] {
    const o = this.options;
    const peer = `http://127.0.0.1:${m.peerPort}`;
    const initialCluster = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(',');
    const timing = [
      ...(o.heartbeatMs === undefined ? [] : ['--heartbeat-interval', String(o.heartbeatMs)]),
      ...(o.electionMs === undefined ? [] : ['--election-timeout', String(o.electionMs)]),
    ];
    if (o.system === 'etcd-ts') {
      return [
        ...(this.members.length === 1 ? [] : ['--name', m.name]),
        '--data-dir', m.dataDir,
        '--listen-client-binary-urls', `http://${m.endpoint}`, '--listen-client-urls', 'http://127.0.0.1:0',
        ...(this.members.length === 1
          ? []
          : ['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', initialCluster]),
        ...timing,
        ...(o.extraArgs ?? []),
      ];
    }
    const client = `http://${m.endpoint}`;
    return [
      ...(this.members.length === 1 ? [] : ['--name', m.name]),
      '--data-dir', m.dataDir,
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', initialCluster,
      ...timing,
      ...(o.extraArgs ?? []),
    ];
  }

  private spawnMember(m: Member, append: boolean): Proc {
    const o = this.options;
    if (o.system === 'etcd-ts') {
      const nodeArgs = o.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : [];
      return launch(process.execPath, [...nodeArgs, 'dist/src/cli/etcd-ts.js', ...this.args(m)], m.logFile, append);
    }
    return launch(o.etcd ?? 'etcd', this.args(m), m.logFile, append);
  }

  /** Ready = our own child logged it (a health check alone could be answered by someone else's server on the port). */
  private async waitReady(m: Member, logOffset: number): Promise<void> {
    const proc = m.proc!;
    const logged = (): boolean => {
      const text = fs.readFileSync(m.logFile, 'utf8');
      return text.indexOf('ready to serve client requests', logOffset) >= 0;
    };
    if (this.options.system === 'etcd-ts') {
      await waitFor(`etcd-ts ${m.name}`, logged, proc.child);
      return;
    }
    await waitFor(`etcd ${m.name}`, async () => {
      if (!logged()) return false;
      try {
        const r = await fetch(`http://${m.endpoint}/health`, { signal: AbortSignal.timeout(2000) });
        return r.ok && ((await r.json()) as { health?: string }).health === 'true';
      } catch {
        return false;
      }
    }, proc.child);
  }

  /** SIGKILL one member; returns when it is gone. */
  async kill(m: Member): Promise<void> {
    await m.proc?.kill();
    m.proc = null;
  }

  /** Restarts a killed member on its data directory; resolves when it reports ready. */
  async restart(m: Member): Promise<void> {
    if (m.proc !== null) throw new Error(`${m.name} is running`);
    const offset = fs.existsSync(m.logFile) ? fs.statSync(m.logFile).size : 0;
    m.proc = this.spawnMember(m, true);
    await this.waitReady(m, offset);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map(async (m) => {
      await m.proc?.stop();
      m.proc = null;
    }));
  }
}
