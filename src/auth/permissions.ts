// A user's key permissions as etcd 3.4 checks them (auth/range_perm_cache.go over pkg/adt's interval tree): every
// permission of every role the user holds goes into a read set and a write set of intervals; a single key is allowed
// when some interval holds it, a range only when the set covers all of it, contiguously. Nothing is filtered: a range
// that is partly allowed is refused.
//
// Keys compare as etcd's BytesAffineComparable: bytewise, except that the empty key is greater than every other key.
// So a permission's range_end "\0" (open-ended) and a query's range_end "\0" both become an empty end, +infinity; a
// permission with an empty range_end is the single key [key, key+"\0"). Ranges are not validated, as in etcd 3.4.23:
// an inverted range [/b, /a) is kept and matches as etcd's interval comparisons make it match.
//
// etcd keeps the intervals in a red-black interval tree; these sets are small (the permissions of a user's roles), so
// they are kept as arrays sorted by start and scanned with the tree's own overlap test and visiting order, which gives
// the tree's answers for well-formed intervals (see the note on inverted ones at `overlaps`).

import { PermissionType, type Permission } from '../proto/index.js';

/** etcd's BytesAffineComparable: bytewise order, with the empty slice above every other key. */
export function compareAffine(a: Uint8Array, b: Uint8Array): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  return Buffer.compare(a, b);
}

/** [begin, end) with etcd's affine ends: an empty end is +infinity. */
export interface Interval {
  readonly begin: Uint8Array;
  readonly end: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** etcd's NewBytesAffinePoint: [key, key + "\0"). */
export function pointInterval(key: Uint8Array): Interval {
  const end = new Uint8Array(key.length + 1);
  end.set(key);
  return { begin: key, end };
}

/** A permission's interval (getMergedPerms): a point for an empty range_end; range_end "\0" is open-ended. */
export function permissionInterval(key: Uint8Array, rangeEnd: Uint8Array): Interval {
  if (rangeEnd.length === 0) return pointInterval(key);
  return { begin: key, end: isOpenEnded(rangeEnd) ? EMPTY : rangeEnd };
}

export function isOpenEnded(rangeEnd: Uint8Array): boolean {
  return rangeEnd.length === 1 && rangeEnd[0] === 0;
}

/**
 * adt's Interval.Compare seen from `query`: 0 when the two overlap. "Left of" needs the query to start before and end
 * at or before the other's start; "right of" needs it to start at or after the other's end. For well-formed
 * intervals this is plain overlap. (With inverted permission ranges etcd's tree may also prune differently from this
 * scan; such grants are a 3.4.23 oddity that 3.4.25 refuses.)
 */
function overlaps(query: Interval, x: Interval): boolean {
  const leftOf = compareAffine(query.begin, x.begin) < 0 && compareAffine(query.end, x.begin) <= 0;
  if (leftOf) return false;
  return compareAffine(query.begin, x.end) < 0;
}

/** One kind of access (read or write): intervals sorted by start, ties in insertion order (as the tree visits them). */
export class IntervalSet {
  private readonly intervals: Interval[] = [];

  add(i: Interval): void {
    // insertion keeps the order stable for equal starts: after every interval that does not start later
    let at = this.intervals.length;
    while (at > 0 && compareAffine(this.intervals[at - 1]!.begin, i.begin) > 0) at--;
    this.intervals.splice(at, 0, i);
  }

  get size(): number {
    return this.intervals.length;
  }

  /** adt's Intersects: some interval overlaps `q` (for a point: holds the key). */
  intersects(q: Interval): boolean {
    for (const x of this.intervals) if (overlaps(q, x)) return true;
    return false;
  }

  /** adt's Contains: the intervals overlapping `q`, in start order, cover it without a gap. */
  contains(q: Interval): boolean {
    let minBegin: Uint8Array | null = null;
    let maxEnd: Uint8Array = EMPTY;
    for (const x of this.intervals) {
      if (!overlaps(q, x)) continue;
      if (minBegin === null) {
        minBegin = x.begin;
        maxEnd = x.end;
        continue;
      }
      if (compareAffine(maxEnd, x.begin) < 0) return false;
      if (compareAffine(x.end, maxEnd) > 0) maxEnd = x.end;
    }
    return minBegin !== null && compareAffine(maxEnd, q.end) >= 0 && compareAffine(minBegin, q.begin) <= 0;
  }
}

/** What etcd calls unifiedRangePermissions: the merged read and write sets of one user. */
export interface MergedPermissions {
  readonly read: IntervalSet;
  readonly write: IntervalSet;
}

export type AccessType = 'read' | 'write';

/** Merges the permissions of a user's roles, in the order given (etcd: the user's roles in name order). */
export function mergePermissions(perms: Iterable<Permission>): MergedPermissions {
  const read = new IntervalSet();
  const write = new IntervalSet();
  for (const p of perms) {
    const ivl = permissionInterval(p.key, p.range_end);
    if (p.permType === PermissionType.READ || p.permType === PermissionType.READWRITE) read.add(ivl);
    if (p.permType === PermissionType.WRITE || p.permType === PermissionType.READWRITE) write.add(ivl);
  }
  return { read, write };
}

/**
 * etcd's isRangeOpPermitted: a key (empty range_end) must lie in some interval; a range [key, range_end) (range_end
 * "\0": every key from `key` on) must be covered by the set.
 */
export function isRangePermitted(merged: MergedPermissions, access: AccessType, key: Uint8Array, rangeEnd: Uint8Array | undefined): boolean {
  const set = access === 'read' ? merged.read : merged.write;
  if (rangeEnd === undefined || rangeEnd.length === 0) return set.intersects(pointInterval(key));
  return set.contains({ begin: key, end: isOpenEnded(rangeEnd) ? EMPTY : rangeEnd });
}
