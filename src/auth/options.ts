// --auth-token, parsed as etcd 3.4 parses it (auth/store.go decomposeOpts and NewTokenProvider, auth/options.go):
// "simple" | "jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256,ttl=10m" | "" (no tokens at all). Each option is
// name=value (exactly one "="), no name twice. With etcd's start-up errors: `auth: invalid auth options` for a
// malformed string, an unknown type, or JWT options that do not load (an unreadable file, a bad ttl, an unknown
// sign-method), `auth: missing key data` without a key, `auth: public and private keys don't match`, and PEM errors.
// The key files are read through the given port: this module does no I/O of its own.

import crypto from 'node:crypto';
import { DurationError, parseDuration, utf8ToByteString } from '../gocompat/index.js';
import { signMethod, type JwtKeys, type JwtSignMethod } from './jwt.js';

/** A refused --auth-token: `message` is etcd's fatal error; `logs` what etcd logs before it. */
export class AuthTokenOptionsError extends Error {
  constructor(
    message: string,
    readonly logs: readonly string[] = [],
  ) {
    super(message);
  }
}

export type AuthTokenConfig =
  | { readonly type: 'simple' }
  | { readonly type: 'none' }
  | { readonly type: 'jwt'; readonly keys: JwtKeys; readonly ttlMs: number; readonly warnings: readonly string[] };

/** Reads a key file; throws an Error whose message is Go's os error text ("open PATH: no such file or directory"). */
export type ReadKeyFile = (path: string) => Buffer;

const INVALID_OPTIONS = 'auth: invalid auth options';
const KNOWN_JWT_OPTIONS = new Set(['sign-method', 'pub-key', 'priv-key', 'ttl']);
/** golang-jwt's DefaultTTL for etcd's JWT tokens */
export const JWT_TTL_DEFAULT_MS = 5 * 60 * 1000;

/** decomposeOpts: the token type and its options. */
function decompose(text: string): { type: string; options: Map<string, string> } {
  const parts = text.split(',');
  const options = new Map<string, string>();
  for (const part of parts.slice(1)) {
    const pair = part.split('=');
    if (pair.length !== 2) throw new AuthTokenOptionsError(INVALID_OPTIONS, [`invalid token specific option: ${text}`]);
    if (options.has(pair[0]!)) throw new AuthTokenOptionsError(INVALID_OPTIONS, [`invalid token specific option, duplicated parameters (${pair[0]}): ${text}`]);
    options.set(pair[0]!, pair[1]!);
  }
  return { type: parts[0]!, options };
}

/** Parses --auth-token; throws AuthTokenOptionsError. `readFile` reads the JWT key files. */
export function parseAuthToken(text: string, readFile: ReadKeyFile): AuthTokenConfig {
  const { type, options } = decompose(text);
  switch (type) {
    case 'simple':
      return { type: 'simple' };
    case '':
      return { type: 'none' };
    case 'jwt':
      return parseJwt(options, readFile);
    default:
      throw new AuthTokenOptionsError(INVALID_OPTIONS, [`unknown token type: ${type}`]);
  }
}

function problem(detail: string): AuthTokenOptionsError {
  return new AuthTokenOptionsError(INVALID_OPTIONS, [`problem loading JWT options: ${detail}`]);
}

/** jwtOptions.ParseWithDefaults, then Key(). */
function parseJwt(options: Map<string, string>, readFile: ReadKeyFile): AuthTokenConfig {
  let ttlMs = JWT_TTL_DEFAULT_MS;
  const ttl = options.get('ttl') ?? '';
  if (ttl !== '') {
    try {
      ttlMs = Number(parseDuration(utf8ToByteString(ttl))) / 1e6;
    } catch (err) {
      if (err instanceof DurationError) throw problem(err.message);
      throw err;
    }
  }
  const read = (name: string): Buffer | null => {
    const file = options.get(name) ?? '';
    if (file === '') return null;
    try {
      return readFile(file);
    } catch (err) {
      throw problem((err as Error).message);
    }
  };
  const publicPem = read('pub-key');
  const privatePem = read('priv-key');
  const method = signMethod(options.get('sign-method') ?? '');
  if (method === null) throw problem('auth: invalid auth signature method');
  const unknown = [...options.keys()].filter((k) => !KNOWN_JWT_OPTIONS.has(k));
  const warnings = unknown.length > 0 ? [`unknown JWT options: [${unknown.join(' ')}]`] : [];
  if (method === 'none') throw new AuthTokenOptionsError('unsupported signing method: *jwt.signingMethodNone');
  return { type: 'jwt', keys: loadKeys(method, publicPem, privatePem), ttlMs, warnings };
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----/;

/** golang-jwt's texts for key files it cannot use. */
const KEY_ERRORS = {
  notPem: 'Invalid Key: Key must be PEM encoded PKCS1 or PKCS8 private key',
  notRsaPrivate: 'Key is not a valid RSA private key',
  notRsaPublic: 'Key is not a valid RSA public key',
  notEcPrivate: 'Key is not a valid ECDSA private key',
  notEcPublic: 'Key is not a valid ECDSA public key',
};

function pemType(pem: Buffer): string | null {
  return PEM_BLOCK.exec(pem.toString('latin1'))?.[1] ?? null;
}

function loadPrivate(pem: Buffer, want: 'rsa' | 'ec'): crypto.KeyObject {
  const block = pemType(pem);
  if (block === null) throw new AuthTokenOptionsError(KEY_ERRORS.notPem);
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(pem);
  } catch {
    throw new AuthTokenOptionsError(want === 'rsa' ? 'x509: failed to parse private key' : 'x509: failed to parse EC private key');
  }
  const type = key.asymmetricKeyType;
  if (want === 'rsa' && type !== 'rsa' && type !== 'rsa-pss') {
    // an SEC1 EC key is refused by Go's PKCS#8 parser with this hint; a PKCS#8 key of another type by golang-jwt
    throw new AuthTokenOptionsError(block === 'EC PRIVATE KEY' ? 'x509: failed to parse private key (use ParseECPrivateKey instead for this key format)' : KEY_ERRORS.notRsaPrivate);
  }
  if (want === 'ec' && type !== 'ec') throw new AuthTokenOptionsError(block === 'RSA PRIVATE KEY' ? 'x509: failed to parse EC private key' : KEY_ERRORS.notEcPrivate);
  return key;
}

function loadPublic(pem: Buffer, want: 'rsa' | 'ec'): crypto.KeyObject {
  if (pemType(pem) === null) throw new AuthTokenOptionsError(KEY_ERRORS.notPem);
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey(pem);
  } catch {
    throw new AuthTokenOptionsError(want === 'rsa' ? KEY_ERRORS.notRsaPublic : KEY_ERRORS.notEcPublic);
  }
  const type = key.asymmetricKeyType;
  if (want === 'rsa' && type !== 'rsa' && type !== 'rsa-pss') throw new AuthTokenOptionsError(KEY_ERRORS.notRsaPublic);
  if (want === 'ec' && type !== 'ec') throw new AuthTokenOptionsError(KEY_ERRORS.notEcPublic);
  return key;
}

function jwk(key: crypto.KeyObject): crypto.JsonWebKey {
  return (key.type === 'private' ? crypto.createPublicKey(key) : key).export({ format: 'jwk' });
}

/** jwtOptions.Key(): the signing key (private, or the HMAC secret) and the key that verifies. */
function loadKeys(method: JwtSignMethod, publicPem: Buffer | null, privatePem: Buffer | null): JwtKeys {
  if (method.family === 'HS') {
    if (privatePem === null || privatePem.length === 0) throw new AuthTokenOptionsError('auth: missing key data');
    const secret = crypto.createSecretKey(privatePem);
    return { method, sign: secret, verify: secret };
  }
  const want = method.family === 'ES' ? 'ec' : 'rsa';
  const priv = privatePem === null ? null : loadPrivate(privatePem, want);
  const pub = publicPem === null ? null : loadPublic(publicPem, want);
  if (priv === null) {
    if (pub === null) throw new AuthTokenOptionsError('auth: missing key data');
    return { method, verify: pub };
  }
  if (pub !== null) {
    // etcd's check, as written there: keys count as mismatched only when every compared part differs
    const a = jwk(priv);
    const b = jwk(pub);
    const mismatch = want === 'rsa' ? a.e !== b.e && a.n !== b.n : a.crv !== b.crv && a.x !== b.x && a.y !== b.y;
    if (mismatch) throw new AuthTokenOptionsError("auth: public and private keys don't match");
  }
  return { method, sign: priv, verify: crypto.createPublicKey(priv) };
}

/** Go's os error text for a failed read of `path`. */
export function goReadFileError(path: string, err: NodeJS.ErrnoException): Error {
  const reason: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'not a directory',
  };
  const text = reason[err.code ?? ''] ?? err.message;
  return new Error(err.code === 'EISDIR' ? `read ${path}: ${text}` : `open ${path}: ${text}`);
}
