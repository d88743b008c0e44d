// The request/response schema, in etcd's own proto field names (etcdserverpb, mvccpb). Every front end (binary
// protocol, JSON gateway, WebSocket) is an adapter over these shapes.
//
// Number conventions: revisions, versions, counts and limits are JS numbers (int64 on the wire, always within
// Number.MAX_SAFE_INTEGER in practice); identifiers that use the full 64 bits (cluster_id, member_id, lease IDs) are
// bigints.

export type Bytes = Uint8Array;

export interface ResponseHeader {
  cluster_id: bigint;
  member_id: bigint;
  revision: number;
  raft_term: number;
}

export interface KeyValue {
  key: Bytes;
  create_revision: number;
  mod_revision: number;
  version: number;
  value: Bytes;
  lease: bigint;
}

export const SortOrder = { NONE: 0, ASCEND: 1, DESCEND: 2 } as const;
export const SortTarget = { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const;
export const CompareResult = { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const;
export const CompareTarget = { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const;

export interface RangeRequest {
  key: Bytes;
  range_end?: Bytes;
  limit?: number;
  revision?: number;
  sort_order?: number;
  sort_target?: number;
  serializable?: boolean;
  keys_only?: boolean;
  count_only?: boolean;
  min_mod_revision?: number;
  max_mod_revision?: number;
  min_create_revision?: number;
  max_create_revision?: number;
}
export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key: Bytes;
  value?: Bytes;
  lease?: bigint;
  prev_kv?: boolean;
  ignore_value?: boolean;
  ignore_lease?: boolean;
}
export interface PutResponse {
  header: ResponseHeader;
  prev_kv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: Bytes;
  range_end?: Bytes;
  prev_kv?: boolean;
}
export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prev_kvs: KeyValue[];
}

export interface Compare {
  result: number;
  target: number;
  key: Bytes;
  range_end?: Bytes;
  /** exactly one of these, chosen by target */
  version?: number;
  create_revision?: number;
  mod_revision?: number;
  value?: Bytes;
  lease?: bigint;
}

export interface RequestOp {
  request_range?: RangeRequest;
  request_put?: PutRequest;
  request_delete_range?: DeleteRangeRequest;
  request_txn?: TxnRequest;
}
export interface ResponseOp {
  response_range?: RangeResponse;
  response_put?: PutResponse;
  response_delete_range?: DeleteRangeResponse;
  response_txn?: TxnResponse;
}

export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}
export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  physical?: boolean;
}
export interface CompactionResponse {
  header: ResponseHeader;
}

export interface StatusRequest {}
export interface StatusResponse {
  header: ResponseHeader;
  version: string;
  dbSize: number;
  leader: bigint;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  errors: string[];
  dbSizeInUse: number;
  isLearner: boolean;
}

export interface Member {
  ID: bigint;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface MemberListRequest {}
export interface MemberListResponse {
  header: ResponseHeader;
  members: Member[];
}
export interface MemberAddRequest {
  peerURLs: string[];
  isLearner?: boolean;
}
export interface MemberAddResponse {
  header: ResponseHeader;
  member: Member;
  members: Member[];
}
export interface MemberRemoveRequest {
  ID: bigint;
}
export interface MemberRemoveResponse {
  header: ResponseHeader;
  members: Member[];
}
export interface MemberUpdateRequest {
  ID: bigint;
  peerURLs: string[];
}
export interface MemberUpdateResponse {
  header: ResponseHeader;
  members: Member[];
}
export interface MemberPromoteRequest {
  ID: bigint;
}
export interface MemberPromoteResponse {
  header: ResponseHeader;
  members: Member[];
}
export interface MoveLeaderRequest {
  targetID: bigint;
}
/** etcd 3.4 answers MoveLeader with an empty message: no header (v3rpc's maintenanceServer.MoveLeader). */
export interface MoveLeaderResponse {
  header?: ResponseHeader;
}

// ---- Watch (a stream) -----------------------------------------------------------------------------------------

export const WatchFilterType = { NOPUT: 0, NODELETE: 1 } as const;
export const EventType = { PUT: 0, DELETE: 1 } as const;

export interface WatchCreateRequest {
  key: Bytes;
  range_end?: Bytes;
  start_revision?: number;
  progress_notify?: boolean;
  filters?: number[];
  prev_kv?: boolean;
  watch_id?: number;
  fragment?: boolean;
}
export interface WatchCancelRequest {
  watch_id: number;
}
export interface WatchRequest {
  create_request?: WatchCreateRequest;
  cancel_request?: WatchCancelRequest;
  progress_request?: Record<string, never>;
}
export interface Event {
  /** PUT = 0, DELETE = 1 */
  type: number;
  kv: KeyValue;
  prev_kv?: KeyValue;
}
export interface WatchResponse {
  header: ResponseHeader;
  watch_id: number;
  created?: boolean;
  canceled?: boolean;
  compact_revision?: number;
  cancel_reason?: string;
  fragment?: boolean;
  events: Event[];
}

// ---- Lease --------------------------------------------------------------------------------------------------

export interface LeaseGrantRequest {
  TTL: number;
  ID?: bigint;
}
export interface LeaseGrantResponse {
  header: ResponseHeader;
  ID: bigint;
  TTL: number;
  error?: string;
}
export interface LeaseRevokeRequest {
  ID: bigint;
}
export interface LeaseRevokeResponse {
  header: ResponseHeader;
}
export interface LeaseKeepAliveRequest {
  ID: bigint;
}
export interface LeaseKeepAliveResponse {
  header: ResponseHeader;
  ID: bigint;
  TTL: number;
}
export interface LeaseTimeToLiveRequest {
  ID: bigint;
  keys?: boolean;
}
export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  ID: bigint;
  TTL: number;
  grantedTTL: number;
  keys: Bytes[];
}
export type LeaseLeasesRequest = Record<string, never>;
export interface LeaseLeasesResponse {
  header: ResponseHeader;
  leases: { ID: bigint }[];
}

// ---- Lock and Election (etcd's v3lock / v3election) --------------------------------------------------------

export interface LockRequest {
  name: Bytes;
  lease: bigint;
}
export interface LockResponse {
  header: ResponseHeader;
  key: Bytes;
}
export interface UnlockRequest {
  key: Bytes;
}
export interface UnlockResponse {
  header: ResponseHeader;
}
export interface LeaderKey {
  name: Bytes;
  key: Bytes;
  rev: number;
  lease: bigint;
}
export interface CampaignRequest {
  name: Bytes;
  lease: bigint;
  value?: Bytes;
}
export interface CampaignResponse {
  header: ResponseHeader;
  leader: LeaderKey;
}
export interface ProclaimRequest {
  leader?: LeaderKey;
  value?: Bytes;
}
export interface ProclaimResponse {
  header: ResponseHeader;
}
export interface LeaderRequest {
  name: Bytes;
}
export interface LeaderResponse {
  header: ResponseHeader;
  kv?: KeyValue;
}
export interface ResignRequest {
  leader?: LeaderKey;
}
export interface ResignResponse {
  header: ResponseHeader;
}

// ---- auth (etcdserverpb.Auth; authpb) ---------------------------------------------------------------------------

/** authpb.Permission.Type */
export const PermissionType = { READ: 0, WRITE: 1, READWRITE: 2 } as const;
export interface Permission {
  permType: number;
  key: Bytes;
  /** empty: the key alone; "\0": every key from `key` on; else [key, range_end) */
  range_end: Bytes;
}
export interface AuthEnableRequest {}
export interface AuthDisableRequest {}
export interface AuthStatusRequest {}
export interface AuthHeaderResponse {
  header: ResponseHeader;
}
/** etcd 3.5's AuthStatus */
export interface AuthStatusResponse {
  header: ResponseHeader;
  enabled: boolean;
  authRevision: number;
}
export interface AuthenticateRequest {
  name: string;
  password: string;
}
export interface AuthenticateResponse {
  header: ResponseHeader;
  token: string;
}
export interface AuthUserAddRequest {
  name: string;
  password: string;
  options?: { no_password: boolean };
}
export interface AuthUserGetRequest {
  name: string;
}
export interface AuthUserGetResponse {
  header: ResponseHeader;
  roles: string[];
}
export interface AuthUserDeleteRequest {
  name: string;
}
export interface AuthUserChangePasswordRequest {
  name: string;
  password: string;
}
export interface AuthUserGrantRoleRequest {
  user: string;
  role: string;
}
export interface AuthUserRevokeRoleRequest {
  name: string;
  role: string;
}
export interface AuthRoleAddRequest {
  name: string;
}
export interface AuthRoleGetRequest {
  role: string;
}
export interface AuthRoleGetResponse {
  header: ResponseHeader;
  perm: Permission[];
}
export interface AuthUserListRequest {}
export interface AuthUserListResponse {
  header: ResponseHeader;
  users: string[];
}
export interface AuthRoleListRequest {}
export interface AuthRoleListResponse {
  header: ResponseHeader;
  roles: string[];
}
export interface AuthRoleDeleteRequest {
  role: string;
}
export interface AuthRoleGrantPermissionRequest {
  name: string;
  /** absent: refused with `permission not given` (etcd 3.4.25) */
  perm?: Permission;
}
export interface AuthRoleRevokePermissionRequest {
  role: string;
  key: Bytes;
  range_end: Bytes;
}

/** Methods the binary protocol serves, by etcd's RPC name. */
export interface Methods {
  Range: [RangeRequest, RangeResponse];
  Put: [PutRequest, PutResponse];
  DeleteRange: [DeleteRangeRequest, DeleteRangeResponse];
  Txn: [TxnRequest, TxnResponse];
  Compact: [CompactionRequest, CompactionResponse];
  Status: [StatusRequest, StatusResponse];
  MemberList: [MemberListRequest, MemberListResponse];
  MemberAdd: [MemberAddRequest, MemberAddResponse];
  MemberRemove: [MemberRemoveRequest, MemberRemoveResponse];
  MemberUpdate: [MemberUpdateRequest, MemberUpdateResponse];
  MemberPromote: [MemberPromoteRequest, MemberPromoteResponse];
  MoveLeader: [MoveLeaderRequest, MoveLeaderResponse];
  LeaseGrant: [LeaseGrantRequest, LeaseGrantResponse];
  LeaseRevoke: [LeaseRevokeRequest, LeaseRevokeResponse];
  LeaseTimeToLive: [LeaseTimeToLiveRequest, LeaseTimeToLiveResponse];
  LeaseLeases: [LeaseLeasesRequest, LeaseLeasesResponse];
  Lock: [LockRequest, LockResponse];
  Unlock: [UnlockRequest, UnlockResponse];
  Campaign: [CampaignRequest, CampaignResponse];
  Proclaim: [ProclaimRequest, ProclaimResponse];
  Leader: [LeaderRequest, LeaderResponse];
  Resign: [ResignRequest, ResignResponse];
  AuthEnable: [AuthEnableRequest, AuthHeaderResponse];
  AuthDisable: [AuthDisableRequest, AuthHeaderResponse];
  AuthStatus: [AuthStatusRequest, AuthStatusResponse];
  Authenticate: [AuthenticateRequest, AuthenticateResponse];
  UserAdd: [AuthUserAddRequest, AuthHeaderResponse];
  UserGet: [AuthUserGetRequest, AuthUserGetResponse];
  UserList: [AuthUserListRequest, AuthUserListResponse];
  UserDelete: [AuthUserDeleteRequest, AuthHeaderResponse];
  UserChangePassword: [AuthUserChangePasswordRequest, AuthHeaderResponse];
  UserGrantRole: [AuthUserGrantRoleRequest, AuthHeaderResponse];
  UserRevokeRole: [AuthUserRevokeRoleRequest, AuthHeaderResponse];
  RoleAdd: [AuthRoleAddRequest, AuthHeaderResponse];
  RoleGet: [AuthRoleGetRequest, AuthRoleGetResponse];
  RoleList: [AuthRoleListRequest, AuthRoleListResponse];
  RoleDelete: [AuthRoleDeleteRequest, AuthHeaderResponse];
  RoleGrantPermission: [AuthRoleGrantPermissionRequest, AuthHeaderResponse];
  RoleRevokePermission: [AuthRoleRevokePermissionRequest, AuthHeaderResponse];
}
export type MethodName = keyof Methods;
export type RequestOf<M extends MethodName> = Methods[M][0];
export type ResponseOf<M extends MethodName> = Methods[M][1];
export const METHOD_NAMES: readonly MethodName[] = [
  'Range', 'Put', 'DeleteRange', 'Txn', 'Compact', 'Status',
  'MemberList', 'MemberAdd', 'MemberRemove', 'MemberUpdate', 'MemberPromote', 'MoveLeader',
  'LeaseGrant', 'LeaseRevoke', 'LeaseTimeToLive', 'LeaseLeases',
  'Lock', 'Unlock', 'Campaign', 'Proclaim', 'Leader', 'Resign',
  'AuthEnable', 'AuthDisable', 'AuthStatus', 'Authenticate',
  'UserAdd', 'UserGet', 'UserList', 'UserDelete', 'UserChangePassword', 'UserGrantRole', 'UserRevokeRole',
  'RoleAdd', 'RoleGet', 'RoleList', 'RoleDelete', 'RoleGrantPermission', 'RoleRevokePermission',
];

/**
 * Streams (etcd's bidirectional or server-streaming RPCs): the first StreamMessage frame with a new id opens one,
 * further client messages go on the same id; the server answers with StreamMessage frames and ends with StreamEnd.
 */
export interface StreamMethods {
  Watch: [WatchRequest, WatchResponse];
  LeaseKeepAlive: [LeaseKeepAliveRequest, LeaseKeepAliveResponse];
  Observe: [LeaderRequest, LeaderResponse];
}
export type StreamMethodName = keyof StreamMethods;
export const STREAM_METHOD_NAMES: readonly StreamMethodName[] = ['Watch', 'LeaseKeepAlive', 'Observe'];
