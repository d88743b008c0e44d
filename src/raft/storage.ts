// The narrow, read-only view Raft has of stable storage (etcd-io/raft's Storage). Writes happen only in the
// driver; MemoryStorage is the in-memory implementation used by the simulation and by unit tests, and the model the
// LMDB-backed storage follows.

import { invariant } from '../errors/index.js';
import { EMPTY_HARD_STATE, type ConfState, type Entry, type HardState, type Snapshot } from './types.js';

export class CompactedError extends Error {
  constructor() {
    super('requested index is unavailable due to compaction');
  }
}
export class UnavailableError extends Error {
  constructor() {
    super('requested entry at index is unavailable');
  }
}
export class SnapshotOutOfDateError extends Error {
  constructor() {
    super('requested index is older than the existing snapshot');
  }
}

export interface RaftStorage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** entries [lo, hi), at most maxBytes in total but always at least one */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  term(index: number): number;
  lastIndex(): number;
  firstIndex(): number;
  snapshot(): Snapshot;
}

/** Limits a list of entries to maxBytes, keeping at least the first. */
export function limitSize(entries: Entry[], maxBytes: number): Entry[] {
  if (entries.length === 0) return entries;
  let size = entries[0]!.data.length + 24;
  let i = 1;
  for (; i < entries.length; i++) {
    size += entries[i]!.data.length + 24;
    if (size > maxBytes) break;
  }
  return i === entries.length ? entries : entries.slice(0, i);
}

export class MemoryStorage implements RaftStorage {
  hardState: HardState = { ...EMPTY_HARD_STATE };
  private snap: Snapshot = { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array() };
  /** ents[0] is a dummy entry holding the snapshot's index and term */
  private ents: Entry[] = [{ term: 0, index: 0, type: 0, data: new Uint8Array() }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: cloneConfState(this.snap.metadata.confState) };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  private get offset(): number {
    return this.ents[0]!.index;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.offset) throw new CompactedError();
    invariant(hi <= this.lastIndex() + 1, () => `raft: entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    if (this.ents.length === 1) throw new UnavailableError();
    return limitSize(this.ents.slice(lo - this.offset, hi - this.offset), maxBytes);
  }

  term(index: number): number {
    if (index < this.offset) throw new CompactedError();
    if (index - this.offset >= this.ents.length) throw new UnavailableError();
    return this.ents[index - this.offset]!.term;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw new SnapshotOutOfDateError();
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 0, data: new Uint8Array() }];
  }

  /** Makes a snapshot at `index` (<= applied) with the given state bytes. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError();
    invariant(index <= this.lastIndex(), () => `raft: snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    this.snap = { metadata: { index, term: this.ents[index - this.offset]!.term, confState: cloneConfState(confState) }, data };
    return this.snap;
  }

  /** Discards entries before compactIndex. */
  compact(compactIndex: number): void {
    if (compactIndex <= this.offset) throw new CompactedError();
    invariant(compactIndex <= this.lastIndex(), () => `raft: compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    const i = compactIndex - this.offset;
    const first = this.ents[i]!;
    this.ents = [{ term: first.term, index: first.index, type: 0, data: new Uint8Array() }, ...this.ents.slice(i + 1)];
  }

  /** Appends entries, truncating any conflicting suffix. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    if (first > entries[0]!.index) entries = entries.slice(first - entries[0]!.index);
    const offset = entries[0]!.index - this.offset;
    invariant(offset <= this.ents.length, () => `raft: missing log entry [last: ${this.lastIndex()}, append at: ${entries[0]!.index}]`);
    // in place: a copy of the whole log per append made long simulations and benchmarks quadratic
    this.ents.length = offset;
    for (const e of entries) this.ents.push(e);
  }
}

/**
 * Writes the initial log of a new cluster, as etcd does: one committed AddNode conf change per initial member at
 * term 1, so any member replaying the log from the start learns the whole initial configuration.
 */
export function bootstrapEntries(peers: { id: bigint; context: Uint8Array }[], encode: (cc: { type: 0; nodeId: bigint; context: Uint8Array }) => Uint8Array): { entries: import('./types.js').Entry[]; hardState: HardState } {
  const entries = peers.map((p, i) => ({ term: 1, index: i + 1, type: 1 as const, data: encode({ type: 0, nodeId: p.id, context: p.context }) }));
  return { entries, hardState: { term: 1, vote: 0n, commit: entries.length } };
}

export function cloneConfState(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}
