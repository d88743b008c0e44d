// The Raft driver: owns the RawNode, the tick timer and the order of every Ready, asserted by construction:
//   0. a leader sends its append/heartbeat/snapshot messages at once (it does not count itself before step 1)
//   1. persist: snapshot, entries and hard state, awaited to `flushed`
//   2. send the remaining messages (votes and acknowledgements only after the state they promise is durable)
//   3. apply committed entries (one LMDB transaction with the applied index, in the server)
//   4. advance
// Proposals and messages arriving while a Ready is being written accumulate in the next one: one flush per batch.

import {
  decodeConfChange,
  EntryType,
  MessageType,
  ProposalDroppedError,
  RawNode,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SoftState,
} from '../raft/index.js';
import type { LmdbRaftStorage } from '../storage/index.js';
import type { Storage } from '../storage/index.js';

export interface RaftDriverHooks {
  /** step 3: apply committed entries; conf changes are already applied to Raft, with the resulting configuration */
  apply(entries: Entry[], confChanges: Map<number, { cc: ConfChange; confState: ConfState }>): void;
  /** a snapshot from the leader, to install before anything else of this Ready */
  installSnapshot(snapshot: Snapshot): void;
  onSoftState(ss: SoftState): void;
  onReadStates(rs: ReadState[]): void;
  send(messages: Message[]): void;
  /** how long step 1 (persist up to `flushed`) took, for /metrics */
  persisted?(seconds: number): void;
  fatal(err: unknown): void;
}

export interface RaftDriverOptions {
  memberId: NodeId;
  storage: Storage;
  raftStorage: LmdbRaftStorage;
  applied: number;
  confState: ConfState;
  electionTicks: number;
  heartbeatTicks: number;
  tickMs: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  random: () => number;
  hooks: RaftDriverHooks;
}

export class RaftDriver {
  readonly node: RawNode;
  private processing = false;
  private scheduled = false;
  private stopped = false;
  private ticker: NodeJS.Timeout | null = null;
  private idle: (() => void)[] = [];

  constructor(private readonly options: RaftDriverOptions) {
    this.node = new RawNode({
      id: options.memberId,
      electionTick: options.electionTicks,
      heartbeatTick: options.heartbeatTicks,
      storage: options.raftStorage,
      applied: options.applied,
      confState: options.confState,
      maxSizePerMsg: options.maxSizePerMsg,
      maxInflightMsgs: options.maxInflightMsgs,
      checkQuorum: true,
      preVote: true,
      random: options.random,
    });
  }

  start(): void {
    this.ticker = setInterval(() => {
      this.node.tick();
      this.schedule();
    }, this.options.tickMs);
    this.schedule();
  }

  /** Single voter: campaign at once instead of waiting an election timeout (etcd does the same on start-up). */
  campaignIfAlone(): void {
    const r = this.node.raft;
    if (r.trk.voters.size === 1 && r.trk.voters.has(r.id) && r.state !== 2 && r.promotable()) {
      this.node.campaign();
      this.schedule();
    }
  }

  propose(data: Uint8Array): void {
    this.node.propose(data);
    this.schedule();
  }

  proposeConfChange(cc: ConfChange): void {
    this.node.proposeConfChange(cc);
    this.schedule();
  }

  readIndex(context: Uint8Array): void {
    this.node.readIndex(context);
    this.schedule();
  }

  transferLeader(to: NodeId): void {
    this.node.transferLeader(to);
    this.schedule();
  }

  step(m: Message): void {
    if (this.stopped) return;
    try {
      this.node.step(m);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
    this.schedule();
  }

  reportUnreachable(id: NodeId): void {
    this.node.reportUnreachable(id);
    this.schedule();
  }

  reportSnapshot(id: NodeId, failed: boolean): void {
    this.node.reportSnapshot(id, failed);
    this.schedule();
  }

  schedule(): void {
    if (this.scheduled || this.processing || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.process();
    });
  }

  private async process(): Promise<void> {
    if (this.processing || this.stopped) return;
    this.processing = true;
    try {
      while (!this.stopped && this.node.hasReady()) {
        const rd = this.node.ready();
        const { raftStorage, storage, hooks } = this.options;
        if (rd.softState) hooks.onSoftState(rd.softState);
        let rest = rd.messages;
        if (this.node.isLeader) {
          const early = rest.filter((m) => m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap);
          if (early.length > 0) hooks.send(early);
          rest = rest.filter((m) => !early.includes(m));
        }
        // 1. persist
        if (rd.snapshot) hooks.installSnapshot(rd.snapshot);
        const persistStart = performance.now();
        raftStorage.append(rd.entries);
        if (rd.hardState) raftStorage.setHardState(rd.hardState);
        if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
          await storage.log.flushed;
          hooks.persisted?.((performance.now() - persistStart) / 1000);
        }
        if (this.stopped) return;
        // 2. send
        if (rest.length > 0) hooks.send(rest);
        // 3. apply
        if (rd.committedEntries.length > 0) {
          const confChanges = new Map<number, { cc: ConfChange; confState: ConfState }>();
          for (const e of rd.committedEntries) {
            if (e.type !== EntryType.ConfChange) continue;
            const cc = decodeConfChange(e.data);
            confChanges.set(e.index, { cc, confState: this.node.applyConfChange(cc) });
          }
          hooks.apply(rd.committedEntries, confChanges);
        }
        if (rd.readStates.length > 0) hooks.onReadStates(rd.readStates);
        // 4. advance
        this.node.advance(rd);
        // the bootstrap entries of a one-member cluster were just applied: no need to wait an election timeout
        if (rd.committedEntries.some((e) => e.type === EntryType.ConfChange)) this.campaignIfAlone();
      }
    } catch (err) {
      this.stopped = true;
      this.options.hooks.fatal(err);
    } finally {
      this.processing = false;
      const waiting = this.idle;
      this.idle = [];
      for (const w of waiting) w();
    }
    if (!this.stopped && this.node.hasReady()) this.schedule();
  }

  /** Stops ticking and processing; resolves once the Ready in progress (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.processing) await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
