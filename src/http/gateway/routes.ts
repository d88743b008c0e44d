// The gateway's paths, as etcd 3.4 registers them: each /v3/ path, the messages it reads and writes, and the member
// call behind it. Requests go through proto/validate.ts exactly as on the binary protocol.
//
// etcd 3.4 has no /v3/maintenance/downgrade, and binds HashKV to /v3/maintenance/hash (fixed in 3.5), so
// /v3/maintenance/hashkv answers 404 there; we answer as 3.4 does. /v3/auth/status is etcd 3.5's (AuthStatus). Every
// call carries the request's Authorization header (the raw token, as etcd's gateway takes it) as its credentials.

import { Schema as S, type MessageDesc, type MethodName, type StreamMethodName } from '../../proto/index.js';
import { callFixed, callMethod, METHODS, type EtcdServer, type FixedMethodName, type RequestAuth } from '../../server/index.js';

export interface UnaryRoute {
  readonly kind: 'unary';
  readonly request: MessageDesc;
  readonly response: MessageDesc;
  /** a write through Raft: etcd refuses it above --max-request-bytes with `request is too large` */
  readonly proposal: boolean;
  /** a server stream in etcd (Snapshot) answered here in one piece: its refusals are grpc-gateway's stream error chunk */
  readonly serverStream?: boolean;
  /**
   * `signal` is aborted when the client goes away before the answer (a waiting Lock or Campaign withdraws); `auth`:
   * the request's credentials
   */
  call(server: EtcdServer, request: Record<string, unknown>, signal: AbortSignal, auth: RequestAuth | undefined): unknown;
}

export interface StreamRoute {
  readonly kind: 'stream';
  readonly method: StreamMethodName;
  readonly request: MessageDesc;
  readonly response: MessageDesc;
  /** bidirectional: the body is a sequence of requests; otherwise one request, then a server stream */
  readonly bidi: boolean;
}

export type Route = UnaryRoute | StreamRoute;

/** A path served by the member's method table (src/server/methods.ts). */
function method(name: MethodName, request: MessageDesc, response: MessageDesc): UnaryRoute {
  return {
    kind: 'unary',
    request,
    response,
    proposal: METHODS[name].proposal,
    call: (server, body, signal, auth) => callMethod(server, name, body, auth === undefined ? { signal } : { signal, auth }),
  };
}

function fixed(request: MessageDesc, response: MessageDesc, name: FixedMethodName): UnaryRoute {
  return { kind: 'unary', request, response, proposal: false, serverStream: name === 'Snapshot', call: (server, body, _signal, auth) => callFixed(server, name, body, auth === undefined ? {} : { auth }) };
}

export const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/v3/kv/range', method('Range', S.RangeRequest, S.RangeResponse)],
  ['/v3/kv/put', method('Put', S.PutRequest, S.PutResponse)],
  ['/v3/kv/deleterange', method('DeleteRange', S.DeleteRangeRequest, S.DeleteRangeResponse)],
  ['/v3/kv/txn', method('Txn', S.TxnRequest, S.TxnResponse)],
  ['/v3/kv/compaction', method('Compact', S.CompactionRequest, S.HeaderOnly)],

  ['/v3/watch', { kind: 'stream', method: 'Watch', request: S.WatchRequest, response: S.WatchResponse, bidi: true }],

  ['/v3/lease/grant', method('LeaseGrant', S.LeaseGrantRequest, S.LeaseGrantResponse)],
  ['/v3/lease/revoke', method('LeaseRevoke', S.LeaseIdRequest, S.HeaderOnly)],
  ['/v3/kv/lease/revoke', method('LeaseRevoke', S.LeaseIdRequest, S.HeaderOnly)],
  ['/v3/lease/keepalive', { kind: 'stream', method: 'LeaseKeepAlive', request: S.LeaseIdRequest, response: S.LeaseKeepAliveResponse, bidi: true }],
  ['/v3/lease/timetolive', method('LeaseTimeToLive', S.LeaseTimeToLiveRequest, S.LeaseTimeToLiveResponse)],
  ['/v3/kv/lease/timetolive', method('LeaseTimeToLive', S.LeaseTimeToLiveRequest, S.LeaseTimeToLiveResponse)],
  ['/v3/lease/leases', method('LeaseLeases', S.Empty, S.LeaseLeasesResponse)],
  ['/v3/kv/lease/leases', method('LeaseLeases', S.Empty, S.LeaseLeasesResponse)],

  ['/v3/cluster/member/add', method('MemberAdd', S.MemberAddRequest, S.MemberAddResponse)],
  ['/v3/cluster/member/remove', method('MemberRemove', S.MemberIdRequest, S.MembersResponse)],
  ['/v3/cluster/member/update', method('MemberUpdate', S.MemberUpdateRequest, S.MembersResponse)],
  ['/v3/cluster/member/list', method('MemberList', S.Empty, S.MembersResponse)],
  ['/v3/cluster/member/promote', method('MemberPromote', S.MemberIdRequest, S.MembersResponse)],

  ['/v3/maintenance/status', method('Status', S.Empty, S.StatusResponse)],
  ['/v3/maintenance/alarm', fixed(S.AlarmRequest, S.AlarmResponse, 'Alarm')],
  ['/v3/maintenance/defragment', fixed(S.Empty, S.HeaderOnly, 'Defragment')],
  // etcd 3.4 binds HashKV here
  ['/v3/maintenance/hash', fixed(S.HashKVRequest, S.HeaderOnly, 'Hash')],
  ['/v3/maintenance/snapshot', fixed(S.Empty, S.HeaderOnly, 'Snapshot')],
  ['/v3/maintenance/transfer-leadership', method('MoveLeader', S.MoveLeaderRequest, S.HeaderOnly)],

  ['/v3/auth/enable', method('AuthEnable', S.Empty, S.HeaderOnly)],
  ['/v3/auth/disable', method('AuthDisable', S.Empty, S.HeaderOnly)],
  ['/v3/auth/status', method('AuthStatus', S.Empty, S.AuthStatusResponse)],
  ['/v3/auth/authenticate', method('Authenticate', S.AuthenticateRequest, S.AuthenticateResponse)],
  ['/v3/auth/user/add', method('UserAdd', S.AuthUserAddRequest, S.HeaderOnly)],
  ['/v3/auth/user/get', method('UserGet', S.AuthNameRequest, S.AuthUserGetResponse)],
  ['/v3/auth/user/list', method('UserList', S.Empty, S.AuthUserListResponse)],
  ['/v3/auth/user/delete', method('UserDelete', S.AuthNameRequest, S.HeaderOnly)],
  ['/v3/auth/user/changepw', method('UserChangePassword', S.AuthUserChangePasswordRequest, S.HeaderOnly)],
  ['/v3/auth/user/grant', method('UserGrantRole', S.AuthUserGrantRoleRequest, S.HeaderOnly)],
  ['/v3/auth/user/revoke', method('UserRevokeRole', S.AuthUserRevokeRoleRequest, S.HeaderOnly)],
  ['/v3/auth/role/add', method('RoleAdd', S.AuthNameRequest, S.HeaderOnly)],
  ['/v3/auth/role/get', method('RoleGet', S.AuthRoleRequest, S.AuthRoleGetResponse)],
  ['/v3/auth/role/list', method('RoleList', S.Empty, S.AuthRoleListResponse)],
  ['/v3/auth/role/delete', method('RoleDelete', S.AuthRoleRequest, S.HeaderOnly)],
  ['/v3/auth/role/grant', method('RoleGrantPermission', S.AuthRoleGrantPermissionRequest, S.HeaderOnly)],
  ['/v3/auth/role/revoke', method('RoleRevokePermission', S.AuthRoleRevokePermissionRequest, S.HeaderOnly)],

  ['/v3/lock/lock', method('Lock', S.LockRequest, S.LockResponse)],
  ['/v3/lock/unlock', method('Unlock', S.UnlockRequest, S.HeaderOnly)],

  ['/v3/election/campaign', method('Campaign', S.CampaignRequest, S.CampaignResponse)],
  ['/v3/election/proclaim', method('Proclaim', S.ProclaimRequest, S.HeaderOnly)],
  ['/v3/election/leader', method('Leader', S.LeaderRequest, S.LeaderResponse)],
  ['/v3/election/observe', { kind: 'stream', method: 'Observe', request: S.LeaderRequest, response: S.LeaderResponse, bidi: false }],
  ['/v3/election/resign', method('Resign', S.ResignRequest, S.HeaderOnly)],
]);
