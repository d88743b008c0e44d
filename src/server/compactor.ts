// Physical compaction: after a logical compaction at apply (mvcc/compact.ts moves the compacted revision), the history
// it made unreachable is removed in bounded steps (src/mvcc's compactionStep: at most --experimental-compaction-batch-
// limit keys per write transaction), one step per event-loop turn, so applies never wait long for LMDB's write lock.
//
// With --worker-threads > 0 each step runs in a thread of a small pool of its own (workers/compact-worker.ts; the
// range-read pool's threads each run one endless task, so its `run` is not free for this), and the main thread only
// sends the position and receives the next one. With --worker-threads 0 the same step runs on the main thread.
//
// Semantics, whichever thread runs the steps:
// - A newer compacted revision supersedes the one in progress: the scan restarts from the beginning for it (all the
//   older one would remove, it removes too). A step already running for the older one finishes harmlessly.
// - A snapshot install replaces the key space and bumps the storage generation in its transaction: a step of a
//   compaction started under the older generation checks it inside its own write transaction and deletes nothing.
// - Completion is reported (persist `compactedPhysically`, release physical waiters) only once every step is done.
// - A failed step (its worker died or was terminated) is run again from the same position on a fresh thread: a step is
//   idempotent. COMPACTION_STEP_ATTEMPTS_MAX failures in a row are a storage failure and stop the member.
// - After a restart the host resumes from its persisted state: the scan starts over, which is safe for the same reason.
// - close() lets the step in flight finish (one bounded batch), then ends the pool; nothing more starts.
//
// Observability: diagnostics channel `etcd-ts:compaction` gets { event: 'step' | 'retry' | 'done', revision, ... }.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import diagnostics from 'node:diagnostics_channel';
import { Piscina } from 'piscina';
import { COMPACTION_STEP_ATTEMPTS_MAX, COMPACTION_WORKER_IDLE_MS } from '../config/limits.js';
import { WORKER_EXEC_ARGV } from '../ring/index.js';
import {
  COMPACTION_BEGIN,
  compactionStep,
  positionFromWire,
  positionToWire,
  type CompactionPosition,
  type CompactionStepResult,
  type CompactionTables,
} from '../mvcc/index.js';
import { readStorageGeneration, type Storage } from '../storage/index.js';
import type { CompactionTask, CompactionTaskResult } from './compaction-task.js';

const workerFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../workers/compact-worker.js');

/** Atomics.waitAsync (Node 16+; not in TypeScript's ES2022 lib). */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number): { value: Promise<string> | string } }).waitAsync;

export const compactionChannel = diagnostics.channel('etcd-ts:compaction');

export type CompactionMessage =
  | { event: 'step'; revision: number; removed: number; phase: CompactionPosition['phase'] }
  | { event: 'retry'; revision: number; attempt: number; error: Error }
  | { event: 'done'; revision: number };

/** What the compactor needs from the member. */
export interface CompactionHost {
  /** the store's compacted revision: what physical compaction works toward */
  compactRevision(): number;
  /** the revision whose physical compaction has completed (persisted) */
  compactedPhysically(): number;
  /** every step for `revision` is done: persist it and release whoever waits for it */
  completed(revision: number): Promise<void> | void;
  /** a step keeps failing: the member cannot go on */
  fail(err: Error): void;
}

/** Runs one compaction step somewhere: on the main thread or in a worker thread. */
export interface CompactionStepRunner {
  run(revision: number, position: CompactionPosition): Promise<CompactionStepResult>;
  /** called after a failed step: the next one should use a fresh thread */
  replace(): Promise<void>;
  close(): Promise<void>;
}

/** --worker-threads 0: the step runs on the main thread, between other event-loop turns. */
export class MainThreadSteps implements CompactionStepRunner {
  private readonly tables: CompactionTables;
  constructor(
    storage: Pick<Storage, 'env' | 'meta' | 'latest' | 'history' | 'keyindex'>,
    private readonly batchKeysMax: number,
  ) {
    this.tables = compactionTables(storage);
  }

  async run(revision: number, position: CompactionPosition): Promise<CompactionStepResult> {
    return compactionStep(this.tables, revision, position, this.batchKeysMax);
  }

  async replace(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The tables a compaction step works on, with the storage generation read from meta (the same in every thread). */
export function compactionTables(storage: Pick<Storage, 'env' | 'meta' | 'latest' | 'history' | 'keyindex'>): CompactionTables {
  const { env, meta, latest, history, keyindex } = storage;
  return { env, latest, history, keyindex, storageGeneration: () => readStorageGeneration(meta) };
}

/** One compaction thread, started at the first step and replaced after a failed one. */
export class WorkerThreadSteps implements CompactionStepRunner {
  private pool: Piscina | null = null;
  /** threads started (the first included) */
  threadsStarted = 0;
  private killNextStep: ((killed: Promise<void>) => void) | null = null;

  constructor(
    private readonly dbPath: string,
    private readonly batchKeysMax: number,
  ) {}

  private ensurePool(): Piscina {
    if (this.pool !== null) return this.pool;
    // atomics disabled: an idle worker keeps its event loop, so nothing parks it holding a stale read snapshot.
    // The thread ends COMPACTION_WORKER_IDLE_MS after its last step (a compaction's steps follow each other closely)
    // and the next step starts one again: an idle member does not keep an isolate for the next compaction.
    const pool = new Piscina({ filename: workerFile, minThreads: 0, maxThreads: 1, idleTimeout: COMPACTION_WORKER_IDLE_MS, atomics: 'disabled', execArgv: [...WORKER_EXEC_ARGV] });
    // A worker that dies between tasks is reported here rather than to a task; the next task gets a fresh thread.
    pool.on('error', () => {});
    this.pool = pool;
    this.threadsStarted++;
    return pool;
  }

  async run(revision: number, position: CompactionPosition): Promise<CompactionStepResult> {
    const task: CompactionTask = { dbPath: this.dbPath, revision, position: positionToWire(position), batchKeysMax: this.batchKeysMax };
    const pool = this.ensurePool();
    if (this.killNextStep !== null) this.killDuring(task, pool, this.killNextStep);
    this.killNextStep = null;
    const result = (await pool.run(task)) as CompactionTaskResult;
    const step: CompactionStepResult = { removed: result.removed, next: result.next === null ? null : positionFromWire(result.next) };
    if (result.stale === true) step.stale = true;
    return step;
  }

  async replace(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.destroy().catch(() => {});
  }

  /**
   * Fault hook for tests: the next step's thread is terminated as if it had crashed, after that step's deletes have
   * committed and before its result comes back (the worst moment: the step is lost but its effect is not). Resolves
   * once the thread is gone.
   */
  killDuringNextStepForTest(): Promise<void> {
    return new Promise((resolve) => (this.killNextStep = (killed) => void killed.then(resolve, resolve)));
  }

  private killDuring(task: CompactionTask, pool: Piscina, done: (killed: Promise<void>) => void): void {
    const flags = new Int32Array(new SharedArrayBuffer(8));
    task.stallAfterDeletesForTest = flags.buffer as SharedArrayBuffer;
    done(
      (async () => {
        await waitAsync(flags, 0, 0).value;
        await Promise.all(pool.threads.map((thread) => thread.terminate()));
      })(),
    );
  }

  async close(): Promise<void> {
    await this.replace();
  }
}

export class Compactor {
  /** bumped when the data under the scan is replaced (dataReplaced) */
  private generation = 0;
  private job: { revision: number; position: CompactionPosition } | null = null;
  private loop: Promise<void> | null = null;
  private closed = false;
  private failed = false;
  private hold: { promise: Promise<void>; release(): void } | null = null;
  readonly stats = { steps: 0, removed: 0, failures: 0, completed: 0, stale: 0 };

  constructor(
    private readonly host: CompactionHost,
    readonly runner: CompactionStepRunner,
  ) {}

  /** Called after every apply (the first apply after a restart resumes from persisted state): starts, or redirects to a newer revision. */
  resume(): void {
    if (this.closed || this.failed) return;
    const target = this.host.compactRevision();
    if (target <= this.host.compactedPhysically()) return;
    // A newer compaction restarts the scan; everything the older one would have removed is removed by it too.
    if (this.job === null || this.job.revision !== target) this.job = { revision: target, position: COMPACTION_BEGIN };
    this.loop ??= this.run();
  }

  /**
   * The data under the scan was replaced (a snapshot was installed): a cursor into the old data means nothing there
   * (it may hold a key's tombstone whose older versions the new data still has), so the job starts again; a step in
   * flight is not trusted either.
   */
  dataReplaced(): void {
    this.generation++;
    if (this.job !== null) this.job = { revision: this.job.revision, position: COMPACTION_BEGIN };
  }

  get running(): boolean {
    return this.loop !== null;
  }

  private async run(): Promise<void> {
    try {
      await this.steps();
    } catch (err) {
      // e.g. persisting the completion failed: a storage failure stops the member, as on the main thread
      this.failed = true;
      this.host.fail(err instanceof Error ? err : new Error(String(err)));
    } finally {
      // synchronously with the loop's last step, so a resume() right after starts a new loop
      this.loop = null;
    }
  }

  private async steps(): Promise<void> {
    let attempt = 0;
    for (;;) {
      // one step per event-loop turn: a step on the main thread completes synchronously
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.hold !== null) await this.hold.promise;
      const job = this.job;
      if (job === null || this.closed) return;
      let step: CompactionStepResult;
      const generation = this.generation;
      try {
        step = await this.runner.run(job.revision, job.position);
        attempt = 0;
      } catch (err) {
        if (this.closed) return;
        const error = err instanceof Error ? err : new Error(String(err));
        this.stats.failures++;
        attempt++;
        if (attempt >= COMPACTION_STEP_ATTEMPTS_MAX) {
          this.failed = true;
          this.job = null;
          this.host.fail(new Error(`physical compaction at revision ${job.revision} failed ${attempt} times: ${error.message}`, { cause: error }));
          return;
        }
        if (compactionChannel.hasSubscribers) compactionChannel.publish({ event: 'retry', revision: job.revision, attempt, error } satisfies CompactionMessage);
        await this.runner.replace();
        continue; // the same position again (or a newer job's start)
      }
      this.stats.steps++;
      this.stats.removed += step.removed;
      // a stale step (the key space was replaced since the compaction started) deleted nothing; its next position
      // starts the compaction over on the new data
      if (step.stale === true) this.stats.stale++;
      if (compactionChannel.hasSubscribers) {
        compactionChannel.publish({ event: 'step', revision: job.revision, removed: step.removed, phase: job.position.phase } satisfies CompactionMessage);
      }
      if (this.closed) return;
      if (this.job !== job) continue; // superseded while the step ran: the newer job starts from the beginning
      if (this.generation !== generation) continue; // the data was replaced meanwhile: dataReplaced() restarted it
      if (step.next !== null) {
        job.position = step.next;
        continue;
      }
      this.job = null;
      this.stats.completed++;
      await this.host.completed(job.revision);
      if (compactionChannel.hasSubscribers) compactionChannel.publish({ event: 'done', revision: job.revision } satisfies CompactionMessage);
      // a compaction applied meanwhile (its resume() found this one running) starts now
      const target = this.host.compactRevision();
      if (target > this.host.compactedPhysically() && !this.closed) this.job = { revision: target, position: COMPACTION_BEGIN };
    }
  }

  /** Fault hook for tests: no further step starts until the returned function is called (or close()). */
  holdForTest(): () => void {
    let release = (): void => {};
    const promise = new Promise<void>((resolve) => (release = resolve));
    const hold = {
      promise,
      release: () => {
        if (this.hold === hold) this.hold = null;
        release();
      },
    };
    this.hold = hold;
    return hold.release;
  }

  /** Stops: the step in flight finishes (one bounded batch), then the runner's thread ends. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hold?.release();
    await this.loop;
    await this.runner.close();
  }
}
