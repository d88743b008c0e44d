// etcd's KV service on a member: Range, Put, DeleteRange, Txn and Compact. Writes are proposals; reads answer from
// local state, serializable at once, linearizable after a ReadIndex round and the apply (reads.ts). For a client that
// takes encoded responses (the binary front end), scans and read-only txns are evaluated by a worker thread when the
// member has any, and the worker's bytes go to the socket unchanged.

import type { AuthInfo } from '../auth/index.js';
import { WORKER_POINT_READS_INLINE } from '../config/index.js';
import { isReadOnlyTxn, isSerializableTxn, MvccTxn, range, type MvccState } from '../mvcc/index.js';
import type {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../proto/index.js';
import { readPersistedState, type Storage } from '../storage/index.js';
import type { HeaderSource } from './ports.js';
import type { Proposals } from './proposals.js';
import { EncodedResponse, isPointRead, ReadPool, type WorkerReadMethod } from './read-pool.js';
import type { LinearizableReads } from './reads.js';
import { countTxn, type ServerStats } from './stats.js';

export interface KvPorts {
  readonly storage: Storage;
  /** null when every acknowledged write is published, else when it will be (see Applier.visible) */
  visible(): Promise<void> | null;
  readonly stats: ServerStats;
  readonly proposals: Proposals;
  readonly reads: LinearizableReads;
  /** worker threads for reads (null with --worker-threads 0) */
  readonly readPool: ReadPool | null;
  header: HeaderSource;
  /** throws etcd's error when the member cannot serve (stopped) */
  assertServing(): void;
}

export class KvService {
  constructor(private readonly ports: KvPorts) {}

  /** Serializable reads answer from local state; linearizable ones wait for a ReadIndex round and the apply. */
  range(req: RangeRequest): RangeResponse | Promise<RangeResponse> {
    this.ports.assertServing();
    this.ports.stats.ranges++;
    if (req.serializable) return this.serializable(() => this.rangeLocal(req));
    return this.ports.reads.read(() => this.rangeLocal(req));
  }

  /**
   * A range for a client that takes responses as encoded bytes (the binary front end): evaluated by a worker thread
   * when there are any (serializable at once, linearizable after the ReadIndex wait), else here. `body` is the request
   * as the client sent it, msgpack {method, request}, so that the worker needs no re-encoded copy.
   */
  rangeForClient(req: RangeRequest, body?: Uint8Array): RangeResponse | Promise<RangeResponse | EncodedResponse> {
    const { ports } = this;
    ports.assertServing();
    // A single-key read costs a couple of microseconds here, less than the two cross-thread wake-ups of a trip
    // through a worker, so only scans go to the workers (BENCHMARKS.md, "Worker threads").
    if (ports.readPool === null || (WORKER_POINT_READS_INLINE && isPointRead(req))) return this.range(req);
    ports.stats.ranges++;
    const inWorker = this.inWorker(ports.readPool, 'Range', req, body, () => this.rangeLocal(req));
    if (req.serializable) return this.serializable(inWorker) as Promise<RangeResponse | EncodedResponse>;
    return ports.reads.read(inWorker) as unknown as Promise<RangeResponse | EncodedResponse>;
  }

  /** A txn for a client that takes encoded responses: one without writes is evaluated as rangeForClient's reads are. */
  txnForClient(req: TxnRequest, body: Uint8Array | undefined, caller: AuthInfo): TxnResponse | EncodedResponse | Promise<TxnResponse | EncodedResponse> {
    const { ports } = this;
    if (ports.readPool === null || !isReadOnlyTxn(req)) return this.txn(req, caller);
    ports.assertServing();
    // counted without its branch's ranges: the worker's answer is not decoded here
    ports.stats.txns++;
    const inWorker = this.inWorker(ports.readPool, 'Txn', req, body, () => this.txnReadOnly(req).response);
    return isSerializableTxn(req) ? this.serializable(inWorker) : (ports.reads.read(inWorker) as unknown as Promise<TxnResponse | EncodedResponse>);
  }

  /**
   * The revisions as recorded in the read snapshot this turn's reads see, as a worker thread takes them. Not the
   * published state: lmdb-js's writer thread commits on its own, and this thread's snapshot may already hold a commit
   * whose publication has not run yet; the data and its revision must come from the same snapshot.
   */
  private snapshotState(): Readonly<MvccState> {
    // the record's bytes decide whether the decoded state is still the snapshot's (a copy: lmdb-js's fast view of a
    // msgpack table's record cannot be copied or compared safely)
    const raw = this.ports.storage.meta.getBinary('state');
    if (raw !== undefined && this.cachedRaw !== null && raw.equals(this.cachedRaw)) return this.cachedState;
    this.cachedRaw = raw ?? null;
    const s = readPersistedState(this.ports.storage.meta);
    this.cachedState = { revision: s.revision, compactRevision: s.compactRevision };
    return this.cachedState;
  }

  private cachedRaw: Buffer | null = null;
  private cachedState: MvccState = { revision: 0, compactRevision: -1 };

  /** A serializable read runs at once, or once every write acknowledged before it is published (read your writes). */
  private serializable<T>(run: () => T | Promise<T>): T | Promise<T> {
    const wait = this.ports.visible();
    if (wait === null) return run();
    return wait.then(() => {
      this.ports.assertServing();
      return run();
    });
  }

  private inWorker<T>(pool: ReadPool, method: WorkerReadMethod, req: unknown, body: Uint8Array | undefined, local: () => T): () => Promise<T | EncodedResponse> {
    return () => pool.read(method, body ?? ReadPool.encodeRequest(method, req)).then((encoded) => encoded ?? local());
  }

  private rangeLocal(req: RangeRequest): RangeResponse {
    const r = range(this.ports.storage, this.snapshotState(), req);
    return { header: this.ports.header(r.revision), kvs: r.kvs, more: r.more, count: r.count };
  }

  /** Writes carry their caller into the log (`caller`: anonymous too), checked against the auth store at apply. */
  put(req: PutRequest, caller: AuthInfo): Promise<PutResponse> {
    return this.ports.proposals.propose('Put', req, false, caller) as Promise<PutResponse>;
  }

  deleteRange(req: DeleteRangeRequest, caller: AuthInfo): Promise<DeleteRangeResponse> {
    return this.ports.proposals.propose('DeleteRange', req, false, caller) as Promise<DeleteRangeResponse>;
  }

  /**
   * A txn without writes is a read (serializable when all its ranges are; its permissions are checked by the
   * caller of this, before it runs); one with writes is a proposal, checked at apply.
   */
  txn(req: TxnRequest, caller: AuthInfo): Promise<TxnResponse> | TxnResponse {
    const { ports } = this;
    if (isReadOnlyTxn(req)) {
      ports.assertServing();
      const evaluate = (): TxnResponse => {
        const { response, result } = this.txnReadOnly(req);
        countTxn(req, result, ports.stats);
        return response;
      };
      return isSerializableTxn(req) ? this.serializable(evaluate) : ports.reads.read(evaluate);
    }
    return ports.proposals.propose('Txn', req, false, caller) as Promise<TxnResponse>;
  }

  private txnReadOnly(req: TxnRequest): { response: TxnResponse; result: TxnResponse } {
    const r = new MvccTxn(this.ports.storage, { ...this.snapshotState() }, undefined, true).txn(req);
    return { response: { header: this.ports.header(r.header.revision), succeeded: r.succeeded, responses: r.responses }, result: r };
  }

  compact(req: CompactionRequest, caller: AuthInfo): Promise<CompactionResponse> {
    return this.ports.proposals.propose('Compact', req, req.physical === true, caller) as Promise<CompactionResponse>;
  }
}
