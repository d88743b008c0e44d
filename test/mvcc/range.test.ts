// Range: key intervals, limit / more / count, historical revisions, sorting, serializable, keys_only, count_only and
// the min/max revision filters; each request is also sent to a real etcd when installed and both answers must match.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SortOrder, SortTarget, type RangeRequest } from '../../src/client/index.js';
import { b, ERR, keysOf, KvPair } from '../helpers/kv-differential.js';

let kv: KvPair;
before(async () => {
  kv = await KvPair.start();
});
after(() => kv?.close());

/** Puts key=value pairs in order; returns the revision of each put. */
async function putAll(pairs: [string, string][]): Promise<number[]> {
  const revisions: number[] = [];
  for (const [k, v] of pairs) revisions.push((await kv.put({ key: b(k), value: b(v) })).header.revision);
  return revisions;
}

async function keys(req: RangeRequest): Promise<string[]> {
  return keysOf((await kv.range(req)).kvs);
}

test('key intervals: single key, [key, range_end), prefix, from-key, whole keyspace, range_end <= key', async () => {
  // Runs first: the whole-keyspace read sees only these keys.
  await putAll([['iv/a', '1'], ['iv/b', '2'], ['iv/b/x', '3'], ['iv/b\0', '4'], ['iv/c', '5'], ['iv\xff', '6'], ['iv\xff\xff', '7'], ['\0', '8'], ['\xff', '9']]);
  assert.deepEqual(await keys({ key: b('iv/b') }), ['iv/b'], 'single key');
  assert.deepEqual(await keys({ key: b('iv/missing') }), [], 'single missing key');
  assert.deepEqual(await keys({ key: b('iv/a'), range_end: b('iv/c') }), ['iv/a', 'iv/b', '<hex 69762f6200>', 'iv/b/x'], 'half-open interval');
  assert.deepEqual(await keys({ key: b('iv/b'), range_end: b('iv/c') }), ['iv/b', '<hex 69762f6200>', 'iv/b/x'], 'prefix iv/b');
  assert.deepEqual(await keys({ key: b('iv\xff'), range_end: b('iw') }), ['<hex 6976ff>', '<hex 6976ffff>'], 'prefix ending in 0xff');
  assert.deepEqual(await keys({ key: b('iv/c'), range_end: b('\0') }), ['iv/c', '<hex 6976ff>', '<hex 6976ffff>', '<hex ff>'], 'from-key');
  assert.deepEqual(await keys({ key: b('\0'), range_end: b('\0') }), [
    '<hex 00>', 'iv/a', 'iv/b', '<hex 69762f6200>', 'iv/b/x', 'iv/c', '<hex 6976ff>', '<hex 6976ffff>', '<hex ff>',
  ], 'whole keyspace');
  assert.deepEqual(await keys({ key: b('\0') }), ['<hex 00>'], 'key "\\0" alone is a single key');
  assert.deepEqual(await keys({ key: b('\xff'), range_end: b('\0') }), ['<hex ff>']);
  for (const [k, e] of [['iv/c', 'iv/a'], ['iv/b', 'iv/b'], ['iv/c', 'iv/b\0']] as const) {
    const r = await kv.range({ key: b(k), range_end: b(e) });
    assert.deepEqual([r.kvs.length, r.count, r.more], [0, 0, false], `range_end ${e} <= key ${k}: empty, no error`);
  }
});

test('limit, more and count: count ignores limit; limit 0 and negative mean no limit', async () => {
  await putAll([['lim/a', '1'], ['lim/b', '2'], ['lim/c', '3'], ['lim/d', '4']]);
  const end = b('lim0');
  const cases: [number, string[], boolean][] = [
    [1, ['lim/a'], true],
    [3, ['lim/a', 'lim/b', 'lim/c'], true],
    [4, ['lim/a', 'lim/b', 'lim/c', 'lim/d'], false],
    [5, ['lim/a', 'lim/b', 'lim/c', 'lim/d'], false],
    [0, ['lim/a', 'lim/b', 'lim/c', 'lim/d'], false],
    [-1, ['lim/a', 'lim/b', 'lim/c', 'lim/d'], false],
  ];
  for (const [limit, expected, more] of cases) {
    const r = await kv.range({ key: b('lim/'), range_end: end, limit });
    assert.deepEqual([keysOf(r.kvs), r.more, r.count], [expected, more, 4], `limit ${limit}`);
  }
  const one = await kv.range({ key: b('lim/a'), limit: 1 });
  assert.deepEqual([one.kvs.length, one.more, one.count], [1, false, 1]);
  // A historical read with a limit counts at that revision.
  const rev = await kv.revision();
  await kv.deleteRange({ key: b('lim/b') });
  await kv.put({ key: b('lim/e'), value: b('5') });
  const old = await kv.range({ key: b('lim/'), range_end: end, limit: 2, revision: rev });
  assert.deepEqual([keysOf(old.kvs), old.more, old.count], [['lim/a', 'lim/b'], true, 4]);
  const now = await kv.range({ key: b('lim/'), range_end: end, limit: 2 });
  assert.deepEqual([keysOf(now.kvs), now.more, now.count], [['lim/a', 'lim/c'], true, 4]);
});

test('count_only returns only the count, ignoring limit, filters and sort; keys_only strips values', async () => {
  const revs = await putAll([['co/a', 'x'], ['co/b', 'y'], ['co/c', 'z']]);
  await kv.put({ key: b('co/b'), value: b('y2') });
  const base = { key: b('co/'), range_end: b('co0') };
  const c = await kv.range({ ...base, count_only: true, limit: 1, min_mod_revision: revs[2]!, sort_order: SortOrder.DESCEND });
  assert.deepEqual([c.kvs.length, c.count, c.more], [0, 3, false]);
  const cOld = await kv.range({ ...base, count_only: true, revision: revs[1]! });
  assert.equal(cOld.count, 2, 'count_only at a revision');
  assert.equal((await kv.range({ key: b('co/missing'), count_only: true })).count, 0);
  const ko = await kv.range({ ...base, keys_only: true });
  assert.deepEqual(keysOf(ko.kvs), ['co/a', 'co/b', 'co/c']);
  assert.ok(ko.kvs.every((k) => k.value.length === 0), 'values stripped');
  assert.deepEqual(ko.kvs.map((k) => [k.create_revision, k.mod_revision, k.version]), [[revs[0], revs[0], 1], [revs[1], revs[2]! + 1, 2], [revs[2], revs[2], 1]]);
  const koc = await kv.range({ ...base, keys_only: true, count_only: true });
  assert.deepEqual([koc.kvs.length, koc.count], [0, 3]);
});

test('revision: historical reads across updates, deletes and re-creates; future revisions fail', async () => {
  const [r1, r2] = await putAll([['hist/k', 'a'], ['hist/k', 'b']]);
  const r3 = (await kv.deleteRange({ key: b('hist/k') })).header.revision;
  const [r4, r5] = await putAll([['hist/k', 'c'], ['hist/j', 'j']]);
  const read = async (revision: number): Promise<unknown> => {
    const r = await kv.range({ key: b('hist/'), range_end: b('hist0'), revision });
    assert.equal(r.header.revision, r5, 'the header carries the current revision');
    return r.kvs.map((k) => [Buffer.from(k.key).toString(), Buffer.from(k.value).toString(), k.create_revision, k.mod_revision, k.version]);
  };
  assert.deepEqual(await read(r1!), [['hist/k', 'a', r1, r1, 1]]);
  assert.deepEqual(await read(r2!), [['hist/k', 'b', r1, r2, 2]]);
  assert.deepEqual(await read(r3), []);
  assert.deepEqual(await read(r4!), [['hist/k', 'c', r4, r4, 1]]);
  assert.deepEqual(await read(r5!), [['hist/j', 'j', r5, r5, 1], ['hist/k', 'c', r4, r4, 1]]);
  assert.deepEqual(await read(0), await read(r5!), 'revision 0 is the current revision');
  assert.deepEqual(await read(-3), await read(r5!), 'a negative revision is the current revision');
  assert.deepEqual(await read(1), [], 'revision 1: the empty store');
  const single = await kv.range({ key: b('hist/k'), revision: r2! });
  assert.equal(Buffer.from(single.kvs[0]!.value).toString(), 'b');
  assert.deepEqual(await kv.fails('Range', { key: b('hist/k'), revision: r5! + 1 }), ERR.futureRev);
  assert.deepEqual(await kv.fails('Range', { key: b('hist/k'), revision: r5! + 1000, count_only: true }), ERR.futureRev);
});

/** Keys with deliberate ties in version, create and mod revision and value (<= 12 keys: Go's sort is stable there). */
async function sortFixture(): Promise<void> {
  // Written so that key order, version order, create order, mod order and value order all differ.
  await putAll([
    ['st/d', 'm'], ['st/b', 'z'], ['st/a', 'm'], ['st/e', 'a'], ['st/c', 'q'],
    ['st/b', 'z'], ['st/e', 'b'], ['st/b', 'a'], ['st/a', 'm'], ['st/f', 'q'],
  ]);
}

test('sort: every target with NONE, ASCEND and DESCEND; NONE with a non-KEY target sorts ASCEND', async () => {
  await sortFixture();
  const base = { key: b('st/'), range_end: b('st0') };
  const results = new Map<string, string[]>();
  for (const [targetName, target] of Object.entries(SortTarget)) {
    for (const [orderName, order] of Object.entries(SortOrder)) {
      results.set(`${targetName}/${orderName}`, await keys({ ...base, sort_target: target, sort_order: order }));
    }
  }
  // versions: a2 b3 c1 d1 e2 f1; create: d b a e c f; mod: d c b(8) e a f; values: a=m b=a c=q d=m e=b f=q
  assert.deepEqual(results.get('KEY/NONE'), ['st/a', 'st/b', 'st/c', 'st/d', 'st/e', 'st/f']);
  assert.deepEqual(results.get('KEY/ASCEND'), results.get('KEY/NONE'));
  assert.deepEqual(results.get('KEY/DESCEND'), ['st/f', 'st/e', 'st/d', 'st/c', 'st/b', 'st/a']);
  assert.deepEqual(results.get('VERSION/ASCEND'), ['st/c', 'st/d', 'st/f', 'st/a', 'st/e', 'st/b']);
  assert.deepEqual(results.get('VERSION/DESCEND'), ['st/b', 'st/a', 'st/e', 'st/c', 'st/d', 'st/f'], 'ties keep key order');
  assert.deepEqual(results.get('CREATE/ASCEND'), ['st/d', 'st/b', 'st/a', 'st/e', 'st/c', 'st/f']);
  assert.deepEqual(results.get('CREATE/DESCEND'), ['st/f', 'st/c', 'st/e', 'st/a', 'st/b', 'st/d']);
  assert.deepEqual(results.get('MOD/ASCEND'), ['st/d', 'st/c', 'st/e', 'st/b', 'st/a', 'st/f']);
  assert.deepEqual(results.get('VALUE/ASCEND'), ['st/b', 'st/e', 'st/a', 'st/d', 'st/c', 'st/f']);
  assert.deepEqual(results.get('VALUE/DESCEND'), ['st/c', 'st/f', 'st/a', 'st/d', 'st/e', 'st/b']);
  for (const target of ['VERSION', 'CREATE', 'MOD', 'VALUE']) {
    assert.deepEqual(results.get(`${target}/NONE`), results.get(`${target}/ASCEND`), `${target} with order NONE sorts ASCEND`);
  }
});

test('sort with limit: an explicit order sorts everything then truncates; NONE with a non-KEY target sorts only limit + 1 keys', async () => {
  // etcd fetches the whole range only when sort_order != NONE (or a min/max filter is set); with a non-KEY target and
  // order NONE it fetches limit + 1 keys in key order, then sorts those ASCEND.
  await putAll([['sl/a', '1'], ['sl/a', '2'], ['sl/a', '3'], ['sl/a', '4'], ['sl/b', '1'], ['sl/b', '2'], ['sl/b', '3'], ['sl/c', '1'], ['sl/c', '2'], ['sl/d', '1']]);
  const base = { key: b('sl/'), range_end: b('sl0'), sort_target: SortTarget.VERSION, limit: 2 };
  const explicit = await kv.range({ ...base, sort_order: SortOrder.ASCEND });
  assert.deepEqual([keysOf(explicit.kvs), explicit.more, explicit.count], [['sl/d', 'sl/c'], true, 4]);
  const implicit = await kv.range({ ...base, sort_order: SortOrder.NONE });
  assert.deepEqual([keysOf(implicit.kvs), implicit.more, implicit.count], [['sl/c', 'sl/b'], true, 4]);
  const descend = await kv.range({ ...base, sort_order: SortOrder.DESCEND });
  assert.deepEqual(keysOf(descend.kvs), ['sl/a', 'sl/b']);
  const keyDescend = await kv.range({ key: b('sl/'), range_end: b('sl0'), sort_order: SortOrder.DESCEND, limit: 3 });
  assert.deepEqual([keysOf(keyDescend.kvs), keyDescend.more], [['sl/d', 'sl/c', 'sl/b'], true]);
  const rev = await kv.revision();
  await kv.put({ key: b('sl/0'), value: b('1') });
  const historical = await kv.range({ ...base, sort_order: SortOrder.NONE, revision: rev });
  assert.deepEqual(keysOf(historical.kvs), ['sl/c', 'sl/b'], 'same rule at a past revision');
  const now = await kv.range({ ...base, sort_order: SortOrder.NONE });
  assert.deepEqual(keysOf(now.kvs), ['sl/0', 'sl/b'], 'the first limit + 1 keys in key order are sl/0, sl/a, sl/b');
});

test('keys_only with sort by VALUE sorts by the real values before stripping them', async () => {
  await putAll([['kv/1', 'c'], ['kv/2', 'a'], ['kv/3', 'b'], ['kv/4', 'a']]);
  const base = { key: b('kv/'), range_end: b('kv0'), keys_only: true, sort_target: SortTarget.VALUE };
  assert.deepEqual(await keys(base), ['kv/2', 'kv/4', 'kv/3', 'kv/1']);
  assert.deepEqual(await keys({ ...base, sort_order: SortOrder.DESCEND, limit: 2 }), ['kv/1', 'kv/3']);
  assert.deepEqual(await keys({ ...base, revision: await kv.revision() }), ['kv/2', 'kv/4', 'kv/3', 'kv/1'], 'historical read');
});

test('min/max mod and create revision filters: inclusive, applied before limit, not reflected in count', async () => {
  const [ra, rb, rc, rd] = await putAll([['flt/a', '1'], ['flt/b', '1'], ['flt/c', '1'], ['flt/d', '1']]);
  const rb2 = (await kv.put({ key: b('flt/b'), value: b('2') })).header.revision;
  const base = { key: b('flt/'), range_end: b('flt0') };
  const check = async (req: Partial<RangeRequest>, expected: string[], more = false): Promise<void> => {
    const r = await kv.range({ ...base, ...req });
    assert.deepEqual([keysOf(r.kvs), r.more, r.count], [expected, more, 4], JSON.stringify(req));
  };
  await check({ min_mod_revision: rc! }, ['flt/b', 'flt/c', 'flt/d']);
  await check({ max_mod_revision: rc! }, ['flt/a', 'flt/c']);
  await check({ min_mod_revision: rb!, max_mod_revision: rb! }, []);
  await check({ min_mod_revision: rb2, max_mod_revision: rb2 }, ['flt/b']);
  await check({ min_create_revision: rb!, max_create_revision: rc! }, ['flt/b', 'flt/c']);
  await check({ max_create_revision: ra! }, ['flt/a']);
  await check({ min_create_revision: rd! + 1 }, []);
  await check({ min_mod_revision: rc!, limit: 2 }, ['flt/b', 'flt/c'], true);
  await check({ min_mod_revision: rc!, limit: 3 }, ['flt/b', 'flt/c', 'flt/d']);
  await check({ min_mod_revision: rc!, limit: 1, sort_order: SortOrder.DESCEND, sort_target: SortTarget.MOD }, ['flt/b'], true);
  const old = await kv.range({ ...base, revision: rc!, min_create_revision: rb! });
  assert.deepEqual([keysOf(old.kvs), old.count], [['flt/b', 'flt/c'], 3], 'count at the revision, before filtering');
});

test('serializable reads answer the same as linearizable ones on one member', async () => {
  await putAll([['ser/a', '1'], ['ser/b', '2']]);
  const rev = await kv.revision();
  await kv.put({ key: b('ser/a'), value: b('3') });
  for (const req of [
    { key: b('ser/'), range_end: b('ser0') },
    { key: b('ser/a') },
    { key: b('ser/'), range_end: b('ser0'), revision: rev, limit: 1 },
    { key: b('ser/'), range_end: b('ser0'), count_only: true },
  ]) {
    const lin = await kv.range(req);
    const ser = await kv.range({ ...req, serializable: true });
    assert.deepEqual(ser, lin);
  }
});

test('an unknown sort order or target fails with invalid sort option (etcd 3.5; sent to etcd-ts only)', async () => {
  // etcd 3.4 has no such check: it ignores an unknown order and panics on an unknown target; etcd 3.5 refuses both.
  for (const req of [{ sort_order: 3 }, { sort_order: -1 }, { sort_target: 5 }, { sort_target: 7, sort_order: SortOrder.ASCEND }]) {
    await assert.rejects(kv.client.range({ key: b('st/'), range_end: b('st0'), ...req }), (err: Error & { code?: number }) => {
      assert.deepEqual({ code: err.code, message: err.message }, { code: 3, message: 'etcdserver: invalid sort option' });
      return true;
    });
  }
});
