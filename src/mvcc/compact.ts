// Compaction: etcd's Compact(rev) as a logical step at apply time (the compacted revision moves; reads below it
// fail) and a physical step that removes superseded history in bounded chunks, never holding the write lock long.
//
// Kept after compacting at C: every version with revision > C, and per key the newest version <= C unless it is a
// tombstone (keyindex entries and their history records). A tombstone at exactly C loses its keyindex entry but its
// history record stays, so a watcher starting at C still gets that delete; a later compaction's sweep of history
// below its revision removes it with any other record no keyindex entry points at. Writes racing with the physical
// step only add versions above C, so a decision taken from a snapshot stays right; a snapshot install replaces the
// whole key space, which the storage generation (meta, bumped by the install) tells a step planned before it.

import { etcdError } from '../errors/index.js';
import { failpoint } from '../failpoints/index.js';
import {
  escapedUserKeyOf,
  historyKey,
  isTombstoneEntry,
  keyIndexKey,
  revisionOfHistoryKey,
  revisionOfKeyIndexKey,
  subOfHistoryKey,
  subOfKeyIndexValue,
  userKeyOfHistoryValue,
} from './encoding.js';
import type { MvccState, MvccTables } from './read.js';

/** etcd's KV.Compact checks; moves the compacted revision. */
export function compactLogical(state: MvccState, revision: number): void {
  if (revision <= state.compactRevision) throw etcdError('Compacted');
  if (revision > state.revision) throw etcdError('FutureRev');
  state.compactRevision = revision;
}

/**
 * Where the keyindex phase stopped: the last keyindex key examined, whether that key's kept version was found, and
 * that key's newest version <= C when it is a tombstone (with its sub), still to be removed.
 */
export interface CompactionCursor {
  after: Buffer | null;
  userKey: Buffer | null;
  keptFound: boolean;
  pendingTombstone: Buffer | null;
  pendingTombstoneSub: number;
}

export const COMPACTION_START: CompactionCursor = Object.freeze({ after: null, userKey: null, keptFound: false, pendingTombstone: null, pendingTombstoneSub: 0 });

/** One version to remove: its keyindex entry and its history record (null: the record stays, see the header). */
export interface Removal {
  index: Buffer;
  history: Buffer | null;
}

export interface CompactionChunk {
  remove: Removal[];
  /** null when the whole table has been examined */
  next: CompactionCursor | null;
}

function removal(compactRevision: number, index: Buffer, sub: number): Removal {
  const revision = revisionOfKeyIndexKey(index);
  return { index, history: revision === compactRevision ? null : historyKey(revision, sub) };
}

/**
 * Examines keyindex from the cursor (read-only, pure) and returns up to `maxRemovals` versions to delete, or stops
 * after `maxExamined` entries. The caller deletes them in one write transaction and continues from `next`.
 *
 * A key whose newest version <= C is a tombstone loses its older versions first and the tombstone last, in the chunk
 * that reaches the key's end: a scan restarted from an earlier cursor (a step whose result was lost, a restart) then
 * still finds the tombstone first and removes the rest. Removing the tombstone first would leave an older put as the
 * key's newest version <= C, and a scan restarted afterwards would keep it: the deleted key would come back.
 */
export function planCompactionChunk(
  tables: MvccTables,
  compactRevision: number,
  cursor: CompactionCursor,
  maxRemovals: number,
  maxExamined = maxRemovals * 16,
): CompactionChunk {
  const remove: Removal[] = [];
  let { userKey, keptFound, pendingTombstone, pendingTombstoneSub } = cursor;
  let examined = 0;
  let last: Buffer | null = cursor.after;
  const here = (): CompactionCursor => ({ after: last, userKey, keptFound, pendingTombstone, pendingTombstoneSub });
  const options = cursor.after === null ? {} : { start: cursor.after, exclusiveStart: true };
  for (const { key: ikey, value } of tables.keyindex.getRange(options)) {
    const escaped = escapedUserKeyOf(ikey);
    if (userKey === null || !escaped.equals(userKey)) {
      if (pendingTombstone !== null) {
        remove.push(removal(compactRevision, pendingTombstone, pendingTombstoneSub));
        pendingTombstone = null;
        // full: stop before this entry, at the end of the previous key
        if (remove.length >= maxRemovals) return { remove, next: here() };
      }
      userKey = Buffer.from(escaped);
      keptFound = false;
    }
    last = Buffer.from(ikey);
    examined++;
    const rev = revisionOfKeyIndexKey(ikey);
    if (rev <= compactRevision) {
      if (keptFound) remove.push(removal(compactRevision, last, subOfKeyIndexValue(value)));
      else {
        keptFound = true;
        if (isTombstoneEntry(value)) {
          pendingTombstone = last;
          pendingTombstoneSub = subOfKeyIndexValue(value);
        }
      }
    }
    if (remove.length >= maxRemovals || examined >= maxExamined) return { remove, next: here() };
  }
  if (pendingTombstone !== null) remove.push(removal(compactRevision, pendingTombstone, pendingTombstoneSub));
  return { remove, next: null };
}

export interface SweepChunk {
  /** history keys to delete */
  remove: Buffer[];
  /** the last history key examined; null when every record below the compacted revision has been examined */
  next: Buffer | null;
}

/**
 * Examines history below the compacted revision from `after` and returns up to `maxRemovals` records that no
 * keyindex entry points at (tombstones kept at an earlier compacted revision for watchers), or stops after
 * `maxExamined` records. Below C only each key's kept version remains by then, so this reads about one record per key.
 */
export function planSweepChunk(
  tables: MvccTables,
  compactRevision: number,
  after: Buffer | null,
  maxRemovals: number,
  maxExamined = maxRemovals * 16,
): SweepChunk {
  const remove: Buffer[] = [];
  let examined = 0;
  const end = historyKey(compactRevision, 0);
  const options = after === null ? { end } : { start: after, exclusiveStart: true, end };
  for (const { key: hkey, value } of tables.history.getRange(options)) {
    const revision = revisionOfHistoryKey(hkey);
    const entry = tables.keyindex.get(keyIndexKey(userKeyOfHistoryValue(value), revision));
    if (entry === undefined || subOfKeyIndexValue(entry) !== subOfHistoryKey(hkey)) remove.push(Buffer.from(hkey));
    if (remove.length >= maxRemovals || ++examined >= maxExamined) return { remove, next: Buffer.from(hkey) };
  }
  return { remove, next: null };
}

/**
 * Where a physical compaction stands: walking keyindex from a cursor, then sweeping history below the compacted
 * revision. `generation` is the storage generation the compaction started under (null: not read yet, the first step
 * takes it from the snapshot it plans from).
 */
export type CompactionPosition =
  | { readonly phase: 'keyindex'; readonly cursor: CompactionCursor; readonly generation: number | null }
  | { readonly phase: 'sweep'; readonly after: Buffer | null; readonly generation: number | null };

export const COMPACTION_BEGIN: CompactionPosition = Object.freeze({ phase: 'keyindex', cursor: COMPACTION_START, generation: null });

/** The tables a compaction step touches, the environment whose write transaction it takes, and the storage generation. */
export interface CompactionTables extends MvccTables {
  readonly env: { transactionSync<T>(action: () => T): T };
  /** the storage generation (meta), as of the caller's snapshot or, inside a write transaction, of that transaction */
  storageGeneration(): number;
}

export interface CompactionStepResult {
  /** keyindex entries and history records deleted by this step */
  removed: number;
  /** where the next step starts; null when the compaction is complete */
  next: CompactionPosition | null;
  /**
   * The key space was replaced (a snapshot install) since the compaction started: the step deleted nothing and `next`
   * starts the compaction over on the new data.
   */
  stale?: boolean;
}

const STALE: CompactionStepResult = Object.freeze({ removed: 0, next: COMPACTION_BEGIN, stale: true });

/**
 * One bounded step of the physical compaction at `revision`: plans from the caller's read snapshot and deletes at most
 * `batchKeysMax` keys (keyindex entries and history records; at least one version) in one write transaction, so a concurrent apply waits for the write lock at most that long.
 * Idempotent: running a step again from the same position (after a crash, or after a newer compaction took over) only
 * deletes what is still removable, because writes racing with it add versions above the compacted revision only. A step
 * planned under another storage generation than the compaction's deletes nothing (checked inside its transaction).
 */
export function compactionStep(tables: CompactionTables, revision: number, position: CompactionPosition, batchKeysMax: number): CompactionStepResult {
  const planned = tables.storageGeneration();
  const generation = position.generation ?? planned;
  if (planned !== generation) return STALE;
  const commit = (deletes: () => number): number | null =>
    tables.env.transactionSync(() => {
      if (tables.storageGeneration() !== generation) return null;
      const removed = deletes();
      failpoint('compaction.step');
      return removed;
    });
  if (position.phase === 'keyindex') {
    // each removal deletes a keyindex entry and (mostly) its history record: at most batchKeysMax deletes in all
    const chunk = planCompactionChunk(tables, revision, position.cursor, Math.max(1, Math.floor(batchKeysMax / 2)));
    let removed = 0;
    if (chunk.remove.length > 0) {
      const done = commit(() => {
        let n = 0;
        for (const r of chunk.remove) {
          if (tables.keyindex.removeSync(r.index)) n++;
          if (r.history !== null && tables.history.removeSync(r.history)) n++;
        }
        return n;
      });
      if (done === null) return STALE;
      removed = done;
    }
    const next: CompactionPosition =
      chunk.next === null ? { phase: 'sweep', after: null, generation } : { phase: 'keyindex', cursor: chunk.next, generation };
    return { removed, next };
  }
  const chunk = planSweepChunk(tables, revision, position.after, batchKeysMax);
  let removed = 0;
  if (chunk.remove.length > 0) {
    const done = commit(() => chunk.remove.reduce((n, key) => n + (tables.history.removeSync(key) ? 1 : 0), 0));
    if (done === null) return STALE;
    removed = done;
  }
  return { removed, next: chunk.next === null ? null : { phase: 'sweep', after: chunk.next, generation } };
}

/** A position as it crosses a thread boundary (structured cloning turns Buffers into plain Uint8Arrays). */
export type CompactionPositionWire =
  | {
      readonly phase: 'keyindex';
      readonly after: Uint8Array | null;
      readonly userKey: Uint8Array | null;
      readonly keptFound: boolean;
      readonly pendingTombstone: Uint8Array | null;
      readonly pendingTombstoneSub: number;
      readonly generation: number | null;
    }
  | { readonly phase: 'sweep'; readonly after: Uint8Array | null; readonly generation: number | null };

const copy = (b: Buffer | null): Uint8Array | null => (b === null ? null : new Uint8Array(b));
const buffer = (b: Uint8Array | null): Buffer | null => (b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Exact-size copies: cloning a view of a pooled Buffer would copy the pool's whole slab. */
export function positionToWire(position: CompactionPosition): CompactionPositionWire {
  if (position.phase === 'sweep') return { phase: 'sweep', after: copy(position.after), generation: position.generation };
  const { after, userKey, keptFound, pendingTombstone, pendingTombstoneSub } = position.cursor;
  return {
    phase: 'keyindex',
    after: copy(after),
    userKey: copy(userKey),
    keptFound,
    pendingTombstone: copy(pendingTombstone),
    pendingTombstoneSub,
    generation: position.generation,
  };
}

export function positionFromWire(wire: CompactionPositionWire): CompactionPosition {
  if (wire.phase === 'sweep') return { phase: 'sweep', after: buffer(wire.after), generation: wire.generation };
  return {
    phase: 'keyindex',
    cursor: {
      after: buffer(wire.after),
      userKey: buffer(wire.userKey),
      keptFound: wire.keptFound,
      pendingTombstone: buffer(wire.pendingTombstone),
      pendingTombstoneSub: wire.pendingTombstoneSub,
    },
    generation: wire.generation,
  };
}
