// etcd's require-leader streams on the JSON gateway (`Grpc-Metadata-hasleader: true`), on a 3-member cluster in this
// process with one member partitioned away from the other two:
//   - an open watch on that member ends, once it has been without a leader for three election timeouts, with
//     grpc-gateway's error chunk after the events it delivered (status 200: the headers went out with the first line);
//   - a new require-leader watch there is refused at once: status 503 and the same error chunk as the body;
//   - a watch without the header still opens there (etcd serves it from the member's own store).
// The shapes are what etcd 3.4.23 sends, seen on a real 3-member cluster with two members stopped (curl, chunked body):
//   open stream: 200, {"result":{...,"created":true}}\n{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}
//   new stream:  503, Content-Type application/json, body {"error":{"grpc_code":14,...}} (the chunk, not the unary form)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { b64, request, StreamingCall } from '../helpers/http-gateway.js';
import { isLeader, startInProcessCluster, until, type InProcessClusterMember } from '../helpers/in-process-cluster.js';

const NO_LEADER = { error: { grpc_code: 14, http_code: 503, message: 'etcdserver: no leader', http_status: 'Service Unavailable' } };
const HAS_LEADER = { 'Grpc-Metadata-hasleader': 'true' };

const baseOf = (m: InProcessClusterMember): string => `http://127.0.0.1:${m.member.httpAddresses[0]!.port}`;

test('hasleader: a member cut off from the others ends its open watch with "no leader" and refuses new ones', { timeout: 120_000 }, async (t) => {
  const ms = await startInProcessCluster(t, { heartbeatMs: 20, electionMs: 200 });
  await until('a leader', () => ms.some(isLeader) && ms.every((m) => m.member.server.leader !== 0n), 20_000, 10);
  const cut = ms.find((m) => !isLeader(m))!;
  const others = ms.filter((m) => m !== cut);
  const base = baseOf(cut);
  const hub = cut.member.server.watchHub;

  const call = new StreamingCall(base, '/v3/watch', HAS_LEADER);
  t.after(() => call.close());
  call.send(JSON.stringify({ create_request: { key: b64('h/'), range_end: b64('h0') } }));
  await call.waitLines(1);
  assert.equal(call.status, 200);
  assert.equal((JSON.parse(call.lines[0]!) as { result: { created?: boolean } }).result.created, true);
  const put = await request(base, '/v3/kv/put', JSON.stringify({ key: b64('h/1'), value: b64('v') }));
  assert.equal(put.status, 200, 'the member serves writes while it has a leader');
  await call.waitLines(2);
  assert.equal(hub.watchers, 1);

  // cut it off in both directions: it loses its leader and finds none
  cut.member.server.transport!.faults.isolate(others.map((m) => m.member.server.memberId));
  for (const m of others) m.member.server.transport!.faults.isolate([cut.member.server.memberId]);
  t.after(() => ms.forEach((m) => m.member.server.transport!.faults.clear()));
  await call.waitEnd(30_000);
  assert.equal(cut.member.server.leader, 0n, 'the stream ended because the member has no leader');
  assert.equal(call.lines.length, 3, `created, one event, the error: ${JSON.stringify(call.lines)}`);
  const events = (JSON.parse(call.lines[1]!) as { result: { events: { kv: { key: string } }[] } }).result.events;
  assert.deepEqual(events.map((e) => Buffer.from(e.kv.key, 'base64').toString()), ['h/1']);
  assert.deepEqual(JSON.parse(call.lines[2]!), NO_LEADER);
  await until('the watcher to be released', () => hub.watchers === 0, 10_000, 10);

  // a new require-leader watch is refused before any watcher is made
  const streamsBefore = hub.streamCount;
  const refused = await request(base, '/v3/watch', JSON.stringify({ create_request: { key: b64('h/') } }), 'POST', HAS_LEADER);
  assert.equal(refused.status, 503);
  assert.equal(refused.contentType, 'application/json');
  assert.deepEqual(JSON.parse(refused.body), NO_LEADER);
  assert.equal(hub.streamCount, streamsBefore, 'no stream was opened');
  assert.equal(hub.watchers, 0);

  // without the header the member still opens a watch
  const plain = new StreamingCall(base, '/v3/watch');
  t.after(() => plain.close());
  plain.send(JSON.stringify({ create_request: { key: b64('h/') } }));
  await plain.waitLines(1);
  assert.equal(plain.status, 200);
  assert.equal((JSON.parse(plain.lines[0]!) as { result: { created?: boolean } }).result.created, true);
  assert.equal(cut.member.server.leader, 0n, 'still without a leader');
});
