// Reading events back by revision, for watchers that start in the past or fell behind: history is keyed by revision,
// so a catch-up is one range read over it (each entry holds its user key and record); keyindex gives prev_kv (the
// version before). Pure and synchronous like read.ts, so it can run in a worker against an LMDB snapshot.

import { EventType, type Event, type KeyValue } from '../proto/index.js';
import {
  escapedUserKeyOf,
  historyKey,
  isTombstone,
  isTombstoneEntry,
  keyIndexKey,
  recordOfHistoryValue,
  recordToKeyValue,
  revisionOfHistoryKey,
  revisionOfKeyIndexKey,
  subOfKeyIndexValue,
  userKeyOfHistoryValue,
} from './encoding.js';
import { recordAt, type MvccTables } from './read.js';

export interface EventsRead {
  events: Event[];
  /** the last revision fully read (from - 1 when nothing was read) */
  lastRevision: number;
}

const EMPTY = Buffer.alloc(0);

/** The newest record of `key` below `revision`, as a KeyValue, unless it is a tombstone or compacted away. */
export function previousKeyValue(tables: MvccTables, key: Uint8Array, revision: number): KeyValue | undefined {
  const from = keyIndexKey(key, revision - 1);
  const prefix = escapedUserKeyOf(from);
  for (const { key: ikey, value } of tables.keyindex.getRange({ start: from, limit: 1 })) {
    if (!escapedUserKeyOf(ikey).equals(prefix) || isTombstoneEntry(value)) return undefined;
    const record = recordAt(tables, revisionOfKeyIndexKey(ikey), subOfKeyIndexValue(value));
    return record === undefined ? undefined : recordToKeyValue(key, Buffer.from(record));
  }
  return undefined;
}

/**
 * Events of revisions from..to in order; `from` must not be below the compacted revision. Stops early only at a
 * revision boundary once `maxEvents` events were looked at or `maxBytes` of kept keys and values read, so a revision is
 * never split. `keep` filters by key before records are decoded; `withPrev` fills prev_kv.
 */
export function readEvents(
  tables: MvccTables,
  from: number,
  to: number,
  maxEvents: number,
  keep: (key: Buffer) => boolean = () => true,
  withPrev = false,
  maxBytes = Infinity,
): EventsRead {
  const events: Event[] = [];
  let lastRevision = from - 1;
  let seen = 0;
  let bytes = 0;
  for (const { key: hkey, value } of tables.history.getRange({ start: historyKey(from, 0), end: historyKey(to + 1, 0) })) {
    const rev = revisionOfHistoryKey(hkey);
    if (rev !== lastRevision) {
      if (seen >= maxEvents || bytes >= maxBytes) return { events, lastRevision };
      lastRevision = rev;
    }
    seen++;
    const key = Buffer.from(userKeyOfHistoryValue(value));
    if (!keep(key)) continue;
    const record = recordOfHistoryValue(value);
    // Compaction at C keeps every record from C on, a tombstone at exactly C included (watchers may start at C).
    const ev: Event = isTombstone(record)
      ? { type: EventType.DELETE, kv: { key, create_revision: 0, mod_revision: rev, version: 0, value: EMPTY, lease: 0n } }
      : { type: EventType.PUT, kv: recordToKeyValue(key, Buffer.from(record)) };
    if (withPrev) {
      const prev = previousKeyValue(tables, key, rev);
      if (prev !== undefined) ev.prev_kv = prev;
    }
    bytes += key.length + ev.kv.value.length + (ev.prev_kv === undefined ? 0 : ev.prev_kv.key.length + ev.prev_kv.value.length);
    events.push(ev);
  }
  return { events, lastRevision: Math.max(lastRevision, to) };
}
