// Deterministic simulation of a whole Raft cluster in one process, under virtual time, from one seed.
//
// Each node runs the member's real Raft driver (src/driver/raft-driver.ts, the RawNode and the order of every Ready)
// over an in-memory "disk" (MemoryStorage plus a durable application state). The driver's persist port hands a Ready
// with something to write to the disk, which flushes it when the simulation decides; only then does the driver go on
// to send, apply and advance, synchronously inside that step. The driver's deferred work runs where the simulation
// polls its nodes, so a seed replays the same run. A crash drops the driver and the unflushed write with it (what
// the driver already sent stays sent); a restart builds a new driver from what was flushed.
//
// The network drops, duplicates, reorders and delays messages, and partitions nodes (symmetric, asymmetric,
// isolate-one). The checker runs after every step: at most one leader per term, log matching (two logs holding an
// entry with the same index and term are identical up to it), committed entries never change in any log (so none is
// lost to a crash), leader completeness (a leader holds every entry committed before its term) and state machine
// safety (every node applies the same entry at the same index, so applied state is identical at equal applied index).
// Every message a node sends is checked against its disk as it leaves: votes and append acknowledgements only once
// what they promise is durable (the persistence rule; see checkDurableBeforeSend for why it is checked directly).

import {
  bootstrapEntries,
  ConfChangeType,
  decodeConfChange,
  encodeConfChange,
  EntryType,
  MemoryStorage,
  MessageType,
  messageTypeName,
  ProposalDroppedError,
  StateType,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type RaftLog,
  type RawNode,
  type Ready,
  type SoftState,
} from '../raft/index.js';
import { ManualClock } from '../clock/index.js';
// the driver module only, not the server: it loads no LMDB
import { RaftDriver, type PersistDone, type RaftDriverOptions } from '../driver/index.js';

/** mulberry32: small, fast and good enough for simulation and test inputs; one seed replays a whole run. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

export class InvariantViolation extends Error {}

const text = new TextEncoder();

/** The application state: a rolling hash over applied entries, so equal hashes mean equal histories. */
interface AppState {
  applied: number;
  hash: number;
  confState: ConfState;
  /** proposals applied, by payload */
  payloads: string[];
}

function mix(hash: number, index: number, data: Uint8Array, type: number): number {
  let h = (hash ^ Math.imul(index, 0x9e3779b1) ^ type) >>> 0;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 16777619) >>> 0;
  return h;
}

/**
 * Snapshots are made on demand from the current applied state when Raft asks for one to send, as the server does:
 * a periodic snapshot could predate the membership change that added the member it is for, which would refuse it.
 */
class SimStorage extends MemoryStorage {
  owner: SimNode | null = null;
  /** the latest snapshot, without making a new one */
  stored(): ReturnType<MemoryStorage['snapshot']> {
    return super.snapshot();
  }
  override snapshot(): ReturnType<MemoryStorage['snapshot']> {
    this.owner?.snapshotNow();
    return super.snapshot();
  }
}

/** A Ready the driver handed to the disk, written once the simulation lets the disk flush it. */
interface PendingWrite {
  rd: Ready;
  done: PersistDone;
}

class SimNode {
  /** the real driver over this node's disk; null while the node is down */
  driver: RaftDriver | null = null;
  /** the write the disk has not finished, if any */
  inflight: PendingWrite | null = null;
  /** the driver's deferred processing (`defer`), run where the simulation polls its nodes */
  private deferred: (() => void) | null = null;
  volatile: AppState;
  removed = false;
  /** probability per step that the in-flight write finishes: disks differ, and slow ones widen crash windows */
  flushChance = 0.6;

  constructor(
    readonly id: NodeId,
    readonly storage: SimStorage,
    /** durable application state, written together with each flushed Ready */
    public durable: AppState,
    private readonly cluster: Cluster,
  ) {
    this.volatile = cloneApp(durable);
    storage.owner = this;
  }

  get up(): boolean {
    return this.driver !== null;
  }

  get node(): RawNode | null {
    return this.driver?.node ?? null;
  }

  start(): void {
    this.flushChance = this.cluster.rng.pick([0.05, 0.2, 0.6, 0.9]);
    this.volatile = cloneApp(this.durable);
    this.inflight = null;
    this.deferred = null;
    this.driver = this.cluster.options.driver({
      memberId: this.id,
      raftStorage: this.storage,
      applied: this.durable.applied,
      confState: this.durable.confState,
      electionTicks: 10,
      heartbeatTicks: 1,
      tickMs: 1,
      maxSizePerMsg: 4096,
      maxInflightMsgs: 8,
      random: () => this.cluster.rng.next(),
      // the driver's ticker is never started (the simulation calls tick() itself): the clock only times persists
      clock: this.cluster.clock,
      defer: (run) => {
        this.deferred = run;
      },
      ports: {
        persist: (rd, done) => this.write(rd, done),
        send: (messages) => {
          for (const m of messages) {
            this.cluster.checkDurableBeforeSend(this, m);
            this.cluster.send(m);
          }
        },
        apply: (entries, confChanges) => {
          for (const e of entries) this.apply(e, confChanges.get(e.index)?.confState);
        },
        onSoftState: (ss) => this.cluster.onSoftState(this, ss),
        onReadStates: () => {},
        fatal: (err) => {
          throw err;
        },
      },
    });
  }

  crash(): void {
    // the driver stops where it is, waiting for a write that never completes; the unflushed write is lost
    this.driver = null;
    this.inflight = null;
    this.deferred = null;
  }

  /** Runs the driver's deferred processing, if any: it takes the next Ready unless one is being written. */
  poll(): void {
    const run = this.deferred;
    this.deferred = null;
    run?.();
  }

  /** The persist port: a Ready with something to write waits for the disk; one without completes at once. */
  private write(rd: Ready, done: PersistDone): void {
    if (rd.entries.length === 0 && rd.hardState === undefined && rd.snapshot === undefined) {
      done();
      return;
    }
    if (this.inflight !== null) throw new InvariantViolation(`node ${this.id}: a second write while one is in flight`);
    this.inflight = { rd, done };
  }

  /** The disk finished writing the in-flight Ready: it is durable, and the driver goes on (send, apply, advance). */
  flush(): void {
    const write = this.inflight;
    if (write === null || this.driver === null) return;
    this.inflight = null;
    const { rd } = write;
    if (rd.snapshot) {
      this.storage.applySnapshot(rd.snapshot);
      const snap = JSON.parse(new TextDecoder().decode(rd.snapshot.data)) as AppState;
      this.volatile = { ...snap, confState: rd.snapshot.metadata.confState };
      this.cluster.checkSnapshot(this, this.volatile);
    }
    this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    write.done();
    // the application state is durable together with the flushed Ready
    this.durable = cloneApp(this.volatile);
    this.maybeCompact();
  }

  /** `confState`: for a conf change, the configuration the driver got from Raft when it applied it */
  private apply(e: Entry, confState: ConfState | undefined): void {
    if (e.index <= this.volatile.applied) return; // already in the snapshot
    if (e.index !== this.volatile.applied + 1) throw new InvariantViolation(`node ${this.id} applies ${e.index} after ${this.volatile.applied}`);
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      if (confState === undefined) throw new InvariantViolation(`node ${this.id}: conf change ${e.index} applied without its configuration`);
      this.volatile.confState = confState;
      if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.id) this.removed = true;
      this.cluster.onConfChangeApplied(this, cc.type, cc.nodeId);
    } else if (e.data.length > 0) {
      this.volatile.payloads.push(new TextDecoder().decode(e.data));
    }
    this.volatile.hash = mix(this.volatile.hash, e.index, e.data, e.type);
    this.volatile.applied = e.index;
    this.cluster.checkApplied(this, e, this.volatile.hash);
  }

  /** A snapshot of the durable state at its applied index (what a leader sends to a member that fell behind). */
  snapshotNow(): void {
    const applied = this.durable.applied;
    if (applied <= this.storage.stored().metadata.index) return;
    const data = text.encode(JSON.stringify({ applied, hash: this.durable.hash, payloads: this.durable.payloads }));
    this.storage.createSnapshot(applied, this.durable.confState, data);
  }

  private maybeCompact(): void {
    const applied = this.durable.applied;
    const snapIndex = this.storage.stored().metadata.index;
    if (applied - snapIndex < this.cluster.options.snapshotEvery) return;
    this.snapshotNow();
    const keep = this.cluster.options.snapshotCatchUpEntries;
    if (applied - keep > this.storage.firstIndex()) this.storage.compact(applied - keep);
  }
}

/**
 * An entry as the checker first saw it in some log. Raft's leader of a term creates at most one entry per index, and
 * AppendEntries only appends after an entry whose index and term match, so (index, term) names one entry and one
 * entry before it (Log Matching, Raft paper 5.3).
 */
interface SeenEntry {
  /** term of the entry before it in the log */
  prevTerm: number;
  type: number;
  data: Uint8Array;
  /** the node whose log it was first seen in, for the report */
  holder: NodeId;
}

/** Every this many steps each log is checked whole again, not only its new tail (see checkLogMatching). */
const FULL_LOG_CHECK_EVERY = 256;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function cloneApp(a: AppState): AppState {
  return { applied: a.applied, hash: a.hash, confState: { voters: [...a.confState.voters], learners: [...a.confState.learners] }, payloads: [...a.payloads] };
}

interface InFlightMessage {
  m: Message;
  deliverAt: number;
}

export interface SimOptions {
  members: number;
  steps: number;
  /** probability per delivery */
  dropRate: number;
  duplicateRate: number;
  /** probability per step of a fault action */
  faultRate: number;
  snapshotEvery: number;
  snapshotCatchUpEntries: number;
  membershipChanges: boolean;
  /** steps allowed after healing for a proposal to be applied everywhere */
  livenessBudget: number;
  /** makes each node's driver: tests plug in a driver with an ordering bug to see the simulation catch it */
  driver: (options: RaftDriverOptions) => RaftDriver;
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  members: 3,
  steps: 3000,
  dropRate: 0.05,
  duplicateRate: 0.02,
  faultRate: 0.01,
  snapshotEvery: 40,
  snapshotCatchUpEntries: 10,
  membershipChanges: true,
  livenessBudget: 4000,
  driver: (options) => new RaftDriver(options),
};

export interface SimResult {
  seed: number;
  committed: number;
  leadersElected: number;
  crashes: number;
  membershipChanges: number;
  transfers: number;
  trace: string[];
}

export class Cluster {
  readonly rng: Rng;
  readonly options: SimOptions;
  readonly nodes = new Map<NodeId, SimNode>();
  /** the drivers' clock; it never moves (time is steps, and the simulation ticks the drivers itself) */
  readonly clock = new ManualClock();
  private network: InFlightMessage[] = [];
  /** blocked directed links "from>to" */
  private blocked = new Set<string>();
  now = 0;
  private nextNodeId: bigint;
  private proposalSeq = 0;
  // checker state
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** index -> {term, hash after applying it, type} as first applied anywhere */
  private readonly committedLog = new Map<number, { hash: number; data: string }>();
  private maxCommittedIndex = 0;
  /** index -> term -> the entry as first seen in any log (log matching) */
  private readonly seenEntries = new Map<number, Map<number, SeenEntry>>();
  /** per node: the term of each entry of its log at the last check, by index, to find what changed since */
  private readonly checkedTerms = new Map<NodeId, number[]>();
  /** per node: its commit index at the last check */
  private readonly checkedCommit = new Map<NodeId, number>();
  /** by index: the term of the committed entry (once a log holding it was seen committed) */
  private readonly committedTerms: number[] = [];
  /**
   * by index: the highest term any node had when the index was first seen committed. The leader that committed it
   * had at most this term, so every leader of a higher term must hold the entry (leader completeness).
   */
  private readonly committedBefore: number[] = [];
  /** highest commit index seen on any node */
  private knownCommitted = 0;
  private highestTerm = 0;
  /** per leader: the term it leads and the commit index up to which its log was checked for completeness */
  private readonly completeUpTo = new Map<NodeId, { term: number; index: number }>();
  private readonly trace: string[] = [];
  private stats = { leadersElected: 0, crashes: 0, membershipChanges: 0, transfers: 0 };

  constructor(
    readonly seed: number,
    options: Partial<SimOptions> = {},
  ) {
    this.rng = new Rng(seed);
    this.options = { ...DEFAULT_SIM_OPTIONS, ...options };
    const ids = Array.from({ length: this.options.members }, (_, i) => BigInt(i + 1));
    this.nextNodeId = BigInt(this.options.members + 1);
    const boot = bootstrapEntries(ids.map((id) => ({ id, context: new Uint8Array() })), encodeConfChange);
    for (const id of ids) {
      const storage = new SimStorage();
      storage.append(boot.entries.map((e) => ({ ...e })));
      storage.setHardState(boot.hardState);
      const node = new SimNode(id, storage, { applied: 0, hash: 0, confState: { voters: [], learners: [] }, payloads: [] }, this);
      this.nodes.set(id, node);
      node.start();
    }
  }

  log(line: string): void {
    this.trace.push(`[${this.now}] ${line}`);
    if (this.trace.length > 400) this.trace.shift();
  }

  // ---- network ------------------------------------------------------------------------------------------------

  send(m: Message): void {
    this.network.push({ m, deliverAt: this.now + 1 + this.rng.int(5) });
  }

  /** Delivers every message whose time has come, in random order (reordering on top of the random delays). */
  private deliverDue(): void {
    if (this.network.length === 0) return;
    const due: InFlightMessage[] = [];
    const later: InFlightMessage[] = [];
    for (const f of this.network) (f.deliverAt <= this.now ? due : later).push(f);
    this.network = later;
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [due[i], due[j]] = [due[j]!, due[i]!];
    }
    for (const f of due) this.deliver(f.m);
  }

  private deliver(m: Message): void {
    const to = this.nodes.get(m.to);
    if (this.blocked.has(`${m.from}>${m.to}`) || this.rng.chance(this.options.dropRate) || to === undefined || to.driver === null) {
      // Snapshots travel on their own stream whose failure the transport reports (etcd's ReportSnapshot); other
      // messages are lost silently.
      if (m.type === MessageType.Snap) this.nodes.get(m.from)?.driver?.reportSnapshot(m.to, true);
      return;
    }
    if (this.rng.chance(this.options.duplicateRate)) this.network.push({ m: structuredCloneMessage(m), deliverAt: this.now + this.rng.int(10) });
    to.driver.step(structuredCloneMessage(m));
    if (m.type === MessageType.Snap) {
      // the transport reports snapshot delivery back to the leader
      const from = this.nodes.get(m.from);
      from?.driver?.reportSnapshot(m.to, false);
    }
  }

  private partitionRandomly(): void {
    const ids = [...this.nodes.keys()];
    this.blocked.clear();
    switch (this.rng.int(3)) {
      case 0: {
        // isolate one node (often the leader)
        const leader = this.leader();
        const victim = leader !== undefined && this.rng.chance(0.6) ? leader : this.rng.pick(ids);
        for (const other of ids) {
          if (other === victim) continue;
          this.blocked.add(`${victim}>${other}`);
          this.blocked.add(`${other}>${victim}`);
        }
        this.log(`partition: isolate ${victim}`);
        break;
      }
      case 1: {
        // symmetric split into two groups
        const side = new Set(ids.filter(() => this.rng.chance(0.5)));
        for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.blocked.add(`${a}>${b}`);
        this.log(`partition: split {${[...side].join(',')}}`);
        break;
      }
      default: {
        // asymmetric: some directed links only
        for (const a of ids) for (const b of ids) if (a !== b && this.rng.chance(0.3)) this.blocked.add(`${a}>${b}`);
        this.log(`partition: asymmetric ${[...this.blocked].join(' ')}`);
      }
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  // ---- checker ------------------------------------------------------------------------------------------------

  onSoftState(node: SimNode, ss: SoftState): void {
    if (ss.raftState === StateType.Leader) {
      const term = node.node!.raft.term;
      const prev = this.leaderOfTerm.get(term);
      if (prev !== undefined && prev !== node.id) throw new InvariantViolation(`two leaders in term ${term}: ${prev} and ${node.id}`);
      this.leaderOfTerm.set(term, node.id);
      this.stats.leadersElected++;
      this.log(`node ${node.id} is leader in term ${term}`);
    }
  }

  checkApplied(node: SimNode, e: Entry, hash: number): void {
    const known = this.committedLog.get(e.index);
    const data = `${e.type}:${new TextDecoder().decode(e.data)}`;
    if (known === undefined) {
      this.committedLog.set(e.index, { hash, data });
      if (e.index > this.maxCommittedIndex) this.maxCommittedIndex = e.index;
    } else if (known.hash !== hash || known.data !== data) {
      throw new InvariantViolation(`node ${node.id} applied ${data} at ${e.index}, others applied ${known.data}`);
    }
  }

  /**
   * Raft's persistence rule (paper, Figure 2): a member updates stable storage before it responds. A vote (granted,
   * or a candidate's request, which carries its vote for itself) and an append acknowledgement leave the member only
   * once its disk holds what they promise: the term and the vote, the log up to the acknowledged index. Otherwise a
   * crash loses a promise the others already counted. The checks on logs and leaders see the damage too, but only
   * when further faults line up (a second candidate in the same term, a new leader elected by the forgetful member),
   * so a sent-too-early message is caught here, when it leaves, against what the simulated disk really holds.
   */
  checkDurableBeforeSend(node: SimNode, m: Message): void {
    const hs = node.storage.hardState;
    const early = (promise: string): InvariantViolation =>
      new InvariantViolation(`node ${node.id} sent ${messageTypeName[m.type]} to ${m.to} (term ${m.term}, index ${m.index}) before ${promise} was durable (disk: term ${hs.term}, vote ${hs.vote}, last index ${node.storage.lastIndex()})`);
    if (m.type === MessageType.Vote || (m.type === MessageType.VoteResp && !m.reject)) {
      const candidate = m.type === MessageType.Vote ? node.id : m.to;
      if (hs.term < m.term || (hs.term === m.term && hs.vote !== candidate)) throw early(`its vote for ${candidate} in term ${m.term}`);
    } else if (m.type === MessageType.AppResp && !m.reject) {
      if (hs.term < m.term) throw early(`term ${m.term}`);
      // A Ready collects everything that happened while the previous one was being written, so an acknowledgement
      // can leave after the member has durably moved on to a newer term whose leader replaced what it acknowledged
      // (etcd's Raft does the same: a Ready's messages go once its final state is durable); what that could break,
      // the checks on logs and leaders would see. Within the ack's own term the log only grows past its index.
      if (hs.term === m.term && node.storage.lastIndex() < m.index) throw early(`its log up to ${m.index}`);
    }
  }

  checkSnapshot(node: SimNode, state: AppState): void {
    const known = this.committedLog.get(state.applied);
    if (known !== undefined && known.hash !== state.hash) {
      throw new InvariantViolation(`node ${node.id} installed a snapshot at ${state.applied} whose state differs`);
    }
  }

  /** After every step: at most one leader per term among live nodes. */
  private checkLeaders(): void {
    const byTerm = new Map<number, NodeId>();
    for (const n of this.nodes.values()) {
      const r = n.node?.raft;
      if (r === undefined || r.state !== StateType.Leader) continue;
      const other = byTerm.get(r.term);
      if (other !== undefined) throw new InvariantViolation(`nodes ${other} and ${n.id} both lead term ${r.term}`);
      byTerm.set(r.term, n.id);
      const recorded = this.leaderOfTerm.get(r.term);
      if (recorded !== undefined && recorded !== n.id) throw new InvariantViolation(`term ${r.term} led by ${recorded} and ${n.id}`);
    }
  }

  /**
   * After every step, on every live node's log (a crashed node's log is checked again once it restarts): log
   * matching, committed entries never change, and leader completeness.
   */
  private checkLogs(): void {
    const recheckWhole = this.now % FULL_LOG_CHECK_EVERY === 0;
    for (const n of this.nodes.values()) {
      const r = n.node?.raft;
      if (r !== undefined && r.term > this.highestTerm) this.highestTerm = r.term;
    }
    for (const n of this.nodes.values()) {
      const r = n.node?.raft;
      if (r === undefined) continue;
      if (recheckWhole) {
        this.checkedTerms.delete(n.id);
        this.checkedCommit.delete(n.id);
      }
      this.checkLogMatching(n.id, r.raftLog);
      this.checkCommittedEntries(n.id, r.raftLog);
    }
    for (const n of this.nodes.values()) {
      const r = n.node?.raft;
      if (r !== undefined && r.state === StateType.Leader) this.checkLeaderCompleteness(n.id, r.term, r.raftLog);
    }
  }

  /**
   * Log matching: if two logs hold an entry with the same index and term, they are identical up to that index (in
   * the range both still hold; compacted entries are gone). Comparing every pair of logs after every step would cost
   * more than the simulation itself, so each entry is compared with the first copy of (index, term) seen in any log:
   * same type, same data and the same term before it. By induction down the log that makes any two logs holding
   * (index, term) identical up to it, and it also holds across logs that no longer exist (a crashed node's unflushed
   * tail), as Raft promises. A log only changes at its end (appends truncate a suffix; compaction and snapshots drop a
   * prefix), so only the entries from its end down to the first one unchanged since the last check are new; every
   * FULL_LOG_CHECK_EVERY steps the whole log is checked again in case some bug changed it elsewhere.
   */
  private checkLogMatching(id: NodeId, log: RaftLog): void {
    const first = log.firstIndex();
    const last = log.lastIndex();
    let terms = this.checkedTerms.get(id);
    if (terms === undefined) this.checkedTerms.set(id, (terms = []));
    let unchanged = last;
    while (unchanged >= first && terms[unchanged] !== log.term(unchanged)) unchanged--;
    if (terms.length !== last + 1) terms.length = last + 1; // forget a truncated tail
    if (unchanged === last) return;
    let prevTerm = log.term(unchanged); // the snapshot's term when unchanged = first - 1
    for (const e of log.slice(unchanged + 1, last + 1, Infinity)) {
      this.checkSameEntry(id, e, prevTerm);
      terms[e.index] = e.term;
      prevTerm = e.term;
    }
  }

  private checkSameEntry(id: NodeId, e: Entry, prevTerm: number): void {
    let byTerm = this.seenEntries.get(e.index);
    if (byTerm === undefined) this.seenEntries.set(e.index, (byTerm = new Map()));
    const seen = byTerm.get(e.term);
    if (seen === undefined) {
      byTerm.set(e.term, { prevTerm, type: e.type, data: e.data, holder: id });
      return;
    }
    const where = `entry ${e.index} of term ${e.term} on node ${id} and node ${seen.holder}`;
    if (seen.prevTerm !== prevTerm) {
      throw new InvariantViolation(`log matching: ${where} follow entries of terms ${prevTerm} and ${seen.prevTerm}`);
    }
    if (seen.type !== e.type || !sameBytes(seen.data, e.data)) {
      throw new InvariantViolation(`log matching: ${where} differ: ${describeEntry(e)} and ${describeEntry({ ...e, type: seen.type as Entry['type'], data: seen.data })}`);
    }
  }

  /**
   * Committed entries are never lost or replaced: at every index up to a node's commit index, its log holds the
   * entry first seen committed there (by term, which with log matching fixes the entry). A restarted node's commit
   * index may be lower than before its crash; its log is checked again as it commits again.
   */
  private checkCommittedEntries(id: NodeId, log: RaftLog): void {
    const committed = log.committed;
    const checked = Math.min(this.checkedCommit.get(id) ?? 0, committed);
    if (checked === committed) return;
    for (let i = this.knownCommitted + 1; i <= committed; i++) this.committedBefore[i] = this.highestTerm;
    if (committed > this.knownCommitted) this.knownCommitted = committed;
    for (let i = Math.max(checked + 1, log.firstIndex() - 1); i <= committed; i++) {
      const term = log.termOrUndefined(i);
      if (term === undefined) continue;
      const known = this.committedTerms[i];
      if (known === undefined) this.committedTerms[i] = term;
      else if (known !== term) throw new InvariantViolation(`node ${id} holds entry ${i} of term ${term} as committed, but the committed entry is of term ${known}`);
    }
    this.checkedCommit.set(id, committed);
  }

  /**
   * Leader completeness (Raft paper 5.4.3): a leader's log holds every entry committed in a lower term. Which term an
   * entry was committed in is not observable, so an entry counts when it was seen committed before any node had
   * reached the leader's term. Checked when a node is first seen leading a term and again as more entries commit.
   */
  private checkLeaderCompleteness(id: NodeId, term: number, log: RaftLog): void {
    let done = this.completeUpTo.get(id);
    if (done === undefined || done.term !== term) this.completeUpTo.set(id, (done = { term, index: 0 }));
    for (let i = Math.max(done.index + 1, log.firstIndex()); i <= this.knownCommitted; i++) {
      // committed while some node was already in this term or later: perhaps by a leader of a term >= ours
      if (this.committedBefore[i]! >= term) continue;
      if (i > log.lastIndex()) throw new InvariantViolation(`leader ${id} (term ${term}) lacks committed entry ${i}`);
      const known = this.committedTerms[i];
      if (known !== undefined && log.term(i) !== known) {
        throw new InvariantViolation(`leader ${id} (term ${term}) holds entry ${i} of term ${log.term(i)}, but the committed entry is of term ${known}`);
      }
    }
    done.index = Math.max(done.index, this.knownCommitted);
  }

  onConfChangeApplied(node: SimNode, type: number, id: NodeId): void {
    if (type === ConfChangeType.RemoveNode && id === node.id) this.log(`node ${id} applied its own removal`);
  }

  // ---- actions ------------------------------------------------------------------------------------------------

  leader(): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const n of this.nodes.values()) {
      const r = n.node?.raft;
      if (r && r.state === StateType.Leader && !n.removed && (best === undefined || r.term > best.term)) best = { id: n.id, term: r.term };
    }
    return best?.id;
  }

  propose(): string | undefined {
    const live = [...this.nodes.values()].filter((n) => n.up && !n.removed);
    if (live.length === 0) return undefined;
    const n = this.rng.pick(live);
    const payload = `p${this.proposalSeq++}`;
    try {
      n.driver!.propose(text.encode(payload));
      return payload;
    } catch (err) {
      if (err instanceof ProposalDroppedError) return undefined;
      throw err;
    }
  }

  private changeMembership(): void {
    const leaderId = this.leader();
    if (leaderId === undefined) return;
    const leader = this.nodes.get(leaderId)!;
    const voters = leader.node!.raft.trk.voters;
    try {
      if (voters.size > 3 && this.rng.chance(0.5)) {
        const victim = this.rng.pick([...voters].filter((v) => this.rng.chance(0.7) || v !== leaderId));
        leader.driver!.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: victim, context: new Uint8Array() });
        this.log(`propose remove ${victim}`);
      } else if (this.nodes.size < this.options.members + 3) {
        const id = this.nextNodeId++;
        const learner = this.rng.chance(0.3);
        leader.driver!.proposeConfChange({ type: learner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode, nodeId: id, context: new Uint8Array() });
        // the new member starts with an empty disk and learns everything from the leader
        const fresh = new SimNode(id, new SimStorage(), { applied: 0, hash: 0, confState: { voters: [], learners: [] }, payloads: [] }, this);
        this.nodes.set(id, fresh);
        fresh.start();
        this.log(`propose add ${learner ? 'learner ' : ''}${id}`);
      } else {
        const learners = [...leader.node!.raft.trk.learners];
        if (learners.length === 0) return;
        const id = this.rng.pick(learners);
        leader.driver!.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: id, context: new Uint8Array() });
        this.log(`propose promote ${id}`);
      }
      this.stats.membershipChanges++;
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  private transferLeadership(): void {
    const leaderId = this.leader();
    if (leaderId === undefined) return;
    const leader = this.nodes.get(leaderId)!;
    const voters = [...leader.node!.raft.trk.voters].filter((v) => v !== leaderId);
    if (voters.length === 0) return;
    const target = this.rng.pick(voters);
    leader.driver!.transferLeader(target);
    this.stats.transfers++;
    this.log(`transfer leadership ${leaderId} -> ${target}`);
  }

  private crashOrRestart(): void {
    const ids = [...this.nodes.keys()];
    const n = this.nodes.get(this.rng.pick(ids))!;
    if (n.up) {
      n.crash();
      this.stats.crashes++;
      this.log(`crash ${n.id}`);
    } else if (!n.removed) {
      n.start();
      this.log(`restart ${n.id}`);
    }
  }

  /** One step of virtual time with one randomly chosen action plus the nodes' drivers. */
  step(faults: boolean, proposals: boolean): void {
    this.now++;
    const r = this.rng.next();
    if (faults && r < this.options.faultRate) {
      switch (this.rng.int(6)) {
        case 0: this.partitionRandomly(); break;
        case 1: this.heal(); this.log('heal'); break;
        case 2: case 3: this.crashOrRestart(); break;
        case 4: if (this.options.membershipChanges) this.changeMembership(); break;
        default: this.transferLeadership();
      }
    } else if (proposals && r < 0.15) {
      this.propose();
    }
    for (const n of this.nodes.values()) {
      if (!n.up || n.removed) continue;
      if (this.rng.chance(0.35)) n.driver!.tick();
      if (n.inflight !== null && this.rng.chance(n.flushChance)) n.flush();
      n.poll();
    }
    this.deliverDue();
    for (const n of this.nodes.values()) n.poll();
    this.checkLeaders();
    this.checkLogs();
  }

  /** Runs the fault phase, then heals and requires a new proposal to be applied by every member in budget. */
  run(): SimResult {
    for (let i = 0; i < this.options.steps; i++) this.step(true, true);
    this.heal();
    for (const n of this.nodes.values()) if (!n.up && !n.removed) n.start();
    // slow disks are a fault too: with fsyncs slower than an election timeout no leader can hold on (as in etcd)
    for (const n of this.nodes.values()) n.flushChance = 0.7;
    this.log('liveness phase: healed, all members up, disks at normal speed');
    let target: string | undefined;
    for (let i = 0; i < this.options.livenessBudget; i++) {
      this.step(false, false);
      if (target === undefined && this.leader() !== undefined && i % 20 === 0) target = this.proposeViaLeader();
      if (target !== undefined && this.allMembersApplied(target)) {
        return {
          seed: this.seed,
          committed: this.maxCommittedIndex,
          ...this.stats,
          trace: this.trace,
        };
      }
      if (target !== undefined && i % 400 === 399) target = this.proposeViaLeader() ?? target; // the first may be dropped
    }
    throw new InvariantViolation(`no progress within ${this.options.livenessBudget} steps after healing (leader ${this.leader()})`);
  }

  private proposeViaLeader(): string | undefined {
    const id = this.leader();
    if (id === undefined) return undefined;
    const payload = `liveness${this.proposalSeq++}`;
    try {
      this.nodes.get(id)!.driver!.propose(text.encode(payload));
      return payload;
    } catch (err) {
      if (err instanceof ProposalDroppedError) return undefined;
      throw err;
    }
  }

  private allMembersApplied(payload: string): boolean {
    const leaderId = this.leader();
    if (leaderId === undefined) return false;
    const config = this.nodes.get(leaderId)!.node!.raft.trk;
    for (const id of [...config.voters, ...config.learners]) {
      const n = this.nodes.get(id);
      if (n === undefined || !n.up) return false;
      if (!n.durable.payloads.includes(payload) && !n.volatile.payloads.includes(payload)) return false;
    }
    return true;
  }

  get recentTrace(): string[] {
    return this.trace;
  }
}

function describeEntry(e: Entry): string {
  return e.type === EntryType.ConfChange ? `conf change ${JSON.stringify(decodeConfChange(e.data), (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}` : `"${new TextDecoder().decode(e.data)}"`;
}

function structuredCloneMessage(m: Message): Message {
  return {
    ...m,
    entries: m.entries.map((e) => ({ ...e })),
    snapshot: m.snapshot,
    context: m.context,
  };
}
