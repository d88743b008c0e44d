// A consumer that stops reading its socket while a write load runs (etcd issue 17529): the member must not buffer
// its events (its memory stays bounded), must not hold back the other watchers, and when the consumer reads again
// it gets every event, caught up from history, or, once compaction passed it, a cancel with compact_revision:
// never a silent gap.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startChild } from '../helpers/member.js';
import { rssBytes, peakRssBytes } from '../helpers/process.js';
import { assertWatch, History, Recorder, syncWatcher, waitFor } from '../helpers/watch-checker.js';
import { parseEndpoint, prefixRangeEnd, Client, type WatchCreateRequest, type WatchResponse } from '../../src/client/index.js';
import { encodeFrame, FrameDecoder, FrameKind, unpackr } from '../../src/proto/index.js';

const b = (s: string): Buffer => Buffer.from(s);
const MiB = 1024 * 1024;
const PUTS = 12_000;
const VALUE_BYTES = 2048;
const KEYS = 100;
const SLOW_WATCHERS = 8;
/** how much more anonymous memory the member may use under the load than before it */
const MEMORY_GROWTH_MAX = 200 * MiB;

/** Values are unique by their first bytes; tests keep only those (the test process would otherwise hold GBs). */
const SLIM = 16;
function slimValue(v: Uint8Array): Buffer {
  if (v.length !== 0 && v.length !== VALUE_BYTES) throw new Error(`value of ${v.length} bytes`);
  return Buffer.from(v.subarray(0, SLIM));
}
function slim(resp: WatchResponse): WatchResponse {
  for (const ev of resp.events) {
    ev.kv.value = slimValue(ev.kv.value);
    if (ev.prev_kv) ev.prev_kv.value = slimValue(ev.prev_kv.value);
  }
  return resp;
}

/** One watch stream on a raw socket whose reading the test controls. */
class SlowConsumer {
  readonly responses: WatchResponse[] = [];
  private readonly decoder: FrameDecoder;
  private constructor(readonly socket: net.Socket) {
    this.decoder = new FrameDecoder(
      1 << 30,
      {
        frame: (_kind, _id, body) => this.responses.push(slim(unpackr.unpack(body) as WatchResponse)),
        oversize: () => {
          throw new Error('oversize');
        },
      },
      (kind) => kind === FrameKind.StreamMessage || kind === FrameKind.StreamEnd,
    );
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', () => {});
  }

  /** Opens the stream and creates the watchers; `neverRead`: does not even read the created responses. */
  static async open(endpoint: string, creates: WatchCreateRequest[], neverRead = false): Promise<SlowConsumer> {
    const { host, port } = parseEndpoint(endpoint);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port }, () => resolve(s));
      s.once('error', reject);
    });
    const c = new SlowConsumer(socket);
    if (neverRead) socket.pause();
    socket.write(Buffer.concat(creates.map((create_request, i) => encodeFrame(FrameKind.StreamMessage, 1, i === 0 ? { method: 'Watch', request: { create_request } } : { request: { create_request } }))));
    if (neverRead) return c;
    await waitFor(() => c.responses.length >= creates.length, 5000, () => 'created responses');
    assert.ok(c.responses.every((r) => r.created && !r.canceled));
    return c;
  }

  requestProgress(): void {
    this.socket.write(encodeFrame(FrameKind.StreamMessage, 1, { request: { progress_request: {} } }));
  }

  of(id: number): WatchResponse[] {
    return this.responses.filter((r) => r.watch_id === id && !r.created);
  }
}

test('slow consumer: bounded member memory, others unaffected, and on resume every event or a compaction cancel', { timeout: 120_000 }, async (t) => {
  const member = await startChild();
  t.after(() => member.kill('SIGKILL'));
  const pid = member.child.pid!;
  const sample = (): number => {
    try {
      return rssBytes(pid).anon;
    } catch {
      return 0; // exited
    }
  };
  const writer = new Client({ endpoints: [member.endpoint] });
  const healthyClient = new Client({ endpoints: [member.endpoint] });
  t.after(() => {
    writer.destroy();
    healthyClient.destroy();
  });
  await writer.put({ key: b('warm'), value: Buffer.alloc(VALUE_BYTES) });
  const first = (await writer.status()).header.revision + 1;

  const prefix = { key: b('s/'), range_end: Buffer.from(prefixRangeEnd(b('s/'))) };
  const slowCreate = Array.from({ length: SLOW_WATCHERS }, (): WatchCreateRequest => ({ ...prefix, prev_kv: true }));
  const slowA = await SlowConsumer.open(member.endpoint, slowCreate); // resumes before the compaction
  const slowB = await SlowConsumer.open(member.endpoint, slowCreate); // resumes after it
  const healthy = [new Recorder(), new Recorder()];
  const slimmed = (rec: Recorder): Recorder['handlers'] => ({ ...rec.handlers, onEvents: (r) => rec.handlers.onEvents(slim(r)) });
  const hw = [
    healthyClient.watch({ key: 's/', prefix: true }, slimmed(healthy[0]!)),
    healthyClient.watch({ key: 's/k7', prev_kv: true }, slimmed(healthy[1]!)),
  ];
  await Promise.all(hw.map((w) => w.ready));
  slowA.socket.pause();
  slowB.socket.pause();

  await new Promise((r) => setTimeout(r, 300));
  const baseline = rssBytes(pid);
  let peakAnon = baseline.anon;
  const sampler = setInterval(() => (peakAnon = Math.max(peakAnon, sample())), 25);
  t.after(() => clearInterval(sampler));

  const writes: { rev: number; key: Buffer; value: Buffer }[] = [];
  const acked = new Map<number, number>();
  const t0 = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < PUTS) {
        const i = next++;
        const key = b(`s/k${i % KEYS}`);
        const value = Buffer.alloc(VALUE_BYTES, 'x');
        value.write(`${i}`.padStart(SLIM, '0'));
        const r = await writer.put({ key, value });
        acked.set(r.header.revision, Date.now());
        writes.push({ rev: r.header.revision, key, value: value.subarray(0, SLIM) });
      }
    }),
  );
  const loadMs = Date.now() - t0;
  const last = Math.max(...acked.keys());
  // the other watchers kept up: everything arrived, each event soon after its write was acknowledged
  const synced = Date.now();
  await Promise.all(hw.map((w, i) => syncWatcher(w, healthy[i]!, last, 10_000)));
  const syncMs = Date.now() - synced;
  peakAnon = Math.max(peakAnon, rssBytes(pid).anon);
  let maxLag = 0;
  for (const [rev, at] of acked) {
    const arrived = healthy[0]!.arrivals.get(rev);
    assert.ok(arrived !== undefined, `revision ${rev} reached the healthy watcher`);
    maxLag = Math.max(maxLag, arrived - at);
  }
  const growth = peakAnon - baseline.anon;
  t.diagnostic(
    `${PUTS} puts in ${loadMs} ms; healthy watcher: max lag ${maxLag} ms after the ack, synced ${syncMs} ms after the load; member anon memory ${(baseline.anon / MiB).toFixed(0)} MiB -> peak ${(peakAnon / MiB).toFixed(0)} MiB (+${(growth / MiB).toFixed(0)}), VmHWM ${(peakRssBytes(pid) / MiB).toFixed(0)} MiB; ${slowA.responses.length + slowB.responses.length} responses reached the stopped consumers`,
  );
  assert.ok(growth < MEMORY_GROWTH_MAX, `member memory grew by ${(growth / MiB).toFixed(0)} MiB while ${((PUTS * VALUE_BYTES * 2 * SLOW_WATCHERS * 2) / MiB).toFixed(0)} MiB of events were owed to stopped consumers`);
  assert.ok(maxLag < 3000, `the healthy watcher lagged ${maxLag} ms behind acknowledged writes`);

  const history = new History();
  await history.readTo(writer, first - 1);
  history.recordWrites(writes);
  for (let i = 0; i < 2; i++) {
    const spec = i === 0 ? { ...prefix, from: first } : { key: b('s/k7'), from: first, prev_kv: true };
    assertWatch(history, spec, healthy[i]!.responses, { through: last });
  }

  // slow A reads again: every event, caught up from history
  const resumed = Date.now();
  slowA.socket.resume();
  slowA.requestProgress();
  await waitFor(() => slowA.responses.some((r) => r.watch_id === -1 && r.header.revision >= last), 60_000, () => `slow A caught up (${slowA.responses.length} responses)`);
  t.diagnostic(`slow consumer A caught up in ${Date.now() - resumed} ms`);
  const progressAt = slowA.responses.findIndex((r) => r.watch_id === -1);
  for (let id = 0; id < SLOW_WATCHERS; id++) {
    const resps = slowA.responses.slice(0, progressAt + 1).filter((r) => r.watch_id === id || r.watch_id === -1);
    const r = assertWatch(history, { ...prefix, from: first, prev_kv: true }, resps, { through: last });
    assert.equal(r.events, PUTS);
  }

  // a consumer that never reads, with many watchers replaying the whole history: the catch-up rounds too stop
  // feeding a stream at the congestion limit, whatever the number of its watchers
  await new Promise((r) => setTimeout(r, 200));
  const beforeC = rssBytes(pid).anon;
  let peakC = beforeC;
  const samplerC = setInterval(() => (peakC = Math.max(peakC, sample())), 25);
  t.after(() => clearInterval(samplerC));
  const slowC = await SlowConsumer.open(member.endpoint, Array.from({ length: 48 }, () => ({ ...prefix, prev_kv: true, start_revision: first })), true);
  await new Promise((r) => setTimeout(r, 1500));
  clearInterval(samplerC);
  const growthC = peakC - beforeC;
  t.diagnostic(`never-reading consumer with 48 watchers replaying ${PUTS} revisions: member anon memory +${(growthC / MiB).toFixed(0)} MiB`);
  assert.ok(growthC < 64 * MiB, `member memory grew by ${(growthC / MiB).toFixed(0)} MiB for one stopped stream`);
  slowC.socket.destroy();

  // compaction passes slow B by: on resume it gets what was queued, then a cancel with compact_revision
  await writer.compact({ revision: last });
  slowB.socket.resume();
  await waitFor(() => [...Array(SLOW_WATCHERS).keys()].every((id) => slowB.of(id).some((r) => r.canceled)), 30_000, () => 'slow B cancelled');
  let delivered = 0;
  for (let id = 0; id < SLOW_WATCHERS; id++) {
    const resps = slowB.of(id);
    const r = assertWatch(history, { ...prefix, from: first, prev_kv: true }, resps);
    assert.equal(r.canceled?.compact_revision, last);
    assert.ok(r.events < PUTS, 'slow B was behind when the compaction came');
    delivered += r.events;
  }
  t.diagnostic(`slow consumer B: ${delivered} events delivered to its ${SLOW_WATCHERS} watchers before their compaction cancels`);
  slowA.socket.destroy();
  slowB.socket.destroy();
  clearInterval(sampler);
  const growthAll = peakAnon - baseline.anon;
  assert.ok(growthAll < MEMORY_GROWTH_MAX, `member memory grew by ${(growthAll / MiB).toFixed(0)} MiB during the catch-ups`);

});
