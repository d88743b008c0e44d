// etcd's `hasleader: true` metadata on the gRPC front end, on a 3-member cluster in this process with one member
// cut off from the other two: unary calls with it are refused with `etcdserver: no leader` (Unavailable) while the
// member has no leader, as etcd's unary interceptor refuses them; an open require-leader watch ends with the same
// status after three election timeouts without a leader; a new one is refused at once; calls without the metadata
// are still served from the member's own state (a serializable read).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import grpc from '@grpc/grpc-js';
import { GrpcServer } from '../../src/grpc/index.js';
import { isLeader, startInProcessCluster, until } from '../helpers/in-process-cluster.js';
import { etcdClients, rejectsWith, unary } from '../helpers/grpc.js';

const b = (s: string): Buffer => Buffer.from(s);

test('hasleader: refused without a leader (unary and new streams); an open watch ends with "no leader"', { timeout: 120_000 }, async (t) => {
  const ms = await startInProcessCluster(t, { heartbeatMs: 20, electionMs: 200 });
  await until('a leader', () => ms.some(isLeader) && ms.every((m) => m.member.server.leader !== 0n), 20_000, 10);
  const cut = ms.find((m) => !isLeader(m))!;
  const others = ms.filter((m) => m !== cut);
  const server = new GrpcServer({ server: cut.member.server, limits: cut.member.server.config.limits });
  const [address] = await server.listen(['http://127.0.0.1:0']);
  const c = etcdClients(`127.0.0.1:${address!.port}`);
  t.after(async () => {
    c.close();
    await server.close();
  });
  const hasLeader = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set('hasleader', 'true');
    return md;
  };

  await unary(c.kv, 'Put', { key: b('h/1'), value: b('v') }, hasLeader());
  const call = (c.watch['Watch'] as (m: grpc.Metadata) => grpc.ClientDuplexStream<unknown, { created?: boolean; events?: unknown[] }>).call(c.watch, hasLeader());
  const responses: { created?: boolean; events?: unknown[] }[] = [];
  let ended: grpc.ServiceError | null = null;
  call.on('data', (r: { created?: boolean }) => responses.push(r));
  call.on('error', (e: grpc.ServiceError) => (ended = e));
  call.write({ create_request: { key: b('h/'), range_end: b('h0') } });
  await until('the watch to be created', () => responses.some((r) => r.created === true), 10_000, 10);

  cut.member.server.transport!.faults.isolate(others.map((m) => m.member.server.memberId));
  for (const m of others) m.member.server.transport!.faults.isolate([cut.member.server.memberId]);
  t.after(() => ms.forEach((m) => m.member.server.transport!.faults.clear()));
  await until('the cut member to lose its leader', () => cut.member.server.leader === 0n, 30_000, 10);

  await rejectsWith(unary(c.kv, 'Range', { key: b('h/1'), serializable: true }, hasLeader()), grpc.status.UNAVAILABLE, 'etcdserver: no leader');
  const plain = await unary<{ kvs: { value: Buffer }[] }>(c.kv, 'Range', { key: b('h/1'), serializable: true });
  assert.equal(plain.kvs[0]!.value.toString(), 'v', 'without the metadata the member still serves a serializable read');

  // a new require-leader stream is refused at once
  const refused = (c.watch['Watch'] as (m: grpc.Metadata) => grpc.ClientDuplexStream<unknown, unknown>).call(c.watch, hasLeader());
  const refusal = await new Promise<grpc.ServiceError>((resolve) => {
    refused.on('error', resolve);
    refused.on('data', () => {});
    refused.write({ create_request: { key: b('h/') } });
  });
  assert.deepEqual([refusal.code, refusal.details], [grpc.status.UNAVAILABLE, 'etcdserver: no leader']);

  // the open one ends after three election timeouts without a leader
  await until('the open watch to end', () => ended !== null, 30_000, 10);
  assert.deepEqual([ended!.code, ended!.details], [grpc.status.UNAVAILABLE, 'etcdserver: no leader']);
  assert.equal(cut.member.server.leader, 0n, 'it ended because the member has no leader');
});
