// EtcdServer: one member, wired from modules with one job each.
//
//   bootstrap.ts        who this member is (identity, --initial-cluster-state, validation against the cluster)
//   peers.ts            the peer transport, last-heard times, removed members, cluster-ID adoption
//   ../driver           the order of every Raft Ready: persist -> send -> apply -> advance (shared with src/sim)
//   proposals.ts        writes on their way into the log: waiters, envelope, leader wait, quota, expiry
//   reads.ts            linearizable reads: ReadIndex rounds, retry, waiting for the apply
//   applier.ts          the state machine: committed entries and conf changes, snapshots, log compaction
//   kv-service.ts       etcd's KV service: range (in worker threads too), put, delete, txn, compact
//   cluster-service.ts  etcd's Cluster service and MoveLeader
//   lease-service.ts, concurrency.ts   etcd's Lease, Lock and Election services, on narrow ports (ports.ts)
//   auth-service.ts     etcd's Auth service; auth-apply.ts its entries (and the write checks) in the applier;
//                       authorize.ts the checks of reads, watches and admin calls; auth-table.ts its LMDB records
//   methods.ts          the method table every front end dispatches through, with etcd's auth in front
//
// What stays here: the wiring, status, what applying and a change of Raft role set off, and the lifecycle (close
// drains; a fatal error stops the member and fails what is pending).

import fs from 'node:fs';
import {
  ANONYMOUS,
  Auth,
  checkRange,
  checkTxn,
  goReadFileError,
  parseAuthToken,
  type AuthInfo,
} from '../auth/index.js';
import { systemClock, type Clock, type ClockTimer } from '../clock/index.js';
import {
  AUTH_JWT_VERIFIED_CACHE_MAX,
  AUTH_PASSWORD_CHECKS_PARALLEL,
  AUTH_PASSWORD_CHECKS_PENDING_MAX,
  RAFT_INFLIGHT_MESSAGES_MAX,
  RAFT_MESSAGE_BYTES_MAX,
  RAFT_UNCOMMITTED_BYTES_MAX,
  REQUEST_SWEEP_INTERVAL_MS,
  WATCH_FRAGMENT_SLACK_BYTES,
  type Config,
} from '../config/index.js';
import { etcdError, type EtcdError } from '../errors/index.js';
import { Lessor } from '../lease/index.js';
import { isReadOnlyTxn, readEvents, type MvccEvent } from '../mvcc/index.js';
import type { ResponseHeader, StatusResponse } from '../proto/index.js';
import { NONE, StateType, type SoftState } from '../raft/index.js';
import { databaseSize, lmdbPersist, LmdbRaftStorage, readPersistedState, type Storage } from '../storage/index.js';
import type { PeerTlsHooks, Transport } from '../transport/index.js';
import { WatchFilterPool, WatchHub, type WatchSink, type WatchStream } from '../watch/index.js';
import { Applier, type AppliedBatch } from './applier.js';
import { AuthService } from './auth-service.js';
import { authPersistence, readAuthContents } from './auth-table.js';
import { authorizeWatch, checkedRead, watchRefusal } from './authorize.js';
import { bootstrap } from './bootstrap.js';
import { ClusterService } from './cluster-service.js';
import { Compactor, MainThreadSteps, WorkerThreadSteps } from './compactor.js';
import { KvService } from './kv-service.js';
import { ConcurrencyService } from './concurrency.js';
import { parseInitialCluster } from './identity.js';
import { LeaseService } from './lease-service.js';
import { Peers, REMOVED_MESSAGE } from './peers.js';
import type { StreamHandle, StreamSinkLike } from './ports.js';
import { Proposals } from './proposals.js';
import { RaftDriver } from '../driver/index.js';
import { ReadPool } from './read-pool.js';
import { LinearizableReads } from './reads.js';
import { ServerStats } from './stats.js';

export const SERVER_VERSION = '3.4.0';

export interface ServerEvents {
  /** called after each applied batch with the events it produced (watch hub hook) */
  onApplied?: (events: MvccEvent[], revision: number) => void;
  /** the member cannot go on (storage failure, or it was removed from the cluster): the process should exit */
  onFatal?: (err: Error) => void;
}

export interface ServerOptions {
  /** timers and deadlines (default: the system clock); tests pass a ManualClock */
  clock?: Clock;
  /** TLS for https:// peer URLs (src/tls's MemberTls.peer), listener, dialer and the bootstrap's member query */
  peerTls?: PeerTlsHooks | null;
}

export class EtcdServer {
  readonly memberId: bigint;
  readonly clock: Clock;
  /** counters and timing hooks read by /metrics (src/metrics) */
  readonly stats = new ServerStats();
  readonly watchHub: WatchHub;
  /** a worker thread matching applied events against large watcher sets (null with --worker-threads 0) */
  readonly watchFilterPool: WatchFilterPool | null;
  readonly lessor: Lessor;
  /** worker threads for range reads (null with --worker-threads 0) */
  readonly readPool: ReadPool | null;
  /** physical compaction: in its own worker thread with --worker-threads > 0, else on the main thread */
  readonly compactor: Compactor;
  readonly kv: KvService;
  readonly cluster: ClusterService;
  readonly leases: LeaseService;
  readonly concurrency: ConcurrencyService;
  /** etcd's auth: users, roles, tokens and the permission checks (src/auth) */
  readonly auth: Auth;
  /** etcd's Auth service */
  readonly authService: AuthService;
  private readonly applier: Applier;
  private readonly peers: Peers;
  private readonly driver: RaftDriver;
  private readonly proposals: Proposals;
  private readonly reads: LinearizableReads;
  private readonly sweep: ClockTimer;
  private softState: SoftState = { lead: NONE, raftState: StateType.Follower };
  private physicalWaiters: { revision: number; answer: () => void }[] = [];
  /** requests waiting for this member to apply an index (a simple token issued by an entry not yet applied here) */
  private appliedWaiters: { index: number; deadline: number; settle: (applied: boolean) => void }[] = [];
  private stopped = false;
  private fatal: Error | null = null;

  private constructor(
    readonly config: Config,
    private readonly storage: Storage,
    identity: { cluster_id: string; member_id: string },
    private readonly events: ServerEvents,
    options: ServerOptions,
  ) {
    const clock = (this.clock = options.clock ?? systemClock);
    const memberId = (this.memberId = BigInt(identity.member_id));
    this.lessor = new Lessor(storage.leases, () => clock.now(), Math.ceil((1.5 * config.electionTimeoutMs) / 1000));
    const header = (revision?: number): ResponseHeader => this.header(revision);
    this.auth = new Auth(
      readAuthContents(storage.auth),
      {
        clock,
        persistence: authPersistence(storage.auth),
        appliedIndex: () => this.applier.appliedInTransaction,
        waitApplied: (index) => this.waitApplied(index),
      },
      {
        token: parseAuthToken(config.authToken, readKeyFile),
        tokenTtlSeconds: config.authTokenTtlSeconds,
        bcryptCost: config.bcryptCost,
        passwordChecks: { parallel: AUTH_PASSWORD_CHECKS_PARALLEL, pendingMax: AUTH_PASSWORD_CHECKS_PENDING_MAX },
        jwtVerifiedCacheMax: AUTH_JWT_VERIFIED_CACHE_MAX,
      },
    );
    this.peers = new Peers(
      {
        memberId, config, clock, storage, stats: this.stats,
        peerTls: options.peerTls ?? null,
        members: () => this.applier.members,
        step: (m) => this.driver.step(m),
        reportUnreachable: (id) => this.driver.reportUnreachable(id),
        reportSnapshot: (id, failed) => this.driver.reportSnapshot(id, failed),
        fail: (err) => this.fail(err),
      },
      BigInt(identity.cluster_id),
    );
    this.applier = new Applier(
      {
        memberId, storage, config, lessor: this.lessor, auth: this.auth, stats: this.stats, membership: this.peers,
        header,
        answered: (results) => this.proposals.settle(results, (revision, answer) => this.physicalWaiters.push({ revision, answer })),
        committed: (batch) => this.applied(batch),
        fail: (err) => this.fail(err),
      },
      readPersistedState(storage.meta),
    );
    const raftStorage = new LmdbRaftStorage(storage, () => this.applier.snapshotForRaft());
    this.applier.attachRaftStorage(raftStorage);
    const persist = lmdbPersist(
      storage,
      raftStorage,
      (snapshot) => this.snapshotInstalled(this.applier.installSnapshot(snapshot)),
    );
    this.driver = new RaftDriver({
      memberId,
      raftStorage,
      applied: this.applier.applied,
      confState: this.applier.confState,
      electionTicks: Math.max(2, Math.round(config.electionTimeoutMs / config.heartbeatIntervalMs)),
      heartbeatTicks: 1,
      tickMs: config.heartbeatIntervalMs,
      maxSizePerMsg: RAFT_MESSAGE_BYTES_MAX,
      maxInflightMsgs: RAFT_INFLIGHT_MESSAGES_MAX,
      maxCommittedSizePerReady: config.limits.proposalBatchBytesMax,
      maxCommittedEntriesPerReady: config.limits.proposalBatchEntriesMax,
      maxUncommittedEntriesSize: RAFT_UNCOMMITTED_BYTES_MAX,
      random: Math.random,
      clock,
      defer: (run) => setImmediate(run),
      ports: {
        persist: (rd, done) => {
          // a leader's snapshot replaces the key space: only once every queued apply transaction has committed
          if (rd.snapshot !== undefined && this.applier.busy) {
            this.applier.whenIdle().then(() => persist(rd, done), done);
            return;
          }
          persist(rd, done);
        },
        apply: (entries, confChanges) => this.applier.apply(entries, confChanges),
        onSoftState: (ss) => this.onSoftState(ss),
        onReadStates: (rs) => this.reads.onReadStates(rs),
        send: (messages) => this.peers.send(messages),
        persisted: (seconds) => this.stats.walFsync(seconds),
        fatal: (err) => this.fail(err),
      },
    });
    const leaderKnown = (): boolean => this.softState.lead !== NONE;
    const assertServing = (): void => this.assertServing();
    const isLearner = (): boolean => this.isLearner;
    this.proposals = new Proposals({
      memberId, clock, limits: config.limits, stats: this.stats, assertServing, isLearner, leaderKnown,
      overQuota: () => this.overQuota,
      propose: (data) => this.driver.propose(data),
      proposeConfChange: (cc) => this.driver.proposeConfChange(cc),
    });
    this.reads = new LinearizableReads({
      memberId, clock, requestTimeoutMs: config.limits.requestTimeoutMs, assertServing, isLearner, leaderKnown,
      applied: () => this.applier.applied,
      readIndex: (ctx) => this.driver.readIndex(ctx),
    });
    this.cluster = new ClusterService({
      memberId, config, clock, node: this.driver.node, assertServing,
      members: () => this.applier.members,
      confState: () => this.applier.confState,
      leader: () => this.softState.lead,
      header,
      heardSince: (id, since) => this.peers.heardSince(id, since),
      peerConnectedFor: (id) => this.peers.transport?.connectedFor(id) ?? 0,
      proposeConfChange: (type, nodeId, member) => this.proposals.proposeConfChange(type, nodeId, member),
      transferLeader: (to) => this.driver.transferLeader(to),
    });
    this.watchFilterPool = config.workerThreads > 0 ? new WatchFilterPool(clock) : null;
    this.watchHub = new WatchHub(
      {
        revision: () => this.applier.state.revision,
        compactRevision: () => this.applier.state.compactRevision,
        header,
        readEvents: (from, to, max, keep, withPrev, maxBytes) => readEvents(this.storage, from, to, max, keep, withPrev, maxBytes),
        visible: () => this.applier.visible(),
      },
      {
        fragmentBytes: config.limits.requestBytesMax + WATCH_FRAGMENT_SLACK_BYTES,
        progressNotifyIntervalMs: config.watchProgressNotifyIntervalMs,
        filter: this.watchFilterPool,
        clock,
      },
    );
    this.leases = new LeaseService(
      {
        memberId, clock, header,
        isLeader: () => this.isLeader,
        propose: (method, request, caller) => this.proposals.propose(method, request, false, caller),
        read: (read, serializable) => this.readInternal(read, serializable),
      },
      this.lessor,
      config,
    );
    this.readPool = config.workerThreads > 0 ? new ReadPool(storage.dbPath, config.workerThreads, config.limits.txnOpsMax, () => {
      const { revision: _revision, ...rest } = this.header();
      return rest;
    }, clock) : null;
    this.kv = new KvService({
      storage, visible: () => this.applier.visible(), stats: this.stats, proposals: this.proposals, reads: this.reads, readPool: this.readPool, header, assertServing,
    });
    // the Lock and Election services' requests, each checked as the calling client's own would be
    const auth = this.auth;
    this.concurrency = new ConcurrencyService({
      range: async (req, caller) => {
        const c = await caller();
        return checkedRead(auth, c, (who) => checkRange(auth.store, who, req), () => this.kv.range(req));
      },
      txn: async (req, caller) => {
        const c = await caller();
        const run = (): ReturnType<KvService['txn']> => this.kv.txn(req, c ?? ANONYMOUS);
        return isReadOnlyTxn(req) ? checkedRead(auth, c, (who) => checkTxn(auth.store, who, req, (id) => this.lessor.keysOf(id)), run) : run();
      },
      deleteRange: async (req, caller) => this.kv.deleteRange(req, (await caller()) ?? ANONYMOUS),
      leaseGrant: async (req, caller) => this.leases.grant(req, (await caller()) ?? ANONYMOUS),
      leaseRevoke: async (req, caller) => this.leases.revoke(req, (await caller()) ?? ANONYMOUS),
      watch: (sink, caller) => authorizeWatch(auth, caller, false, this.watchHub.openStream(sink), (reason) => sink.send(watchRefusal(this.header(), reason))),
    });
    this.authService = new AuthService({
      auth,
      header,
      read: (read) => this.readInternal(read),
      propose: (method, request, caller: AuthInfo) => this.proposals.propose(method, request, false, caller),
    });
    const batchKeysMax = config.limits.compactionBatchKeysMax;
    this.compactor = new Compactor(
      {
        compactRevision: () => this.applier.state.compactRevision,
        compactedPhysically: () => this.applier.compactedPhysically,
        completed: (revision) => this.physicalCompactionCompleted(revision),
        fail: (err) => this.fail(err),
      },
      config.workerThreads > 0 ? new WorkerThreadSteps(storage.dbPath, batchKeysMax) : new MainThreadSteps(storage, batchKeysMax),
    );
    this.sweep = clock.setInterval(() => {
      this.expireAppliedWaiters();
      this.proposals.expire();
      this.reads.expire();
      if (!this.stopped && this.fatal === null) this.reads.retry();
      this.watchApplyStall();
    }, REQUEST_SWEEP_INTERVAL_MS);
  }

  /** Opens a member on its storage: identity, bootstrap of a new cluster, peer transport, then Raft. */
  static async start(config: Config, storage: Storage, events: ServerEvents = {}, options: ServerOptions = {}): Promise<EtcdServer> {
    const { identity, remote } = await bootstrap(config, storage, options.peerTls ?? null);
    const server = new EtcdServer(config, storage, identity, events, options);
    await server.peers.start(remote);
    server.driver.start();
    server.driver.campaignIfAlone();
    await server.waitForLeaderIfAlone();
    return server;
  }

  /** A one-member cluster elects itself at once: start-up waits for that, so the first request finds a leader. */
  private async waitForLeaderIfAlone(): Promise<void> {
    const voters = this.driver.node.raft.trk.voters;
    const initial = parseInitialCluster(this.config.initialCluster);
    if (voters.size > 1 || (voters.size === 0 && initial.length > 1) || this.config.initialClusterState === 'existing') return;
    // real time, whatever the member's clock: the election runs at once (campaignIfAlone), only its writes take time
    const deadline = performance.now() + this.config.electionTimeoutMs * 5;
    while (this.softState.raftState !== StateType.Leader && performance.now() < deadline && this.fatal === null) {
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  // ---- header and status ----------------------------------------------------------------------------------

  get clusterId(): bigint {
    return this.peers.clusterId;
  }

  header(revision = this.applier.revision): ResponseHeader {
    return { cluster_id: this.peers.clusterId, member_id: this.memberId, revision, raft_term: this.driver.node.raft.term };
  }

  get revision(): number {
    return this.applier.revision;
  }

  get compactRevision(): number {
    return this.applier.state.compactRevision;
  }

  get appliedIndex(): number {
    return this.applier.applied;
  }

  get leader(): bigint {
    return this.softState.lead;
  }

  get isLeader(): boolean {
    return this.softState.raftState === StateType.Leader;
  }

  get isLearner(): boolean {
    return this.applier.confState.learners.includes(this.memberId);
  }

  /** null while the member is alone (a one-member cluster opens no peer port). */
  get transport(): Transport | null {
    return this.peers.transport;
  }

  get raft(): RaftDriver {
    return this.driver;
  }

  get failure(): Error | null {
    return this.fatal;
  }

  /** Live keys (etcd_debugging_mvcc_keys_total): entries of the latest-version table, which holds no tombstones. */
  get keyCount(): number {
    return (this.storage.latest.getStats() as { entryCount?: number }).entryCount ?? 0;
  }

  /** Raft's commit index (etcd_server_proposals_committed_total is this, as a gauge). */
  get committedIndex(): number {
    return this.driver.node.raft.raftLog.committed;
  }

  /** Proposals waiting to be applied (etcd_server_proposals_pending). */
  get pendingProposals(): number {
    return this.proposals.pending;
  }

  /** Whether apply transactions are queued and not yet committed (their events not yet published to watchers). */
  get applyInFlight(): boolean {
    return this.applier.busy;
  }

  private sizeCache = { bytes: 0, at: -Infinity };
  /** Database file size, sampled at most every 100 ms (a stat per request would cost more than the put). */
  private backendBytes(): number {
    const now = this.clock.now();
    if (now - this.sizeCache.at > 100) this.sizeCache = { bytes: databaseSize(this.storage).size, at: now };
    return this.sizeCache.bytes;
  }

  /** Whether the database is over --quota-backend-bytes: puts fail, as under etcd's NOSPACE alarm. */
  get overQuota(): boolean {
    return this.backendBytes() > this.config.limits.backendQuotaBytes;
  }

  status(): StatusResponse {
    const size = databaseSize(this.storage);
    const r = this.driver.node.raft;
    return {
      header: this.header(),
      version: SERVER_VERSION,
      dbSize: size.size,
      leader: r.lead,
      raftIndex: r.raftLog.lastIndex(),
      raftTerm: r.term,
      raftAppliedIndex: this.applier.applied,
      errors: [],
      dbSizeInUse: size.inUse,
      isLearner: this.isLearner,
    };
  }

  /** A read after a ReadIndex round (a serializable read when asked), for the lease service. */
  private readInternal<T>(read: () => T, serializable = false): Promise<T> {
    try {
      this.assertServing();
    } catch (err) {
      return Promise.reject(err);
    }
    return serializable ? Promise.resolve().then(read) : this.reads.read(read);
  }

  // ---- streams ----------------------------------------------------------------------------------------------

  /** A client watch stream (etcd's Watch RPC); learners refuse it as etcd's do. */
  openWatchStream(sink: WatchSink): WatchStream {
    this.assertStreamAllowed();
    return this.watchHub.openStream(sink);
  }

  openKeepAliveStream(sink: StreamSinkLike): StreamHandle {
    this.assertStreamAllowed();
    return this.leases.openKeepAliveStream(sink);
  }

  /** `caller`: resolves the stream's credentials when its request arrives */
  openObserveStream(sink: StreamSinkLike, caller: () => AuthInfo | null | Promise<AuthInfo | null>): StreamHandle {
    this.assertStreamAllowed();
    return this.concurrency.openObserveStream(sink, caller);
  }

  /** Streams (watch, keep-alive, observe): refused by a stopped member and, as etcd's learners do, by a learner. */
  private assertStreamAllowed(): void {
    this.assertServing();
    if (this.isLearner) throw etcdError('NotSupportedForLearner');
  }

  private assertServing(): void {
    if (this.fatal !== null || this.stopped) throw etcdError('Stopped');
  }

  private applyStallWarned = false;

  /**
   * An apply transaction that has not committed within the request timeout holds up every waiter, read and watcher
   * behind it: say so once per stall, with where the indexes stand (a slow disk, or a bug worth a report).
   */
  private watchApplyStall(): void {
    const stall = this.applier.stall();
    if (stall.ms <= this.config.limits.requestTimeoutMs) {
      this.applyStallWarned = false;
      return;
    }
    if (this.applyStallWarned) return;
    this.applyStallWarned = true;
    process.emitWarning(
      `etcd-ts: an apply transaction has waited ${Math.round(stall.ms)} ms for its commit (${stall.inFlight} in flight; ` +
        `queued up to index ${stall.queued}, answered ${stall.answered}, published ${stall.published})`,
    );
  }

  // ---- what applying sets off -----------------------------------------------------------------------------

  /** After the apply transaction of a batch committed: watchers, waiters, reads waiting for the index, compaction. */
  private applied(batch: AppliedBatch): void {
    if (batch.events.length > 0) {
      this.watchHub.onApplied(batch.events);
      this.events.onApplied?.(batch.events, this.applier.state.revision);
    }
    this.reads.onApplied();
    this.releaseAppliedWaiters();
    if (this.applier.state.compactRevision > this.applier.compactedPhysically) {
      if (!this.stopped) this.compactor.resume();
    } else this.releasePhysicalWaiters();
    if (batch.removedSelf) this.fail(new Error(REMOVED_MESSAGE));
  }

  /** After a snapshot from the leader replaced the key space: peers, leases, watchers and compaction follow it. */
  private snapshotInstalled({ revisionBefore }: { revisionBefore: number }): void {
    this.peers.snapshotInstalled(this.applier.members);
    this.lessor.reload();
    this.auth.store.reload(readAuthContents(this.storage.auth));
    if (this.lessor.isPrimary) this.lessor.promote(this.config.electionTimeoutMs);
    this.watchHub.resyncAll(revisionBefore + 1);
    this.compactor.dataReplaced();
  }

  /** Every step of the physical compaction at `revision` is done (see compactor.ts). */
  private async physicalCompactionCompleted(revision: number): Promise<void> {
    if (this.stopped || this.fatal !== null) return;
    await this.applier.recordPhysicalCompaction(revision);
    this.releasePhysicalWaiters();
  }

  private releasePhysicalWaiters(): void {
    if (this.physicalWaiters.length === 0) return;
    const done = this.applier.compactedPhysically;
    const ready = this.physicalWaiters.filter((w) => w.revision <= done);
    this.physicalWaiters = this.physicalWaiters.filter((w) => w.revision > done);
    for (const w of ready) w.answer();
  }

  // ---- Raft role --------------------------------------------------------------------------------------------

  private onSoftState(ss: SoftState): void {
    const wasLeader = this.softState.raftState === StateType.Leader;
    // etcd counts a change to a known leader other than the one it had
    if (ss.lead !== NONE && ss.lead !== this.softState.lead) this.stats.leaderChanges++;
    this.softState = ss;
    if (!wasLeader && ss.raftState === StateType.Leader) this.lessor.promote(this.config.electionTimeoutMs);
    else if (wasLeader && ss.raftState !== StateType.Leader) this.lessor.demote();
    // Reads waiting on a ReadIndex round of a deposed or unknown leader never get an answer: retry them.
    if (ss.lead === NONE || (wasLeader && ss.raftState !== StateType.Leader)) this.reads.leaderLost();
    if (ss.lead !== NONE) {
      this.proposals.leaderFound();
      this.reads.leaderFound();
      this.publishAttributes();
    }
  }

  private attributesPublished = false;
  private binaryURLs: string[] | null = null;

  /** Like etcd's publish: once there is a leader, record this member's name and client URLs in the cluster. */
  private publishAttributes(): void {
    if (this.attributesPublished || this.binaryURLs === null) return;
    const self = this.applier.members[this.memberId.toString()];
    const binaryURLs = this.binaryURLs;
    const clientURLs = [...this.config.advertiseClientUrls];
    this.attributesPublished = true;
    if (self && self.name === this.config.name && sameList(self.clientURLs, clientURLs) && sameList(self.binaryURLs, binaryURLs)) return;
    this.proposals.propose('MemberAttributes', { id: this.memberId.toString(), name: this.config.name, clientURLs, binaryURLs }).catch(() => {
      this.attributesPublished = false;
    });
  }

  /** Where this member serves the binary protocol, set by the front end once it listens. */
  setBinaryURLs(urls: string[]): void {
    this.binaryURLs = urls;
    if (this.softState.lead !== NONE) this.publishAttributes();
  }

  // ---- lifecycle --------------------------------------------------------------------------------------------

  /** A fatal error: every pending request fails with `server stopped` and the member stops serving. */
  private fail(err: unknown): void {
    if (this.fatal !== null) return;
    this.fatal = err instanceof Error ? err : new Error(String(err));
    this.failPending(etcdError('Stopped'));
    if (this.events.onFatal) this.events.onFatal(this.fatal);
    else process.emitWarning(`etcd-ts: member stopped serving: ${this.fatal.stack ?? this.fatal.message}`);
  }

  private failPending(err: EtcdError): void {
    this.proposals.failAll(err);
    this.reads.failAll(err);
    // compactions waiting for their physical step will not get it
    for (const w of this.physicalWaiters) w.answer();
    this.physicalWaiters = [];
    for (const w of this.appliedWaiters.splice(0)) w.settle(false);
  }

  /** Resolves true once this member has applied `index`; false after the request timeout (or when it stops). */
  private waitApplied(index: number): Promise<boolean> {
    if (this.applier.appliedInTransaction >= index) return Promise.resolve(true);
    if (this.stopped || this.fatal !== null) return Promise.resolve(false);
    return new Promise((settle) => this.appliedWaiters.push({ index, deadline: this.clock.now() + this.config.limits.requestTimeoutMs, settle }));
  }

  private releaseAppliedWaiters(): void {
    if (this.appliedWaiters.length === 0) return;
    const applied = this.applier.appliedInTransaction;
    const ready = this.appliedWaiters.filter((w) => w.index <= applied);
    if (ready.length === 0) return;
    this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > applied);
    for (const w of ready) w.settle(true);
  }

  private expireAppliedWaiters(): void {
    if (this.appliedWaiters.length === 0) return;
    const now = this.clock.now();
    const expired = this.appliedWaiters.filter((w) => w.deadline <= now);
    if (expired.length === 0) return;
    this.appliedWaiters = this.appliedWaiters.filter((w) => w.deadline > now);
    for (const w of expired) w.settle(false);
  }

  /** Stops Raft and the transport, lets the Ready in progress finish, and leaves storage to its owner. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clock.clear(this.sweep);
    await this.readPool?.close();
    await this.compactor.close();
    this.watchHub.close();
    await this.watchFilterPool?.close();
    this.leases.close();
    this.concurrency.close();
    this.auth.close();
    await this.driver.stop();
    await this.applier.whenIdle();
    await this.peers.close();
    this.failPending(etcdError('Stopped'));
    await this.storage.env.flushed;
  }
}

/** A JWT key file (--auth-token's pub-key and priv-key), read at start-up; errors in Go's words, as etcd logs them. */
function readKeyFile(path: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (err) {
    throw goReadFileError(path, err as NodeJS.ErrnoException);
  }
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}
