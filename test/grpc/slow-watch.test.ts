// A gRPC watch client that stops reading (its HTTP/2 stream paused: it grants no more window) while a writer puts
// large values under its prefix. The member holds a bounded amount for it: the watcher goes congested (stops taking
// live events) once its stream holds WATCH_PENDING_BYTES_MAX, and the stream is never reset for it. Others are served
// meanwhile, and when the client reads again it gets every event once, in order, caught up from history.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { WATCH_PENDING_BYTES_MAX } from '../../src/config/index.js';
import { Schema as S } from '../../src/proto/index.js';
import type { WatchSink } from '../../src/watch/index.js';
import { decodeMessage, encodeMessage } from '../../src/grpc/codec.js';
import { etcdClients, grpcFrame, startGrpcMember, unary } from '../helpers/grpc.js';
import { waitFor } from '../helpers/watch-checker.js';

const PUTS = 300;
const VALUE_BYTES = 100 * 1024;

test('a gRPC watch client that stops reading: bounded on the member, nothing lost when it reads again', { timeout: 180_000 }, async (t) => {
  const m = await startGrpcMember();
  const c = etcdClients(m.endpoint);
  t.after(async () => {
    c.close();
    await m.close();
  });
  const hub = m.member.member.server.watchHub;
  const sinks = (): WatchSink[] => [...(hub as unknown as { streams: Set<{ sink: WatchSink }> }).streams].map((s) => s.sink);

  const session = http2.connect(`http://${m.endpoint}`);
  session.on('error', () => {});
  t.after(() => session.destroy());
  const stream = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers' });
  const events: string[] = [];
  let created = false;
  let reset = false;
  let pending = Buffer.alloc(0);
  let received = 0;
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const length = pending.readUInt32BE(1);
      const r = decodeMessage(pending.subarray(5, 5 + length), S.WatchResponse) as { created?: boolean; events?: { kv: { key: Buffer; mod_revision: number } }[] };
      pending = pending.subarray(5 + length);
      if (r.created === true) created = true;
      for (const e of r.events ?? []) events.push(`${e.kv.mod_revision}:${e.kv.key.toString()}`);
    }
  });
  stream.on('close', () => (reset = stream.rstCode !== undefined && stream.rstCode !== 0));
  stream.write(grpcFrame(encodeMessage({ create_request: { key: Buffer.from('s/'), range_end: Buffer.from('s0') } }, S.WatchRequest)));
  await waitFor(() => created, 10_000, () => 'the watch to be created');
  stream.pause();

  const first = Number((await unary<{ header: { revision: string } }>(c.kv, 'Put', { key: Buffer.from('before'), value: Buffer.from('x') })).header.revision) + 1;
  let maxPending = 0;
  for (let i = 0; i < PUTS; i++) {
    await unary(c.kv, 'Put', { key: Buffer.from(`s/${String(i).padStart(4, '0')}`), value: Buffer.alloc(VALUE_BYTES, i % 251) });
    for (const s of sinks()) maxPending = Math.max(maxPending, s.pendingBytes());
  }
  assert.ok(PUTS * VALUE_BYTES > 3 * WATCH_PENDING_BYTES_MAX, 'the load is larger than the bound');
  t.diagnostic(`client took ${received} bytes before pausing; the member held at most ${maxPending} bytes; congestions ${hub.stats.congestions}`);
  assert.ok(maxPending <= WATCH_PENDING_BYTES_MAX + 4 * VALUE_BYTES, `the member held ${maxPending} bytes for the slow client`);
  assert.ok(hub.stats.congestions > 0 && hub.unsyncedWatchers === 1, 'the slow watcher stopped taking live events (congested)');
  assert.equal(reset, false, 'the watch stream was not reset');

  // other clients are served meanwhile
  await unary(c.kv, 'Put', { key: Buffer.from('other'), value: Buffer.from('v') });

  stream.resume();
  await waitFor(() => events.length >= PUTS || reset, 60_000, () => `${events.length} of ${PUTS} events (${hub.unsyncedWatchers} unsynced, pending ${sinks().map((s) => s.pendingBytes()).join()})`);
  const want = Array.from({ length: PUTS }, (_, i) => `${first + i}:s/${String(i).padStart(4, '0')}`);
  const at = want.findIndex((w, i) => events[i] !== w);
  assert.ok(at < 0 && events.length === PUTS, `every event once, in order: first difference at ${at}: got ${events.slice(Math.max(0, at - 2), at + 3).join(' ')}, want ${want.slice(Math.max(0, at - 2), at + 3).join(' ')}`);
});
