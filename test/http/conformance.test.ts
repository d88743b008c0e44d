// The JSON gateway against a real etcd 3.4: the same request suite goes to both, and the answers (status code,
// content type, body) must be equal after normalising identities (cluster and member IDs, terms, lease IDs) and
// making revisions relative to each side's revision at suite start. Skipped only when /usr/bin/etcd is absent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { etcdInstalled, startRealEtcd, type RealEtcd } from '../helpers/etcd.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { b64, Normaliser, request, StreamingCall, type Reply } from '../helpers/http-gateway.js';

const skip = etcdInstalled() ? false : 'etcd is not installed (/usr/bin/etcd): the conformance test needs it as the oracle';

interface Side {
  base: string;
  norm: Normaliser;
}

let etcd: RealEtcd | null = null;
let ours: InProcessMember | null = null;
const sides: { etcd?: Side; ours?: Side } = {};

async function startRevision(base: string): Promise<number> {
  const r = await request(base, '/v3/kv/range', JSON.stringify({ key: b64('conformance-probe') }));
  return Number((JSON.parse(r.body) as { header: { revision: string } }).header.revision);
}

before(async () => {
  if (skip) return;
  etcd = await startRealEtcd();
  ours = await startInProcess();
  const etcdBase = `http://${etcd.endpoint}`;
  const oursBase = `http://127.0.0.1:${ours.member.httpAddresses[0]!.port}`;
  sides.etcd = { base: etcdBase, norm: new Normaliser(await startRevision(etcdBase)) };
  sides.ours = { base: oursBase, norm: new Normaliser(await startRevision(oursBase)) };
});

after(async () => {
  await ours?.close();
  await etcd?.stop();
});

/** Sends the same request to both and asserts equal normalised replies; returns etcd's parsed body. */
async function same(path: string, body: unknown, method = 'POST', headers: Record<string, string> = {}): Promise<unknown> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const [e, o] = await Promise.all([
    request(sides.etcd!.base, path, text, method, headers),
    request(sides.ours!.base, path, text, method, headers),
  ]);
  const ne = sides.etcd!.norm.reply(e);
  const no = sides.ours!.norm.reply(o);
  assert.deepEqual(no, ne, `${method} ${path} ${text ?? ''}\n etcd: ${e.status} ${e.body}\n ours: ${o.status} ${o.body}`);
  return ne;
}

/** Runs the same request on both sequentially (writes must land in the same order on each side). */
async function seq(path: string, body: unknown): Promise<void> {
  await same(path, body);
}

const k = (s: string): string => b64(s);

test('kv put, range with every option, deleterange', { skip }, async () => {
  await seq('/v3/kv/put', { key: k('a'), value: k('1') });
  await seq('/v3/kv/put', { key: k('b'), value: k('2'), prev_kv: true });
  await seq('/v3/kv/put', { key: k('a'), value: k('3'), prev_kv: true });
  await seq('/v3/kv/put', { key: k('c'), value: k('0') });
  await seq('/v3/kv/put', { key: k('d/x'), value: k('dx') });
  await same('/v3/kv/range', { key: k('a') });
  await same('/v3/kv/range', { key: k('zzz') });
  await same('/v3/kv/range', { key: k('a'), range_end: k('c') });
  await same('/v3/kv/range', { key: k('a'), rangeEnd: k('d'), keysOnly: true });
  await same('/v3/kv/range', { key: 'AA==', range_end: 'AA==', count_only: true });
  await same('/v3/kv/range', { key: k('a'), range_end: 'AA==', limit: '2' });
  await same('/v3/kv/range', { key: k('a'), range_end: 'AA==', limit: 1 });
  await same('/v3/kv/range', { key: k('a'), range_end: 'AA==', sort_order: 'DESCEND' });
  await same('/v3/kv/range', { key: k('a'), range_end: 'AA==', sort_order: 2, sort_target: 'VALUE' });
  await same('/v3/kv/range', { key: k('a'), range_end: 'AA==', sort_target: 'MOD' });
  await same('/v3/kv/range', { key: k('a'), range_end: 'AA==', sort_order: 'ASCEND', sort_target: 'VERSION' });
  await same('/v3/kv/range', { key: k('a'), range_end: 'AA==', sort_order: 'DESCEND', sort_target: 'CREATE' });
  await same('/v3/kv/range', { key: k('a'), serializable: true });
  await same('/v3/kv/range', { key: k('a'), range_end: 'AA==', min_mod_revision: '0' });
  await same('/v3/kv/range', { key: k('d/'), range_end: k('d0') });
  await same('/v3/kv/range', { key: k('a'), range_end: 'AA==', bogus_field: 1 });
  await same('/v3/kv/range', { key: k('a'), range_end: null, limit: null });
  await same('/v3/kv/deleterange', { key: k('c'), prev_kv: true });
  await same('/v3/kv/deleterange', { key: k('nothing-here') });
  await same('/v3/kv/deleterange', { key: k('d/'), range_end: k('d0') });
});

test('kv range by revision and the revision filters (relative to each side)', { skip }, async () => {
  // revisions are absolute per side: send each side its own base + offset
  const at = async (path: string, make: (base: number) => unknown): Promise<void> => {
    const e = await request(sides.etcd!.base, path, JSON.stringify(make(baseOf('etcd'))));
    const o = await request(sides.ours!.base, path, JSON.stringify(make(baseOf('ours'))));
    assert.deepEqual(sides.ours!.norm.reply(o), sides.etcd!.norm.reply(e), `${path}\n etcd: ${e.body}\n ours: ${o.body}`);
  };
  await at('/v3/kv/range', (b) => ({ key: k('a'), revision: String(b + 1) }));
  await at('/v3/kv/range', (b) => ({ key: k('a'), range_end: 'AA==', min_mod_revision: String(b + 2), max_mod_revision: String(b + 3) }));
  await at('/v3/kv/range', (b) => ({ key: k('a'), range_end: 'AA==', min_create_revision: String(b + 2), max_create_revision: String(b + 4) }));
  await at('/v3/kv/range', (b) => ({ key: k('a'), revision: String(b + 1000) }));
});

function baseOf(side: 'etcd' | 'ours'): number {
  return sides[side]!.norm.baseRevision;
}

test('txn with compares on each target, nested ops and both branches', { skip }, async () => {
  await same('/v3/kv/txn', {
    compare: [
      { key: k('a'), target: 'VERSION', result: 'EQUAL', version: '2' },
      { key: k('b'), target: 'VALUE', result: 'EQUAL', value: k('2') },
      { key: k('a'), target: 'LEASE', result: 'EQUAL', lease: '0' },
      { key: k('missing'), target: 'CREATE', result: 'EQUAL', create_revision: '0' },
      { key: k('a'), target: 'MOD', result: 'GREATER', mod_revision: '0' },
      { key: k('b'), target: 'VERSION', result: 'NOT_EQUAL', version: '7' },
      { key: k('b'), target: 'VERSION', result: 'LESS', version: '9' },
    ],
    success: [
      { request_put: { key: k('t1'), value: k('v'), prev_kv: true } },
      { request_range: { key: k('a'), range_end: 'AA==', limit: '1' } },
      { request_txn: { compare: [{ key: k('t1'), target: 1, result: 1, create_revision: '0' }], success: [{ requestPut: { key: k('t2'), value: k('w') } }], failure: [{ request_delete_range: { key: k('b'), prev_kv: true } }] } },
      { request_delete_range: { key: k('zz') } },
    ],
    failure: [{ request_range: { key: k('a') } }],
  });
  await same('/v3/kv/txn', { compare: [{ key: k('a'), target: 'VALUE', result: 'EQUAL', value: k('nope') }], success: [{ request_put: { key: k('x'), value: k('1') } }], failure: [{ request_range: { key: k('t2') } }] });
  await same('/v3/kv/txn', { compare: [{ key: k('missing'), target: 'VALUE', result: 'NOT_EQUAL', value: k('x') }] });
  await same('/v3/kv/txn', {});
  await same('/v3/kv/txn', { compare: [{ key: k('a'), range_end: k('c'), target: 'VERSION', result: 'GREATER', version: '0' }], success: [{ request_range: { key: k('a'), range_end: k('c'), count_only: true } }] });
});

test('errors: compacted, future revision, empty key, too many ops, duplicate key, bad json, bad base64, wrong types', { skip }, async () => {
  await same('/v3/kv/put', { key: '', value: k('v') });
  await same('/v3/kv/put', {});
  await same('/v3/kv/range', '');
  await same('/v3/kv/put', { key: k('a'), value: k('v'), ignore_value: true });
  await same('/v3/kv/put', { key: k('nokey'), ignore_lease: true });
  await same('/v3/kv/txn', { compare: Array.from({ length: 129 }, () => ({ key: k('a') })) });
  await same('/v3/kv/txn', { success: [{ request_put: { key: k('d'), value: k('1') } }, { request_put: { key: k('d'), value: k('2') } }] });
  await same('/v3/kv/txn', { success: [{}] });
  for (const body of [
    '{"key":"YQ=="', '{"key":', '{', '[', '[]', '"x"', '5', 'null', '  ', 'nul', 'tru', '{"key" "YQ=="}', '{"key":"YQ==",}', '{key:1}',
    '{"key":"YQ==" "x":1}', '{"key":"\\x"}', '{"key":"\\u12"}', '{"key":"a\nb"}', '{"key":-}', '{"key":1.}', '{"key":1e}', '{"key":01}',
    '{"key":123}', '{"key":true}', '{"key":{}}', '{"key":[1,2]}', '{"key":[300]}', '{"key":"!!!"}', '{"key":"YQ"}', '{"key":"Y-_=="}', '{"key":"YQ==\\n"}',
    '{"key":"YWI=YQ=="}', '{"key":"YQ=","limit":"5"}', '{"key":"YQ==","limit":"abc"}', '{"key":"YQ==","limit":1.5}', '{"key":"YQ==","limit":"1e3"}',
    '{"key":"YQ==","limit":"99999999999999999999"}', '{"key":"YQ==","limit":true}', '{"key":"YQ==","limit":""}', '{"key":"YQ==","limit":" 1"}',
    '{"key":"YQ==","limit":"1 2"}', '{"key":"YQ==","sort_order":"FOO"}', '{"key":"YQ==","sort_order":"1"}', '{"key":"YQ==","sort_order":1.0}',
    '{"key":"YQ==","sort_order":[1]}', '{"key":"YQ==","serializable":"true"}', '{"key":"YQ==","serializable":1}', '{"key":"YQ==","keys_only":null}',
    '{"key":"YQ==","key":"Yg=="}', '{"key":"YQ=="} trailing', '{"key":"YQ=="}{"key":"Yg=="}',
  ]) {
    await same('/v3/kv/range', body);
  }
  await same('/v3/kv/txn', '{"compare":{}}');
  await same('/v3/kv/txn', '{"success":[{"request_put":5}]}');
  await same('/v3/kv/txn', '{"success":[{"request_put":{"key":"YQ==","lease":"x"}}]}');
  await same('/v3/lease/grant', '{"TTL":"-1"}');
  await same('/v3/cluster/member/add', '{"peerURLs":"http://x"}');
  await same('/v3/cluster/member/add', '{"peerURLs":[5]}');
  await same('/v3/cluster/member/remove', '{"ID":"-1"}');
  await same('/v3/watch', '{"create_request":{"key":5}}');
  await same('/v3/watch', '{"create_request":');
  await same('/v3/lease/keepalive', '{"ID":"x"}');
  // unknown paths and wrong methods
  await same('/v3/nope', '{}');
  await same('/v3/kv/range/', '{}');
  await same('/v3/maintenance/hashkv', '{}');
  // /v3/auth/status is etcd 3.5's AuthStatus, served here on purpose (test/auth/gateway.test.ts checks it)
  await same('/v3/kv/range', undefined, 'GET');
  await same('/v3/kv/put', '{}', 'PUT');
  await same('/v3/watch', undefined, 'GET');
  await same('/v3/kv/range', undefined, 'DELETE');
  await same('/v3/kv/range', undefined, 'OPTIONS');
  await same('/v3beta/kv/range', { key: k('a') });
});

test('compaction and its errors', { skip }, async () => {
  const compact = async (offset: number): Promise<void> => {
    const e = await request(sides.etcd!.base, '/v3/kv/compaction', JSON.stringify({ revision: String(baseOf('etcd') + offset), physical: true }));
    const o = await request(sides.ours!.base, '/v3/kv/compaction', JSON.stringify({ revision: String(baseOf('ours') + offset), physical: true }));
    assert.deepEqual(sides.ours!.norm.reply(o), sides.etcd!.norm.reply(e), `compact ${offset}\n etcd: ${e.body}\n ours: ${o.body}`);
  };
  await compact(3);
  await compact(3);
  await compact(2);
  await compact(100_000);
  const e = await request(sides.etcd!.base, '/v3/kv/range', JSON.stringify({ key: k('a'), revision: String(baseOf('etcd') + 1) }));
  const o = await request(sides.ours!.base, '/v3/kv/range', JSON.stringify({ key: k('a'), revision: String(baseOf('ours') + 1) }));
  assert.deepEqual(sides.ours!.norm.reply(o), sides.etcd!.norm.reply(e));
  assert.equal(o.status, 400);
  assert.match(o.body, /required revision has been compacted/);
});

test('leases: grant, timetolive, leases, keepalive stream, revoke and the /v3/kv/lease aliases', { skip }, async () => {
  await same('/v3/lease/grant', { TTL: '60', ID: '4242' });
  await same('/v3/lease/grant', { TTL: 60, ID: 4242 });
  await same('/v3/lease/grant', { TTL: '9000000001' });
  await same('/v3/lease/grant', { TTL: '30' }); // a generated ID, mapped to lease#2 on both sides
  await same('/v3/kv/put', { key: k('leased'), value: k('v'), lease: '4242' });
  await same('/v3/kv/put', { key: k('leased2'), value: k('v'), lease: '999' });
  await same('/v3/lease/timetolive', { ID: '4242', keys: true });
  await same('/v3/kv/lease/timetolive', { ID: '4242' });
  await same('/v3/lease/timetolive', { ID: '31337' });
  await same('/v3/lease/leases', {});
  await same('/v3/kv/lease/leases', '');
  await same('/v3/lease/keepalive', '{"ID":"4242"} {"ID":4242}');
  await same('/v3/lease/keepalive', '{"ID":"31337"}');
  await same('/v3/lease/keepalive', '');
  await same('/v3/lease/revoke', { ID: '4242' });
  await same('/v3/kv/lease/revoke', { ID: '4242' });
  await same('/v3/kv/range', { key: k('leased') });
});

test('cluster, maintenance, auth with auth disabled, lock and election errors', { skip }, async () => {
  await same('/v3/cluster/member/list', {});
  await same('/v3/cluster/member/remove', { ID: '12345' });
  await same('/v3/cluster/member/update', { ID: '12345', peerURLs: ['http://127.0.0.1:1'] });
  await same('/v3/cluster/member/promote', { ID: '12345' });
  await same('/v3/cluster/member/add', { peerURLs: ['not a url'] });
  await same('/v3/maintenance/status', {});
  await same('/v3/maintenance/alarm', {});
  await same('/v3/maintenance/alarm', { action: 'GET' });
  await same('/v3/maintenance/defragment', {});
  await same('/v3/maintenance/transfer-leadership', { targetID: '5' });
  for (const p of ['enable', 'disable', 'authenticate', 'user/get', 'user/list', 'user/delete', 'user/changepw', 'user/grant', 'user/revoke', 'role/get', 'role/list', 'role/delete', 'role/grant', 'role/revoke']) {
    await same(`/v3/auth/${p}`, {});
  }
  await same('/v3/auth/user/add', {});
  await same('/v3/auth/role/add', {});
  await same('/v3/auth/authenticate', { name: 'root', password: 'x' });
  await same('/v3/election/leader', { name: k('no-election') });
  await same('/v3/election/resign', {});
  await same('/v3/election/proclaim', { leader: { name: k('e'), key: k('e/1'), rev: '1', lease: '1' }, value: k('v') });
});

test('watch stream: created, history from start_revision with prev_kv, then a concurrent put', { skip }, async () => {
  const open = async (side: Side): Promise<unknown[]> => {
    const call = new StreamingCall(side.base, '/v3/watch', { 'Grpc-Metadata-hasleader': 'true' });
    call.send(JSON.stringify({ create_request: { key: k('w'), range_end: k('x'), prev_kv: true } }));
    try {
      await call.waitLines(1);
      await request(side.base, '/v3/kv/put', JSON.stringify({ key: k('w1'), value: k('a') }));
      await call.waitLines(2);
      await request(side.base, '/v3/kv/put', JSON.stringify({ key: k('w1'), value: k('b') }));
      await request(side.base, '/v3/kv/deleterange', JSON.stringify({ key: k('w1') }));
      const lines = await call.waitLines(4);
      return lines.map((l) => side.norm.value(JSON.parse(l)));
    } finally {
      call.close();
    }
  };
  const e = await open(sides.etcd!);
  const o = await open(sides.ours!);
  assert.deepEqual(o, e);
  // and from history: a new watcher from the revision of the first put sees all three events in one response
  const replay = async (side: Side): Promise<unknown[]> => {
    const current = Number((JSON.parse((await request(side.base, '/v3/kv/range', JSON.stringify({ key: k('a') }))).body) as { header: { revision: string } }).header.revision);
    const call = new StreamingCall(side.base, '/v3/watch');
    call.send(JSON.stringify({ create_request: { key: k('w1'), start_revision: String(current - 2), prev_kv: true } }));
    try {
      return (await call.waitLines(2)).map((l) => side.norm.value(JSON.parse(l)));
    } finally {
      call.close();
    }
  };
  assert.deepEqual(await replay(sides.ours!), await replay(sides.etcd!));
});
