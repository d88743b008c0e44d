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
 * once the loop ends, however it ends (a failure is reported as a process warning first); a drain that fails (a corrupt reply ring: this worker's answers cannot be
 * trusted) stops the worker with the empty stop message, so `ended` follows and can replace it.
 */
export function superviseRingWorker(slot: RingWorkerSlot, loop: Promise<unknown>, drain: Promise<void>, ended: () => void): void {
  loop.then(ended, (err: unknown) => {
    // never silent: a loop that threw (a broken invariant in the worker, a read it could not survive) is reported
    // before the worker is replaced
    process.emitWarning(`etcd-ts: a worker thread's loop failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    ended();
  });
  drain.catch(() => {
    slot.alive = false;
    slot.requests.push(new Uint8Array(0));
  });
}
