// The auth store's rules, as etcd 3.4's auth/store.go applies them (and as the reference saw them on etcd 3.4.23):
// enabling needs user root with role root; with auth on, root and its role are protected; grants are idempotent;
// deleting a role strips it from its users; the auth revision starts at 1 and moves with every user or role change
// and with AuthDisable, never with AuthEnable; the permission check's refusals; persistence through the port.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS, AuthStore, EMPTY_AUTH, type AuthContents, type AuthInfo, type AuthPersistence, type RoleRecord, type UserRecord } from '../../src/auth/index.js';
import { EtcdError } from '../../src/errors/index.js';
import { PermissionType } from '../../src/proto/index.js';

const b = (s: string): Uint8Array => Buffer.from(s);

/** A persistence port that records what was written, as a map (what a reload would read back). */
function memoryPersistence(): AuthPersistence & { contents(): AuthContents; writes: number } {
  let state = EMPTY_AUTH.state;
  const users = new Map<string, UserRecord>();
  const roles = new Map<string, RoleRecord>();
  const p = {
    writes: 0,
    putState: (s: typeof state) => void ((state = s), p.writes++),
    putUser: (u: UserRecord) => void (users.set(u.name, u), p.writes++),
    deleteUser: (n: string) => void (users.delete(n), p.writes++),
    putRole: (r: RoleRecord) => void (roles.set(r.name, r), p.writes++),
    deleteRole: (n: string) => void (roles.delete(n), p.writes++),
    contents: (): AuthContents => ({ state, users: [...users.values()], roles: [...roles.values()] }),
  };
  return p;
}

function newStore(): { store: AuthStore; persisted: ReturnType<typeof memoryPersistence>; effects: string[] } {
  const persisted = memoryPersistence();
  const effects: string[] = [];
  const store = new AuthStore(EMPTY_AUTH, persisted, {
    enabled: () => effects.push('enabled'),
    disabled: () => effects.push('disabled'),
    userInvalidated: (n) => effects.push(`invalidated ${n}`),
  });
  return { store, persisted, effects };
}

function rejects(f: () => void, name: string): void {
  assert.throws(f, (err: unknown) => err instanceof EtcdError && err.name === name, name);
}

const as = (store: AuthStore, username: string): AuthInfo => ({ username, revision: store.revision });

test('enabling needs user root holding role root; repeated enable and disable are no-ops', () => {
  const { store, effects } = newStore();
  rejects(() => store.enable(), 'RootUserNotExist');
  store.userAdd('root', 'hash', false);
  rejects(() => store.enable(), 'RootRoleNotExist');
  // role root need not exist to be granted
  store.userGrantRole('root', 'root');
  const before = store.revision;
  store.enable();
  assert.equal(store.enabled, true);
  assert.equal(store.revision, before, 'AuthEnable does not bump the revision');
  store.enable();
  store.disable();
  assert.equal(store.revision, before + 1, 'AuthDisable bumps it');
  store.disable();
  assert.equal(store.revision, before + 1);
  assert.deepEqual(effects, ['enabled', 'disabled']);
});

test('the revision starts at 1 and every user or role change bumps it; a duplicate grant does not', () => {
  const { store } = newStore();
  assert.equal(store.revision, 1);
  const steps: [string, () => void][] = [
    ['user add', () => store.userAdd('alice', 'h', false)],
    ['role add', () => store.roleAdd('r1')],
    ['grant permission', () => store.roleGrantPermission('r1', { permType: PermissionType.READ, key: b('/a'), range_end: b('') })],
    ['grant role', () => store.userGrantRole('alice', 'r1')],
    ['change password', () => store.userChangePassword('alice', 'h2')],
    ['revoke permission', () => store.roleRevokePermission('r1', b('/a'), b(''))],
    ['revoke role', () => store.userRevokeRole('alice', 'r1')],
    ['role delete', () => store.roleDelete('r1')],
    ['user delete', () => store.userDelete('alice')],
  ];
  let expected = 1;
  for (const [what, step] of steps) {
    step();
    assert.equal(store.revision, ++expected, what);
  }
  store.userAdd('bob', 'h', false);
  store.roleAdd('r2');
  store.userGrantRole('bob', 'r2');
  const r = store.revision;
  store.userGrantRole('bob', 'r2');
  assert.equal(store.revision, r, 'a duplicate grant-role changes nothing');
});

test('with auth enabled, user root, role root and root\'s role root are protected', () => {
  const { store } = newStore();
  store.userAdd('root', 'h', false);
  store.userGrantRole('root', 'root');
  store.roleAdd('root');
  store.enable();
  rejects(() => store.userDelete('root'), 'InvalidAuthMgmt');
  rejects(() => store.roleDelete('root'), 'InvalidAuthMgmt');
  rejects(() => store.userRevokeRole('root', 'root'), 'InvalidAuthMgmt');
  store.disable();
  store.userRevokeRole('root', 'root'); // allowed again once auth is off
  assert.deepEqual(store.user('root')?.roles, []);
});

test('errors for missing, empty and duplicate names, and for revoking what is not granted', () => {
  const { store } = newStore();
  rejects(() => store.userAdd('', 'h', false), 'UserEmpty');
  rejects(() => store.roleAdd(''), 'RoleEmpty');
  store.userAdd('alice', 'h', false);
  rejects(() => store.userAdd('alice', 'h', false), 'UserAlreadyExist');
  store.roleAdd('r1');
  rejects(() => store.roleAdd('r1'), 'RoleAlreadyExist');
  rejects(() => store.userGrantRole('nobody', 'r1'), 'UserNotFound');
  rejects(() => store.userGrantRole('alice', 'nope'), 'RoleNotFound');
  rejects(() => store.userRevokeRole('alice', 'r1'), 'RoleNotGranted');
  rejects(() => store.userDelete('nobody'), 'UserNotFound');
  rejects(() => store.userChangePassword('nobody', 'h'), 'UserNotFound');
  rejects(() => store.roleDelete('nope'), 'RoleNotFound');
  rejects(() => store.roleGrantPermission('nope', { permType: 0, key: b('a'), range_end: b('') }), 'RoleNotFound');
  rejects(() => store.roleRevokePermission('r1', b('a'), b('')), 'PermissionNotGranted');
});

test('re-granting the same key and range_end replaces the type; permissions stay sorted by key', () => {
  const { store } = newStore();
  store.roleAdd('r');
  store.roleGrantPermission('r', { permType: PermissionType.READ, key: b('/m'), range_end: b('') });
  store.roleGrantPermission('r', { permType: PermissionType.WRITE, key: b('/a'), range_end: b('/b') });
  store.roleGrantPermission('r', { permType: PermissionType.READWRITE, key: b('/m'), range_end: b('') });
  // no range validation in 3.4.23: an inverted range is accepted
  store.roleGrantPermission('r', { permType: PermissionType.READ, key: b('/z'), range_end: b('/y') });
  const perms = store.role('r')!.permissions.map((p) => [p.permType, Buffer.from(p.key).toString(), Buffer.from(p.range_end).toString()]);
  assert.deepEqual(perms, [
    [PermissionType.WRITE, '/a', '/b'],
    [PermissionType.READWRITE, '/m', ''],
    [PermissionType.READ, '/z', '/y'],
  ]);
});

test('deleting a role strips it from every user that held it', () => {
  const { store } = newStore();
  for (const u of ['a', 'b', 'c']) store.userAdd(u, 'h', false);
  store.roleAdd('r1');
  store.roleAdd('r2');
  store.userGrantRole('a', 'r1');
  store.userGrantRole('a', 'r2');
  store.userGrantRole('b', 'r1');
  store.roleDelete('r1');
  assert.deepEqual(store.user('a')?.roles, ['r2']);
  assert.deepEqual(store.user('b')?.roles, []);
  assert.deepEqual(store.roleNames(), ['r2']);
});

test('deleting a user or changing its password drops its tokens; user lists are in byte order', () => {
  const { store, effects } = newStore();
  for (const u of ['zed', 'Zed', 'alice', 'émile']) store.userAdd(u, 'h', false);
  assert.deepEqual(store.userNames(), ['Zed', 'alice', 'zed', 'émile']);
  store.userChangePassword('alice', 'h2');
  store.userDelete('zed');
  assert.deepEqual(effects, ['invalidated alice', 'invalidated zed']);
});

test('permission checks: disabled passes all; anonymous, stale, unknown and unpermitted callers are refused; root passes', () => {
  const { store } = newStore();
  store.userAdd('root', 'h', false);
  store.userGrantRole('root', 'root');
  store.userAdd('alice', 'h', false);
  store.roleAdd('r1');
  store.roleGrantPermission('r1', { permType: PermissionType.READ, key: b('/a/'), range_end: b('/a0') });
  store.userGrantRole('alice', 'r1');
  store.checkOp(ANONYMOUS, b('/x'), undefined, 'write'); // auth disabled: nothing is checked
  store.enable();
  rejects(() => store.checkOp(ANONYMOUS, b('/a/1'), undefined, 'read'), 'UserEmpty');
  store.checkOp(as(store, 'alice'), b('/a/1'), undefined, 'read');
  rejects(() => store.checkOp(as(store, 'alice'), b('/a/1'), undefined, 'write'), 'PermissionDenied');
  rejects(() => store.checkOp(as(store, 'nobody'), b('/a/1'), undefined, 'read'), 'PermissionDenied');
  store.checkOp(as(store, 'root'), b('/anything'), b('\0'), 'write');
  const stale = as(store, 'alice');
  store.roleAdd('r2');
  rejects(() => store.checkOp(stale, b('/a/1'), undefined, 'read'), 'AuthOldRevision');
  // the cache follows changes: revoking the permission refuses the next check
  store.roleRevokePermission('r1', b('/a/'), b('/a0'));
  rejects(() => store.checkOp(as(store, 'alice'), b('/a/1'), undefined, 'read'), 'PermissionDenied');
  // admin checks
  store.checkAdmin(as(store, 'root'));
  rejects(() => store.checkAdmin(null), 'UserEmpty');
  rejects(() => store.checkAdmin(as(store, 'nobody')), 'UserNotFound');
  rejects(() => store.checkAdmin(as(store, 'alice')), 'PermissionDenied');
});

test('every mutation goes through the persistence port; a reload of what it holds gives the same store', () => {
  const { store, persisted } = newStore();
  store.userAdd('root', 'h', false);
  store.userGrantRole('root', 'root');
  store.userAdd('alice', 'h', true);
  store.roleAdd('r1');
  store.roleGrantPermission('r1', { permType: PermissionType.WRITE, key: b('k'), range_end: b('\0') });
  store.enable();
  const reloaded = new AuthStore(persisted.contents(), memoryPersistence(), { enabled() {}, disabled() {}, userInvalidated() {} });
  assert.deepEqual(reloaded.contents(), store.contents());
  assert.equal(reloaded.enabled, true);
  assert.equal(reloaded.user('alice')?.noPassword, true);
});

test('a checkpoint restores the store after a failed apply transaction', () => {
  const { store } = newStore();
  store.userAdd('a', 'h', false);
  const cp = store.checkpoint();
  store.userAdd('b', 'h', false);
  store.roleAdd('r');
  store.restore(cp);
  assert.deepEqual(store.userNames(), ['a']);
  assert.deepEqual(store.roleNames(), []);
  assert.equal(store.revision, 2);
});
