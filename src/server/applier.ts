// The applier: the member's state machine. It owns the applied state (store revision and compaction, applied index,
// Raft configuration and member list) and changes it only by applying committed entries, installing a snapshot from
// the leader, or recording a finished physical compaction.
//
// Applying a batch of committed entries is one LMDB transaction that also records the applied index, the
// configuration and the member list, so a crash neither loses an acknowledged write nor applies one twice. Waiters
// are answered by the caller only after that transaction (the results are returned, not delivered from here).

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
  readonly stats: ServerStats;
  readonly membership: MembershipEffects;
  /** the response header at `revision` (the current revision when absent) */
  header(revision?: number): ResponseHeader;
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
  readonly state: MvccState;
  private appliedIndex: number;
  private compactedPhysicallyRevision: number;
  private currentConfState: ConfState;
  private currentMembers: Members;
  private raftStorage: LmdbRaftStorage | null = null;

  constructor(
    private readonly ports: ApplierPorts,
    persisted: PersistedState,
  ) {
    this.state = { revision: persisted.revision, compactRevision: persisted.compactRevision };
    this.appliedIndex = persisted.applied;
    this.compactedPhysicallyRevision = persisted.compactedPhysically;
    this.currentConfState = readConfState(ports.storage.meta);
    this.currentMembers = readMembers(ports.storage.meta);
  }

  /** Raft's storage, for the snapshot's term and log compaction (made after the applier: it asks it for snapshots). */
  attachRaftStorage(raftStorage: LmdbRaftStorage): void {
    this.raftStorage = raftStorage;
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get compactedPhysically(): number {
    return this.compactedPhysicallyRevision;
  }

  get confState(): ConfState {
    return this.currentConfState;
  }

  get members(): Members {
    return this.currentMembers;
  }

  /** Step 3 of a Ready: one LMDB transaction for the batch, the applied index, the configuration and members. */
  apply(batch: readonly Entry[], confChanges: ReadonlyMap<number, { cc: ConfChange; confState: ConfState }>): AppliedBatch | null {
    const pending = batch.filter((e) => e.index > this.appliedIndex);
    if (pending.length === 0) return null;
    invariant(pending[0]!.index === this.appliedIndex + 1, `applying index ${pending[0]!.index} after applied ${this.appliedIndex}`);
    const results: AppliedResult[] = [];
    const events: MvccEvent[] = [];
    const before = { state: { ...this.state }, applied: this.appliedIndex, confState: this.currentConfState, members: this.currentMembers };
    let removedSelf = false;
    const commitStart = performance.now();
    try {
      this.ports.storage.env.transactionSync(() => {
        for (const entry of pending) {
          if (entry.type === EntryType.ConfChange) {
            const change = confChanges.get(entry.index)!;
            const r = this.applyConfChange(change.cc, change.confState);
            if (r.removedSelf) removedSelf = true;
            if (r.waiter !== 0) results.push({ id: r.waiter, ok: true, value: r.value });
          } else if (entry.data.length > 0) {
            const { waiter, method, request } = decodeProposal(entry.data, this.ports.memberId);
            results.push({ id: waiter, ...this.applyEntry(method, request, events) });
          }
          this.appliedIndex = entry.index;
        }
        this.persistState();
        failpoint('apply.beforeCommit'); // TODO(lead): temporary placement on wt-durability; the group-commit apply owns it
      });
      failpoint('apply.afterCommit'); // TODO(lead): temporary placement on wt-durability, before any waiter is answered
    } catch (err) {
      // A broken invariant or a disk error: the transaction was aborted; undo the in-memory state and stop.
      Object.assign(this.state, before.state);
      this.appliedIndex = before.applied;
      this.currentConfState = before.confState;
      this.currentMembers = before.members;
      throw err;
    }
    this.ports.stats.backendCommit((performance.now() - commitStart) / 1000);
    this.maybeCompactLog();
    return { results, events, removedSelf };
  }

  private persistState(): void {
    writePersistedStateSync(this.ports.storage.meta, {
      applied: this.appliedIndex,
      revision: this.state.revision,
      compactRevision: this.state.compactRevision,
      compactedPhysically: this.compactedPhysicallyRevision,
    });
  }

  private applyEntry(method: WriteMethod, request: unknown, events: MvccEvent[]): Omit<AppliedResult, 'id'> {
    const { ports } = this;
    const txn = new MvccTxn(ports.storage, this.state, ports.lessor);
    try {
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
          compactLogical(this.state, req.revision);
          return { ok: true, value: { header: ports.header() }, physical: req.revision };
        }
        case 'MemberAttributes': {
          const m = request as Partial<MemberRecord> & { id: string };
          const existing = this.currentMembers[m.id];
          if (existing !== undefined) {
            this.currentMembers = { ...this.currentMembers, [m.id]: { ...existing, name: m.name ?? existing.name, clientURLs: m.clientURLs ?? existing.clientURLs, binaryURLs: m.binaryURLs ?? existing.binaryURLs } };
            writeMembersSync(ports.storage.meta, this.currentMembers);
          }
          return { ok: true, value: { header: ports.header() } };
        }
        case 'LeaseGrant': {
          const { ID, TTL } = request as { ID: number | bigint; TTL: number };
          const ttl = ports.lessor.grant(BigInt(ID), TTL);
          return { ok: true, value: { header: ports.header(), ID: BigInt(ID), TTL: ttl } };
        }
        case 'LeaseRevoke': {
          // every attached key goes in one revision, one DELETE event each; a revocation for expiry carries the
          // renewals the leader saw, and is dropped if the lease was kept alive since
          const { ID, renewals } = request as { ID: number | bigint; renewals?: number };
          const keys = ports.lessor.revoke(BigInt(ID), renewals);
          if (keys === null) return { ok: true, value: { header: ports.header() } };
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
          return { ok: true, value: { header: ports.header() } };
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
      value: { header: { ...ports.header(), revision: 0 }, members: sortedMembers(members).map(toApiMember), member: members[key] ? toApiMember(members[key]!) : undefined },
      removedSelf: cc.type === ConfChangeType.RemoveNode && self,
    };
  }

  // ---- snapshots and log compaction -------------------------------------------------------------------------

  /** What Raft sends a member that is behind the log: the key space at the applied index. */
  snapshotForRaft(): Snapshot {
    const index = this.appliedIndex;
    return {
      metadata: { index, term: this.raftStorage!.term(index), confState: { voters: [...this.currentConfState.voters], learners: [...this.currentConfState.learners] } },
      data: produceSnapshotData(this.ports.storage),
    };
  }

  /** Replaces the key space, the applied state and Raft's log with the leader's snapshot; returns the old revision. */
  installSnapshot(snapshot: Snapshot): { revisionBefore: number } {
    const revisionBefore = this.state.revision;
    const { storage } = this.ports;
    storage.env.transactionSync(() => {
      const installed = installSnapshotData(storage, snapshot.data, snapshot.metadata.index);
      this.state.revision = installed.state.revision;
      this.state.compactRevision = installed.state.compactRevision;
      this.compactedPhysicallyRevision = installed.state.compactedPhysically;
      this.appliedIndex = snapshot.metadata.index;
      this.currentMembers = installed.members;
      this.currentConfState = snapshot.metadata.confState;
      writeConfStateSync(storage.meta, this.currentConfState);
      this.persistState();
    });
    this.raftStorage!.resetToSnapshot({ index: snapshot.metadata.index, term: snapshot.metadata.term, confState: confStateToStored(snapshot.metadata.confState) });
    return { revisionBefore };
  }

  /** Every --snapshot-count applied entries, the log before (applied - retained entries) is discarded. */
  private maybeCompactLog(): void {
    const { limits, snapshotCount } = this.ports.config;
    const raftStorage = this.raftStorage!;
    const target = this.appliedIndex - limits.logEntriesRetained;
    if (target - raftStorage.snapshotIndex >= Math.min(snapshotCount, 10_000)) {
      raftStorage.compact(target, this.currentConfState, limits.compactionBatchKeysMax);
    } else if (raftStorage.firstIndex() > 1) {
      raftStorage.trim(limits.compactionBatchKeysMax);
    }
  }

  /** Every step of the physical compaction at `revision` is done (see compactor.ts): record it with the state. */
  recordPhysicalCompaction(revision: number): void {
    // a snapshot installed meanwhile may have brought a newer completed compaction
    this.compactedPhysicallyRevision = Math.max(this.compactedPhysicallyRevision, revision);
    this.ports.storage.env.transactionSync(() => this.persistState());
  }
}
