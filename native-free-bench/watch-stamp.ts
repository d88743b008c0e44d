// Shared by the watch workloads of loadgen.ts and watch-bench.ts: the watched prefix, and the send time written at
// the start of each value (ms with 3 decimals, zero-padded to STAMP_BYTES characters) for put-to-delivery latency.

export const WATCH_PREFIX = Buffer.from('/watchbench/');
export const STAMP_BYTES = 20;

export function stampedValue(size: number, t: number): Buffer {
  const b = Buffer.alloc(size, 'v');
  b.write(t.toFixed(3).padStart(STAMP_BYTES, '0'), 0, 'latin1');
  return b;
}

export function readStamp(value: Uint8Array): number {
  return Number(Buffer.from(value.buffer, value.byteOffset, Math.min(STAMP_BYTES, value.byteLength)).toString('latin1'));
}

/** n items split into k nearly equal parts. */
export function split(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}
