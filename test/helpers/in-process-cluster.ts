// A 3-member cluster in this process (each member with its own LMDB environment, Raft driver and peer transport on
// loopback), for tests that drive partitions through the transport's fault hooks and look inside the members.

import fs from 'node:fs';
import path from 'node:path';
import { parseFlags } from '../../src/config/index.js';
import { startMember, type Member } from '../../src/cli/member.js';
import { StateType } from '../../src/raft/index.js';
import { freePort } from './etcd.js';
import { tempDir } from './member.js';

export interface InProcessClusterMember {
  member: Member;
  endpoint: string;
}

/** Starts three members p1..p3; they are closed and their data removed after the test. */
export async function startInProcessCluster(
  t: { after(fn: () => unknown): void },
  timing: { heartbeatMs: number; electionMs: number },
): Promise<InProcessClusterMember[]> {
  const root = tempDir('etcd-ts-inproc-');
  const peers = [await freePort(), await freePort(), await freePort()];
  const initialCluster = peers.map((p, i) => `p${i + 1}=http://127.0.0.1:${p}`).join(',');
  const members = await Promise.all(
    peers.map(async (peer, i) => {
      const { config } = parseFlags(
        [
          '--name', `p${i + 1}`,
          '--data-dir', path.join(root, `p${i + 1}`),
          '--listen-client-binary-urls', 'http://127.0.0.1:0', '--listen-client-urls', 'http://127.0.0.1:0',
          '--listen-peer-urls', `http://127.0.0.1:${peer}`,
          '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
          '--initial-cluster', initialCluster,
          '--heartbeat-interval', String(timing.heartbeatMs),
          '--election-timeout', String(timing.electionMs),
        ],
        {},
      );
      const member = await startMember(config);
      return { member, endpoint: `127.0.0.1:${member.binaryAddresses[0]!.port}` };
    }),
  );
  t.after(async () => {
    await Promise.all(members.map((m) => m.member.close()));
    fs.rmSync(root, { recursive: true, force: true });
  });
  return members;
}

export const isLeader = (m: InProcessClusterMember): boolean => m.member.server.raft.node.raft.state === StateType.Leader;

/** Polls until `check` holds; fails naming `what` after the timeout. */
export async function until(what: string, check: () => boolean, timeoutMs: number, pollMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
