// Real multi-process clusters on loopback for tests: each member is a child `etcd-ts` with its own data directory,
// peer port and binary client port. Members can be killed with SIGKILL and restarted on the same data.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '../../src/client/index.js';
import { freePort } from './etcd.js';
import { ETCD_TS_BIN, tempDir } from './member.js';

export interface ClusterMember {
  name: string;
  dataDir: string;
  peerPort: number;
  clientPort: number;
  endpoint: string;
  child: ChildProcess | null;
  log: string;
}

export class TestCluster {
  private constructor(
    readonly root: string,
    readonly members: ClusterMember[],
    private readonly extraFlags: string[],
  ) {}

  static async start(size: number, extraFlags: string[] = []): Promise<TestCluster> {
    const root = tempDir('etcd-ts-cluster-');
    const members: ClusterMember[] = [];
    for (let i = 0; i < size; i++) {
      const clientPort = await freePort();
      const peerPort = await freePort();
      members.push({ name: `m${i + 1}`, dataDir: path.join(root, `m${i + 1}`), peerPort, clientPort, endpoint: `127.0.0.1:${clientPort}`, child: null, log: '' });
    }
    const cluster = new TestCluster(root, members, extraFlags);
    for (const m of members) cluster.spawn(m);
    return cluster;
  }

  /** A new member process for a cluster that already exists (after MemberAdd), as etcd's runtime reconfiguration. */
  async addMember(name: string): Promise<ClusterMember> {
    const m: ClusterMember = { name, dataDir: path.join(this.root, name), peerPort: await freePort(), clientPort: await freePort(), endpoint: '', child: null, log: '' };
    m.endpoint = `127.0.0.1:${m.clientPort}`;
    return m;
  }

  startJoining(m: ClusterMember): void {
    this.members.push(m);
    this.spawn(m, ['--initial-cluster-state', 'existing']);
  }

  /** The flags of a member, as spawn uses them (tests start variants of it by hand). */
  argsFor(m: ClusterMember, flags: string[] = []): string[] {
    const initialCluster = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(',');
    return [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-binary-urls', `http://127.0.0.1:${m.clientPort}`, '--listen-client-urls', 'http://127.0.0.1:0',
      '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-cluster', initialCluster,
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      ...this.extraFlags,
      ...flags,
    ];
  }

  private spawn(m: ClusterMember, flags: string[] = [], env: Record<string, string> = {}): void {
    const child = spawn(
      process.execPath,
      [ETCD_TS_BIN, ...this.argsFor(m, flags)],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
    );
    child.stderr!.on('data', (c: Buffer) => {
      m.log += c.toString();
      if (m.log.length > 200_000) m.log = m.log.slice(-100_000);
    });
    m.child = child;
  }

  client(m: ClusterMember): Client {
    return new Client({ endpoints: [m.endpoint], dialTimeoutMs: 1000, requestTimeoutMs: 10_000 });
  }

  async kill(m: ClusterMember): Promise<void> {
    const child = m.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    m.child = null;
  }

  /** Drops a member removed from the cluster from the list later members are started with (--initial-cluster). */
  forget(m: ClusterMember): void {
    const i = this.members.indexOf(m);
    if (i >= 0) this.members.splice(i, 1);
  }

  /** Starts a killed member again on its data directory; `env` is added to its environment (e.g. failpoints). */
  restart(m: ClusterMember, env: Record<string, string> = {}): void {
    this.spawn(m, [], env);
  }

  /** Status of every live member that answers. */
  async statuses(): Promise<Map<string, { leader: bigint; applied: number; term: number; revision: number }>> {
    const out = new Map<string, { leader: bigint; applied: number; term: number; revision: number }>();
    await Promise.all(
      this.members
        .filter((m) => m.child !== null)
        .map(async (m) => {
          const c = this.client(m);
          try {
            const s = await c.status();
            out.set(m.name, { leader: s.leader, applied: s.raftAppliedIndex, term: s.raftTerm, revision: s.header.revision });
          } catch {
            // not up yet
          } finally {
            c.destroy();
          }
        }),
    );
    return out;
  }

  /** Waits until every live member reports the same leader; returns that member. */
  async waitForLeader(timeoutMs = 20_000): Promise<ClusterMember> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.statuses();
      const live = this.members.filter((m) => m.child !== null);
      const leaders = new Set([...s.values()].map((x) => x.leader));
      if (s.size === live.length && leaders.size === 1 && !leaders.has(0n)) {
        const leaderId = [...leaders][0]!;
        for (const m of live) {
          const c = this.client(m);
          try {
            const st = await c.status();
            if (st.header.member_id === leaderId) return m;
          } finally {
            c.destroy();
          }
        }
      }
      if (Date.now() > deadline) {
        // each member's last log lines (exit code, warnings such as a stalled apply) say why it did not answer
        const logs = this.members.map((m) => `--- ${m.name} (exit ${m.child?.exitCode ?? m.child?.signalCode ?? 'running'}):\n${m.log.slice(-2000)}`).join('\n');
        throw new Error(`no agreed leader within ${timeoutMs} ms: ${JSON.stringify([...s].map(([k, v]) => [k, v.leader.toString(16), v.term]))}\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits until every live member has applied the same index. */
  async waitForConvergence(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.statuses();
      const live = this.members.filter((m) => m.child !== null);
      const applied = new Set([...s.values()].map((x) => x.applied));
      if (s.size === live.length && applied.size === 1) return;
      if (Date.now() > deadline) throw new Error(`members did not converge: ${JSON.stringify([...s].map(([k, v]) => [k, v.applied]))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m)));
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
