// One member's auth: the store, the token provider and the password hasher, and the step every request's
// credentials go through (`resolve`): a token is looked up (an unknown, expired or forged one is `invalid auth token`,
// whatever the request, as etcd's AuthInfoFromCtx answers even with auth disabled); without a token the verified TLS
// client certificate's CN is the user; without either the request is anonymous (null).

import type { Clock } from '../clock/index.js';
import { etcdError } from '../errors/index.js';
import { JwtTokens } from './jwt.js';
import type { AuthTokenConfig } from './options.js';
import { PasswordHasher, type PasswordLimits } from './password.js';
import { AuthStore, type AuthContents, type AuthInfo, type AuthPersistence } from './store.js';
import { NoTokens, SimpleTokens, type TokenProvider } from './tokens.js';

/** Who sends a request, as its front end saw it (see server/methods.ts). A token beats the CN, as in etcd. */
export interface RequestAuth {
  /** gRPC metadata `token` (or `authorization`), the gateway's Authorization header, the binary protocol's token */
  token?: string;
  /** the Subject CN of the verified client certificate (filled by the TLS layer with --client-cert-auth) */
  commonName?: string;
}

export interface AuthPorts {
  readonly clock: Clock;
  readonly persistence: AuthPersistence;
  /** the highest Raft index whose apply has run on this member */
  appliedIndex(): number;
  /** resolves true once this member has applied `index`, false if that takes longer than the request timeout */
  waitApplied(index: number): Promise<boolean>;
}

export interface AuthSettings {
  readonly token: AuthTokenConfig;
  /** --auth-token-ttl (seconds; simple tokens) */
  readonly tokenTtlSeconds: number;
  /** --bcrypt-cost, already checked against bcrypt's bounds */
  readonly bcryptCost: number;
  readonly passwordChecks: PasswordLimits;
  readonly jwtVerifiedCacheMax: number;
}

export class Auth {
  readonly store: AuthStore;
  readonly tokens: TokenProvider;
  readonly passwords: PasswordHasher;

  constructor(
    contents: AuthContents,
    private readonly ports: AuthPorts,
    settings: AuthSettings,
  ) {
    this.tokens = makeTokens(settings, ports);
    this.passwords = new PasswordHasher(settings.bcryptCost, settings.passwordChecks);
    const tokens = this.tokens;
    this.store = new AuthStore(contents, ports.persistence, {
      enabled: () => tokens.enable(),
      disabled: () => tokens.disable(),
      userInvalidated: (name) => tokens.invalidateUser(name),
    });
  }

  get enabled(): boolean {
    return this.store.enabled;
  }

  /**
   * The caller of a request: its token's user (throws `invalid auth token`), else its certificate's CN at the current
   * auth revision, else null. A simple token whose Authenticate entry this member has not applied yet is waited for.
   */
  resolve(auth: RequestAuth | undefined): AuthInfo | null | Promise<AuthInfo | null> {
    if (auth === undefined) return null;
    if (auth.token !== undefined) {
      const found = this.tokens.info(auth.token, this.store.revision);
      if (found === null) throw etcdError('InvalidAuthToken');
      if (!('pendingIndex' in found)) return found;
      const token = auth.token;
      return this.ports.waitApplied(found.pendingIndex).then(() => {
        const again = this.tokens.info(token, this.store.revision);
        if (again === null || 'pendingIndex' in again) throw etcdError('InvalidAuthToken');
        return again;
      });
    }
    if (auth.commonName !== undefined && auth.commonName !== '') return { username: auth.commonName, revision: this.store.revision };
    return null;
  }

  close(): void {
    this.tokens.close();
  }
}

function makeTokens(settings: AuthSettings, ports: AuthPorts): TokenProvider {
  switch (settings.token.type) {
    case 'simple':
      return new SimpleTokens({ clock: ports.clock, appliedIndex: () => ports.appliedIndex() }, settings.tokenTtlSeconds);
    case 'none':
      return new NoTokens();
    case 'jwt':
      return new JwtTokens({ keys: settings.token.keys, ttlMs: settings.token.ttlMs, verifiedCacheMax: settings.jwtVerifiedCacheMax }, ports.clock);
  }
}
