// etcd's auth on the JSON gateway and the WebSocket streams: the raw token in the `Authorization` header (as etcd's
// gateway takes it), a WebSocket's token at connect (the upgrade's Authorization header, or a `token` query parameter
// for browsers), etcd's error bodies and HTTP statuses (seen on etcd 3.4.23: code 3 -> 400, 7 -> 403, 16 -> 401, and
// the unmapped `auth: ...` texts of Defragment with code 2 -> 500), etcd 3.5's /v3/auth/status, and the 400 etcd
// answers a client certificate CN on the gateway while auth is enabled.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type uWS from 'uWebSockets.js';
import WebSocket from 'ws';
import { Client } from '../../src/client/index.js';
import { refuseGatewayCommonName } from '../../src/http/gateway/http.js';
import type { EtcdServer } from '../../src/server/index.js';
import { setUpAuth } from '../helpers/auth.js';
import { b64, request, StreamingCall } from '../helpers/http-gateway.js';
import { httpBase } from '../helpers/http.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';

let m: InProcessMember;
let base: string;
let rootToken: string;
let aliceToken: string;

async function post(path: string, body: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await request(base, path, JSON.stringify(body), 'POST', token === undefined ? {} : { Authorization: token });
  return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
}

const refusal = (message: string, code: number): Record<string, unknown> => ({ error: message, message, code });

before(async () => {
  m = await startInProcess(['--bcrypt-cost', '4']);
  base = httpBase(m);
  const c = m.client();
  await setUpAuth(c, 'rootpw', [{ name: 'alice', password: 'alicepw', roles: { r1: [['readwrite', '/a/', 'prefix']] } }]);
  rootToken = String((await post('/v3/auth/authenticate', { name: 'root', password: 'rootpw' })).body['token']);
  aliceToken = String((await post('/v3/auth/authenticate', { name: 'alice', password: 'alicepw' })).body['token']);
  assert.match(aliceToken, /^[a-zA-Z]{16}\.\d+$/);
});

after(() => m.close());

test('the Authorization header carries the raw token; etcd\'s refusals with their HTTP statuses', async () => {
  assert.equal((await post('/v3/kv/put', { key: b64('/a/1'), value: b64('v') }, aliceToken)).status, 200);
  const got = await post('/v3/kv/range', { key: b64('/a/1') }, aliceToken);
  assert.equal(got.status, 200);
  assert.equal(got.body['count'], '1');
  assert.deepEqual(await post('/v3/kv/range', { key: b64('/b') }, aliceToken), { status: 403, body: refusal('etcdserver: permission denied', 7) });
  assert.deepEqual(await post('/v3/kv/range', { key: b64('/a/1') }), { status: 400, body: refusal('etcdserver: user name is empty', 3) });
  assert.deepEqual(await post('/v3/kv/range', { key: b64('/a/1') }, 'garbage'), { status: 401, body: refusal('etcdserver: invalid auth token', 16) });
  assert.deepEqual(await post('/v3/kv/range', { key: b64('/a/1') }, `Bearer ${aliceToken}`), { status: 401, body: refusal('etcdserver: invalid auth token', 16) }, 'no "Bearer": the raw token');
  assert.deepEqual(await post('/v3/auth/authenticate', { name: 'alice', password: 'x' }), {
    status: 400,
    body: refusal('etcdserver: authentication failed, invalid user ID or password', 3),
  });
  // as etcd's gateway: Grpc-Metadata-Token is the gRPC `token` metadata, read before Authorization
  const viaMetadata = await request(base, '/v3/kv/range', JSON.stringify({ key: b64('/a/1') }), 'POST', { 'Grpc-Metadata-Token': aliceToken, Authorization: 'garbage' });
  assert.equal(viaMetadata.status, 200, viaMetadata.body);
  // status and member list are never checked, even with a bad token
  assert.equal((await post('/v3/maintenance/status', {}, 'garbage')).status, 200);
  assert.equal((await post('/v3/cluster/member/list', {})).status, 200);
});

test('maintenance: Defragment refuses with the auth store\'s unmapped texts (code 2); Alarm checks only the token', async () => {
  assert.deepEqual(await post('/v3/maintenance/defragment', {}, aliceToken), { status: 500, body: refusal('auth: permission denied', 2) });
  assert.deepEqual(await post('/v3/maintenance/defragment', {}), { status: 500, body: refusal('auth: user name is empty', 2) });
  assert.deepEqual(await post('/v3/maintenance/defragment', {}, 'garbage'), { status: 500, body: refusal('auth: invalid auth token', 2) });
  assert.deepEqual(await post('/v3/maintenance/defragment', {}, rootToken), { status: 200, body: {} });
  assert.deepEqual(await post('/v3/maintenance/alarm', {}), { status: 200, body: {} });
  // etcd's maintenance server returns Alarm's error unmapped (seen on etcd 3.4.23 by the permission matrix)
  assert.deepEqual(await post('/v3/maintenance/alarm', {}, 'garbage'), { status: 500, body: refusal('auth: invalid auth token', 2) });
});

test('auth management on the gateway, and etcd 3.5\'s /v3/auth/status for root', async () => {
  const status = await post('/v3/auth/status', {}, rootToken);
  assert.equal(status.status, 200);
  assert.equal(status.body['enabled'], true);
  assert.match(String(status.body['authRevision']), /^\d+$/);
  assert.deepEqual(await post('/v3/auth/status', {}, aliceToken), { status: 403, body: refusal('etcdserver: permission denied', 7) });
  assert.deepEqual((await post('/v3/auth/user/get', { name: 'alice' }, aliceToken)).body['roles'], ['r1']);
  assert.deepEqual((await post('/v3/auth/user/list', {}, rootToken)).body['users'], ['alice', 'root']);
  const role = await post('/v3/auth/role/get', { role: 'r1' }, rootToken);
  assert.deepEqual(role.body['perm'], [{ permType: 'READWRITE', key: b64('/a/'), range_end: b64('/a0') }]);
});

test('an HTTP watch stream runs with its Authorization header: a refused create is created and canceled', async () => {
  const refused = new StreamingCall(base, '/v3/watch', { Authorization: aliceToken });
  refused.send(JSON.stringify({ create_request: { key: b64('/b') } }));
  const [line] = await refused.waitLines(1);
  const r = (JSON.parse(line!) as { result: Record<string, unknown> }).result;
  assert.equal(r['watch_id'], '-1');
  assert.equal(r['created'], true);
  assert.equal(r['canceled'], true);
  assert.equal(r['cancel_reason'], 'rpc error: code = PermissionDenied desc = etcdserver: permission denied');
  refused.close();
  const allowed = new StreamingCall(base, '/v3/watch', { Authorization: aliceToken });
  allowed.send(JSON.stringify({ create_request: { key: b64('/a/'), range_end: b64('/a0') } }));
  const [created] = await allowed.waitLines(1);
  assert.equal((JSON.parse(created!) as { result: Record<string, unknown> }).result['watch_id'], undefined, 'watch 0 (zero values are omitted)');
  allowed.close();
});

/** Opens a WebSocket watch and sends one create; resolves with the first message. */
async function wsFirst(url: string, headers: Record<string, string>, create: Record<string, unknown>): Promise<Record<string, unknown>> {
  const ws = new WebSocket(url, { headers });
  try {
    const first = new Promise<Record<string, unknown>>((resolve, reject) => {
      ws.once('message', (data: Buffer) => resolve((JSON.parse(data.toString()) as { result: Record<string, unknown> }).result));
      ws.once('error', reject);
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ create_request: create }));
    return await first;
  } finally {
    ws.terminate();
  }
}

test('a WebSocket stream takes its token at connect: the Authorization header, or a `token` query parameter', async () => {
  const ws = base.replace('http:', 'ws:');
  const create = { key: b64('/a/'), range_end: b64('/a0') };
  assert.equal((await wsFirst(`${ws}/v3/watch`, { Authorization: aliceToken }, create))['created'], true);
  const viaQuery = await wsFirst(`${ws}/v3/watch?token=${encodeURIComponent(aliceToken)}`, {}, create);
  assert.equal(viaQuery['created'], true);
  assert.equal(viaQuery['canceled'], undefined);
  const anonymous = await wsFirst(`${ws}/v3/watch`, {}, create);
  assert.equal(anonymous['cancel_reason'], 'rpc error: code = InvalidArgument desc = etcdserver: user name is empty');
  const denied = await wsFirst(`${ws}/v3/watch?token=${encodeURIComponent(aliceToken)}`, {}, { key: b64('/b') });
  assert.equal(denied['cancel_reason'], 'rpc error: code = PermissionDenied desc = etcdserver: permission denied');
  const forged = await wsFirst(`${ws}/v3/watch?token=abc.1`, {}, create);
  assert.equal(forged['cancel_reason'], 'rpc error: code = Unauthenticated desc = etcdserver: invalid auth token');
});

test('the binary client on the client URL logs in as on the binary port', async () => {
  const c = new Client({ endpoints: [base], username: 'alice', password: 'alicepw' });
  try {
    assert.equal((await c.get('/a/1')).count, 1);
  } finally {
    c.destroy();
  }
});

test('a /v3/ request carrying a client certificate CN gets etcd\'s 400 while auth is enabled (embed/serve.go)', () => {
  const written: string[] = [];
  const res = {
    cork: (f: () => void) => f(),
    writeStatus: (s: string) => (written.push(`status ${s}`), res),
    writeHeader: (k: string, v: string) => (written.push(`${k}: ${v}`), res),
    end: (body: string) => (written.push(body), res),
  } as unknown as uWS.HttpResponse;
  const server = m.member.server as EtcdServer;
  assert.equal(refuseGatewayCommonName(server, '/v3/kv/range', { token: aliceToken }, res), false, 'no CN');
  assert.equal(refuseGatewayCommonName(server, '/v3beta/kv/range', { commonName: 'alice' }, res), false, 'etcd checks /v3/ only');
  assert.equal(refuseGatewayCommonName(server, '/v3/kv/range', { commonName: 'alice' }, res), true);
  assert.deepEqual(written, [
    'status 400 Bad Request',
    'Content-Type: text/plain; charset=utf-8',
    'X-Content-Type-Options: nosniff',
    'CommonName of client sending a request against gateway will be ignored and not used as expected\n',
  ]);
});
