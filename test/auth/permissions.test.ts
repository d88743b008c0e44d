// The interval checks of etcd's range permission cache: a key must lie in an interval, a range must be covered by
// the merged set without a gap; a permission's range_end "\0" is open-ended, an empty one a single key; the empty key
// compares above every other (etcd's BytesAffineComparable). Expected answers are etcd 3.4's (adt's interval tree).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareAffine, isRangePermitted, mergePermissions } from '../../src/auth/index.js';
import { PermissionType, type Permission } from '../../src/proto/index.js';

const b = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const perm = (type: number, key: string, rangeEnd = ''): Permission => ({ permType: type, key: b(key), range_end: b(rangeEnd) });
const { READ, WRITE, READWRITE } = PermissionType;

test('the empty key sorts above every other key; others bytewise', () => {
  assert.equal(compareAffine(b(''), b('')), 0);
  assert.equal(compareAffine(b(''), b('\xff\xff')), 1);
  assert.equal(compareAffine(b('a'), b('')), -1);
  assert.equal(compareAffine(b('a'), b('ab')), -1);
  assert.equal(compareAffine(b('b'), b('ab')), 1);
});

test('a single key needs an interval holding it; a point permission holds exactly its key', () => {
  const m = mergePermissions([perm(READ, '/a'), perm(READWRITE, '/p/', '/p0'), perm(WRITE, '/k1', '/k5')]);
  assert.ok(isRangePermitted(m, 'read', b('/a'), undefined));
  assert.ok(!isRangePermitted(m, 'read', b('/a0'), undefined), 'a point is one key, not a prefix');
  assert.ok(!isRangePermitted(m, 'write', b('/a'), undefined), 'READ gives no WRITE');
  assert.ok(isRangePermitted(m, 'read', b('/p/x'), undefined));
  assert.ok(isRangePermitted(m, 'write', b('/p/x'), undefined), 'READWRITE gives both');
  assert.ok(!isRangePermitted(m, 'read', b('/p0'), undefined), 'the range end is excluded');
  assert.ok(isRangePermitted(m, 'write', b('/k4zzz'), undefined));
  assert.ok(!isRangePermitted(m, 'read', b('/k2'), undefined), 'WRITE gives no READ');
});

test('a range must be covered entirely: no partial answer', () => {
  const m = mergePermissions([perm(READ, '/p/', '/p0')]);
  assert.ok(isRangePermitted(m, 'read', b('/p/'), b('/p0')));
  assert.ok(isRangePermitted(m, 'read', b('/p/a'), b('/p/b')));
  assert.ok(!isRangePermitted(m, 'read', b('/p'), b('/p0')), 'get /p --prefix is refused though /p/ is readable');
  assert.ok(!isRangePermitted(m, 'read', b('/p/'), b('/p1')));
});

test('intervals of several roles merge: touching ones cover, a gap refuses', () => {
  const touching = mergePermissions([perm(READ, 'c', 'e'), perm(READ, 'a', 'c')]);
  assert.ok(isRangePermitted(touching, 'read', b('a'), b('e')), '[a,c) and [c,e) cover [a,e)');
  const gap = mergePermissions([perm(READ, 'a', 'c'), perm(READ, 'd', 'f')]);
  assert.ok(!isRangePermitted(gap, 'read', b('a'), b('f')), 'nothing covers [c,d)');
  assert.ok(isRangePermitted(gap, 'read', b('d'), b('f')));
  const overlapping = mergePermissions([perm(READ, 'a', 'z'), perm(READ, 'b', 'c')]);
  assert.ok(isRangePermitted(overlapping, 'read', b('b'), b('y')));
});

test('open-ended permissions and queries (range_end "\\0"): every key from the start on', () => {
  const fromZ = mergePermissions([perm(READ, '/z', '\0')]);
  assert.ok(isRangePermitted(fromZ, 'read', b('/z'), undefined));
  assert.ok(isRangePermitted(fromZ, 'read', b('\xff\xff'), undefined));
  assert.ok(!isRangePermitted(fromZ, 'read', b('/y'), undefined));
  assert.ok(isRangePermitted(fromZ, 'read', b('/zz'), b('\0')), 'an open query inside an open permission');
  assert.ok(!isRangePermitted(fromZ, 'read', b('/a'), b('\0')));
  const bounded = mergePermissions([perm(READ, '/z', '/zz')]);
  assert.ok(!isRangePermitted(bounded, 'read', b('/z'), b('\0')), 'a bounded permission does not cover an open query');
  const all = mergePermissions([perm(READ, '\0', '\0')]);
  assert.ok(isRangePermitted(all, 'read', b('\0'), b('\0')), 'etcdctl --prefix "" is every key');
  assert.ok(isRangePermitted(all, 'read', b('anything'), undefined));
});

test('inverted and empty permission ranges are kept (3.4.23) and hold no key', () => {
  const inverted = mergePermissions([perm(READ, '/b', '/a')]);
  for (const k of ['/a', '/a0', '/b', '/c']) assert.ok(!isRangePermitted(inverted, 'read', b(k), undefined), k);
  const empty = mergePermissions([perm(READ, '/b', '/b')]);
  assert.ok(!isRangePermitted(empty, 'read', b('/b'), undefined));
});

test('no permission at all refuses everything', () => {
  const none = mergePermissions([]);
  assert.ok(!isRangePermitted(none, 'read', b('a'), undefined));
  assert.ok(!isRangePermitted(none, 'write', b('a'), b('b')));
});
