// The method table: the one place where a client's request enters the member. Every front end (binary protocol,
// JSON gateway, WebSocket, and gRPC later) decodes its wire format into etcd's request shape, then calls
// `callMethod` (unary RPCs) or `openMethodStream` (streams) with the method's etcd name. Here the untrusted request is
// validated (proto/validate.ts) and dispatched to the service that implements it; the authorisation check of etcd's
// auth goes here too, so no front end can go around it. No RPC's semantics is written anywhere else.

import {
  ANONYMOUS,
  checkLeaseTimeToLiveKeys,
  checkRange,
  checkTxn,
  type AuthInfo,
  type RequestAuth,
} from '../auth/index.js';
import { isReadOnlyTxn } from '../mvcc/index.js';
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
import { etcdError, EtcdError, unmapped } from '../errors/index.js';
import { authorizeWatchFor, checkedRead, unmappedAdminError, watchRefusal } from './authorize.js';
import { FIXED_METHODS, type FixedMethodName } from './fixed-methods.js';
import type { Caller, StreamHandle, StreamSinkLike } from './ports.js';
import type { EncodedResponse } from './read-pool.js';
import type { EtcdServer } from './server.js';

/**
 * Who sends a request, as its front end saw it: the auth token it carried (gRPC metadata `token`, the gateway's
 * `Authorization` header, the binary protocol's connection token, a WebSocket's token at connect) and the Subject CN
 * of the verified client certificate of its TLS connection (--client-cert-auth). Authorisation (etcd's auth) decides
 * from these; a token beats the CN, as in etcd.
 */
export type { RequestAuth };

/** A request's credentials: its token (if it carries one) joined to its connection's (the TLS client CN). */
export function withToken(connection: RequestAuth | undefined, token: string | undefined): RequestAuth | undefined {
  if (token === undefined) return connection;
  return connection === undefined ? { token } : { ...connection, token };
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

/**
 * How a method treats the request's credentials (etcd's AuthInfoFromCtx): 'caller' resolves them before the call (a
 * bad token fails the request, even with auth disabled, as etcd 3.4 answers it) and hands the caller on; 'none'
 * leaves them alone (the RPCs etcd 3.4 never checks, and those that look at them only in some cases).
 */
type Credentials = 'caller' | 'none';

export interface MethodEntry<M extends MethodName> {
  /** a write through Raft: above --max-request-bytes etcd refuses it with `request is too large` */
  readonly proposal: boolean;
  readonly credentials: Credentials;
  /** refusals reach the client as etcd's v3lock and v3election relay them: unmapped (code Unknown) */
  readonly unmapped: boolean;
  /** `caller`: the resolved credentials, null when the request has none (or the method does not look at them) */
  call(server: EtcdServer, request: RequestOf<M>, ctx: CallContext, caller: AuthInfo | null): Answer<M>;
}

type MethodTable = { readonly [M in MethodName]: MethodEntry<M> };

type Call<M extends MethodName> = MethodEntry<M>['call'];
/** An RPC etcd answers without looking at the caller. */
const open = <M extends MethodName>(call: Call<M>): MethodEntry<M> => ({ proposal: false, credentials: 'none', unmapped: false, call });
/** An RPC answered for its caller (checked here, or carried into the log and checked when applied). */
const unary = <M extends MethodName>(call: Call<M>): MethodEntry<M> => ({ proposal: false, credentials: 'caller', unmapped: false, call });
const proposal = <M extends MethodName>(call: Call<M>): MethodEntry<M> => ({ proposal: true, credentials: 'caller', unmapped: false, call });
/** v3lock and v3election: the caller's own KV requests, refusals relayed as code Unknown. */
const recipe = <M extends MethodName>(call: Call<M>): MethodEntry<M> => ({ proposal: false, credentials: 'caller', unmapped: true, call });

/** Role root (with auth enabled), as etcd's membership and auth management calls need. */
function admin<M extends MethodName>(call: Call<M>): MethodEntry<M> {
  return unary<M>((s, r, ctx, caller) => {
    s.auth.store.checkAdmin(caller);
    return call(s, r, ctx, caller);
  });
}

const stamp = (caller: AuthInfo | null): AuthInfo => caller ?? ANONYMOUS;

/** The request's credentials as the Lock and Election services resolve them, for each request they make. */
const callerOf = (s: EtcdServer, ctx: CallContext): Caller => () => s.auth.resolve(ctx.auth);

/** etcd's Range: READ on its whole range, checked as doSerialize does. */
function range(s: EtcdServer, r: RequestOf<'Range'>, ctx: CallContext, caller: AuthInfo | null): Answer<'Range'> {
  return checkedRead(s.auth, caller, (c) => checkRange(s.auth.store, c, r), () => (ctx.rawRequest !== undefined ? s.kv.rangeForClient(r, ctx.rawRequest) : s.kv.range(r)));
}

/** A txn without writes is a read checked here; one with writes carries its caller to the apply's check. */
function txn(s: EtcdServer, r: RequestOf<'Txn'>, ctx: CallContext, caller: AuthInfo | null): Answer<'Txn'> {
  const run = (): Answer<'Txn'> => (ctx.rawRequest !== undefined ? s.kv.txnForClient(r, ctx.rawRequest, stamp(caller)) : s.kv.txn(r, stamp(caller)));
  if (!isReadOnlyTxn(r)) return run();
  return checkedRead(s.auth, caller, (c) => checkTxn(s.auth.store, c, r, (id) => s.lessor.keysOf(id)), run);
}

/**
 * LeaseTimeToLive lists the lease's key names when asked: etcd 3.4.26 made that need READ on each of them (3.4.23
 * lists them to anyone); the rest of the answer stays open to all. The credentials are looked at only then.
 */
function leaseTimeToLive(s: EtcdServer, r: RequestOf<'LeaseTimeToLive'>, ctx: CallContext): Answer<'LeaseTimeToLive'> {
  if (r.keys !== true || !s.auth.enabled) return s.leases.timeToLive(r);
  const run = (caller: AuthInfo | null): Promise<ResponseOf<'LeaseTimeToLive'>> => {
    if (caller === null) throw etcdError('UserEmpty');
    const revision = s.auth.store.revision;
    return s.leases.timeToLive(r, (keys) => checkLeaseTimeToLiveKeys(s.auth.store, caller, keys)).then((resp) => {
      if (s.auth.enabled && revision !== s.auth.store.revision) throw etcdError('AuthOldRevision');
      return resp;
    });
  };
  const caller = s.auth.resolve(ctx.auth);
  return caller instanceof Promise ? caller.then(run) : run(caller);
}

/** etcd's unary RPCs, by name. */
export const METHODS: MethodTable = Object.freeze({
  Range: unary<'Range'>(range),
  Put: proposal<'Put'>((s, r, _ctx, caller) => s.kv.put(r, stamp(caller))),
  DeleteRange: proposal<'DeleteRange'>((s, r, _ctx, caller) => s.kv.deleteRange(r, stamp(caller))),
  Txn: proposal<'Txn'>(txn),
  // etcd 3.4 checks no permission for a compaction, but it goes through Raft with the caller (a bad token fails it)
  Compact: unary<'Compact'>((s, r, _ctx, caller) => s.kv.compact(r, stamp(caller))),
  Status: open<'Status'>((s) => s.status()),
  MemberList: open<'MemberList'>((s) => s.cluster.memberList()),
  MemberAdd: admin<'MemberAdd'>((s, r) => s.cluster.memberAdd(r)),
  MemberRemove: admin<'MemberRemove'>((s, r) => s.cluster.memberRemove(r)),
  MemberUpdate: admin<'MemberUpdate'>((s, r) => s.cluster.memberUpdate(r)),
  MemberPromote: admin<'MemberPromote'>((s, r) => s.cluster.memberPromote(r)),
  MoveLeader: open<'MoveLeader'>((s, r) => s.cluster.moveLeader(r)),
  LeaseGrant: unary<'LeaseGrant'>((s, r, _ctx, caller) => s.leases.grant(r, stamp(caller))),
  LeaseRevoke: unary<'LeaseRevoke'>((s, r, _ctx, caller) => s.leases.revoke(r, stamp(caller))),
  LeaseTimeToLive: open<'LeaseTimeToLive'>(leaseTimeToLive),
  LeaseLeases: open<'LeaseLeases'>((s) => s.leases.list()),
  // the credentials were resolved once (a bad token fails at once); each request the service makes resolves them again
  Lock: recipe<'Lock'>((s, r, ctx) => s.concurrency.lock(r, callerOf(s, ctx), ctx.signal)),
  Unlock: recipe<'Unlock'>((s, r, ctx) => s.concurrency.unlock(r, callerOf(s, ctx))),
  Campaign: recipe<'Campaign'>((s, r, ctx) => s.concurrency.campaign(r, callerOf(s, ctx), ctx.signal)),
  Proclaim: recipe<'Proclaim'>((s, r, ctx) => s.concurrency.proclaim(r, callerOf(s, ctx))),
  Leader: recipe<'Leader'>((s, r, ctx) => s.concurrency.leader(r, callerOf(s, ctx))),
  Resign: recipe<'Resign'>((s, r, ctx) => s.concurrency.resign(r, callerOf(s, ctx))),
  // etcd's Auth service (server/auth-service.ts): management is checked for role root when applied
  AuthEnable: unary<'AuthEnable'>((s, _r, _ctx, caller) => s.authService.write('AuthEnable', {}, caller)),
  AuthDisable: unary<'AuthDisable'>((s, _r, _ctx, caller) => s.authService.write('AuthDisable', {}, caller)),
  AuthStatus: unary<'AuthStatus'>((s, _r, _ctx, caller) => s.authService.status(caller)),
  // the request's credentials are looked at only once the password is checked (for the entry), as etcd does
  Authenticate: open<'Authenticate'>((s, r, ctx) => s.authService.authenticate(r, () => s.auth.resolve(ctx.auth))),
  UserAdd: unary<'UserAdd'>((s, r, _ctx, caller) => s.authService.userAdd(r, caller)),
  UserGet: unary<'UserGet'>((s, r, _ctx, caller) => s.authService.userGet(r, caller)),
  UserList: unary<'UserList'>((s, _r, _ctx, caller) => s.authService.userList(caller)),
  UserDelete: unary<'UserDelete'>((s, r, _ctx, caller) => s.authService.write('UserDelete', r, caller)),
  UserChangePassword: unary<'UserChangePassword'>((s, r, _ctx, caller) => s.authService.userChangePassword(r, caller)),
  UserGrantRole: unary<'UserGrantRole'>((s, r, _ctx, caller) => s.authService.write('UserGrantRole', r, caller)),
  UserRevokeRole: unary<'UserRevokeRole'>((s, r, _ctx, caller) => s.authService.write('UserRevokeRole', r, caller)),
  RoleAdd: unary<'RoleAdd'>((s, r, _ctx, caller) => s.authService.write('RoleAdd', r, caller)),
  RoleGet: unary<'RoleGet'>((s, r, _ctx, caller) => s.authService.roleGet(r, caller)),
  RoleList: unary<'RoleList'>((s, _r, _ctx, caller) => s.authService.roleList(caller)),
  RoleDelete: unary<'RoleDelete'>((s, r, _ctx, caller) => s.authService.write('RoleDelete', r, caller)),
  RoleGrantPermission: unary<'RoleGrantPermission'>((s, r, _ctx, caller) => s.authService.write('RoleGrantPermission', r, caller)),
  RoleRevokePermission: unary<'RoleRevokePermission'>((s, r, _ctx, caller) => s.authService.write('RoleRevokePermission', r, caller)),
});

/**
 * The answers without a service behind them (fixed-methods.ts), for the front ends that speak etcd's whole API,
 * with etcd's auth in front: Defragment, Hash, HashKV and Snapshot need role root and refuse with the auth store's
 * unmapped texts (code Unknown); Alarm checks nothing, but goes through Raft with the caller: a bad token fails it, with
 * the auth store's unmapped text too (etcd's maintenance server returns Alarm's error as it is).
 */
export function callFixed(server: EtcdServer, method: FixedMethodName, request: Record<string, unknown>, ctx: CallContext = {}): unknown {
  const answer = (): unknown => FIXED_METHODS[method](server, request);
  const adminOnly = method === 'Defragment' || method === 'Hash' || method === 'HashKV' || method === 'Snapshot';
  if (!adminOnly && method !== 'Alarm') return answer();
  if (ctx.auth === undefined && !(adminOnly && server.auth.enabled)) return answer();
  const decide = (caller: AuthInfo | null): unknown => {
    if (adminOnly) {
      try {
        server.auth.store.checkAdmin(caller);
      } catch (err) {
        throw unmappedAdminError(err);
      }
    }
    return answer();
  };
  let caller: AuthInfo | null | Promise<AuthInfo | null>;
  try {
    caller = server.auth.resolve(ctx.auth);
  } catch (err) {
    throw unmappedAdminError(err);
  }
  if (!(caller instanceof Promise)) return decide(caller);
  return caller.then(decide, (err: unknown) => {
    throw unmappedAdminError(err);
  });
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
  const entry = METHODS[method] as MethodEntry<M>;
  // without credentials there is nothing to resolve: the call checks the anonymous caller if auth is enabled
  if (entry.credentials === 'none' || ctx.auth === undefined) return entry.call(server, decoded, ctx, null);
  let caller: AuthInfo | null | Promise<AuthInfo | null>;
  try {
    caller = server.auth.resolve(ctx.auth);
  } catch (err) {
    throw refusedCredentials(entry, err);
  }
  if (caller instanceof Promise) {
    return caller.then(
      (c) => entry.call(server, decoded, ctx, c),
      (err: unknown) => {
        throw refusedCredentials(entry, err);
      },
    );
  }
  return entry.call(server, decoded, ctx, caller);
}

/** The refusal of credentials that do not resolve, as the method relays it (v3lock and v3election: unmapped). */
function refusedCredentials(entry: MethodEntry<MethodName>, err: unknown): unknown {
  return entry.unmapped && err instanceof EtcdError ? unmapped(err) : err;
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
  if (options.requireLeader !== true) return openStream(server, method, out, options.auth);
  // etcd refuses a require-leader stream at once when the member has no leader
  if (server.leader === 0n) throw etcdError('NoLeader');
  const inner = openStream(server, method, out, options.auth);
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

/**
 * The stream itself, with etcd's auth: each watch create needs READ on its range (a refused one is answered created
 * and canceled, watch_id -1, with the reason); a keep-alive checks nothing (etcd 3.4); an Observe runs as its caller.
 * A watch that was allowed keeps delivering when the permission is later revoked, as in etcd 3.4 (it checks at create
 * only; see docs).
 */
function openStream(server: EtcdServer, method: StreamMethodName, out: StreamOutput, auth: RequestAuth | undefined): StreamHandle {
  switch (method) {
    case 'Watch': {
      const ws = server.openWatchStream(out); // a StreamOutput is a watch sink, fast path included
      const checked = authorizeWatchFor(server.auth, auth, ws, (reason) => out.send(watchRefusal(server.header(), reason)));
      return { handle: (r) => checked.handle(r as WatchRequest), close: () => checked.close(), drained: () => ws.drained() };
    }
    case 'LeaseKeepAlive':
      return server.openKeepAliveStream(out);
    case 'Observe':
      return server.openObserveStream(out, () => server.auth.resolve(auth));
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
