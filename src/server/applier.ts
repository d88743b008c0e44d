// The applier: the member's state machine. It owns the applied state (store revision and compaction, applied index,
// Raft configuration and member list) and changes it only by applying committed entries, installing a snapshot from
// the leader, or recording a finished physical compaction.
//
// Group commit. Applying a batch of committed entries is one LMDB transaction that also records the applied index, the
// configuration and the member list, so a crash neither loses an acknowledged write nor applies one twice. It is not a
// synchronous transaction on the event loop: it is queued on lmdb-js's writer thread (an async child transaction) and
// runs when the writer reaches it, in the same commit as the log entries queued around it, while the main thread
// goes on reading, decoding and proposing. Its own sync is not waited for: the log (flushed before anything is
// applied) is the durable record, and the applied index stored with the state says where replay starts.
//
// Two states: `working` is the state of the write transaction (changed only inside apply transactions, which run in
// queue order), `state` is the published one, what readers see: it moves to a batch's state when that batch's
// transaction has committed, so a read sees the state after a whole batch or before it, never part of one. Watchers
// and reads waiting for an index are released through `ports.committed` at that moment. Waiters are answered as soon
// as their batch has been applied inside its transaction (`ports.answered`), before the commit, as etcd answers before
// its backend commits: the entries are durable in the log. A serializable read then waits (`visible`) until every
// answered write is published, so a client reads its own writes.

import type { Auth, AuthInfo } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { EtcdError, invariant } from '../errors/index.js';
import { failpoint } from '../failpoints/index.js';
import type { Lessor, LeaseCheckpoint } from '../lease/index.js';
import { compactLogical, MvccTxn, type MvccEvent, type MvccState } from '../mvcc/index.js';
import { decodeCompaction, decodeDeleteRange, decodePut, decodeTxn, type ResponseHeader } from '../proto/index.js';
import { ConfChangeType, EntryType, type ConfChange, type ConfState, type Entry, type Snapshot } from '../raft/index.js';
import {
  confStateToStored,
  readConfState,
  readMembers,
  readPersistedState,
  writeConfStateSync,
  writeMembersSync,
  writePersistedStateSync,
  type LmdbRaftStorage,
  type MemberRecord,
  type Members,
  type PersistedState,
  type Storage,
} from '../storage/index.js';
import { decodeConfContext, sortedMembers, toApiMember } from './membership.js';
import { applyAuthWrite, checkWriteEntry, isAuthWrite } from './auth-apply.js';
import { decodeProposal, RUN_ID, type AppliedResult, type WriteMethod } from './proposals.js';
import { installSnapshotData, produceSnapshotData } from './snapshot.js';
import { countTxn, type ServerStats } from './stats.js';

/** What a conf change does to the peer transport and the removed-members record (src/server/peers.ts). */
export interface MembershipEffects {
  added(id: bigint, peerURLs: readonly string[]): void;
  /** records the removal (inside the apply transaction) and drops the peer */
  removed(id: bigint): void;
  updated(id: bigint, peerURLs: readonly string[]): void;
}

export interface ApplierPorts {
  readonly memberId: bigint;
  readonly storage: Storage;
  readonly config: Config;
  readonly lessor: Lessor;
  /** etcd's auth: the store its entries change and every client write is checked against */
  readonly auth: Auth;
  readonly stats: ServerStats;
  readonly membership: MembershipEffects;
  /** the response header at `revision` */
  header(revision: number): ResponseHeader;
  /**
   * a batch was applied inside its transaction, not yet committed: its waiters may be answered (the entries are
   * durable in the log, the results deterministic; etcd answers from its backend's buffer the same way)
   */
  answered(results: readonly AppliedResult[]): void;
  /** a batch's transaction committed and its state is published: watchers, reads waiting for the index */
  committed(batch: AppliedBatch): void;
  /** an apply transaction failed (a broken invariant or a disk error): the member must stop */
  fail(err: unknown): void;
}

export interface AppliedBatch {
  /** what each entry answered, for the waiters of the entries proposed here */
  results: AppliedResult[];
  /** the key-space changes, for watchers */
  events: MvccEvent[];
  /** the batch removed this member from the cluster */
  removedSelf: boolean;
}

export class Applier {
  /** the published state: what readers see, as committed */
  readonly state: MvccState;
  /** the state of the write transaction: changed only inside apply transactions */
  private readonly working: MvccState;
  private appliedIndex: number;
  private workingApplied: number;
  /** the last index handed to an apply transaction */
  private queuedIndex: number;
  /** the last index whose waiters were answered, and the store revision after it */
  private answeredIndex: number;
  private answeredRevision: number;
  private visibleWaits: { index: number; resolve: () => void }[] = [];
  private compactedPhysicallyRevision: number;
  private workingCompactedPhysically: number;
  private currentConfState: ConfState;
  private currentMembers: Members;
  private raftStorage: LmdbRaftStorage | null = null;
  /** apply transactions queued and not yet committed */
  private inFlight = 0;
  /** when each in-flight transaction was queued (performance.now), oldest first: they settle in order */
  private readonly queuedTimes: number[] = [];
  private idle: (() => void)[] = [];
  /** an apply transaction failed: every later one refuses to run on the state it left */
  private broken: unknown = null;

  constructor(
    private readonly ports: ApplierPorts,
    persisted: PersistedState,
  ) {
    this.state = { revision: persisted.revision, compactRevision: persisted.compactRevision };
    this.working = { ...this.state };
    this.appliedIndex = this.workingApplied = this.queuedIndex = this.answeredIndex = persisted.applied;
    this.answeredRevision = persisted.revision;
    this.compactedPhysicallyRevision = this.workingCompactedPhysically = persisted.compactedPhysically;
    this.currentConfState = readConfState(ports.storage.meta);
    this.currentMembers = readMembers(ports.storage.meta);
  }

  /** Raft's storage, for the snapshot's term and log compaction (made after the applier: it asks it for snapshots). */
  attachRaftStorage(raftStorage: LmdbRaftStorage): void {
    this.raftStorage = raftStorage;
  }

  /**
   * The store revision as clients know it: after the last batch whose waiters were answered (etcd's current revision,
   * which includes what its backend has not committed yet). What response headers carry; a read at it waits (visible).
   */
  get revision(): number {
    return Math.max(this.state.revision, this.answeredRevision);
  }

  /** the last applied index whose state is published */
  get applied(): number {
    return this.appliedIndex;
  }

  /** the last index applied inside an apply transaction, committed or not (what in-memory state, tokens, reflect) */
  get appliedInTransaction(): number {
    return this.workingApplied;
  }

  get compactedPhysically(): number {
    return this.compactedPhysicallyRevision;
  }

  /** the configuration and members as of the last apply transaction run (they change only there) */
  get confState(): ConfState {
    return this.currentConfState;
  }

  get members(): Members {
    return this.currentMembers;
  }

  /** Whether apply transactions are queued and not yet committed. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /**
   * null when every answered write is published; otherwise a promise that resolves when the writes answered so far
   * are (what a serializable read waits for, so that it sees every write acknowledged before it arrived).
   */
  visible(): Promise<void> | null {
    if (this.appliedIndex >= this.answeredIndex) return null;
    const index = this.answeredIndex;
    return new Promise((resolve) => this.visibleWaits.push({ index, resolve }));
  }

  /**
   * How long the oldest queued transaction has waited for its commit (0 with none in flight), and where the indexes
   * stand: what the member's watchdog reports when the apply stalls.
   */
  stall(): { ms: number; inFlight: number; queued: number; answered: number; published: number } {
    const ms = this.queuedTimes.length === 0 ? 0 : performance.now() - this.queuedTimes[0]!;
    return { ms, inFlight: this.inFlight, queued: this.queuedIndex, answered: this.answeredIndex, published: this.appliedIndex };
  }

  /** Resolves once every queued apply transaction has committed (or failed). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * Step 3 of a Ready: queues one transaction for the batch, the applied index, the configuration and members. It
   * runs on lmdb-js's writer thread's turn (the callback itself on this thread, while the writer holds the
   * transaction) and commits with whatever else is queued; `ports.committed` follows the commit.
   */
  apply(batch: readonly Entry[], confChanges: ReadonlyMap<number, { cc: ConfChange; confState: ConfState }>): void {
    const pending = batch.filter((e) => e.index > this.queuedIndex);
    if (pending.length === 0) return;
    invariant(pending[0]!.index === this.queuedIndex + 1, `applying index ${pending[0]!.index} after applied ${this.queuedIndex}`);
    this.queuedIndex = pending[pending.length - 1]!.index;
    this.transact(
      () => {
        const batchResult = this.applyInTransaction(pending, confChanges);
        const last = this.workingApplied;
        const revision = this.working.revision;
        // after this callback returns (the writer thread goes on to commit meanwhile)
        queueMicrotask(() => {
          this.answeredIndex = Math.max(this.answeredIndex, last);
          this.answeredRevision = Math.max(this.answeredRevision, revision);
          this.ports.answered(batchResult.results);
        });
        failpoint('apply.beforeCommit');
        return batchResult;
      },
      (batchResult) => {
        failpoint('apply.afterCommit');
        this.ports.committed(batchResult);
      },
    );
  }

  /**
   * Runs `body` in an async child transaction (aborted if it throws) queued behind every earlier one, then publishes
   * the working state as of that transaction once it has committed, and calls `then`.
   */
  private transact<T>(body: () => T, then: (result: T) => void, failed?: (err: unknown) => void): void {
    this.inFlight++;
    const queuedAt = performance.now();
    this.queuedTimes.push(queuedAt);
    let published: { state: MvccState; applied: number; compactedPhysically: number } | null = null;
    let result: T;
    const { env } = this.ports.storage;
    const committed = env.childTransaction(() => {
      if (this.broken !== null) throw this.broken;
      try {
        result = body();
      } catch (err) {
        // This transaction aborts. The ones queued behind it run before its rejection arrives, and must not commit
        // on top of it: they would record an applied index past the batch it lost (its entries never applied), and
        // a hard state mirrored in memory that the abort took back from disk (a restart then refused: applied
        // index past the commit index).
        this.broken = err;
        throw err;
      }
      published = { state: { ...this.working }, applied: this.workingApplied, compactedPhysically: this.workingCompactedPhysically };
    });
    // lmdb-js settles the transactions' promises in commit order, so states are published in order
    committed.then(
      () => {
        const p = published!;
        // readers on this thread must see the commit from now on (lmdb-js may not have renewed the snapshot yet)
        env.resetReadTxn();
        Object.assign(this.state, p.state);
        this.appliedIndex = p.applied;
        this.compactedPhysicallyRevision = p.compactedPhysically;
        this.ports.stats.backendCommit((performance.now() - queuedAt) / 1000);
        this.releaseVisible();
        try {
          then(result);
        } finally {
          this.settle();
        }
      },
      (err: unknown) => {
        this.broken ??= err;
        for (const w of this.visibleWaits.splice(0)) w.resolve();
        this.settle();
        this.ports.fail(err);
        failed?.(err);
      },
    );
  }

  private releaseVisible(): void {
    if (this.visibleWaits.length === 0) return;
    const ready = this.visibleWaits.filter((w) => w.index <= this.appliedIndex);
    if (ready.length === 0) return;
    this.visibleWaits = this.visibleWaits.filter((w) => w.index > this.appliedIndex);
    for (const w of ready) w.resolve();
  }

  private settle(): void {
    this.queuedTimes.shift();
    if (--this.inFlight > 0) return;
    const waiting = this.idle;
    this.idle = [];
    for (const w of waiting) w();
  }

  /** The batch inside its transaction: on a throw the transaction aborts and the working state is put back. */
  private applyInTransaction(
    pending: readonly Entry[],
    confChanges: ReadonlyMap<number, { cc: ConfChange; confState: ConfState }>,
  ): AppliedBatch {
    const results: AppliedResult[] = [];
    const events: MvccEvent[] = [];
    const before = {
      state: { ...this.working },
      applied: this.workingApplied,
      confState: this.currentConfState,
      members: this.currentMembers,
      auth: this.ports.auth.store.checkpoint(),
    };
    let removedSelf = false;
    try {
      for (const entry of pending) {
        if (entry.type === EntryType.ConfChange) {
          const change = confChanges.get(entry.index)!;
          const r = this.applyConfChange(change.cc, change.confState);
          if (r.removedSelf) removedSelf = true;
          if (r.waiter !== 0) results.push({ id: r.waiter, ok: true, value: r.value });
        } else if (entry.data.length > 0) {
          const { waiter, method, request, caller } = decodeProposal(entry.data, this.ports.memberId);
          results.push({ id: waiter, ...this.applyEntry(method, request, events, caller, entry.index, waiter !== 0) });
        }
        this.workingApplied = entry.index;
      }
      this.raftStorage!.commitAtLeast(this.workingApplied);
      this.persistState();
      this.maybeCompactLog();
    } catch (err) {
      // A broken invariant or a disk error: the transaction aborts; undo the in-memory state and stop.
      Object.assign(this.working, before.state);
      this.workingApplied = before.applied;
      this.currentConfState = before.confState;
      this.currentMembers = before.members;
      this.ports.auth.store.restore(before.auth);
      throw err;
    }
    return { results, events, removedSelf };
  }

  /** Records the working state (inside a write transaction). */
  private persistState(): void {
    writePersistedStateSync(this.ports.storage.meta, {
      applied: this.workingApplied,
      revision: this.working.revision,
      compactRevision: this.working.compactRevision,
      compactedPhysically: this.workingCompactedPhysically,
    });
  }

  /** The response header at the working revision (inside an apply transaction). */
  private headerNow(): ResponseHeader {
    return this.ports.header(this.working.revision);
  }

  private applyEntry(
    method: WriteMethod,
    request: unknown,
    events: MvccEvent[],
    caller: AuthInfo | undefined,
    index: number,
    proposedHere: boolean,
  ): Omit<AppliedResult, 'id'> {
    const { ports } = this;
    if (isAuthWrite(method)) {
      try {
        return { ok: true, value: { header: this.headerNow(), ...applyAuthWrite(ports.auth, method, request, caller, index, proposedHere) } };
      } catch (err) {
        if (err instanceof EtcdError) return { ok: false, value: err };
        throw err;
      }
    }
    const txn = new MvccTxn(ports.storage, this.working, ports.lessor);
    try {
      checkWriteEntry(ports.auth, method, request, caller, (id) => ports.lessor.keysOf(id));
      let response: unknown;
      switch (method) {
        case 'Put': {
          const req = decodePut(request);
          txn.checkPut(req, true);
          const r = txn.put(req);
          ports.stats.puts++;
          response = { ...r, header: ports.header(r.header.revision) };
          break;
        }
        case 'DeleteRange': {
          const r = txn.deleteRange(decodeDeleteRange(request));
          ports.stats.deletes++;
          response = { ...r, header: ports.header(r.header.revision) };
          break;
        }
        case 'Txn': {
          const req = decodeTxn(request);
          const r = txn.txn(req);
          countTxn(req, r, ports.stats);
          response = { ...r, header: ports.header(r.header.revision) };
          break;
        }
        case 'Compact': {
          const req = decodeCompaction(request);
          compactLogical(this.working, req.revision);
          return { ok: true, value: { header: this.headerNow() }, physical: req.revision };
        }
        case 'MemberAttributes': {
          const m = request as Partial<MemberRecord> & { id: string };
          const existing = this.currentMembers[m.id];
          if (existing !== undefined) {
            this.currentMembers = { ...this.currentMembers, [m.id]: { ...existing, name: m.name ?? existing.name, clientURLs: m.clientURLs ?? existing.clientURLs, binaryURLs: m.binaryURLs ?? existing.binaryURLs } };
            writeMembersSync(ports.storage.meta, this.currentMembers);
          }
          return { ok: true, value: { header: this.headerNow() } };
        }
        case 'LeaseGrant': {
          const { ID, TTL } = request as { ID: number | bigint; TTL: number };
          const ttl = ports.lessor.grant(BigInt(ID), TTL);
          return { ok: true, value: { header: this.headerNow(), ID: BigInt(ID), TTL: ttl } };
        }
        case 'LeaseRevoke': {
          // every attached key goes in one revision, one DELETE event each; a revocation for expiry carries the
          // renewals the leader saw, and is dropped if the lease was kept alive since
          const { ID, renewals } = request as { ID: number | bigint; renewals?: number };
          const keys = ports.lessor.revoke(BigInt(ID), renewals);
          if (keys === null) return { ok: true, value: { header: this.headerNow() } };
          for (const key of keys) txn.deleteRange({ key });
          response = { header: ports.header(txn.changed ? txn.beginRevision + 1 : txn.beginRevision) };
          break;
        }
        case 'LeaseKeepAlive': {
          const ids = (request as { IDs: (number | bigint)[] }).IDs;
          return { ok: true, value: ids.map((id) => ports.lessor.keepAlive(BigInt(id))) };
        }
        case 'LeaseCheckpoint': {
          const cps = (request as { checkpoints: { ID: number | bigint; remaining_TTL: number; renewals?: number }[] }).checkpoints;
          ports.lessor.checkpoint(cps.map((c): LeaseCheckpoint => ({ ID: BigInt(c.ID), remaining_TTL: c.remaining_TTL, renewals: c.renewals })));
          return { ok: true, value: { header: this.headerNow() } };
        }
        default:
          invariant(false, `unknown entry method ${String(method)}`);
      }
      txn.end();
      events.push(...txn.events);
      return { ok: true, value: response };
    } catch (err) {
      if (err instanceof EtcdError && !txn.changed) return { ok: false, value: err };
      throw err;
    }
  }

  private applyConfChange(cc: ConfChange, confState: ConfState): { waiter: number; value: unknown; removedSelf: boolean } {
    const { ports } = this;
    const ctx = decodeConfContext(cc.context);
    const key = cc.nodeId.toString();
    const self = cc.nodeId === ports.memberId;
    const members = { ...this.currentMembers };
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode: {
        const existing = members[key];
        const isLearner = cc.type === ConfChangeType.AddLearnerNode;
        members[key] = existing
          ? { ...existing, isLearner }
          : { id: key, name: ctx.member?.name ?? '', peerURLs: ctx.member?.peerURLs ?? [], clientURLs: ctx.member?.clientURLs ?? [], binaryURLs: ctx.member?.binaryURLs ?? [], isLearner };
        if (!self) ports.membership.added(cc.nodeId, members[key]!.peerURLs);
        break;
      }
      case ConfChangeType.RemoveNode:
        delete members[key];
        ports.membership.removed(cc.nodeId);
        break;
      case ConfChangeType.UpdateNode: {
        const existing = members[key];
        if (existing && ctx.member) members[key] = { ...existing, peerURLs: ctx.member.peerURLs };
        if (existing && ctx.member && !self) ports.membership.updated(cc.nodeId, ctx.member.peerURLs);
        break;
      }
      default:
        break;
    }
    this.currentMembers = members;
    this.currentConfState = confState;
    writeMembersSync(ports.storage.meta, members);
    writeConfStateSync(ports.storage.meta, confState);
    const [proposer, run, id] = ctx.proposer ?? ['0', 0, 0];
    const mine = proposer === ports.memberId.toString() && run === RUN_ID;
    return {
      waiter: mine ? id : 0,
      value: { header: { ...this.headerNow(), revision: 0 }, members: sortedMembers(members).map(toApiMember), member: members[key] ? toApiMember(members[key]!) : undefined },
      removedSelf: cc.type === ConfChangeType.RemoveNode && self,
    };
  }

  // ---- snapshots and log compaction -------------------------------------------------------------------------

  /**
   * What Raft sends a member that is behind the log: the key space as committed, with the applied index and the
   * configuration recorded in the same read snapshot (one synchronous pass: lmdb-js serves it from one read
   * transaction), which may be ahead of the published index by a batch that committed a moment ago.
   */
  snapshotForRaft(): Snapshot {
    const { meta } = this.ports.storage;
    const index = readPersistedState(meta).applied;
    const confState = readConfState(meta);
    const data = produceSnapshotData(this.ports.storage);
    return {
      metadata: { index, term: this.raftStorage!.term(index), confState: { voters: [...confState.voters], learners: [...confState.learners] } },
      data,
    };
  }

  /**
   * Replaces the key space, the applied state and Raft's log with the leader's snapshot; returns the old revision.
   * Only with no apply transaction in flight (the persist port waits for `whenIdle`).
   */
  installSnapshot(snapshot: Snapshot): { revisionBefore: number } {
    invariant(this.inFlight === 0, 'snapshot install with apply transactions in flight');
    const revisionBefore = this.state.revision;
    const { storage } = this.ports;
    storage.env.transactionSync(() => {
      const installed = installSnapshotData(storage, snapshot.data, snapshot.metadata.index);
      this.working.revision = installed.state.revision;
      this.working.compactRevision = installed.state.compactRevision;
      this.workingCompactedPhysically = installed.state.compactedPhysically;
      this.workingApplied = this.queuedIndex = snapshot.metadata.index;
      this.currentMembers = installed.members;
      this.currentConfState = snapshot.metadata.confState;
      writeConfStateSync(storage.meta, this.currentConfState);
      this.persistState();
    });
    Object.assign(this.state, this.working);
    this.appliedIndex = this.answeredIndex = this.workingApplied;
    this.answeredRevision = this.state.revision;
    this.releaseVisible();
    this.compactedPhysicallyRevision = this.workingCompactedPhysically;
    this.raftStorage!.resetToSnapshot({ index: snapshot.metadata.index, term: snapshot.metadata.term, confState: confStateToStored(snapshot.metadata.confState) });
    return { revisionBefore };
  }

  /**
   * Every --snapshot-count applied entries, the log before (applied - retained entries) is discarded. Inside the
   * apply transaction: the entries go in the same commit as the state that makes them unnecessary, so the log never
   * loses an entry whose applied state is not as durable as the removal.
   */
  private maybeCompactLog(): void {
    const { limits, snapshotCount } = this.ports.config;
    const raftStorage = this.raftStorage!;
    const target = this.workingApplied - limits.logEntriesRetained;
    if (target - raftStorage.snapshotIndex >= Math.min(snapshotCount, 10_000)) {
      raftStorage.compact(target, this.currentConfState, limits.compactionBatchKeysMax);
    } else if (raftStorage.firstIndex() > 1) {
      raftStorage.trim(limits.compactionBatchKeysMax);
    }
  }

  /** Every step of the physical compaction at `revision` is done (see compactor.ts): record it with the state. */
  recordPhysicalCompaction(revision: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.transact(
        () => {
          // a snapshot installed meanwhile may have brought a newer completed compaction
          this.workingCompactedPhysically = Math.max(this.workingCompactedPhysically, revision);
          this.persistState();
        },
        () => resolve(),
        reject,
      );
    });
  }
}
