// The `etcd3` npm client (grpc-js underneath) unmodified against etcd-ts's gRPC port: KV, txn, a lease kept alive
// past its TTL, watch with cancel, a lock that excludes, an election with a second campaigner, and STM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { startGrpcMember } from '../helpers/grpc.js';

test('etcd3 client: KV, txn, lease keep-alive, watch and cancel, lock, election and STM', { timeout: 60_000 }, async (t) => {
  const m = await startGrpcMember();
  const client = new Etcd3({ hosts: m.endpoint });
  t.after(async () => {
    client.close();
    await m.close();
  });

  await client.put('a').value('1');
  assert.equal(await client.get('a').string(), '1');
  await client.put('p/1').value('x');
  await client.put('p/2').value('y');
  assert.deepEqual(await client.getAll().prefix('p/').strings(), { 'p/1': 'x', 'p/2': 'y' });
  assert.equal(await client.getAll().prefix('p/').count(), 2);
  assert.equal(await client.delete().key('p/1').then((r) => r.deleted), '1');

  const txn = await client.if('a', 'Value', '==', '1').then(client.put('a').value('2')).else(client.put('a').value('3')).commit();
  assert.equal(txn.succeeded, true);
  assert.equal(await client.get('a').string(), '2');

  // TTL 2 s, kept alive for 4 s
  const lease = client.lease(2, { autoKeepAlive: true });
  await lease.put('leased').value('x');
  let renewals = 0;
  lease.on('keepaliveSucceeded', () => renewals++);
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal(await client.get('leased').string(), 'x', 'kept alive past its TTL');
  assert.ok(renewals >= 2, `${renewals} renewals`);
  await lease.revoke();
  assert.equal(await client.get('leased').string(), null);

  const watcher = await client.watch().prefix('w/').withPreviousKV().create();
  const events: string[] = [];
  watcher.on('put', (kv, prev) => events.push(`put ${kv.key.toString()}=${kv.value.toString()} prev=${prev?.value.toString() ?? ''}`));
  watcher.on('delete', (kv) => events.push(`delete ${kv.key.toString()}`));
  await client.put('w/1').value('a');
  await client.put('w/1').value('b');
  await client.delete().key('w/1');
  const deadline = Date.now() + 5000;
  while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(events, ['put w/1=a prev=', 'put w/1=b prev=a', 'delete w/1']);
  await watcher.cancel();
  await client.put('w/2').value('after cancel');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(events.length, 3, 'nothing after cancel');

  // etcd3's lock is a txn on the key's create revision: a second acquire while it is held fails at once
  const lock = client.lock('the-lock');
  await lock.acquire();
  await assert.rejects(client.lock('the-lock').acquire(), /Failed to acquire a lock on the-lock/);
  await lock.release();
  const second = client.lock('the-lock');
  await second.acquire();
  await second.release();

  const election = client.election('e');
  const first = election.campaign('one');
  await new Promise<void>((resolve, reject) => {
    first.on('elected', () => resolve());
    first.on('error', reject);
  });
  assert.equal(await election.leader(), 'one');
  const observer = await election.observe();
  const seen: string[] = [];
  observer.on('change', (v) => seen.push(String(v)));
  const other = client.election('e').campaign('two');
  await first.resign();
  await new Promise<void>((resolve, reject) => {
    other.on('elected', () => resolve());
    other.on('error', reject);
  });
  assert.equal(await election.leader(), 'two');
  const until = Date.now() + 5000;
  while (!seen.includes('two') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.ok(seen.includes('two'), `observed ${JSON.stringify(seen)}`);
  await observer.cancel();
  await other.resign();

  await client.put('counter').value('0');
  await Promise.all(
    [1, 2, 3].map(() =>
      client.stm({ retries: 20 }).transact(async (tx) => {
        const v = Number(await tx.get('counter').string());
        await tx.put('counter').value(String(v + 1));
      }),
    ),
  );
  assert.equal(await client.get('counter').string(), '3');
});
