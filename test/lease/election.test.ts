// Elections through the Election recipe on one member: the first candidate leads at once, the second waits until the
// first resigns, the third until the second's lease expires; leader() reports the leader's key-value; proclaim by a
// non-leader fails with 'election: not leader'; observe streams every change of leader or value.
// The member and the Sessions run on a ManualClock the test advances: the lease expiry takes no real time.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Election, EtcdError, Session, type Client } from '../../src/client/index.js';
import { ManualClock } from '../../src/clock/index.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { kvText, waitUntil } from '../helpers/lease.js';
import { advanceUntilSettled } from '../helpers/manual-time.js';

let m: InProcessMember;
let c: Client;
const clock = new ManualClock();
before(async () => {
  m = await startInProcess([], undefined, { clock });
  c = m.client();
});
after(() => m?.close());

const notLeader = (e: unknown): boolean => e instanceof EtcdError && e.message === 'election: not leader';
const hex = (id: bigint): string => BigInt.asUintN(64, id).toString(16);

test('campaign, proclaim, resign, lease expiry, and observe', async () => {
  const [s1, s2, s3, so] = await Promise.all([
    Session.create(c, { ttl: 10, clock }),
    Session.create(c, { ttl: 2, clock }),
    Session.create(c, { ttl: 10, clock }),
    Session.create(c, { ttl: 10, clock }),
  ]);
  const seen: string[] = [];
  const observer = new Election(so, 'job').observe((kv) => seen.push(kvText(kv)!));
  await assert.rejects(new Election(so, 'job').leader(), /election: no leader/);

  const e1 = new Election(s1, 'job');
  await e1.campaign('one');
  assert.equal(Buffer.from(e1.key!.key).toString(), `job/${hex(s1.lease)}`);
  assert.equal(kvText(await e1.leader()), `job/${hex(s1.lease)}=one`);

  const e2 = new Election(s2, 'job');
  let e2LeadsAt = 0;
  const e2Campaign = e2.campaign('two').then(() => (e2LeadsAt = clock.now()));
  await clock.advance(500);
  assert.equal(e2LeadsAt, 0, 'the second candidate leads while the first still does');
  await assert.rejects(e2.proclaim('nope'), notLeader, 'a waiting candidate is not the leader');

  await e1.proclaim('one-b');
  assert.equal(kvText(await e2.leader()), `job/${hex(s1.lease)}=one-b`, 'proclaim changes the value, not the leader');

  const resignedAt = clock.now();
  const oldKey = e1.key!;
  await e1.resign();
  await advanceUntilSettled(clock, e2Campaign, 5000);
  assert.ok(e2LeadsAt >= resignedAt);
  assert.equal(kvText(await e1.leader()), `job/${hex(s2.lease)}=two`);
  // the first candidate's key no longer leads: proclaiming with it fails, through the recipe and the raw RPC
  await assert.rejects(e1.proclaim('stale'), notLeader);
  await assert.rejects(c.call('Proclaim', { leader: oldKey, value: Buffer.from('stale') }), (e: unknown) => notLeader(e) && (e as EtcdError).code === 2);
  assert.equal(kvText(await e1.leader()), `job/${hex(s2.lease)}=two`, 'a failed proclaim changes nothing');

  // the third candidate waits until the second's lease expires (its session stops renewing)
  const e3 = new Election(s3, 'job');
  let e3LeadsAt = 0;
  const e3Campaign = e3.campaign('three').then(() => (e3LeadsAt = clock.now()));
  await clock.advance(300);
  const orphanedAt = clock.now();
  s2.orphan();
  await advanceUntilSettled(clock, e3Campaign, 10_000);
  assert.ok(e3LeadsAt - orphanedAt >= 700, `third candidate led ${e3LeadsAt - orphanedAt} ms after the second stopped renewing its 2 s lease`);
  assert.ok(e3LeadsAt - orphanedAt <= 2000 + 500 + 1500, `third candidate led ${e3LeadsAt - orphanedAt} ms after the orphan`);
  assert.equal(kvText(await e3.leader()), `job/${hex(s3.lease)}=three`);
  await assert.rejects(e2.proclaim('gone'), notLeader, 'a candidate whose lease expired is not the leader');

  await waitUntil('observe caught up', async () => (seen.length >= 4 ? true : undefined), 5000);
  assert.deepEqual(seen, [`job/${hex(s1.lease)}=one`, `job/${hex(s1.lease)}=one-b`, `job/${hex(s2.lease)}=two`, `job/${hex(s3.lease)}=three`]);

  await s3.close();
  await assert.rejects(e3.leader(), /election: no leader/);
  observer.close();
  await Promise.all([s1.close(), so.close()]);
});

test('campaign with a session whose lease is gone fails; resign without leading is a no-op', async () => {
  const s = await Session.create(c, { ttl: 5, clock });
  const e = new Election(s, 'job2');
  await e.resign();
  await c.call('LeaseRevoke', { ID: s.lease });
  await assert.rejects(e.campaign('x'), /lease not found|session is expired/);
  await s.close();
});
