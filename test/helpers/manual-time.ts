// Driving a member's ManualClock from a test: time moves only while the test waits for what the member's timers cause.

import type { ManualClock } from '../../src/clock/index.js';

/**
 * Advances `clock` in steps of `stepMs` until `p` settles, then resolves or rejects as `p` did; fails once `limitMs`
 * of manual time passed without it settling. For a test waiting on something the member's timers cause (a lease
 * expiry, a renewal, a progress notification).
 */
export async function advanceUntilSettled<T>(clock: ManualClock, p: Promise<T>, limitMs: number, stepMs = 10): Promise<T> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await clock.advanceUntil(() => settled, limitMs, stepMs);
  return p;
}

/**
 * Advances `clock` in steps of `stepMs` until `pred` holds; fails naming `what` once `limitMs` of manual time passed
 * (the manual-time counterpart of watch-checker's waitFor).
 */
export async function advanceUntilHolds(clock: ManualClock, pred: () => boolean, limitMs: number, what: () => string, stepMs = 10): Promise<void> {
  const start = clock.now();
  while (!pred()) {
    if (clock.now() - start >= limitMs) throw new Error(`timed out after ${limitMs} ms of manual time: ${what()}`);
    await clock.advance(stepMs);
  }
}
