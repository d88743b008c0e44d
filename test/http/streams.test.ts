// The gateway's HTTP streams on an etcd-ts member: a watch over a chunked POST delivers events of concurrent puts
// and takes further requests (progress, cancel) on the still-open request body; the keep-alive stream answers each
// renewal and ends after the body does; a client that goes away releases its watchers; oversized bodies are
// refused from Content-Length or as soon as a streamed body passes the limit.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { gatewayBodyBytesMax } from '../../src/config/index.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { b64, request, StreamingCall } from '../helpers/http-gateway.js';

let member: InProcessMember;
let base: string;

before(async () => {
  member = await startInProcess(['--max-request-bytes', '100000']);
  base = `http://127.0.0.1:${member.member.httpAddresses[0]!.port}`;
});
after(async () => {
  await member.close();
});

const parse = (line: string): { result?: Record<string, unknown>; error?: Record<string, unknown> } => JSON.parse(line) as never;

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('watch over HTTP: events of concurrent puts, then progress and cancel on the open body', async (t) => {
  const call = new StreamingCall(base, '/v3/watch');
  t.after(() => call.close());
  call.send(JSON.stringify({ create_request: { key: b64('s/'), range_end: b64('s0'), prev_kv: true } }));
  const [created] = await call.waitLines(1);
  assert.equal(call.status, 200);
  assert.equal(parse(created!).result!['created'], true);
  assert.equal(parse(created!).result!['watch_id'], undefined, 'watch id 0 is omitted');

  await Promise.all([1, 2, 3].map((i) => request(base, '/v3/kv/put', JSON.stringify({ key: b64(`s/${i}`), value: b64(`v${i}`) }))));
  await request(base, '/v3/kv/put', JSON.stringify({ key: b64('s/1'), value: b64('again') }));
  type Ev = { kv: { key: string; value: string }; prev_kv?: { value: string } };
  const eventsIn = (lines: string[]): Ev[] => lines.slice(1).flatMap((l) => (parse(l).result!['events'] ?? []) as Ev[]);
  // one response per applied batch of revisions: wait for the four events, however they are grouped
  await until(() => eventsIn(call.lines).length >= 4, 'four events');
  const events = eventsIn(call.lines);
  const seen = call.lines.length;
  assert.equal(events.length, 4);
  assert.deepEqual(events.map((e) => Buffer.from(e.kv.key, 'base64').toString()).sort(), ['s/1', 's/1', 's/2', 's/3']);
  const last = events[3]!;
  assert.equal(Buffer.from(last.kv.value, 'base64').toString(), 'again');
  assert.equal(Buffer.from(last.prev_kv!.value, 'base64').toString(), 'v1');

  call.send('\n{"progress_request":{}}\n');
  const [progress] = (await call.waitLines(seen + 1)).slice(seen);
  const p = parse(progress!).result!;
  assert.equal(p['events'], undefined);
  assert.ok((p['header'] as Record<string, unknown>)['revision']);

  call.send('{"cancel_request":{"watch_id":"0"}}');
  const [canceled] = (await call.waitLines(seen + 2)).slice(seen + 1);
  assert.equal(parse(canceled!).result!['canceled'], true);
  await request(base, '/v3/kv/put', JSON.stringify({ key: b64('s/4'), value: b64('x') }));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(call.lines.length, seen + 2, 'no events after the cancel');
  call.close();
  await until(() => member.member.server.watchHub.watchers === 0, 'the watcher to be released');
});

test('a watch whose client goes away releases its watcher', async () => {
  const hub = member.member.server.watchHub;
  await until(() => hub.watchers === 0, 'no watchers');
  const before = hub.watchers;
  const call = new StreamingCall(base, '/v3/watch');
  call.send(JSON.stringify({ create_request: { key: b64('gone') } }));
  call.send(JSON.stringify({ create_request: { key: b64('gone2') } }));
  await call.waitLines(2);
  assert.equal(hub.watchers, before + 2);
  call.close();
  await until(() => hub.watchers === before, 'the watcher to be released');
});

test('keep-alive stream: one answer per renewal, unknown lease gets no TTL, the response ends after the body', async () => {
  const grant = JSON.parse((await request(base, '/v3/lease/grant', JSON.stringify({ TTL: '30' }))).body) as { ID: string };
  const call = new StreamingCall(base, '/v3/lease/keepalive');
  call.send(JSON.stringify({ ID: grant.ID }));
  const [first] = await call.waitLines(1);
  assert.deepEqual({ ID: parse(first!).result!['ID'], TTL: parse(first!).result!['TTL'] }, { ID: grant.ID, TTL: '30' });
  call.send(` {"ID":"${grant.ID}"}\n{"ID":"12345"}`);
  call.endBody();
  await call.waitEnd();
  const answers = call.lines.map((l) => parse(l).result!);
  assert.equal(answers.length, 3);
  assert.deepEqual(answers.map((a) => a['TTL']).sort(), ['30', '30', undefined].sort());
});

test('bodies over the limit are refused from Content-Length and while streaming', async () => {
  const max = gatewayBodyBytesMax({ requestBytesMax: 100_000 });
  // Content-Length alone: the body is never read
  const declared = await new Promise<string>((resolve, reject) => {
    const s = net.connect(member.member.httpAddresses[0]!.port, '127.0.0.1', () => {
      s.write(`POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: ${max + 1}\r\n\r\n{"key":`);
    });
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
  assert.match(declared, /^HTTP\/1.1 429 /);
  assert.match(declared, /grpc: received message larger than max/);

  // a streamed body that passes the limit
  const call = new StreamingCall(base, '/v3/kv/put');
  call.send('{"key":"YQ==","value":"');
  const chunk = 'A'.repeat(64 * 1024);
  for (let sent = 0; sent <= max && !call.ended; sent += chunk.length) call.send(chunk);
  await call.waitEnd();
  assert.equal(call.status, 429);

  // a request whose protobuf form passes --max-request-bytes: etcd's `request is too large`
  const big = await request(base, '/v3/kv/put', JSON.stringify({ key: b64('big'), value: Buffer.alloc(100_500).toString('base64') }));
  assert.equal(big.status, 400);
  assert.equal(JSON.parse(big.body).error, 'etcdserver: request is too large');
  // and one past the gRPC receive limit
  const huge = await request(base, '/v3/kv/put', JSON.stringify({ key: b64('big'), value: Buffer.alloc(700_000).toString('base64') }));
  assert.equal(huge.status, 429);
  assert.equal(JSON.parse(huge.body).error, `grpc: received message larger than max (700009 vs. ${100_000 + 512 * 1024})`);

  // the member still serves
  const ok = await request(base, '/v3/kv/put', JSON.stringify({ key: b64('after'), value: b64('v') }));
  assert.equal(ok.status, 200);
});
