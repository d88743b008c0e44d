// Txn: compares (targets, results, ranges, missing keys), nested txns and their headers, visibility of earlier ops,
// duplicate-key checks, op limits, request checks and revisions; each request also goes to a real etcd when installed.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CompareResult, CompareTarget, type RequestOp, type TxnRequest, type TxnResponse } from '../../src/client/index.js';
import { cmp, delOp, getOp, putOp, txnOp, type ResultName, type TargetName } from '../helpers/kv-builders.js';
import { b, ERR, keysOf, KvPair } from '../helpers/kv-differential.js';

let kv: KvPair;
before(async () => {
  kv = await KvPair.start();
});
after(() => kv?.close());

const RESULTS: ResultName[] = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'];

function holds(result: ResultName, sign: number): boolean {
  switch (result) {
    case 'EQUAL': return sign === 0;
    case 'GREATER': return sign > 0;
    case 'LESS': return sign < 0;
    case 'NOT_EQUAL': return sign !== 0;
  }
}

test('compare: every target with every result, against operands below, equal to and above the stored field', async () => {
  const created = (await kv.put({ key: b('cmp/k'), value: b('m') })).header.revision;
  const modified = (await kv.put({ key: b('cmp/k'), value: b('m') })).header.revision;
  const start = await kv.revision();
  const operands: Record<TargetName, [number | bigint | string, number][]> = {
    VERSION: [[1, 1], [2, 0], [3, -1], [0, 1], [-1, 1]],
    CREATE: [[created - 1, 1], [created, 0], [created + 1, -1]],
    MOD: [[modified - 1, 1], [modified, 0], [modified + 1, -1]],
    VALUE: [['l', 1], ['m', 0], ['n', -1], ['', 1], ['mm', -1], ['M', 1]],
    LEASE: [[-1n, 1], [0n, 0], [1n, -1], [0x7fffffffffffffffn, -1]],
  };
  for (const [target, list] of Object.entries(operands) as [TargetName, [number | bigint | string, number][]][]) {
    for (const [operand, sign] of list) {
      for (const result of RESULTS) {
        const r = await kv.txn({ compare: [cmp('cmp/k', target, result, operand)], success: [getOp('cmp/k')], failure: [] });
        assert.equal(r.succeeded, holds(result, sign), `${target} ${result} ${String(operand)}`);
        assert.equal(r.responses.length, r.succeeded ? 1 : 0, 'responses follow the branch taken');
      }
    }
  }
  assert.equal(await kv.revision(), start, 'read-only txns do not bump the revision');
});

test('compare on a missing key: VALUE is always false; other targets compare against zero', async () => {
  for (const target of ['VERSION', 'CREATE', 'MOD', 'LEASE'] as const) {
    for (const [operand, sign] of [[0, 0], [1, -1], [-1, 1]] as const) {
      for (const result of RESULTS) {
        const r = await kv.txn({ compare: [cmp('cmp/missing', target, result, target === 'LEASE' ? BigInt(operand) : operand)] });
        assert.equal(r.succeeded, holds(result, sign), `missing key: ${target} ${result} ${operand}`);
      }
    }
  }
  for (const result of RESULTS) {
    for (const operand of ['', 'x']) {
      const r = await kv.txn({ compare: [cmp('cmp/missing', 'VALUE', result, operand)] });
      assert.equal(r.succeeded, false, `missing key: VALUE ${result} "${operand}"`);
    }
  }
});

test('compare details: AND of all compares, union member other than the target, unknown target or result', async () => {
  await kv.put({ key: b('cmpx/k'), value: b('v') });
  const yes = cmp('cmpx/k', 'VERSION', 'EQUAL', 1);
  const no = cmp('cmpx/k', 'VALUE', 'EQUAL', 'w');
  assert.equal((await kv.txn({ compare: [yes, yes] })).succeeded, true);
  assert.equal((await kv.txn({ compare: [yes, no] })).succeeded, false);
  assert.equal((await kv.txn({ compare: [no, yes] })).succeeded, false);
  assert.equal((await kv.txn({ compare: [] })).succeeded, true, 'no compares: success');
  // The operand is read from the union member matching the target; another member counts as zero.
  const mismatched = { key: b('cmpx/k'), target: CompareTarget.CREATE, result: CompareResult.GREATER, version: 1_000_000 };
  assert.equal((await kv.txn({ compare: [mismatched] })).succeeded, true, 'create_revision > 0');
  const valueMismatch = { key: b('cmpx/k'), target: CompareTarget.VALUE, result: CompareResult.GREATER, version: 5 };
  assert.equal((await kv.txn({ compare: [valueMismatch] })).succeeded, true, 'value "v" > ""');
  // etcd: an unknown target compares as equal; an unknown result holds.
  assert.equal((await kv.txn({ compare: [{ key: b('cmpx/k'), target: 9, result: CompareResult.EQUAL }] })).succeeded, true);
  assert.equal((await kv.txn({ compare: [{ key: b('cmpx/k'), target: 9, result: CompareResult.GREATER }] })).succeeded, false);
  assert.equal((await kv.txn({ compare: [{ key: b('cmpx/k'), target: CompareTarget.VERSION, result: 9, version: 99 }] })).succeeded, true);
});

test('compare with range_end: every key in the range must satisfy it; an empty range compares as a missing key', async () => {
  await kv.put({ key: b('cr/a'), value: b('x') });
  for (let i = 0; i < 2; i++) await kv.put({ key: b('cr/b'), value: b('x') });
  for (let i = 0; i < 3; i++) await kv.put({ key: b('cr/c'), value: b('x') });
  const check = async (c: ReturnType<typeof cmp>, expected: boolean, what: string): Promise<void> => {
    const r = await kv.txn({ compare: [c] });
    assert.equal(r.succeeded, expected, what);
  };
  await check(cmp('cr/', 'VERSION', 'GREATER', 0, 'cr0'), true, 'all versions > 0');
  await check(cmp('cr/', 'VERSION', 'GREATER', 1, 'cr0'), false, 'cr/a has version 1');
  await check(cmp('cr/', 'VERSION', 'LESS', 4, 'cr0'), true, 'all versions < 4');
  await check(cmp('cr/b', 'VERSION', 'GREATER', 1, 'cr0'), true, '[cr/b, cr0): versions 2 and 3');
  await check(cmp('cr/a', 'VERSION', 'EQUAL', 1, 'cr/b'), true, '[cr/a, cr/b) is cr/a only');
  await check(cmp('cr/', 'VALUE', 'EQUAL', 'x', 'cr0'), true, 'all values x');
  await check(cmp('cr/', 'VALUE', 'NOT_EQUAL', 'x', 'cr0'), false, 'no value differs from x');
  await check(cmp('cr/x', 'VERSION', 'EQUAL', 0, 'cr/y'), true, 'empty range: version 0');
  await check(cmp('cr/x', 'CREATE', 'LESS', 1, 'cr/y'), true, 'empty range: create 0');
  await check(cmp('cr/x', 'VALUE', 'NOT_EQUAL', 'x', 'cr/y'), false, 'empty range: VALUE false');
  await check(cmp('cr/c', 'VALUE', 'EQUAL', 'x', 'cr/a'), false, 'range_end < key: empty, VALUE false');
  await check(cmp('cr/c', 'VERSION', 'EQUAL', 0, 'cr/a'), true, 'range_end < key: empty, version 0');
  await check(cmp('cr/b', 'CREATE', 'GREATER', 0, '\0'), true, 'from-key: every key from cr/b on exists');
  await check(cmp('cr/b', 'VERSION', 'GREATER', 1, '\0'), true, 'from-key: cr/b and cr/c (keys of earlier tests sort before cr/)');
  await check(cmp('cr/a', 'VERSION', 'GREATER', 1, '\0'), false, 'from-key: cr/a has version 1');
  await check(cmp('\0', 'MOD', 'GREATER', 0, '\0'), true, 'whole keyspace');
});

test('nested txns: branches, responses and headers (nested txn headers are empty; nested op headers carry revision only)', async () => {
  await kv.put({ key: b('nest/a'), value: b('1') });
  const start = await kv.revision();
  const r = await kv.txn({
    compare: [cmp('nest/a', 'VALUE', 'EQUAL', '1')],
    success: [
      getOp('nest/a'),
      txnOp({
        compare: [cmp('nest/a', 'VERSION', 'EQUAL', 1)],
        success: [getOp('nest/a'), putOp('nest/b', 'b'), getOp('nest/b')],
        failure: [putOp('nest/never1')],
      }),
      txnOp({
        compare: [cmp('nest/a', 'VERSION', 'EQUAL', 5)],
        success: [putOp('nest/never2')],
        failure: [
          delOp('nest/nothing'),
          txnOp({ compare: [], success: [putOp('nest/c', 'c', { prev_kv: true }), getOp('nest/', 'nest0')] }),
          txnOp({ success: [getOp('nest/a')] }),
        ],
      }),
      getOp('nest/', 'nest0', { count_only: true }),
    ],
    failure: [putOp('nest/never3')],
  });
  assert.equal(r.succeeded, true);
  assert.equal(r.header.revision, start + 1, 'one revision for the whole txn');
  const [first, nested1, nested2, last] = r.responses;
  assert.equal(first?.response_range?.header.revision, start, 'a read before any write sees the revision before the txn');
  const n1 = nested1?.response_txn;
  assert.ok(n1);
  assert.deepEqual(n1.header, { cluster_id: 0n, member_id: 0n, revision: 0, raft_term: 0 }, 'nested txn header is empty');
  assert.equal(n1.succeeded, true);
  assert.deepEqual(n1.responses.map((op) => Object.keys(op)[0]), ['response_range', 'response_put', 'response_range']);
  assert.equal(n1.responses[0]?.response_range?.header.revision, start);
  assert.deepEqual(n1.responses[1]?.response_put?.header, { cluster_id: 0n, member_id: 0n, revision: start + 1, raft_term: 0 });
  assert.equal(n1.responses[2]?.response_range?.header.revision, start + 1, 'a read after a write sees the txn revision');
  assert.deepEqual(keysOf(n1.responses[2]?.response_range?.kvs ?? []), ['nest/b']);
  const n2 = nested2?.response_txn;
  assert.ok(n2);
  assert.equal(n2.succeeded, false);
  assert.deepEqual(n2.responses[0]?.response_delete_range?.header.revision, start + 1, 'delete of nothing after a write');
  const n2a = n2.responses[1]?.response_txn;
  assert.equal(n2a?.succeeded, true);
  assert.equal(n2a?.responses[0]?.response_put?.prev_kv, undefined);
  assert.deepEqual(keysOf(n2a?.responses[1]?.response_range?.kvs ?? []), ['nest/a', 'nest/b', 'nest/c']);
  assert.equal(n2.responses[2]?.response_txn?.succeeded, true);
  assert.equal(last?.response_range?.count, 3);
  assert.equal((await kv.range({ key: b('nest/never'), range_end: b('nest/nevf') })).kvs.length, 0);
  assert.equal((await kv.range({ key: b('nest/c') })).kvs[0]?.mod_revision, start + 1);
});

test('nested compares are evaluated against the state before the txn, not after earlier ops', async () => {
  const r = await kv.txn({
    success: [
      putOp('nc/x', '1'),
      getOp('nc/x'),
      txnOp({ compare: [cmp('nc/x', 'VERSION', 'GREATER', 0)], success: [putOp('nc/saw-x')], failure: [putOp('nc/no-x')] }),
    ],
  });
  assert.equal(r.responses[1]?.response_range?.count, 1, 'the range sees the put');
  assert.equal(r.responses[2]?.response_txn?.succeeded, false, 'the nested compare does not');
  assert.deepEqual(keysOf((await kv.range({ key: b('nc/'), range_end: b('nc0') })).kvs), ['nc/no-x', 'nc/x']);
});

test('ops in a txn see the writes of earlier ops: puts, prev_kv, deletes, ranges and their header revisions', async () => {
  await kv.put({ key: b('seq/a'), value: b('old') });
  const start = await kv.revision();
  const r = await kv.txn({
    success: [
      getOp('seq/', 'seq0'),
      delOp('seq/none'),
      putOp('seq/a', 'new', { prev_kv: true }),
      getOp('seq/a'),
      putOp('seq/b', 'b', { prev_kv: true }),
      // A from-key delete is the one delete a txn may apply to keys it has just put (see the duplicate-key test).
      delOp('seq/', '\0', { prev_kv: true }),
      getOp('seq/', 'seq0'),
      getOp('seq/', 'seq0', { revision: start }),
      delOp('seq/none'),
    ],
  });
  const [get0, del0, put1, get1, put2, del1, get2, get3, del2] = r.responses;
  assert.equal(get0?.response_range?.header.revision, start);
  assert.equal(del0?.response_delete_range?.header.revision, start, 'delete of nothing before any write');
  assert.equal(Buffer.from(put1?.response_put?.prev_kv?.value ?? []).toString(), 'old');
  assert.equal(Buffer.from(get1?.response_range?.kvs[0]?.value ?? []).toString(), 'new');
  assert.equal(get1?.response_range?.kvs[0]?.version, 2);
  assert.equal(put2?.response_put?.prev_kv, undefined);
  assert.deepEqual(keysOf(del1?.response_delete_range?.prev_kvs ?? []), ['seq/a', 'seq/b']);
  assert.equal(del1?.response_delete_range?.prev_kvs[0]?.mod_revision, start + 1, 'deleted what this txn wrote');
  assert.equal(get2?.response_range?.count, 0);
  assert.deepEqual(keysOf(get3?.response_range?.kvs ?? []), ['seq/a'], 'a read at the revision before the txn');
  assert.equal(del2?.response_delete_range?.header.revision, start + 1, 'delete of nothing after a write');
  assert.equal(r.header.revision, start + 1);
  assert.equal(await kv.revision(), start + 1);
});

test('revisions: read-only txns and write txns that change nothing do not bump the revision', async () => {
  await kv.put({ key: b('ro/a'), value: b('1') });
  const start = await kv.revision();
  const readOnly = await kv.txn({ compare: [cmp('ro/a', 'VERSION', 'EQUAL', 1)], success: [getOp('ro/a'), txnOp({ success: [getOp('ro/a')] })], failure: [getOp('ro/b')] });
  assert.equal(readOnly.header.revision, start);
  const notTaken = await kv.txn({ compare: [cmp('ro/a', 'VERSION', 'EQUAL', 9)], success: [putOp('ro/x')], failure: [getOp('ro/a')] });
  assert.deepEqual([notTaken.succeeded, notTaken.header.revision], [false, start], 'write branch not taken');
  const deletesNothing = await kv.txn({ success: [delOp('ro/none'), delOp('ro/x', 'ro/y')] });
  assert.equal(deletesNothing.header.revision, start, 'deletes that match nothing');
  const empty = await kv.txn({});
  assert.deepEqual([empty.succeeded, empty.responses.length, empty.header.revision], [true, 0, start], 'empty txn');
  assert.equal(await kv.revision(), start);
  const deletes = await kv.txn({ success: [delOp('ro/none'), delOp('ro/a')] });
  assert.equal(deletes.header.revision, start + 1);
});

test('duplicate keys: two puts, a put inside a deleted range, nested then/else overlap allowed (etcd checkIntervals)', async () => {
  const start = await kv.revision();
  const dup = (t: TxnRequest, what: string): Promise<void> =>
    kv.fails('Txn', t, what).then((e) => assert.deepEqual(e, ERR.duplicateKey, what));
  const allowed = (t: TxnRequest, what: string): Promise<TxnResponse> => kv.txn(t, what);
  const nested = (success: RequestOp[], failure: RequestOp[] = []): RequestOp => txnOp({ compare: [cmp('dup/c', 'VERSION', 'EQUAL', 0)], success, failure });

  await dup({ success: [putOp('dup/k'), putOp('dup/k')] }, 'two puts of one key');
  await dup({ failure: [putOp('dup/k'), putOp('dup/k')] }, 'in the failure branch too, even when it is not taken');
  await dup({ success: [delOp('dup/a', 'dup/c'), putOp('dup/b')] }, 'put inside a deleted interval');
  await dup({ success: [putOp('dup/b'), delOp('dup/a', 'dup/c')] }, 'put before the delete');
  await dup({ success: [delOp('dup/k'), putOp('dup/k')] }, 'put of a deleted single key');
  await dup({ success: [putOp('dup/k'), nested([putOp('dup/k')])] }, 'put and a nested then-put');
  await dup({ success: [putOp('dup/k'), nested([], [putOp('dup/k')])] }, 'put and a nested else-put');
  await dup({ success: [nested([putOp('dup/k')]), nested([putOp('dup/k')])] }, 'two nested then-puts');
  await dup({ success: [nested([putOp('dup/k')]), nested([], [putOp('dup/k')])] }, 'then-put, then a later nested else-put');
  await dup({ success: [nested([delOp('dup/a', 'dup/z')]), putOp('dup/k')] }, 'nested delete covers an outer put');
  await dup({ success: [delOp('dup/k'), nested([putOp('dup/k')])] }, 'outer delete covers a nested put');
  await dup({ success: [nested([delOp('dup/a', 'dup/z')]), nested([putOp('dup/k')])] }, 'earlier nested delete covers a later nested put');
  await dup({ success: [nested([nested([putOp('dup/k')])]), putOp('dup/k')] }, 'two levels down');
  await dup({ success: [nested([putOp('dup/k'), putOp('dup/k')])] }, 'inside a nested branch');

  await allowed({ success: [nested([putOp('dup/k', '1')], [putOp('dup/k', '2')])] }, 'then and else of one nested txn');
  await allowed({ success: [nested([delOp('dup/k')], [putOp('dup/k', '3')])] }, 'delete in then, put in else');
  await allowed({ success: [putOp('dup/k'), getOp('dup/k'), getOp('dup/a', 'dup/z')] }, 'ranges overlap anything');
  await allowed({ success: [delOp('dup/a', 'dup/k'), putOp('dup/k')] }, 'range_end is exclusive');
  await allowed({ success: [delOp('dup/a', 'dup/z'), delOp('dup/k')] }, 'overlapping deletes');
  await allowed({ success: [putOp('dup/k')], failure: [putOp('dup/k')] }, 'success and failure branches');
  await allowed({ success: [delOp('dup/x', 'dup/a'), putOp('dup/m')] }, 'a delete with range_end < key covers nothing');
  // etcd 3.4 treats range_end "\0" as an interval ending at "\0", which covers no key: the put is allowed and runs
  // after the delete.
  const fromKey = await allowed({ success: [delOp('dup/', '\0', { prev_kv: true }), putOp('dup/m', 'after')] }, 'from-key delete and a put');
  assert.ok((fromKey.responses[0]?.response_delete_range?.deleted ?? 0) >= 1);
  const m = (await kv.range({ key: b('dup/m') })).kvs[0];
  assert.deepEqual([Buffer.from(m?.value ?? []).toString(), m?.version], ['after', 1], 're-created after the delete in the same txn');
  assert.ok((await kv.revision()) > start);
});

test('too many operations: max(len(compare), len(success), len(failure)) > --max-txn-ops (128); nested txns get the rest', async () => {
  const puts = (n: number, prefix: string): RequestOp[] => Array.from({ length: n }, (_, i) => putOp(`${prefix}/${String(i).padStart(3, '0')}`, 'v'));
  const start = await kv.revision();
  assert.deepEqual(await kv.fails('Txn', { success: puts(129, 'ops/s') }), ERR.tooManyOps);
  assert.deepEqual(await kv.fails('Txn', { failure: puts(129, 'ops/f') }), ERR.tooManyOps);
  const compares = Array.from({ length: 129 }, () => cmp('ops/c', 'VERSION', 'EQUAL', 0));
  assert.deepEqual(await kv.fails('Txn', { compare: compares }), ERR.tooManyOps);
  assert.equal(await kv.revision(), start);
  const full = await kv.txn({ compare: compares.slice(1), success: puts(128, 'ops/s'), failure: puts(128, 'ops/f') });
  assert.deepEqual([full.succeeded, full.responses.length, full.header.revision], [true, 128, start + 1]);
  assert.equal((await kv.range({ key: b('ops/s/'), range_end: b('ops/s0'), count_only: true })).count, 128);
  // The outer branch has 64 ops, so a nested txn may have 128 - 64 = 64.
  const outer = (nestedOps: number): TxnRequest => ({ success: [...puts(63, 'ops/o'), txnOp({ success: puts(nestedOps, 'ops/n') })] });
  assert.deepEqual(await kv.fails('Txn', outer(65)), ERR.tooManyOps);
  const ok = await kv.txn(outer(64));
  assert.equal(ok.responses[63]?.response_txn?.responses.length, 64);
});

test('request checks inside a txn: empty RequestOp, empty keys, value/lease provided', async () => {
  const start = await kv.revision();
  const cases: [TxnRequest, typeof ERR[keyof typeof ERR], string][] = [
    [{ success: [{}] }, ERR.keyNotFound, 'empty RequestOp'],
    [{ success: [putOp('chk/a'), {}] }, ERR.keyNotFound, 'empty RequestOp after a put'],
    [{ failure: [{}] }, ERR.keyNotFound, 'empty RequestOp in the branch not taken'],
    [{ success: [txnOp({ failure: [{}] })] }, ERR.keyNotFound, 'empty RequestOp in a nested txn'],
    [{ compare: [{ key: b(''), target: CompareTarget.VERSION, result: CompareResult.EQUAL }] }, ERR.emptyKey, 'empty compare key'],
    [{ compare: [{ key: b(''), target: 0, result: 0 }], success: [{}] }, ERR.emptyKey, 'compares are checked before ops'],
    [{ success: [putOp('')] }, ERR.emptyKey, 'empty put key'],
    [{ success: [getOp('')] }, ERR.emptyKey, 'empty range key'],
    [{ success: [delOp('')] }, ERR.emptyKey, 'empty delete key'],
    [{ success: [putOp('chk/a', 'v', { ignore_value: true })] }, ERR.valueProvided, 'ignore_value with a value'],
    [{ success: [putOp('chk/a', '', { ignore_lease: true, lease: 1n })] }, ERR.leaseProvided, 'ignore_lease with a lease'],
  ];
  for (const [req, expected, what] of cases) assert.deepEqual(await kv.fails('Txn', req, what), expected, what);
  assert.equal(await kv.revision(), start);
});

test('apply-time checks inside a txn: missing keys and leases (puts first, then ranges), range revisions, chosen path only', async () => {
  await kv.put({ key: b('chk/a'), value: b('a') });
  const start = await kv.revision();
  const cases: [TxnRequest, typeof ERR[keyof typeof ERR], string][] = [
    [{ success: [putOp('chk/missing', '', { ignore_value: true })] }, ERR.keyNotFound, 'ignore_value on a missing key'],
    [{ success: [putOp('chk/missing', 'v', { ignore_lease: true })] }, ERR.keyNotFound, 'ignore_lease on a missing key'],
    [{ success: [putOp('chk/x', 'v', { lease: 42n })] }, ERR.leaseNotFound, 'unknown lease'],
    [{ success: [putOp('chk/missing', '', { ignore_value: true, lease: 42n })] }, ERR.keyNotFound, 'in a txn the key is checked before the lease'],
    [{ success: [putOp('chk/x', 'v', { lease: 42n }), putOp('chk/missing', '', { ignore_value: true })] }, ERR.leaseNotFound, 'op order'],
    [{ success: [putOp('chk/missing', '', { ignore_value: true }), putOp('chk/x', 'v', { lease: 42n })] }, ERR.keyNotFound, 'op order'],
    [{ success: [getOp('chk/a', undefined, { revision: start + 1 })] }, ERR.futureRev, 'future range revision'],
    [{ success: [putOp('chk/b'), getOp('chk/a', undefined, { revision: start + 1 })] }, ERR.futureRev, 'checked against the revision before the txn'],
    [{ success: [getOp('chk/a', undefined, { revision: start + 1 }), putOp('chk/missing', '', { ignore_lease: true })] }, ERR.keyNotFound, 'puts are checked before ranges'],
    [{ success: [getOp('chk/a', undefined, { revision: -2 })] }, ERR.compacted, 'a revision below -1 is below etcd\'s initial compacted revision (-1)'],
    [{ success: [txnOp({ success: [putOp('chk/missing', '', { ignore_value: true })] })] }, ERR.keyNotFound, 'nested'],
    [{ compare: [cmp('chk/a', 'VERSION', 'EQUAL', 1)], success: [txnOp({ compare: [cmp('chk/a', 'VERSION', 'EQUAL', 0)], failure: [getOp('chk/a', undefined, { revision: start + 5 })] })] }, ERR.futureRev, 'nested failure branch taken'],
  ];
  for (const [req, expected, what] of cases) assert.deepEqual(await kv.fails('Txn', req, what), expected, what);
  assert.equal(await kv.revision(), start, 'nothing applied');
  // Checks run on the chosen path only.
  const notChosen = await kv.txn({
    compare: [cmp('chk/a', 'VERSION', 'EQUAL', 1)],
    success: [getOp('chk/a', undefined, { revision: -1 }), getOp('chk/a', undefined, { revision: start })],
    failure: [putOp('chk/missing', '', { ignore_value: true }), putOp('chk/x', '', { lease: 42n }), getOp('chk/a', undefined, { revision: start + 9 })],
  });
  assert.equal(notChosen.succeeded, true);
  const nestedNotChosen = await kv.txn({
    success: [txnOp({ compare: [cmp('chk/a', 'VERSION', 'EQUAL', 1)], failure: [putOp('chk/missing', '', { ignore_value: true })] }), putOp('chk/ok')],
  });
  assert.equal(nestedNotChosen.header.revision, start + 1);
});

test('a put with ignore_value after a from-key delete of its key fails with key not found and changes nothing', async () => {
  // etcd 3.4 lets this txn through its checks and then panics while applying it (a crash on every replay); etcd-ts
  // refuses it instead, so it is sent to etcd-ts only.
  await kv.put({ key: b('qod/a'), value: b('1') });
  await kv.put({ key: b('qod/b'), value: b('2') });
  const start = await kv.revision();
  for (const ops of [
    [delOp('qod/', '\0'), putOp('qod/a', '', { ignore_value: true })],
    [delOp('qod/b', '\0'), putOp('qod/a'), putOp('qod/b', '', { ignore_lease: true })],
    [txnOp({ success: [delOp('qod/a', '\0')] }), txnOp({ success: [putOp('qod/b', '', { ignore_value: true, ignore_lease: true })] })],
  ]) {
    await assert.rejects(kv.client.txn({ success: ops }), (err: Error & { code?: number }) => {
      assert.deepEqual({ code: err.code, message: err.message }, ERR.keyNotFound);
      return true;
    });
  }
  assert.equal(await kv.revision(), start, 'nothing applied; the member still serves');
  assert.deepEqual(keysOf((await kv.range({ key: b('qod/'), range_end: b('qod0') })).kvs), ['qod/a', 'qod/b']);
  // The same puts are fine when the delete does not reach their keys, or comes after them.
  const ok = await kv.txn({ success: [delOp('qod/b', '\0'), putOp('qod/a', '', { ignore_value: true, prev_kv: true })] });
  assert.equal(Buffer.from(ok.responses[1]?.response_put?.prev_kv?.value ?? []).toString(), '1');
  const after = await kv.txn({ success: [putOp('qod/a', '', { ignore_value: true }), delOp('qod/', '\0', { prev_kv: true })] });
  assert.deepEqual(keysOf(after.responses[1]?.response_delete_range?.prev_kvs ?? []), ['qod/a']);
});
