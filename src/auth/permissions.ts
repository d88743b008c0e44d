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
// The sets are etcd's own red-black interval tree (interval-tree.ts), built per user on first use after a change,
// so that what an inverted permission range allows is what etcd's tree allows.

import { PermissionType, type Permission } from '../proto/index.js';
import { compareAffine, type Interval } from './affine.js';
import { IntervalTree } from './interval-tree.js';

export { compareAffine, type Interval };

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

/** One kind of access (read or write): etcd's interval tree of the user's permissions (interval-tree.ts). */
export class IntervalSet {
  private readonly tree = new IntervalTree();

  add(i: Interval): void {
    this.tree.insert(i);
  }

  get size(): number {
    return this.tree.size;
  }

  /** adt's Intersects: the tree's descent finds an interval overlapping `q` (for a point: holding the key). */
  intersects(q: Interval): boolean {
    return this.tree.intersects(q);
  }

  /** intersects(pointInterval(key)), without building the point. */
  holds(key: Uint8Array): boolean {
    return this.tree.holdsPoint(key);
  }

  /** adt's Contains: the intervals its visit reaches for `q`, in start order, cover it without a gap. */
  contains(q: Interval): boolean {
    return this.tree.contains(q);
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
  if (rangeEnd === undefined || rangeEnd.length === 0) return set.holds(key);
  return set.contains({ begin: key, end: isOpenEnded(rangeEnd) ? EMPTY : rangeEnd });
}
