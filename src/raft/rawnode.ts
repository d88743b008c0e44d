// RawNode: the driver-facing API (etcd-io/raft's RawNode). The driver calls tick/step/propose, then loops:
//   rd = ready(); 1. persist rd.hardState, rd.entries, rd.snapshot (durably when rd.mustSync);
//   2. send rd.messages; 3. apply rd.committedEntries (and applyConfChange for conf changes); 4. advance(rd).

import { Packr, Unpackr } from 'msgpackr';
import { Raft, ProposalDroppedError, type RaftConfig } from './raft.js';
import {
  EntryType,
  isHardStateEqual,
  isResponseMessage,
  message,
  MessageType,
  NONE,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SoftState,
} from './types.js';

export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  readStates: ReadState[];
  /** to persist before sending messages */
  entries: Entry[];
  snapshot?: Snapshot;
  /** to apply, in order, after persisting */
  committedEntries: Entry[];
  messages: Message[];
  /** whether hardState/entries must reach stable storage before messages are sent */
  mustSync: boolean;
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, int64AsType: 'bigint' });

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return packr.pack([cc.type, cc.nodeId, cc.context]);
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const [type, nodeId, context] = unpackr.unpack(data) as [number, bigint, Uint8Array];
  return { type: Number(type) as ConfChange['type'], nodeId: BigInt(nodeId), context: context ?? new Uint8Array() };
}

export class RawNode {
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  campaign(): void {
    this.raft.step(message({ type: MessageType.Hup }));
  }

  /** Throws ProposalDroppedError when this node cannot accept the proposal (no leader, transfer, limits). */
  propose(data: Uint8Array): void {
    this.raft.step(message({ type: MessageType.Prop, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }] }));
  }

  proposeConfChange(cc: ConfChange): void {
    this.raft.step(
      message({ type: MessageType.Prop, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }] }),
    );
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Steps a message from the network (local message types are refused). */
  step(m: Message): void {
    if (m.type === MessageType.Hup || m.type === MessageType.Beat || m.type === MessageType.CheckQuorum) {
      throw new Error('raft: cannot step raft local message');
    }
    if (this.raft.trk.progress.get(m.from) === undefined && isResponseMessage(m.type)) {
      return; // a response from a node no longer in the configuration
    }
    this.raft.step(m);
  }

  /** Starts a linearizable read: a ReadState with this context appears once it is safe to read at its index. */
  readIndex(context: Uint8Array): void {
    this.raft.step(message({ type: MessageType.ReadIndex, entries: [], context }));
  }

  transferLeader(transferee: NodeId): void {
    this.raft.step(message({ type: MessageType.TransferLeader, from: transferee }));
  }

  reportUnreachable(id: NodeId): void {
    try {
      this.raft.step(message({ type: MessageType.Unreachable, from: id }));
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  reportSnapshot(id: NodeId, failed: boolean): void {
    this.raft.step(message({ type: MessageType.SnapStatus, from: id, reject: failed }));
  }

  hasReady(): boolean {
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) return true;
    const hs = r.hardState();
    if (!isHardStateEqual(hs, this.prevHardState) && hs.term !== 0) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || r.raftLog.unstableEntries().length > 0 || r.raftLog.hasNextEnts()) return true;
    return r.readStates.length > 0;
  }

  ready(): Ready {
    const r = this.raft;
    const entries = r.raftLog.unstableEntries();
    const committedEntries = r.raftLog.nextEnts();
    const rd: Ready = {
      readStates: r.readStates,
      entries,
      committedEntries,
      messages: r.msgs,
      mustSync: false,
    };
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) rd.softState = ss;
    const hs = r.hardState();
    if (!isHardStateEqual(hs, this.prevHardState)) rd.hardState = hs;
    if (r.raftLog.hasPendingSnapshot()) rd.snapshot = r.raftLog.snapshot();
    rd.mustSync =
      entries.length > 0 ||
      (rd.hardState !== undefined && (rd.hardState.term !== this.prevHardState.term || rd.hardState.vote !== this.prevHardState.vote));
    r.msgs = [];
    r.readStates = [];
    return rd;
  }

  /** Called once the Ready was persisted, sent and applied. */
  advance(rd: Ready): void {
    const r = this.raft;
    if (rd.softState) this.prevSoftState = rd.softState;
    if (rd.hardState) this.prevHardState = rd.hardState;
    if (rd.snapshot) {
      r.raftLog.stableSnapTo(rd.snapshot.metadata.index);
      // The application installed the snapshot, so its state is applied up to the snapshot's index (etcd's
      // appliedSnap). Left behind, `applied` would point into the compacted log, and the check that a member does not
      // campaign with committed but unapplied conf changes would find no entries to look at.
      r.raftLog.appliedTo(rd.snapshot.metadata.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      r.raftLog.stableTo(last.index, last.term);
      r.onPersisted(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1]!;
      r.raftLog.appliedTo(last.index);
      r.reduceUncommittedSize(rd.committedEntries);
    }
  }

  get id(): NodeId {
    return this.raft.id;
  }

  get leader(): NodeId {
    return this.raft.lead;
  }

  get isLeader(): boolean {
    return this.raft.lead === this.raft.id && this.raft.lead !== NONE;
  }
}
