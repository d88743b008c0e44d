// Prometheus metrics of one member, in etcd's names, types, labels and buckets wherever etcd has the metric (checked
// against etcd 3.4.23's /metrics), plus etcdts_* for what only etcd-ts has (the worker pool and its rings).
//
// Each member gets its own Registry: tests run several members in one process, and prom-client's global registry
// would mix them. Gauges and counters are read from the server at scrape time (collect()); only the histograms are
// fed as things happen, through the timing hooks of the server's ServerStats.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import { SERVER_VERSION, type EtcdServer } from '../server/index.js';

/** etcd_cluster_version carries major.minor only, as etcd's does */
const CLUSTER_VERSION = SERVER_VERSION.split('.').slice(0, 2).join('.');

/** What one scrape reads from the server, once (database size costs a stat and a walk of the table stats). */
interface Sample {
  hasLeader: boolean;
  isLeader: boolean;
  isLearner: boolean;
  committed: number;
  applied: number;
  pending: number;
  dbSize: number;
  dbSizeInUse: number;
  keys: number;
  watchers: number;
  watchStreams: number;
  slowWatchers: number;
  pool: { threads: number; pending: number; restarts: number; requestRingBytes: number; replyRingBytes: number };
}

export class MemberMetrics {
  readonly registry = new Registry();
  private sample: Sample | null = null;
  private readonly healthSuccess: Counter;
  private readonly healthFailures: Counter;

  constructor(private readonly server: EtcdServer) {
    const registers = [this.registry];
    const read = (): Sample => (this.sample ??= this.takeSample());
    const gauge = (name: string, help: string, value: (s: Sample) => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(value(read())); } });
    };
    // counters kept as plain numbers by the server: set to the current total at each scrape
    const counter = (name: string, help: string, value: () => number): void => {
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(value()); } });
    };
    const stats = server.stats;

    gauge('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.', (s) => Number(s.hasLeader));
    gauge('etcd_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.', (s) => Number(s.isLeader));
    gauge('etcd_server_is_learner', 'Whether or not this member is a learner. 1 if is, 0 otherwise.', (s) => Number(s.isLearner));
    counter('etcd_server_leader_changes_seen_total', 'The number of leader changes seen.', () => stats.leaderChanges);
    // etcd exports these two "_total"s as gauges set to the commit and applied indexes
    gauge('etcd_server_proposals_committed_total', 'The total number of consensus proposals committed.', (s) => s.committed);
    gauge('etcd_server_proposals_applied_total', 'The total number of consensus proposals applied.', (s) => s.applied);
    gauge('etcd_server_proposals_pending', 'The current number of pending proposals to commit.', (s) => s.pending);
    counter('etcd_server_proposals_failed_total', 'The total number of failed proposals seen.', () => stats.proposalsFailed);
    gauge('etcd_server_quota_backend_bytes', 'Current backend storage quota size in bytes.', () => server.config.limits.backendQuotaBytes);
    const id = server.memberId.toString(16);
    new Gauge({ name: 'etcd_server_id', help: "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.", labelNames: ['server_id'], registers, collect() { this.set({ server_id: id }, 1); } });
    new Gauge({ name: 'etcd_server_version', help: "Which version is running. 1 for 'server_version' label with current version.", labelNames: ['server_version'], registers, collect() { this.set({ server_version: SERVER_VERSION }, 1); } });
    new Gauge({ name: 'etcd_cluster_version', help: "Which version is running. 1 for 'cluster_version' label with current cluster version", labelNames: ['cluster_version'], registers, collect() { this.set({ cluster_version: CLUSTER_VERSION }, 1); } });
    this.healthSuccess = new Counter({ name: 'etcd_server_health_success', help: 'The total number of successful health checks', registers });
    this.healthFailures = new Counter({ name: 'etcd_server_health_failures', help: 'The total number of failed health checks', registers });

    gauge('etcd_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.', (s) => s.dbSize);
    gauge('etcd_mvcc_db_total_size_in_use_in_bytes', 'Total size of the underlying database logically in use in bytes.', (s) => s.dbSizeInUse);
    gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.', (s) => s.keys);
    gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.', (s) => s.watchers);
    gauge('etcd_debugging_mvcc_watch_stream_total', 'Total number of watch streams.', (s) => s.watchStreams);
    gauge('etcd_debugging_mvcc_slow_watcher_total', 'Total number of unsynced slow watchers.', (s) => s.slowWatchers);
    counter('etcd_mvcc_put_total', 'Total number of puts seen by this member.', () => stats.puts);
    counter('etcd_mvcc_delete_total', 'Total number of deletes seen by this member.', () => stats.deletes);
    counter('etcd_mvcc_range_total', 'Total number of ranges seen by this member.', () => stats.ranges);
    counter('etcd_mvcc_txn_total', 'Total number of txns seen by this member.', () => stats.txns);

    const fsync = new Histogram({ name: 'etcd_disk_wal_fsync_duration_seconds', help: 'The latency distributions of fsync called by WAL.', buckets: exponentialBuckets(0.001, 2, 14), registers });
    const commit = new Histogram({ name: 'etcd_disk_backend_commit_duration_seconds', help: 'The latency distributions of commit called by backend.', buckets: exponentialBuckets(0.001, 2, 14), registers });
    const rtt = new Histogram({ name: 'etcd_network_peer_round_trip_time_seconds', help: 'Round-Trip-Time histogram between peers.', labelNames: ['To'], buckets: exponentialBuckets(0.0001, 2, 14), registers });
    stats.walFsync = (seconds) => fsync.observe(seconds);
    stats.backendCommit = (seconds) => commit.observe(seconds);
    stats.peerRoundTrip = (peer, seconds) => rtt.observe({ To: peer.toString(16) }, seconds);

    gauge('etcdts_worker_pool_threads', 'Worker threads serving range reads (0 until the first read for them, and with --worker-threads 0).', (s) => s.pool.threads);
    gauge('etcdts_worker_pool_pending', 'Range reads handed to worker threads and not answered yet.', (s) => s.pool.pending);
    counter('etcdts_worker_pool_restarts_total', 'Worker threads replaced after they died.', () => server.readPool?.stats.restarts ?? 0);
    new Gauge({
      name: 'etcdts_read_ring_used_bytes',
      help: 'Bytes waiting in the SharedArrayBuffer rings between the main thread and the read workers, by direction.',
      labelNames: ['ring'],
      registers,
      collect() {
        const pool = read().pool;
        this.set({ ring: 'requests' }, pool.requestRingBytes);
        this.set({ ring: 'replies' }, pool.replyRingBytes);
      },
    });

  }

  private takeSample(): Sample {
    const server = this.server;
    const status = server.status();
    return {
      hasLeader: server.leader !== 0n,
      isLeader: server.isLeader,
      isLearner: server.isLearner,
      committed: server.committedIndex,
      applied: server.appliedIndex,
      pending: server.pendingProposals,
      dbSize: status.dbSize,
      dbSizeInUse: status.dbSizeInUse,
      keys: server.keyCount,
      watchers: server.watchHub.watchers,
      watchStreams: server.watchHub.streamCount,
      slowWatchers: server.watchHub.unsyncedWatchers,
      pool: server.readPool?.stats ?? { threads: 0, pending: 0, restarts: 0, requestRingBytes: 0, replyRingBytes: 0 },
    };
  }

  /** Counted as etcd does: one per /health answer. */
  healthChecked(healthy: boolean): void {
    (healthy ? this.healthSuccess : this.healthFailures).inc();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; the server is sampled once per scrape. */
  async text(): Promise<string> {
    this.sample = null;
    try {
      // the process's own metrics follow the member's: one process, one set (see processRegistry)
      return (await this.registry.metrics()) + (await processRegistry().metrics());
    } finally {
      this.sample = null;
    }
  }
}

let processMetrics: Registry | null = null;

/**
 * process_* and nodejs_* (prom-client's defaults) describe the process, not a member, and their collectors (a GC
 * observer, an event-loop-delay monitor) live as long as it: created once, however many members the process runs.
 */
function processRegistry(): Registry {
  if (processMetrics === null) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

const byServer = new WeakMap<EtcdServer, MemberMetrics>();

/** The metrics of a member, created on first use (the health and metrics routes share them). */
export function metricsFor(server: EtcdServer): MemberMetrics {
  let m = byServer.get(server);
  if (m === undefined) {
    m = new MemberMetrics(server);
    byServer.set(server, m);
  }
  return m;
}
