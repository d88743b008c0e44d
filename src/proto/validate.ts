// Validation of untrusted input: turns a decoded msgpack body into a typed request, or throws an EtcdError with
// InvalidArgument. Then applies etcd's own gRPC-layer checks (v3rpc/key.go) so errors match etcd's byte for byte.
//
// Accepted encodings: bytes fields as msgpack bin (or str, taken as UTF-8); integers as msgpack ints (any width);
// enums as numbers or etcd's names; unknown fields are ignored, as protobuf does.

import { KEY_ENCODED_BYTES_MAX, TXN_NESTING_DEPTH_MAX } from '../config/limits.js';
import { etcdError } from '../errors/index.js';
import {
  CompareResult,
  CompareTarget,
  SortOrder,
  SortTarget,
  type Bytes,
  type Compare,
  type CompactionRequest,
  type DeleteRangeRequest,
  type MethodName,
  type PutRequest,
  type RangeRequest,
  type RequestOf,
  type RequestOp,
  type TxnRequest,
  type LeaderKey,
  type StreamMethodName,
  type StreamMethods,
  type WatchRequest,
} from './types.js';

type Obj = Record<string, unknown>;
const EMPTY = new Uint8Array(0);

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function asObject(v: unknown, what: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw etcdError('InvalidRequest', `${what} must be a map`);
  return v;
}

function bytes(o: Obj, field: string): Bytes {
  const v = o[field];
  if (v === undefined || v === null) return EMPTY;
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  throw etcdError('InvalidRequest', `field "${field}" must be bytes`);
}

function optionalBytes(o: Obj, field: string): Bytes | undefined {
  const b = bytes(o, field);
  return b.length === 0 ? undefined : b;
}

/** int64 that is used as a count or revision: clamped into the safe integer range (beyond it nothing differs). */
function int64(o: Obj, field: string): number {
  const v = o[field];
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw etcdError('InvalidRequest', `field "${field}" must be an integer`);
    return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, v));
  }
  if (typeof v === 'bigint') {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
    if (v < -BigInt(Number.MAX_SAFE_INTEGER)) return -Number.MAX_SAFE_INTEGER;
    return Number(v);
  }
  throw etcdError('InvalidRequest', `field "${field}" must be an integer`);
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** A 64-bit identifier (lease ID), kept exact as a bigint. */
function id64(o: Obj, field: string): bigint {
  const v = o[field];
  if (v === undefined || v === null) return 0n;
  let b: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else if (typeof v === 'bigint') b = v;
  else throw etcdError('InvalidRequest', `field "${field}" must be an integer`);
  if (b < INT64_MIN || b > UINT64_MAX) throw etcdError('InvalidRequest', `field "${field}" out of range`);
  // int64 on the wire: fold uint64 spellings of negative IDs back into int64.
  return BigInt.asIntN(64, b);
}

function stringList(o: Obj, field: string): string[] {
  return list(o, field).map((v) => {
    if (typeof v !== 'string') throw etcdError('InvalidRequest', `field "${field}" must be a list of strings`);
    return v;
  });
}

function str(o: Obj, field: string): string {
  const v = o[field];
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  throw etcdError('InvalidRequest', `field "${field}" must be a string`);
}

function bool(o: Obj, field: string): boolean {
  const v = o[field];
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  throw etcdError('InvalidRequest', `field "${field}" must be a boolean`);
}

function enumField(o: Obj, field: string, names: Record<string, number>): number {
  const v = o[field];
  if (v === undefined || v === null) return 0;
  if (typeof v === 'string') {
    const n = names[v];
    if (n === undefined) throw etcdError('InvalidRequest', `field "${field}" has unknown value "${v}"`);
    return n;
  }
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw etcdError('InvalidRequest', `field "${field}" must be an enum`);
}

function list(o: Obj, field: string): unknown[] {
  const v = o[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw etcdError('InvalidRequest', `field "${field}" must be a list`);
  return v;
}

// ---- decoding: shape and types -------------------------------------------------------------------------------

export function decodeRange(v: unknown): RangeRequest {
  const o = asObject(v, 'RangeRequest');
  return {
    key: bytes(o, 'key'),
    range_end: optionalBytes(o, 'range_end'),
    limit: int64(o, 'limit'),
    revision: int64(o, 'revision'),
    sort_order: enumField(o, 'sort_order', SortOrder),
    sort_target: enumField(o, 'sort_target', SortTarget),
    serializable: bool(o, 'serializable'),
    keys_only: bool(o, 'keys_only'),
    count_only: bool(o, 'count_only'),
    min_mod_revision: int64(o, 'min_mod_revision'),
    max_mod_revision: int64(o, 'max_mod_revision'),
    min_create_revision: int64(o, 'min_create_revision'),
    max_create_revision: int64(o, 'max_create_revision'),
  };
}

export function decodePut(v: unknown): PutRequest {
  const o = asObject(v, 'PutRequest');
  return {
    key: bytes(o, 'key'),
    value: bytes(o, 'value'),
    lease: id64(o, 'lease'),
    prev_kv: bool(o, 'prev_kv'),
    ignore_value: bool(o, 'ignore_value'),
    ignore_lease: bool(o, 'ignore_lease'),
  };
}

export function decodeDeleteRange(v: unknown): DeleteRangeRequest {
  const o = asObject(v, 'DeleteRangeRequest');
  return { key: bytes(o, 'key'), range_end: optionalBytes(o, 'range_end'), prev_kv: bool(o, 'prev_kv') };
}

function decodeCompare(v: unknown): Compare {
  const o = asObject(v, 'Compare');
  const target = enumField(o, 'target', CompareTarget);
  const c: Compare = {
    result: enumField(o, 'result', CompareResult),
    target,
    key: bytes(o, 'key'),
    range_end: optionalBytes(o, 'range_end'),
  };
  switch (target) {
    case CompareTarget.VERSION: c.version = int64(o, 'version'); break;
    case CompareTarget.CREATE: c.create_revision = int64(o, 'create_revision'); break;
    case CompareTarget.MOD: c.mod_revision = int64(o, 'mod_revision'); break;
    case CompareTarget.VALUE: c.value = bytes(o, 'value'); break;
    case CompareTarget.LEASE: c.lease = id64(o, 'lease'); break;
    default: break; // unknown target: no operand, and it compares as equal (result 0), as in etcd
  }
  return c;
}

function decodeRequestOp(v: unknown, depth: number): RequestOp {
  const o = asObject(v, 'RequestOp');
  // A oneof: the first member present wins, as protobuf keeps the last one on the wire; clients send exactly one.
  if (o.request_range !== undefined && o.request_range !== null) return { request_range: decodeRange(o.request_range) };
  if (o.request_put !== undefined && o.request_put !== null) return { request_put: decodePut(o.request_put) };
  if (o.request_delete_range !== undefined && o.request_delete_range !== null) {
    return { request_delete_range: decodeDeleteRange(o.request_delete_range) };
  }
  if (o.request_txn !== undefined && o.request_txn !== null) return { request_txn: decodeTxnAt(o.request_txn, depth + 1) };
  return {};
}


function decodeTxnAt(v: unknown, depth: number): TxnRequest {
  if (depth > TXN_NESTING_DEPTH_MAX) throw etcdError('InvalidRequest', 'txn nested too deeply');
  const o = asObject(v, 'TxnRequest');
  return {
    compare: list(o, 'compare').map(decodeCompare),
    success: list(o, 'success').map((op) => decodeRequestOp(op, depth)),
    failure: list(o, 'failure').map((op) => decodeRequestOp(op, depth)),
  };
}

export function decodeTxn(v: unknown): TxnRequest {
  return decodeTxnAt(v, 0);
}

export function decodeCompaction(v: unknown): CompactionRequest {
  const o = asObject(v, 'CompactionRequest');
  return { revision: int64(o, 'revision'), physical: bool(o, 'physical') };
}

// ---- etcd's gRPC-layer checks (v3rpc/key.go) -----------------------------------------------------------------

/** Keys longer than the store can index are refused (see KEY_ENCODED_BYTES_MAX). */
export function checkKeySize(key: Uint8Array | undefined): void {
  if (key === undefined || key.length * 2 <= KEY_ENCODED_BYTES_MAX) return;
  let n = key.length;
  for (let i = 0; i < key.length; i++) if (key[i] === 0) n++;
  if (n > KEY_ENCODED_BYTES_MAX) throw etcdError('KeyTooLarge');
}

export function checkRange(r: RangeRequest): void {
  if (r.key.length === 0) throw etcdError('EmptyKey');
  checkKeySize(r.key);
  checkKeySize(r.range_end);
  const order = r.sort_order ?? 0;
  const target = r.sort_target ?? 0;
  if (order < 0 || order > 2 || target < 0 || target > 4) throw etcdError('InvalidSortOption');
}

export function checkPut(r: PutRequest): void {
  if (r.key.length === 0) throw etcdError('EmptyKey');
  checkKeySize(r.key);
  if (r.ignore_value && r.value !== undefined && r.value.length !== 0) throw etcdError('ValueProvided');
  if (r.ignore_lease && r.lease !== undefined && r.lease !== 0n) throw etcdError('LeaseProvided');
}

export function checkDeleteRange(r: DeleteRangeRequest): void {
  if (r.key.length === 0) throw etcdError('EmptyKey');
  checkKeySize(r.key);
  checkKeySize(r.range_end);
}

export function checkTxn(r: TxnRequest, maxTxnOps: number): void {
  const compare = r.compare ?? [];
  const success = r.success ?? [];
  const failure = r.failure ?? [];
  const opCount = Math.max(compare.length, success.length, failure.length);
  if (opCount > maxTxnOps) throw etcdError('TooManyOps');
  for (const c of compare) {
    if (c.key.length === 0) throw etcdError('EmptyKey');
    checkKeySize(c.key);
    checkKeySize(c.range_end);
  }
  for (const op of success) checkRequestOp(op, maxTxnOps - opCount);
  for (const op of failure) checkRequestOp(op, maxTxnOps - opCount);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if (op.request_range) return checkRange(op.request_range);
  if (op.request_put) return checkPut(op.request_put);
  if (op.request_delete_range) return checkDeleteRange(op.request_delete_range);
  if (op.request_txn) return checkTxn(op.request_txn, maxTxnOps);
  throw etcdError('KeyNotFound');
}

// Duplicate-key detection, following etcd's checkIntervals: within one executed path a key may be put at most once
// and may not be put inside a range deleted in that path. Then/else branches of a nested txn may overlap each other.

interface Interval {
  start: Buffer;
  /** exclusive; for a point, start + 0x00 */
  end: Buffer;
}

function pointInterval(key: Bytes): Interval {
  const start = Buffer.from(key);
  return { start, end: Buffer.concat([start, Buffer.from([0])]) };
}

function intersectsPoint(dels: Interval[], key: string): boolean {
  const p = Buffer.from(key, 'latin1');
  for (const d of dels) if (Buffer.compare(d.start, p) <= 0 && Buffer.compare(p, d.end) < 0) return true;
  return false;
}

function checkIntervals(ops: RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  const dels: Interval[] = [];
  for (const op of ops) {
    const d = op.request_delete_range;
    if (!d) continue;
    dels.push(d.range_end && d.range_end.length > 0 ? { start: Buffer.from(d.key), end: Buffer.from(d.range_end) } : pointInterval(d.key));
  }
  const puts = new Set<string>();
  for (const op of ops) {
    const t = op.request_txn;
    if (!t) continue;
    const then = checkIntervals(t.success ?? []);
    const otherwise = checkIntervals(t.failure ?? []);
    for (const k of then.puts) {
      if (puts.has(k) || intersectsPoint(dels, k)) throw etcdError('DuplicateKey');
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if (puts.has(k) && !then.puts.has(k)) throw etcdError('DuplicateKey');
      if (intersectsPoint(dels, k)) throw etcdError('DuplicateKey');
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    const p = op.request_put;
    if (!p) continue;
    const k = Buffer.from(p.key).toString('latin1');
    if (puts.has(k) || intersectsPoint(dels, k)) throw etcdError('DuplicateKey');
    puts.add(k);
  }
  return { puts, dels };
}

export function checkTxnDuplicates(r: TxnRequest): void {
  checkIntervals(r.success ?? []);
  checkIntervals(r.failure ?? []);
}

/** Decodes and checks one request for a method; throws EtcdError on anything etcd would refuse before proposing. */
export function decodeRequest<M extends MethodName>(method: M, body: unknown, maxTxnOps: number): RequestOf<M> {
  switch (method) {
    case 'Range': {
      const r = decodeRange(body);
      checkRange(r);
      return r as RequestOf<M>;
    }
    case 'Put': {
      const r = decodePut(body);
      checkPut(r);
      return r as RequestOf<M>;
    }
    case 'DeleteRange': {
      const r = decodeDeleteRange(body);
      checkDeleteRange(r);
      return r as RequestOf<M>;
    }
    case 'Txn': {
      const r = decodeTxn(body);
      checkTxn(r, maxTxnOps);
      checkTxnDuplicates(r);
      return r as RequestOf<M>;
    }
    case 'Compact':
      return decodeCompaction(body) as RequestOf<M>;
    case 'Status':
      asObject(body, 'StatusRequest');
      return {} as RequestOf<M>;
    case 'MemberList':
      asObject(body, 'MemberListRequest');
      return {} as RequestOf<M>;
    case 'MemberAdd': {
      const o = asObject(body, 'MemberAddRequest');
      return { peerURLs: stringList(o, 'peerURLs'), isLearner: bool(o, 'isLearner') } as RequestOf<M>;
    }
    case 'MemberUpdate': {
      const o = asObject(body, 'MemberUpdateRequest');
      return { ID: BigInt.asUintN(64, id64(o, 'ID')), peerURLs: stringList(o, 'peerURLs') } as RequestOf<M>;
    }
    case 'MemberRemove':
    case 'MemberPromote': {
      const o = asObject(body, `${method}Request`);
      return { ID: BigInt.asUintN(64, id64(o, 'ID')) } as RequestOf<M>;
    }
    case 'MoveLeader': {
      const o = asObject(body, 'MoveLeaderRequest');
      return { targetID: BigInt.asUintN(64, id64(o, 'targetID')) } as RequestOf<M>;
    }
    case 'LeaseGrant': {
      const o = asObject(body, 'LeaseGrantRequest');
      return { TTL: int64(o, 'TTL'), ID: id64(o, 'ID') } as RequestOf<M>;
    }
    case 'LeaseRevoke':
      return { ID: id64(asObject(body, 'LeaseRevokeRequest'), 'ID') } as RequestOf<M>;
    case 'LeaseTimeToLive': {
      const o = asObject(body, 'LeaseTimeToLiveRequest');
      return { ID: id64(o, 'ID'), keys: bool(o, 'keys') } as RequestOf<M>;
    }
    case 'LeaseLeases':
      asObject(body, 'LeaseLeasesRequest');
      return {} as RequestOf<M>;
    case 'Lock': {
      const o = asObject(body, 'LockRequest');
      const name = bytes(o, 'name');
      checkKeySize(name);
      return { name, lease: id64(o, 'lease') } as RequestOf<M>;
    }
    case 'Unlock': {
      const o = asObject(body, 'UnlockRequest');
      return { key: bytes(o, 'key') } as RequestOf<M>;
    }
    case 'Campaign': {
      const o = asObject(body, 'CampaignRequest');
      const name = bytes(o, 'name');
      checkKeySize(name);
      return { name, lease: id64(o, 'lease'), value: bytes(o, 'value') } as RequestOf<M>;
    }
    case 'Proclaim': {
      const o = asObject(body, 'ProclaimRequest');
      return { leader: leaderKey(o), value: bytes(o, 'value') } as RequestOf<M>;
    }
    case 'Leader':
      return { name: bytes(asObject(body, 'LeaderRequest'), 'name') } as RequestOf<M>;
    case 'Resign':
      return { leader: leaderKey(asObject(body, 'ResignRequest')) } as RequestOf<M>;
    case 'AuthEnable':
    case 'AuthDisable':
    case 'AuthStatus':
    case 'UserList':
    case 'RoleList':
      asObject(body, `${method}Request`);
      return {} as RequestOf<M>;
    case 'Authenticate': {
      const o = asObject(body, 'AuthenticateRequest');
      return { name: str(o, 'name'), password: str(o, 'password') } as RequestOf<M>;
    }
    case 'UserAdd': {
      const o = asObject(body, 'AuthUserAddRequest');
      const options = asObject(o['options'], 'UserAddOptions');
      return { name: str(o, 'name'), password: str(o, 'password'), options: { no_password: bool(options, 'no_password') } } as RequestOf<M>;
    }
    case 'UserGet':
    case 'UserDelete':
      return { name: str(asObject(body, `Auth${method}Request`), 'name') } as RequestOf<M>;
    case 'UserChangePassword': {
      const o = asObject(body, 'AuthUserChangePasswordRequest');
      return { name: str(o, 'name'), password: str(o, 'password') } as RequestOf<M>;
    }
    case 'UserGrantRole': {
      const o = asObject(body, 'AuthUserGrantRoleRequest');
      return { user: str(o, 'user'), role: str(o, 'role') } as RequestOf<M>;
    }
    case 'UserRevokeRole': {
      const o = asObject(body, 'AuthUserRevokeRoleRequest');
      return { name: str(o, 'name'), role: str(o, 'role') } as RequestOf<M>;
    }
    case 'RoleAdd':
      return { name: str(asObject(body, 'AuthRoleAddRequest'), 'name') } as RequestOf<M>;
    case 'RoleGet':
    case 'RoleDelete':
      return { role: str(asObject(body, `Auth${method}Request`), 'role') } as RequestOf<M>;
    case 'RoleGrantPermission': {
      const o = asObject(body, 'AuthRoleGrantPermissionRequest');
      // no permission at all is its own error (etcd 3.4.25's `permission not given`, at apply after the root check)
      if (o['perm'] === undefined || o['perm'] === null) return { name: str(o, 'name') } as RequestOf<M>;
      const p = asObject(o['perm'], 'Permission');
      const perm = { permType: enumField(p, 'permType', PERM_TYPE_NAMES), key: bytes(p, 'key'), range_end: bytes(p, 'range_end') };
      return { name: str(o, 'name'), perm } as RequestOf<M>;
    }
    case 'RoleRevokePermission': {
      const o = asObject(body, 'AuthRoleRevokePermissionRequest');
      return { role: str(o, 'role'), key: bytes(o, 'key'), range_end: bytes(o, 'range_end') } as RequestOf<M>;
    }
    default:
      throw etcdError('UnknownMethod', `"${String(method)}"`);
  }
}

function leaderKey(o: Obj): LeaderKey | undefined {
  const v = o['leader'];
  if (v === undefined || v === null) return undefined;
  const l = asObject(v, 'LeaderKey');
  return { name: bytes(l, 'name'), key: bytes(l, 'key'), rev: int64(l, 'rev'), lease: id64(l, 'lease') };
}

/** One client message on a stream, by the stream's method. */
export function decodeStreamRequest<M extends StreamMethodName>(method: M, body: unknown): StreamMethods[M][0] {
  switch (method) {
    case 'Watch':
      return decodeWatchRequest(body) as StreamMethods[M][0];
    case 'LeaseKeepAlive':
      return { ID: id64(asObject(body, 'LeaseKeepAliveRequest'), 'ID') } as StreamMethods[M][0];
    case 'Observe':
      return { name: bytes(asObject(body, 'LeaderRequest'), 'name') } as StreamMethods[M][0];
    default:
      throw etcdError('UnknownStreamMethod', `"${String(method)}"`);
  }
}

const FILTER_NAMES = { NOPUT: 0, NODELETE: 1 };
const PERM_TYPE_NAMES = { READ: 0, WRITE: 1, READWRITE: 2 };

export function decodeWatchRequest(v: unknown): WatchRequest {
  const o = asObject(v, 'WatchRequest');
  if (o['create_request'] !== undefined && o['create_request'] !== null) {
    const c = asObject(o['create_request'], 'WatchCreateRequest');
    const key = bytes(c, 'key');
    const rangeEnd = optionalBytes(c, 'range_end');
    checkKeySize(key);
    checkKeySize(rangeEnd);
    const filters = list(c, 'filters').map((f) => enumField({ f }, 'f', FILTER_NAMES));
    return {
      create_request: {
        key,
        range_end: rangeEnd,
        start_revision: int64(c, 'start_revision'),
        progress_notify: bool(c, 'progress_notify'),
        filters,
        prev_kv: bool(c, 'prev_kv'),
        watch_id: int64(c, 'watch_id'),
        fragment: bool(c, 'fragment'),
      },
    };
  }
  if (o['cancel_request'] !== undefined && o['cancel_request'] !== null) {
    return { cancel_request: { watch_id: int64(asObject(o['cancel_request'], 'WatchCancelRequest'), 'watch_id') } };
  }
  if (o['progress_request'] !== undefined && o['progress_request'] !== null) {
    asObject(o['progress_request'], 'WatchProgressRequest');
    return { progress_request: {} };
  }
  return {};
}
