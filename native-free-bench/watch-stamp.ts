// Shared by the watch workloads of loadgen.ts and watch-bench.ts: the watched prefix, the send time written at the
// start of each value (ms with 3 decimals, zero-padded to STAMP_BYTES characters) for put-to-delivery latency, and the
// measurement timeline the main thread sends its worker threads.

/** When the worker threads measure (ms, Date.now()); sent to them once every connection is ready. */
export interface Timeline {
  measureFrom: number;
  endAt: number;
  /** watch: when to stop waiting for events (counting them) and report */
  reportAt: number;
}

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

/** The created responses of `n` watchers opened on one stream: `created` resolves at the n-th, rejects at a refusal. */
export class WatchCreation {
  readonly created: Promise<void>;
  private pending: number;
  private resolve!: () => void;
  private reject!: (e: Error) => void;

  constructor(n: number) {
    this.pending = n;
    this.created = new Promise<void>((res, rej) => ((this.resolve = res), (this.reject = rej)));
  }

  /** Takes one response of the stream; true when it was a created response (nothing more to do with it). */
  take(resp: { created?: boolean; canceled?: boolean; cancel_reason?: string }): boolean {
    if (resp.created !== true) return false;
    if (resp.canceled === true) this.reject(new Error(`watch not created: ${resp.cancel_reason ?? 'canceled'}`));
    else if (--this.pending === 0) this.resolve();
    return true;
  }

  /** The stream failed before every watcher was created. */
  fail(err: Error): void {
    this.reject(err);
  }
}
