// Test worker: pops every message from the request ring and pushes it back on the reply ring unchanged, blocking in
// Atomics.wait while the request ring is empty or the reply ring full. A message of length 0 stops it.

import { parentPort, workerData } from 'node:worker_threads';
import { Ring } from '../../src/ring/index.js';

const { requests, replies } = workerData as { requests: SharedArrayBuffer; replies: SharedArrayBuffer };
const inRing = new Ring(requests);
const outRing = new Ring(replies);

for (;;) {
  const m = inRing.pop();
  if (m === null) {
    inRing.waitForData(1000);
    continue;
  }
  if (m.length === 0) break;
  while (!outRing.push(m)) outRing.waitForSpace(m.length, 1000);
}
parentPort?.postMessage('done');
