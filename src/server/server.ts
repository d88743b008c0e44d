// EtcdServer: one member. Owns the write path (propose -> persist -> commit -> apply -> respond), the read path,
// compaction scheduling and status. Front ends call it with typed requests and get typed responses or EtcdErrors.
//
// The driver's order for each batch of proposals, asserted below:
//   1. persist: the batch's entries are appended to the log in one asynchronous LMDB write and awaited to `flushed`
//   2. commit: with one member the commit rule is "durable on this member" (the Raft release replaces this step)
//   3. apply: committed entries are applied in log order in one synchronous LMDB transaction that also stores the
//      applied index, so a crash never applies an entry twice nor loses one
//   4. respond: waiters resolve only after 3, so every acknowledged write is durable (via the log) and visible.
// Reads see only applied state, which is always durable through the log.

import { monotonicNow } from './clock.js';
import type { Config } from '../config/index.js';
import { etcdError, EtcdError } from '../errors/index.js';
import {
  decodeCompaction,
  decodeDeleteRange,
  decodePut,
  decodeTxn,
  packr,
  unpackr,
  type CompactionRequest,
  type CompactionResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
} from '../proto/index.js';
import {
  COMPACTION_START,
  compactLogical,
  isReadOnlyTxn,
  MvccTxn,
  planCompactionChunk,
  range,
  type CompactionCursor,
  type MvccEvent,
  type MvccState,
} from '../mvcc/index.js';
import { databaseSize, INITIAL_STATE, logIndexOf, logKey, readPersistedState, type PersistedState, type Storage } from '../storage/index.js';
import { computeClusterId, computeMemberId, parseInitialCluster } from './identity.js';

export const SERVER_VERSION = '3.4.0';

type WriteMethod = 'Put' | 'DeleteRange' | 'Txn' | 'Compact';

interface Entry {
  index: number;
  term: number;
  /** proposal id on the proposing member; 0 for entries nobody waits on */
  id: number;
  method: WriteMethod;
  request: unknown;
}

interface Waiter {
  resolve(response: unknown): void;
  reject(err: Error): void;
  proposedAt: number;
  /** Compact with physical=true: respond once history below the revision is gone */
  physical?: boolean;
}

interface Identity {
  cluster_id: string;
  member_id: string;
  name: string;
}

export interface ServerEvents {
  /** called after each applied batch with the events it produced (watch hub hook) */
  onApplied?: (events: MvccEvent[], revision: number) => void;
}

export class EtcdServer {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  private term: number;
  private readonly state: MvccState;
  private applied: number;
  private lastIndex: number;
  private firstIndex: number;
  private compactedPhysically: number;
  private nextProposalId = 1;
  private readonly waiters = new Map<number, Waiter>();
  private pending: { entry: Omit<Entry, 'index' | 'term'>; bytes: number }[] = [];
  private pendingScheduled = false;
  /** batches persisted or persisting but not applied; applies run strictly in log order on this chain */
  private applyChain: Promise<void> = Promise.resolve();
  private batchesInFlight = 0;
  private stopped = false;
  private fatal: Error | null = null;
  private compaction: { revision: number; cursor: CompactionCursor; running: boolean } | null = null;
  private physicalWaiters: { revision: number; resolve: () => void }[] = [];
  private readonly timeoutSweep: NodeJS.Timeout;

  private constructor(
    readonly config: Config,
    private readonly storage: Storage,
    identity: Identity,
    persisted: PersistedState,
    term: number,
    private readonly events: ServerEvents,
  ) {
    this.clusterId = BigInt(identity.cluster_id);
    this.memberId = BigInt(identity.member_id);
    this.term = term;
    this.state = { revision: persisted.revision, compactRevision: persisted.compactRevision };
    this.applied = persisted.applied;
    this.compactedPhysically = persisted.compactedPhysically;
    this.lastIndex = lastLogIndex(storage) ?? persisted.applied;
    this.firstIndex = firstLogIndex(storage) ?? persisted.applied + 1;
    this.timeoutSweep = setInterval(() => this.expireWaiters(), 250);
    this.timeoutSweep.unref();
  }

  /** Opens a member on its storage: loads or creates identity, recovers the log, takes a new term. */
  static async start(config: Config, storage: Storage, events: ServerEvents = {}): Promise<EtcdServer> {
    let identity = storage.meta.get('identity') as Identity | undefined;
    if (identity === undefined) {
      const members = parseInitialCluster(config.initialCluster);
      const self = members.find((m) => m.name === config.name);
      if (self === undefined) {
        throw new Error(`couldn't find local name "${config.name}" in the initial cluster configuration`);
      }
      const advertised = [...config.initialAdvertisePeerUrls].sort().join(',');
      if ([...self.peerUrls].sort().join(',') !== advertised) {
        throw new Error(
          `--initial-cluster has ${config.name}=${self.peerUrls.join(',')} but missing from --initial-advertise-peer-urls=${config.initialAdvertisePeerUrls.join(',')}`,
        );
      }
      if (members.length !== 1) {
        throw new Error(`--initial-cluster lists ${members.length} members; this release of etcd-ts runs single-member clusters only`);
      }
      const memberId = computeMemberId(self.peerUrls, config.initialClusterToken);
      identity = {
        cluster_id: computeClusterId([memberId]).toString(),
        member_id: memberId.toString(),
        name: config.name,
      };
    }
    const persisted: PersistedState = { ...readPersistedState(storage.meta) };
    // A single member elects itself: one new term per start, as etcd's raft does (the first term after bootstrap is 2).
    const hardState = (storage.meta.get('hardstate') as { term: number } | undefined) ?? { term: 1 };
    const term = hardState.term + 1;
    await storage.meta.transaction(() => {
      storage.meta.put('identity', identity);
      storage.meta.put('hardstate', { term });
      if (storage.meta.get('state') === undefined) storage.meta.put('state', INITIAL_STATE);
    });
    await storage.meta.flushed;
    const server = new EtcdServer(config, storage, identity, persisted, term, events);
    server.recover();
    return server;
  }

  // ---- header and status ----------------------------------------------------------------------------------

  header(revision = this.state.revision): ResponseHeader {
    return { cluster_id: this.clusterId, member_id: this.memberId, revision, raft_term: this.term };
  }

  get revision(): number {
    return this.state.revision;
  }

  get compactRevision(): number {
    return this.state.compactRevision;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  status(): StatusResponse {
    const size = databaseSize(this.storage);
    return {
      header: this.header(),
      version: SERVER_VERSION,
      dbSize: size.size,
      leader: this.memberId,
      raftIndex: this.lastIndex,
      raftTerm: this.term,
      raftAppliedIndex: this.applied,
      errors: [],
      dbSizeInUse: size.inUse,
      isLearner: false,
    };
  }

  // ---- reads ------------------------------------------------------------------------------------------------

  /**
   * Linearizable and serializable reads are the same with one member: every acknowledged write was applied before
   * its acknowledgement, and applied state is durable. (The Raft release adds the ReadIndex wait here.)
   */
  range(req: RangeRequest): RangeResponse {
    this.assertServing();
    const r = range(this.storage, this.state, req);
    return { header: this.header(r.revision), kvs: r.kvs, more: r.more, count: r.count };
  }

  // ---- writes -----------------------------------------------------------------------------------------------

  put(req: PutRequest): Promise<PutResponse> {
    return this.propose('Put', req) as Promise<PutResponse>;
  }

  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.propose('DeleteRange', req) as Promise<DeleteRangeResponse>;
  }

  txn(req: TxnRequest): Promise<TxnResponse> | TxnResponse {
    if (isReadOnlyTxn(req)) {
      this.assertServing();
      const txn = new MvccTxn(this.storage, { ...this.state }, undefined, true);
      const r = txn.txn(req);
      return { header: this.header(r.header.revision), succeeded: r.succeeded, responses: r.responses };
    }
    return this.propose('Txn', req) as Promise<TxnResponse>;
  }

  compact(req: CompactionRequest): Promise<CompactionResponse> {
    return this.propose('Compact', req, req.physical === true) as Promise<CompactionResponse>;
  }

  private sizeCache = { bytes: 0, at: -Infinity };
  /** Database file size, sampled at most every 100 ms (a stat per request would cost more than the put). */
  private backendBytes(): number {
    const now = monotonicNow();
    if (now - this.sizeCache.at > 100) this.sizeCache = { bytes: databaseSize(this.storage).size, at: now };
    return this.sizeCache.bytes;
  }

  private assertServing(): void {
    if (this.fatal !== null || this.stopped) throw etcdError('Stopped');
  }

  private propose(method: WriteMethod, request: unknown, physical = false): Promise<unknown> {
    try {
      this.assertServing();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.waiters.size >= this.config.limits.proposalsPendingMax) return Promise.reject(etcdError('TooManyRequests'));
    // etcd's quota applier: once the backend is over quota, requests that add data fail; deletes and compaction
    // still go through so an operator can free space.
    if ((method === 'Put' || (method === 'Txn' && txnHasPut(request as TxnRequest))) && this.backendBytes() > this.config.limits.backendQuotaBytes) {
      return Promise.reject(etcdError('NoSpace'));
    }
    const id = this.nextProposalId++;
    const entry = { id, method, request };
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve, reject, proposedAt: monotonicNow(), physical });
      this.pending.push({ entry, bytes: 0 });
      if (!this.pendingScheduled) {
        this.pendingScheduled = true;
        setImmediate(() => this.persistPending());
      }
    });
  }

  /** Step 1: append everything proposed in this event-loop turn to the log as one LMDB write, then chain the apply. */
  private persistPending(): void {
    this.pendingScheduled = false;
    if (this.pending.length === 0 || this.stopped) return;
    const limits = this.config.limits;
    const batch: Entry[] = [];
    let bytes = 0;
    let taken = 0;
    for (const p of this.pending) {
      if (batch.length >= limits.proposalBatchEntriesMax || (batch.length > 0 && bytes >= limits.proposalBatchBytesMax)) break;
      const entry: Entry = { ...p.entry, index: this.lastIndex + 1, term: this.term };
      const encoded = Buffer.from(packr.pack([entry.term, entry.id, entry.method, entry.request]));
      this.storage.log.put(logKey(entry.index), encoded);
      this.lastIndex = entry.index;
      bytes += encoded.length;
      batch.push(entry);
      taken++;
    }
    this.pending = this.pending.slice(taken);
    if (this.pending.length > 0) {
      this.pendingScheduled = true;
      setImmediate(() => this.persistPending());
    }
    const durable = this.storage.log.flushed;
    this.batchesInFlight++;
    this.applyChain = this.applyChain
      .then(() => durable)
      .then(() => {
        // Step 2: committed (single member: durable locally). Step 3: apply.
        this.applyEntries(batch);
      })
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        this.batchesInFlight--;
      });
  }

  /** Replays log entries that were persisted but not applied before the last stop or crash. */
  private recover(): void {
    if (this.lastIndex <= this.applied) return;
    const entries: Entry[] = [];
    for (const { key, value } of this.storage.log.getRange({ start: logKey(this.applied + 1) })) {
      entries.push(decodeEntry(logIndexOf(key), value));
    }
    for (let i = 0; i < entries.length; i += this.config.limits.proposalBatchEntriesMax) {
      this.applyEntries(entries.slice(i, i + this.config.limits.proposalBatchEntriesMax));
    }
    this.resumePhysicalCompaction();
  }

  /** Step 3 and 4: one LMDB transaction for the batch and the applied index, then the waiters. */
  private applyEntries(batch: Entry[]): void {
    if (batch.length === 0) return;
    if (batch[0]!.index !== this.applied + 1) {
      throw new Error(`assertion failed: applying index ${batch[0]!.index} after applied ${this.applied}`);
    }
    const results: { id: number; ok: boolean; value: unknown; physical?: number }[] = [];
    const events: MvccEvent[] = [];
    const state = this.state;
    const before = { ...state };
    try {
      this.storage.env.transactionSync(() => {
        for (const entry of batch) {
          const result = this.applyEntry(entry, events);
          // Only entries proposed in this term by this process have waiters (ids restart with the process).
          results.push({ id: entry.term === this.term ? entry.id : 0, ...result });
          this.applied = entry.index;
        }
        this.storage.meta.putSync('state', {
          applied: this.applied,
          revision: state.revision,
          compactRevision: state.compactRevision,
          compactedPhysically: this.compactedPhysically,
        } satisfies PersistedState);
      });
    } catch (err) {
      // A failure here is a broken invariant or a disk error: the transaction was aborted, so undo the in-memory
      // state and stop serving; the log still holds every entry for the next start.
      Object.assign(state, before);
      this.applied = batch[0]!.index - 1;
      throw err;
    }
    this.trimLog();
    if (events.length > 0) this.events.onApplied?.(events, state.revision);
    for (const r of results) {
      const waiter = this.waiters.get(r.id);
      if (waiter === undefined) continue; // proposed before a restart, or timed out
      this.waiters.delete(r.id);
      if (!r.ok) waiter.reject(r.value as Error);
      else if (r.physical !== undefined && waiter.physical) {
        const revision = r.physical;
        this.physicalWaiters.push({ revision, resolve: () => waiter.resolve(r.value) });
      } else waiter.resolve(r.value);
    }
    if (this.state.compactRevision > this.compactedPhysically) this.resumePhysicalCompaction();
    else this.releasePhysicalWaiters();
  }

  private applyEntry(entry: Entry, events: MvccEvent[]): { ok: boolean; value: unknown; physical?: number } {
    const txn = new MvccTxn(this.storage, this.state);
    try {
      let response: unknown;
      switch (entry.method) {
        case 'Put': {
          const req = decodePut(entry.request);
          txn.checkPut(req, true);
          const r = txn.put(req);
          response = { ...r, header: this.header(r.header.revision) };
          break;
        }
        case 'DeleteRange': {
          const r = txn.deleteRange(decodeDeleteRange(entry.request));
          response = { ...r, header: this.header(r.header.revision) };
          break;
        }
        case 'Txn': {
          const r = txn.txn(decodeTxn(entry.request));
          response = { ...r, header: this.header(r.header.revision) };
          break;
        }
        case 'Compact': {
          const req = decodeCompaction(entry.request);
          compactLogical(this.state, req.revision);
          return { ok: true, value: { header: this.header() }, physical: req.revision };
        }
        default:
          throw new Error(`assertion failed: unknown entry method ${String(entry.method)}`);
      }
      txn.end();
      events.push(...txn.events);
      return { ok: true, value: response };
    } catch (err) {
      if (err instanceof EtcdError && !txn.changed) return { ok: false, value: err };
      throw err;
    }
  }

  /** Keeps the last `logEntriesRetained` applied entries (the Raft release replaces this with snapshots). */
  private trimLog(): void {
    const keep = this.config.limits.logEntriesRetained;
    const trimTo = this.applied - keep; // remove indexes < trimTo
    if (trimTo - this.firstIndex < Math.max(1024, keep / 4)) return;
    const upTo = Math.min(trimTo, this.firstIndex + this.config.limits.compactionBatchKeysMax * 4);
    for (let i = this.firstIndex; i < upTo; i++) this.storage.log.remove(logKey(i));
    this.firstIndex = upTo;
  }

  // ---- physical compaction ----------------------------------------------------------------------------------

  private resumePhysicalCompaction(): void {
    const target = this.state.compactRevision;
    if (target <= this.compactedPhysically) return;
    if (this.compaction === null || this.compaction.revision !== target) {
      // A newer compaction restarts the scan; everything the older one would have removed is removed by it too.
      this.compaction = { revision: target, cursor: COMPACTION_START, running: this.compaction?.running ?? false };
    }
    if (this.compaction.running) return;
    this.compaction.running = true;
    setImmediate(() => this.compactionStep());
  }

  private compactionStep(): void {
    const job = this.compaction;
    if (job === null || this.stopped) return;
    try {
      const chunk = planCompactionChunk(this.storage, job.revision, job.cursor, this.config.limits.compactionBatchKeysMax);
      if (chunk.remove.length > 0) {
        this.storage.env.transactionSync(() => {
          for (const key of chunk.remove) this.storage.history.removeSync(key);
        });
      }
      if (this.compaction !== job) {
        // superseded by a newer compaction while planning
        job.running = false;
        this.compaction!.running = true;
        setImmediate(() => this.compactionStep());
        return;
      }
      if (chunk.next !== null) {
        job.cursor = chunk.next;
        setImmediate(() => this.compactionStep());
        return;
      }
      this.compactedPhysically = job.revision;
      this.storage.meta.putSync('state', {
        applied: this.applied,
        revision: this.state.revision,
        compactRevision: this.state.compactRevision,
        compactedPhysically: this.compactedPhysically,
      } satisfies PersistedState);
      this.compaction = null;
      this.releasePhysicalWaiters();
      if (this.state.compactRevision > this.compactedPhysically) this.resumePhysicalCompaction();
    } catch (err) {
      this.fail(err);
    }
  }

  private releasePhysicalWaiters(): void {
    if (this.physicalWaiters.length === 0) return;
    const ready = this.physicalWaiters.filter((w) => w.revision <= this.compactedPhysically);
    this.physicalWaiters = this.physicalWaiters.filter((w) => w.revision > this.compactedPhysically);
    for (const w of ready) w.resolve();
  }

  // ---- lifecycle --------------------------------------------------------------------------------------------

  private expireWaiters(): void {
    const deadline = monotonicNow() - this.config.limits.requestTimeoutMs;
    for (const [id, waiter] of this.waiters) {
      if (waiter.proposedAt > deadline) break; // insertion order = proposal order
      this.waiters.delete(id);
      waiter.reject(etcdError('Timeout'));
    }
  }

  private fail(err: unknown): void {
    if (this.fatal !== null) return;
    this.fatal = err instanceof Error ? err : new Error(String(err));
    process.emitWarning(`etcd-ts: member stopped serving after a storage failure: ${this.fatal.stack ?? this.fatal.message}`);
    for (const w of this.waiters.values()) w.reject(etcdError('Stopped'));
    this.waiters.clear();
  }

  get failure(): Error | null {
    return this.fatal;
  }

  /** Stops accepting requests, finishes every batch already persisted, and leaves storage to its owner. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timeoutSweep);
    await this.applyChain;
    for (const w of this.waiters.values()) w.reject(etcdError('Stopped'));
    this.waiters.clear();
    for (const w of this.physicalWaiters) w.resolve();
    this.physicalWaiters = [];
    await this.storage.env.flushed;
  }
}

function txnHasPut(req: TxnRequest): boolean {
  return [...(req.success ?? []), ...(req.failure ?? [])].some((op) => op.request_put !== undefined || (op.request_txn !== undefined && txnHasPut(op.request_txn)));
}

function decodeEntry(index: number, bytes: Buffer): Entry {
  const [term, id, method, request] = unpackr.unpack(bytes) as [number, number, WriteMethod, unknown];
  return { index, term, id, method, request };
}

function lastLogIndex(storage: Storage): number | undefined {
  for (const key of storage.log.getKeys({ reverse: true, limit: 1 })) return logIndexOf(key);
  return undefined;
}

function firstLogIndex(storage: Storage): number | undefined {
  for (const key of storage.log.getKeys({ limit: 1 })) return logIndexOf(key);
  return undefined;
}
