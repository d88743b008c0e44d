// Applying requests to the key space at the next revision: etcd's applierV3backend (Put, DeleteRange, Txn, Compact)
// over our tables. Deterministic: the same entries on the same state produce the same state on every member.
// All checks that can fail run before the first write of a request, so a failed request changes nothing.

import { etcdError, EtcdError, invariant } from '../errors/index.js';
import {
  CompareResult,
  CompareTarget,
  EventType,
  isFromKeyEnd,
  type Event,
  type Compare,
  type DeleteRangeRequest,
  type KeyValue,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  type TxnRequest,
} from '../proto/index.js';
import { decodeRecord, encodeRecord, historyKey, historyValue, keyIndexKey, keyIndexValue, recordToKeyValue, type StoredRecord } from './encoding.js';
import { getLatest, range, type MvccState, type MvccTables, type RangeResult } from './read.js';

/** Key-space mutations a txn made, in order: etcd's Event (type PUT = 0, DELETE = 1), what the watch hub sends. */
export type MvccEvent = Event;

/** What the key space needs from the lessor: whether a lease exists, and keeping each lease's key list. */
export interface LeaseLookup {
  exists(id: bigint): boolean;
  attach?(id: bigint, key: Uint8Array): void;
  detach?(id: bigint, key: Uint8Array): void;
}
/** No leases granted (read-only evaluation, tests of the key space alone). */
export const NO_LEASES: LeaseLookup = { exists: () => false };

function header(revision: number): ResponseHeader {
  return { cluster_id: 0n, member_id: 0n, revision, raft_term: 0 };
}

/**
 * One write transaction on the key space (etcd's storeTxnWrite): every change gets revision beginRevision + 1;
 * the store revision moves only if something changed. `readOnly` evaluates without a write transaction (read-only
 * txns, which etcd serves without Raft).
 */
export class MvccTxn {
  readonly beginRevision: number;
  readonly events: MvccEvent[] = [];
  constructor(
    private readonly tables: MvccTables,
    private readonly state: MvccState,
    private readonly leases: LeaseLookup = NO_LEASES,
    private readonly readOnly = false,
  ) {
    this.beginRevision = state.revision;
  }

  get changed(): boolean {
    return this.events.length > 0;
  }

  /** The revision reads inside this txn see (own changes included). */
  private get readRevision(): number {
    return this.changed ? this.beginRevision + 1 : this.beginRevision;
  }

  private readState(): MvccState {
    return { revision: this.readRevision, compactRevision: this.state.compactRevision };
  }

  range(req: RangeRequest): RangeResult {
    return range(this.tables, this.readState(), req);
  }

  private assertWritable(): void {
    invariant(!this.readOnly, 'mvcc: write in a read-only txn');
  }

  /**
   * etcd's checkRequestPut, against the state before the txn: the key (for ignore_value / ignore_lease), then the
   * lease. A plain Put (not in a txn) checks the lease first, as etcd's applierV3backend.Put does.
   */
  checkPut(req: PutRequest, plainPut = false, earlierDeletes: readonly DeleteRangeRequest[] = []): void {
    if (plainPut) this.checkLease(req);
    if (req.ignore_value || req.ignore_lease) {
      if (getLatest(this.tables, req.key) === undefined) throw etcdError('KeyNotFound');
      // etcd checks only the state before the txn, and panics when an earlier delete of the txn removed the key
      // (possible with a from-key delete, which its duplicate-key check does not see): refuse it here instead.
      if (earlierDeletes.some((d) => deleteCovers(d, req.key))) throw etcdError('KeyNotFound');
    }
    this.checkLease(req);
  }

  private checkLease(req: PutRequest): void {
    if (req.lease !== undefined && req.lease !== 0n && !this.leases.exists(req.lease)) throw etcdError('LeaseNotFound');
  }

  put(req: PutRequest): { header: ResponseHeader; prev_kv?: KeyValue } {
    this.assertWritable();
    const key = Buffer.from(req.key);
    const prevRecord = getLatest(this.tables, key);
    const prev: StoredRecord | undefined = prevRecord === undefined ? undefined : decodeRecord(prevRecord);
    if ((req.ignore_value || req.ignore_lease) && prev === undefined) throw etcdError('KeyNotFound');
    const revision = this.beginRevision + 1;
    const value = req.ignore_value ? prev!.value : (req.value ?? EMPTY);
    const lease = req.ignore_lease ? prev!.lease : (req.lease ?? 0n);
    const record = encodeRecord({
      create_revision: prev ? prev.create_revision : revision,
      mod_revision: revision,
      version: prev ? prev.version + 1 : 1,
      lease,
      value,
    });
    const prevKv = prevRecord === undefined ? undefined : recordToKeyValue(key, Buffer.from(prevRecord));
    if (prev !== undefined && prev.lease !== 0n && prev.lease !== lease) this.leases.detach?.(prev.lease, key);
    if (lease !== 0n && (prev === undefined || prev.lease !== lease)) this.leases.attach?.(lease, key);
    this.tables.latest.putSync(key, record);
    this.record(key, revision, record, false);
    const ev: Event = { type: EventType.PUT, kv: recordToKeyValue(key, record) };
    if (prevKv !== undefined) ev.prev_kv = prevKv;
    this.events.push(ev);
    const response: { header: ResponseHeader; prev_kv?: KeyValue } = { header: header(revision) };
    if (req.prev_kv && prevKv !== undefined) response.prev_kv = prevKv;
    return response;
  }

  /** Appends the change to history at (revision, its index in the txn) and indexes it under its key. */
  private record(key: Buffer, revision: number, record: Buffer, tombstone: boolean): void {
    const sub = this.events.length;
    this.tables.history.putSync(historyKey(revision, sub), historyValue(key, record));
    this.tables.keyindex.putSync(keyIndexKey(key, revision), keyIndexValue(sub, tombstone));
  }

  deleteRange(req: DeleteRangeRequest): { header: ResponseHeader; deleted: number; prev_kvs: KeyValue[] } {
    this.assertWritable();
    const found = this.range({ key: req.key, range_end: req.range_end });
    const revision = this.beginRevision + 1;
    for (const kv of found.kvs) {
      const tombstone = encodeRecord({ tombstone: true, create_revision: 0, mod_revision: revision, version: 0, lease: 0n, value: EMPTY });
      this.tables.latest.removeSync(Buffer.from(kv.key));
      if (kv.lease !== 0n) this.leases.detach?.(kv.lease, kv.key);
      this.record(Buffer.from(kv.key), revision, tombstone, true);
      this.events.push({
        type: EventType.DELETE,
        kv: { key: kv.key, create_revision: 0, mod_revision: revision, version: 0, value: EMPTY, lease: 0n },
        prev_kv: kv,
      });
    }
    const deleted = found.kvs.length;
    return {
      header: header(deleted > 0 || this.changed ? revision : this.beginRevision),
      deleted,
      prev_kvs: req.prev_kv ? found.kvs : [],
    };
  }

  // ---- txn ---------------------------------------------------------------------------------------------------

  private compareHolds(c: Compare): boolean {
    let kvs: KeyValue[];
    try {
      kvs = this.range({ key: c.key, range_end: c.range_end }).kvs;
    } catch (err) {
      // etcd's applyCompare: a compare whose range fails does not hold. Only an operating error, though: a storage
      // failure or a broken invariant must not quietly turn into "false" and a different outcome on this member.
      if (err instanceof EtcdError) return false;
      throw err;
    }
    if (kvs.length === 0) {
      if (c.target === CompareTarget.VALUE) return false; // a missing key has no value to compare
      return compareKeyValue(c, ZERO_KV);
    }
    for (const kv of kvs) if (!compareKeyValue(c, kv)) return false;
    return true;
  }

  /**
   * etcd's compareToPath: every compare of the txn and of the nested txns on the chosen path is evaluated up front,
   * against the state before the txn. Element 0 is this txn's outcome, then each nested txn in execution order.
   */
  private path(req: TxnRequest): boolean[] {
    const succeeded = (req.compare ?? []).every((c) => this.compareHolds(c));
    const out = [succeeded];
    for (const op of (succeeded ? req.success : req.failure) ?? []) {
      if (op.request_txn) out.push(...this.path(op.request_txn));
    }
    return out;
  }

  /** etcd's checkRequests: visits every non-txn op on the chosen path, nested txns included, in order. */
  private checkPath(req: TxnRequest, path: boolean[], at: { i: number }, check: (op: RequestOp) => void): void {
    const succeeded = path[at.i++]!;
    for (const op of (succeeded ? req.success : req.failure) ?? []) {
      if (op.request_txn) this.checkPath(op.request_txn, path, at, check);
      else check(op);
    }
  }

  /**
   * etcd's checkRequestRange, against the state before the txn. Any revision other than 0 is checked, so a negative
   * one below the compacted revision (-1 before any compaction) fails, although a plain Range treats it as "latest".
   */
  private checkRangeRevision(req: RangeRequest): void {
    const rev = req.revision ?? 0;
    if (rev === 0) return;
    if (rev > this.state.revision) throw etcdError('FutureRev');
    if (rev < this.state.compactRevision) throw etcdError('Compacted');
  }

  private execute(req: TxnRequest, path: boolean[], at: { i: number }): { succeeded: boolean; responses: ResponseOp[] } {
    const succeeded = path[at.i++]!;
    const responses: ResponseOp[] = [];
    for (const op of (succeeded ? req.success : req.failure) ?? []) {
      if (op.request_range) {
        const r = this.range(op.request_range);
        responses.push({ response_range: { header: header(r.revision), kvs: r.kvs, more: r.more, count: r.count } });
      } else if (op.request_put) {
        responses.push({ response_put: this.put(op.request_put) });
      } else if (op.request_delete_range) {
        responses.push({ response_delete_range: this.deleteRange(op.request_delete_range) });
      } else if (op.request_txn) {
        const nested = this.execute(op.request_txn, path, at);
        // etcd leaves a nested txn's header empty
        responses.push({ response_txn: { header: header(0), ...nested } });
      } else {
        responses.push({});
      }
    }
    return { succeeded, responses };
  }

  txn(req: TxnRequest): { header: ResponseHeader; succeeded: boolean; responses: ResponseOp[] } {
    const path = this.path(req);
    // As etcd: every put on the path is checked first, then every range.
    const deletes: DeleteRangeRequest[] = [];
    this.checkPath(req, path, { i: 0 }, (op) => {
      if (op.request_put) this.checkPut(op.request_put, false, deletes);
      else if (op.request_delete_range) deletes.push(op.request_delete_range);
    });
    this.checkPath(req, path, { i: 0 }, (op) => op.request_range && this.checkRangeRevision(op.request_range));
    invariant(!this.readOnly || isReadOnlyTxn(req), 'mvcc: write txn evaluated read-only');
    const result = this.execute(req, path, { i: 0 });
    return { header: header(this.readRevision), ...result };
  }

  /** Store revision after the txn ends. */
  end(): number {
    if (this.changed) this.state.revision = this.beginRevision + 1;
    return this.state.revision;
  }
}

const EMPTY = Buffer.alloc(0);

/** Whether a DeleteRange's key range (single key, [key, range_end), or from-key) contains `key`. */
function deleteCovers(d: DeleteRangeRequest, key: Uint8Array): boolean {
  const start = Buffer.from(d.key.buffer, d.key.byteOffset, d.key.byteLength);
  const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (d.range_end === undefined || d.range_end.length === 0) return start.equals(k);
  if (Buffer.compare(k, start) < 0) return false;
  if (isFromKeyEnd(d.range_end)) return true;
  return Buffer.compare(k, Buffer.from(d.range_end.buffer, d.range_end.byteOffset, d.range_end.byteLength)) < 0;
}

const ZERO_KV: KeyValue = { key: EMPTY, create_revision: 0, mod_revision: 0, version: 0, value: EMPTY, lease: 0n };

function compareKeyValue(c: Compare, kv: KeyValue): boolean {
  let result: number;
  switch (c.target) {
    case CompareTarget.VALUE: result = Buffer.compare(kv.value, c.value ?? EMPTY); break;
    case CompareTarget.CREATE: result = Math.sign(kv.create_revision - (c.create_revision ?? 0)); break;
    case CompareTarget.MOD: result = Math.sign(kv.mod_revision - (c.mod_revision ?? 0)); break;
    case CompareTarget.VERSION: result = Math.sign(kv.version - (c.version ?? 0)); break;
    case CompareTarget.LEASE: {
      const l = c.lease ?? 0n;
      result = kv.lease === l ? 0 : kv.lease > l ? 1 : -1;
      break;
    }
    default: result = 0;
  }
  switch (c.result) {
    case CompareResult.EQUAL: return result === 0;
    case CompareResult.NOT_EQUAL: return result !== 0;
    case CompareResult.GREATER: return result > 0;
    case CompareResult.LESS: return result < 0;
    default: return true;
  }
}

/** etcd's isTxnReadonly: no put or delete anywhere in any branch. */
export function isReadOnlyTxn(req: TxnRequest): boolean {
  const ops: RequestOp[] = [...(req.success ?? []), ...(req.failure ?? [])];
  return ops.every((op) => !op.request_put && !op.request_delete_range && (!op.request_txn || isReadOnlyTxn(op.request_txn)));
}

/** etcd's isTxnSerializable: every range in every branch asks for a serializable read. */
export function isSerializableTxn(req: TxnRequest): boolean {
  const ops: RequestOp[] = [...(req.success ?? []), ...(req.failure ?? [])];
  return ops.every(
    (op) =>
      (op.request_range ? op.request_range.serializable === true : true) &&
      (!op.request_txn || isSerializableTxn(op.request_txn)),
  );
}
