// The auth store: users (bcrypt hash, roles, the no-password option), roles (key permissions), whether auth is
// enabled, and the auth revision, as etcd 3.4's auth/store.go keeps them. It changes only by applying committed
// entries (the member's applier calls the mutations inside its apply transaction) or by installing a snapshot; each
// mutation writes through the persistence port in that same transaction and keeps the whole state in memory, so
// permission checks read no storage.
//
// etcd's rules kept here: enabling auth needs user root holding role root; with auth enabled, user root, role root
// and root's role root cannot be removed (`invalid auth management`); granting role root skips the role's existence
// check; a duplicate grant-role is a no-op success; re-granting a permission with the same key and range_end replaces
// its type; deleting a role strips it from every user; ranges are not validated (3.4.23). The auth revision starts at
// 1 and is bumped by every user or role change and by AuthDisable, never by AuthEnable.

import { etcdError } from '../errors/index.js';
import type { Permission } from '../proto/index.js';
import { isRangePermitted, mergePermissions, type AccessType, type MergedPermissions } from './permissions.js';

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

/** Who a request comes from, as etcd's AuthInfo: a user and the auth revision its credentials were checked at. */
export interface AuthInfo {
  readonly username: string;
  /** 0 only for an anonymous request */
  readonly revision: number;
}

/** A request without credentials. */
export const ANONYMOUS: AuthInfo = Object.freeze({ username: '', revision: 0 });

export interface UserRecord {
  readonly name: string;
  /** bcrypt hash; empty for a no-password user */
  readonly password: string;
  /** role names, sorted */
  readonly roles: readonly string[];
  readonly noPassword: boolean;
}

export interface RoleRecord {
  readonly name: string;
  /** sorted by key (stable: equal keys keep their grant order) */
  readonly permissions: readonly Permission[];
}

export interface AuthStateRecord {
  readonly enabled: boolean;
  readonly revision: number;
}

/** The whole store, as persisted and as snapshots carry it. */
export interface AuthContents {
  readonly state: AuthStateRecord;
  readonly users: readonly UserRecord[];
  readonly roles: readonly RoleRecord[];
}

/** Where mutations are written: the member's LMDB environment, inside the apply transaction (server/auth-table.ts). */
export interface AuthPersistence {
  putState(state: AuthStateRecord): void;
  putUser(user: UserRecord): void;
  deleteUser(name: string): void;
  putRole(role: RoleRecord): void;
  deleteRole(name: string): void;
}

/** What a mutation sets off outside the store: the token provider drops tokens (etcd's tokenProvider calls). */
export interface AuthEffects {
  enabled(): void;
  disabled(): void;
  /** the user was deleted or changed password: its tokens are dropped */
  userInvalidated(name: string): void;
}

/** A fresh store: auth disabled, revision 1 (etcd's NewAuthStore commits revision 1 when it finds none). */
export const EMPTY_AUTH: AuthContents = Object.freeze({ state: Object.freeze({ enabled: false, revision: 1 }), users: [], roles: [] });

interface State {
  enabled: boolean;
  revision: number;
  users: ReadonlyMap<string, UserRecord>;
  roles: ReadonlyMap<string, RoleRecord>;
}

/** A point to go back to if the apply transaction that follows aborts. */
export interface AuthCheckpoint {
  readonly state: State;
}

function byName<T extends { name: string }>(records: readonly T[]): Map<string, T> {
  return new Map(records.map((r) => [r.name, r]));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

export class AuthStore {
  private state: State;
  /** merged permissions by user, built on first use after every change (etcd's rangePermCache) */
  private cache = new Map<string, MergedPermissions | 'root'>();

  constructor(
    contents: AuthContents,
    private readonly persistence: AuthPersistence,
    private readonly effects: AuthEffects,
  ) {
    this.state = this.load(contents);
    if (this.state.enabled) effects.enabled();
  }

  private load(contents: AuthContents): State {
    return { enabled: contents.state.enabled, revision: contents.state.revision, users: byName(contents.users), roles: byName(contents.roles) };
  }

  /** Replaces the whole store (a snapshot was installed): tokens follow the enabled flag, as etcd's Recover. */
  reload(contents: AuthContents): void {
    const wasEnabled = this.state.enabled;
    this.state = this.load(contents);
    this.cache = new Map();
    if (this.state.enabled && !wasEnabled) this.effects.enabled();
    else if (!this.state.enabled && wasEnabled) this.effects.disabled();
  }

  checkpoint(): AuthCheckpoint {
    return { state: this.state };
  }

  restore(cp: AuthCheckpoint): void {
    if (cp.state === this.state) return;
    this.state = cp.state;
    this.cache = new Map();
  }

  // ---- reads ------------------------------------------------------------------------------------------------

  get enabled(): boolean {
    return this.state.enabled;
  }

  get revision(): number {
    return this.state.revision;
  }

  user(name: string): UserRecord | undefined {
    return this.state.users.get(name);
  }

  role(name: string): RoleRecord | undefined {
    return this.state.roles.get(name);
  }

  /** User names in byte order (etcd lists its users bucket). */
  userNames(): string[] {
    return sortedNames(this.state.users.keys());
  }

  roleNames(): string[] {
    return sortedNames(this.state.roles.keys());
  }

  hasRole(user: string, role: string): boolean {
    return this.user(user)?.roles.includes(role) ?? false;
  }

  /** The store as persisted (for tests and for comparing members). */
  contents(): AuthContents {
    return { state: { enabled: this.state.enabled, revision: this.state.revision }, users: [...this.state.users.values()], roles: [...this.state.roles.values()] };
  }

  // ---- checks (etcd's isOpPermitted and IsAdminPermitted) ----------------------------------------------------

  /**
   * Whether `info` may read or write the key (empty range_end) or the range: nothing to check with auth disabled;
   * an anonymous request is `user name is empty`, credentials from before the last auth change `revision of auth
   * store is old`, an unknown user or one without the permission `permission denied`; role root passes everything.
   */
  checkOp(info: AuthInfo, key: Uint8Array, rangeEnd: Uint8Array | undefined, access: AccessType): void {
    const s = this.state;
    if (!s.enabled) return;
    if (info.revision === 0) throw etcdError('UserEmpty');
    if (info.revision < s.revision) throw etcdError('AuthOldRevision');
    const merged = this.permissionsOf(info.username);
    if (merged === null) throw etcdError('PermissionDenied');
    if (merged === 'root') return;
    if (!isRangePermitted(merged, access, key, rangeEnd)) throw etcdError('PermissionDenied');
  }

  /** Role root, or auth disabled; else `user name is empty`, `user name not found` or `permission denied`. */
  checkAdmin(info: AuthInfo | null): void {
    if (!this.state.enabled) return;
    if (info === null || info.username === '') throw etcdError('UserEmpty');
    const user = this.state.users.get(info.username);
    if (user === undefined) throw etcdError('UserNotFound');
    if (!user.roles.includes(ROOT_ROLE)) throw etcdError('PermissionDenied');
  }

  /** Whether the user holds role root (auth enabled or not). */
  isRoot(username: string): boolean {
    return this.state.users.get(username)?.roles.includes(ROOT_ROLE) ?? false;
  }

  private permissionsOf(username: string): MergedPermissions | 'root' | null {
    const cached = this.cache.get(username);
    if (cached !== undefined) return cached;
    const user = this.state.users.get(username);
    if (user === undefined) return null;
    let merged: MergedPermissions | 'root';
    if (user.roles.includes(ROOT_ROLE)) merged = 'root';
    else {
      const perms: Permission[] = [];
      for (const roleName of user.roles) perms.push(...(this.state.roles.get(roleName)?.permissions ?? []));
      merged = mergePermissions(perms);
    }
    this.cache.set(username, merged);
    return merged;
  }

  // ---- mutations (inside the apply transaction) -------------------------------------------------------------

  /** etcd's AuthEnable: a no-op when enabled; needs user root with role root. Does not bump the revision. */
  enable(): void {
    const s = this.state;
    if (s.enabled) return;
    const root = s.users.get(ROOT_USER);
    if (root === undefined) throw etcdError('RootUserNotExist');
    if (!root.roles.includes(ROOT_ROLE)) throw etcdError('RootRoleNotExist');
    this.commit({ ...s, enabled: true }, false);
    this.effects.enabled();
  }

  /** etcd's AuthDisable: a no-op when disabled; bumps the revision and drops every token. */
  disable(): void {
    const s = this.state;
    if (!s.enabled) return;
    this.commit({ ...s, enabled: false }, true);
    this.effects.disabled();
  }

  userAdd(name: string, passwordHash: string, noPassword: boolean): void {
    if (name === '') throw etcdError('UserEmpty');
    const s = this.state;
    if (s.users.has(name)) throw etcdError('UserAlreadyExist');
    const user: UserRecord = { name, password: noPassword ? '' : passwordHash, roles: [], noPassword };
    this.persistence.putUser(user);
    this.commit({ ...s, users: withEntry(s.users, name, user) }, true);
  }

  userDelete(name: string): void {
    const s = this.state;
    if (s.enabled && name === ROOT_USER) throw etcdError('InvalidAuthMgmt');
    if (!s.users.has(name)) throw etcdError('UserNotFound');
    this.persistence.deleteUser(name);
    this.commit({ ...s, users: withoutEntry(s.users, name) }, true);
    this.effects.userInvalidated(name);
  }

  userChangePassword(name: string, passwordHash: string): void {
    const s = this.state;
    const user = s.users.get(name);
    if (user === undefined) throw etcdError('UserNotFound');
    const updated: UserRecord = { ...user, password: passwordHash };
    this.persistence.putUser(updated);
    this.commit({ ...s, users: withEntry(s.users, name, updated) }, true);
    this.effects.userInvalidated(name);
  }

  userGrantRole(userName: string, role: string): void {
    const s = this.state;
    const user = s.users.get(userName);
    if (user === undefined) throw etcdError('UserNotFound');
    if (role !== ROOT_ROLE && !s.roles.has(role)) throw etcdError('RoleNotFound');
    if (user.roles.includes(role)) return; // etcd logs and answers success, without a revision bump
    const updated: UserRecord = { ...user, roles: sortedNames([...user.roles, role]) };
    this.persistence.putUser(updated);
    this.commit({ ...s, users: withEntry(s.users, userName, updated) }, true);
  }

  userRevokeRole(userName: string, role: string): void {
    const s = this.state;
    if (s.enabled && userName === ROOT_USER && role === ROOT_ROLE) throw etcdError('InvalidAuthMgmt');
    const user = s.users.get(userName);
    if (user === undefined) throw etcdError('UserNotFound');
    if (!user.roles.includes(role)) throw etcdError('RoleNotGranted');
    const updated: UserRecord = { ...user, roles: user.roles.filter((r) => r !== role) };
    this.persistence.putUser(updated);
    this.commit({ ...s, users: withEntry(s.users, userName, updated) }, true);
  }

  roleAdd(name: string): void {
    if (name === '') throw etcdError('RoleEmpty');
    const s = this.state;
    if (s.roles.has(name)) throw etcdError('RoleAlreadyExist');
    const role: RoleRecord = { name, permissions: [] };
    this.persistence.putRole(role);
    this.commit({ ...s, roles: withEntry(s.roles, name, role) }, true);
  }

  /** Removes the role and strips it from every user that held it. */
  roleDelete(name: string): void {
    const s = this.state;
    if (s.enabled && name === ROOT_ROLE) throw etcdError('InvalidAuthMgmt');
    if (!s.roles.has(name)) throw etcdError('RoleNotFound');
    this.persistence.deleteRole(name);
    let users = s.users;
    for (const user of s.users.values()) {
      if (!user.roles.includes(name)) continue;
      const updated: UserRecord = { ...user, roles: user.roles.filter((r) => r !== name) };
      this.persistence.putUser(updated);
      users = withEntry(users, user.name, updated);
    }
    this.commit({ ...s, users, roles: withoutEntry(s.roles, name) }, true);
  }

  /**
   * etcd's RoleGrantPermission: the first permission whose key is not below the new one's is replaced if it has the
   * same key and range_end (only its type changes); otherwise the permission is added, and the list sorted by key.
   */
  roleGrantPermission(name: string, perm: Permission | undefined): void {
    const s = this.state;
    const role = s.roles.get(name);
    if (role === undefined) throw etcdError('RoleNotFound');
    // etcd 3.4.23 finds the role first, then dereferences the missing permission and crashes its apply loop; 3.4.25
    // answers `permission not given`: the role's absence first, as 3.4.23 answers it, then 3.4.25's error
    if (perm === undefined) throw etcdError('PermissionNotGiven');
    const perms = [...role.permissions];
    const at = perms.findIndex((p) => Buffer.compare(p.key, perm.key) >= 0);
    const granted: Permission = { permType: perm.permType, key: perm.key, range_end: perm.range_end ?? new Uint8Array(0) };
    if (at >= 0 && sameBytes(perms[at]!.key, perm.key) && sameBytes(perms[at]!.range_end, granted.range_end)) perms[at] = { ...perms[at]!, permType: perm.permType };
    else {
      perms.push(granted);
      sortPermissions(perms);
    }
    const updated: RoleRecord = { name, permissions: perms };
    this.persistence.putRole(updated);
    this.commit({ ...s, roles: withEntry(s.roles, name, updated) }, true);
  }

  /** Removes every permission with exactly this key and range_end; `permission is not granted` when none. */
  roleRevokePermission(name: string, key: Uint8Array, rangeEnd: Uint8Array): void {
    const s = this.state;
    const role = s.roles.get(name);
    if (role === undefined) throw etcdError('RoleNotFound');
    const kept = role.permissions.filter((p) => !sameBytes(p.key, key) || !sameBytes(p.range_end, rangeEnd));
    if (kept.length === role.permissions.length) throw etcdError('PermissionNotGranted');
    const updated: RoleRecord = { name, permissions: kept };
    this.persistence.putRole(updated);
    this.commit({ ...s, roles: withEntry(s.roles, name, updated) }, true);
  }

  /** Installs the next state, bumping and persisting the revision when asked, and drops the permission cache. */
  private commit(next: State, bump: boolean): void {
    if (bump) next.revision = this.state.revision + 1;
    this.persistence.putState({ enabled: next.enabled, revision: next.revision });
    this.state = next;
    this.cache = new Map();
  }
}

function withEntry<T>(m: ReadonlyMap<string, T>, key: string, value: T): Map<string, T> {
  const next = new Map(m);
  next.set(key, value);
  return next;
}

function withoutEntry<T>(m: ReadonlyMap<string, T>, key: string): Map<string, T> {
  const next = new Map(m);
  next.delete(key);
  return next;
}

/** Names in the byte order of their UTF-8 encoding, as Go sorts strings and bbolt orders keys. */
export function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Stable sort by key (Array.prototype.sort is stable), as etcd's sort of a role's permissions. */
function sortPermissions(perms: Permission[]): void {
  perms.sort((a, b) => Buffer.compare(a.key, b.key));
}

export type { AccessType };
