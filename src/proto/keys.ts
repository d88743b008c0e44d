// Key-range helpers with etcd's semantics (clientv3's GetPrefixRangeEnd and the "\0" from-key convention).

/** The range_end that selects every key with this prefix: drop trailing 0xff bytes, increment the last byte. */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // every byte is 0xff (or the prefix is empty): no upper bound, i.e. from-key
  return Uint8Array.of(0);
}

/** range_end "\0" means "no upper bound". */
export function isFromKeyEnd(rangeEnd: Uint8Array | undefined): boolean {
  return rangeEnd !== undefined && rangeEnd.length === 1 && rangeEnd[0] === 0;
}
