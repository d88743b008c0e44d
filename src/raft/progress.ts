// The leader's view of each follower (etcd-io/raft's tracker): replication state, flow control, votes, quorum.

import type { ConfState, NodeId } from './types.js';

export const ProgressState = { Probe: 0, Replicate: 1, Snapshot: 2 } as const;
export type ProgressStateNumber = (typeof ProgressState)[keyof typeof ProgressState];

/** Bounded window of in-flight append messages (count and bytes) to one follower. */
export class Inflights {
  private readonly items: { index: number; bytes: number }[] = [];
  private bytes = 0;
  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {}

  add(index: number, bytes: number): void {
    this.items.push({ index, bytes });
    this.bytes += bytes;
  }

  /** Frees every in-flight message up to and including index. */
  freeLE(index: number): void {
    while (this.items.length > 0 && this.items[0]!.index <= index) this.bytes -= this.items.shift()!.bytes;
  }

  freeFirstOne(): void {
    const first = this.items.shift();
    if (first) this.bytes -= first.bytes;
  }

  full(): boolean {
    return this.items.length >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  get count(): number {
    return this.items.length;
  }

  reset(): void {
    this.items.length = 0;
    this.bytes = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressStateNumber = ProgressState.Probe;
  pendingSnapshot = 0;
  /** heard from within the last election timeout (check-quorum) */
  recentActive = false;
  /** in Probe, one append is outstanding; pause until a response or heartbeat */
  probeSent = false;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflight: number,
    maxInflightBytes: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private resetState(state: ProgressStateNumber): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Called on an accepted append response; returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /** Called on a rejected append; returns whether the rejection was not stale and next moved back. */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false; // stale
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false; // stale: not the index we probed
    this.next = Math.max(Math.min(rejected, matchHint + 1), 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe: return this.probeSent;
      case ProgressState.Replicate: return this.inflights.full();
      default: return true;
    }
  }
}

export const VoteResult = { Pending: 0, Lost: 1, Won: 2 } as const;
export type VoteResultNumber = (typeof VoteResult)[keyof typeof VoteResult];

export class ProgressTracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {}

  confState(): ConfState {
    return { voters: [...this.voters].sort(cmp), learners: [...this.learners].sort(cmp) };
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  /** The largest index a quorum of voters has persisted. */
  committed(): number {
    if (this.voters.size === 0) return 0;
    const matches = [...this.voters].map((id) => this.progress.get(id)?.match ?? 0).sort((a, b) => b - a);
    return matches[this.quorum() - 1]!;
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResultNumber } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = this.quorum();
    const result = granted >= q ? VoteResult.Won : this.voters.size - rejected < q ? VoteResult.Lost : VoteResult.Pending;
    return { granted, rejected, result };
  }

  /** Whether a quorum of voters was recently active (self counts as active). */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) if (id === self || this.progress.get(id)?.recentActive) active++;
    return active >= this.quorum();
  }

  ids(): NodeId[] {
    return [...this.progress.keys()].sort(cmp);
  }
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
