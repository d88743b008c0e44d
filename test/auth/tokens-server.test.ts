// Tokens on a member: a simple token's sliding TTL on the member's manual clock (--auth-token-ttl), and JWT tokens
// (--auth-token jwt,...): a login answers a JWT with etcd's claims, any later auth change makes it fail with
// `revision of auth store is old` (the client with a password logs in again by itself, one with a given token does
// not), and an expired JWT is `invalid auth token`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, GrpcCode } from '../../src/client/index.js';
import { ManualClock } from '../../src/clock/index.js';
import { setUpAuth, refusal } from '../helpers/auth.js';
import { startInProcess, tempDir } from '../helpers/member.js';


const INVALID: [number, string] = [GrpcCode.Unauthenticated, 'etcdserver: invalid auth token'];

test('a simple token lives --auth-token-ttl seconds after its last use, on the member\'s clock', { timeout: 60_000 }, async (t) => {
  const clock = new ManualClock();
  const m = await startInProcess(['--bcrypt-cost', '4', '--auth-token-ttl', '3'], undefined, { clock });
  t.after(() => m.close());
  await setUpAuth(m.client(), 'rootpw');
  const token = (await m.client().call('Authenticate', { name: 'root', password: 'rootpw' })).token;
  const c = new Client({ endpoints: [m.endpoint], token });
  t.after(() => c.destroy());
  for (let i = 0; i < 3; i++) {
    await clock.advance(2000);
    await c.call('UserList', {}); // each use restarts its TTL
  }
  await clock.advance(4500);
  assert.deepEqual(await refusal(c.call('UserList', {})), INVALID, 'idle for more than 3 s');
});

function jwtFiles(): { dir: string; priv: string; pub: string } {
  const dir = tempDir('etcd-ts-jwt-');
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const priv = path.join(dir, 'jwt.key');
  const pub = path.join(dir, 'jwt.pub');
  fs.writeFileSync(priv, privateKey.export({ type: 'pkcs1', format: 'pem' }));
  fs.writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { dir, priv, pub };
}

test('JWT tokens: etcd\'s claims; an auth change makes them `revision of auth store is old`; the password client recovers', { timeout: 60_000 }, async (t) => {
  const keys = jwtFiles();
  t.after(() => fs.rmSync(keys.dir, { recursive: true, force: true }));
  const clock = new ManualClock();
  const m = await startInProcess(['--bcrypt-cost', '4', '--auth-token', `jwt,pub-key=${keys.pub},priv-key=${keys.priv},sign-method=RS256,ttl=1m`], undefined, { clock });
  t.after(() => m.close());
  await setUpAuth(m.client(), 'rootpw', [{ name: 'alice', password: 'alicepw', roles: { r1: [['readwrite', '/a/', 'prefix']] } }]);
  const root = new Client({ endpoints: [m.endpoint], username: 'root', password: 'rootpw' });
  const alice = new Client({ endpoints: [m.endpoint], username: 'alice', password: 'alicepw' });
  t.after(() => (root.destroy(), alice.destroy()));
  await alice.put({ key: Buffer.from('/a/1'), value: Buffer.from('v') });
  const token = alice.authToken!;
  const [header, claims] = token.split('.').map((s) => Buffer.from(s, 'base64url').toString());
  assert.equal(header, '{"alg":"RS256","typ":"JWT"}');
  const revision = (await root.call('AuthStatus', {})).authRevision;
  assert.equal(claims, `{"exp":${Math.floor((clock.wallNow() + 60_000) / 1000)},"revision":${revision},"username":"alice"}`.replace(/"exp":\d+/, `"exp":${JSON.parse(claims!).exp}`));
  assert.ok(Math.abs(JSON.parse(claims!).exp - Math.floor(clock.wallNow() / 1000) - 60) <= 1, 'exp is issue time + ttl');

  const given = new Client({ endpoints: [m.endpoint], token });
  t.after(() => given.destroy());
  assert.equal((await given.get('/a/1')).count, 1);
  // any auth change: the token's revision is behind the store's
  await root.call('RoleAdd', { name: 'unrelated' });
  assert.deepEqual(await refusal(given.get('/a/1')), [GrpcCode.InvalidArgument, 'etcdserver: revision of auth store is old']);
  assert.deepEqual(await refusal(given.put({ key: Buffer.from('/a/2'), value: Buffer.from('v') })), [GrpcCode.InvalidArgument, 'etcdserver: revision of auth store is old'], 'checked again at apply');
  assert.equal((await alice.get('/a/1')).count, 1, 'the client with a password logged in again');
  assert.notEqual(alice.authToken, token);

  // a JWT is valid until its exp; the member reads time from its clock
  const fresh = (await m.client().call('Authenticate', { name: 'alice', password: 'alicepw' })).token;
  const later = new Client({ endpoints: [m.endpoint], token: fresh });
  t.after(() => later.destroy());
  assert.equal((await later.get('/a/1')).count, 1);
  await clock.advance(61_000);
  assert.deepEqual(await refusal(later.get('/a/1')), INVALID);
});

test('a member started with a verify-only JWT key accepts tokens and refuses logins', { timeout: 60_000 }, async (t) => {
  const keys = jwtFiles();
  t.after(() => fs.rmSync(keys.dir, { recursive: true, force: true }));
  const m = await startInProcess(['--bcrypt-cost', '4', '--auth-token', `jwt,pub-key=${keys.pub},sign-method=RS256`]);
  t.after(() => m.close());
  await setUpAuth(m.client(), 'rootpw');
  assert.deepEqual(await refusal(m.client().call('Authenticate', { name: 'root', password: 'rootpw' })), [GrpcCode.Unknown, 'auth: token signing attempted with verify-only key']);
});
