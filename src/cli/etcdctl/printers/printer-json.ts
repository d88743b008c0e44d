// `-w json` (printer_json.go): Go's encoding/json of the protobuf structs. Field names and order are the structs',
// 64-bit integers are bare numbers, []byte is base64, and `omitempty` drops zero values. A txn's responses keep Go's
// oneof wrapper: {"Response":{"ResponsePut":{...}}}.

import type {
  DeleteRangeResponse,
  KeyValue,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  ResponseOp,
  StatusResponse,
  TxnResponse,
} from '../../../client/index.js';
import { base64Encode, type ByteString, int64String, jsonQuote, uint64String, utf8ToByteString } from '../../../gocompat/index.js';
import { stdout } from '../output.js';
import { nilPrinterPanic, type EndpointHealth, type EndpointStatus, type Printer, type WatchEvents } from './printer.js';
import type {
  AuthHeaderResponse,
  AuthRoleGetResponse,
  AuthRoleListResponse,
  AuthUserGetResponse,
  AuthUserListResponse,
  Event,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  Member,
  MoveLeaderResponse,
  Permission,
} from '../../../proto/index.js';

/** Builds a JSON object from [name, encoded value] pairs, skipping undefined (omitted) members. */
function jsonObject(members: [string, string | undefined][]): string {
  const parts: string[] = [];
  for (const [name, value] of members) if (value !== undefined) parts.push(`"${name}":${value}`);
  return '{' + parts.join(',') + '}';
}

function jsonArray(items: string[]): string {
  return '[' + items.join(',') + ']';
}

/** The member responses' shape: a header, the added member (MemberAdd only) and the member list. */
export interface MemberResponse {
  header?: ResponseHeader;
  member?: Member;
  members?: Member[];
}

type Int = bigint | number | undefined;

function int64(v: Int): string | undefined {
  return v === undefined || BigInt(v) === 0n ? undefined : int64String(v);
}

function uint64(v: Int): string | undefined {
  return v === undefined || BigInt(v) === 0n ? undefined : uint64String(v);
}

function bool(v: boolean | undefined): string | undefined {
  return v === true ? 'true' : undefined;
}

function bytes(v: Uint8Array | undefined): string | undefined {
  return v === undefined || v.length === 0 ? undefined : `"${base64Encode(v)}"`;
}

/** A ResponseHeader's members (also what a Go struct embedding *ResponseHeader shows at its top level). */
function headerMembers(h: ResponseHeader | undefined | null): [string, string | undefined][] {
  if (h === undefined || h === null) return [];
  return [
    ['cluster_id', uint64(h.cluster_id)],
    ['member_id', uint64(h.member_id)],
    ['revision', int64(h.revision)],
    ['raft_term', uint64(h.raft_term)],
  ];
}

function header(h: ResponseHeader | undefined): string | undefined {
  if (h === undefined || h === null) return undefined;
  return jsonObject(headerMembers(h));
}

function keyValue(kv: KeyValue): string {
  return jsonObject([
    ['key', bytes(kv.key)],
    ['create_revision', int64(kv.create_revision)],
    ['mod_revision', int64(kv.mod_revision)],
    ['version', int64(kv.version)],
    ['value', bytes(kv.value)],
    ['lease', int64(kv.lease)],
  ]);
}

function keyValues(kvs: KeyValue[] | undefined): string | undefined {
  return kvs === undefined || kvs.length === 0 ? undefined : jsonArray(kvs.map(keyValue));
}

export function rangeJson(r: RangeResponse): string {
  return jsonObject([
    ['header', header(r.header)],
    ['kvs', keyValues(r.kvs)],
    ['more', bool(r.more)],
    ['count', int64(r.count)],
  ]);
}

export function putJson(r: PutResponse): string {
  return jsonObject([
    ['header', header(r.header)],
    ['prev_kv', r.prev_kv === undefined || r.prev_kv === null ? undefined : keyValue(r.prev_kv)],
  ]);
}

export function deleteJson(r: DeleteRangeResponse): string {
  return jsonObject([
    ['header', header(r.header)],
    ['deleted', int64(r.deleted)],
    ['prev_kvs', keyValues(r.prev_kvs)],
  ]);
}

function responseOp(op: ResponseOp): string {
  let inner: string;
  if (op.response_range !== undefined) inner = jsonObject([['ResponseRange', rangeJson(op.response_range)]]);
  else if (op.response_put !== undefined) inner = jsonObject([['ResponsePut', putJson(op.response_put)]]);
  else if (op.response_delete_range !== undefined) inner = jsonObject([['ResponseDeleteRange', deleteJson(op.response_delete_range)]]);
  else if (op.response_txn !== undefined) inner = jsonObject([['ResponseTxn', txnJson(op.response_txn)]]);
  else return jsonObject([['Response', 'null']]);
  return jsonObject([['Response', inner]]);
}

export function txnJson(r: TxnResponse): string {
  const responses = r.responses ?? [];
  return jsonObject([
    ['header', header(r.header)],
    ['succeeded', bool(r.succeeded)],
    ['responses', responses.length === 0 ? undefined : jsonArray(responses.map(responseOp))],
  ]);
}

function statusJson(s: StatusResponse): string {
  const errors = s.errors ?? [];
  return jsonObject([
    ['header', header(s.header)],
    ['version', s.version === undefined || s.version === '' ? undefined : jsonQuote(s.version)],
    ['dbSize', int64(s.dbSize)],
    ['leader', uint64(s.leader)],
    ['raftIndex', uint64(s.raftIndex)],
    ['raftTerm', uint64(s.raftTerm)],
    ['raftAppliedIndex', uint64(s.raftAppliedIndex)],
    ['errors', errors.length === 0 ? undefined : jsonArray(errors.map(jsonQuote))],
    ['dbSizeInUse', int64(s.dbSizeInUse)],
    ['isLearner', bool(s.isLearner)],
  ]);
}

function strings(list: string[] | undefined): string | undefined {
  return list === undefined || list.length === 0 ? undefined : jsonArray(list.map((u) => jsonQuote(utf8ToByteString(u))));
}

function memberJson(m: Member): string {
  return jsonObject([
    ['ID', uint64(m.ID)],
    ['name', m.name === undefined || m.name === '' ? undefined : jsonQuote(utf8ToByteString(m.name))],
    ['peerURLs', strings(m.peerURLs)],
    ['clientURLs', strings(m.clientURLs)],
    ['isLearner', bool(m.isLearner)],
  ]);
}

/** MemberAddResponse (with `member`), or MemberList/Remove/Update/PromoteResponse */
export function memberResponseJson(r: MemberResponse, withMember: boolean): string {
  const members = r.members ?? [];
  const fields: [string, string | undefined][] = [['header', header(r.header)]];
  if (withMember) fields.push(['member', r.member === undefined || r.member === null ? undefined : memberJson(r.member)]);
  fields.push(['members', members.length === 0 ? undefined : jsonArray(members.map(memberJson))]);
  return jsonObject(fields);
}

export function moveLeaderJson(r: MoveLeaderResponse): string {
  return jsonObject([['header', header(r.header)]]);
}

/** The auth responses that carry only a header (AuthUserAddResponse, AuthRoleDeleteResponse, ...). */
export function authHeaderJson(r: AuthHeaderResponse): string {
  return jsonObject([['header', header(r.header)]]);
}

/** authpb.Permission: permType as its number (READ, 0, left out), key and range_end base64. */
function permissionJson(p: Permission): string {
  return jsonObject([
    ['permType', int64(p.permType)],
    ['key', bytes(p.key)],
    ['range_end', bytes(p.range_end)],
  ]);
}

export function roleGetJson(r: AuthRoleGetResponse): string {
  const perms = r.perm ?? [];
  return jsonObject([
    ['header', header(r.header)],
    ['perm', perms.length === 0 ? undefined : jsonArray(perms.map(permissionJson))],
  ]);
}

/** AuthUserGetResponse (roles), AuthUserListResponse (users) and AuthRoleListResponse (roles). */
export function namesJson(r: AuthUserGetResponse | AuthRoleListResponse | AuthUserListResponse, field: 'roles' | 'users'): string {
  const names = field === 'users' ? (r as AuthUserListResponse).users : (r as AuthUserGetResponse).roles;
  return jsonObject([
    ['header', header(r.header)],
    [field, strings(names)],
  ]);
}

function eventJson(e: Event): string {
  return jsonObject([
    ['type', e.type === undefined || e.type === 0 ? undefined : String(e.type)],
    ['kv', e.kv === undefined || e.kv === null ? undefined : keyValue(e.kv)],
    ['prev_kv', e.prev_kv === undefined || e.prev_kv === null ? undefined : keyValue(e.prev_kv)],
  ]);
}

/** clientv3.WatchResponse: exported fields without tags, the header a struct value (so "{}" when empty) */
export function watchJson(r: WatchEvents): string {
  return jsonObject([
    ['Header', jsonObject(headerMembers(r.header))],
    ['Events', r.events === null ? 'null' : jsonArray(r.events.map(eventJson))],
    ['CompactRevision', int64String(r.compactRevision)],
    ['Canceled', String(r.canceled)],
    ['Created', String(r.created)],
  ]);
}

function int64Plain(v: Int): string {
  return int64String(v ?? 0);
}

export class JsonPrinter implements Printer {
  get(r: RangeResponse): void {
    stdout(rangeJson(r) + '\n');
  }
  put(r: PutResponse): void {
    stdout(putJson(r) + '\n');
  }
  del(r: DeleteRangeResponse): void {
    stdout(deleteJson(r) + '\n');
  }
  txn(r: TxnResponse): void {
    stdout(txnJson(r) + '\n');
  }
  endpointHealth(list: EndpointHealth[]): void {
    const items = list.map((h) =>
      jsonObject([
        ['endpoint', jsonQuote(h.endpoint)],
        ['health', String(h.health)],
        ['took', jsonQuote(h.took)],
        ['error', h.error === '' ? undefined : jsonQuote(h.error)],
      ]),
    );
    stdout(jsonArray(items) + '\n');
  }
  endpointStatus(list: EndpointStatus[]): void {
    const items = list.map(({ endpoint, status }) =>
      jsonObject([
        ['Endpoint', jsonQuote(endpoint)],
        ['Status', statusJson(status)],
      ]),
    );
    stdout(jsonArray(items) + '\n');
  }
  memberAdd(r: MemberResponse): void {
    stdout(memberResponseJson(r, true) + '\n');
  }
  memberRemove(_id: bigint, r: MemberResponse): void {
    stdout(memberResponseJson(r, false) + '\n');
  }
  memberUpdate(_id: bigint, r: MemberResponse): void {
    stdout(memberResponseJson(r, false) + '\n');
  }
  memberPromote = nilPrinterPanic;
  memberList(r: MemberResponse): void {
    stdout(memberResponseJson(r, false) + '\n');
  }
  moveLeader(_leader: bigint, _target: bigint, r: MoveLeaderResponse): void {
    stdout(moveLeaderJson(r) + '\n');
  }
  watch(r: WatchEvents): void {
    stdout(watchJson(r) + '\n');
  }
  // clientv3's lease responses embed *ResponseHeader, whose fields encoding/json lifts to the top level
  grant(r: LeaseGrantResponse): void {
    stdout(
      jsonObject([
        ...headerMembers(r.header),
        ['ID', int64Plain(r.ID)],
        ['TTL', int64Plain(r.TTL)],
        ['Error', jsonQuote(utf8ToByteString(r.error ?? ''))],
      ]) + '\n',
    );
  }
  revoke(_id: bigint, r: LeaseRevokeResponse): void {
    stdout(jsonObject([['header', header(r.header)]]) + '\n');
  }
  keepAlive(r: LeaseKeepAliveResponse): void {
    stdout(jsonObject([...headerMembers(r.header), ['ID', int64Plain(r.ID)], ['TTL', int64Plain(r.TTL)]]) + '\n');
  }
  timeToLive(r: LeaseTimeToLiveResponse, _keys: boolean): void {
    const keys = r.keys ?? [];
    stdout(
      jsonObject([
        ...headerMembers(r.header),
        ['id', int64Plain(r.ID)],
        ['ttl', int64Plain(r.TTL)],
        ['granted-ttl', int64Plain(r.grantedTTL)],
        ['keys', keys.length === 0 ? 'null' : jsonArray(keys.map((k) => `"${base64Encode(k)}"`))],
      ]) + '\n',
    );
  }
  leases(r: LeaseLeasesResponse): void {
    const list = r.leases ?? [];
    stdout(jsonObject([...headerMembers(r.header), ['leases', jsonArray(list.map((l) => jsonObject([['id', int64Plain(l.ID)]])))]]) + '\n');
  }
  // printerRPC: the protobuf response structs, whatever names the command was given
  roleAdd(_role: ByteString, r: AuthHeaderResponse): void {
    stdout(authHeaderJson(r) + '\n');
  }
  roleGet(_role: ByteString, r: AuthRoleGetResponse): void {
    stdout(roleGetJson(r) + '\n');
  }
  roleDelete(_role: ByteString, r: AuthHeaderResponse): void {
    stdout(authHeaderJson(r) + '\n');
  }
  roleList(r: AuthRoleListResponse): void {
    stdout(namesJson(r, 'roles') + '\n');
  }
  roleGrantPermission(_role: ByteString, r: AuthHeaderResponse): void {
    stdout(authHeaderJson(r) + '\n');
  }
  roleRevokePermission(_role: ByteString, _key: ByteString, _end: ByteString, r: AuthHeaderResponse): void {
    stdout(authHeaderJson(r) + '\n');
  }
  userAdd(_user: ByteString, r: AuthHeaderResponse): void {
    stdout(authHeaderJson(r) + '\n');
  }
  userGet(_user: ByteString, r: AuthUserGetResponse): void {
    stdout(namesJson(r, 'roles') + '\n');
  }
  userList(r: AuthUserListResponse): void {
    stdout(namesJson(r, 'users') + '\n');
  }
  userChangePassword(r: AuthHeaderResponse): void {
    stdout(authHeaderJson(r) + '\n');
  }
  userGrantRole(_user: ByteString, _role: ByteString, r: AuthHeaderResponse): void {
    stdout(authHeaderJson(r) + '\n');
  }
  userRevokeRole(_user: ByteString, _role: ByteString, r: AuthHeaderResponse): void {
    stdout(authHeaderJson(r) + '\n');
  }
  userDelete(_user: ByteString, r: AuthHeaderResponse): void {
    stdout(authHeaderJson(r) + '\n');
  }
}
