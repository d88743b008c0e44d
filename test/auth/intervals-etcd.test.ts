// etcd's interval tree against etcd itself: random permission sets (inverted and empty ranges included, which etcd
// 3.4.23 stores as given) on two roles of one user, random ranges (inverted ones included) read through a real etcd's
// gateway; allowed or `permission denied` must be what src/auth's store decides for the same grants. This is where a
// plain interval scan and etcd's tree disagree (the tree's shape and its max bookkeeping prune some searches).
// Skipped when etcd is not installed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthStore, EMPTY_AUTH } from '../../src/auth/index.js';
import { EtcdError } from '../../src/errors/index.js';
import { startRealEtcd } from '../helpers/etcd.js';
import { etcdctlAvailable } from '../helpers/etcdctl.js';
import { request } from '../helpers/http-gateway.js';

const noPersistence = { putState() {}, putUser() {}, deleteUser() {}, putRole() {}, deleteRole() {} };
const noEffects = { enabled() {}, disabled() {}, userInvalidated() {} };
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

test('permission checks with inverted ranges decide as etcd 3.4.23 decides them', { timeout: 120_000, skip: !etcdctlAvailable() && 'etcd is not installed' }, async (t) => {
  const etcd = await startRealEtcd(['--bcrypt-cost', '4']);
  t.after(() => etcd.stop());
  const base = `http://${etcd.endpoint}`;
  const post = async (path: string, body: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const r = await request(base, path, JSON.stringify(body), 'POST', token === undefined ? {} : { Authorization: token });
    return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
  };
  for (const [path, body] of [
    ['/v3/auth/user/add', { name: 'root', password: 'r' }],
    ['/v3/auth/user/grant', { user: 'root', role: 'root' }],
    ['/v3/auth/user/add', { name: 'u', password: 'p' }],
    ['/v3/auth/enable', {}],
  ] as const) assert.equal((await post(path, body)).status, 200, path);
  const rootToken = String((await post('/v3/auth/authenticate', { name: 'root', password: 'r' })).body['token']);

  let seed = 4242;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const key = (): Uint8Array => Uint8Array.from({ length: 1 + rnd(2) }, () => 0x61 + rnd(5));
  const end = (): Uint8Array => [new Uint8Array(0), Uint8Array.of(0), key(), key()][rnd(4)]!;
  let checks = 0;
  for (let round = 0; round < 8; round++) {
    const store = new AuthStore(EMPTY_AUTH, noPersistence, noEffects);
    store.userAdd('u', '', false);
    for (const role of ['ra', 'rb']) {
      await post('/v3/auth/role/delete', { role }, rootToken);
      assert.equal((await post('/v3/auth/role/add', { name: role }, rootToken)).status, 200);
      store.roleAdd(role);
      for (let i = 1 + rnd(6); i > 0; i--) {
        const perm = { permType: rnd(3), key: key(), range_end: end() };
        assert.equal((await post('/v3/auth/role/grant', { name: role, perm: { permType: perm.permType, key: b64(perm.key), range_end: b64(perm.range_end) } }, rootToken)).status, 200);
        store.roleGrantPermission(role, perm);
      }
      assert.equal((await post('/v3/auth/user/grant', { user: 'u', role }, rootToken)).status, 200);
      store.userGrantRole('u', role);
    }
    store.userAdd('root', '', false);
    store.userGrantRole('root', 'root');
    store.enable();
    const token = String((await post('/v3/auth/authenticate', { name: 'u', password: 'p' })).body['token']);
    for (let i = 0; i < 40; i++) {
      const q = { key: key(), range_end: end() };
      const etcdAllows = (await post('/v3/kv/range', { key: b64(q.key), range_end: b64(q.range_end), count_only: true }, token)).status === 200;
      let ours = true;
      try {
        store.checkOp({ username: 'u', revision: store.revision }, q.key, q.range_end, 'read');
      } catch (err) {
        assert.ok(err instanceof EtcdError && err.name === 'PermissionDenied', String(err));
        ours = false;
      }
      const perms = ['ra', 'rb'].map((r) => store.role(r)!.permissions.map((p) => `${p.permType}:[${Buffer.from(p.key)},${JSON.stringify(Buffer.from(p.range_end).toString())})`).join(' '));
      assert.equal(ours, etcdAllows, `round ${round}: read [${Buffer.from(q.key)}, ${JSON.stringify(Buffer.from(q.range_end).toString())}) with ${perms.join(' | ')}`);
      checks++;
    }
    await post('/v3/auth/user/revoke', { name: 'u', role: 'ra' }, rootToken);
    await post('/v3/auth/user/revoke', { name: 'u', role: 'rb' }, rootToken);
  }
  t.diagnostic(`${checks} checks agreed`);
});
