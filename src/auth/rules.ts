// What each request needs, as etcd 3.4's authApplierV3 (etcdserver/apply_auth.go), its read paths
// (etcdserver/v3_server.go) and its watch server decide it, over the store's key checks:
//   Range: READ on its range. Put: WRITE on the key; with prev_kv also READ; with a lease, WRITE on every key already
//   attached to that lease (otherwise a user could attach a lease it cannot revoke). DeleteRange: WRITE on the range,
//   with prev_kv also READ. Txn: READ on every compare, and every op of both branches, whichever runs.
//   LeaseRevoke: WRITE on every attached key. Watch: READ on its range.
//
// Where etcd 3.4.23 leaves holes that later 3.4 releases closed, they are closed here as those releases close them:
//   - ops of a txn nested in a txn are checked like the outer txn's (3.4.42; 3.4.23 checked none of them);
//   - a Put inside a txn is checked like a plain Put, prev_kv and lease included (3.4.44);
//   - LeaseTimeToLive with keys needs READ on each key it would list (3.4.26; see checkLeaseTimeToLiveKeys).
// And one that no etcd release has closed (3.4 to 3.6): etcd checks a watch whose range_end is "\0" (every key from
// `key` on) as if it watched `key` alone, so a user allowed one key receives the events of every key after it. Here
// such a watch needs READ on its whole range, as a Range with the same key and range_end does.

import type { Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, WatchCreateRequest } from '../proto/index.js';
import type { AuthInfo, AuthStore } from './store.js';

/** The keys attached to a lease (empty when it has none or does not exist). */
export type LeaseKeys = (id: bigint) => readonly Uint8Array[];

const EMPTY = new Uint8Array(0);
const ZERO_KEY = new Uint8Array([0]);

export function checkRange(store: AuthStore, info: AuthInfo, r: RangeRequest): void {
  store.checkOp(info, r.key, r.range_end, 'read');
}

/** etcd's checkPutAuth (3.4.44): the key, the keys already on its lease, then prev_kv. */
export function checkPut(store: AuthStore, info: AuthInfo, r: PutRequest, leaseKeys: LeaseKeys): void {
  store.checkOp(info, r.key, undefined, 'write');
  if (r.lease !== undefined && r.lease !== 0n) checkLeaseKeysWritable(store, info, r.lease, leaseKeys);
  if (r.prev_kv === true) store.checkOp(info, r.key, undefined, 'read');
}

export function checkDeleteRange(store: AuthStore, info: AuthInfo, r: DeleteRangeRequest): void {
  store.checkOp(info, r.key, r.range_end, 'write');
  if (r.prev_kv === true) store.checkOp(info, r.key, r.range_end, 'read');
}

/** READ on every compare, then every op of the success and the failure branch, nested txns included. */
export function checkTxn(store: AuthStore, info: AuthInfo, t: TxnRequest, leaseKeys: LeaseKeys): void {
  for (const c of t.compare ?? []) checkCompare(store, info, c);
  checkOps(store, info, t.success ?? [], leaseKeys);
  checkOps(store, info, t.failure ?? [], leaseKeys);
}

function checkCompare(store: AuthStore, info: AuthInfo, c: Compare): void {
  store.checkOp(info, c.key, c.range_end, 'read');
}

function checkOps(store: AuthStore, info: AuthInfo, ops: readonly RequestOp[], leaseKeys: LeaseKeys): void {
  for (const op of ops) {
    if (op.request_range !== undefined) checkRange(store, info, op.request_range);
    else if (op.request_put !== undefined) checkPut(store, info, op.request_put, leaseKeys);
    else if (op.request_delete_range !== undefined) {
      // etcd checks prev_kv's READ before the WRITE here (the order decides nothing but which refusal comes first)
      const d = op.request_delete_range;
      if (d.prev_kv === true) store.checkOp(info, d.key, d.range_end, 'read');
      store.checkOp(info, d.key, d.range_end, 'write');
    } else if (op.request_txn !== undefined) checkTxn(store, info, op.request_txn, leaseKeys);
  }
}

/** etcd's checkLeasePuts: WRITE on every key attached to the lease (a revocation deletes them all). */
export function checkLeaseKeysWritable(store: AuthStore, info: AuthInfo, lease: bigint, leaseKeys: LeaseKeys): void {
  if (!store.enabled) return;
  for (const key of leaseKeys(lease)) store.checkOp(info, key, undefined, 'write');
}

/** etcd 3.4.26's checkLeaseTimeToLive: READ on every attached key (a point check each). */
export function checkLeaseTimeToLiveKeys(store: AuthStore, info: AuthInfo, keys: readonly Uint8Array[]): void {
  for (const key of keys) store.checkOp(info, key, EMPTY, 'read');
}

/**
 * READ on the watch's range after etcd's normalisation (an empty key is "\0"); a range_end of "\0" is checked as the
 * open range it watches (see the header: etcd checks the key alone).
 */
export function checkWatchCreate(store: AuthStore, info: AuthInfo, r: WatchCreateRequest): void {
  const key = r.key.length === 0 ? ZERO_KEY : r.key;
  store.checkOp(info, key, r.range_end, 'read');
}
