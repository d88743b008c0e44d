// Compaction: etcd's Compact(rev) as a logical step at apply time (the compacted revision moves; reads below it
// fail) and a physical step that removes superseded history in bounded chunks, never holding the write lock long.
//
// Kept after compacting at C: every record with revision > C, and per key the newest record <= C unless it is a
// tombstone. Removed: everything else. Writes racing with the physical step only add records above C, so a
// decision taken from a snapshot stays right.

import { etcdError } from '../errors/index.js';
import { escapedUserKeyOf, isTombstone, revisionOfHistoryKey } from './encoding.js';
import type { MvccState, MvccTables } from './read.js';

/** etcd's KV.Compact checks; moves the compacted revision. */
export function compactLogical(state: MvccState, revision: number): void {
  if (revision <= state.compactRevision) throw etcdError('Compacted');
  if (revision > state.revision) throw etcdError('FutureRev');
  state.compactRevision = revision;
}

/** Where the physical step stopped: the last history key examined, and whether that key's kept record was found. */
export interface CompactionCursor {
  after: Buffer | null;
  userKey: Buffer | null;
  keptFound: boolean;
}

export const COMPACTION_START: CompactionCursor = Object.freeze({ after: null, userKey: null, keptFound: false });

export interface CompactionChunk {
  /** history keys to delete */
  remove: Buffer[];
  /** null when the whole table has been examined */
  next: CompactionCursor | null;
}

/**
 * Examines history from the cursor (read-only, pure) and returns up to `maxRemovals` keys to delete, or stops after
 * `maxExamined` entries. The caller deletes them in one write transaction and continues from `next`.
 */
export function planCompactionChunk(
  tables: MvccTables,
  compactRevision: number,
  cursor: CompactionCursor,
  maxRemovals: number,
  maxExamined = maxRemovals * 16,
): CompactionChunk {
  const remove: Buffer[] = [];
  let userKey = cursor.userKey;
  let keptFound = cursor.keptFound;
  let examined = 0;
  let last: Buffer | null = cursor.after;
  const options = cursor.after === null ? {} : { start: cursor.after, exclusiveStart: true };
  for (const { key: hkey, value } of tables.history.getRange(options)) {
    const escaped = escapedUserKeyOf(hkey);
    if (userKey === null || !escaped.equals(userKey)) {
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
        if (isTombstone(value)) remove.push(last);
      }
    }
    if (remove.length >= maxRemovals || examined >= maxExamined) {
      return { remove, next: { after: last, userKey, keptFound } };
    }
  }
  return { remove, next: null };
}
