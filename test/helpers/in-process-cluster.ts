// A 3-member cluster in this process (each member with its own LMDB environment, Raft driver and peer transport on
// loopback), for tests that drive partitions through the transport's fault hooks and look inside the members.

import fs from 'node:fs';
import path from 'node:path';
import { parseFlags } from '../../src/config/index.js';
import { startMember, type Member } from '../../src/cli/member.js';
import { StateType } from '../../src/raft/index.js';
import { ManualClock, systemClock, type Clock } from '../../src/clock/index.js';
import { freePort } from './etcd.js';
import { tempDir } from './member.js';

export interface InProcessClusterMember {
  member: Member;
  endpoint: string;
}

export interface InProcessClusterOptions {
  /**
   * One clock for the three members' timers and deadlines (default: the system clock). With a ManualClock, time waits
   * at each step while the leader has proposals in flight on a cluster without faults (they commit in real time);
   * Raft's ticks may run on it or in real time: `until` with the clock moves both.
   */
  clock?: Clock;
}

/** Starts three members p1..p3; they are closed and their data removed after the test. */
export async function startInProcessCluster(
  t: { after(fn: () => unknown): void },
  timing: { heartbeatMs: number; electionMs: number },
  options: InProcessClusterOptions = {},
): Promise<InProcessClusterMember[]> {
  const clock = options.clock ?? systemClock;
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
      const member = await startMember(config, {}, { clock });
      return { member, endpoint: `127.0.0.1:${member.binaryAddresses[0]!.port}` };
    }),
  );
  // only the leader's proposals, and only without faults: a follower's wait for the commit index, or a partitioned
  // leader's, ends through ticks and timeouts, which need time to move
  const unwait = clock instanceof ManualClock ? clock.waitWhile(() => members.every(faultless) && members.some(proposing)) : () => {};
  t.after(async () => {
    unwait();
    await Promise.all(members.map((m) => m.member.close()));
    fs.rmSync(root, { recursive: true, force: true });
  });
  return members;
}

export const isLeader = (m: InProcessClusterMember): boolean => m.member.server.raft.node.raft.state === StateType.Leader;

const proposing = (m: InProcessClusterMember): boolean => m.member.server.isLeader && m.member.server.pendingProposals > 0;

function faultless(m: InProcessClusterMember): boolean {
  const f = m.member.server.transport?.faults;
  return f === undefined || (f.blockIn.size === 0 && f.blockOut.size === 0 && f.dropRate === 0 && f.delayMs === 0);
}

/**
 * Polls until `check` holds; fails naming `what` after the timeout (real time). Given the members' ManualClock, each
 * poll also advances it by `pollMs`, so what the members' timers cause happens whether Raft ticks on it or in real time.
 */
export async function until(what: string, check: () => boolean, timeoutMs: number, pollMs: number, clock?: Clock): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await Promise.all([new Promise((r) => setTimeout(r, pollMs)), clock instanceof ManualClock ? clock.advance(pollMs) : undefined]);
  }
}
