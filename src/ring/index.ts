// SharedArrayBuffer rings between the main thread and worker threads: the ring itself (usable in any thread) and the
// main thread's supervision of a worker fed through a pair of them. Pure: no I/O; the worker entry points live in
// workers/.
export { Ring, RingFullError } from './ring.js';
export { reportWorkerFailure, superviseRingWorker, type RingWorkerSlot } from './supervise.js';
export { WORKER_EXEC_ARGV } from './worker-options.js';
