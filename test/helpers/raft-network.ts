// A tiny synchronous harness for scripted Raft scenarios: nodes with MemoryStorage, a driver that follows the
// persist -> send -> apply -> advance order, and a network that can cut links, lose chosen messages, crash and
// restart nodes. Reads like the paper's scenarios; `trace` records every message, delivered or lost.

import { test } from 'node:test';
import {
  bootstrapEntries,
  decodeConfChange,
  encodeConfChange,
  EntryType,
  MemoryStorage,
  MessageType,
  messageTypeName,
  ProposalDroppedError,
  RawNode,
  StateType,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type Ready,
  type ReadState,
  type Snapshot,
} from '../../src/raft/index.js';

export interface NetworkOptions {
  /** default true; the paper's scenarios turn it off, since its leader lease makes followers ignore candidates */
  checkQuorum?: boolean;
  /** default true */
  preVote?: boolean;
  /** bytes of entries per append message; 1 sends one entry per message, to script replication entry by entry */
  maxSizePerMsg?: number;
  /** the bounds of one Ready's committed entries (RaftConfig's; Raft's defaults when unset) */
  maxCommittedEntriesPerReady?: number;
  maxCommittedSizePerReady?: number;
  /** payload bytes of a leader's uncommitted tail before it drops proposals (RaftConfig's; Raft's default when unset) */
  maxUncommittedEntriesSize?: number;
}

const text = new TextEncoder();
const decoder = new TextDecoder();

export class ScriptedNode {
  readonly storage = new MemoryStorage();
  node: RawNode;
  /** a crashed node neither ticks nor receives; what it persisted survives for restart() */
  crashed = false;
  /** a stalled node's disk write does not finish: it ticks and receives, but its Readies wait (see Network.stall) */
  stalled = false;
  /** payloads of applied normal entries (restored from a snapshot's data when one is installed) */
  applied: string[] = [];
  appliedIndex = 0;
  /** the configuration as of appliedIndex: what a real application persists with its state */
  confState: ConfState = { voters: [], learners: [] };
  readStates: ReadState[] = [];

  constructor(
    readonly id: NodeId,
    peers: NodeId[],
    private readonly random: () => number,
    private readonly options: NetworkOptions = {},
  ) {
    if (peers.length > 0) {
      const boot = bootstrapEntries(peers.map((p) => ({ id: p, context: new Uint8Array() })), encodeConfChange);
      this.storage.append(boot.entries);
      this.storage.setHardState(boot.hardState);
    }
    this.node = this.start();
  }

  get raft() {
    return this.node.raft;
  }

  /** A node rebuilt from what it persisted (the harness persists every Ready before sending its messages). */
  private start(): RawNode {
    return new RawNode({
      id: this.id,
      electionTick: 10,
      heartbeatTick: 1,
      storage: this.storage,
      applied: this.appliedIndex,
      confState: this.appliedIndex > 0 ? this.confState : undefined,
      random: this.random,
      checkQuorum: this.options.checkQuorum ?? true,
      preVote: this.options.preVote ?? true,
      maxSizePerMsg: this.options.maxSizePerMsg,
      maxCommittedEntriesPerReady: this.options.maxCommittedEntriesPerReady,
      maxCommittedSizePerReady: this.options.maxCommittedSizePerReady,
      maxUncommittedEntriesSize: this.options.maxUncommittedEntriesSize,
    });
  }

  restart(): void {
    this.crashed = false;
    this.node = this.start();
  }

  apply(e: Entry): void {
    if (e.type === EntryType.ConfChange) this.confState = this.node.applyConfChange(decodeConfChange(e.data));
    else if (e.data.length > 0) this.applied.push(decoder.decode(e.data));
    this.appliedIndex = e.index;
  }

  installSnapshot(s: Snapshot): void {
    this.storage.applySnapshot(s);
    this.applied = s.data.length > 0 ? (JSON.parse(decoder.decode(s.data)) as string[]) : [];
    this.appliedIndex = s.metadata.index;
    this.confState = { voters: [...s.metadata.confState.voters], learners: [...s.metadata.confState.learners] };
  }

  /** Snapshots the applied state and discards the log up to it, as a server does to bound its log. */
  compact(): Snapshot {
    const snap = this.storage.createSnapshot(this.appliedIndex, this.confState, text.encode(JSON.stringify(this.applied)));
    this.storage.compact(this.appliedIndex);
    return snap;
  }

  /** The entries the log holds (above the snapshot). */
  entries(): Entry[] {
    const log = this.raft.raftLog;
    return log.slice(log.firstIndex(), log.lastIndex() + 1, Infinity);
  }
}

export class Network {
  readonly nodes = new Map<NodeId, ScriptedNode>();
  /** messages sent and not yet delivered */
  pending: Message[] = [];
  /** every message that left a node, delivered or lost, in order */
  readonly sent: Message[] = [];
  /** one line per message delivered or lost, once set */
  trace: string[] | null = null;
  /** called with every Ready a node's loop handles, before it is applied */
  onReady: ((id: NodeId, rd: Ready) => void) | null = null;
  private cut = new Set<string>();
  private lossRules = new Set<(m: Message) => boolean>();
  private seed = 1;
  readonly random = (): number => {
    this.seed = (this.seed * 48271) % 2147483647;
    return this.seed / 2147483647;
  };

  constructor(
    ids: NodeId[],
    private readonly options: NetworkOptions = {},
  ) {
    for (const id of ids) this.nodes.set(id, new ScriptedNode(id, ids, this.random, options));
    this.settle();
  }

  add(id: NodeId): ScriptedNode {
    const n = new ScriptedNode(id, [], this.random, this.options);
    this.nodes.set(id, n);
    return n;
  }

  get(id: NodeId): ScriptedNode {
    return this.nodes.get(id)!;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  /** Cuts every link between nodes of different groups. */
  partition(...groups: NodeId[][]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Loses every message matching `rule` from now on; returns a function that ends the loss. */
  lose(rule: (m: Message) => boolean): () => void {
    this.lossRules.add(rule);
    return () => this.lossRules.delete(rule);
  }

  /** The node stops: no ticks, messages to it are lost. Everything it persisted is kept for restart(). */
  crash(id: NodeId): void {
    this.get(id).crashed = true;
  }

  restart(id: NodeId): void {
    this.get(id).restart();
  }

  /** The node's disk stops finishing writes: it still ticks and steps messages, but nothing is persisted, sent or applied. */
  stall(id: NodeId): void {
    this.get(id).stalled = true;
  }

  resume(id: NodeId): void {
    this.get(id).stalled = false;
  }

  /** Runs every live node's Ready loop: persist, queue the messages, apply, advance. */
  processReadies(): void {
    for (const n of this.nodes.values()) {
      if (n.crashed || n.stalled) continue;
      while (n.node.hasReady()) {
        const rd = n.node.ready();
        this.onReady?.(n.id, rd);
        if (rd.snapshot) n.installSnapshot(rd.snapshot);
        n.storage.append(rd.entries);
        if (rd.hardState) n.storage.setHardState(rd.hardState);
        this.pending.push(...rd.messages);
        for (const e of rd.committedEntries) n.apply(e);
        n.readStates.push(...rd.readStates);
        n.node.advance(rd);
      }
    }
  }

  /** Delivers the pending messages matching `which` (all by default) once, then runs the Ready loops. */
  deliver(which: (m: Message) => boolean = () => true): Message[] {
    const now = this.pending.filter(which);
    this.pending = this.pending.filter((m) => !which(m));
    for (const m of now) this.deliverOne(m);
    this.processReadies();
    return now;
  }

  private deliverOne(m: Message): void {
    const to = this.nodes.get(m.to);
    const lost = to === undefined || to.crashed || this.cut.has(`${m.from}>${m.to}`) || [...this.lossRules].some((rule) => rule(m));
    this.sent.push(m);
    this.trace?.push(`${lost ? 'lost ' : ''}${describeMessage(m)}`);
    const from = this.nodes.get(m.from);
    if (lost) {
      // the transport tells the sender when a snapshot could not be sent (etcd's ReportSnapshot)
      if (m.type === MessageType.Snap && from !== undefined && !from.crashed) from.node.reportSnapshot(m.to, true);
      return;
    }
    try {
      to.node.step(m);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err; // a forwarded proposal that finds no leader
    }
    if (m.type === MessageType.Snap && from !== undefined && !from.crashed) from.node.reportSnapshot(m.to, false);
  }

  /** Runs every node's Ready loop and delivers messages until the cluster is quiet. */
  settle(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      this.processReadies();
      if (this.pending.length === 0) return;
      this.deliver();
    }
    throw new Error('network did not settle');
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.get(id).node.tick();
      this.settle();
    }
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) if (!n.crashed) n.node.tick();
      this.settle();
    }
  }

  leader(): NodeId | undefined {
    for (const n of this.nodes.values()) if (!n.crashed && n.raft.state === StateType.Leader) return n.id;
    return undefined;
  }
}

/** "S1->S3 MsgApp t3 prev=6/2 [7/3 8/3] commit=6": terms and indexes as index/term, as in the paper's figures. */
export function describeMessage(m: Message): string {
  const head = `S${m.from}->S${m.to} ${messageTypeName[m.type]} t${m.term}`;
  switch (m.type) {
    case MessageType.App:
      return `${head} prev=${m.index}/${m.logTerm} [${m.entries.map((e) => `${e.index}/${e.term}`).join(' ')}] commit=${m.commit}`;
    case MessageType.AppResp:
      return m.reject ? `${head} reject prev=${m.index} hint=${m.rejectHint}/${m.logTerm}` : `${head} index=${m.index}`;
    case MessageType.Vote:
    case MessageType.PreVote:
      return `${head} last=${m.index}/${m.logTerm}`;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      return `${head} ${m.reject ? 'rejected' : 'granted'}`;
    case MessageType.Snap:
      return `${head} snapshot=${m.snapshot!.metadata.index}/${m.snapshot!.metadata.term}`;
    case MessageType.Heartbeat:
      return `${head} commit=${m.commit}`;
    default:
      return head;
  }
}

const stateLetter: Record<number, string> = { [StateType.Follower]: 'F', [StateType.Candidate]: 'C', [StateType.Leader]: 'L', [StateType.PreCandidate]: 'P' };

/**
 * "S1 L t4 commit=6 | 1 1 1 1 1 2 2 4": a node's role, term, commit index and the term of each log entry from index
 * 1, like a row of the paper's figures ("(snap 15/2)" stands for a compacted prefix).
 */
export function describeNode(n: ScriptedNode): string {
  const r = n.raft;
  const log = r.raftLog;
  const first = log.firstIndex();
  const terms: string[] = first > 1 ? [`(snap ${first - 1}/${log.term(first - 1)})`] : [];
  for (let i = first; i <= log.lastIndex(); i++) terms.push(String(log.term(i)));
  return `S${n.id} ${n.crashed ? 'crashed' : stateLetter[r.state]} t${r.term} commit=${log.committed} | ${terms.join(' ')}`;
}

/** A scenario's narration: every message (delivered or lost) and, at each step, every node as a row of the paper's figures. */
export class Trace {
  readonly lines: string[] = [];

  say(line: string): void {
    this.lines.push(`-- ${line}`);
  }

  /** A network whose messages are recorded in this trace. */
  watch(ids: NodeId[], options: NetworkOptions = {}): Network {
    const net = new Network(ids, options);
    net.trace = this.lines;
    return net;
  }

  show(net: Network): void {
    for (const n of net.nodes.values()) this.lines.push(`     ${describeNode(n)}`);
  }
}

/** A scripted test that prints its trace when an assertion fails, and always with RAFT_TRACE=1. */
export function scenario(name: string, body: (trace: Trace) => void): void {
  test(name, (t) => {
    const trace = new Trace();
    try {
      body(trace);
    } catch (err) {
      for (const line of trace.lines) t.diagnostic(line);
      throw err;
    }
    if (process.env.RAFT_TRACE) for (const line of trace.lines) t.diagnostic(line);
  });
}
