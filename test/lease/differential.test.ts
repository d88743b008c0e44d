// Leases, locks and elections against a real etcd 3.4 (JSON gateway) when installed: every request goes to both, and
// both outcomes (response, or error code and message) must be equal in the gateway's JSON shape (zero values
// omitted, unordered lists sorted), headers included. Without etcd the direct assertions still run on etcd-ts.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MethodName, RequestOf, ResponseOf } from '../../src/client/index.js';
import { b, keysOf, KvPair } from '../helpers/kv-differential.js';
import { clientSend, gatewayKeepAliveOnce, gatewaySend, keepAliveOnce, omitDefaults, toGatewayJson, type LeaseOutcome } from '../helpers/lease.js';

let kv: KvPair;
before(async () => {
  kv = await KvPair.start();
});
after(() => kv?.close());

const ERR = {
  exists: { code: 9, message: 'etcdserver: lease already exists' },
  tooLarge: { code: 11, message: 'etcdserver: too large lease TTL' },
  notFound: { code: 5, message: 'etcdserver: requested lease not found' },
  notLeader: { code: 2, message: 'election: not leader' },
  noLeader: { code: 2, message: 'election: no leader' },
  missingLeader: { code: 2, message: '"leader" field must be provided' },
} as const;

interface SendOptions {
  /** dotted paths of arrays whose order is unspecified */
  sort?: string[];
  /** fields to leave out of the comparison (generated lease IDs) */
  ignore?: string[];
}

function canonical(o: LeaseOutcome, opts: SendOptions): unknown {
  if (o.error !== undefined) return { error: o.error };
  const r = { ...(o.response as Record<string, unknown>) };
  for (const f of opts.ignore ?? []) delete r[f];
  return { response: omitDefaults(r, opts.sort ?? []) ?? {} };
}

/** Sends to both systems, asserts equal outcomes, returns etcd-ts's (typed response or error). */
async function send<M extends MethodName>(method: M, request: RequestOf<M>, opts: SendOptions = {}): Promise<{ response?: ResponseOf<M>; error?: { code: number; message: string } }> {
  kv.steps++;
  let ours: { response?: ResponseOf<M>; error?: { code: number; message: string } };
  const [, theirs] = await Promise.all([
    kv.client.call(method, request).then(
      (response) => (ours = { response }),
      (err: { code: number; message: string }) => (ours = { error: { code: err.code, message: err.message } }),
    ),
    kv.etcd === null ? Promise.resolve(null) : gatewaySend(kv.etcd.endpoint, method, request),
  ]);
  ours = ours!;
  if (theirs !== null) {
    const mine: LeaseOutcome = ours.error !== undefined ? { error: ours.error } : { response: toGatewayJson(ours.response) };
    assert.deepStrictEqual(canonical(mine, opts), canonical(theirs, opts), `etcd-ts (actual) differs from etcd (expected) on ${method} ${JSON.stringify(toGatewayJson(request))}`);
  }
  return ours;
}

async function ok<M extends MethodName>(method: M, request: RequestOf<M>, opts: SendOptions = {}): Promise<ResponseOf<M>> {
  const o = await send(method, request, opts);
  if (o.error !== undefined) assert.fail(`${method} failed: ${o.error.message} (code ${o.error.code})`);
  return o.response!;
}

async function fails<M extends MethodName>(method: M, request: RequestOf<M>, expected: { code: number; message: string }): Promise<void> {
  const o = await send(method, request);
  assert.deepEqual(o.error, expected, `${method} ${JSON.stringify(toGatewayJson(request))}`);
}

const timeToLive = (ID: bigint, keys = true) => ok('LeaseTimeToLive', { ID, keys }, { sort: ['keys'] });

test('grant: TTL below the minimum is raised to ceil(1.5 x election timeout) = 2 s; explicit IDs; generated IDs', async () => {
  assert.equal((await ok('LeaseGrant', { TTL: 1, ID: 101n })).TTL, 2, 'TTL 1 -> 2');
  assert.equal((await ok('LeaseGrant', { TTL: 0, ID: 102n })).TTL, 2, 'TTL 0 -> 2');
  assert.equal((await ok('LeaseGrant', { TTL: -5, ID: 103n })).TTL, 2, 'negative TTL -> 2');
  const g = await ok('LeaseGrant', { TTL: 3, ID: 104n });
  assert.equal(g.ID, 104n);
  assert.equal(g.TTL, 3, 'TTL above the minimum is kept');
  assert.equal((await ok('LeaseGrant', { TTL: 50, ID: -7n })).ID, -7n, 'a negative ID given explicitly is taken as is');
  // no ID: the member picks a positive one (the values differ between the systems)
  const gen = await ok('LeaseGrant', { TTL: 30 }, { ignore: ['ID'] });
  assert.ok(gen.ID > 0n, `generated ID ${gen.ID} is positive`);
  const gen2 = await ok('LeaseGrant', { TTL: 30, ID: 0n }, { ignore: ['ID'] });
  assert.ok(gen2.ID > 0n && gen2.ID !== gen.ID, 'ID 0 means "pick one"; IDs are distinct');
  for (const id of [101n, 102n, 103n, 104n]) await ok('LeaseRevoke', { ID: id });
  // clean up the generated ones on each side separately (their IDs differ)
  await kv.client.call('LeaseRevoke', { ID: gen.ID });
  await kv.client.call('LeaseRevoke', { ID: gen2.ID });
  if (kv.etcd !== null) {
    const theirs = (await gatewaySend(kv.etcd.endpoint, 'LeaseLeases', {})).response as { leases: { ID: string }[] };
    for (const l of theirs.leases) if (BigInt(l.ID) > 1_000_000n) await gatewaySend(kv.etcd.endpoint, 'LeaseRevoke', { ID: BigInt(l.ID) });
  }
});

test('grant: duplicate ID -> lease already exists; TTL > 9e9 -> too large; 9e9 itself is accepted', async () => {
  await ok('LeaseGrant', { TTL: 100, ID: 201n });
  await fails('LeaseGrant', { TTL: 100, ID: 201n }, ERR.exists);
  await fails('LeaseGrant', { TTL: 5, ID: 201n }, ERR.exists);
  await fails('LeaseGrant', { TTL: 9_000_000_001, ID: 202n }, ERR.tooLarge);
  await fails('LeaseGrant', { TTL: 9_000_000_001 }, ERR.tooLarge);
  assert.equal((await ok('LeaseGrant', { TTL: 9_000_000_000, ID: 203n })).TTL, 9_000_000_000);
  const t = await timeToLive(203n);
  assert.equal(t.grantedTTL, 9_000_000_000);
  assert.equal(t.TTL, 8_999_999_999, 'remaining whole seconds, rounded down as etcd does');
  await ok('LeaseRevoke', { ID: 201n });
  await ok('LeaseRevoke', { ID: 203n });
});

test('revoke: unknown lease -> not found; a revoked lease is gone', async () => {
  await fails('LeaseRevoke', { ID: 301n }, ERR.notFound);
  await ok('LeaseGrant', { TTL: 60, ID: 302n });
  const before = await kv.revision();
  const r = await ok('LeaseRevoke', { ID: 302n });
  assert.equal(r.header.revision, before, 'revoking a lease without keys does not bump the revision');
  await fails('LeaseRevoke', { ID: 302n }, ERR.notFound);
  const t = await timeToLive(302n);
  assert.equal(t.TTL, -1, 'timetolive of a revoked lease: TTL -1');
});

test('put / txn put with an unknown lease fail with lease not found, and change nothing', async () => {
  const before = await kv.revision();
  await fails('Put', { key: b('ul/k'), value: b('v'), lease: 401n }, ERR.notFound);
  await fails('Txn', { success: [{ request_put: { key: b('ul/k'), value: b('v'), lease: 401n } }] }, ERR.notFound);
  assert.equal(await kv.revision(), before);
  assert.equal((await kv.range({ key: b('ul/k') })).count, 0);
});

test('timetolive: remaining TTL (rounded down), granted TTL, attached keys only when asked; unknown -> TTL -1', async () => {
  await ok('LeaseGrant', { TTL: 100, ID: 501n });
  await kv.put({ key: b('ttl/b'), value: b('2'), lease: 501n });
  await kv.put({ key: b('ttl/a'), value: b('1'), lease: 501n });
  await kv.put({ key: b('ttl/c'), value: b('3') });
  const t = await timeToLive(501n);
  assert.equal(t.ID, 501n);
  assert.equal(t.grantedTTL, 100);
  assert.equal(t.TTL, 99, 'just granted: 99.9x s left, reported as 99');
  assert.deepEqual(t.keys.map((k) => Buffer.from(k).toString()).sort(), ['ttl/a', 'ttl/b']);
  const noKeys = await timeToLive(501n, false);
  assert.deepEqual(noKeys.keys, [], 'keys are listed only when asked');
  const unknown = await timeToLive(502n);
  assert.deepEqual({ TTL: unknown.TTL, grantedTTL: unknown.grantedTTL, keys: unknown.keys }, { TTL: -1, grantedTTL: 0, keys: [] });
  await ok('LeaseRevoke', { ID: 501n });
});

test('leases: lists every live lease', async () => {
  for (const id of [601n, 602n, 603n]) await ok('LeaseGrant', { TTL: 100, ID: id });
  await ok('LeaseRevoke', { ID: 602n });
  const l = await ok('LeaseLeases', {}, { sort: ['leases'] });
  assert.deepEqual(l.leases.map((x) => String(x.ID)).sort(), ['-7', '601', '603'], 'the lease with ID -7 from the first test is listed too');
  for (const id of [601n, 603n, -7n]) await ok('LeaseRevoke', { ID: id });
  assert.deepEqual((await ok('LeaseLeases', {})).leases, []);
});

test('revoke deletes every attached key in ONE revision, and only those keys', async () => {
  await ok('LeaseGrant', { TTL: 100, ID: 701n });
  await ok('LeaseGrant', { TTL: 100, ID: 702n });
  for (const k of ['rv/a', 'rv/b', 'rv/c', 'rv/d']) await kv.put({ key: b(k), value: b('x'), lease: 701n });
  await kv.put({ key: b('rv/other'), value: b('y'), lease: 702n });
  await kv.put({ key: b('rv/plain'), value: b('z') });
  await kv.txn({ success: [{ request_put: { key: b('rv/e'), value: b('t'), lease: 701n } }] });
  const before = await kv.revision();
  const r = await ok('LeaseRevoke', { ID: 701n });
  assert.equal(r.header.revision, before + 1, 'one revision for all five deletions');
  assert.deepEqual(keysOf((await kv.range({ key: b('rv/'), range_end: b('rv0') })).kvs), ['rv/other', 'rv/plain']);
  // every deletion happened at that revision: the keys exist at before, not at before + 1
  assert.equal((await kv.range({ key: b('rv/'), range_end: b('rv0'), revision: before })).count, 7);
  assert.equal((await kv.range({ key: b('rv/'), range_end: b('rv0'), revision: before + 1 })).count, 2);
  // and a watch from `before + 1` sees five DELETE events, all at that revision
  const events = await watchEvents(b('rv/'), b('rv0'), before + 1, 5);
  assert.deepEqual(
    events.map((e) => [e.type, Buffer.from(e.kv.key).toString(), e.kv.mod_revision]),
    ['rv/a', 'rv/b', 'rv/c', 'rv/d', 'rv/e'].map((k) => [1, k, before + 1]),
  );
  await ok('LeaseRevoke', { ID: 702n });
});

async function watchEvents(key: Buffer, rangeEnd: Buffer, from: number, count: number): Promise<{ type: number; kv: { key: Uint8Array; mod_revision: number } }[]> {
  const got: { type: number; kv: { key: Uint8Array; mod_revision: number } }[] = [];
  return new Promise((resolve, reject) => {
    let stream: { close(): void } | null = null;
    const timer = setTimeout(() => reject(new Error(`watch: ${got.length}/${count} events`)), 5000);
    kv.client
      .openStream('Watch', { create_request: { key, range_end: rangeEnd, start_revision: from } }, {
        message: (r) => {
          got.push(...(r.events ?? []));
          if (got.length >= count) {
            clearTimeout(timer);
            stream?.close();
            resolve(got);
          }
        },
        end: (err) => reject(err ?? new Error('watch ended')),
      })
      .then((s) => (stream = s), reject);
  });
}

test('attachments follow the key: moved to another lease, put without a lease, ignore_lease, delete', async () => {
  await ok('LeaseGrant', { TTL: 100, ID: 801n });
  await ok('LeaseGrant', { TTL: 100, ID: 802n });
  await kv.put({ key: b('mv/k'), value: b('1'), lease: 801n });
  await kv.put({ key: b('mv/j'), value: b('1'), lease: 801n });
  await kv.put({ key: b('mv/k'), value: b('2'), lease: 802n });
  assert.deepEqual((await timeToLive(801n)).keys.map((k) => Buffer.from(k).toString()), ['mv/j'], 'k left lease 801');
  assert.deepEqual((await timeToLive(802n)).keys.map((k) => Buffer.from(k).toString()), ['mv/k'], 'k joined lease 802');
  await kv.put({ key: b('mv/k'), value: b('3'), ignore_lease: true });
  assert.equal((await kv.range({ key: b('mv/k') })).kvs[0]!.lease, 802n, 'ignore_lease keeps the lease');
  await ok('LeaseRevoke', { ID: 801n });
  assert.equal((await kv.range({ key: b('mv/k') })).count, 1, 'revoking the old lease leaves the moved key');
  assert.equal((await kv.range({ key: b('mv/j') })).count, 0);
  await kv.put({ key: b('mv/k'), value: b('4') });
  assert.deepEqual((await timeToLive(802n)).keys, [], 'a put without a lease detaches the key');
  await kv.put({ key: b('mv/m'), value: b('1'), lease: 802n });
  await kv.deleteRange({ key: b('mv/m') });
  await kv.txn({ success: [{ request_put: { key: b('mv/m'), value: b('again') } }] });
  assert.deepEqual((await timeToLive(802n)).keys, [], 'a deleted (then recreated) key is no longer attached');
  const before = await kv.revision();
  assert.equal((await ok('LeaseRevoke', { ID: 802n })).header.revision, before, 'nothing left to delete: no new revision');
  assert.deepEqual(keysOf((await kv.range({ key: b('mv/'), range_end: b('mv0') })).kvs), ['mv/k', 'mv/m']);
});

test('keep-alive: renews to the granted TTL; an unknown lease answers TTL 0', async () => {
  await ok('LeaseGrant', { TTL: 40, ID: 901n });
  const ours = await keepAliveOnce(kv.client, 901n);
  assert.equal(ours.TTL, 40);
  assert.equal(ours.ID, 901n);
  const unknown = await keepAliveOnce(kv.client, 902n);
  assert.equal(unknown.TTL, 0);
  if (kv.etcd !== null) {
    const norm = (v: unknown): unknown => omitDefaults(toGatewayJson(v));
    assert.deepStrictEqual(norm(ours), omitDefaults(await gatewayKeepAliveOnce(kv.etcd.endpoint, 901n)));
    assert.deepStrictEqual(norm(unknown), omitDefaults(await gatewayKeepAliveOnce(kv.etcd.endpoint, 902n)));
  }
  await ok('LeaseRevoke', { ID: 901n });
});

test('lock: key <name>/<lease hex> on the lease; re-lock with the same lease returns the same key; unlock', async () => {
  await ok('LeaseGrant', { TTL: 100, ID: 0xabcn });
  const l = await ok('Lock', { name: b('lk'), lease: 0xabcn });
  assert.equal(Buffer.from(l.key).toString(), 'lk/abc');
  const again = await ok('Lock', { name: b('lk'), lease: 0xabcn });
  assert.equal(Buffer.from(again.key).toString(), 'lk/abc', 'lock is idempotent per lease');
  const held = await kv.range({ key: b('lk/abc') });
  assert.equal(held.kvs[0]!.lease, 0xabcn);
  await ok('Unlock', { key: l.key });
  assert.equal((await kv.range({ key: b('lk/abc') })).count, 0);
  await ok('Unlock', { key: b('lk/none') });
  await ok('LeaseRevoke', { ID: 0xabcn });
  // v3lock goes through etcd's own client: the lease error comes back as a plain error (gRPC Unknown)
  const before = await kv.revision();
  await fails('Lock', { name: b('lk'), lease: 0xabcn }, { code: 2, message: ERR.notFound.message });
  await fails('Campaign', { name: b('el-none'), lease: 0xabcn, value: b('v') }, { code: 2, message: ERR.notFound.message });
  assert.equal(await kv.revision(), before, 'nothing was written');
});

test('lock / election requests with keys the KV API refuses fail cleanly and the member keeps serving', async () => {
  const emptyKey = { code: 2, message: 'etcdserver: key is not provided' };
  // (lease 0 would make etcd's Proclaim/Resign grant and leak a 60 s lease of their own: not imitated)
  const bad = { name: b('e'), key: b(''), rev: 1, lease: 5n };
  await fails('Unlock', { key: b('') }, emptyKey);
  await fails('Resign', { leader: bad }, emptyKey);
  await fails('Proclaim', { leader: bad, value: b('v') }, emptyKey);
  // too long for etcd-ts's store (etcd has no such limit): an error, not a stopped member
  const long = Buffer.alloc(1968, 0x61);
  for (const call of [
    () => kv.client.call('Lock', { name: long, lease: 0n }),
    () => kv.client.call('Campaign', { name: long, lease: 5n, value: b('v') }),
    () => kv.client.call('Unlock', { key: Buffer.alloc(3000, 0x61) }),
    () => kv.client.call('Proclaim', { leader: { ...bad, key: Buffer.alloc(3000, 0x61) }, value: b('v') }),
  ]) {
    await assert.rejects(call(), { code: 2, message: 'etcdserver: key is too large' });
  }
  assert.deepEqual((await ok('LeaseLeases', {})).leases, [], 'a refused Lock grants no lease');
  await kv.put({ key: b('still/serving'), value: b('yes') });
});

test('election: leader / proclaim / resign / campaign errors and answers', async () => {
  await fails('Leader', { name: b('el') }, ERR.noLeader);
  await fails('Proclaim', {}, ERR.missingLeader);
  await fails('Resign', {}, ERR.missingLeader);
  await ok('LeaseGrant', { TTL: 100, ID: 0x1e1n });
  const c = await ok('Campaign', { name: b('el'), lease: 0x1e1n, value: b('v1') });
  assert.equal(Buffer.from(c.leader.key).toString(), 'el/1e1');
  assert.equal(c.leader.rev, c.header.revision);
  const leader = await ok('Leader', { name: b('el') });
  assert.equal(Buffer.from(leader.kv!.value).toString(), 'v1');
  await ok('Proclaim', { leader: c.leader, value: b('v2') });
  assert.equal(Buffer.from((await ok('Leader', { name: b('el') })).kv!.value).toString(), 'v2');
  await fails('Proclaim', { leader: { ...c.leader, rev: c.leader.rev + 1 }, value: b('v3') }, ERR.notLeader);
  await ok('Resign', { leader: c.leader });
  await fails('Leader', { name: b('el') }, ERR.noLeader);
  await fails('Proclaim', { leader: c.leader, value: b('v4') }, ERR.notLeader);
  await ok('Resign', { leader: c.leader });
  // campaign again with the same lease after resigning, then once more: same key, value replaced by proclaim
  const c2 = await ok('Campaign', { name: b('el'), lease: 0x1e1n, value: b('w1') });
  const c3 = await ok('Campaign', { name: b('el'), lease: 0x1e1n, value: b('w2') });
  assert.equal(c3.leader.rev, c2.leader.rev, 'a second campaign on the same lease keeps the candidacy');
  assert.equal(Buffer.from((await ok('Leader', { name: b('el') })).kv!.value).toString(), 'w2');
  await ok('LeaseRevoke', { ID: 0x1e1n });
  await fails('Leader', { name: b('el') }, ERR.noLeader);
});
