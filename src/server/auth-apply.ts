// Applying entries under etcd's auth, as etcd 3.4's authApplierV3 does (etcdserver/apply_auth.go): the caller the
// entry carries (username and auth revision, from the proposer) is checked against the store as it is when the entry
// is applied, on every member alike. Auth management entries need role root; key writes need their permissions
// (auth/rules.ts), where credentials from before the last auth change are `revision of auth store is old`.

import { ANONYMOUS, checkDeleteRange, checkLeaseKeysWritable, checkPut, checkTxn, type Auth, type AuthInfo, type LeaseKeys } from '../auth/index.js';
import { etcdError, invariant } from '../errors/index.js';
import { decodeDeleteRange, decodePut, decodeTxn, type Permission } from '../proto/index.js';
import type { AuthWriteMethod, WriteMethod } from './proposals.js';

/** What an Authenticate entry carries: the user and the random part of a simple token (never the password). */
export interface AuthenticateEntry {
  name: string;
  prefix: string;
}

/** UserAdd and UserChangePassword carry the bcrypt hash the proposer computed, never the password. */
export interface UserPasswordEntry {
  name: string;
  hash: string;
  noPassword?: boolean;
}

const AUTH_WRITES = new Set<string>([
  'AuthEnable', 'AuthDisable', 'Authenticate', 'UserAdd', 'UserDelete', 'UserChangePassword', 'UserGrantRole',
  'UserRevokeRole', 'RoleAdd', 'RoleDelete', 'RoleGrantPermission', 'RoleRevokePermission',
]);

export function isAuthWrite(method: WriteMethod): method is AuthWriteMethod {
  return AUTH_WRITES.has(method);
}

/**
 * The key-write checks of a client's entry (nothing for the member's own entries, which carry no caller). Throws the
 * refusal; call before the entry changes anything.
 */
export function checkWriteEntry(auth: Auth, method: WriteMethod, request: unknown, caller: AuthInfo | undefined, leaseKeys: LeaseKeys): void {
  if (caller === undefined || !auth.store.enabled) return;
  const store = auth.store;
  // entries hold requests as the log encodes them (small integers as numbers): decode as the applier does
  switch (method) {
    case 'Put':
      return checkPut(store, caller, decodePut(request), leaseKeys);
    case 'DeleteRange':
      return checkDeleteRange(store, caller, decodeDeleteRange(request));
    case 'Txn':
      return checkTxn(store, caller, decodeTxn(request), leaseKeys);
    case 'LeaseRevoke':
      return checkLeaseKeysWritable(store, caller, BigInt((request as { ID: number | bigint }).ID), leaseKeys);
    default:
      return;
  }
}

/**
 * Applies one auth entry (inside the apply transaction); returns the response's fields besides the header. `index`
 * is the entry's Raft index (a simple token's suffix); `proposedHere`: this member answers the client.
 */
export function applyAuthWrite(auth: Auth, method: AuthWriteMethod, request: unknown, caller: AuthInfo | undefined, index: number, proposedHere: boolean): Record<string, unknown> {
  const store = auth.store;
  if (method !== 'Authenticate') store.checkAdmin(caller ?? ANONYMOUS);
  const r = request as Record<string, unknown>;
  switch (method) {
    case 'AuthEnable':
      store.enable();
      return {};
    case 'AuthDisable':
      store.disable();
      return {};
    case 'Authenticate':
      return { token: authenticate(auth, request as AuthenticateEntry, index, proposedHere) };
    case 'UserAdd': {
      const u = request as UserPasswordEntry;
      store.userAdd(u.name, u.hash, u.noPassword === true);
      return {};
    }
    case 'UserDelete':
      store.userDelete(r['name'] as string);
      return {};
    case 'UserChangePassword': {
      const u = request as UserPasswordEntry;
      store.userChangePassword(u.name, u.hash);
      return {};
    }
    case 'UserGrantRole':
      store.userGrantRole(r['user'] as string, r['role'] as string);
      return {};
    case 'UserRevokeRole':
      store.userRevokeRole(r['name'] as string, r['role'] as string);
      return {};
    case 'RoleAdd':
      store.roleAdd(r['name'] as string);
      return {};
    case 'RoleDelete':
      store.roleDelete(r['role'] as string);
      return {};
    case 'RoleGrantPermission': {
      const p = (r['perm'] ?? undefined) as Permission | undefined;
      store.roleGrantPermission(r['name'] as string, p === undefined ? undefined : { permType: p.permType, key: bytes(p.key), range_end: bytes(p.range_end) });
      return {};
    }
    case 'RoleRevokePermission':
      store.roleRevokePermission(r['role'] as string, bytes(r['key'] as Uint8Array | undefined), bytes(r['range_end'] as Uint8Array | undefined));
      return {};
    default:
      invariant(false, `unknown auth entry ${String(method)}`);
  }
}

/** etcd's authStore.Authenticate at apply: the password was checked by the proposer; the user must still qualify. */
function authenticate(auth: Auth, entry: AuthenticateEntry, index: number, proposedHere: boolean): string {
  const store = auth.store;
  if (!store.enabled) throw etcdError('AuthNotEnabled');
  const user = store.user(entry.name);
  if (user === undefined || user.noPassword) throw etcdError('AuthFailed');
  // simple tokens are held by every member; a JWT only needs signing where the client waits for it
  if (!auth.tokens.assignEverywhere && !proposedHere) return '';
  return auth.tokens.assign(entry.name, store.revision, index, entry.prefix);
}

function bytes(v: Uint8Array | undefined): Uint8Array {
  return v === undefined ? new Uint8Array(0) : new Uint8Array(v);
}
