// The only clock the server reads: monotonic milliseconds (wall-clock jumps must not expire requests).
import { performance } from 'node:perf_hooks';

export function monotonicNow(): number {
  return performance.now();
}
