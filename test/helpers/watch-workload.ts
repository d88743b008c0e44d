// Pieces of the seeded random watch workloads shared by test/watch/random.test.ts and test/watch/filter-worker.test.ts:
// running N operations on a few concurrent lanes, and the checker's spec of a watch made from its client options.

import { prefixRangeEnd, type WatchOptions } from '../../src/client/index.js';
import type { WatchSpec } from './watch-checker.js';

/** Runs `n` operations, `concurrency` at a time, each lane starting its next one when its last one settled. */
export async function runOps(n: number, concurrency: number, op: () => Promise<unknown>): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await op();
    }),
  );
}

/** What the watch checker expects of a watch made with `o` and created at revision `created` (from its start revision, else the next). */
export function watchSpecOf(o: WatchOptions, created: number): WatchSpec {
  const key = Buffer.from(o.key as string);
  const range_end = o.prefix ? Buffer.from(prefixRangeEnd(key)) : o.range_end === undefined ? undefined : typeof o.range_end === 'string' ? Buffer.from(o.range_end) : Buffer.from(o.range_end);
  return { key, range_end, from: o.start_revision ?? created + 1, prev_kv: o.prev_kv, filters: o.filters };
}
