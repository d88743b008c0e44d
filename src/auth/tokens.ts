// Auth tokens, as etcd 3.4's token providers hand them out and read them back (auth/simple_token.go, auth/nop.go; JWT
// is in jwt.ts). A token provider turns a successful Authenticate into a token, and a token on a request back into
// the user it names.
//
// simple (the default): 16 random letters, ".", the Raft index of the Authenticate entry, e.g.
// "DoYRBUEzachXBFTg.450". Every member registers the token when it applies that entry, so any member accepts it once
// it has applied that index (a member behind waits for it). Tokens live in memory only, with a sliding TTL
// (--auth-token-ttl, 300 s): each use restarts it, and a sweep every second drops the expired ones. Disabling auth
// drops them all; deleting a user or changing its password drops that user's.

import { randomInt } from 'node:crypto';
import type { Clock, ClockTimer } from '../clock/index.js';
import { etcdError } from '../errors/index.js';
import type { AuthInfo } from './store.js';

/** What a token says about its bearer: valid, not valid here, or valid once this member has applied `index`. */
export type TokenLookup = AuthInfo | null | { readonly pendingIndex: number };

export interface TokenProvider {
  readonly type: 'simple' | 'jwt' | 'none';
  /** the bearer of `token`; `storeRevision` is the auth store's revision (a simple token carries none) */
  info(token: string, storeRevision: number): TokenLookup;
  /**
   * A new token for `username` (applying an Authenticate entry at Raft index `index`; `prefix` is the random part the
   * proposer chose); throws the provider's error when it cannot sign one.
   */
  assign(username: string, revision: number, index: number, prefix: string): string;
  /** the random part of a simple token, chosen by the member that proposes the Authenticate ("" for JWT) */
  genTokenPrefix(): string;
  /** whether every member must run `assign` when it applies an Authenticate (simple tokens are held per member) */
  readonly assignEverywhere: boolean;
  enable(): void;
  disable(): void;
  invalidateUser(username: string): void;
  close(): void;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const SIMPLE_TOKEN_PREFIX_LENGTH = 16;
/** etcd's simpleTokenTTLDefault, used when --auth-token-ttl is 0 */
export const SIMPLE_TOKEN_TTL_DEFAULT_SECONDS = 300;
/** etcd's simpleTokenTTLResolution: how often expired simple tokens are swept */
export const SIMPLE_TOKEN_SWEEP_MS = 1000;

/** The clock and Raft progress a simple token provider needs. */
export interface SimpleTokenPorts {
  readonly clock: Clock;
  /** the highest Raft index this member has applied (whose tokens are registered) */
  appliedIndex(): number;
}

interface Held {
  readonly username: string;
  expiresAt: number;
}

/** Go's strconv.Atoi of a token's index, as a number (a negative index wraps to a huge uint64, as in etcd). */
function parseIndex(text: string): number | null {
  if (!/^[+-]?[0-9]+$/.test(text)) return null;
  const n = BigInt(text);
  if (n > 0x7fff_ffff_ffff_ffffn || n < -0x8000_0000_0000_0000n) return null;
  return n < 0n ? Number.MAX_SAFE_INTEGER : Number(n);
}

export class SimpleTokens implements TokenProvider {
  readonly type = 'simple';
  readonly assignEverywhere = true;
  private tokens = new Map<string, Held>();
  private sweeper: ClockTimer | null = null;
  private readonly ttlMs: number;

  constructor(
    private readonly ports: SimpleTokenPorts,
    ttlSeconds: number,
  ) {
    this.ttlMs = (ttlSeconds > 0 ? ttlSeconds : SIMPLE_TOKEN_TTL_DEFAULT_SECONDS) * 1000;
  }

  /** Tokens currently held (for tests and metrics). */
  get size(): number {
    return this.tokens.size;
  }

  genTokenPrefix(): string {
    let s = '';
    for (let i = 0; i < SIMPLE_TOKEN_PREFIX_LENGTH; i++) s += LETTERS[randomInt(LETTERS.length)]!;
    return s;
  }

  info(token: string, storeRevision: number): TokenLookup {
    const parts = token.split('.');
    if (parts.length !== 2) return null;
    const index = parseIndex(parts[1]!);
    if (index === null) return null;
    const held = this.tokens.get(token);
    if (held === undefined) return index > this.ports.appliedIndex() ? { pendingIndex: index } : null;
    // a use restarts the TTL (etcd's resetSimpleToken)
    if (this.sweeper !== null) held.expiresAt = this.ports.clock.now() + this.ttlMs;
    return { username: held.username, revision: storeRevision };
  }

  assign(username: string, _revision: number, index: number, prefix: string): string {
    const token = `${prefix}.${index}`;
    // as etcd: with auth disabled the token is made but not kept (Authenticate refuses before it comes to that)
    if (this.sweeper !== null) this.tokens.set(token, { username, expiresAt: this.ports.clock.now() + this.ttlMs });
    return token;
  }

  enable(): void {
    if (this.sweeper !== null) return;
    this.sweeper = this.ports.clock.setInterval(() => this.sweep(), SIMPLE_TOKEN_SWEEP_MS);
  }

  disable(): void {
    this.ports.clock.clear(this.sweeper);
    this.sweeper = null;
    this.tokens = new Map();
  }

  invalidateUser(username: string): void {
    for (const [token, held] of this.tokens) if (held.username === username) this.tokens.delete(token);
  }

  close(): void {
    this.disable();
  }

  private sweep(): void {
    const now = this.ports.clock.now();
    for (const [token, held] of this.tokens) if (now > held.expiresAt) this.tokens.delete(token);
  }
}

/** etcd's nop provider (--auth-token ''): no token is ever valid, and Authenticate fails. */
export class NoTokens implements TokenProvider {
  readonly type = 'none';
  readonly assignEverywhere = false;
  info(): TokenLookup {
    return null;
  }
  assign(): string {
    throw etcdError('AuthFailed');
  }
  genTokenPrefix(): string {
    return '';
  }
  enable(): void {}
  disable(): void {}
  invalidateUser(): void {}
  close(): void {}
}
