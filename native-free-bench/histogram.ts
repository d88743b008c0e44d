// A fixed-size log-linear latency histogram (HDR-style): values in microseconds, exact below 256 µs, then 128
// sub-buckets per power of two (relative error under 0.8 %). Recording is an index computation and one increment;
// histograms of several threads merge by adding their counts.

const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128
/** Covers values up to 2^32 µs (71 minutes); larger values land in the last bucket. */
export const HISTOGRAM_BUCKETS = (32 - SUB_BITS) * SUB + SUB;

export function bucketOf(us: number): number {
  const v = us <= 0 ? 0 : us >= 0xffff_ffff ? 0xffff_ffff : Math.floor(us);
  if (v < 2 * SUB) return v;
  const msb = 31 - Math.clz32(v);
  const shift = msb - SUB_BITS;
  return shift * SUB + (v >>> shift);
}

/** The largest value a bucket holds (what percentiles report: never an underestimate by more than the bucket). */
export function bucketUpperUs(bucket: number): number {
  if (bucket < 2 * SUB) return bucket;
  const shift = Math.floor(bucket / SUB) - 1;
  const mantissa = bucket - shift * SUB;
  return (mantissa + 1) * 2 ** shift - 1;
}

/** A histogram's data as it crosses threads (postMessage): what merge() adds up. */
export interface HistData {
  counts: Uint32Array;
  total: number;
  sumUs: number;
  maxUs: number;
}

export class Histogram {
  readonly counts: Uint32Array;
  total = 0;
  sumUs = 0;
  maxUs = 0;
  constructor(counts?: Uint32Array) {
    this.counts = counts ?? new Uint32Array(HISTOGRAM_BUCKETS);
  }

  record(us: number): void {
    this.counts[bucketOf(us)]!++;
    this.total++;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  merge(other: HistData): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i] ?? 0;
    this.total += other.total;
    this.sumUs += other.sumUs;
    if (other.maxUs > this.maxUs) this.maxUs = other.maxUs;
  }

  /** The value at quantile q (0..1), in microseconds; the exact maximum for q = 1. */
  quantileUs(q: number): number {
    if (this.total === 0) return 0;
    if (q >= 1) return this.maxUs;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketUpperUs(i), this.maxUs);
    }
    return this.maxUs;
  }

  get meanUs(): number {
    return this.total === 0 ? 0 : this.sumUs / this.total;
  }
}
