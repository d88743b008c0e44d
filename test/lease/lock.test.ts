// Lock safety on a 3-member cluster: clients on every member increment a counter under a Mutex (read, then write
// value + 1 with no txn guard); no update is lost and no two clients are ever inside at once. A holder whose lease
// expires loses the lock to the next waiter; a waiter whose lease expires does not get the lock.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, EtcdError, Mutex, Session } from '../../src/client/index.js';
import { TestCluster } from '../helpers/cluster.js';
import { sleep, waitUntil } from '../helpers/lease.js';

const b = (s: string): Buffer => Buffer.from(s);
let cluster: TestCluster;
const clients: Client[] = [];
function client(i: number): Client {
  const members = cluster.members;
  const c = new Client({ endpoints: [members[i % members.length]!.endpoint], dialTimeoutMs: 1000, requestTimeoutMs: 20_000 });
  clients.push(c);
  return c;
}

before(async () => {
  cluster = await TestCluster.start(3);
  await cluster.waitForLeader();
});
after(async () => {
  for (const c of clients) c.destroy();
  await cluster?.stop();
});

/** Each worker: `rounds` x (lock?, read counter, pause, write counter + 1, unlock?). Returns the final counter. */
async function hammer(key: string, workers: number, rounds: number, locked: boolean): Promise<{ final: number; maxInside: number }> {
  let inside = 0;
  let maxInside = 0;
  const c0 = client(0);
  await c0.put({ key: b(key), value: b('0') });
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const c = client(w);
      const session = await Session.create(c, { ttl: 10 });
      const mutex = new Mutex(session, `${key}-lock`);
      for (let i = 0; i < rounds; i++) {
        if (locked) await mutex.lock();
        inside++;
        maxInside = Math.max(maxInside, inside);
        const v = Number(Buffer.from((await c.get(key)).kvs[0]!.value).toString());
        await sleep(Math.random() * 4);
        await c.put({ key: b(key), value: b(String(v + 1)) });
        inside--;
        if (locked) await mutex.unlock();
      }
      await session.close();
    }),
  );
  const final = Number(Buffer.from((await c0.get(key)).kvs[0]!.value).toString());
  return { final, maxInside };
}

test('mutual exclusion: 6 clients on 3 members x 15 increments under the lock lose no update', async () => {
  const t0 = Date.now();
  const { final, maxInside } = await hammer('ctr/locked', 6, 15, true);
  assert.equal(maxInside, 1, 'two clients were inside the critical section at once');
  assert.equal(final, 90, 'lost updates under the lock');
  // the lock keys are gone: every holder unlocked and every session was closed
  assert.equal((await client(1).get('ctr/locked-lock/', { prefix: true })).count, 0);
  console.log(`# 90 locked increments in ${Date.now() - t0} ms`);
});

test('control: the same workload without the lock does lose updates (the check above can fail)', async () => {
  const { final, maxInside } = await hammer('ctr/unlocked', 6, 15, false);
  assert.ok(maxInside > 1);
  assert.ok(final < 90, `no update lost without a lock (${final}): the workload is not racy enough to test the lock`);
});

test('a holder whose lease expires loses the lock: the waiter gets it after the expiry, not before', async () => {
  const a = client(0);
  const bc = client(1);
  // the holder's lease is never kept alive (TTL 2 s, the minimum)
  const grantSent = Date.now();
  const lease = (await a.call('LeaseGrant', { TTL: 2 })).ID;
  const held = await a.call('Lock', { name: b('exp-lock'), lease });
  const waiter = new Mutex(await Session.create(bc, { ttl: 10 }), 'exp-lock');
  let acquiredAt = 0;
  const acquired = waiter.lock().then(() => (acquiredAt = Date.now()));
  await sleep(1000);
  assert.equal(acquiredAt, 0, 'the waiter got the lock while the holder\'s lease was alive');
  await acquired;
  assert.ok(acquiredAt - grantSent >= 2000, `acquired ${acquiredAt - grantSent} ms after the holder's grant: before its lease expired`);
  assert.ok(acquiredAt - grantSent <= 2000 + 500 + 2500, `acquired ${acquiredAt - grantSent} ms after the holder's grant`);
  assert.equal((await bc.get(Buffer.from(held.key))).count, 0, 'the holder\'s key is gone');
  assert.equal((await bc.get(Buffer.from(waiter.key!))).count, 1);
  // the old holder cannot take the lock again with its dead lease
  await assert.rejects(a.call('Lock', { name: b('exp-lock'), lease }), (e: unknown) => e instanceof EtcdError && /lease not found/.test(e.message));
  await waiter.unlock();
  await waiter.session.close();
});

test('a waiter whose lease expires while waiting does not get the lock', async () => {
  const holder = new Mutex(await Session.create(client(0), { ttl: 10 }), 'wexp-lock');
  await holder.lock();
  const w = client(2);
  const lease = (await w.call('LeaseGrant', { TTL: 2 })).ID; // never kept alive
  const waiting = w.call('Lock', { name: b('wexp-lock'), lease }).then(
    () => 'acquired',
    (e: Error) => e.message,
  );
  // the waiter's lease expires meanwhile
  await waitUntil("the waiter's lease to expire", async () => ((await w.call('LeaseTimeToLive', { ID: lease })).TTL === -1 ? true : undefined), 10_000);
  await holder.unlock();
  assert.equal(await waiting, 'mutex: session is expired');
  // the lock is free: a third client takes it at once
  const third = new Mutex(await Session.create(client(1), { ttl: 10 }), 'wexp-lock');
  await third.lock();
  await third.session.close();
  await holder.session.close();
});
