// Linearizable reads, as etcd's linearizable read loop serves them: reads queue up; one ReadIndex round asks the
// leader for its commit index on behalf of every read queued meanwhile; once this member has applied up to that
// index, the whole round's reads run against local state. At most one round is in flight; reads arriving during it
// form the next one. The queue is bounded (READS_PENDING_MAX): past it a read fails at once with `too many requests`.

import type { Clock } from '../clock/index.js';
import { READS_PENDING_MAX, READ_INDEX_RETRY_MS } from '../config/index.js';
import { etcdError } from '../errors/index.js';
import { ProposalDroppedError, type ReadState } from '../raft/index.js';
import { RUN_ID } from './proposals.js';

interface PendingRead {
  run(): void;
  fail(err: Error): void;
  queuedAt: number;
}

interface Round {
  ctx: number;
  reads: PendingRead[];
  sentAt: number;
}

export interface ReadPorts {
  readonly memberId: bigint;
  readonly clock: Clock;
  readonly requestTimeoutMs: number;
  /** throws etcd's error when the member cannot serve (stopped) */
  assertServing(): void;
  isLearner(): boolean;
  leaderKnown(): boolean;
  applied(): number;
  /** asks the leader (through Raft) for a read index under `context`; throws ProposalDroppedError without a leader */
  readIndex(context: Uint8Array): void;
}

/** Context of a ReadIndex request: member ID, run, round; unique across the cluster (see sendReadIndex). */
const CONTEXT_BYTES = 20;

export class LinearizableReads {
  private queued: PendingRead[] = [];
  private inFlight: Round | null = null;
  private roundSeq = 0;
  private readonly applyWaits: { index: number; run: () => void }[] = [];

  constructor(private readonly ports: ReadPorts) {}

  /** Reads queued or in a round in flight. */
  get pending(): number {
    return this.queued.length + (this.inFlight?.reads.length ?? 0);
  }

  /** Runs `read` once a ReadIndex round has confirmed that local state is at least as new as the leader's commit. */
  read<T>(read: () => T): Promise<T> {
    if (this.ports.isLearner()) return Promise.reject(etcdError('NotSupportedForLearner'));
    if (this.pending >= READS_PENDING_MAX) return Promise.reject(etcdError('TooManyRequests'));
    return new Promise<T>((resolve, reject) => {
      this.queued.push({
        run: () => {
          try {
            this.ports.assertServing();
            resolve(read());
          } catch (err) {
            reject(err);
          }
        },
        fail: reject,
        queuedAt: this.ports.clock.now(),
      });
      this.startRound();
    });
  }

  /** Raft answered ReadIndex requests: the round they belong to runs once that index is applied here. */
  onReadStates(states: readonly ReadState[]): void {
    for (const rs of states) {
      const c = Buffer.from(rs.context);
      if (c.length !== CONTEXT_BYTES || c.readBigUInt64BE(0) !== BigInt.asUintN(64, this.ports.memberId) || c.readUInt32BE(8) !== RUN_ID) continue;
      const ctx = Number(c.readBigUInt64BE(12));
      if (this.inFlight === null || this.inFlight.ctx !== ctx) continue;
      const reads = this.inFlight.reads;
      this.inFlight = null;
      this.afterApplied(rs.index, () => {
        for (const r of reads) r.run();
      });
      this.startRound();
    }
  }

  /** Runs what waited for the applied index to reach its mark (call after every apply). */
  onApplied(): void {
    const applied = this.ports.applied();
    while (this.applyWaits.length > 0) {
      const ready = this.applyWaits.filter((w) => w.index <= applied);
      if (ready.length === 0) break;
      for (const w of ready) this.applyWaits.splice(this.applyWaits.indexOf(w), 1);
      for (const w of ready) w.run();
    }
  }

  /** The leader was deposed or is unknown: the round in flight never gets an answer, so its reads queue again. */
  leaderLost(): void {
    if (this.inFlight === null) return;
    this.queued.unshift(...this.inFlight.reads);
    this.inFlight = null;
  }

  /** A leader is known: queued reads start a round. */
  leaderFound(): void {
    this.startRound();
  }

  /**
   * Raft never sends a ReadIndex request again, and a follower's request to the leader or the answer can be lost (a
   * dropped message, a peer connection being re-established, a leader that died): without this every linearizable
   * read of the member would wait for the request timeout and fail. As etcd's linearizable read loop does, send it
   * again after READ_INDEX_RETRY_MS under the same context, so the first answer to either counts (either index is
   * fresh enough: both requests were made after every read of the round arrived). Reads left queued behind a round
   * that expired get a round of their own.
   */
  retry(): void {
    if (this.inFlight === null) this.startRound();
    else if (this.ports.clock.now() - this.inFlight.sentAt >= READ_INDEX_RETRY_MS) this.sendReadIndex();
  }

  /** Fails reads older than the request timeout (called by the member's sweep). */
  expire(): void {
    const deadline = this.ports.clock.now() - this.ports.requestTimeoutMs;
    const timeout = etcdError(this.ports.leaderKnown() ? 'Timeout' : 'TimeoutDueToLeaderFail');
    const expired = this.queued.filter((r) => r.queuedAt <= deadline);
    if (expired.length > 0) {
      this.queued = this.queued.filter((r) => r.queuedAt > deadline);
      for (const r of expired) r.fail(timeout);
    }
    if (this.inFlight !== null && this.inFlight.reads.every((r) => r.queuedAt <= deadline)) {
      for (const r of this.inFlight.reads) r.fail(timeout);
      this.inFlight = null;
    }
  }

  /** Fails every queued read with `err`; what waited for the apply runs now (and fails its own check). */
  failAll(err: Error): void {
    const reads = [...this.queued, ...(this.inFlight?.reads ?? [])];
    this.queued = [];
    this.inFlight = null;
    for (const r of reads) r.fail(err);
    for (const w of this.applyWaits.splice(0)) w.run();
  }

  private afterApplied(index: number, run: () => void): void {
    if (this.ports.applied() >= index) run();
    else this.applyWaits.push({ index, run });
  }

  private startRound(): void {
    if (this.inFlight !== null || this.queued.length === 0) return;
    this.inFlight = { ctx: ++this.roundSeq, reads: this.queued, sentAt: 0 };
    this.queued = [];
    this.sendReadIndex();
  }

  /** Sends, or sends again, the ReadIndex request of the round in flight. */
  private sendReadIndex(): void {
    const round = this.inFlight!;
    round.sentAt = this.ports.clock.now();
    // The leader keeps pending ReadIndex requests by context and ignores one whose context is already pending (as
    // etcd-raft does), so contexts must be unique across the cluster: member ID, this run, then the round.
    const buf = Buffer.alloc(CONTEXT_BYTES);
    buf.writeBigUInt64BE(BigInt.asUintN(64, this.ports.memberId), 0);
    buf.writeUInt32BE(RUN_ID, 8);
    buf.writeBigUInt64BE(BigInt(round.ctx), 12);
    try {
      this.ports.readIndex(buf);
    } catch (err) {
      this.inFlight = null;
      if (!(err instanceof ProposalDroppedError)) throw err;
      // No leader yet: keep the reads queued; a new round starts when a leader is known (or they time out).
      this.queued.unshift(...round.reads);
    }
  }
}
