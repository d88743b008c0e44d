// The Raft driver: owns the RawNode, the tick timer and the order of every Ready, asserted by construction:
//   0. a leader sends its append/heartbeat/snapshot messages at once (it does not count itself before step 1)
//   1. persist: snapshot, entries and hard state, until the persist port says they are durable
//   2. send the remaining messages (votes and acknowledgements only after the state they promise is durable)
//   3. apply committed entries (one LMDB transaction with the applied index, in the server)
//   4. advance
// Proposals and messages arriving while a Ready is being written accumulate in the next one: one flush per batch.
//
// All I/O goes through ports (persist, send, apply...), time through a Clock and "run this later" through `defer`,
// so the same driver runs the member (LMDB, the transport, setImmediate) and the deterministic simulation (src/sim:
// an in-memory disk that flushes when the simulation decides, inside its own step). The persist port answers by
// calling back rather than with a promise: a simulated disk completes the write synchronously inside its step, and the
// driver then carries on with steps 2-4 there and then.

import {
  decodeConfChange,
  EntryType,
  MessageType,
  ProposalDroppedError,
  RawNode,
  StateType,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type RaftStorage,
  type ReadState,
  type Ready,
  type SoftState,
} from '../raft/index.js';
import type { Clock, ClockTimer } from '../clock/index.js';

/** Called by the persist port once a Ready's state is durable, or with the error that kept it from being so. */
export type PersistDone = (err?: unknown) => void;

export interface RaftDriverPorts {
  /**
   * step 1: make the Ready's snapshot, entries and hard state durable, then call `done()` (synchronously or later;
   * `done(err)` if that failed). Nothing of the Ready is sent or applied before. A port that never calls back
   * (a simulated crash) leaves the driver waiting for good.
   */
  persist(rd: Ready, done: PersistDone): void;
  /** steps 0 and 2 */
  send(messages: Message[]): void;
  /** step 3: apply committed entries; conf changes are already applied to Raft, with the resulting configuration */
  apply(entries: Entry[], confChanges: Map<number, { cc: ConfChange; confState: ConfState }>): void;
  onSoftState(ss: SoftState): void;
  onReadStates(rs: ReadState[]): void;
  /** how long step 1 took when it wrote anything (up to durable), for /metrics */
  persisted?(seconds: number): void;
  /** a step failed: the driver has stopped */
  fatal(err: unknown): void;
}

export interface RaftDriverOptions {
  memberId: NodeId;
  /** Raft's read-only view of the stable log; writes go through `ports.persist` */
  raftStorage: RaftStorage;
  applied: number;
  confState: ConfState;
  electionTicks: number;
  heartbeatTicks: number;
  tickMs: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  /** bytes and entries of committed entries one Ready hands to `apply` (one apply transaction); Raft's defaults */
  maxCommittedSizePerReady?: number;
  maxCommittedEntriesPerReady?: number;
  /** a leader drops proposals once its uncommitted tail holds this many bytes (etcd-io/raft's MaxUncommittedEntriesSize) */
  maxUncommittedEntriesSize?: number;
  random: () => number;
  /** the ticker's timer (`start()`) and the persist timing for the metric */
  clock: Clock;
  /** runs `run` soon, after the current call has returned (the member: setImmediate) */
  defer: (run: () => void) => void;
  ports: RaftDriverPorts;
}

/** The Ready between steps 1 and 2. */
interface Persisting {
  rd: Ready;
  /** what step 0 left for step 2 */
  rest: Message[];
  startedAt: number;
  durable: boolean;
  error: unknown;
}

export class RaftDriver {
  readonly node: RawNode;
  protected readonly ports: RaftDriverPorts;
  private readonly clock: Clock;
  /** a Ready is being handled (between ready() and advance(), possibly waiting for its persist) */
  private processing = false;
  private persisting: Persisting | null = null;
  private scheduled = false;
  private stopped = false;
  private ticker: ClockTimer | null = null;
  private idle: (() => void)[] = [];

  constructor(private readonly options: RaftDriverOptions) {
    this.ports = options.ports;
    this.clock = options.clock;
    this.node = new RawNode({
      id: options.memberId,
      electionTick: options.electionTicks,
      heartbeatTick: options.heartbeatTicks,
      storage: options.raftStorage,
      applied: options.applied,
      confState: options.confState,
      maxSizePerMsg: options.maxSizePerMsg,
      maxInflightMsgs: options.maxInflightMsgs,
      maxCommittedSizePerReady: options.maxCommittedSizePerReady,
      maxCommittedEntriesPerReady: options.maxCommittedEntriesPerReady,
      maxUncommittedEntriesSize: options.maxUncommittedEntriesSize,
      checkQuorum: true,
      preVote: true,
      random: options.random,
    });
  }

  start(): void {
    this.ticker = this.clock.setInterval(() => this.tick(), this.options.tickMs);
    this.schedule();
  }

  /** One Raft tick (the ticker's; the simulation calls it itself). */
  tick(): void {
    if (this.stopped) return;
    this.node.tick();
    this.schedule();
  }

  /** Single voter: campaign at once instead of waiting an election timeout (etcd does the same on start-up). */
  campaignIfAlone(): void {
    const r = this.node.raft;
    if (r.trk.voters.size === 1 && r.trk.voters.has(r.id) && r.state !== StateType.Leader && r.promotable()) {
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
    this.options.defer(() => {
      this.scheduled = false;
      if (this.processing || this.stopped) return;
      this.processing = true;
      this.drain();
    });
  }

  /**
   * Handles Readies in order until there is none left or one waits for its persist (the persist port then calls
   * back into here). A persist that completes synchronously continues in this loop, not by recursion.
   */
  private drain(): void {
    try {
      for (;;) {
        if (this.stopped) break;
        if (this.persisting === null) {
          if (!this.node.hasReady()) break;
          this.begin(this.node.ready());
        }
        const p = this.persisting!;
        if (!p.durable) return; // still processing: the persist port calls back
        this.persisting = null;
        if (p.error !== undefined && p.error !== null) throw p.error;
        this.finish(p);
      }
    } catch (err) {
      this.stopped = true;
      this.settle();
      this.ports.fatal(err);
      return;
    }
    this.settle();
    if (!this.stopped && this.node.hasReady()) this.schedule();
  }

  /** Up to step 1 of a Ready: soft state, step 0, and the persist started. */
  private begin(rd: Ready): void {
    if (rd.softState) this.ports.onSoftState(rd.softState);
    const rest = this.sendEarly(rd);
    const p: Persisting = { rd, rest, startedAt: this.clock.now(), durable: false, error: undefined };
    this.persisting = p;
    let synchronous = true;
    this.persist(rd, (err) => {
      if (p.durable || this.persisting !== p) return; // answered twice, or the driver failed meanwhile
      p.durable = true;
      p.error = err;
      if (!synchronous) this.drain();
    });
    synchronous = false;
  }

  /** Steps 2 to 4 of a Ready whose persist completed. */
  private finish(p: Persisting): void {
    const { rd } = p;
    if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
      this.ports.persisted?.((this.clock.now() - p.startedAt) / 1000);
    }
    this.send(p.rest);
    this.apply(rd);
    if (rd.readStates.length > 0) this.ports.onReadStates(rd.readStates);
    this.advance(rd);
  }

  /** 0. a leader replicates while its own write is in flight (Raft thesis 10.2.1); returns what waits for step 2 */
  protected sendEarly(rd: Ready): Message[] {
    if (!this.node.isLeader) return rd.messages;
    const early = rd.messages.filter((m) => m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap);
    if (early.length === 0) return rd.messages;
    this.send(early);
    return rd.messages.filter((m) => !early.includes(m));
  }

  /** 1. persist */
  protected persist(rd: Ready, done: PersistDone): void {
    this.ports.persist(rd, done);
  }

  /** 2. send */
  protected send(messages: Message[]): void {
    if (messages.length > 0) this.ports.send(messages);
  }

  /** 3. apply */
  protected apply(rd: Ready): void {
    if (rd.committedEntries.length === 0) return;
    const confChanges = new Map<number, { cc: ConfChange; confState: ConfState }>();
    for (const e of rd.committedEntries) {
      if (e.type !== EntryType.ConfChange) continue;
      const cc = decodeConfChange(e.data);
      confChanges.set(e.index, { cc, confState: this.node.applyConfChange(cc) });
    }
    this.ports.apply(rd.committedEntries, confChanges);
  }

  /** 4. advance */
  protected advance(rd: Ready): void {
    this.node.advance(rd);
    // the bootstrap entries of a one-member cluster were just applied: no need to wait an election timeout
    if (rd.committedEntries.some((e) => e.type === EntryType.ConfChange)) this.campaignIfAlone();
  }

  /** No Ready in progress any more: wake whoever waits in stop(). */
  private settle(): void {
    this.processing = false;
    this.persisting = null;
    const waiting = this.idle;
    this.idle = [];
    for (const w of waiting) w();
  }

  /** Stops ticking and processing; resolves once the Ready in progress (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clear(this.ticker);
    if (this.processing) await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
