// The protobuf messages of etcd's client API, as data: field name (etcd's proto name), number, kind. The JSON gateway
// needs the kinds (int64 as strings, bytes as base64, enums by name), the field order (output follows field numbers)
// and the numbers (the protobuf size of a request decides etcd's size errors); the gRPC front end encodes and decodes
// protobuf from the same table. Numbers and names are from etcd 3.4's rpc.proto, kv.proto, auth.proto, v3lock.proto
// and v3election.proto (a copy in src/grpc/protos/; test/grpc/schema.test.ts checks this table against it).

export interface EnumDesc {
  /** the Go type name jsonpb prints in errors, e.g. etcdserverpb.RangeRequest_SortOrder */
  readonly goName: string;
  readonly byName: Readonly<Record<string, number>>;
  readonly byNumber: ReadonlyMap<number, string>;
}

export type ScalarKind = 'int64' | 'uint64' | 'int32' | 'uint32' | 'bool' | 'string' | 'bytes';

export interface FieldDesc {
  readonly name: string;
  /** protoc's json_name: the lowerCamelCase spelling jsonpb also accepts on input */
  readonly camel: string;
  readonly num: number;
  readonly kind: ScalarKind | 'enum' | 'message';
  readonly repeated: boolean;
  readonly enumType?: EnumDesc;
  readonly message?: () => MessageDesc;
  /** members of a oneof are emitted even when zero */
  readonly oneof: boolean;
}

export interface MessageDesc {
  readonly goName: string;
  readonly fields: readonly FieldDesc[];
}

function enumDesc(goName: string, byName: Record<string, number>): EnumDesc {
  return { goName, byName, byNumber: new Map(Object.entries(byName).map(([k, v]) => [v, k])) };
}

function camelOf(name: string): string {
  return name.replace(/_([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

type Spec =
  | [name: string, num: number, kind: ScalarKind]
  | [name: string, num: number, kind: ScalarKind | 'enum' | 'message', opts: { repeated?: boolean; enumType?: EnumDesc; message?: () => MessageDesc; oneof?: boolean }];

function msg(goName: string, specs: Spec[]): MessageDesc {
  const fields = specs
    .map((s): FieldDesc => {
      const o = s.length === 4 ? s[3] : {};
      return {
        name: s[0],
        camel: camelOf(s[0]),
        num: s[1],
        kind: s[2],
        repeated: o.repeated === true,
        ...(o.enumType !== undefined ? { enumType: o.enumType } : {}),
        ...(o.message !== undefined ? { message: o.message } : {}),
        oneof: o.oneof === true,
      };
    })
    .sort((a, b) => a.num - b.num);
  return { goName, fields };
}

const m = (f: () => MessageDesc, extra: { repeated?: boolean; oneof?: boolean } = {}) => ({ message: f, ...extra });
const rep = { repeated: true };

export const SortOrderEnum = enumDesc('etcdserverpb.RangeRequest_SortOrder', { NONE: 0, ASCEND: 1, DESCEND: 2 });
export const SortTargetEnum = enumDesc('etcdserverpb.RangeRequest_SortTarget', { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 });
const CompareResultEnum = enumDesc('etcdserverpb.Compare_CompareResult', { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 });
const CompareTargetEnum = enumDesc('etcdserverpb.Compare_CompareTarget', { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 });
const FilterTypeEnum = enumDesc('etcdserverpb.WatchCreateRequest_FilterType', { NOPUT: 0, NODELETE: 1 });
const EventTypeEnum = enumDesc('mvccpb.Event_EventType', { PUT: 0, DELETE: 1 });
const AlarmActionEnum = enumDesc('etcdserverpb.AlarmRequest_AlarmAction', { GET: 0, ACTIVATE: 1, DEACTIVATE: 2 });
const AlarmTypeEnum = enumDesc('etcdserverpb.AlarmType', { NONE: 0, NOSPACE: 1, CORRUPT: 2 });
const PermTypeEnum = enumDesc('authpb.Permission_Type', { READ: 0, WRITE: 1, READWRITE: 2 });

// ---- common, KV ----------------------------------------------------------------------------------------------

export const ResponseHeader: MessageDesc = msg('etcdserverpb.ResponseHeader', [
  ['cluster_id', 1, 'uint64'], ['member_id', 2, 'uint64'], ['revision', 3, 'int64'], ['raft_term', 4, 'uint64'],
]);
const header: Spec = ['header', 1, 'message', m(() => ResponseHeader)];

export const KeyValue: MessageDesc = msg('mvccpb.KeyValue', [
  ['key', 1, 'bytes'], ['create_revision', 2, 'int64'], ['mod_revision', 3, 'int64'], ['version', 4, 'int64'],
  ['value', 5, 'bytes'], ['lease', 6, 'int64'],
]);

export const RangeRequest: MessageDesc = msg('etcdserverpb.RangeRequest', [
  ['key', 1, 'bytes'], ['range_end', 2, 'bytes'], ['limit', 3, 'int64'], ['revision', 4, 'int64'],
  ['sort_order', 5, 'enum', { enumType: SortOrderEnum }], ['sort_target', 6, 'enum', { enumType: SortTargetEnum }],
  ['serializable', 7, 'bool'], ['keys_only', 8, 'bool'], ['count_only', 9, 'bool'],
  ['min_mod_revision', 10, 'int64'], ['max_mod_revision', 11, 'int64'], ['min_create_revision', 12, 'int64'], ['max_create_revision', 13, 'int64'],
]);
export const RangeResponse: MessageDesc = msg('etcdserverpb.RangeResponse', [
  header, ['kvs', 2, 'message', m(() => KeyValue, rep)], ['more', 3, 'bool'], ['count', 4, 'int64'],
]);
export const PutRequest: MessageDesc = msg('etcdserverpb.PutRequest', [
  ['key', 1, 'bytes'], ['value', 2, 'bytes'], ['lease', 3, 'int64'], ['prev_kv', 4, 'bool'], ['ignore_value', 5, 'bool'], ['ignore_lease', 6, 'bool'],
]);
export const PutResponse: MessageDesc = msg('etcdserverpb.PutResponse', [header, ['prev_kv', 2, 'message', m(() => KeyValue)]]);
export const DeleteRangeRequest: MessageDesc = msg('etcdserverpb.DeleteRangeRequest', [['key', 1, 'bytes'], ['range_end', 2, 'bytes'], ['prev_kv', 3, 'bool']]);
export const DeleteRangeResponse: MessageDesc = msg('etcdserverpb.DeleteRangeResponse', [
  header, ['deleted', 2, 'int64'], ['prev_kvs', 3, 'message', m(() => KeyValue, rep)],
]);
export const RequestOp: MessageDesc = msg('etcdserverpb.RequestOp', [
  ['request_range', 1, 'message', m(() => RangeRequest, { oneof: true })],
  ['request_put', 2, 'message', m(() => PutRequest, { oneof: true })],
  ['request_delete_range', 3, 'message', m(() => DeleteRangeRequest, { oneof: true })],
  ['request_txn', 4, 'message', m(() => TxnRequest, { oneof: true })],
]);
export const ResponseOp: MessageDesc = msg('etcdserverpb.ResponseOp', [
  ['response_range', 1, 'message', m(() => RangeResponse, { oneof: true })],
  ['response_put', 2, 'message', m(() => PutResponse, { oneof: true })],
  ['response_delete_range', 3, 'message', m(() => DeleteRangeResponse, { oneof: true })],
  ['response_txn', 4, 'message', m(() => TxnResponse, { oneof: true })],
]);
export const Compare: MessageDesc = msg('etcdserverpb.Compare', [
  ['result', 1, 'enum', { enumType: CompareResultEnum }], ['target', 2, 'enum', { enumType: CompareTargetEnum }], ['key', 3, 'bytes'],
  ['version', 4, 'int64', { oneof: true }], ['create_revision', 5, 'int64', { oneof: true }], ['mod_revision', 6, 'int64', { oneof: true }],
  ['value', 7, 'bytes', { oneof: true }], ['lease', 8, 'int64', { oneof: true }], ['range_end', 64, 'bytes'],
]);
export const TxnRequest: MessageDesc = msg('etcdserverpb.TxnRequest', [
  ['compare', 1, 'message', m(() => Compare, rep)], ['success', 2, 'message', m(() => RequestOp, rep)], ['failure', 3, 'message', m(() => RequestOp, rep)],
]);
export const TxnResponse: MessageDesc = msg('etcdserverpb.TxnResponse', [
  header, ['succeeded', 2, 'bool'], ['responses', 3, 'message', m(() => ResponseOp, rep)],
]);
export const CompactionRequest: MessageDesc = msg('etcdserverpb.CompactionRequest', [['revision', 1, 'int64'], ['physical', 2, 'bool']]);
export const HeaderOnly: MessageDesc = msg('etcdserverpb.HeaderOnlyResponse', [header]);
export const Empty: MessageDesc = msg('etcdserverpb.EmptyRequest', []);

// ---- watch ---------------------------------------------------------------------------------------------------

export const WatchCreateRequest: MessageDesc = msg('etcdserverpb.WatchCreateRequest', [
  ['key', 1, 'bytes'], ['range_end', 2, 'bytes'], ['start_revision', 3, 'int64'], ['progress_notify', 4, 'bool'],
  ['filters', 5, 'enum', { enumType: FilterTypeEnum, repeated: true }], ['prev_kv', 6, 'bool'], ['watch_id', 7, 'int64'], ['fragment', 8, 'bool'],
]);
export const WatchRequest: MessageDesc = msg('etcdserverpb.WatchRequest', [
  ['create_request', 1, 'message', m(() => WatchCreateRequest, { oneof: true })],
  ['cancel_request', 2, 'message', m(() => msg('etcdserverpb.WatchCancelRequest', [['watch_id', 1, 'int64']]), { oneof: true })],
  ['progress_request', 3, 'message', m(() => Empty, { oneof: true })],
]);
export const Event: MessageDesc = msg('mvccpb.Event', [
  ['type', 1, 'enum', { enumType: EventTypeEnum }], ['kv', 2, 'message', m(() => KeyValue)], ['prev_kv', 3, 'message', m(() => KeyValue)],
]);
export const WatchResponse: MessageDesc = msg('etcdserverpb.WatchResponse', [
  header, ['watch_id', 2, 'int64'], ['created', 3, 'bool'], ['canceled', 4, 'bool'], ['compact_revision', 5, 'int64'],
  ['cancel_reason', 6, 'string'], ['fragment', 7, 'bool'], ['events', 11, 'message', m(() => Event, rep)],
]);

// ---- lease ---------------------------------------------------------------------------------------------------

export const LeaseGrantRequest: MessageDesc = msg('etcdserverpb.LeaseGrantRequest', [['TTL', 1, 'int64'], ['ID', 2, 'int64']]);
export const LeaseGrantResponse: MessageDesc = msg('etcdserverpb.LeaseGrantResponse', [header, ['ID', 2, 'int64'], ['TTL', 3, 'int64'], ['error', 4, 'string']]);
export const LeaseIdRequest: MessageDesc = msg('etcdserverpb.LeaseRevokeRequest', [['ID', 1, 'int64']]);
export const LeaseKeepAliveResponse: MessageDesc = msg('etcdserverpb.LeaseKeepAliveResponse', [header, ['ID', 2, 'int64'], ['TTL', 3, 'int64']]);
export const LeaseTimeToLiveRequest: MessageDesc = msg('etcdserverpb.LeaseTimeToLiveRequest', [['ID', 1, 'int64'], ['keys', 2, 'bool']]);
export const LeaseTimeToLiveResponse: MessageDesc = msg('etcdserverpb.LeaseTimeToLiveResponse', [
  header, ['ID', 2, 'int64'], ['TTL', 3, 'int64'], ['grantedTTL', 4, 'int64'], ['keys', 5, 'bytes', { repeated: true }],
]);
export const LeaseLeasesResponse: MessageDesc = msg('etcdserverpb.LeaseLeasesResponse', [
  header, ['leases', 2, 'message', m(() => msg('etcdserverpb.LeaseStatus', [['ID', 1, 'int64']]), rep)],
]);

// ---- cluster -------------------------------------------------------------------------------------------------

export const Member: MessageDesc = msg('etcdserverpb.Member', [
  ['ID', 1, 'uint64'], ['name', 2, 'string'], ['peerURLs', 3, 'string', { repeated: true }], ['clientURLs', 4, 'string', { repeated: true }], ['isLearner', 5, 'bool'],
]);
export const MemberAddRequest: MessageDesc = msg('etcdserverpb.MemberAddRequest', [['peerURLs', 1, 'string', { repeated: true }], ['isLearner', 2, 'bool']]);
export const MemberAddResponse: MessageDesc = msg('etcdserverpb.MemberAddResponse', [
  header, ['member', 2, 'message', m(() => Member)], ['members', 3, 'message', m(() => Member, rep)],
]);
export const MemberIdRequest: MessageDesc = msg('etcdserverpb.MemberRemoveRequest', [['ID', 1, 'uint64']]);
export const MemberUpdateRequest: MessageDesc = msg('etcdserverpb.MemberUpdateRequest', [['ID', 1, 'uint64'], ['peerURLs', 2, 'string', { repeated: true }]]);
export const MembersResponse: MessageDesc = msg('etcdserverpb.MemberListResponse', [header, ['members', 2, 'message', m(() => Member, rep)]]);

// ---- maintenance ---------------------------------------------------------------------------------------------

export const AlarmRequest: MessageDesc = msg('etcdserverpb.AlarmRequest', [
  ['action', 1, 'enum', { enumType: AlarmActionEnum }], ['memberID', 2, 'uint64'], ['alarm', 3, 'enum', { enumType: AlarmTypeEnum }],
]);
export const AlarmResponse: MessageDesc = msg('etcdserverpb.AlarmResponse', [
  header, ['alarms', 2, 'message', m(() => msg('etcdserverpb.AlarmMember', [['memberID', 1, 'uint64'], ['alarm', 2, 'enum', { enumType: AlarmTypeEnum }]]), rep)],
]);
export const StatusResponse: MessageDesc = msg('etcdserverpb.StatusResponse', [
  header, ['version', 2, 'string'], ['dbSize', 3, 'int64'], ['leader', 4, 'uint64'], ['raftIndex', 5, 'uint64'], ['raftTerm', 6, 'uint64'],
  ['raftAppliedIndex', 7, 'uint64'], ['errors', 8, 'string', { repeated: true }], ['dbSizeInUse', 9, 'int64'], ['isLearner', 10, 'bool'],
]);
export const HashKVRequest: MessageDesc = msg('etcdserverpb.HashKVRequest', [['revision', 1, 'int64']]);
export const MoveLeaderRequest: MessageDesc = msg('etcdserverpb.MoveLeaderRequest', [['targetID', 1, 'uint64']]);

// ---- auth ----------------------------------------------------------------------------------------------------

const Permission: MessageDesc = msg('authpb.Permission', [['permType', 1, 'enum', { enumType: PermTypeEnum }], ['key', 2, 'bytes'], ['range_end', 3, 'bytes']]);
/** etcd 3.5's AuthStatusResponse (authRevision is a uint64 there) */
export const AuthStatusResponse: MessageDesc = msg('etcdserverpb.AuthStatusResponse', [header, ['enabled', 2, 'bool'], ['authRevision', 3, 'uint64']]);
export const AuthenticateResponse: MessageDesc = msg('etcdserverpb.AuthenticateResponse', [header, ['token', 2, 'string']]);
export const AuthUserGetResponse: MessageDesc = msg('etcdserverpb.AuthUserGetResponse', [header, ['roles', 2, 'string', { repeated: true }]]);
export const AuthUserListResponse: MessageDesc = msg('etcdserverpb.AuthUserListResponse', [header, ['users', 2, 'string', { repeated: true }]]);
export const AuthRoleGetResponse: MessageDesc = msg('etcdserverpb.AuthRoleGetResponse', [header, ['perm', 2, 'message', m(() => Permission, rep)]]);
export const AuthRoleListResponse: MessageDesc = msg('etcdserverpb.AuthRoleListResponse', [header, ['roles', 2, 'string', { repeated: true }]]);
export const AuthenticateRequest: MessageDesc = msg('etcdserverpb.AuthenticateRequest', [['name', 1, 'string'], ['password', 2, 'string']]);
export const AuthUserAddRequest: MessageDesc = msg('etcdserverpb.AuthUserAddRequest', [
  ['name', 1, 'string'], ['password', 2, 'string'], ['options', 3, 'message', m(() => msg('authpb.UserAddOptions', [['no_password', 1, 'bool']]))],
]);
export const AuthNameRequest: MessageDesc = msg('etcdserverpb.AuthUserGetRequest', [['name', 1, 'string']]);
export const AuthUserChangePasswordRequest: MessageDesc = msg('etcdserverpb.AuthUserChangePasswordRequest', [['name', 1, 'string'], ['password', 2, 'string']]);
export const AuthUserGrantRoleRequest: MessageDesc = msg('etcdserverpb.AuthUserGrantRoleRequest', [['user', 1, 'string'], ['role', 2, 'string']]);
export const AuthUserRevokeRoleRequest: MessageDesc = msg('etcdserverpb.AuthUserRevokeRoleRequest', [['name', 1, 'string'], ['role', 2, 'string']]);
export const AuthRoleRequest: MessageDesc = msg('etcdserverpb.AuthRoleGetRequest', [['role', 1, 'string']]);
export const AuthRoleGrantPermissionRequest: MessageDesc = msg('etcdserverpb.AuthRoleGrantPermissionRequest', [
  ['name', 1, 'string'], ['perm', 2, 'message', m(() => Permission)],
]);
export const AuthRoleRevokePermissionRequest: MessageDesc = msg('etcdserverpb.AuthRoleRevokePermissionRequest', [
  ['role', 1, 'string'], ['key', 2, 'bytes'], ['range_end', 3, 'bytes'],
]);

// ---- lock and election ---------------------------------------------------------------------------------------

export const LockRequest: MessageDesc = msg('v3lockpb.LockRequest', [['name', 1, 'bytes'], ['lease', 2, 'int64']]);
export const LockResponse: MessageDesc = msg('v3lockpb.LockResponse', [header, ['key', 2, 'bytes']]);
export const UnlockRequest: MessageDesc = msg('v3lockpb.UnlockRequest', [['key', 1, 'bytes']]);
export const LeaderKey: MessageDesc = msg('v3electionpb.LeaderKey', [['name', 1, 'bytes'], ['key', 2, 'bytes'], ['rev', 3, 'int64'], ['lease', 4, 'int64']]);
export const CampaignRequest: MessageDesc = msg('v3electionpb.CampaignRequest', [['name', 1, 'bytes'], ['lease', 2, 'int64'], ['value', 3, 'bytes']]);
export const CampaignResponse: MessageDesc = msg('v3electionpb.CampaignResponse', [header, ['leader', 2, 'message', m(() => LeaderKey)]]);
export const ProclaimRequest: MessageDesc = msg('v3electionpb.ProclaimRequest', [['leader', 1, 'message', m(() => LeaderKey)], ['value', 2, 'bytes']]);
export const LeaderRequest: MessageDesc = msg('v3electionpb.LeaderRequest', [['name', 1, 'bytes']]);
export const LeaderResponse: MessageDesc = msg('v3electionpb.LeaderResponse', [header, ['kv', 2, 'message', m(() => KeyValue)]]);
export const ResignRequest: MessageDesc = msg('v3electionpb.ResignRequest', [['leader', 1, 'message', m(() => LeaderKey)]]);
