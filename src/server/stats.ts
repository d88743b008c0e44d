// What a member counts about itself for /metrics: plain counters the hot paths bump, and timing hooks the metrics
// module (src/metrics) replaces with its histograms. The server never imports the metrics library: the exporter reads
// these at scrape time, so a member without an HTTP front end pays a few integer increments and nothing else.

import type { TxnRequest, TxnResponse } from '../proto/index.js';
import type { NodeId } from '../raft/index.js';

export type TimingHook = (seconds: number) => void;
export type PeerTimingHook = (peer: NodeId, seconds: number) => void;

const ignore = (): void => {};

export class ServerStats {
  /** a new, known leader was seen (etcd_server_leader_changes_seen_total) */
  leaderChanges = 0;
  /** proposals that failed: timed out, dropped by Raft, refused for quota or load (etcd_server_proposals_failed_total) */
  proposalsFailed = 0;
  /** etcd_mvcc_*_total: operations this member applied (puts, deletes, txns) or served (ranges) */
  puts = 0;
  deletes = 0;
  ranges = 0;
  txns = 0;
  /** persisting a Ready's entries and hard state up to `flushed` (our WAL fsync) */
  walFsync: TimingHook = ignore;
  /** one apply transaction in LMDB (etcd's backend commit) */
  backendCommit: TimingHook = ignore;
  /** a leader's heartbeat to a peer until its answer (etcd's peer round trip) */
  peerRoundTrip: PeerTimingHook = ignore;
}

/**
 * Heartbeat round trips, measured by the leader: the time a heartbeat to a peer went out, until the peer's answer.
 * One heartbeat per peer is timed at a time, so a lost answer only delays the next sample (the next heartbeat to that
 * peer starts a fresh one once the old one is older than the cut-off).
 */
export class PeerRoundTrips {
  private readonly sentAt = new Map<NodeId, number>();

  constructor(
    private readonly stats: ServerStats,
    private readonly now: () => number,
    /** a heartbeat not answered within this is forgotten (ms) */
    private readonly forgetAfterMs: number,
  ) {}

  sent(peer: NodeId): void {
    const at = this.sentAt.get(peer);
    const now = this.now();
    if (at === undefined || now - at > this.forgetAfterMs) this.sentAt.set(peer, now);
  }

  answered(peer: NodeId): void {
    const at = this.sentAt.get(peer);
    if (at === undefined) return;
    this.sentAt.delete(peer);
    this.stats.peerRoundTrip(peer, (this.now() - at) / 1000);
  }
}

/** Counts one txn: itself, then the puts, deletes, ranges and nested txns of the branch that ran (as etcd counts). */
export function countTxn(request: TxnRequest, response: TxnResponse, stats: ServerStats): void {
  stats.txns++;
  const ops = (response.succeeded ? request.success : request.failure) ?? [];
  ops.forEach((op, i) => {
    if (op.request_put !== undefined) stats.puts++;
    else if (op.request_delete_range !== undefined) stats.deletes++;
    else if (op.request_range !== undefined) stats.ranges++;
    else if (op.request_txn !== undefined) {
      const inner = response.responses[i]?.response_txn;
      if (inner !== undefined) countTxn(op.request_txn, inner, stats);
    }
  });
}
