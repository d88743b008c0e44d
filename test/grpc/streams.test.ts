// etcd's gRPC streams against an etcd-ts member through @grpc/grpc-js: Watch (create with prev_kv and filters,
// client-chosen and assigned watch IDs, cancel, progress, compaction, fragments), LeaseKeepAlive (renewals, and the
// stream's end once the client half-closes) and Election.Observe (a server stream).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import grpc from '@grpc/grpc-js';
import { grpcSetup, unary, type EtcdClients } from '../helpers/grpc.js';

const b = (s: string): Buffer => Buffer.from(s);

interface KeyValue {
  key: Buffer;
  value: Buffer;
  mod_revision: string;
}
interface WatchResponse {
  header: { revision: string };
  watch_id?: string;
  created?: boolean;
  canceled?: boolean;
  compact_revision?: string;
  fragment?: boolean;
  events?: { type?: number; kv: KeyValue; prev_kv?: KeyValue }[];
}

/** A stream's responses, awaited one at a time. */
class Responses<T> {
  private readonly queue: T[] = [];
  private waiter: ((v: T) => void) | null = null;
  ended = false;
  error: grpc.ServiceError | null = null;
  private endWaiters: (() => void)[] = [];

  constructor(call: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>) {
    call.on('data', (r: T) => {
      if (this.waiter !== null) {
        const w = this.waiter;
        this.waiter = null;
        w(r);
      } else this.queue.push(r);
    });
    call.on('error', (e: grpc.ServiceError) => (this.error = e));
    call.on('close', () => {
      this.ended = true;
      for (const w of this.endWaiters) w();
    });
  }

  next(timeoutMs = 10_000): Promise<T> {
    const r = this.queue.shift();
    if (r !== undefined) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no response in time')), timeoutMs);
      this.waiter = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
    });
  }

  closed(timeoutMs = 10_000): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('stream did not end in time')), timeoutMs);
      this.endWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}


function openWatch(c: EtcdClients, metadata = new grpc.Metadata()): [grpc.ClientDuplexStream<unknown, WatchResponse>, Responses<WatchResponse>] {
  const call = (c.watch['Watch'] as (m: grpc.Metadata) => grpc.ClientDuplexStream<unknown, WatchResponse>).call(c.watch, metadata);
  return [call, new Responses(call)];
}

test('Watch: create, events with prev_kv, filters, chosen IDs, progress and cancel on one stream', async (t) => {
  const [, c] = await grpcSetup(t);
  const hasLeader = new grpc.Metadata();
  hasLeader.set('hasleader', 'true');
  const [call, responses] = openWatch(c, hasLeader);
  t.after(() => call.cancel());

  call.write({ create_request: { key: b('w/'), range_end: b('w0'), prev_kv: true } });
  const created = await responses.next();
  assert.equal(created.created, true);
  assert.equal(created.watch_id ?? '0', '0');
  call.write({ create_request: { key: b('w/'), range_end: b('w0'), filters: [0], watch_id: 7 } }); // NOPUT
  const created7 = await responses.next();
  assert.deepEqual([created7.created, created7.watch_id], [true, '7']);

  await unary(c.kv, 'Put', { key: b('w/a'), value: b('1') });
  await unary(c.kv, 'Put', { key: b('w/a'), value: b('2') });
  await unary(c.kv, 'DeleteRange', { key: b('w/a') });
  const seen: [string, string, string, string | undefined][] = [];
  while (seen.length < 4) {
    const r = await responses.next();
    for (const e of r.events ?? []) seen.push([r.watch_id ?? '0', e.type === 1 ? 'DELETE' : 'PUT', (e.kv.value ?? b('')).toString(), e.prev_kv?.value.toString()]);
  }
  assert.deepEqual(seen, [
    ['0', 'PUT', '1', undefined],
    ['0', 'PUT', '2', '1'],
    ['0', 'DELETE', '', '2'],
    ['7', 'DELETE', '', undefined],
  ]);

  call.write({ progress_request: {} });
  const progress = await responses.next();
  assert.equal(progress.watch_id, '-1');
  assert.deepEqual(progress.events ?? [], []);
  assert.equal(progress.header.revision, '4');

  call.write({ cancel_request: { watch_id: 7 } });
  const canceled = await responses.next();
  assert.deepEqual([canceled.watch_id, canceled.canceled], ['7', true]);
  await unary(c.kv, 'Put', { key: b('w/b'), value: b('3') });
  const after = await responses.next();
  assert.equal(after.watch_id ?? '0', '0', 'the cancelled watcher gets nothing more');
  assert.equal(after.events![0]!.kv.key.toString(), 'w/b');
});

test('Watch: a start revision below the compaction is cancelled with compact_revision; history is replayed', async (t) => {
  const [, c] = await grpcSetup(t);
  for (let i = 0; i < 5; i++) await unary(c.kv, 'Put', { key: b('h'), value: b(String(i)) });
  const [call, responses] = openWatch(c);
  t.after(() => call.cancel());
  call.write({ create_request: { key: b('h'), start_revision: 3 } });
  assert.equal((await responses.next()).created, true);
  const values: string[] = [];
  while (values.length < 4) for (const e of (await responses.next()).events ?? []) values.push(e.kv.value.toString());
  assert.deepEqual(values, ['1', '2', '3', '4']);

  await unary(c.kv, 'Compact', { revision: 5 });
  call.write({ create_request: { key: b('h'), start_revision: 2, watch_id: 3 } });
  const got: WatchResponse[] = [await responses.next()];
  if (got[0]!.canceled !== true) got.push(await responses.next());
  const cancel = got.find((r) => r.canceled === true)!;
  assert.deepEqual([cancel.watch_id, cancel.compact_revision], ['3', '5']);
});

test('Watch: a revision larger than the fragment size comes in fragments when asked', async (t) => {
  const [, c] = await grpcSetup(t, ['--max-request-bytes', '200000']);
  // --max-request-bytes + 512 KiB per response: ten 100 KB values deleted in one revision, their prev_kv included
  const value = Buffer.alloc(100_000, 0x61);
  for (let i = 0; i < 10; i++) await unary(c.kv, 'Put', { key: b(`f/${i}`), value });
  const [call, responses] = openWatch(c);
  t.after(() => call.cancel());
  call.write({ create_request: { key: b('f/'), range_end: b('f0'), prev_kv: true, fragment: true } });
  assert.equal((await responses.next()).created, true);
  await unary(c.kv, 'DeleteRange', { key: b('f/'), range_end: b('f0') });
  const parts: WatchResponse[] = [];
  do parts.push(await responses.next());
  while (parts[parts.length - 1]!.fragment === true);
  assert.ok(parts.length >= 2, `${parts.length} parts`);
  const events = parts.flatMap((p) => p.events ?? []);
  assert.equal(events.length, 10);
  assert.ok(events.every((e) => e.type === 1 && e.prev_kv!.value.length === 100_000));
});

test('LeaseKeepAlive: each renewal answered; the stream ends OK once the client half-closes', async (t) => {
  const [, c] = await grpcSetup(t);
  const lease = await unary<{ ID: string }>(c.lease, 'LeaseGrant', { TTL: 20 });
  const call = (c.lease['LeaseKeepAlive'] as () => grpc.ClientDuplexStream<unknown, { ID: string; TTL: string }>).call(c.lease);
  const responses = new Responses(call);
  call.write({ ID: lease.ID });
  call.write({ ID: lease.ID });
  for (let i = 0; i < 2; i++) {
    const r = await responses.next();
    assert.deepEqual([r.ID, r.TTL], [lease.ID, '20']);
  }
  call.write({ ID: '999' });
  const missing = await responses.next();
  assert.equal(missing.TTL ?? '0', '0', 'a lease that does not exist renews to TTL 0, as in etcd');
  call.end();
  await responses.closed();
  assert.equal(responses.error, null, `ended with ${responses.error?.code} ${responses.error?.details}`);
});

test('Election.Observe: the leader now and at each proclamation, as a server stream', async (t) => {
  const [, c] = await grpcSetup(t);
  const lease = await unary<{ ID: string }>(c.lease, 'LeaseGrant', { TTL: 20 });
  const won = await unary<{ leader: unknown }>(c.election, 'Campaign', { name: b('obs'), lease: lease.ID, value: b('one') });
  const call = (c.election['Observe'] as (r: unknown) => grpc.ClientReadableStream<{ kv: KeyValue }>).call(c.election, { name: b('obs') });
  t.after(() => call.cancel());
  const responses = new Responses(call);
  assert.equal((await responses.next()).kv.value.toString(), 'one');
  await unary(c.election, 'Proclaim', { leader: won.leader, value: b('two') });
  assert.equal((await responses.next()).kv.value.toString(), 'two');
});
