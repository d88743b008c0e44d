// etcd's auth on the gRPC front end, with a client that shares no code with the server (grpc-js): the token in the
// `token` metadata, or in `authorization` (etcd's AuthInfoFromCtx reads both, `token` first); AuthStatus (etcd 3.5's
// field numbers); a refused watch create on the gRPC stream; an Observe the caller may not read ends without a message.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import grpc from '@grpc/grpc-js';
import { setUpAuth } from '../helpers/auth.js';
import { etcdClients, rejectsWith, startGrpcMember, unary, type EtcdClients, type GrpcMember } from '../helpers/grpc.js';

let g: GrpcMember;
let clients: EtcdClients;
let aliceToken: string;
let rootToken: string;

const b64 = (s: string): Buffer => Buffer.from(s);
const meta = (entries: Record<string, string>): grpc.Metadata => {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries)) md.set(k, v);
  return md;
};

before(async () => {
  g = await startGrpcMember(['--bcrypt-cost', '4']);
  clients = etcdClients(g.endpoint);
  await setUpAuth(g.member.client(), 'rootpw', [{ name: 'alice', password: 'alicepw', roles: { r1: [['readwrite', '/a/', 'prefix']] } }]);
  aliceToken = (await unary<{ token: string }>(clients.auth, 'Authenticate', { name: 'alice', password: 'alicepw' })).token;
  rootToken = (await unary<{ token: string }>(clients.auth, 'Authenticate', { name: 'root', password: 'rootpw' })).token;
});

after(async () => {
  clients.close();
  await g.close();
});

test('the token travels in the `token` metadata, or in `authorization`; `token` wins', async () => {
  await unary(clients.kv, 'Put', { key: b64('/a/1'), value: b64('v') }, meta({ token: aliceToken }));
  assert.equal((await unary<{ count: string }>(clients.kv, 'Range', { key: b64('/a/1') }, meta({ authorization: aliceToken }))).count, '1');
  await rejectsWith(unary(clients.kv, 'Range', { key: b64('/a/1') }), grpc.status.INVALID_ARGUMENT, 'etcdserver: user name is empty');
  await rejectsWith(unary(clients.kv, 'Range', { key: b64('/b') }, meta({ token: aliceToken })), grpc.status.PERMISSION_DENIED, 'etcdserver: permission denied');
  await rejectsWith(unary(clients.kv, 'Range', { key: b64('/a/1') }, meta({ token: 'x.1', authorization: aliceToken })), grpc.status.UNAUTHENTICATED, 'etcdserver: invalid auth token');
  await rejectsWith(unary(clients.maintenance, 'Defragment', {}, meta({ token: aliceToken })), grpc.status.UNKNOWN, 'auth: permission denied');
});

test('AuthStatus (etcd 3.5): enabled and the auth revision, for root', async () => {
  const status = await unary<{ enabled: boolean; authRevision: string }>(clients.auth, 'AuthStatus', {}, meta({ token: rootToken }));
  assert.equal(status.enabled, true);
  assert.ok(Number(status.authRevision) > 1);
  await rejectsWith(unary(clients.auth, 'AuthStatus', {}, meta({ token: aliceToken })), grpc.status.PERMISSION_DENIED, 'etcdserver: permission denied');
  const roles = await unary<{ perm: { permType: number; key: Buffer }[] }>(clients.auth, 'RoleGet', { role: 'r1' }, meta({ token: aliceToken }));
  assert.deepEqual(roles.perm.map((p) => [p.permType, p.key.toString()]), [[2, '/a/']]);
});

test('a watch create refused on the gRPC stream; an Observe the caller may not read ends without a message', async () => {
  const call = (clients.watch['Watch'] as (md: grpc.Metadata) => grpc.ClientDuplexStream<unknown, Record<string, unknown>>).call(clients.watch, meta({ token: aliceToken }));
  const first = new Promise<Record<string, unknown>>((resolve) => call.once('data', resolve));
  call.write({ create_request: { key: b64('/b') } });
  const r = await first;
  assert.equal(r['watch_id'], '-1');
  assert.equal(r['canceled'], true);
  assert.equal(r['cancel_reason'], 'rpc error: code = PermissionDenied desc = etcdserver: permission denied');
  call.cancel();
  call.on('error', () => undefined);

  const observe = (clients.election['Observe'] as (req: unknown, md: grpc.Metadata) => grpc.ClientReadableStream<unknown>).call(clients.election, { name: b64('/b/el') }, meta({ token: aliceToken }));
  const messages: unknown[] = [];
  observe.on('data', (m) => messages.push(m));
  const status = await new Promise<grpc.StatusObject>((resolve) => observe.on('status', resolve));
  assert.equal(status.code, grpc.status.OK, 'ended without an error, as etcd\'s Observe when its first read fails');
  assert.deepEqual(messages, []);
});
