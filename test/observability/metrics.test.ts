// /metrics after known operations: etcd's names, types and buckets, counts that follow the operations, one registry
// per member (two members in one process do not mix), the worker pool's gauges, and peer round trips in a cluster.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CompareResult, CompareTarget } from '../../src/client/index.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { isLeader, startInProcessCluster, until } from '../helpers/in-process-cluster.js';
import { get, httpBase, metricValue } from '../helpers/http.js';

async function scrape(base: string): Promise<string> {
  const r = await get(`${base}/metrics`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return r.body;
}

const value = (text: string, name: string, labels = ''): number => {
  const v = metricValue(text, name, labels);
  assert.notEqual(v, undefined, `${name}{${labels}} is exported`);
  return v!;
};

describe('metrics of one member', () => {
  let m: InProcessMember;
  let other: InProcessMember;
  before(async () => {
    m = await startInProcess(['--worker-threads', '0']);
    other = await startInProcess(['--worker-threads', '1']);
  });
  after(async () => {
    await m.close();
    await other.close();
  });

  test('counters follow puts, deletes, txns and ranges; gauges show keys, leader and database size', async () => {
    const base = httpBase(m);
    const before = await scrape(base);
    const client = m.client();
    const N = 25;
    for (let i = 0; i < N; i++) await client.put({ key: Buffer.from(`metrics/${i}`), value: Buffer.from(`v${i}`) });
    await client.deleteRange({ key: Buffer.from('metrics/0') });
    await client.deleteRange({ key: Buffer.from('metrics/1') });
    await client.txn({
      compare: [{ target: CompareTarget.VERSION, result: CompareResult.GREATER, key: Buffer.from('metrics/2'), version: 0 }],
      success: [{ request_put: { key: Buffer.from('metrics/2'), value: Buffer.from('again') } }],
    });
    for (let i = 0; i < 3; i++) await client.get('metrics/', { prefix: true });
    const afterOps = await scrape(base);
    const grew = (name: string): number => value(afterOps, name) - value(before, name);

    assert.ok(grew('etcd_mvcc_put_total') >= N + 1, 'N puts and the txn put');
    assert.ok(grew('etcd_mvcc_delete_total') >= 2);
    assert.ok(grew('etcd_mvcc_txn_total') >= 1);
    assert.ok(grew('etcd_mvcc_range_total') >= 3);
    assert.ok(grew('etcd_server_proposals_committed_total') >= N + 3);
    assert.ok(grew('etcd_server_proposals_applied_total') >= N + 3);
    assert.equal(value(afterOps, 'etcd_debugging_mvcc_keys_total'), N - 2);
    assert.equal(value(afterOps, 'etcd_server_has_leader'), 1);
    assert.equal(value(afterOps, 'etcd_server_is_leader'), 1);
    assert.equal(value(afterOps, 'etcd_server_is_learner'), 0);
    assert.equal(value(afterOps, 'etcd_server_proposals_pending'), 0);
    assert.equal(value(afterOps, 'etcd_server_proposals_failed_total'), 0);
    assert.ok(value(afterOps, 'etcd_server_leader_changes_seen_total') >= 1);
    assert.ok(value(afterOps, 'etcd_mvcc_db_total_size_in_bytes') > 0);
    assert.ok(value(afterOps, 'etcd_mvcc_db_total_size_in_use_in_bytes') > 0);
    assert.equal(value(afterOps, 'etcd_server_quota_backend_bytes'), 2 * 1024 ** 3);
    // the histograms saw every write's flush and apply
    assert.ok(grew('etcd_disk_wal_fsync_duration_seconds_count') >= 1);
    assert.ok(grew('etcd_disk_backend_commit_duration_seconds_count') >= 1);
    assert.ok(value(afterOps, 'etcd_disk_wal_fsync_duration_seconds_sum') > 0);
    assert.equal(value(afterOps, 'etcd_disk_wal_fsync_duration_seconds_bucket', 'le="+Inf"'), value(afterOps, 'etcd_disk_wal_fsync_duration_seconds_count'));
  });

  test('names, types, labels and buckets are etcd 3.4\'s', async () => {
    const text = await scrape(httpBase(m));
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => [x[1]!, x[2]!]));
    const expected: Record<string, string> = {
      etcd_server_has_leader: 'gauge',
      etcd_server_is_leader: 'gauge',
      etcd_server_is_learner: 'gauge',
      etcd_server_leader_changes_seen_total: 'counter',
      etcd_server_proposals_committed_total: 'gauge',
      etcd_server_proposals_applied_total: 'gauge',
      etcd_server_proposals_pending: 'gauge',
      etcd_server_proposals_failed_total: 'counter',
      etcd_server_quota_backend_bytes: 'gauge',
      etcd_server_id: 'gauge',
      etcd_server_version: 'gauge',
      etcd_cluster_version: 'gauge',
      etcd_server_health_success: 'counter',
      etcd_server_health_failures: 'counter',
      etcd_mvcc_db_total_size_in_bytes: 'gauge',
      etcd_mvcc_db_total_size_in_use_in_bytes: 'gauge',
      etcd_debugging_mvcc_keys_total: 'gauge',
      etcd_debugging_mvcc_watcher_total: 'gauge',
      etcd_debugging_mvcc_watch_stream_total: 'gauge',
      etcd_debugging_mvcc_slow_watcher_total: 'gauge',
      etcd_mvcc_put_total: 'counter',
      etcd_mvcc_delete_total: 'counter',
      etcd_mvcc_range_total: 'counter',
      etcd_mvcc_txn_total: 'counter',
      etcd_disk_wal_fsync_duration_seconds: 'histogram',
      etcd_disk_backend_commit_duration_seconds: 'histogram',
      etcd_network_peer_round_trip_time_seconds: 'histogram',
      etcdts_worker_pool_threads: 'gauge',
      etcdts_worker_pool_pending: 'gauge',
      etcdts_worker_pool_restarts_total: 'counter',
      etcdts_read_ring_used_bytes: 'gauge',
      process_cpu_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) assert.equal(types.get(name), type, name);
    const id = m.member.server.memberId.toString(16);
    assert.equal(value(text, 'etcd_server_id', `server_id="${id}"`), 1);
    assert.equal(value(text, 'etcd_server_version', 'server_version="3.4.0"'), 1);
    assert.equal(value(text, 'etcd_cluster_version', 'cluster_version="3.4"'), 1);
    // etcd's buckets: ExponentialBuckets(0.001, 2, 14) for the disk histograms
    const les = [...text.matchAll(/^etcd_disk_wal_fsync_duration_seconds_bucket\{le="([^"]+)"\}/gm)].map((x) => x[1]);
    assert.deepEqual(les, ['0.001', '0.002', '0.004', '0.008', '0.016', '0.032', '0.064', '0.128', '0.256', '0.512', '1.024', '2.048', '4.096', '8.192', '+Inf']);
  });

  test('each member has its own registry; watch and worker-pool gauges read the member', async () => {
    const otherBase = httpBase(other);
    const client = other.client();
    await client.put({ key: Buffer.from('only-here'), value: Buffer.from('x') });
    const seen: unknown[] = [];
    const w = client.watch({ key: 'only-', prefix: true }, { onEvents: (r) => seen.push(r) });
    await client.get('only-here');
    await until('the watcher is registered', () => other.member.server.watchHub.watchers === 1, 10_000, 20);
    // the read pool starts with the first scan (single-key reads stay on the main thread)
    assert.equal(value(await scrape(otherBase), 'etcdts_worker_pool_threads'), 0);
    assert.equal((await client.get('only-', { prefix: true })).kvs.length, 1);
    const text = await scrape(otherBase);
    const mine = await scrape(httpBase(m));
    assert.equal(value(text, 'etcd_debugging_mvcc_keys_total'), 1);
    assert.notEqual(value(mine, 'etcd_debugging_mvcc_keys_total'), 1);
    assert.equal(value(text, 'etcd_server_id', `server_id="${other.member.server.memberId.toString(16)}"`), 1);
    assert.equal(value(text, 'etcd_debugging_mvcc_watcher_total'), 1);
    assert.equal(value(text, 'etcd_debugging_mvcc_watch_stream_total'), 1);
    assert.equal(value(mine, 'etcd_debugging_mvcc_watcher_total'), 0);
    assert.equal(value(text, 'etcdts_worker_pool_threads'), 1);
    assert.equal(value(mine, 'etcdts_worker_pool_threads'), 0);
    assert.equal(value(text, 'etcdts_worker_pool_pending'), 0);
    assert.equal(value(text, 'etcdts_read_ring_used_bytes', 'ring="requests"'), 0);
    w.cancel();
  });
});

describe('metrics of a three-member cluster', () => {
  test('the leader measures heartbeat round trips to each peer, labelled To=<peer id>', async (t) => {
    const members = await startInProcessCluster(t, { heartbeatMs: 50, electionMs: 500 });
    await until('a leader is elected', () => members.some(isLeader), 20_000, 20);
    const leader = members.find(isLeader)!;
    const base = `http://127.0.0.1:${leader.member.httpAddresses[0]!.port}`;
    const peers = members.filter((m) => m !== leader).map((m) => m.member.server.memberId.toString(16));
    let text = '';
    const deadline = Date.now() + 20_000;
    for (;;) {
      text = await scrape(base);
      if (peers.every((p) => (metricValue(text, 'etcd_network_peer_round_trip_time_seconds_count', `To="${p}"`) ?? 0) > 0)) break;
      assert.ok(Date.now() < deadline, `no round trips measured to ${peers.join(', ')}:\n${text.split('\n').filter((l) => l.includes('round_trip')).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const follower = members.find((m) => m !== leader)!;
    const ftext = await scrape(`http://127.0.0.1:${follower.member.httpAddresses[0]!.port}`);
    assert.equal(value(ftext, 'etcd_server_has_leader'), 1);
    assert.equal(value(ftext, 'etcd_server_is_leader'), 0);
    assert.equal(value(text, 'etcd_server_is_leader'), 1);
  });
});
