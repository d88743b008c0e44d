// The method table: the one place where a client's request enters the member. Every front end (binary protocol,
// JSON gateway, WebSocket, and gRPC later) decodes its wire format into etcd's request shape, then calls
// `callMethod` (unary RPCs) or `openMethodStream` (streams) with the method's etcd name. Here the untrusted request is
// validated (proto/validate.ts) and dispatched to the service that implements it; the authorisation check of etcd's
// auth goes here too, so no front end can go around it. No RPC's semantics is written anywhere else.

import {
  decodeRequest,
  METHOD_NAMES,
  STREAM_METHOD_NAMES,
  type Event,
  type MethodName,
  type RequestOf,
  type ResponseHeader,
  type ResponseOf,
  type StreamMethodName,
  type WatchRequest,
} from '../proto/index.js';
import type { ClockTimer } from '../clock/index.js';
import { etcdError } from '../errors/index.js';
import { FIXED_METHODS, type FixedMethodName } from './fixed-methods.js';
import type { StreamHandle, StreamSinkLike } from './ports.js';
import type { EncodedResponse } from './read-pool.js';
import type { EtcdServer } from './server.js';

/**
 * Who sends a request, as its front end saw it: the auth token it carried (gRPC metadata `token`, the gateway's
 * `Authorization` header, the binary protocol's connection token, a WebSocket's token at connect) and the Subject CN
 * of the verified client certificate of its TLS connection (--client-cert-auth). Authorisation (etcd's auth) decides
 * from these; a token beats the CN, as in etcd.
 */
export interface RequestAuth {
  token?: string;
  commonName?: string;
}

export interface CallContext {
  /** the caller's credentials (absent: an anonymous caller) */
  auth?: RequestAuth;
  /** aborted when the caller goes away before the answer: a waiting Lock or Campaign then withdraws its key */
  signal?: AbortSignal;
  /**
   * The request exactly as the client sent it (msgpack {method, request}). A caller that passes it takes answers a
   * worker thread encoded (EncodedResponse) for reads; a caller without it always gets response objects.
   */
  rawRequest?: Uint8Array;
}

/** A method's answer: its response, or (for reads evaluated by a worker, see CallContext.rawRequest) encoded bytes. */
export type Answer<M extends MethodName> = ResponseOf<M> | EncodedResponse | Promise<ResponseOf<M> | EncodedResponse>;

export interface MethodEntry<M extends MethodName> {
  /** a write through Raft: above --max-request-bytes etcd refuses it with `request is too large` */
  readonly proposal: boolean;
  call(server: EtcdServer, request: RequestOf<M>, ctx: CallContext): Answer<M>;
}

type MethodTable = { readonly [M in MethodName]: MethodEntry<M> };

const unary = <M extends MethodName>(call: MethodEntry<M>['call']): MethodEntry<M> => ({ proposal: false, call });
const proposal = <M extends MethodName>(call: MethodEntry<M>['call']): MethodEntry<M> => ({ proposal: true, call });

/** etcd's unary RPCs, by name. */
export const METHODS: MethodTable = Object.freeze({
  Range: unary<'Range'>((s, r, ctx) => (ctx.rawRequest !== undefined ? s.kv.rangeForClient(r, ctx.rawRequest) : s.kv.range(r))),
  Put: proposal<'Put'>((s, r) => s.kv.put(r)),
  DeleteRange: proposal<'DeleteRange'>((s, r) => s.kv.deleteRange(r)),
  Txn: proposal<'Txn'>((s, r, ctx) => (ctx.rawRequest !== undefined ? s.kv.txnForClient(r, ctx.rawRequest) : s.kv.txn(r))),
  Compact: unary<'Compact'>((s, r) => s.kv.compact(r)),
  Status: unary<'Status'>((s) => s.status()),
  MemberList: unary<'MemberList'>((s) => s.cluster.memberList()),
  MemberAdd: unary<'MemberAdd'>((s, r) => s.cluster.memberAdd(r)),
  MemberRemove: unary<'MemberRemove'>((s, r) => s.cluster.memberRemove(r)),
  MemberUpdate: unary<'MemberUpdate'>((s, r) => s.cluster.memberUpdate(r)),
  MemberPromote: unary<'MemberPromote'>((s, r) => s.cluster.memberPromote(r)),
  MoveLeader: unary<'MoveLeader'>((s, r) => s.cluster.moveLeader(r)),
  LeaseGrant: unary<'LeaseGrant'>((s, r) => s.leases.grant(r)),
  LeaseRevoke: unary<'LeaseRevoke'>((s, r) => s.leases.revoke(r)),
  LeaseTimeToLive: unary<'LeaseTimeToLive'>((s, r) => s.leases.timeToLive(r)),
  LeaseLeases: unary<'LeaseLeases'>((s) => s.leases.list()),
  Lock: unary<'Lock'>((s, r, ctx) => s.concurrency.lock(r, ctx.signal)),
  Unlock: unary<'Unlock'>((s, r) => s.concurrency.unlock(r)),
  Campaign: unary<'Campaign'>((s, r, ctx) => s.concurrency.campaign(r, ctx.signal)),
  Proclaim: unary<'Proclaim'>((s, r) => s.concurrency.proclaim(r)),
  Leader: unary<'Leader'>((s, r) => s.concurrency.leader(r)),
  Resign: unary<'Resign'>((s, r) => s.concurrency.resign(r)),
  // etcd's Auth service: etcd 3.4's answers with auth disabled and no users (fixed-methods.ts) until the auth store
  // lands (issue 14)
  AuthEnable: unary<'AuthEnable'>((s, r) => fixed(s, 'AuthEnable', r)),
  AuthDisable: unary<'AuthDisable'>((s, r) => fixed(s, 'AuthDisable', r)),
  AuthStatus: unary<'AuthStatus'>((s) => ({ header: s.header(), enabled: false, authRevision: 0 })),
  Authenticate: unary<'Authenticate'>((s, r) => fixed(s, 'Authenticate', r)),
  UserAdd: unary<'UserAdd'>((s, r) => fixed(s, 'UserAdd', r)),
  UserGet: unary<'UserGet'>((s, r) => fixed(s, 'UserGet', r)),
  UserList: unary<'UserList'>((s) => ({ header: s.header(), users: [] })),
  UserDelete: unary<'UserDelete'>((s, r) => fixed(s, 'UserDelete', r)),
  UserChangePassword: unary<'UserChangePassword'>((s, r) => fixed(s, 'UserChangePassword', r)),
  UserGrantRole: unary<'UserGrantRole'>((s, r) => fixed(s, 'UserGrantRole', r)),
  UserRevokeRole: unary<'UserRevokeRole'>((s, r) => fixed(s, 'UserRevokeRole', r)),
  RoleAdd: unary<'RoleAdd'>((s, r) => fixed(s, 'RoleAdd', r)),
  RoleGet: unary<'RoleGet'>((s, r) => fixed(s, 'RoleGet', r)),
  RoleList: unary<'RoleList'>((s) => ({ header: s.header(), roles: [] })),
  RoleDelete: unary<'RoleDelete'>((s, r) => fixed(s, 'RoleDelete', r)),
  RoleGrantPermission: unary<'RoleGrantPermission'>((s, r) => fixed(s, 'RoleGrantPermission', r)),
  RoleRevokePermission: unary<'RoleRevokePermission'>((s, r) => fixed(s, 'RoleRevokePermission', r)),
});

function fixed<M extends MethodName & FixedMethodName>(server: EtcdServer, method: M, request: RequestOf<M>): ResponseOf<M> {
  return FIXED_METHODS[method](server, request as unknown as Record<string, unknown>) as ResponseOf<M>;
}

const methodNames = new Set<string>(METHOD_NAMES);
const streamMethodNames = new Set<string>(STREAM_METHOD_NAMES);

export function isMethodName(name: string): name is MethodName {
  return methodNames.has(name);
}

export function isStreamMethodName(name: string): name is StreamMethodName {
  return streamMethodNames.has(name);
}

/**
 * Calls one unary RPC with an undecoded request: validates it (InvalidArgument with etcd's message when it is not a
 * valid request of the method), then dispatches it. Returns the answer or a promise of it; throws EtcdError.
 */
export function callMethod<M extends MethodName>(server: EtcdServer, method: M, request: unknown, ctx: CallContext = {}): Answer<M> {
  const decoded = decodeRequest(method, request, server.config.limits.txnOpsMax);
  return (METHODS[method] as MethodEntry<M>).call(server, decoded, ctx);
}

/** Where a stream's responses go; `sendEvents` is the watch fan-out's fast path (see WatchSink.sendEvents). */
export interface StreamOutput extends StreamSinkLike {
  sendEvents?(header: ResponseHeader, watchId: number, events: readonly Event[]): void;
}

export interface StreamOptions {
  /** the caller's credentials, as CallContext.auth */
  auth?: RequestAuth;
  /**
   * etcd's require-leader stream (`hasleader: true` metadata): refused with `no leader` when the member has none, and
   * ended with `no leader` once it has been without one for three election timeouts in a row.
   */
  requireLeader?: boolean;
}

/**
 * Opens one of etcd's streams (Watch, LeaseKeepAlive, Observe) on the member. Each client message is validated by
 * the front end with decodeStreamRequest before `handle`. Throws an EtcdError when the member refuses the stream
 * (stopped, a learner, or no leader for a require-leader stream).
 */
export function openMethodStream(server: EtcdServer, method: StreamMethodName, out: StreamOutput, options: StreamOptions = {}): StreamHandle {
  if (options.requireLeader !== true) return openStream(server, method, out);
  // etcd refuses a require-leader stream at once when the member has no leader
  if (server.leader === 0n) throw etcdError('NoLeader');
  const inner = openStream(server, method, out);
  const monitor = monitorLeader(server, () => {
    inner.close();
    out.end(etcdError('NoLeader'));
  });
  return {
    handle: (r) => inner.handle(r),
    close: () => {
      server.clock.clear(monitor);
      inner.close();
    },
    drained: () => inner.drained?.(),
  };
}

function openStream(server: EtcdServer, method: StreamMethodName, out: StreamOutput): StreamHandle {
  switch (method) {
    case 'Watch': {
      const ws = server.openWatchStream(out); // a StreamOutput is a watch sink, fast path included
      return { handle: (r) => ws.handle(r as WatchRequest), close: () => ws.close(), drained: () => ws.drained() };
    }
    case 'LeaseKeepAlive':
      return server.openKeepAliveStream(out);
    case 'Observe':
      return server.openObserveStream(out);
  }
}

/** etcd's monitorLeader: a require-leader stream fails after three election timeouts in a row without a leader. */
const NO_LEADER_CHECKS_MAX = 3;

function monitorLeader(server: EtcdServer, lost: () => void): ClockTimer {
  let misses = 0;
  const timer = server.clock.setInterval(() => {
    misses = server.leader === 0n ? misses + 1 : 0;
    if (misses >= NO_LEADER_CHECKS_MAX) {
      server.clock.clear(timer);
      lost();
    }
  }, server.config.electionTimeoutMs);
  return timer;
}
