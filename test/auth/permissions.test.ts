// The interval checks of etcd's range permission cache: a key must lie in an interval, a range must be covered by
// the merged set without a gap; a permission's range_end "\0" is open-ended, an empty one a single key; the empty key
// compares above every other (etcd's BytesAffineComparable). Expected answers are etcd 3.4's (adt's interval tree).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareAffine, isRangePermitted, mergePermissions, pointInterval } from '../../src/auth/index.js';
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

test('the point check without a point interval answers as the interval overlap test, random sets and keys', () => {
  let seed = 12345;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const key = (): Uint8Array => Uint8Array.from({ length: rnd(3) }, () => [0, 0x61, 0x62, 0xff][rnd(4)]!);
  for (let round = 0; round < 300; round++) {
    const perms = Array.from({ length: rnd(5) }, () => ({ permType: READ, key: key(), range_end: rnd(3) === 0 ? Uint8Array.of(0) : key() }));
    const merged = mergePermissions(perms);
    for (let i = 0; i < 20; i++) {
      const k = key();
      assert.equal(merged.read.holds(k), merged.read.intersects(pointInterval(k)), `${JSON.stringify(perms)} ${Buffer.from(k).toString('hex')}`);
    }
  }
});

/** Plain interval arithmetic: what the tree must answer for well-formed intervals (start < end). */
function reference(intervals: { begin: Uint8Array; end: Uint8Array }[], q: { begin: Uint8Array; end: Uint8Array }): boolean {
  const overlapping = intervals
    .filter((x) => compareAffine(x.begin, q.end) < 0 && compareAffine(q.begin, x.end) < 0)
    .sort((a, b) => compareAffine(a.begin, b.begin));
  let covered = q.begin;
  for (const x of overlapping) {
    if (compareAffine(x.begin, covered) > 0) return false;
    if (compareAffine(x.end, covered) > 0) covered = x.end;
    if (compareAffine(covered, q.end) >= 0) return true;
  }
  return compareAffine(covered, q.end) >= 0;
}

test('etcd\'s interval tree answers as interval arithmetic for well-formed permissions and queries (random, many nodes)', () => {
  let seed = 777;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const key = (): Uint8Array => Uint8Array.from({ length: 1 + rnd(2) }, () => 0x61 + rnd(6));
  const ordered = (): { begin: Uint8Array; end: Uint8Array } => {
    const a = key();
    let b = rnd(5) === 0 ? new Uint8Array(0) : key();
    while (b.length > 0 && compareAffine(a, b) >= 0) b = key();
    return { begin: a, end: b };
  };
  for (let round = 0; round < 300; round++) {
    const intervals = Array.from({ length: rnd(12) }, ordered);
    const merged = mergePermissions(intervals.map((i) => ({ permType: READ, key: i.begin, range_end: i.end.length === 0 ? Uint8Array.of(0) : i.end })));
    for (let i = 0; i < 20; i++) {
      const q = ordered();
      const rangeEnd = q.end.length === 0 ? Uint8Array.of(0) : q.end;
      const label = `${JSON.stringify(intervals.map((x) => [Buffer.from(x.begin).toString(), Buffer.from(x.end).toString()]))} ? [${Buffer.from(q.begin).toString()}, ${Buffer.from(q.end).toString()})`;
      assert.equal(isRangePermitted(merged, 'read', q.begin, rangeEnd), reference(intervals, q), label);
      const k = key();
      assert.equal(isRangePermitted(merged, 'read', k, undefined), reference(intervals, pointInterval(k)), `point ${Buffer.from(k).toString()} in ${label}`);
    }
  }
});
