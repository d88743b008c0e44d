// Raft's stable storage in LMDB: the log (table `log`), the hard state and the snapshot metadata (table `meta`).
// Reads serve Raft's narrow interface; writes come only from the driver (append, setHardState, compact), as
// asynchronous LMDB writes whose durability the driver awaits with `flushed` before sending or acknowledging.
//
// Snapshots are not stored as files: the key space itself is the snapshot. `snapshot()` describes the state at the
// applied index, and its data is produced from one LMDB read snapshot when a follower needs it.

import { Packr, Unpackr } from 'msgpackr';
import { invariant } from '../errors/index.js';
import { CompactedError, limitSize, UnavailableError, type RaftStorage } from '../raft/index.js';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/index.js';
import { logIndexOf, logKey, type Storage } from './env.js';
import { confStateFromStored, confStateToStored, type StoredConfState } from './meta.js';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, int64AsType: 'bigint' });

export function encodeLogEntry(e: Entry): Buffer {
  return packr.pack([e.term, e.type, e.data]) as Buffer;
}

export function decodeLogEntry(index: number, bytes: Uint8Array): Entry {
  const [term, type, data] = unpackr.unpack(bytes) as [bigint | number, bigint | number, Uint8Array];
  return { term: Number(term), index, type: Number(type) as Entry['type'], data: data ?? new Uint8Array() };
}

interface StoredHardState {
  term: number;
  vote: string;
  commit: number;
}

export interface StoredSnapshotMeta {
  index: number;
  term: number;
  confState: StoredConfState;
}

export class LmdbRaftStorage implements RaftStorage {
  private last: number;
  private snapMeta: StoredSnapshotMeta;
  /** terms of the newest entries, so Raft's frequent term() calls rarely touch LMDB */
  private readonly recentTerms = new Map<number, number>();
  private pendingHardState: HardState | null = null;
  /** the hard state as last written, and the lowest commit index it may record (what an apply recorded as applied) */
  private storedHardState: HardState;
  private commitFloor = 0;

  constructor(
    private readonly storage: Storage,
    /** builds the snapshot data for the state at the applied index (the server's job) */
    private readonly snapshotProvider: () => Snapshot,
  ) {
    this.snapMeta = (storage.meta.get('raft-snapshot') as StoredSnapshotMeta | undefined) ?? {
      index: 0,
      term: 0,
      confState: { voters: [], learners: [] },
    };
    let last = this.snapMeta.index;
    for (const key of storage.log.getKeys({ reverse: true, limit: 1 })) last = Math.max(last, logIndexOf(key));
    this.last = last;
    this.storedHardState = this.initialState().hardState;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    const hs = this.storage.meta.get('raft-hardstate') as StoredHardState | undefined;
    return {
      hardState: hs ? { term: hs.term, vote: BigInt(hs.vote), commit: hs.commit } : { term: 0, vote: 0n, commit: 0 },
      confState: confStateFromStored(this.snapMeta.confState),
    };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.snapMeta.index) throw new CompactedError();
    invariant(hi <= this.last + 1, () => `raft: entries' hi(${hi}) is out of bound lastindex(${this.last})`);
    const out: Entry[] = [];
    let bytes = 0;
    for (const { key, value } of this.storage.log.getRange({ start: logKey(lo), end: logKey(hi) })) {
      const e = decodeLogEntry(logIndexOf(key), value);
      out.push(e);
      bytes += e.data.length + 24;
      if (bytes > maxBytes) break;
    }
    if (out.length === 0 || out[0]!.index !== lo) throw new UnavailableError();
    return limitSize(out, maxBytes);
  }

  term(index: number): number {
    if (index === this.snapMeta.index) return this.snapMeta.term;
    if (index < this.snapMeta.index) throw new CompactedError();
    if (index > this.last) throw new UnavailableError();
    const cached = this.recentTerms.get(index);
    if (cached !== undefined) return cached;
    const v = this.storage.log.get(logKey(index));
    if (v === undefined) throw new UnavailableError();
    return decodeLogEntry(index, v).term;
  }

  lastIndex(): number {
    return this.last;
  }

  firstIndex(): number {
    return this.snapMeta.index + 1;
  }

  snapshot(): Snapshot {
    return this.snapshotProvider();
  }

  get snapshotIndex(): number {
    return this.snapMeta.index;
  }

  /** Queues the entries (replacing any conflicting suffix); durable once `storage.log.flushed` resolves. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    for (let i = first; i <= this.last; i++) {
      if (i >= first + entries.length) this.storage.log.remove(logKey(i)); // a shorter replacement: drop the rest
      this.recentTerms.delete(i);
    }
    for (const e of entries) {
      this.storage.log.put(logKey(e.index), encodeLogEntry(e));
      this.recentTerms.set(e.index, e.term);
    }
    this.last = entries[entries.length - 1]!.index;
    if (this.recentTerms.size > 20_000) {
      for (const k of this.recentTerms.keys()) {
        if (k < this.last - 10_000) this.recentTerms.delete(k);
        else break;
      }
    }
  }

  /**
   * Queues the hard state. `deferred` (a change of the commit index only, which needs no sync) holds it back for the
   * next write that goes to disk anyway: the next apply transaction (commitAtLeast) or the next synced Ready. A write
   * of its own would cost a commit, and a commit here costs a sync, on the path of every put. The stored commit index
   * never goes below what an apply transaction recorded (commitAtLeast).
   */
  setHardState(hs: HardState, deferred = false): void {
    if (deferred) {
      this.pendingHardState = hs;
      return;
    }
    this.pendingHardState = null;
    this.writeHardState(hs);
  }

  /**
   * Inside an apply transaction that records `applied`: writes a held-back hard state, so the commit index on disk is at
   * least the applied index recorded in the same commit (Raft refuses to start with an applied index past the commit
   * index). The Ready that hands over committed entries carries a commit index that covers them, so the raise below is
   * a guard, not a path taken: were the recorded commit ever behind, the member could not restart.
   */
  commitAtLeast(applied: number): void {
    const hs = this.pendingHardState;
    this.pendingHardState = null;
    this.commitFloor = Math.max(this.commitFloor, applied);
    if (hs !== null) this.writeHardState(hs);
    else if (this.storedHardState.commit < this.commitFloor) this.writeHardState(this.storedHardState);
  }

  private writeHardState(hs: HardState): void {
    const commit = Math.max(hs.commit, this.commitFloor);
    this.storedHardState = { term: hs.term, vote: hs.vote, commit };
    this.storage.meta.put('raft-hardstate', { term: hs.term, vote: hs.vote.toString(), commit } satisfies StoredHardState);
  }

  /**
   * Marks entries up to `index` as compacted (their effects are in the key space) and removes a first batch of
   * them; `trim` removes the rest a batch at a time, so no write holds the LMDB lock for long.
   */
  compact(index: number, confState: ConfState, batch: number): void {
    if (index <= this.snapMeta.index || index > this.last) return;
    const term = this.term(index);
    this.snapMeta = { index, term, confState: confStateToStored(confState) };
    this.storage.meta.put('raft-snapshot', this.snapMeta);
    this.trim(batch);
  }

  /** Removes up to `batch` compacted entries; returns how many it removed. */
  trim(batch: number): number {
    let removed = 0;
    for (const key of this.storage.log.getKeys({ end: logKey(this.snapMeta.index + 1), limit: batch })) {
      this.storage.log.remove(key);
      this.recentTerms.delete(logIndexOf(key));
      removed++;
    }
    return removed;
  }

  /** After installing a snapshot from the leader: the log restarts after it. */
  resetToSnapshot(meta: StoredSnapshotMeta): void {
    this.snapMeta = meta;
    this.storage.meta.put('raft-snapshot', meta);
    for (const key of this.storage.log.getKeys({})) this.storage.log.remove(key);
    this.recentTerms.clear();
    this.last = meta.index;
  }
}
