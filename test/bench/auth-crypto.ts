// The crypto behind etcd's auth, measured (BENCHMARKS.md, "Auth (issue 14)"): bcrypt at cost 10 (hash, verify, 16
// verifies at once with the longest event-loop stall meanwhile) and JWT sign/verify, for what src/auth uses
// (bcrypt, node:crypto) and, when AUTH_LIBS_DIR points at a directory where they are installed
// (npm install bcrypt bcryptjs jose), for the alternatives considered.
//
//   npx tsc -p tsconfig.json && AUTH_LIBS_DIR=/tmp/authdeps node dist/test/bench/auth-crypto.js

import crypto from 'node:crypto';
import { createRequire } from 'node:module';

interface Bcrypt {
  hash(pw: string): Promise<string>;
  verify(pw: string, h: string): Promise<boolean>;
}

const PASSWORD = 'secret-password';

async function stallDuring(work: () => Promise<unknown>): Promise<{ ms: number; stallMs: number }> {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 5);
    last = now;
  }, 5);
  const start = performance.now();
  await work();
  const ms = performance.now() - start;
  clearInterval(timer);
  return { ms, stallMs: worst };
}

async function bcryptRow(name: string, lib: Bcrypt): Promise<void> {
  const h = await lib.hash(PASSWORD);
  let t = performance.now();
  for (let i = 0; i < 5; i++) await lib.hash(PASSWORD);
  const hashMs = (performance.now() - t) / 5;
  t = performance.now();
  for (let i = 0; i < 5; i++) await lib.verify(PASSWORD, h);
  const verifyMs = (performance.now() - t) / 5;
  const par = await stallDuring(() => Promise.all(Array.from({ length: 16 }, () => lib.verify(PASSWORD, h))));
  console.log(`${name}: hash ${hashMs.toFixed(1)} ms, verify ${verifyMs.toFixed(1)} ms, 16 at once ${par.ms.toFixed(0)} ms (${(16_000 / par.ms).toFixed(0)}/s), stall ${par.stallMs.toFixed(0)} ms`);
}

function jwtRow(alg: 'RS256' | 'ES256'): void {
  const { privateKey, publicKey } = alg === 'RS256' ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }) : crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const input = Buffer.from(`${Buffer.from(`{"alg":"${alg}","typ":"JWT"}`).toString('base64url')}.${Buffer.from('{"exp":1,"revision":29,"username":"alice"}').toString('base64url')}`);
  const opts = alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {};
  let t = performance.now();
  let sig = Buffer.alloc(0);
  for (let i = 0; i < 300; i++) sig = crypto.sign('sha256', input, { key: privateKey, ...opts });
  const signUs = ((performance.now() - t) / 300) * 1000;
  t = performance.now();
  for (let i = 0; i < 2000; i++) crypto.verify('sha256', input, { key: publicKey, ...opts }, sig);
  const verifyUs = ((performance.now() - t) / 2000) * 1000;
  console.log(`node:crypto ${alg}: sign ${signUs.toFixed(0)} µs, verify ${verifyUs.toFixed(0)} µs`);
}

type BcryptLib = { hash(p: string, c: number): Promise<string>; compare(p: string, h: string): Promise<boolean> };
const bcrypt = createRequire(import.meta.url)('bcrypt') as BcryptLib;
await bcryptRow('bcrypt', { hash: (pw) => bcrypt.hash(pw, 10), verify: (pw, h) => bcrypt.compare(pw, h) });
const dir = process.env['AUTH_LIBS_DIR'];
if (dir !== undefined) {
  const require = createRequire(`${dir}/package.json`);
  const nrs = require('@node-rs/bcrypt') as { hash(p: string, o: { cost: number; version: string }): Promise<string>; verify(p: string, h: string): Promise<boolean> };
  const bcryptjs = require('bcryptjs') as BcryptLib;
  await bcryptRow('@node-rs/bcrypt', { hash: (pw) => nrs.hash(pw, { cost: 10, version: '2a' }), verify: (pw, h) => nrs.verify(pw, h) });
  await bcryptRow('bcryptjs', { hash: (pw) => bcryptjs.hash(pw, 10), verify: (pw, h) => bcryptjs.compare(pw, h) });
}
jwtRow('RS256');
jwtRow('ES256');
