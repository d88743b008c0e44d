// Protocol-buffer encoding of the KV responses (etcdserverpb / mvccpb), for `-w protobuf`: gogo's Marshal writes
// fields in number order, leaves out proto3 zero values and empty bytes, and always writes a present sub-message.

import type {
  Compare,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from '../../../client/index.js';
import type {
  AuthHeaderResponse,
  AuthRoleGetResponse,
  AuthRoleListResponse,
  AuthUserGetResponse,
  AuthUserListResponse,
  Event,
  Member,
  MoveLeaderResponse,
  Permission,
} from '../../../proto/index.js';
import type { WatchEvents } from './printer.js';

class Writer {
  private readonly parts: Buffer[] = [];
  private length = 0;

  private push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }

  private varint(v: bigint): void {
    let u = BigInt.asUintN(64, v);
    const bytes: number[] = [];
    while (u >= 0x80n) {
      bytes.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    bytes.push(Number(u));
    this.push(Buffer.from(bytes));
  }

  private tag(field: number, wireType: number): void {
    this.varint(BigInt((field << 3) | wireType));
  }

  /** varint field, left out when zero (proto3) */
  int(field: number, v: bigint | number | boolean | undefined): void {
    const n = typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(v ?? 0);
    if (n === 0n) return;
    this.tag(field, 0);
    this.varint(n);
  }

  /** varint field written even when zero (a oneof member) */
  always(field: number, v: bigint | number): void {
    this.tag(field, 0);
    this.varint(BigInt(v));
  }

  bytes(field: number, v: Uint8Array | undefined): void {
    if (v === undefined || v.length === 0) return;
    this.tag(field, 2);
    this.varint(BigInt(v.length));
    this.push(Buffer.from(v.buffer, v.byteOffset, v.length));
  }

  /** a repeated string element: written even when empty */
  string(field: number, v: string): void {
    const b = Buffer.from(v, 'utf8');
    this.tag(field, 2);
    this.varint(BigInt(b.length));
    this.push(b);
  }

  message(field: number, body: Buffer | undefined): void {
    if (body === undefined) return;
    this.tag(field, 2);
    this.varint(BigInt(body.length));
    this.push(body);
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

function header(h: ResponseHeader | undefined): Buffer | undefined {
  if (h === undefined || h === null) return undefined;
  const w = new Writer();
  w.int(1, h.cluster_id);
  w.int(2, h.member_id);
  w.int(3, h.revision);
  w.int(4, h.raft_term);
  return w.finish();
}

function keyValue(kv: KeyValue): Buffer {
  const w = new Writer();
  w.bytes(1, kv.key);
  w.int(2, kv.create_revision);
  w.int(3, kv.mod_revision);
  w.int(4, kv.version);
  w.bytes(5, kv.value);
  w.int(6, kv.lease);
  return w.finish();
}

export function encodeRangeResponse(r: RangeResponse): Buffer {
  const w = new Writer();
  w.message(1, header(r.header));
  for (const kv of r.kvs ?? []) w.message(2, keyValue(kv));
  w.int(3, r.more);
  w.int(4, r.count);
  return w.finish();
}

export function encodePutResponse(r: PutResponse): Buffer {
  const w = new Writer();
  w.message(1, header(r.header));
  if (r.prev_kv !== undefined && r.prev_kv !== null) w.message(2, keyValue(r.prev_kv));
  return w.finish();
}

export function encodeDeleteRangeResponse(r: DeleteRangeResponse): Buffer {
  const w = new Writer();
  w.message(1, header(r.header));
  w.int(2, r.deleted);
  for (const kv of r.prev_kvs ?? []) w.message(3, keyValue(kv));
  return w.finish();
}

function responseOp(op: ResponseOp): Buffer {
  const w = new Writer();
  if (op.response_range !== undefined) w.message(1, encodeRangeResponse(op.response_range));
  else if (op.response_put !== undefined) w.message(2, encodePutResponse(op.response_put));
  else if (op.response_delete_range !== undefined) w.message(3, encodeDeleteRangeResponse(op.response_delete_range));
  else if (op.response_txn !== undefined) w.message(4, encodeTxnResponse(op.response_txn));
  return w.finish();
}

export function encodeTxnResponse(r: TxnResponse): Buffer {
  const w = new Writer();
  w.message(1, header(r.header));
  w.int(2, r.succeeded);
  for (const op of r.responses ?? []) w.message(3, responseOp(op));
  return w.finish();
}

function member(m: Member): Buffer {
  const w = new Writer();
  w.int(1, m.ID);
  w.bytes(2, m.name === undefined ? undefined : Buffer.from(m.name, 'utf8'));
  for (const u of m.peerURLs ?? []) w.string(3, u);
  for (const u of m.clientURLs ?? []) w.string(4, u);
  w.int(5, m.isLearner);
  return w.finish();
}

/** MemberAddResponse (header 1, member 2, members 3) or MemberList/Remove/Update/PromoteResponse (header 1, members 2) */
export function encodeMemberResponse(r: { header?: ResponseHeader; member?: Member; members?: Member[] }, withMember: boolean): Buffer {
  const w = new Writer();
  w.message(1, header(r.header));
  if (withMember && r.member !== undefined && r.member !== null) w.message(2, member(r.member));
  for (const m of r.members ?? []) w.message(withMember ? 3 : 2, member(m));
  return w.finish();
}

/** A ResponseHeader on its own: what gogo's Marshal, promoted from the *ResponseHeader the lease responses embed, writes. */
export function encodeResponseHeader(h: ResponseHeader | undefined): Buffer {
  return header(h) ?? Buffer.alloc(0);
}

/** gogo's CompactTextString of a ResponseHeader (its String()): "name:value " per non-zero field. */
export function responseHeaderText(h: ResponseHeader | undefined): string {
  if (h === undefined || h === null) return '<nil>';
  let out = '';
  const field = (name: string, v: bigint | number | undefined, signed: boolean): void => {
    const n = BigInt(v ?? 0);
    if (n !== 0n) out += `${name}:${(signed ? BigInt.asIntN(64, n) : BigInt.asUintN(64, n)).toString()} `;
  };
  field('cluster_id', h.cluster_id, false);
  field('member_id', h.member_id, false);
  field('revision', h.revision, true);
  field('raft_term', h.raft_term, false);
  return out;
}

function event(e: Event): Buffer {
  const w = new Writer();
  w.int(1, e.type);
  if (e.kv !== undefined && e.kv !== null) w.message(2, keyValue(e.kv));
  if (e.prev_kv !== undefined && e.prev_kv !== null) w.message(3, keyValue(e.prev_kv));
  return w.finish();
}

/** pbPrinter.Watch: a WatchResponse rebuilt from clientv3's, so without watch ID and cancel reason */
export function encodeWatchResponse(r: WatchEvents): Buffer {
  const w = new Writer();
  w.message(1, header(r.header ?? ({} as ResponseHeader)));
  w.int(3, r.created);
  w.int(4, r.canceled);
  w.int(5, r.compactRevision);
  for (const e of r.events ?? []) w.message(11, event(e));
  return w.finish();
}

export function encodeMoveLeaderResponse(r: MoveLeaderResponse): Buffer {
  const w = new Writer();
  w.message(1, header(r.header));
  return w.finish();
}

// ---- auth responses (etcdserverpb.Auth*Response, authpb.Permission) -----------------------------------------------

/** The auth responses that carry only a header (field 1). */
export function encodeAuthHeaderResponse(r: AuthHeaderResponse): Buffer {
  const w = new Writer();
  w.message(1, header(r.header));
  return w.finish();
}

function permission(p: Permission): Buffer {
  const w = new Writer();
  w.int(1, p.permType);
  w.bytes(2, p.key);
  w.bytes(3, p.range_end);
  return w.finish();
}

export function encodeRoleGetResponse(r: AuthRoleGetResponse): Buffer {
  const w = new Writer();
  w.message(1, header(r.header));
  for (const p of r.perm ?? []) w.message(2, permission(p));
  return w.finish();
}

/** AuthUserGetResponse (roles 2), AuthUserListResponse (users 2), AuthRoleListResponse (roles 2). */
export function encodeNamesResponse(r: AuthUserGetResponse | AuthUserListResponse | AuthRoleListResponse): Buffer {
  const names = 'users' in r ? r.users : (r as AuthUserGetResponse).roles;
  const w = new Writer();
  w.message(1, header(r.header));
  for (const n of names ?? []) w.string(2, n);
  return w.finish();
}

// ---- requests: only their encoded size is used, for clientv3's 2 MiB send limit ----------------------------------

function rangeRequest(r: RangeRequest): Buffer {
  const w = new Writer();
  w.bytes(1, r.key);
  w.bytes(2, r.range_end);
  w.int(3, r.limit);
  w.int(4, r.revision);
  w.int(5, r.sort_order);
  w.int(6, r.sort_target);
  w.int(7, r.serializable);
  w.int(8, r.keys_only);
  w.int(9, r.count_only);
  w.int(10, r.min_mod_revision);
  w.int(11, r.max_mod_revision);
  w.int(12, r.min_create_revision);
  w.int(13, r.max_create_revision);
  return w.finish();
}

function putRequest(r: PutRequest): Buffer {
  const w = new Writer();
  w.bytes(1, r.key);
  w.bytes(2, r.value);
  w.int(3, r.lease);
  w.int(4, r.prev_kv);
  w.int(5, r.ignore_value);
  w.int(6, r.ignore_lease);
  return w.finish();
}

function deleteRangeRequest(r: DeleteRangeRequest): Buffer {
  const w = new Writer();
  w.bytes(1, r.key);
  w.bytes(2, r.range_end);
  w.int(3, r.prev_kv);
  return w.finish();
}

function compare(c: Compare): Buffer {
  const w = new Writer();
  w.int(1, c.result);
  w.int(2, c.target);
  w.bytes(3, c.key);
  // the target union is written even when zero
  if (c.version !== undefined) w.always(4, c.version);
  else if (c.create_revision !== undefined) w.always(5, c.create_revision);
  else if (c.mod_revision !== undefined) w.always(6, c.mod_revision);
  else if (c.value !== undefined) w.message(7, Buffer.from(c.value));
  else if (c.lease !== undefined) w.always(8, c.lease);
  w.bytes(64, c.range_end);
  return w.finish();
}

function requestOp(op: RequestOp): Buffer {
  const w = new Writer();
  if (op.request_range !== undefined) w.message(1, rangeRequest(op.request_range));
  else if (op.request_put !== undefined) w.message(2, putRequest(op.request_put));
  else if (op.request_delete_range !== undefined) w.message(3, deleteRangeRequest(op.request_delete_range));
  else if (op.request_txn !== undefined) w.message(4, txnRequest(op.request_txn));
  return w.finish();
}

function txnRequest(r: TxnRequest): Buffer {
  const w = new Writer();
  for (const c of r.compare ?? []) w.message(1, compare(c));
  for (const op of r.success ?? []) w.message(2, requestOp(op));
  for (const op of r.failure ?? []) w.message(3, requestOp(op));
  return w.finish();
}

export const requestSize = {
  range: (r: RangeRequest): number => rangeRequest(r).length,
  put: (r: PutRequest): number => putRequest(r).length,
  deleteRange: (r: DeleteRangeRequest): number => deleteRangeRequest(r).length,
  txn: (r: TxnRequest): number => txnRequest(r).length,
};
