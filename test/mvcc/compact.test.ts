// Compaction: its errors, reads around the compacted revision (plain and in txns), and what physically survives in
// the history table. Requests also go to a real etcd when installed and both answers must match.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTables } from '../../src/storage/index.js';
import {
  decodeRecord,
  escapedUserKeyOf,
  recordAt,
  revisionOfKeyIndexKey,
  subOfKeyIndexValue,
  unescapeUserKey,
  type MvccTables,
} from '../../src/mvcc/index.js';
import { cmp, getOp, putOp } from '../helpers/kv-builders.js';
import { b, DEFAULT_CLUSTER_ID, DEFAULT_MEMBER_ID, ERR, keysOf, KvPair, showBytes } from '../helpers/kv-differential.js';

let kv: KvPair;
before(async () => {
  kv = await KvPair.start();
});
after(() => kv?.close());

test('compact 0 and 1 on a fresh store succeed once; then compacted; beyond the current revision: future', async () => {
  // Runs first: the shared store is fresh (revision 1, nothing compacted).
  const zero = await kv.compact({ revision: 0 });
  assert.deepEqual(zero.header, { cluster_id: DEFAULT_CLUSTER_ID, member_id: DEFAULT_MEMBER_ID, revision: 1, raft_term: 2 });
  assert.deepEqual(await kv.fails('Compact', { revision: 0 }), ERR.compacted);
  assert.deepEqual(await kv.fails('Compact', { revision: -1 }), ERR.compacted);
  assert.deepEqual(await kv.fails('Compact', { revision: 2 }), ERR.futureRev);
  await kv.compact({ revision: 1, physical: true });
  assert.deepEqual(await kv.fails('Compact', { revision: 1 }), ERR.compacted);
  assert.equal((await kv.range({ key: b('c0/a'), revision: 1 })).count, 0, 'the compacted revision itself is readable');
  assert.equal(await kv.revision(), 1, 'compaction does not change the revision');
});

test('compaction errors and reads: below the compacted revision fails, at and above it works (plain and in txns)', async () => {
  const r1 = (await kv.put({ key: b('c1/k'), value: b('a') })).header.revision;
  const r2 = (await kv.put({ key: b('c1/k'), value: b('b') })).header.revision;
  const r3 = (await kv.deleteRange({ key: b('c1/k') })).header.revision;
  const r4 = (await kv.put({ key: b('c1/k'), value: b('c') })).header.revision;
  const r5 = (await kv.put({ key: b('c1/j'), value: b('j') })).header.revision;
  const compacted = await kv.compact({ revision: r2 });
  assert.equal(compacted.header.revision, r5, 'the header carries the current revision');
  for (const revision of [r2, r1, 0, -5]) assert.deepEqual(await kv.fails('Compact', { revision }), ERR.compacted, `compact ${revision}`);
  assert.deepEqual(await kv.fails('Compact', { revision: r5 + 1 }), ERR.futureRev);

  const prefix = { key: b('c1/'), range_end: b('c10') };
  for (const req of [{ ...prefix, revision: r1 }, { ...prefix, revision: r2 - 1, count_only: true }, { key: b('c1/k'), revision: 2 }]) {
    assert.deepEqual(await kv.fails('Range', req), ERR.compacted, `range at ${req.revision}`);
  }
  const values = async (revision: number): Promise<string[]> =>
    (await kv.range({ ...prefix, revision })).kvs.map((k) => `${showBytes(k.key)}=${showBytes(k.value)}@${k.mod_revision}/v${k.version}`);
  assert.deepEqual(await values(r2), [`c1/k=b@${r2}/v2`], 'exactly at the compacted revision');
  assert.deepEqual(await values(r3), []);
  assert.deepEqual(await values(r4), [`c1/k=c@${r4}/v1`]);
  assert.deepEqual(await values(0), [`c1/j=j@${r5}/v1`, `c1/k=c@${r4}/v1`]);
  assert.deepEqual(await values(-1), await values(0), 'a negative revision is the current one for a plain Range');
  assert.equal((await kv.range({ ...prefix, revision: r2, count_only: true })).count, 1);

  // In a txn a range revision is checked before anything runs; -1 is now below the compacted revision too.
  for (const revision of [r1, r2 - 1, -1]) {
    assert.deepEqual(await kv.fails('Txn', { success: [getOp('c1/k', undefined, { revision })] }), ERR.compacted, `txn range at ${revision}`);
  }
  assert.deepEqual(await kv.fails('Txn', { success: [putOp('c1/x'), getOp('c1/k', undefined, { revision: r1 })] }), ERR.compacted);
  const inTxn = await kv.txn({ compare: [cmp('c1/k', 'CREATE', 'EQUAL', r4)], success: [getOp('c1/k', undefined, { revision: r2 }), getOp('c1/k', undefined, { revision: 0 })] });
  assert.equal(inTxn.succeeded, true, 'compares read the current state');
  assert.deepEqual(inTxn.responses.map((op) => showBytes(op.response_range?.kvs[0]?.value)), ['b', 'c']);
  assert.equal(await kv.revision(), r5, 'nothing failed changed the revision');

  // Compact up to the current revision; everything current stays readable.
  await kv.compact({ revision: r5, physical: true });
  assert.deepEqual(await values(r5), [`c1/j=j@${r5}/v1`, `c1/k=c@${r4}/v1`]);
  assert.deepEqual(await kv.fails('Range', { ...prefix, revision: r4 }), ERR.compacted);
  // Writes after a compaction continue the revision sequence, and keys keep their history from the kept version.
  const r6 = (await kv.put({ key: b('c1/k'), value: b('d'), prev_kv: true })).header.revision;
  assert.equal(r6, r5 + 1);
  const now = (await kv.range({ key: b('c1/k') })).kvs[0]!;
  assert.deepEqual([now.create_revision, now.version], [r4, 2]);
});

interface Written {
  key: string;
  revision: number;
  tombstone: boolean;
  value: string;
}

/** Every retained version (keyindex entry and its history record), in keyindex order, as comparable strings. */
function historyOf(tables: MvccTables): string[] {
  const out: string[] = [];
  for (const { key, value } of tables.keyindex.getRange({})) {
    const userKey = unescapeUserKey(escapedUserKeyOf(key));
    const stored = recordAt(tables, revisionOfKeyIndexKey(key), subOfKeyIndexValue(value));
    assert.ok(stored !== undefined, 'every keyindex entry has its history record');
    const record = decodeRecord(stored);
    const kind = record.tombstone ? 'tombstone' : `put ${showBytes(record.value)} c${record.create_revision} v${record.version}`;
    out.push(`${showBytes(userKey)}@${revisionOfKeyIndexKey(key)} ${kind} m${record.mod_revision}`);
  }
  return out;
}

/** etcd's rule: keep every record above the compacted revision and, per key, the newest at or below it unless a tombstone. */
function expectedHistory(writes: Written[], compactRevision: number, all: Map<string, string>): string[] {
  const byKey = new Map<string, Written[]>();
  for (const w of writes) byKey.set(w.key, [...(byKey.get(w.key) ?? []), w]);
  const out: { key: Buffer; revision: number; line: string }[] = [];
  for (const [key, list] of byKey) {
    const newestAtOrBelow = list.filter((w) => w.revision <= compactRevision).at(-1);
    for (const w of list) {
      const keep = w.revision > compactRevision || (w === newestAtOrBelow && !w.tombstone);
      if (keep) out.push({ key: b(key), revision: w.revision, line: all.get(`${showBytes(b(key))}@${w.revision}`)! });
    }
  }
  // Table order: by key, then newest revision first.
  out.sort((x, y) => Buffer.compare(x.key, y.key) || y.revision - x.revision);
  return out.map((o) => o.line);
}

test('physical compaction removes exactly the superseded history from the LMDB file', async (t) => {
  const pair = await KvPair.start();
  t.after(async () => {
    await pair.close();
    pair.removeMemberData();
  });
  const writes: Written[] = [];
  const put = async (key: string, value: string): Promise<void> => {
    const r = await pair.put({ key: b(key), value: b(value) });
    writes.push({ key, revision: r.header.revision, tombstone: false, value });
  };
  const del = async (key: string, rangeEnd?: string): Promise<void> => {
    const r = await pair.deleteRange({ key: b(key), ...(rangeEnd ? { range_end: b(rangeEnd) } : {}), prev_kv: true });
    for (const p of r.prev_kvs) writes.push({ key: Buffer.from(p.key).toString('latin1'), revision: r.header.revision, tombstone: true, value: '' });
  };
  await put('a', '1'); // 2
  await put('a', '2'); // 3
  await put('b', '1'); // 4
  await del('a'); // 5
  await put('c', '1'); // 6
  await put('b', '2'); // 7
  await put('a', '3'); // 8: re-created
  const t9 = await pair.txn({ success: [putOp('d', '1'), { request_delete_range: { key: b('c') } }] }); // 9
  writes.push({ key: 'd', revision: t9.header.revision, tombstone: false, value: '1' }, { key: 'c', revision: t9.header.revision, tombstone: true, value: '' });
  await put('e', '1'); // 10
  await del('e'); // 11
  await put('b', '3'); // 12
  await put('k\0z', '1'); // 13: a key with a zero byte
  await put('k\0z', '2'); // 14
  assert.equal(await pair.revision(), 14);

  // Every record ever written, as the table shows it, taken before each compaction.
  const storage = pair.member.member.storage;
  const all = new Map<string, string>();
  const remember = (): void => {
    for (const line of historyOf(storage)) all.set(line.slice(0, line.indexOf(' ', line.indexOf('@'))), line);
  };
  remember();
  assert.equal(all.size, writes.length, 'one history record per write');

  await step('physical compaction at 9', pair.compact({ revision: 9, physical: true }));
  assert.deepEqual(historyOf(storage), expectedHistory(writes, 9, all), 'after compacting at 9');
  assert.deepEqual(keysOf((await pair.range({ key: b('\0'), range_end: b('\0'), revision: 9 })).kvs), ['a', 'b', 'd']);
  assert.deepEqual(await pair.fails('Range', { key: b('a'), revision: 8 }), ERR.compacted);

  await put('a', '4'); // 15
  await del('b'); // 16
  remember();
  await step('physical compaction at 16', pair.compact({ revision: 16, physical: true }));
  assert.deepEqual(await pair.range({ key: b('\0'), range_end: b('\0'), revision: 16 }), await pair.range({ key: b('\0'), range_end: b('\0') }));

  // Stop the member and read its LMDB file directly.
  const dbPath = storage.dbPath;
  await step('closing the member', pair.close({ keepMemberData: true }));
  const tables = openTables(dbPath, true);
  try {
    const expected = expectedHistory(writes, 16, all);
    assert.deepEqual(expected, ['a@15 put 4 c8 v2 m15', 'd@9 put 1 c9 v1 m9', '<hex 6b007a>@14 put 2 c13 v2 m14']);
    assert.deepEqual(historyOf(tables), expected, 'only the newest live versions of a, d and k\\0z survive; b, c and e are gone');
    const latest = [...tables.latest.getKeys({})].map((k) => showBytes(k));
    assert.deepEqual(latest, ['a', 'd', '<hex 6b007a>']);
  } finally {
    await step('closing the read-only environment', tables.env.close());
  }
});

/** Awaits one step of a test; one that does not settle in time fails naming the step (it hung once under load). */
async function step<T>(label: string, p: Promise<T>, ms = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${label}: no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
