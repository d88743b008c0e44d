// The Raft log: stable storage plus the unstable tail not yet persisted (etcd-io/raft's raftLog and unstable).
// Invariant, checked on every change: applied <= committed <= lastIndex.

import { invariant } from '../errors/index.js';
import { CompactedError, limitSize, UnavailableError, type RaftStorage } from './storage.js';
import type { Entry, Snapshot } from './types.js';

class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  constructor(public offset: number) {}

  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.metadata.index : undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined) return;
    // only stabilise if the entry still has the term it was persisted with (it may have been replaced meanwhile)
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      this.entries = this.entries.concat(ents);
    } else if (after <= this.offset) {
      // the log is being truncated to before our current offset: replace the unstable entries
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    invariant(lo <= hi && lo >= this.offset && hi <= this.offset + this.entries.length, () => `raft: unstable.slice[${lo},${hi}) out of bound [${this.offset},${this.offset + this.entries.length}]`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  applied: number;

  constructor(
    readonly storage: RaftStorage,
    readonly maxNextEntsBytes: number,
    readonly maxNextEntsCount: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.entries)=${this.unstable.entries.length}`;
  }

  /** Returns the last new index if the entries could be appended after (index, logTerm), else undefined. */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      invariant(ci > this.committed, () => `raft: entry ${ci} conflicts with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    invariant(after >= this.committed, () => `raft: after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** The index of the first entry that conflicts with the log (same index, different term), or of the first new one. */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /** The largest index <= index whose term is <= term (for fast log backtracking on rejection). */
  findConflictByTerm(index: number, term: number): number {
    if (index > this.lastIndex()) return index;
    for (;;) {
      const t = this.termOrUndefined(index);
      if (t === undefined || t <= term) break;
      index--;
    }
    return index;
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.length === 0 ? [] : this.unstable.entries.slice();
  }

  /** Committed entries not yet applied: at most maxNextEntsCount of them and maxNextEntsBytes (at least one). */
  nextEnts(): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 > off) return this.slice(off, Math.min(this.committed + 1, off + this.maxNextEntsCount), this.maxNextEntsBytes);
    return [];
  }

  hasNextEnts(): boolean {
    return this.committed + 1 > Math.max(this.applied + 1, this.firstIndex());
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  commitTo(toCommit: number): void {
    if (this.committed < toCommit) {
      invariant(this.lastIndex() >= toCommit, () => `raft: tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]`);
      this.committed = toCommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    invariant(this.committed >= i && i >= this.applied, () => `raft: applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  termOrUndefined(i: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return undefined;
    const u = this.unstable.maybeTerm(i);
    if (u !== undefined) return u;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return undefined;
      throw err;
    }
  }

  /** Term of entry i; 0 if unknown (compacted or beyond the end), as etcd's zeroTermOnErrCompacted. */
  term(i: number): number {
    return this.termOrUndefined(i) ?? 0;
  }

  entries(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  /** Whether a candidate's log (lastIndex, lastTerm) is at least as up to date as ours. */
  isUpToDate(lasti: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    const t = this.termOrUndefined(i);
    return t !== undefined && t === term;
  }

  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Entries [lo, hi), at most maxBytes (at least one). Throws CompactedError if lo was compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    this.checkOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    if (lo < this.unstable.offset) {
      const stored = this.storage.entries(lo, Math.min(hi, this.unstable.offset), maxBytes);
      // the storage may return fewer entries than asked for because of the size limit
      if (stored.length < Math.min(hi, this.unstable.offset) - lo) return stored;
      ents = stored;
    }
    if (hi > this.unstable.offset) {
      const unstable = this.unstable.slice(Math.max(lo, this.unstable.offset), hi);
      ents = ents.length > 0 ? ents.concat(unstable) : unstable;
    }
    return limitSize(ents, maxBytes);
  }

  private checkOutOfBounds(lo: number, hi: number): void {
    invariant(lo <= hi, () => `raft: invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new CompactedError();
    const length = this.lastIndex() + 1 - fi;
    invariant(hi <= fi + length, () => `raft: slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
  }
}
