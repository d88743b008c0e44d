// Authorisation of the requests a member answers without going through Raft (reads, watch creates, the admin
// calls), as etcd 3.4 checks them in its API layer; writes are checked when applied (auth-apply.ts). The method table
// (methods.ts) and the Lock and Election services (concurrency.ts, through the member's KvPort) both use these, so a
// request is checked the same way whichever way it reaches the key space.

import {
  ANONYMOUS,
  checkWatchCreate,
  type Auth,
  type AuthInfo,
  type RequestAuth,
} from '../auth/index.js';
import { EtcdError, etcdError, grpcCodeName, type ErrorName } from '../errors/index.js';
import type { WatchCreateRequest, WatchRequest, WatchResponse } from '../proto/index.js';

/**
 * A read under etcd's doSerialize: the permission check, the read, and then `revision of auth store is old` if the
 * caller's credentials came from an auth revision other than the store's when the read is done (the store changed
 * while the read waited). Nothing is checked for an anonymous caller with auth disabled.
 */
export function checkedRead<T>(auth: Auth, caller: AuthInfo | null, check: (caller: AuthInfo) => void, run: () => T): T {
  if (caller === null && !auth.store.enabled) return run();
  check(caller ?? ANONYMOUS);
  const result = run();
  if (caller === null || caller.revision === 0) return result;
  const revision = caller.revision;
  const after = <V>(value: V): V => {
    if (revision !== auth.store.revision) throw etcdError('AuthOldRevision');
    return value;
  };
  return (result instanceof Promise ? result.then(after) : after(result)) as T;
}

/**
 * etcd's cancel_reason for a refused watch create (v3rpc/watch.go): the gRPC error's Error() text, `rpc error: code =
 * <name> desc = <message>`, of invalid token, old revision or empty user, and of `permission denied` otherwise.
 */
export function watchRefusalReason(err: unknown): string {
  const name = err instanceof EtcdError ? err.name : 'PermissionDenied';
  const kept: ErrorName[] = ['InvalidAuthToken', 'AuthOldRevision', 'UserEmpty'];
  const refusal = etcdError(kept.includes(name as ErrorName) ? (name as 'UserEmpty') : 'PermissionDenied');
  return `rpc error: code = ${grpcCodeName(refusal.code)} desc = ${refusal.message}`;
}

/** What a refused create answers (etcd: created and canceled at once, watch_id -1, with the reason). */
export function watchRefusal(header: WatchResponse['header'], reason: string): WatchResponse {
  return { header, watch_id: -1, created: true, canceled: true, cancel_reason: reason, events: [] };
}

interface WatchHandle {
  handle(request: WatchRequest): void;
  close(): void;
}

/**
 * A watch stream whose create requests are checked for READ on their range (etcd's isWatchPermitted) before they
 * reach the watch hub; a refused create is answered with `refuse(reason)`. `caller` resolves the stream's
 * credentials for each create, as etcd reads the stream's token at each (a token that expires mid-stream refuses
 * the next create). Requests keep their order while a resolution waits (a simple token this member has not applied).
 */
export function authorizeWatch(auth: Auth, caller: () => AuthInfo | null | Promise<AuthInfo | null>, anonymous: boolean, inner: WatchHandle, refuse: (reason: string) => void): WatchHandle {
  let queue: Promise<void> | null = null;
  let closed = false;
  const decide = (create: WatchCreateRequest, request: WatchRequest, who: AuthInfo | null): void => {
    if (closed) return;
    try {
      checkWatchCreate(auth.store, who ?? ANONYMOUS, create);
    } catch (err) {
      return refuse(watchRefusalReason(err));
    }
    inner.handle(request);
  };
  const process = (request: WatchRequest): void | Promise<void> => {
    const create = request.create_request;
    if (create === undefined || (anonymous && !auth.store.enabled)) return inner.handle(request);
    let who: AuthInfo | null | Promise<AuthInfo | null>;
    try {
      who = caller();
    } catch (err) {
      return refuse(watchRefusalReason(err));
    }
    if (!(who instanceof Promise)) return decide(create, request, who);
    return who.then(
      (w) => decide(create, request, w),
      (err: unknown) => {
        if (!closed) refuse(watchRefusalReason(err));
      },
    );
  };
  return {
    handle: (request) => {
      if (closed) return;
      if (queue !== null) {
        const mine: Promise<void> = queue.then(() => process(request)).then(() => {
          if (queue === mine) queue = null;
        });
        queue = mine;
        return;
      }
      const waiting = process(request);
      if (waiting instanceof Promise) {
        const mine: Promise<void> = waiting.then(() => {
          if (queue === mine) queue = null;
        });
        queue = mine;
      }
    },
    close: () => {
      closed = true;
      inner.close();
    },
  };
}

/** authorizeWatch for credentials given as a request's RequestAuth (the front ends' streams). */
export function authorizeWatchFor(auth: Auth, credentials: RequestAuth | undefined, inner: WatchHandle, refuse: (reason: string) => void): WatchHandle {
  return authorizeWatch(auth, () => auth.resolve(credentials), credentials === undefined, inner, refuse);
}

/** etcd sends the admin refusals of Defragment, Hash, HashKV and Snapshot unmapped: the auth store's own texts. */
const UNMAPPED_ADMIN: Partial<Record<ErrorName, ErrorName>> = {
  PermissionDenied: 'AuthStorePermissionDenied',
  UserEmpty: 'AuthStoreUserEmpty',
  UserNotFound: 'AuthStoreUserNotFound',
  InvalidAuthToken: 'AuthStoreInvalidAuthToken',
};

export function unmappedAdminError(err: unknown): unknown {
  if (!(err instanceof EtcdError)) return err;
  const name = UNMAPPED_ADMIN[err.name as ErrorName];
  return name === undefined ? err : etcdError(name as 'AuthStorePermissionDenied');
}
