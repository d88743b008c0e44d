// etcd's gRPC services as etcd 3.4 registers them (etcdserverpb, v3lockpb, v3electionpb, and grpc-go's health
// service): each method's full name, the messages it reads and writes, and what answers it: the member's method table
// (src/server/methods.ts), its streams, or the fixed answers shared with the JSON gateway (src/server/fixed-methods.ts).

import { etcdError } from '../errors/index.js';
import { Schema as S, type MessageDesc, type MethodName, type StreamMethodName } from '../proto/index.js';
import { callFixed, METHODS, type CallContext, type EtcdServer, type FixedMethod, type FixedMethodName } from '../server/index.js';

export interface UnaryRoute {
  readonly kind: 'unary';
  readonly request: MessageDesc;
  readonly response: MessageDesc;
  /** the method table's method; absent for a fixed answer */
  readonly method?: MethodName;
  readonly fixed?: (server: EtcdServer, request: Record<string, unknown>, ctx: CallContext) => unknown;
  /** a write through Raft: etcd refuses it above --max-request-bytes with `request is too large` */
  readonly proposal: boolean;
}

export interface StreamRoute {
  readonly kind: 'stream';
  readonly method: StreamMethodName;
  readonly request: MessageDesc;
  readonly response: MessageDesc;
  /** bidirectional (Watch, LeaseKeepAlive); otherwise one request, then the server's stream (Observe) */
  readonly bidi: boolean;
}

export type Route = UnaryRoute | StreamRoute;

function method(name: MethodName, request: MessageDesc, response: MessageDesc): UnaryRoute {
  return { kind: 'unary', request, response, method: name, proposal: METHODS[name].proposal };
}

/** A fixed answer (server/fixed-methods.ts), behind etcd's auth checks for it (callFixed). */
function fixed(name: FixedMethodName, request: MessageDesc, response: MessageDesc): UnaryRoute {
  return { kind: 'unary', request, response, fixed: (server, r, ctx) => callFixed(server, name, r, ctx), proposal: false };
}

function stream(name: StreamMethodName, request: MessageDesc, response: MessageDesc, bidi: boolean): StreamRoute {
  return { kind: 'stream', method: name, request, response, bidi };
}

// grpc.health.v1 (grpc-go's health server, which etcd registers with status SERVING for the empty service name)
const HealthCheckRequest: MessageDesc = {
  goName: 'grpc_health_v1.HealthCheckRequest',
  fields: [{ name: 'service', camel: 'service', num: 1, kind: 'string', repeated: false, oneof: false }],
};
const HealthCheckResponse: MessageDesc = {
  goName: 'grpc_health_v1.HealthCheckResponse',
  fields: [{ name: 'status', camel: 'status', num: 1, kind: 'enum', repeated: false, oneof: false }],
};
const SERVING = 1;
const healthCheck: FixedMethod = (_server, r) => {
  if (typeof r['service'] === 'string' && r['service'] !== '') throw etcdError('HealthUnknownService');
  return { status: SERVING };
};

/** Services by full name, each with its methods by name. */
export const SERVICES: ReadonlyMap<string, ReadonlyMap<string, Route>> = new Map<string, Map<string, Route>>([
  ['etcdserverpb.KV', new Map<string, Route>([
    ['Range', method('Range', S.RangeRequest, S.RangeResponse)],
    ['Put', method('Put', S.PutRequest, S.PutResponse)],
    ['DeleteRange', method('DeleteRange', S.DeleteRangeRequest, S.DeleteRangeResponse)],
    ['Txn', method('Txn', S.TxnRequest, S.TxnResponse)],
    ['Compact', method('Compact', S.CompactionRequest, S.HeaderOnly)],
  ])],
  ['etcdserverpb.Watch', new Map<string, Route>([
    ['Watch', stream('Watch', S.WatchRequest, S.WatchResponse, true)],
  ])],
  ['etcdserverpb.Lease', new Map<string, Route>([
    ['LeaseGrant', method('LeaseGrant', S.LeaseGrantRequest, S.LeaseGrantResponse)],
    ['LeaseRevoke', method('LeaseRevoke', S.LeaseIdRequest, S.HeaderOnly)],
    ['LeaseKeepAlive', stream('LeaseKeepAlive', S.LeaseIdRequest, S.LeaseKeepAliveResponse, true)],
    ['LeaseTimeToLive', method('LeaseTimeToLive', S.LeaseTimeToLiveRequest, S.LeaseTimeToLiveResponse)],
    ['LeaseLeases', method('LeaseLeases', S.Empty, S.LeaseLeasesResponse)],
  ])],
  ['etcdserverpb.Cluster', new Map<string, Route>([
    ['MemberAdd', method('MemberAdd', S.MemberAddRequest, S.MemberAddResponse)],
    ['MemberRemove', method('MemberRemove', S.MemberIdRequest, S.MembersResponse)],
    ['MemberUpdate', method('MemberUpdate', S.MemberUpdateRequest, S.MembersResponse)],
    ['MemberList', method('MemberList', S.Empty, S.MembersResponse)],
    ['MemberPromote', method('MemberPromote', S.MemberIdRequest, S.MembersResponse)],
  ])],
  ['etcdserverpb.Maintenance', new Map<string, Route>([
    ['Alarm', fixed('Alarm', S.AlarmRequest, S.AlarmResponse)],
    ['Status', method('Status', S.Empty, S.StatusResponse)],
    ['Defragment', fixed('Defragment', S.Empty, S.HeaderOnly)],
    ['Hash', fixed('Hash', S.Empty, S.HeaderOnly)],
    ['HashKV', fixed('HashKV', S.HashKVRequest, S.HeaderOnly)],
    // a server stream in etcd; refused before any message, so it is answered as a unary call
    ['Snapshot', fixed('Snapshot', S.Empty, S.HeaderOnly)],
    ['MoveLeader', method('MoveLeader', S.MoveLeaderRequest, S.HeaderOnly)],
  ])],
  ['etcdserverpb.Auth', new Map<string, Route>([
    ['AuthEnable', method('AuthEnable', S.Empty, S.HeaderOnly)],
    ['AuthDisable', method('AuthDisable', S.Empty, S.HeaderOnly)],
    ['AuthStatus', method('AuthStatus', S.Empty, S.AuthStatusResponse)],
    ['Authenticate', method('Authenticate', S.AuthenticateRequest, S.AuthenticateResponse)],
    ['UserAdd', method('UserAdd', S.AuthUserAddRequest, S.HeaderOnly)],
    ['UserGet', method('UserGet', S.AuthNameRequest, S.AuthUserGetResponse)],
    ['UserList', method('UserList', S.Empty, S.AuthUserListResponse)],
    ['UserDelete', method('UserDelete', S.AuthNameRequest, S.HeaderOnly)],
    ['UserChangePassword', method('UserChangePassword', S.AuthUserChangePasswordRequest, S.HeaderOnly)],
    ['UserGrantRole', method('UserGrantRole', S.AuthUserGrantRoleRequest, S.HeaderOnly)],
    ['UserRevokeRole', method('UserRevokeRole', S.AuthUserRevokeRoleRequest, S.HeaderOnly)],
    ['RoleAdd', method('RoleAdd', S.AuthNameRequest, S.HeaderOnly)],
    ['RoleGet', method('RoleGet', S.AuthRoleRequest, S.AuthRoleGetResponse)],
    ['RoleList', method('RoleList', S.Empty, S.AuthRoleListResponse)],
    ['RoleDelete', method('RoleDelete', S.AuthRoleRequest, S.HeaderOnly)],
    ['RoleGrantPermission', method('RoleGrantPermission', S.AuthRoleGrantPermissionRequest, S.HeaderOnly)],
    ['RoleRevokePermission', method('RoleRevokePermission', S.AuthRoleRevokePermissionRequest, S.HeaderOnly)],
  ])],
  ['v3lockpb.Lock', new Map<string, Route>([
    ['Lock', method('Lock', S.LockRequest, S.LockResponse)],
    ['Unlock', method('Unlock', S.UnlockRequest, S.HeaderOnly)],
  ])],
  ['v3electionpb.Election', new Map<string, Route>([
    ['Campaign', method('Campaign', S.CampaignRequest, S.CampaignResponse)],
    ['Proclaim', method('Proclaim', S.ProclaimRequest, S.HeaderOnly)],
    ['Leader', method('Leader', S.LeaderRequest, S.LeaderResponse)],
    ['Observe', stream('Observe', S.LeaderRequest, S.LeaderResponse, false)],
    ['Resign', method('Resign', S.ResignRequest, S.HeaderOnly)],
  ])],
  ['grpc.health.v1.Health', new Map<string, Route>([
    ['Check', { kind: 'unary', request: HealthCheckRequest, response: HealthCheckResponse, fixed: healthCheck, proposal: false }],
  ])],
]);
