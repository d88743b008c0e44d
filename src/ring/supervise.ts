// The main thread's side of a worker fed through a pair of rings (the read pool's and the watch filter's workers):
// one way to notice that its long-running loop ended and to stop it when its replies cannot be trusted.

import type { Ring } from './ring.js';

/** One worker's side of a pair of rings, as the main thread keeps it (the read pool's and the watch filter's slots). */
export interface RingWorkerSlot {
  readonly requests: Ring;
  readonly replies: Ring;
  alive: boolean;
}

/**
 * Watches a worker's long-running loop (`loop`, e.g. a piscina task) and the main thread's reply drain: `ended` runs
 * once the loop ends, however it ends, with what it failed with (undefined when it returned); a drain that fails (a corrupt reply ring: this worker's answers cannot be
 * trusted) stops the worker with the empty stop message, so `ended` follows and can replace it.
 */
export function superviseRingWorker(slot: RingWorkerSlot, loop: Promise<unknown>, drain: Promise<void>, ended: (failure: unknown) => void): void {
  loop.then(() => ended(undefined), (err: unknown) => ended(err ?? new Error('the worker loop failed')));
  drain.catch(() => {
    slot.alive = false;
    slot.requests.push(new Uint8Array(0));
  });
}

/**
 * A worker loop that failed while its pool was serving (not one stopped by the pool's close): never silent, so a broken
 * invariant in a worker, or a read it could not survive, is seen before the worker is replaced.
 */
export function reportWorkerFailure(pool: string, failure: unknown): void {
  process.emitWarning(`etcd-ts: a ${pool} worker thread's loop failed: ${failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)}`);
}
