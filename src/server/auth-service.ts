// etcd's Auth service on a member (etcdserver/v3_server.go): auth management as Raft entries, checked for role root
// when applied (auth-apply.ts); the reads (UserGet, UserList, RoleGet, RoleList and 3.5's AuthStatus) after a
// ReadIndex round, checked as etcd's applier checks them; Authenticate checks the password here, with bcrypt off the
// event loop, then proposes an entry that carries the user and the random part of a simple token, never the
// password. UserAdd and UserChangePassword hash the password before proposing (etcd 3.5 does too), so every member
// applies the same hash.

import { AUTH_AUTHENTICATE_ATTEMPTS_MAX } from '../config/index.js';
import { ANONYMOUS, sortedNames, type Auth, type AuthInfo, type RequestAuth } from '../auth/index.js';
import { etcdError } from '../errors/index.js';
import type {
  AuthenticateRequest,
  AuthenticateResponse,
  AuthHeaderResponse,
  AuthRoleGetRequest,
  AuthRoleGetResponse,
  AuthRoleListResponse,
  AuthStatusResponse,
  AuthUserAddRequest,
  AuthUserChangePasswordRequest,
  AuthUserGetRequest,
  AuthUserGetResponse,
  AuthUserListResponse,
} from '../proto/index.js';
import type { AuthenticateEntry, UserPasswordEntry } from './auth-apply.js';
import type { HeaderSource, Reader } from './ports.js';
import type { AuthWriteMethod } from './proposals.js';

export interface AuthServicePorts extends Reader {
  readonly auth: Auth;
  header: HeaderSource;
  /** a client's auth entry through Raft, carrying its caller */
  propose(method: AuthWriteMethod, request: unknown, caller: AuthInfo): Promise<unknown>;
}

export class AuthService {
  constructor(private readonly ports: AuthServicePorts) {}

  private get auth(): Auth {
    return this.ports.auth;
  }

  /** An auth entry of the caller's (checked for role root when applied). */
  write(method: Exclude<AuthWriteMethod, 'Authenticate' | 'UserAdd' | 'UserChangePassword'>, request: unknown, caller: AuthInfo | null): Promise<AuthHeaderResponse> {
    return this.ports.propose(method, request, caller ?? ANONYMOUS) as Promise<AuthHeaderResponse>;
  }

  /**
   * etcd hashes at apply, after the root check; here the hash is made before proposing, so a caller the store would
   * refuse now is refused before paying for a bcrypt (the apply checks again).
   */
  async userAdd(req: AuthUserAddRequest, caller: AuthInfo | null): Promise<AuthHeaderResponse> {
    const noPassword = req.options?.no_password === true;
    this.auth.store.checkAdmin(caller);
    if (req.name === '') throw etcdError('UserEmpty'); // what the apply would answer, without a bcrypt first
    const hash = noPassword ? '' : await this.auth.passwords.hash(req.password);
    const entry: UserPasswordEntry = { name: req.name, hash, noPassword };
    return (await this.ports.propose('UserAdd', entry, caller ?? ANONYMOUS)) as AuthHeaderResponse;
  }

  async userChangePassword(req: AuthUserChangePasswordRequest, caller: AuthInfo | null): Promise<AuthHeaderResponse> {
    this.auth.store.checkAdmin(caller);
    const hash = await this.auth.passwords.hash(req.password);
    const entry: UserPasswordEntry = { name: req.name, hash };
    return (await this.ports.propose('UserChangePassword', entry, caller ?? ANONYMOUS)) as AuthHeaderResponse;
  }

  /**
   * etcd's Authenticate: a linearizable read, the password check (the member's own view), then the entry that makes
   * the token; if the store changed between the check and the entry's apply, the password is checked again.
   * `credentials`: the request's own token or CN, resolved only for the entry, as etcd's raft request does.
   */
  async authenticate(req: AuthenticateRequest, credentials: (() => AuthInfo | null | Promise<AuthInfo | null>)): Promise<AuthenticateResponse> {
    const store = this.auth.store;
    await this.ports.read(() => undefined);
    for (let attempt = 0; attempt < AUTH_AUTHENTICATE_ATTEMPTS_MAX; attempt++) {
      if (!store.enabled) throw etcdError('AuthNotEnabled');
      const user = store.user(req.name);
      if (user === undefined) throw etcdError('AuthFailed');
      if (user.noPassword) throw etcdError('NoPasswordUser');
      const checkedRevision = store.revision;
      if (!(await this.auth.passwords.verify(req.password, user.password))) throw etcdError('AuthFailed');
      const entry: AuthenticateEntry = { name: req.name, prefix: this.auth.tokens.genTokenPrefix() };
      const caller = await credentials();
      const resp = (await this.ports.propose('Authenticate', entry, caller ?? ANONYMOUS)) as AuthenticateResponse;
      if (checkedRevision === store.revision) return resp;
    }
    throw etcdError('AuthOldRevision');
  }

  // ---- reads (etcd applies these through Raft; here they follow a ReadIndex round) ----------------------------

  /** A user's roles: role root, or the user itself. */
  userGet(req: AuthUserGetRequest, caller: AuthInfo | null): Promise<AuthUserGetResponse> {
    return this.ports.read(() => {
      try {
        this.auth.store.checkAdmin(caller);
      } catch (err) {
        if (req.name !== (caller?.username ?? '')) throw err;
      }
      const user = this.auth.store.user(req.name);
      if (user === undefined) throw etcdError('UserNotFound');
      return { header: this.ports.header(), roles: [...user.roles] };
    });
  }

  userList(caller: AuthInfo | null): Promise<AuthUserListResponse> {
    return this.ports.read(() => {
      this.auth.store.checkAdmin(caller);
      return { header: this.ports.header(), users: this.auth.store.userNames() };
    });
  }

  /** A role's permissions: role root, or a holder of the role. */
  roleGet(req: AuthRoleGetRequest, caller: AuthInfo | null): Promise<AuthRoleGetResponse> {
    return this.ports.read(() => {
      const store = this.auth.store;
      try {
        store.checkAdmin(caller);
      } catch (err) {
        if (!store.hasRole(caller?.username ?? '', req.role)) throw err;
      }
      const role = store.role(req.role);
      if (role === undefined) throw etcdError('RoleNotFound');
      return { header: this.ports.header(), perm: role.permissions.map((p) => ({ permType: p.permType, key: p.key, range_end: p.range_end })) };
    });
  }

  roleList(caller: AuthInfo | null): Promise<AuthRoleListResponse> {
    return this.ports.read(() => {
      this.auth.store.checkAdmin(caller);
      return { header: this.ports.header(), roles: sortedNames(this.auth.store.roleNames()) };
    });
  }

  /** etcd 3.5's AuthStatus: role root when auth is enabled (3.5 applies it through Raft with the root check). */
  status(caller: AuthInfo | null): Promise<AuthStatusResponse> {
    return this.ports.read(() => {
      this.auth.store.checkAdmin(caller);
      return { header: this.ports.header(), enabled: this.auth.store.enabled, authRevision: this.auth.store.revision };
    });
  }
}

export type { RequestAuth };
