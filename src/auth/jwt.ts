// JWT tokens, as etcd 3.4 signs and reads them (auth/jwt.go, auth/options.go with golang-jwt v3): claims exactly
// {"exp","revision","username"} and header {"alg","typ":"JWT"}, both with their keys in Go's sorted map order,
// base64url without padding. `exp` is issue time + ttl (--auth-token's `ttl`, a Go duration, default 5m) in Unix
// seconds; `revision` is the auth revision at issue, so any later auth change makes the token fail the permission
// check with `revision of auth store is old`. RS/PS/ES keys come from PEM files (a public key alone verifies only);
// HS uses the priv-key file's bytes as the secret. Signing and verification use node:crypto (BENCHMARKS.md: faster
// than jose for both, and exact).

import crypto from 'node:crypto';
import { etcdError } from '../errors/index.js';
import { jsonQuoteText } from '../gocompat/index.js';
import type { AuthInfo } from './store.js';
import type { TokenLookup, TokenProvider } from './tokens.js';

export type JwtFamily = 'RS' | 'PS' | 'ES' | 'HS';

export interface JwtSignMethod {
  /** e.g. RS256 */
  readonly alg: string;
  readonly family: JwtFamily;
  /** node:crypto's digest name */
  readonly hash: 'sha256' | 'sha384' | 'sha512';
}

/** golang-jwt v3's registry (GetSigningMethod); "none" is known there but has no key type etcd accepts. */
export function signMethod(name: string): JwtSignMethod | 'none' | null {
  if (name === 'none') return 'none';
  const m = /^(RS|PS|ES|HS)(256|384|512)$/.exec(name);
  if (m === null) return null;
  return { alg: name, family: m[1] as JwtFamily, hash: `sha${m[2]}` as JwtSignMethod['hash'] };
}

/** The curve golang-jwt's ES method of each size signs with. */
const EC_CURVE: Record<string, string> = { sha256: 'prime256v1', sha384: 'secp384r1', sha512: 'secp521r1' };

export interface JwtKeys {
  readonly method: JwtSignMethod;
  /** absent: verify only (a public key alone) */
  readonly sign?: crypto.KeyObject;
  readonly verify: crypto.KeyObject;
}

export interface JwtClock {
  /** milliseconds since the Unix epoch */
  wallNow(): number;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export interface JwtOptions {
  readonly keys: JwtKeys;
  readonly ttlMs: number;
  /** verified tokens kept so a token's signature is checked once, not on every request (AUTH_JWT_VERIFIED_CACHE_MAX) */
  readonly verifiedCacheMax: number;
}

interface Verified {
  readonly info: AuthInfo;
  /** Unix seconds */
  readonly exp: number | null;
}

export class JwtTokens implements TokenProvider {
  readonly type = 'jwt';
  /** a JWT is signed by the member that proposed the Authenticate; no other member needs to hold it */
  readonly assignEverywhere = false;
  private readonly header: string;
  private verified = new Map<string, Verified>();

  constructor(
    private readonly options: JwtOptions,
    private readonly clock: JwtClock,
  ) {
    this.header = b64url(`{"alg":"${options.keys.method.alg}","typ":"JWT"}`);
  }

  genTokenPrefix(): string {
    return '';
  }

  assign(username: string, revision: number): string {
    const { keys, ttlMs } = this.options;
    if (keys.sign === undefined) throw etcdError('VerifyOnly');
    const exp = Math.floor((this.clock.wallNow() + ttlMs) / 1000);
    const claims = `{"exp":${exp},"revision":${revision},"username":${jsonQuoteText(username)}}`;
    const input = `${this.header}.${b64url(claims)}`;
    return `${input}.${b64url(sign(keys.method, keys.sign, Buffer.from(input)))}`;
  }

  info(token: string): TokenLookup {
    const hit = this.verified.get(token);
    if (hit !== undefined) return this.unexpired(hit) ? hit.info : null;
    const v = this.parse(token);
    if (v === null) return null;
    if (this.verified.size >= this.options.verifiedCacheMax) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, v);
    return this.unexpired(v) ? v.info : null;
  }

  private unexpired(v: Verified): boolean {
    // golang-jwt: valid while now <= exp (seconds)
    return v.exp === null || Math.floor(this.clock.wallNow() / 1000) <= v.exp;
  }

  /** jwt.Parse with etcd's key function: three segments, the configured algorithm, a good signature and claims. */
  private parse(token: string): Verified | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [h, c, s] = parts as [string, string, string];
    const header = decodeSegment(h);
    const claims = decodeSegment(c);
    if (header === null || claims === null || header['alg'] !== this.options.keys.method.alg) return null;
    let signature: Buffer;
    try {
      signature = Buffer.from(s, 'base64url');
    } catch {
      return null;
    }
    if (!verify(this.options.keys.method, this.options.keys.verify, Buffer.from(`${h}.${c}`), signature)) return null;
    const now = Math.floor(this.clock.wallNow() / 1000);
    const iat = claims['iat'];
    const nbf = claims['nbf'];
    if ((typeof iat === 'number' && now < iat) || (typeof nbf === 'number' && now < nbf)) return null;
    const username = claims['username'];
    const revision = claims['revision'];
    const exp = claims['exp'];
    // etcd 3.4.23 panics on a token without these (signed with its own key); later 3.4 releases refuse it
    if (typeof username !== 'string' || typeof revision !== 'number') return null;
    if (exp !== undefined && typeof exp !== 'number') return null;
    return { info: { username, revision: Math.max(0, Math.trunc(revision)) }, exp: typeof exp === 'number' ? Math.trunc(exp) : null };
  }

  enable(): void {}
  disable(): void {}
  invalidateUser(): void {}
  close(): void {
    this.verified = new Map();
  }
}

function decodeSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function sign(method: JwtSignMethod, key: crypto.KeyObject, data: Buffer): Buffer {
  switch (method.family) {
    case 'HS':
      return crypto.createHmac(method.hash, key).update(data).digest();
    case 'RS':
      return crypto.sign(method.hash, data, key);
    case 'PS':
      return crypto.sign(method.hash, data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST });
    case 'ES':
      // golang-jwt refuses a key of another curve than the method's ("key is invalid")
      if (key.asymmetricKeyDetails?.namedCurve !== EC_CURVE[method.hash]) throw etcdError('InvalidKey');
      return crypto.sign(method.hash, data, { key, dsaEncoding: 'ieee-p1363' });
  }
}

function verify(method: JwtSignMethod, key: crypto.KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    switch (method.family) {
      case 'HS': {
        const expected = crypto.createHmac(method.hash, key).update(data).digest();
        return expected.length === signature.length && crypto.timingSafeEqual(expected, signature);
      }
      case 'RS':
        return crypto.verify(method.hash, data, key, signature);
      case 'PS':
        return crypto.verify(method.hash, data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO }, signature);
      case 'ES':
        return crypto.verify(method.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
  } catch {
    return false;
  }
}
