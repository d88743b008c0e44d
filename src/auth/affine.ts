// Keys as etcd's interval tree compares them (pkg/adt's BytesAffineComparable), and its intervals.

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

