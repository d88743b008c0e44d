// Lease expiry on one member: a lease nobody keeps alive expires after its TTL (never before it, and not much after:
// the leader checks every 500 ms) and its keys go in one revision; keep-alives (raw stream, or a Session) extend it.
// The first test runs end to end on the system clock; the others on a second member whose clock (and the Sessions')
// is a ManualClock that the test advances, so they wait for no real TTL.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, type Client, type WatchResponse } from '../../src/client/index.js';
import { ManualClock } from '../../src/clock/index.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { keepAliveOnce } from '../helpers/lease.js';
import { advanceUntilSettled } from '../helpers/manual-time.js';

const b = (s: string): Buffer => Buffer.from(s);
let m: InProcessMember;
let c: Client;
/** the member on manual time, its client and its clock */
let mm: InProcessMember;
let mc: Client;
const clock = new ManualClock();
before(async () => {
  m = await startInProcess();
  c = m.client();
  mm = await startInProcess([], undefined, { clock });
  mc = mm.client();
});
after(async () => {
  await m?.close();
  await mm?.close();
});

/** Resolves with the DELETE events of the prefix (and when they arrived, by `now`), once `count` of them arrived. */
async function deletions(prefix: string, count: number, timeoutMs = 15_000, client: Client = c, now: () => number = Date.now): Promise<{ at: number; events: { key: string; rev: number }[] }> {
  const events: { key: string; rev: number }[] = [];
  let resolveAll!: (v: { at: number; events: { key: string; rev: number }[] }) => void;
  let rejectAll!: (e: Error) => void;
  const done = new Promise<{ at: number; events: { key: string; rev: number }[] }>((res, rej) => ((resolveAll = res), (rejectAll = rej)));
  const key = b(prefix);
  const stream = await client.openStream('Watch', { create_request: { key, range_end: Buffer.concat([key.subarray(0, -1), Buffer.from([key[key.length - 1]! + 1])]) } }, {
    message: (r: WatchResponse) => {
      for (const e of r.events ?? []) if (e.type === 1) events.push({ key: Buffer.from(e.kv.key).toString(), rev: e.kv.mod_revision });
      if (events.length >= count) resolveAll({ at: now(), events });
    },
    end: (err) => rejectAll(err ?? new Error('watch ended')),
  });
  const timer = setTimeout(() => rejectAll(new Error(`only ${events.length}/${count} deletions after ${timeoutMs} ms`)), timeoutMs);
  return done.finally(() => {
    clearTimeout(timer);
    stream.close();
  });
}

test('a lease not kept alive expires after its TTL, not before, and its keys are deleted in one revision', async () => {
  const sentAt = Date.now();
  const g = await c.call('LeaseGrant', { TTL: 3 });
  const grantedAt = Date.now();
  for (const k of ['ex/a', 'ex/b', 'ex/c']) await c.put({ key: b(k), value: b('v'), lease: g.ID });
  await c.put({ key: b('ex/plain'), value: b('v') });
  const gone = deletions('ex/', 3);
  const before = (await c.get('ex/a')).header.revision;
  const { at, events } = await gone;
  const elapsed = at - sentAt;
  assert.ok(elapsed >= 3000, `expired ${elapsed} ms after the grant was sent: before its TTL`);
  assert.ok(at - grantedAt <= 3000 + 500 + 1500, `expired ${at - grantedAt} ms after the grant: much later than its TTL`);
  assert.deepEqual(events.map((e) => e.key).sort(), ['ex/a', 'ex/b', 'ex/c']);
  assert.deepEqual(new Set(events.map((e) => e.rev)), new Set([before + 1]), 'all keys deleted at one revision, the next one');
  const r = await c.get('ex/', { prefix: true });
  assert.deepEqual(r.kvs.map((kv) => Buffer.from(kv.key).toString()), ['ex/plain']);
  assert.equal(r.header.revision, before + 1);
  assert.equal((await c.call('LeaseTimeToLive', { ID: g.ID })).TTL, -1, 'the lease is gone');
  assert.ok(!(await c.call('LeaseLeases', {})).leases.some((l) => l.ID === g.ID));
});

test('keep-alives extend a lease past its TTL; once they stop it expires a TTL after the last one', async () => {
  const g = await mc.call('LeaseGrant', { TTL: 2 });
  await mc.put({ key: b('ka/k'), value: b('v'), lease: g.ID });
  const until = clock.now() + 5000; // 2.5 x TTL
  let lastSent = 0;
  while (clock.now() < until) {
    lastSent = clock.now();
    const r = await keepAliveOnce(mc, g.ID);
    assert.equal(r.TTL, 2, 'a keep-alive answers the granted TTL');
    await clock.advance(400);
  }
  assert.equal((await mc.get('ka/k')).count, 1, 'the key outlived its TTL thanks to keep-alives');
  const t = await mc.call('LeaseTimeToLive', { ID: g.ID });
  assert.ok(t.TTL >= 1 && t.TTL <= 2, `timetolive right after a keep-alive: ${t.TTL}`);
  // no more keep-alives
  const gone = deletions('ka/', 1, undefined, mc, () => clock.now());
  const { at } = await advanceUntilSettled(clock, gone, 15_000);
  assert.ok(at - lastSent >= 2000, `expired ${at - lastSent} ms after the last keep-alive: before its TTL`);
  assert.ok(at - lastSent <= 2000 + 500 + 1500, `expired ${at - lastSent} ms after the last keep-alive: too late`);
});

test('1000 leases granted at once get distinct IDs and all expire promptly, each in its own revision', async () => {
  const N = 1000;
  const sentAt = clock.now();
  const ids = await Promise.all(Array.from({ length: N }, () => mc.call('LeaseGrant', { TTL: 2 }).then((g) => g.ID)));
  assert.equal(new Set(ids).size, N, 'generated IDs repeat');
  assert.ok(ids.every((id) => id > 0n));
  await Promise.all(ids.map((id, i) => mc.put({ key: b(`many/${String(i).padStart(4, '0')}`), value: b('v'), lease: id })));
  const before = (await mc.get('many/', { prefix: true, count_only: true })).header.revision;
  const gone = await advanceUntilSettled(clock, deletions('many/', N, 20_000, mc, () => clock.now()), 20_000);
  // revocations are not 16 per 500 ms check (32 a second) but 16 in flight at a time
  assert.ok(gone.at - sentAt >= 2000);
  assert.ok(gone.at - sentAt <= 2000 + 500 + 3000, `the last of ${N} leases expired ${gone.at - sentAt} ms after the grants`);
  assert.equal(new Set(gone.events.map((e) => e.rev)).size, N, 'each lease is revoked in its own revision');
  assert.equal(Math.max(...gone.events.map((e) => e.rev)), before + N);
});

test('Session: keeps its lease alive in the background; orphan() lets it expire; close() revokes at once', async () => {
  const s = await Session.create(mc, { ttl: 2, clock });
  await mc.put({ key: b('ss/a'), value: b('v'), lease: s.lease });
  await clock.advance(4500);
  assert.equal((await mc.get('ss/a')).count, 1, 'alive after 2 x TTL');
  assert.equal(s.isDone, false);
  const rev = (await mc.get('ss/a')).header.revision;
  await s.close();
  assert.equal(s.isDone, true);
  const after = await mc.get('ss/a');
  assert.equal(after.count, 0, 'close() revoked the lease and its key');
  assert.equal(after.header.revision, rev + 1);
  await s.done; // resolved

  const o = await Session.create(mc, { ttl: 2, clock });
  await mc.put({ key: b('ss/b'), value: b('v'), lease: o.lease });
  await clock.advance(1000);
  const orphanedAt = clock.now();
  o.orphan();
  const gone = await advanceUntilSettled(clock, deletions('ss/b', 1, undefined, mc, () => clock.now()), 15_000);
  assert.ok(gone.at - orphanedAt >= 500, 'the orphaned lease lives on until its TTL');
  // kept alive, it would never expire (renewed every TTL/3); the bound is loose because the manual clock goes on
  // advancing while the revocation is committed and its event delivered in real time (4.4 s once on a loaded machine)
  assert.ok(gone.at - orphanedAt <= 10_000, `orphaned lease expired ${gone.at - orphanedAt} ms later`);
});

test('Session: a lease revoked behind its back ends the session (done resolves)', async () => {
  const s = await Session.create(mc, { ttl: 3, clock });
  await mc.call('LeaseRevoke', { ID: s.lease });
  // the next renewal (every TTL/3) answers TTL 0
  await advanceUntilSettled(clock, Promise.race([s.done, clock.sleep(3000).then(() => assert.fail('session still running 3 s after its lease was revoked'))]), 3100);
  assert.equal(s.isDone, true);
  await s.close(); // no-op
});

test('Session.create with an existing lease keeps that lease alive', async () => {
  const g = await mc.call('LeaseGrant', { TTL: 2, ID: 0x5e55n });
  const s = await Session.create(mc, { lease: g.ID, clock });
  assert.equal(s.lease, 0x5e55n);
  assert.equal(s.ttl, 2);
  await clock.advance(3000);
  assert.ok((await mc.call('LeaseTimeToLive', { ID: g.ID })).TTL >= 1, 'kept alive');
  await s.close();
  assert.equal((await mc.call('LeaseTimeToLive', { ID: g.ID })).TTL, -1);
  await assert.rejects(Session.create(mc, { lease: 0x5e56n, clock }), /lease not found/);
});
