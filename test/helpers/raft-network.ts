// A tiny synchronous harness for scripted Raft scenarios: nodes with MemoryStorage, a driver that follows the
// persist -> send -> apply -> advance order, and a network that can cut links. Reads like the paper's scenarios.

import {
  bootstrapEntries,
  decodeConfChange,
  encodeConfChange,
  EntryType,
  MemoryStorage,
  RawNode,
  type Message,
  type NodeId,
  type ReadState,
} from '../../src/raft/index.js';

export class ScriptedNode {
  readonly storage = new MemoryStorage();
  node: RawNode;
  applied: string[] = [];
  readStates: ReadState[] = [];
  constructor(
    readonly id: NodeId,
    peers: NodeId[],
    random: () => number,
    opts: { learners?: NodeId[] } = {},
  ) {
    if (peers.length > 0) {
      const boot = bootstrapEntries(peers.map((p) => ({ id: p, context: new Uint8Array() })), encodeConfChange);
      this.storage.append(boot.entries);
      this.storage.setHardState(boot.hardState);
    }
    void opts;
    this.node = new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage: this.storage, random, checkQuorum: true, preVote: true });
  }
  get raft() {
    return this.node.raft;
  }
}

export class Network {
  readonly nodes = new Map<NodeId, ScriptedNode>();
  private cut = new Set<string>();
  private seed = 1;
  readonly random = (): number => {
    this.seed = (this.seed * 48271) % 2147483647;
    return this.seed / 2147483647;
  };

  constructor(ids: NodeId[]) {
    for (const id of ids) this.nodes.set(id, new ScriptedNode(id, ids, this.random));
    this.settle();
  }

  add(id: NodeId): ScriptedNode {
    const n = new ScriptedNode(id, [], this.random);
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

  heal(): void {
    this.cut.clear();
  }

  /** Runs every node's Ready loop and delivers messages until the cluster is quiet. */
  settle(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      const outbox: Message[] = [];
      for (const n of this.nodes.values()) {
        while (n.node.hasReady()) {
          const rd = n.node.ready();
          if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
          n.storage.append(rd.entries);
          if (rd.hardState) n.storage.setHardState(rd.hardState);
          outbox.push(...rd.messages);
          for (const e of rd.committedEntries) {
            if (e.type === EntryType.ConfChange) n.node.applyConfChange(decodeConfChange(e.data));
            else if (e.data.length > 0) n.applied.push(new TextDecoder().decode(e.data));
          }
          n.readStates.push(...rd.readStates);
          n.node.advance(rd);
        }
      }
      if (outbox.length === 0) return;
      for (const m of outbox) {
        if (this.cut.has(`${m.from}>${m.to}`)) continue;
        this.nodes.get(m.to)?.node.step(m);
      }
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
      for (const n of this.nodes.values()) n.node.tick();
      this.settle();
    }
  }

  leader(): NodeId | undefined {
    for (const n of this.nodes.values()) if (n.raft.state === 2) return n.id;
    return undefined;
  }
}
