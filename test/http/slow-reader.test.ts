// A plain-HTTP watch client that stops reading its socket (POST /v3/watch over raw TCP) while a writer puts large
// values under its prefix. The member must not hold the events for it without bound: either the hub marks the
// watcher congested (the gateway's pending bytes stay under WATCH_PENDING_BYTES_MAX plus a batch), or the gateway
// gives up on the connection at HTTP_STREAM_PENDING_BYTES_MAX. Meanwhile other clients are served, and a client that
// reads again (if still connected) gets every event once, in order, caught up from history.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { HTTP_STREAM_PENDING_BYTES_MAX } from '../../src/config/index.js';
import type { WatchSink } from '../../src/watch/index.js';
import { b64, request } from '../helpers/http-gateway.js';
import { startInProcess } from '../helpers/member.js';
import { waitFor } from '../helpers/watch-checker.js';

const PUTS = 300;
const VALUE_BYTES = 100 * 1024;

/** A raw HTTP/1.1 client for one chunked POST whose response it decodes (headers, chunks, lines) as it reads. */
class RawStream {
  status = 0;
  /** (revision, key) of each event received, in order */
  readonly events: { rev: number; key: string }[] = [];
  created = false;
  ended = false;
  bytes = 0;
  private buf = Buffer.alloc(0);
  private headersDone = false;
  private text = '';

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.bytes += d.length;
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.on('close', () => (this.ended = true));
    socket.on('error', () => (this.ended = true));
  }

  static open(port: number, firstMessage: string): Promise<RawStream> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        const body = Buffer.from(firstMessage);
        socket.write(`POST /v3/watch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`);
        socket.write(body);
        socket.write('\r\n');
        resolve(new RawStream(socket));
      });
      socket.once('error', reject);
    });
  }

  private parse(): void {
    if (!this.headersDone) {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      this.status = Number(/^HTTP\/1\.1 (\d+)/.exec(this.buf.subarray(0, i).toString())?.[1]);
      this.headersDone = true;
      this.buf = this.buf.subarray(i + 4);
    }
    for (;;) {
      // uWS writes a chunk's closing CRLF in front of the next chunk's size line: take the data without waiting for it
      if (this.buf[0] === 0x0d && this.buf[1] === 0x0a) this.buf = this.buf.subarray(2);
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      const size = parseInt(this.buf.subarray(0, eol).toString(), 16);
      if (this.buf.length < eol + 2 + size) return;
      this.text += this.buf.subarray(eol + 2, eol + 2 + size).toString();
      this.buf = this.buf.subarray(eol + 2 + size);
      let nl;
      while ((nl = this.text.indexOf('\n')) >= 0) {
        this.line(this.text.slice(0, nl));
        this.text = this.text.slice(nl + 1);
      }
      if (size === 0) return;
    }
  }

  private line(l: string): void {
    const r = (JSON.parse(l) as { result?: { created?: boolean; events?: { kv: { key: string; mod_revision: string } }[] } }).result;
    if (r === undefined) throw new Error(`not a result: ${l.slice(0, 200)}`);
    if (r.created === true) this.created = true;
    for (const ev of r.events ?? []) this.events.push({ rev: Number(ev.kv.mod_revision), key: Buffer.from(ev.kv.key, 'base64').toString() });
  }
}

test('a plain-HTTP watch client that stops reading: bounded on the member, others served', { timeout: 180_000 }, async (t) => {
  const m = await startInProcess();
  t.after(() => m.close());
  const port = m.member.httpAddresses[0]!.port;
  const base = `http://127.0.0.1:${port}`;
  const hub = m.member.server.watchHub;
  const sinks = (): WatchSink[] => [...(hub as unknown as { streams: Set<{ sink: WatchSink }> }).streams].map((s) => s.sink);

  const slow = await RawStream.open(port, JSON.stringify({ create_request: { key: b64('s/'), range_end: b64('s0') } }));
  t.after(() => slow.socket.destroy());
  await waitFor(() => slow.created, 10_000, () => 'the watch to be created');
  assert.equal(slow.status, 200);
  slow.socket.pause();

  const writer = m.client();
  const first = (await writer.status()).header.revision + 1;
  let maxPending = 0;
  for (let i = 0; i < PUTS; i++) {
    await writer.put({ key: Buffer.from(`s/${String(i).padStart(4, '0')}`), value: Buffer.alloc(VALUE_BYTES, i % 251) });
    for (const s of sinks()) maxPending = Math.max(maxPending, s.pendingBytes());
  }
  const last = (await writer.status()).header.revision;
  // the JSON the watch would carry (base64 values) is several times the bound: the member could not have held it all
  const produced = PUTS * Math.ceil(VALUE_BYTES / 3) * 4;
  assert.ok(produced > 2 * HTTP_STREAM_PENDING_BYTES_MAX, 'the load is larger than the bound');
  const closed = hub.streamCount === 0;
  t.diagnostic(`client read ${slow.bytes} bytes before pausing; member held at most ${maxPending} bytes; ${closed ? 'closed by the member' : `congestions ${hub.stats.congestions}`}`);
  assert.ok(maxPending <= HTTP_STREAM_PENDING_BYTES_MAX, `the member held ${maxPending} bytes for the slow client (bound ${HTTP_STREAM_PENDING_BYTES_MAX})`);
  if (!closed) assert.ok(hub.stats.congestions > 0 && hub.unsyncedWatchers === 1, 'the slow watcher stopped taking live events (congested)');

  // other clients are served
  const put = await request(base, '/v3/kv/put', JSON.stringify({ key: b64('other'), value: b64('v') }));
  assert.equal(put.status, 200);
  const range = await request(base, '/v3/kv/range', JSON.stringify({ key: b64('other') }));
  assert.equal(range.status, 200);
  assert.equal(Buffer.from((JSON.parse(range.body) as { kvs: { value: string }[] }).kvs[0]!.value, 'base64').toString(), 'v');

  // Reading again: every event once, in order (or the connection the member closed ends). This found two bugs: a
  // paused uWS response gets no writable events (the stream stalled for good), and a catch-up round not bounded in
  // bytes put ~37 MiB into the writer at once (past HTTP_STREAM_PENDING_BYTES_MAX: the stream was closed).
  await t.test('the slow client reads again: every event once, in order', async () => {
    slow.socket.resume();
    await waitFor(() => slow.ended || slow.events.length >= PUTS, 30_000, () => `${slow.events.length} of ${PUTS} events read (${slow.bytes} bytes; member: ${hub.streamCount} streams, pending ${sinks().map((s) => s.pendingBytes()).join()}, ${hub.unsyncedWatchers} unsynced, ${hub.stats.catchUpRounds} catch-up rounds)`);
    if (closed) {
      assert.ok(slow.ended, 'the connection the member gave up on ends');
      return;
    }
    const want = Array.from({ length: PUTS }, (_, i) => `${first + i}:s/${String(i).padStart(4, '0')}`);
    const got = slow.events.map((e) => `${e.rev}:${e.key}`);
    const at = want.findIndex((w, i) => got[i] !== w);
    assert.ok(at < 0 && got.length === PUTS, `every event once, in order: first difference at ${at}: got ${got.slice(Math.max(0, at - 2), at + 3).join(' ')}, want ${want.slice(Math.max(0, at - 2), at + 3).join(' ')} (${got.length} events${slow.ended ? ', connection closed' : ''})`);
    assert.equal(first + PUTS - 1, last);
  });
});
