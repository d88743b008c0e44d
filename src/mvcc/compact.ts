// Compaction: etcd's Compact(rev) as a logical step at apply time (the compacted revision moves; reads below it
// fail) and a physical step that removes superseded history in bounded chunks, never holding the write lock long.
//
// Kept after compacting at C: every record with revision > C, and per key the newest record <= C unless it is a
// tombstone. Removed: everything else. Writes racing with the physical step only add records above C, so a
// decision taken from a snapshot stays right.

import { etcdError } from '../errors/index.js';
import { escapedUserKeyOf, eventKey, isTombstone, revisionOfHistoryKey } from './encoding.js';
import type { MvccState, MvccTables } from './read.js';

/** etcd's KV.Compact checks; moves the compacted revision. */
export function compactLogical(state: MvccState, revision: number): void {
  if (revision <= state.compactRevision) throw etcdError('Compacted');
  if (revision > state.revision) throw etcdError('FutureRev');
  state.compactRevision = revision;
}

/**
 * Where the physical step stopped: the last history key examined, whether that key's kept record was found, and that
 * key's newest record <= C when it is a tombstone, still to be removed.
 */
export interface CompactionCursor {
  after: Buffer | null;
  userKey: Buffer | null;
  keptFound: boolean;
  pendingTombstone: Buffer | null;
}

export const COMPACTION_START: CompactionCursor = Object.freeze({ after: null, userKey: null, keptFound: false, pendingTombstone: null });

export interface CompactionChunk {
  /** history keys to delete */
  remove: Buffer[];
  /** null when the whole table has been examined */
  next: CompactionCursor | null;
}

/**
 * Examines history from the cursor (read-only, pure) and returns up to `maxRemovals` keys to delete, or stops after
 * `maxExamined` entries. The caller deletes them in one write transaction and continues from `next`.
 *
 * A key whose newest record <= C is a tombstone loses its older records first and the tombstone last, in the chunk
 * that reaches the key's end: a scan restarted from an earlier cursor (a step whose result was lost, a restart) then
 * still finds the tombstone first and removes the rest. Removing the tombstone first would leave an older put as the
 * key's newest record <= C, and a scan restarted afterwards would keep it: the deleted key would come back.
 */
export function planCompactionChunk(
  tables: MvccTables,
  compactRevision: number,
  cursor: CompactionCursor,
  maxRemovals: number,
  maxExamined = maxRemovals * 16,
): CompactionChunk {
  const remove: Buffer[] = [];
  let { userKey, keptFound, pendingTombstone } = cursor;
  let examined = 0;
  let last: Buffer | null = cursor.after;
  const options = cursor.after === null ? {} : { start: cursor.after, exclusiveStart: true };
  for (const { key: hkey, value } of tables.history.getRange(options)) {
    const escaped = escapedUserKeyOf(hkey);
    if (userKey === null || !escaped.equals(userKey)) {
      if (pendingTombstone !== null) {
        remove.push(pendingTombstone);
        pendingTombstone = null;
        // full: stop before this entry, at the end of the previous key
        if (remove.length >= maxRemovals) return { remove, next: { after: last, userKey, keptFound, pendingTombstone } };
      }
      userKey = Buffer.from(escaped);
      keptFound = false;
    }
    last = Buffer.from(hkey);
    examined++;
    const rev = revisionOfHistoryKey(hkey);
    if (rev <= compactRevision) {
      if (keptFound) remove.push(last);
      else {
        keptFound = true;
        if (isTombstone(value)) pendingTombstone = last;
      }
    }
    if (remove.length >= maxRemovals || examined >= maxExamined) {
      return { remove, next: { after: last, userKey, keptFound, pendingTombstone } };
    }
  }
  if (pendingTombstone !== null) remove.push(pendingTombstone);
  return { remove, next: null };
}

/** Where a physical compaction stands: scanning history from a cursor, then removing the events index below it. */
export type CompactionPosition = { readonly phase: 'history'; readonly cursor: CompactionCursor } | { readonly phase: 'events' };

export const COMPACTION_BEGIN: CompactionPosition = Object.freeze({ phase: 'history', cursor: COMPACTION_START });

/** The tables a compaction step touches, and the environment whose write transaction it takes. */
export interface CompactionTables extends MvccTables {
  readonly env: { transactionSync<T>(action: () => T): T };
}

export interface CompactionStepResult {
  /** keys deleted by this step */
  removed: number;
  /** where the next step starts; null when the compaction is complete */
  next: CompactionPosition | null;
}

/**
 * One bounded step of the physical compaction at `revision`: plans from the caller's read snapshot and deletes at most
 * `batchKeysMax` keys in one write transaction, so a concurrent apply waits for the write lock at most that long.
 * Idempotent: running a step again from the same position (after a crash, or after a newer compaction took over) only
 * deletes what is still removable, because writes racing with it add records above the compacted revision only.
 */
export function compactionStep(tables: CompactionTables, revision: number, position: CompactionPosition, batchKeysMax: number): CompactionStepResult {
  if (position.phase === 'history') {
    const chunk = planCompactionChunk(tables, revision, position.cursor, batchKeysMax);
    if (chunk.remove.length > 0) {
      tables.env.transactionSync(() => {
        for (const key of chunk.remove) tables.history.removeSync(key);
      });
    }
    return { removed: chunk.remove.length, next: chunk.next === null ? { phase: 'events' } : { phase: 'history', cursor: chunk.next } };
  }
  // Watchers may start at the compacted revision itself: only the index below it goes.
  const stale = [...tables.events.getKeys({ end: eventKey(revision, 0), limit: batchKeysMax })];
  if (stale.length === 0) return { removed: 0, next: null };
  tables.env.transactionSync(() => {
    for (const key of stale) tables.events.removeSync(key);
  });
  return { removed: stale.length, next: { phase: 'events' } };
}

/** A position as it crosses a thread boundary (structured cloning turns Buffers into plain Uint8Arrays). */
export type CompactionPositionWire =
  | {
      readonly phase: 'history';
      readonly after: Uint8Array | null;
      readonly userKey: Uint8Array | null;
      readonly keptFound: boolean;
      readonly pendingTombstone: Uint8Array | null;
    }
  | { readonly phase: 'events' };

/** Exact-size copies: cloning a view of a pooled Buffer would copy the pool's whole slab. */
export function positionToWire(position: CompactionPosition): CompactionPositionWire {
  if (position.phase === 'events') return { phase: 'events' };
  const { after, userKey, keptFound, pendingTombstone } = position.cursor;
  const copy = (b: Buffer | null): Uint8Array | null => (b === null ? null : new Uint8Array(b));
  return { phase: 'history', after: copy(after), userKey: copy(userKey), keptFound, pendingTombstone: copy(pendingTombstone) };
}

export function positionFromWire(wire: CompactionPositionWire): CompactionPosition {
  if (wire.phase === 'events') return { phase: 'events' };
  const buffer = (b: Uint8Array | null): Buffer | null => (b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  return {
    phase: 'history',
    cursor: { after: buffer(wire.after), userKey: buffer(wire.userKey), keptFound: wire.keptFound, pendingTombstone: buffer(wire.pendingTombstone) },
  };
}
