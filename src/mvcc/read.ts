// Range at a revision: a pure, synchronous function over the LMDB tables. Called inside one synchronous turn it
// reads one consistent snapshot (lmdb-js keeps one read transaction per turn, or the write transaction when called
// inside one), so the same code serves the main thread, apply-time reads inside a write transaction, and workers.

import type { Database } from 'lmdb';
import { etcdError, invariant } from '../errors/index.js';
import { isFromKeyEnd, SortOrder, SortTarget, type KeyValue, type RangeRequest } from '../proto/index.js';
import {
  escapedUserKeyOf,
  historyKey,
  isTombstoneEntry,
  keyIndexKey,
  keyIndexKeyAfter,
  keyIndexKeyLowerBound,
  recordOfHistoryValue,
  recordToKeyValue,
  REVISION_MAX,
  revisionOfKeyIndexKey,
  subOfKeyIndexValue,
  unescapeUserKey,
} from './encoding.js';

export interface MvccTables {
  /** user key -> record: the newest version of every live key */
  readonly latest: Database<Buffer, Buffer>;
  /** historyKey(revision, sub) -> historyValue(user key, record): every retained change, in revision order */
  readonly history: Database<Buffer, Buffer>;
  /** keyIndexKey(user key, revision) -> keyIndexValue(sub, tombstone): every retained version of every key */
  readonly keyindex: Database<Buffer, Buffer>;
}

/** The revisions a read is judged against. */
export interface MvccState {
  /** current store revision (inside a write txn: including that txn's own changes) */
  revision: number;
  /** -1 before any compaction, as etcd's compactMainRev */
  compactRevision: number;
}

export interface RangeResult {
  kvs: KeyValue[];
  count: number;
  more: boolean;
  /** the store revision the read was answered at (the current revision, not the requested one) */
  revision: number;
}

/** The revision a read at `requested` uses, after etcd's future/compacted checks. */
export function resolveReadRevision(state: MvccState, requested: number | undefined): number {
  const rev = requested === undefined || requested <= 0 ? state.revision : requested;
  if (rev > state.revision) throw etcdError('FutureRev');
  if (rev < state.compactRevision) throw etcdError('Compacted');
  return rev;
}

interface Bounds {
  start: Buffer;
  /** exclusive; null = no upper bound; undefined = the single key `start` */
  end: Buffer | null | undefined;
}

function boundsOf(key: Uint8Array, rangeEnd: Uint8Array | undefined): Bounds | null {
  const start = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: undefined };
  if (isFromKeyEnd(rangeEnd)) return { start, end: null };
  const end = Buffer.from(rangeEnd.buffer, rangeEnd.byteOffset, rangeEnd.byteLength);
  if (Buffer.compare(end, start) <= 0) return null;
  return { start, end };
}

/** The record of a key's version at `revision` (its keyindex entry says `sub`), from history. */
export function recordAt(tables: MvccTables, revision: number, sub: number): Buffer | undefined {
  const value = tables.history.get(historyKey(revision, sub));
  return value === undefined ? undefined : recordOfHistoryValue(value);
}

/**
 * Visits every key live at `rev` within the bounds, in key order. `visit` returns false to stop.
 * Current-revision reads use `latest`; older revisions walk `keyindex`, taking per key the newest version <= rev, and
 * read its record from history only when `withRecords` (a count needs none).
 */
function scan(
  tables: MvccTables,
  bounds: Bounds,
  rev: number,
  current: boolean,
  visit: (key: Buffer, record: Buffer) => boolean,
  withRecords = true,
): void {
  if (current) {
    if (bounds.end === undefined) {
      const record = tables.latest.get(bounds.start);
      if (record !== undefined) visit(bounds.start, record);
      return;
    }
    const options = bounds.end === null ? { start: bounds.start } : { start: bounds.start, end: bounds.end };
    for (const { key, value } of tables.latest.getRange(options)) {
      if (!visit(key, value)) return;
    }
    return;
  }
  // Per key, the versions newer than `rev` come first, then the one visible at `rev`, then older ones. A short run of
  // them is stepped over; past SEEK_AFTER_SKIPS the scan seeks instead (a key with thousands of versions costs one
  // seek, not thousands of steps). A single key seeks straight to its version at `rev`.
  const end =
    bounds.end === undefined ? keyIndexKeyAfter(bounds.start) : bounds.end === null ? undefined : keyIndexKeyLowerBound(bounds.end);
  let from = keyIndexKey(bounds.start, rev);
  let decidedKey: Buffer | null = null;
  restart: for (;;) {
    let skipped = 0;
    for (const { key: hkey, value } of tables.keyindex.getRange(end === undefined ? { start: from } : { start: from, end })) {
      const escaped = escapedUserKeyOf(hkey);
      if (decidedKey !== null && escaped.equals(decidedKey)) {
        if (++skipped >= SEEK_AFTER_SKIPS) {
          from = escapedKeyAfter(decidedKey);
          continue restart;
        }
        continue;
      }
      const version = revisionOfKeyIndexKey(hkey);
      if (version > rev) {
        if (++skipped >= SEEK_AFTER_SKIPS) {
          from = escapedKeyAt(escaped, rev);
          continue restart;
        }
        continue;
      }
      skipped = 0;
      decidedKey = Buffer.from(escaped);
      if (!isTombstoneEntry(value)) {
        let record: Buffer | undefined = NO_RECORD;
        if (withRecords) {
          record = recordAt(tables, version, subOfKeyIndexValue(value));
          invariant(record !== undefined, `mvcc: keyindex entry at revision ${version} has no history record`);
        }
        if (!visit(unescapeUserKey(escaped), record)) return;
      }
      if (bounds.end === undefined) return;
    }
    return;
  }
}

const NO_RECORD = Buffer.alloc(0);

/** Versions of one key stepped over before the scan seeks past them. */
const SEEK_AFTER_SKIPS = 8;

/** The keyindex key of (escaped user key with its terminator, revision). */
function escapedKeyAt(escaped: Buffer, revision: number): Buffer {
  const out = Buffer.allocUnsafe(escaped.length + 8);
  escaped.copy(out, 0);
  const inverted = REVISION_MAX - revision;
  out.writeUInt32BE(Math.floor(inverted / 0x1_0000_0000), escaped.length);
  out.writeUInt32BE(inverted >>> 0, escaped.length + 4);
  return out;
}

/** The first keyindex key past every version of the escaped user key (its terminator 0x00 0x00 becomes 0x00 0x01). */
function escapedKeyAfter(escaped: Buffer): Buffer {
  const out = Buffer.from(escaped);
  out[out.length - 1] = 1;
  return out;
}

function countLatest(tables: MvccTables, bounds: Bounds): number {
  if (bounds.end === undefined) return tables.latest.doesExist(bounds.start) ? 1 : 0;
  return tables.latest.getCount(bounds.end === null ? { start: bounds.start } : { start: bounds.start, end: bounds.end });
}

const EMPTY_VALUE = Buffer.alloc(0);
const compareBytes = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);

function sorter(target: number): (a: KeyValue, b: KeyValue) => number {
  switch (target) {
    case SortTarget.VERSION: return (a, b) => a.version - b.version;
    case SortTarget.CREATE: return (a, b) => a.create_revision - b.create_revision;
    case SortTarget.MOD: return (a, b) => a.mod_revision - b.mod_revision;
    case SortTarget.VALUE: return (a, b) => compareBytes(a.value, b.value);
    default: return (a, b) => compareBytes(a.key, b.key);
  }
}

/**
 * etcd's applierV3backend.Range over our tables. Throws Compacted / FutureRev as etcd does. A caller that cannot carry
 * an answer above `maxBytes` (a worker's reply ring) gets ResponseTooLarge as soon as the keys and values the answer
 * will hold exceed it, before the rest is read: its encoding would be larger still.
 */
export function range(tables: MvccTables, state: MvccState, req: RangeRequest, maxBytes = Infinity): RangeResult {
  const rev = resolveReadRevision(state, req.revision);
  const current = rev === state.revision;
  const bounds = boundsOf(req.key, req.range_end);
  if (bounds === null) return { kvs: [], count: 0, more: false, revision: state.revision };
  const limit = req.limit !== undefined && req.limit > 0 ? req.limit : 0;
  const minMod = req.min_mod_revision ?? 0;
  const maxMod = req.max_mod_revision ?? 0;
  const minCreate = req.min_create_revision ?? 0;
  const maxCreate = req.max_create_revision ?? 0;
  const filtered = minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0;
  const requestedOrder = req.sort_order ?? SortOrder.NONE;
  const target = req.sort_target ?? SortTarget.KEY;
  const order = target !== SortTarget.KEY && requestedOrder === SortOrder.NONE ? SortOrder.ASCEND : requestedOrder;
  // keys_only strips values after sorting (etcd sorts by the real values), so keep them while sorting by VALUE.
  const keysOnly = req.keys_only === true;
  const stripLate = keysOnly && target === SortTarget.VALUE && order !== SortOrder.NONE;

  if (req.count_only) {
    let count = 0;
    if (current) count = countLatest(tables, bounds);
    else scan(tables, bounds, rev, false, () => (count++, true), false);
    return { kvs: [], count, more: false, revision: state.revision };
  }

  // As etcd: with a requested sort order or revision filters everything is fetched, then filtered, sorted and
  // truncated; otherwise one extra key is fetched to tell whether there is more. A non-KEY target with order NONE
  // sorts ASCEND but, in etcd, only the limit + 1 keys it fetched in key order.
  const fetchAll = requestedOrder !== SortOrder.NONE || filtered || limit === 0;
  const fetchLimit = fetchAll ? Infinity : limit + 1;
  let kvs: KeyValue[] = [];
  let seen = 0;
  // only when every kv fetched (but a paged read's extra one) is in the answer: not with filters, nor sorted and cut
  const budgeted = maxBytes !== Infinity && !filtered && (limit === 0 || !fetchAll);
  let bytes = 0;
  scan(tables, bounds, rev, current, (key, record) => {
    seen++;
    if (kvs.length < fetchLimit) {
      const kv = recordToKeyValue(Buffer.from(key), record, keysOnly && !stripLate);
      kvs.push(kv);
      if (budgeted && (limit === 0 || kvs.length <= limit) && (bytes += kv.key.length + (keysOnly ? 0 : kv.value.length)) > maxBytes) return false;
    }
    return !current || kvs.length < fetchLimit;
  });
  if (bytes > maxBytes) throw etcdError('ResponseTooLarge', bytes);
  let count = seen;
  if (current && !fetchAll && kvs.length >= fetchLimit) count = countLatest(tables, bounds);
  if (filtered) {
    kvs = kvs.filter(
      (kv) =>
        !(maxMod !== 0 && kv.mod_revision > maxMod) &&
        !(minMod !== 0 && kv.mod_revision < minMod) &&
        !(maxCreate !== 0 && kv.create_revision > maxCreate) &&
        !(minCreate !== 0 && kv.create_revision < minCreate),
    );
  }
  if (order === SortOrder.ASCEND || order === SortOrder.DESCEND) {
    const cmp = sorter(target);
    kvs.sort(order === SortOrder.ASCEND ? cmp : (a, b) => cmp(b, a));
  }
  let more = false;
  if (limit > 0 && kvs.length > limit) {
    kvs = kvs.slice(0, limit);
    more = true;
  }
  if (stripLate) for (const kv of kvs) kv.value = EMPTY_VALUE;
  return { kvs, count, more, revision: state.revision };
}

/** Reads one key at the current revision (apply-time helper). */
export function getLatest(tables: MvccTables, key: Uint8Array): Buffer | undefined {
  return tables.latest.get(Buffer.from(key.buffer, key.byteOffset, key.byteLength));
}

export { REVISION_MAX };
