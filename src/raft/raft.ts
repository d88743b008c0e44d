// The Raft algorithm as a pure, deterministic state machine, shaped after etcd-io/raft. Inputs: tick() and
// step(message). Outputs: messages in `msgs`, read states, and log/hard-state changes the RawNode turns into Ready.
// No I/O, timers, clock or Math.random: time is ticks and randomness is an injected source.
//
// Leader durability rule: a leader counts itself towards a commit quorum only for entries the driver reported as
// persisted (onPersisted), never for entries still being written.

import { DEFAULT_LIMITS, RAFT_INFLIGHT_MESSAGES_MAX, RAFT_MESSAGE_BYTES_MAX, RAFT_UNCOMMITTED_BYTES_MAX } from '../config/limits.js';
import { invariant } from '../errors/index.js';
import { RaftLog } from './log.js';
import { Progress, ProgressState, ProgressTracker, VoteResult, type VoteResultNumber } from './progress.js';
import { CompactedError, type RaftStorage } from './storage.js';
import {
  ConfChangeType,
  EntryType,
  isLocalMessage,
  isResponseMessage,
  message,
  MessageType,
  NONE,
  StateType,
  voteResponseType,
  entrySize,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageTypeNumber,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SoftState,
  type StateTypeNumber,
} from './types.js';

export interface RaftConfig {
  id: NodeId;
  /** ticks without hearing from a leader before a follower campaigns (randomised in [electionTick, 2*electionTick)) */
  electionTick: number;
  /** ticks between leader heartbeats */
  heartbeatTick: number;
  storage: RaftStorage;
  /** last applied index on restart */
  applied?: number;
  /** the configuration as of `applied`, persisted by the application with it (overrides the snapshot's) */
  confState?: ConfState;
  /** bytes of entries per append message (default RAFT_MESSAGE_BYTES_MAX) */
  maxSizePerMsg?: number;
  /** bytes of committed entries handed out per Ready, at least one entry (default Limits.proposalBatchBytesMax) */
  maxCommittedSizePerReady?: number;
  /** committed entries handed out per Ready (default Limits.proposalBatchEntriesMax) */
  maxCommittedEntriesPerReady?: number;
  /** append messages in flight per follower (default RAFT_INFLIGHT_MESSAGES_MAX) */
  maxInflightMsgs?: number;
  /** bytes in flight per follower (0 = unbounded) */
  maxInflightBytes?: number;
  /**
   * payload bytes of the uncommitted entries a leader appended in its term before it drops proposals (0 = unbounded;
   * default RAFT_UNCOMMITTED_BYTES_MAX)
   */
  maxUncommittedEntriesSize?: number;
  checkQuorum?: boolean;
  preVote?: boolean;
  /** uniform random numbers in [0, 1): the only source of randomness */
  random: () => number;
}

export class ProposalDroppedError extends Error {
  constructor(reason = 'raft proposal dropped') {
    super(reason);
  }
}

const CAMPAIGN_PRE_ELECTION = 'CampaignPreElection';
const CAMPAIGN_ELECTION = 'CampaignElection';
const CAMPAIGN_TRANSFER = 'CampaignTransfer';
type CampaignType = typeof CAMPAIGN_PRE_ELECTION | typeof CAMPAIGN_ELECTION | typeof CAMPAIGN_TRANSFER;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Pending ReadIndex requests awaiting a heartbeat quorum (ReadOnlySafe). */
class ReadOnly {
  pending = new Map<string, { index: number; req: Message; acks: Set<NodeId> }>();
  queue: string[] = [];

  add(index: number, m: Message): void {
    const ctx = ctxKey(m.context);
    if (this.pending.has(ctx)) return;
    this.pending.set(ctx, { index, req: m, acks: new Set() });
    this.queue.push(ctx);
  }

  recvAck(id: NodeId, context: Uint8Array | undefined): Set<NodeId> | undefined {
    const rs = this.pending.get(ctxKey(context));
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Releases every request up to and including the one acknowledged by a quorum (they were queued in order). */
  advance(m: Message): { index: number; req: Message }[] {
    const ctx = ctxKey(m.context);
    const at = this.queue.indexOf(ctx);
    if (at < 0) return [];
    const released = this.queue.splice(0, at + 1);
    const out: { index: number; req: Message }[] = [];
    for (const c of released) {
      const rs = this.pending.get(c);
      invariant(rs !== undefined, 'raft: cannot find corresponding read state from pending map');
      this.pending.delete(c);
      out.push(rs);
    }
    return out;
  }

  lastPendingRequestCtx(): Uint8Array | undefined {
    const last = this.queue[this.queue.length - 1];
    return last === undefined ? undefined : this.pending.get(last)!.req.context;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}

function ctxKey(context: Uint8Array | undefined): string {
  return context === undefined ? '' : Buffer.from(context.buffer, context.byteOffset, context.byteLength).toString('latin1');
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  readonly trk: ProgressTracker;
  state: StateTypeNumber = StateType.Follower;
  isLearner = false;
  msgs: Message[] = [];
  lead: NodeId = NONE;
  leadTransferee: NodeId = NONE;
  /** index of the latest conf change proposed by a leader; no new one until it is applied */
  pendingConfIndex = 0;
  uncommittedSize = 0;
  readonly readOnly = new ReadOnly();
  /** ReadIndex requests a new leader received before committing an entry of its term */
  pendingReadIndexMessages: Message[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  randomizedElectionTimeout = 0;
  private readonly random: () => number;

  constructor(c: RaftConfig) {
    invariant(c.id !== NONE, 'raft: cannot use none as id');
    invariant(c.heartbeatTick > 0, 'raft: heartbeat tick must be greater than 0');
    invariant(c.electionTick > c.heartbeatTick, 'raft: election tick must be greater than heartbeat tick');
    this.id = c.id;
    const committedEntriesPerReady = c.maxCommittedEntriesPerReady ?? DEFAULT_LIMITS.proposalBatchEntriesMax;
    invariant(Number.isSafeInteger(committedEntriesPerReady) && committedEntriesPerReady > 0, 'raft: max committed entries per ready must be a positive integer');
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReady ?? DEFAULT_LIMITS.proposalBatchBytesMax, committedEntriesPerReady);
    this.maxMsgSize = c.maxSizePerMsg ?? RAFT_MESSAGE_BYTES_MAX;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize ?? RAFT_UNCOMMITTED_BYTES_MAX;
    this.trk = new ProgressTracker(c.maxInflightMsgs ?? RAFT_INFLIGHT_MESSAGES_MAX, c.maxInflightBytes ?? 0);
    this.checkQuorum = c.checkQuorum ?? true;
    this.preVote = c.preVote ?? true;
    this.heartbeatTimeout = c.heartbeatTick;
    this.electionTimeout = c.electionTick;
    this.random = c.random;
    const { hardState, confState } = c.storage.initialState();
    this.applyConfState(c.confState ?? confState);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private send(m: Message): void {
    m.from = this.id;
    if (m.type === MessageType.Vote || m.type === MessageType.VoteResp || m.type === MessageType.PreVote || m.type === MessageType.PreVoteResp) {
      invariant(m.term !== 0, () => `raft: term should be set when sending ${m.type}`);
    } else {
      invariant(m.term === 0, () => `raft: term should not be set when sending ${m.type} (was ${m.term})`);
      // Proposals are forwarded without a term: the leader treats them as local.
      if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  // ---- replication --------------------------------------------------------------------------------------------

  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const term = this.raftLog.termOrUndefined(pr.next - 1);
    let ents: Entry[] | undefined;
    if (term !== undefined) {
      try {
        ents = this.raftLog.entries(pr.next, this.maxMsgSize);
      } catch (err) {
        if (!(err instanceof CompactedError)) throw err;
        ents = undefined;
      }
    }
    if (ents !== undefined && ents.length === 0 && !sendIfEmpty) return false;
    if (term === undefined || ents === undefined) {
      // the follower needs entries we no longer have: send a snapshot
      if (!pr.recentActive) return false;
      const snapshot = this.raftLog.snapshot();
      if (snapshot.metadata.index === 0) return false; // no snapshot yet (storage still being written)
      this.send(message({ type: MessageType.Snap, to, snapshot }));
      pr.becomeSnapshot(snapshot.metadata.index);
      return true;
    }
    this.send(message({ type: MessageType.App, to, index: pr.next - 1, logTerm: term, entries: ents, commit: this.raftLog.committed }));
    if (ents.length > 0) {
      const last = ents[ents.length - 1]!.index;
      if (pr.state === ProgressState.Replicate) {
        pr.optimisticUpdate(last);
        pr.inflights.add(last, ents.reduce((n, e) => n + entrySize(e), 0));
      } else if (pr.state === ProgressState.Probe) {
        pr.probeSent = true;
      }
    }
    return true;
  }

  private sendHeartbeat(to: NodeId, context: Uint8Array | undefined): void {
    const pr = this.trk.progress.get(to)!;
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send(message({ type: MessageType.Heartbeat, to, commit, context }));
  }

  bcastAppend(): void {
    for (const id of this.trk.ids()) if (id !== this.id) this.sendAppend(id);
  }

  bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingRequestCtx();
    for (const id of this.trk.ids()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term);
  }

  /**
   * Last index of this node's log that is durable and still part of the log: everything below the unstable
   * tail (a conflicting append moves the tail's start back, so replaced entries stop counting at once).
   */
  stableIndex(): number {
    if (this.raftLog.hasPendingSnapshot()) return 0;
    return this.raftLog.unstable.offset - 1;
  }

  /** The driver persisted entries up to (index, term): the leader may now count itself. */
  onPersisted(index: number, term: number): void {
    if (this.state !== StateType.Leader || term !== this.term) return;
    const pr = this.trk.progress.get(this.id);
    if (pr === undefined) return;
    if (pr.maybeUpdate(Math.min(index, this.stableIndex())) && this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    }
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      const fresh = new Progress(last + 1, this.trk.maxInflight, this.trk.maxInflightBytes, pr.isLearner);
      if (id === this.id) fresh.match = Math.min(this.stableIndex(), last);
      this.trk.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly.reset();
    this.pendingReadIndexMessages = [];
  }

  private appendEntry(es: Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    for (let i = 0; i < es.length; i++) {
      es[i]!.term = this.term;
      es[i]!.index = li + 1 + i;
    }
    if (!this.increaseUncommittedSize(es)) return false;
    this.raftLog.append(es);
    return true;
  }

  private increaseUncommittedSize(es: Entry[]): boolean {
    const s = es.reduce((n, e) => n + e.data.length, 0);
    if (this.uncommittedSize > 0 && s > 0 && this.maxUncommittedSize > 0 && this.uncommittedSize + s > this.maxUncommittedSize) return false;
    this.uncommittedSize += s;
    return true;
  }

  /** Called as committed entries are handed to the application. */
  reduceUncommittedSize(es: Entry[]): void {
    if (this.uncommittedSize === 0) return;
    const s = es.reduce((n, e) => n + e.data.length, 0);
    this.uncommittedSize = Math.max(0, this.uncommittedSize - s);
  }

  // ---- roles --------------------------------------------------------------------------------------------------

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
  }

  becomeCandidate(): void {
    invariant(this.state !== StateType.Leader, 'raft: invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  becomePreCandidate(): void {
    invariant(this.state !== StateType.Leader, 'raft: invalid transition [leader -> pre-candidate]');
    // Becoming a pre-candidate changes neither the term nor the vote.
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
  }

  becomeLeader(): void {
    invariant(this.state !== StateType.Follower, 'raft: invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.trk.progress.get(this.id);
    self?.becomeReplicate();
    if (self) self.match = Math.min(this.stableIndex(), this.raftLog.lastIndex());
    // Conservatively treat the whole uncommitted tail as possibly containing a conf change.
    this.pendingConfIndex = this.raftLog.lastIndex();
    const ok = this.appendEntry([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array() }]);
    invariant(ok, 'raft: empty entry was dropped');
    // The empty entry does not count towards the uncommitted size limit.
    this.uncommittedSize = 0;
  }

  private hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) return;
    // Do not campaign while conf changes are committed but not applied: the configuration is about to change.
    if (this.raftLog.committed > this.raftLog.applied) {
      let pending = false;
      try {
        for (const e of this.raftLog.slice(this.raftLog.applied + 1, this.raftLog.committed + 1, Infinity)) {
          if (e.type === EntryType.ConfChange) pending = true;
        }
      } catch (err) {
        if (!(err instanceof CompactedError)) throw err;
      }
      if (pending) return;
    }
    this.campaign(t);
  }

  campaign(t: CampaignType): void {
    if (!this.promotable()) return;
    let voteMsg: MessageTypeNumber;
    let term: number;
    if (t === CAMPAIGN_PRE_ELECTION) {
      this.becomePreCandidate();
      voteMsg = MessageType.PreVote;
      term = this.term + 1; // pre-vote for the next term without incrementing ours
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, voteResponseType(voteMsg), true) === VoteResult.Won) {
      // single voter: won at once
      if (t === CAMPAIGN_PRE_ELECTION) this.campaign(CAMPAIGN_ELECTION);
      else this.becomeLeader();
      return;
    }
    for (const id of [...this.trk.voters].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (id === this.id) continue;
      this.send(
        message({
          type: voteMsg,
          to: id,
          term,
          index: this.raftLog.lastIndex(),
          logTerm: this.raftLog.lastTerm(),
          context: t === CAMPAIGN_TRANSFER ? encoder.encode(t) : undefined,
        }),
      );
    }
  }

  private poll(id: NodeId, _t: MessageTypeNumber, granted: boolean): VoteResultNumber {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // ---- step ---------------------------------------------------------------------------------------------------

  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context !== undefined && decoder.decode(m.context) === CAMPAIGN_TRANSFER;
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) return; // a current leader is alive: ignore disruptive candidates
      }
      if (m.type === MessageType.PreVote) {
        // never change our term in response to a pre-vote
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // a granted pre-vote carries the future term; the term changes when the real election starts
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. after a partition healed) learns the newer term from this response and steps down.
        this.send(message({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.send(message({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? CAMPAIGN_PRE_ELECTION : CAMPAIGN_ELECTION);
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.send(message({ type: voteResponseType(m.type), to: m.from, term: m.term }));
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(message({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }));
        }
        return;
      }
      default:
        switch (this.state) {
          case StateType.Leader: this.stepLeader(m); break;
          case StateType.Candidate:
          case StateType.PreCandidate: this.stepCandidate(m); break;
          default: this.stepFollower(m);
        }
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        if (!this.trk.quorumActive(this.id)) this.becomeFollower(this.term, NONE);
        for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case MessageType.Prop: {
        invariant(m.entries.length > 0, 'raft: stepped empty MsgProp');
        if (!this.trk.progress.has(this.id)) throw new ProposalDroppedError('leader was removed from the configuration');
        if (this.leadTransferee !== NONE) throw new ProposalDroppedError('leader transfer in progress');
        for (let i = 0; i < m.entries.length; i++) {
          if (m.entries[i]!.type === EntryType.ConfChange) {
            if (this.pendingConfIndex > this.raftLog.applied) throw new ProposalDroppedError('a configuration change is already pending');
            this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
          }
        }
        if (!this.appendEntry(m.entries)) throw new ProposalDroppedError('too many uncommitted entries');
        this.bcastAppend();
        return;
      }
      case MessageType.ReadIndex:
        if (this.trk.isSingleton()) {
          this.respondReadIndex(m, this.raftLog.committed);
          return;
        }
        if (!this.committedEntryInCurrentTerm()) {
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.readOnly.add(this.raftLog.committed, m);
        this.readOnly.recvAck(this.id, m.context);
        this.bcastHeartbeat();
        return;
      default:
        break;
    }
    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.AppResp: {
        pr.recentActive = true;
        if (m.reject) {
          let nextProbeIdx = m.rejectHint;
          if (m.logTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm);
          if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
            if (pr.state === ProgressState.Replicate) pr.becomeProbe();
            this.sendAppend(m.from);
          }
          return;
        }
        const oldPaused = pr.isPaused();
        if (!pr.maybeUpdate(m.index)) return;
        if (pr.state === ProgressState.Probe) pr.becomeReplicate();
        else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Replicate) pr.inflights.freeLE(m.index);
        if (this.maybeCommit()) {
          this.releasePendingReadIndexMessages();
          this.bcastAppend();
        } else if (oldPaused) {
          this.sendAppend(m.from);
        }
        while (this.maybeSendAppend(m.from, false)) {
          // keep the pipeline full
        }
        if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(m.from);
        return;
      }
      case MessageType.HeartbeatResp: {
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
        if (m.context === undefined || m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (acks === undefined) return;
        let voterAcks = 0;
        for (const id of acks) if (this.trk.voters.has(id)) voterAcks++;
        if (voterAcks < this.trk.quorum()) return;
        for (const rs of this.readOnly.advance(m)) this.respondReadIndex(rs.req, rs.index);
        return;
      }
      case MessageType.SnapStatus:
        if (pr.state !== ProgressState.Snapshot) return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // wait for a heartbeat response (or an append response) before probing again
        pr.probeSent = true;
        return;
      case MessageType.Unreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        return;
      case MessageType.TransferLeader: {
        if (pr.isLearner) return;
        const transferee = m.from;
        if (this.leadTransferee !== NONE) {
          if (this.leadTransferee === transferee) return;
          this.abortLeaderTransfer();
        }
        if (transferee === this.id) return;
        this.electionElapsed = 0;
        this.leadTransferee = transferee;
        if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
        else this.sendAppend(transferee);
        return;
      }
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.state === StateType.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        throw new ProposalDroppedError('no leader');
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.ReadIndex:
        throw new ProposalDroppedError('no leader');
      default:
        if (m.type !== myVoteResp) return;
        switch (this.poll(m.from, m.type, !m.reject)) {
          case VoteResult.Won:
            if (this.state === StateType.PreCandidate) this.campaign(CAMPAIGN_ELECTION);
            else {
              this.becomeLeader();
              this.bcastAppend();
            }
            return;
          case VoteResult.Lost:
            this.becomeFollower(this.term, NONE);
            return;
          default:
            return;
        }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE) throw new ProposalDroppedError('no leader');
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return;
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.TimeoutNow:
        // the leader chose us: campaign at once, bypassing pre-vote and leases
        this.hup(CAMPAIGN_TRANSFER);
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) throw new ProposalDroppedError('no leader');
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context ?? new Uint8Array() });
        return;
      default:
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: lastNew }));
      return;
    }
    // Reject with a hint: the largest index <= m.index whose term is <= m.logTerm, so the leader skips a whole term.
    let hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    hintIndex = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    const hintTerm = this.raftLog.term(hintIndex);
    this.send(message({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm }));
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(Math.min(m.commit, this.raftLog.lastIndex()));
    this.send(message({ type: MessageType.HeartbeatResp, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot!;
    if (this.restore(s)) {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Installs a snapshot from the leader; false if it is stale or only fast-forwards the commit index. */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.Follower) {
      // defensive: only followers restore; become one without changing the term
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.metadata.confState;
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) return false;
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    this.trk.voters.clear();
    this.trk.learners.clear();
    this.trk.progress.clear();
    this.applyConfState(cs);
    return true;
  }

  // ---- membership ---------------------------------------------------------------------------------------------

  promotable(): boolean {
    return this.trk.progress.has(this.id) && !this.isLearner && !this.raftLog.hasPendingSnapshot() && this.trk.voters.has(this.id);
  }

  private applyConfState(cs: ConfState): void {
    for (const id of cs.voters) this.addNodeOrLearner(id, false);
    for (const id of cs.learners) this.addNodeOrLearner(id, true);
  }

  private addNodeOrLearner(id: NodeId, isLearner: boolean): void {
    const pr = this.trk.progress.get(id);
    if (pr === undefined) {
      const fresh = new Progress(this.raftLog.lastIndex() + 1, this.trk.maxInflight, this.trk.maxInflightBytes, isLearner);
      // A newly added node is considered active, so check-quorum does not step down right away.
      fresh.recentActive = true;
      this.trk.progress.set(id, fresh);
    } else {
      if (isLearner && !pr.isLearner) return; // demoting a voter to learner is not supported
      if (pr.isLearner === isLearner) return;
      pr.isLearner = isLearner; // promotion
    }
    if (isLearner) {
      this.trk.learners.add(id);
      this.trk.voters.delete(id);
    } else {
      this.trk.voters.add(id);
      this.trk.learners.delete(id);
    }
    if (id === this.id) this.isLearner = isLearner;
  }

  private removeNode(id: NodeId): void {
    this.trk.progress.delete(id);
    this.trk.voters.delete(id);
    this.trk.learners.delete(id);
    if (this.trk.voters.size === 0) return;
    // The quorum may have shrunk: commit what it now allows.
    if (this.state === StateType.Leader) {
      if (this.maybeCommit()) this.bcastAppend();
      if (this.leadTransferee === id) this.abortLeaderTransfer();
    }
  }

  /** Applies a committed membership change; returns the new configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    switch (cc.type) {
      case ConfChangeType.AddNode: this.addNodeOrLearner(cc.nodeId, false); break;
      case ConfChangeType.AddLearnerNode: this.addNodeOrLearner(cc.nodeId, true); break;
      case ConfChangeType.RemoveNode: this.removeNode(cc.nodeId); break;
      case ConfChangeType.UpdateNode: break;
      default: break;
    }
    return this.trk.confState();
  }

  // ---- time ---------------------------------------------------------------------------------------------------

  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(message({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(message({ type: MessageType.CheckQuorum, from: this.id }));
      // a leader transfer that did not finish within an election timeout is abandoned
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: MessageType.Beat, from: this.id }));
    }
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(message({ type: MessageType.TimeoutNow, to }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  // ---- reads --------------------------------------------------------------------------------------------------

  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.step(m);
  }

  private respondReadIndex(req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, context: req.context ?? new Uint8Array() });
      return;
    }
    this.send(message({ type: MessageType.ReadIndexResp, to: req.from, index, context: req.context }));
  }

  loadState(hs: HardState): void {
    invariant(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      () => `raft: state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }
}

export { isLocalMessage, isResponseMessage };
