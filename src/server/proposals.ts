// Proposals: every write of the member goes through here on its way into the Raft log, and comes back through
// `settle` once applied. A proposal is an envelope [proposer member ID, run ID, proposal ID, method, request, and for
// a client's write the caller [username, auth revision] (etcd's RequestHeader), which the applier checks]; the
// member that proposed it answers its client when it applies the entry (every member applies it, only the proposer
// has a waiter for it). Writes are refused at once when the member is stopped or a learner, when too many proposals
// are pending, when the request is too large, or, for writes that add data, when the backend is over its quota.
// Without a leader a proposal waits, as in etcd, until one is elected or it times out.

import { Packr, Unpackr } from 'msgpackr';
import type { Clock } from '../clock/index.js';
import type { Limits } from '../config/index.js';
import { etcdError, isAssertionError } from '../errors/index.js';
import type { AuthInfo } from '../auth/index.js';
import type { TxnRequest } from '../proto/index.js';
import { ProposalDroppedError, type ConfChange } from '../raft/index.js';
import type { MemberRecord } from '../storage/index.js';
import { encodeConfContext } from './membership.js';
import type { ServerStats } from './stats.js';

/** The auth store's writes (applied by server/auth-apply.ts). */
export type AuthWriteMethod =
  | 'AuthEnable'
  | 'AuthDisable'
  | 'Authenticate'
  | 'UserAdd'
  | 'UserDelete'
  | 'UserChangePassword'
  | 'UserGrantRole'
  | 'UserRevokeRole'
  | 'RoleAdd'
  | 'RoleDelete'
  | 'RoleGrantPermission'
  | 'RoleRevokePermission';

/** Every kind of entry the applier knows (src/server/applier.ts). */
export type WriteMethod = 'Put' | 'DeleteRange' | 'Txn' | 'Compact' | 'MemberAttributes' | 'LeaseGrant' | 'LeaseRevoke' | 'LeaseKeepAlive' | 'LeaseCheckpoint' | AuthWriteMethod;

/** A process-unique run id: proposal ids restart with the process, so waiters match (member, run, id). */
export const RUN_ID = (process.pid * 65_537 + Math.floor(performance.timeOrigin)) >>> 0;

/** Bytes an envelope may add to the largest request a client may send. */
const ENVELOPE_SLACK_BYTES = 64 * 1024;

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'number' });

export interface DecodedProposal {
  /** waiter id on the proposing member and run, 0 when another member or run proposed it */
  waiter: number;
  method: WriteMethod;
  request: unknown;
  /** who sent a client's write (anonymous: '' at revision 0); absent for the member's own entries (unchecked) */
  caller?: AuthInfo;
}

/** Reads an entry's envelope; `memberId` decides whether this member (in this run) proposed it. */
export function decodeProposal(data: Uint8Array, memberId: bigint): DecodedProposal {
  const [proposer, run, id, method, request, caller] = unpackr.unpack(data) as [bigint | number, number, number, WriteMethod, unknown, [string, number] | undefined];
  const mine = BigInt(proposer) === memberId && run === RUN_ID;
  const decoded: DecodedProposal = { waiter: mine ? id : 0, method, request };
  if (caller !== undefined) decoded.caller = { username: caller[0], revision: Number(caller[1]) };
  return decoded;
}

/** What applying one entry answered, for its waiter (if this member proposed it). */
export interface AppliedResult {
  /** waiter id, 0 when the entry was not proposed here */
  id: number;
  ok: boolean;
  value: unknown;
  /** a compaction: the revision whose physical removal a `physical` waiter waits for */
  physical?: number;
}

interface Waiter {
  resolve(response: unknown): void;
  reject(err: Error): void;
  proposedAt: number;
  /** Compact with physical=true: respond once history below the revision is gone */
  physical: boolean;
}

/** What proposing needs from the rest of the member. */
export interface ProposalPorts {
  readonly memberId: bigint;
  readonly clock: Clock;
  readonly limits: Limits;
  readonly stats: ServerStats;
  /** throws etcd's error when the member cannot take writes (stopped) */
  assertServing(): void;
  isLearner(): boolean;
  leaderKnown(): boolean;
  /** the backend is over --quota-backend-bytes */
  overQuota(): boolean;
  propose(data: Uint8Array): void;
  proposeConfChange(cc: ConfChange): void;
}

export class Proposals {
  private nextId = 1;
  /** insertion order is proposal order (expiry relies on it) */
  private readonly waiters = new Map<number, Waiter>();
  private awaitingLeader: { waiter: number; proposeToRaft: () => void }[] = [];

  constructor(private readonly ports: ProposalPorts) {}

  /** Proposals waiting to be applied (etcd_server_proposals_pending). */
  get pending(): number {
    return this.waiters.size;
  }

  /**
   * A write through Raft; resolves with what applying it answered. `caller`: the client's identity for the applier's
   * permission check (every client write carries one, an anonymous one too); without it the entry is the member's own.
   */
  propose(method: WriteMethod, request: unknown, physical = false, caller?: AuthInfo): Promise<unknown> {
    const { ports } = this;
    try {
      ports.assertServing();
      // etcd's learners serve serializable reads and status only
      if (ports.isLearner() && method !== 'MemberAttributes') throw etcdError('NotSupportedForLearner');
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.waiters.size >= ports.limits.proposalsPendingMax) return Promise.reject(etcdError('TooManyRequests'));
    // etcd's quota applier: once the backend is over quota, requests that add data fail; deletes and compaction
    // still go through so an operator can free space.
    if ((method === 'Put' || method === 'LeaseGrant' || (method === 'Txn' && txnHasPut(request as TxnRequest))) && ports.overQuota()) {
      return Promise.reject(etcdError('NoSpace'));
    }
    const { id, promise } = this.newWaiter(physical);
    const data = packr.pack(caller === undefined ? [ports.memberId, RUN_ID, id, method, request] : [ports.memberId, RUN_ID, id, method, request, [caller.username, caller.revision]]);
    if (data.length > ports.limits.requestBytesMax + ENVELOPE_SLACK_BYTES) {
      this.reject(id, etcdError('RequestTooLarge'));
      return promise;
    }
    this.submit(id, () => ports.propose(data));
    return promise;
  }

  /** A membership change through Raft; its context names this member as the proposer to answer. */
  proposeConfChange(type: ConfChange['type'], nodeId: bigint, member?: Omit<MemberRecord, 'id'>): Promise<unknown> {
    try {
      this.ports.assertServing();
    } catch (err) {
      return Promise.reject(err);
    }
    const { id: waiter, promise } = this.newWaiter();
    const cc = { type, nodeId, context: encodeConfContext({ member, proposer: [this.ports.memberId.toString(), RUN_ID, waiter] }) };
    this.submit(waiter, () => this.ports.proposeConfChange(cc));
    return promise;
  }

  /**
   * Answers the waiters of an applied batch. A physical compaction's waiter is handed to `deferPhysical` instead: it
   * answers once the history below the revision is gone.
   */
  settle(results: readonly AppliedResult[], deferPhysical: (revision: number, answer: () => void) => void): void {
    for (const r of results) {
      const waiter = this.waiters.get(r.id);
      if (waiter === undefined) continue; // proposed by another member or run, or timed out
      this.waiters.delete(r.id);
      if (!r.ok) waiter.reject(r.value as Error);
      else if (r.physical !== undefined && waiter.physical) deferPhysical(r.physical, () => waiter.resolve(r.value));
      else waiter.resolve(r.value);
    }
  }

  /** A leader is known again: proposals that waited for one go to Raft now. */
  leaderFound(): void {
    const queued = this.awaitingLeader;
    this.awaitingLeader = [];
    for (const q of queued) if (this.waiters.has(q.waiter)) this.submit(q.waiter, q.proposeToRaft);
  }

  /** Fails proposals older than the request timeout (called by the member's sweep). */
  expire(): void {
    const deadline = this.ports.clock.now() - this.ports.limits.requestTimeoutMs;
    for (const [id, waiter] of this.waiters) {
      if (waiter.proposedAt > deadline) break; // insertion order = proposal order
      this.waiters.delete(id);
      this.ports.stats.proposalsFailed++;
      waiter.reject(etcdError(this.ports.leaderKnown() ? 'Timeout' : 'TimeoutDueToLeaderFail'));
    }
  }

  /** Fails every pending proposal with `err` (the member stops). */
  failAll(err: Error): void {
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
    this.awaitingLeader = [];
  }

  private newWaiter(physical = false): { id: number; promise: Promise<unknown> } {
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve, reject, proposedAt: this.ports.clock.now(), physical });
    });
    return { id, promise };
  }

  private reject(id: number, err: Error): void {
    const w = this.waiters.get(id);
    if (w === undefined) return;
    this.waiters.delete(id);
    this.ports.stats.proposalsFailed++;
    w.reject(err);
  }

  /**
   * Hands a proposal to Raft. Without a known leader it waits, as etcd does, until one is elected or the request
   * times out, instead of failing at once during an election.
   */
  private submit(waiter: number, proposeToRaft: () => void): void {
    try {
      proposeToRaft();
    } catch (err) {
      if (isAssertionError(err)) throw err; // a broken invariant in Raft stops the member, it is not an answer
      if (!(err instanceof ProposalDroppedError)) return this.reject(waiter, err as Error);
      if (!this.ports.leaderKnown()) this.awaitingLeader.push({ waiter, proposeToRaft });
      else this.reject(waiter, etcdError('Unhealthy'));
    }
  }
}

function txnHasPut(req: TxnRequest): boolean {
  return [...(req.success ?? []), ...(req.failure ?? [])].some((op) => op.request_put !== undefined || (op.request_txn !== undefined && txnHasPut(op.request_txn)));
}
