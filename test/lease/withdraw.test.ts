// A Lock or Campaign that is still waiting when its client goes away withdraws its key, as etcd's do (their context
// is cancelled and Mutex.Lock / Election.Campaign delete their own key): otherwise the key would block every later
// waiter until its lease expired. Over the binary protocol (the connection closes) and the JSON gateway (the HTTP
// request is aborted).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Client } from '../../src/client/index.js';
import { startInProcess } from '../helpers/member.js';

const b = (s: string): Buffer => Buffer.from(s);
const prefixEnd = (p: string): Buffer => {
  const e = b(p);
  e[e.length - 1]!++;
  return e;
};

test('a waiting Lock or Campaign whose client disconnects withdraws its key; the next waiter gets through', { timeout: 60_000 }, async (t) => {
  const m = await startInProcess();
  t.after(() => m.close());
  const c = m.client();
  const count = async (prefix: string): Promise<number> => (await c.range({ key: b(prefix), range_end: prefixEnd(prefix), count_only: true })).count;
  const lease = async (): Promise<bigint> => BigInt((await c.call('LeaseGrant', { TTL: 60 } as never)).ID);

  for (const kind of ['Lock', 'Campaign'] as const) {
    const name = kind === 'Lock' ? 'lk/' : 'el/';
    const request = async (l: bigint): Promise<Record<string, unknown>> => (kind === 'Lock' ? { name: b(name.slice(0, -1)), lease: l } : { name: b(name.slice(0, -1)), lease: l, value: b('v') });
    // the holder
    await c.call(kind, (await request(await lease())) as never);
    // a waiter on a connection of its own, which then goes away
    const gone = new Client({ endpoints: [m.endpoint], requestTimeoutMs: 30_000 });
    const waiting = gone.call(kind, (await request(await lease())) as never).catch(() => 'ended');
    for (let i = 0; i < 200 && (await count(name)) < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await count(name), 2, `${kind}: the waiter's key is there while it waits`);
    gone.destroy();
    await waiting;
    for (let i = 0; i < 500 && (await count(name)) > 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await count(name), 1, `${kind}: the waiter that went away withdrew its key`);

    // the same over the JSON gateway: the HTTP request is aborted while it waits
    const port = m.member.httpAddresses[0]!.port;
    const body = JSON.stringify(kind === 'Lock' ? { name: b(name.slice(0, -1)).toString('base64'), lease: String(await lease()) } : { name: b(name.slice(0, -1)).toString('base64'), lease: String(await lease()), value: 'dg==' });
    const path = kind === 'Lock' ? '/v3/lock/lock' : '/v3/election/campaign';
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.end(body);
    for (let i = 0; i < 200 && (await count(name)) < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await count(name), 2, `${kind} over HTTP: the waiter's key is there while it waits`);
    req.destroy();
    for (let i = 0; i < 500 && (await count(name)) > 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await count(name), 1, `${kind} over HTTP: the aborted waiter withdrew its key`);
  }

  // a Lock on a free lock whose client is gone before the answer is not granted either (nothing was ahead to wait for)
  const port = m.member.httpAddresses[0]!.port;
  const free = http.request({ host: '127.0.0.1', port, path: '/v3/lock/lock', method: 'POST', headers: { 'content-type': 'application/json' } });
  free.on('error', () => {});
  free.end(JSON.stringify({ name: b('free').toString('base64'), lease: String(await lease()) }));
  free.destroy();
  const settled = async (): Promise<number> => {
    let last = -1;
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const n = await count('free/');
      if (n === 0 && last === 0) return 0;
      last = n;
    }
    return last;
  };
  assert.equal(await settled(), 0, 'a lock whose client went away before the answer holds no key');
});
