// Tokens as etcd 3.4 makes and reads them. Simple: 16 letters "." index, accepted once the index is applied, with a
// sliding TTL swept every second (on a manual clock here), dropped by auth disable and per user. JWT: the exact
// header and claims, the signature checked with the configured method, expiry, refused forgeries; --auth-token parsed
// with etcd's start-up errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { AuthTokenOptionsError, JwtTokens, parseAuthToken, SimpleTokens, type AuthTokenConfig } from '../../src/auth/index.js';
import { ManualClock } from '../../src/clock/index.js';

test('a simple token is 16 letters, a dot and the index of its Authenticate entry', () => {
  const clock = new ManualClock();
  const tokens = new SimpleTokens({ clock, appliedIndex: () => 100 }, 300);
  tokens.enable();
  const prefix = tokens.genTokenPrefix();
  assert.match(prefix, /^[a-zA-Z]{16}$/);
  assert.notEqual(tokens.genTokenPrefix(), prefix);
  const token = tokens.assign('alice', 5, 42, prefix);
  assert.equal(token, `${prefix}.42`);
  assert.deepEqual(tokens.info(token, 7), { username: 'alice', revision: 7 }, 'the revision is the store\'s');
  tokens.close();
});

test('a simple token whose index is not applied yet is pending; malformed or unknown ones are invalid', () => {
  const clock = new ManualClock();
  let applied = 10;
  const tokens = new SimpleTokens({ clock, appliedIndex: () => applied }, 300);
  tokens.enable();
  assert.deepEqual(tokens.info('abcdefghijklmnop.11', 1), { pendingIndex: 11 });
  assert.equal(tokens.info('abcdefghijklmnop.9', 1), null, 'applied and unknown');
  for (const bad of ['nodot', 'a.b.c', 'abc.x1', 'abc.', '.5', 'abc.99999999999999999999']) assert.equal(tokens.info(bad, 1), null, bad);
  applied = 11;
  const t = tokens.assign('bob', 1, 11, 'abcdefghijklmnop');
  assert.deepEqual(tokens.info(t, 1), { username: 'bob', revision: 1 });
  tokens.close();
});

test('the simple token TTL slides: each use restarts it; an idle token is swept after it', async () => {
  const clock = new ManualClock();
  const tokens = new SimpleTokens({ clock, appliedIndex: () => 100 }, 3);
  tokens.enable();
  const t = tokens.assign('alice', 1, 1, tokens.genTokenPrefix());
  // used at 0, 2 and 4 s it lives on (the reference's observation with --auth-token-ttl 3)
  for (let i = 0; i < 2; i++) {
    await clock.advance(2000, 0);
    assert.notEqual(tokens.info(t, 1), null, `used at ${(i + 1) * 2} s`);
  }
  await clock.advance(2900, 0);
  assert.notEqual(tokens.info(t, 1), null, 'still alive 2.9 s after its last use');
  await clock.advance(3100, 0);
  assert.equal(tokens.info(t, 1), null, 'swept once idle for more than the TTL');
  assert.equal(tokens.size, 0);
  tokens.close();
});

test('auth disable drops every simple token; a user\'s delete or new password drops that user\'s', () => {
  const clock = new ManualClock();
  const tokens = new SimpleTokens({ clock, appliedIndex: () => 100 }, 300);
  tokens.enable();
  const a1 = tokens.assign('alice', 1, 1, tokens.genTokenPrefix());
  const a2 = tokens.assign('alice', 1, 2, tokens.genTokenPrefix());
  const b1 = tokens.assign('bob', 1, 3, tokens.genTokenPrefix());
  tokens.invalidateUser('alice');
  assert.equal(tokens.info(a1, 1), null);
  assert.equal(tokens.info(a2, 1), null);
  assert.notEqual(tokens.info(b1, 1), null);
  tokens.disable();
  assert.equal(tokens.info(b1, 1), null);
  // with auth disabled a token is made but not kept
  const c = tokens.assign('carol', 1, 4, tokens.genTokenPrefix());
  assert.equal(tokens.info(c, 1), null);
});

function rsaKeys(): { privatePem: Buffer; publicPem: Buffer } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privatePem: Buffer.from(privateKey.export({ type: 'pkcs1', format: 'pem' })), publicPem: Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })) };
}

function ecKeys(curve: string): { privatePem: Buffer; publicPem: Buffer } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: curve });
  return { privatePem: Buffer.from(privateKey.export({ type: 'sec1', format: 'pem' })), publicPem: Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })) };
}

function files(map: Record<string, Buffer>): (path: string) => Buffer {
  return (p) => {
    const f = map[p];
    if (f === undefined) throw new Error(`open ${p}: no such file or directory`);
    return f;
  };
}

function jwt(config: AuthTokenConfig, clock: ManualClock): JwtTokens {
  assert.equal(config.type, 'jwt');
  if (config.type !== 'jwt') throw new Error('not jwt');
  return new JwtTokens({ keys: config.keys, ttlMs: config.ttlMs, verifiedCacheMax: 4 }, clock);
}

const segment = (token: string, i: number): unknown => JSON.parse(Buffer.from(token.split('.')[i]!, 'base64url').toString());

test('a JWT has etcd\'s exact header and claims, and reads back as its user and revision', () => {
  const rsa = rsaKeys();
  const clock = new ManualClock({ now: 0, wall: Date.UTC(2026, 0, 1) });
  const tokens = jwt(parseAuthToken('jwt,pub-key=pub,priv-key=priv,sign-method=RS256,ttl=10m', files({ pub: rsa.publicPem, priv: rsa.privatePem })), clock);
  const token = tokens.assign('al<i>ce', 29);
  const [h, c] = token.split('.');
  assert.equal(Buffer.from(h!, 'base64url').toString(), '{"alg":"RS256","typ":"JWT"}');
  assert.equal(Buffer.from(c!, 'base64url').toString(), `{"exp":${Date.UTC(2026, 0, 1) / 1000 + 600},"revision":29,"username":"al\\u003ci\\u003ece"}`);
  assert.ok(!token.includes('='), 'base64url without padding');
  assert.deepEqual(tokens.info(token), { username: 'al<i>ce', revision: 29 });
});

test('a JWT past its exp, with a changed claim, another algorithm or another key is refused', async () => {
  const rsa = rsaKeys();
  const clock = new ManualClock();
  const tokens = jwt(parseAuthToken('jwt,priv-key=priv,sign-method=RS256,ttl=2s', files({ priv: rsa.privatePem })), clock);
  const token = tokens.assign('alice', 3);
  assert.notEqual(tokens.info(token), null);
  const [h, , s] = token.split('.');
  const forgedClaims = Buffer.from('{"exp":9999999999,"revision":3,"username":"root"}').toString('base64url');
  assert.equal(tokens.info(`${h}.${forgedClaims}.${s}`), null, 'a claim changed');
  const other = jwt(parseAuthToken('jwt,priv-key=priv,sign-method=RS256', files({ priv: rsaKeys().privatePem })), clock).assign('alice', 3);
  assert.equal(tokens.info(other), null, 'signed with another key');
  const noneAlg = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${forgedClaims}.`;
  assert.equal(tokens.info(noneAlg), null, 'alg none');
  assert.equal(tokens.info('not.a.jwt'), null);
  assert.equal(tokens.info('onlyone'), null);
  await clock.advance(2000, 0);
  assert.notEqual(tokens.info(token), null, 'valid while now <= exp (seconds)');
  await clock.advance(1000, 0);
  assert.equal(tokens.info(token), null, 'expired (also once cached)');
});

test('JWT methods: PS, ES (raw R||S) and HS (the priv-key file as the secret), and verify-only keys', () => {
  const clock = new ManualClock();
  const rsa = rsaKeys();
  const ps = jwt(parseAuthToken('jwt,priv-key=priv,sign-method=PS384', files({ priv: rsa.privatePem })), clock);
  assert.deepEqual(ps.info(ps.assign('u', 1)), { username: 'u', revision: 1 });
  const ec = ecKeys('prime256v1');
  const es = jwt(parseAuthToken('jwt,priv-key=priv,pub-key=pub,sign-method=ES256', files({ priv: ec.privatePem, pub: ec.publicPem })), clock);
  const esToken = es.assign('u', 2);
  assert.equal(Buffer.from(esToken.split('.')[2]!, 'base64url').length, 64, 'ES256 signature is R||S');
  assert.deepEqual(es.info(esToken), { username: 'u', revision: 2 });
  const hs = jwt(parseAuthToken('jwt,priv-key=secret,sign-method=HS256', files({ secret: Buffer.from('shared secret') })), clock);
  const hsToken = hs.assign('u', 3);
  const expected = crypto.createHmac('sha256', 'shared secret').update(hsToken.slice(0, hsToken.lastIndexOf('.'))).digest('base64url');
  assert.equal(hsToken.split('.')[2], expected);
  const verifyOnly = jwt(parseAuthToken('jwt,pub-key=pub,sign-method=ES256', files({ pub: ec.publicPem })), clock);
  assert.deepEqual(verifyOnly.info(esToken), { username: 'u', revision: 2 });
  assert.throws(() => verifyOnly.assign('u', 1), /auth: token signing attempted with verify-only key/);
  const wrongCurve = jwt(parseAuthToken('jwt,priv-key=priv,sign-method=ES256', files({ priv: ecKeys('secp384r1').privatePem })), clock);
  assert.throws(() => wrongCurve.assign('u', 1), /^EtcdError: key is invalid$|key is invalid/);
  assert.deepEqual(segment(esToken, 0), { alg: 'ES256', typ: 'JWT' });
});

test('--auth-token is parsed as etcd parses it, with its start-up errors', () => {
  const rsa = rsaKeys();
  const read = files({ priv: rsa.privatePem, pub: rsa.publicPem, ec: ecKeys('prime256v1').privatePem });
  assert.deepEqual(parseAuthToken('simple', read), { type: 'simple' });
  assert.deepEqual(parseAuthToken('', read), { type: 'none' });
  const refused = (opt: string, message: string, log?: string): void => {
    assert.throws(
      () => parseAuthToken(opt, read),
      (err: unknown) => err instanceof AuthTokenOptionsError && err.message === message && (log === undefined || err.logs.includes(log)),
      opt,
    );
  };
  refused('bogus', 'auth: invalid auth options', 'unknown token type: bogus');
  refused('jwt,priv-key', 'auth: invalid auth options', 'invalid token specific option: jwt,priv-key');
  refused('jwt,priv-key=priv,sign-method=RS256,sign-method=RS384', 'auth: invalid auth options', 'invalid token specific option, duplicated parameters (sign-method): jwt,priv-key=priv,sign-method=RS256,sign-method=RS384');
  refused('jwt,sign-method=XX256,priv-key=priv', 'auth: invalid auth options', 'problem loading JWT options: auth: invalid auth signature method');
  refused('jwt,priv-key=priv,sign-method=RS256,ttl=abc', 'auth: invalid auth options', 'problem loading JWT options: time: invalid duration "abc"');
  refused('jwt,priv-key=/nonexist,sign-method=RS256', 'auth: invalid auth options', 'problem loading JWT options: open /nonexist: no such file or directory');
  refused('jwt,sign-method=RS256', 'auth: missing key data');
  refused('jwt,sign-method=HS256', 'auth: missing key data');
  refused('jwt,priv-key=ec,sign-method=RS256', 'x509: failed to parse private key (use ParseECPrivateKey instead for this key format)');
  const other = rsaKeys();
  // etcd's check counts keys as mismatched only when the exponent and the modulus both differ: two RSA keys with the
  // usual exponent pass it, and the private key is what signs and verifies
  const mismatched = parseAuthToken('jwt,priv-key=priv,pub-key=pub2,sign-method=RS256', files({ priv: rsa.privatePem, pub2: other.publicPem }));
  assert.ok(mismatched.type === 'jwt' && mismatched.keys.sign !== undefined);
  const withUnknown = parseAuthToken('jwt,priv-key=priv,sign-method=RS512,foo=bar', read);
  assert.ok(withUnknown.type === 'jwt' && withUnknown.warnings.includes('unknown JWT options: [foo]'));
  assert.ok(withUnknown.type === 'jwt' && withUnknown.ttlMs === 5 * 60 * 1000, 'default ttl 5m');
});
