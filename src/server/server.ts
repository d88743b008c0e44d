// EtcdServer: one member. Owns the write path (propose -> Raft -> persist -> commit -> apply -> respond), the read
// path (serializable: local; linearizable: after a ReadIndex round and the apply wait), membership, compaction
// scheduling and status. Front ends call it with typed requests and get typed responses or EtcdErrors.
//
// The order of every Raft Ready is kept by raft-driver.ts. Applying a batch of committed entries is one LMDB
// transaction that also records the applied index, the configuration and the member list, so a crash neither loses
// an acknowledged write nor applies one twice. Waiters resolve only after that transaction.

import { Packr, Unpackr } from 'msgpackr';
import { RAFT_INFLIGHT_MESSAGES_MAX, RAFT_MESSAGE_BYTES_MAX, WATCH_FRAGMENT_SLACK_BYTES, WORKER_POINT_READS_INLINE, type Config } from '../config/index.js';
import { etcdError, EtcdError } from '../errors/index.js';
import {
  decodeCompaction,
  decodeDeleteRange,
  decodePut,
  decodeTxn,
  type CompactionRequest,
  type CompactionResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type MemberAddRequest,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteRequest,
  type MemberPromoteResponse,
  type MemberRemoveRequest,
  type MemberRemoveResponse,
  type MemberUpdateRequest,
  type MemberUpdateResponse,
  type MoveLeaderRequest,
  type MoveLeaderResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type LeaseLeasesResponse,
  type LockRequest,
  type LockResponse,
  type UnlockRequest,
  type UnlockResponse,
  type CampaignRequest,
  type CampaignResponse,
  type ProclaimRequest,
  type ProclaimResponse,
  type LeaderRequest,
  type LeaderResponse,
  type ResignRequest,
  type ResignResponse,
} from '../proto/index.js';
import {
  compactLogical,
  isReadOnlyTxn,
  isSerializableTxn,
  MvccTxn,
  readEvents,
  range,
  type MvccEvent,
  type MvccState,
} from '../mvcc/index.js';
import {
  bootstrapEntries,
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  ProposalDroppedError,
  StateType,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SoftState,
} from '../raft/index.js';
import { encodeConfChange } from '../raft/rawnode.js';
import { databaseSize, readPersistedState, type PersistedState, type Storage } from '../storage/index.js';
import { confStateFromStored, confStateToStored, LmdbRaftStorage } from '../storage/raft-storage.js';
import { lmdbPersist } from '../storage/raft-persist.js';
import { systemClock } from '../clock/index.js';
import { clusterFromRemotePeers, Transport, type PeerMemberInfo, type RemoteCluster } from '../transport/index.js';
import { monotonicNow } from './clock.js';
import { computeClusterId, computeMemberId, parseInitialCluster } from './identity.js';
import { decodeConfContext, encodeConfContext, readMembers, sortedMembers, toApiMember, type MemberRecord, type Members } from './membership.js';
import { RaftDriver } from './raft-driver.js';
import { produceSnapshotData, installSnapshotData } from './snapshot.js';
import { WatchFilterPool, WatchHub, type WatchSink, type WatchStream } from '../watch/index.js';
import { Lessor, type LeaseCheckpoint } from '../lease/index.js';
import { LeaseService } from './lease-service.js';
import { EncodedResponse, isPointRead, ReadPool, type WorkerReadMethod } from './read-pool.js';
import { ConcurrencyService } from './concurrency.js';
import { countTxn, PeerRoundTrips, ServerStats } from './stats.js';
import { Compactor, MainThreadSteps, WorkerThreadSteps } from './compactor.js';

export const SERVER_VERSION = '3.4.0';

/** How a stream handler answers its client (the binary protocol's StreamSink, a WebSocket later). */
export interface StreamSinkLike {
  send(response: unknown): void;
  end(err?: EtcdError): void;
  pendingBytes(): number;
}

type WriteMethod = 'Put' | 'DeleteRange' | 'Txn' | 'Compact' | 'MemberAttributes' | 'LeaseGrant' | 'LeaseRevoke' | 'LeaseKeepAlive' | 'LeaseCheckpoint';

interface Waiter {
  resolve(response: unknown): void;
  reject(err: Error): void;
  proposedAt: number;
  /** Compact with physical=true: respond once history below the revision is gone */
  physical?: boolean;
}

interface PendingRead {
  run(): void;
  fail(err: Error): void;
  queuedAt: number;
}

interface Identity {
  cluster_id: string;
  member_id: string;
  name: string;
}

export interface ServerEvents {
  /** called after each applied batch with the events it produced (watch hub hook) */
  onApplied?: (events: MvccEvent[], revision: number) => void;
  /** the member cannot go on (storage failure, or it was removed from the cluster): the process should exit */
  onFatal?: (err: Error) => void;
}

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'number' });

/** A process-unique run id: proposal ids restart with the process, so waiters match (member, run, id). */
const RUN_ID = (process.pid * 65_537 + Math.floor(performance.timeOrigin)) >>> 0;
/** etcd's readIndexRetryTime: how long a ReadIndex request may go unanswered before it is sent again */
const READ_INDEX_RETRY_MS = 500;

export class EtcdServer {
  clusterId: bigint;
  readonly memberId: bigint;
  private readonly state: MvccState;
  private applied: number;
  private compactedPhysically: number;
  private confState: ConfState;
  private members: Members;
  private nextProposalId = 1;
  private readonly waiters = new Map<number, Waiter>();
  private stopped = false;
  private fatal: Error | null = null;
  /** physical compaction: in its own worker thread with --worker-threads > 0, else on the main thread */
  readonly compactor: Compactor;
  private physicalWaiters: { revision: number; resolve: () => void }[] = [];
  private readonly timeoutSweep: NodeJS.Timeout;
  private readonly raftStorage: LmdbRaftStorage;
  readonly watchHub: WatchHub;
  /** a worker thread matching applied events against large watcher sets (null with --worker-threads 0) */
  readonly watchFilterPool: WatchFilterPool | null;
  readonly lessor: Lessor;
  private readonly leases: LeaseService;
  /** worker threads for range reads (null with --worker-threads 0) */
  readonly readPool: ReadPool | null;
  private readonly concurrency: ConcurrencyService;
  private readonly driver: RaftDriver;
  transport: Transport | null = null;
  private softState: SoftState = { lead: NONE, raftState: StateType.Follower };
  // linearizable reads: one ReadIndex round per batch of reads
  private readBatch: PendingRead[] = [];
  private readInFlight: { ctx: number; reads: PendingRead[]; sentAt: number } | null = null;
  private readSeq = 0;
  private readonly applyWaits: { index: number; run: () => void }[] = [];
  /** counters and timing hooks read by /metrics (src/metrics) */
  readonly stats = new ServerStats();
  private readonly roundTrips: PeerRoundTrips;

  private constructor(
    readonly config: Config,
    private readonly storage: Storage,
    identity: Identity,
    persisted: PersistedState,
    private readonly events: ServerEvents,
  ) {
    this.clusterId = BigInt(identity.cluster_id);
    this.memberId = BigInt(identity.member_id);
    this.state = { revision: persisted.revision, compactRevision: persisted.compactRevision };
    this.applied = persisted.applied;
    this.compactedPhysically = persisted.compactedPhysically;
    this.confState = confStateFromStored(storage.meta.get('confstate') as { voters: string[]; learners: string[] } | undefined);
    this.members = readMembers(storage);
    this.raftStorage = new LmdbRaftStorage(storage, () => this.snapshotForRaft());
    const ticks = Math.max(2, Math.round(config.electionTimeoutMs / config.heartbeatIntervalMs));
    this.roundTrips = new PeerRoundTrips(this.stats, monotonicNow, config.electionTimeoutMs);
    this.driver = new RaftDriver({
      memberId: this.memberId,
      raftStorage: this.raftStorage,
      applied: this.applied,
      confState: this.confState,
      electionTicks: ticks,
      heartbeatTicks: 1,
      tickMs: config.heartbeatIntervalMs,
      maxSizePerMsg: RAFT_MESSAGE_BYTES_MAX,
      maxInflightMsgs: RAFT_INFLIGHT_MESSAGES_MAX,
      random: Math.random,
      clock: systemClock,
      defer: (run) => setImmediate(run),
      ports: {
        persist: lmdbPersist(storage, this.raftStorage, (snapshot) => this.installSnapshot(snapshot)),
        apply: (entries, confChanges) => this.applyEntries(entries, confChanges),
        onSoftState: (ss) => this.onSoftState(ss),
        onReadStates: (rs) => this.onReadStates(rs),
        send: (messages) => this.sendToPeers(messages),
        persisted: (seconds) => this.stats.walFsync(seconds),
        fatal: (err) => this.fail(err),
      },
    });
    this.watchFilterPool = config.workerThreads > 0 ? new WatchFilterPool() : null;
    this.watchHub = new WatchHub(
      {
        revision: () => this.state.revision,
        compactRevision: () => this.state.compactRevision,
        header: (rev) => this.header(rev),
        readEvents: (from, to, max, keep, withPrev, maxBytes) => readEvents(this.storage, from, to, max, keep, withPrev, maxBytes),
      },
      {
        fragmentBytes: config.limits.requestBytesMax + WATCH_FRAGMENT_SLACK_BYTES,
        progressNotifyIntervalMs: config.watchProgressNotifyIntervalMs,
        filter: this.watchFilterPool,
      },
    );
    this.lessor = new Lessor(storage.leases, monotonicNow, Math.ceil((1.5 * config.electionTimeoutMs) / 1000));
    this.leases = new LeaseService(this, this.lessor, config);
    this.concurrency = new ConcurrencyService(this);
    this.readPool = config.workerThreads > 0 ? new ReadPool(storage.dbPath, config.workerThreads, config.limits.txnOpsMax, () => {
      const { revision: _revision, ...header } = this.header();
      return header;
    }) : null;
    const batchKeysMax = config.limits.compactionBatchKeysMax;
    this.compactor = new Compactor(
      {
        compactRevision: () => this.state.compactRevision,
        compactedPhysically: () => this.compactedPhysically,
        completed: (revision) => this.physicalCompactionCompleted(revision),
        fail: (err) => this.fail(err),
      },
      config.workerThreads > 0 ? new WorkerThreadSteps(storage.dbPath, batchKeysMax) : new MainThreadSteps(storage, batchKeysMax),
    );
    this.timeoutSweep = setInterval(() => {
      this.expireWaiters();
      this.retryReadRound();
    }, 250);
    this.timeoutSweep.unref();
  }

  /** Opens a member on its storage: identity, bootstrap of a new cluster, peer transport, then Raft. */
  static async start(config: Config, storage: Storage, events: ServerEvents = {}): Promise<EtcdServer> {
    let identity = storage.meta.get('identity') as Identity | undefined;
    let remote: RemoteCluster | null = null;
    if (identity === undefined) {
      const initial = parseInitialCluster(config.initialCluster);
      const self = initial.find((m) => m.name === config.name);
      if (self === undefined) throw new Error(`couldn't find local name "${config.name}" in the initial cluster configuration`);
      const advertised = [...config.initialAdvertisePeerUrls].sort().join(',');
      if ([...self.peerUrls].sort().join(',') !== advertised) {
        throw new Error(
          `--initial-cluster has ${config.name}=${self.peerUrls.join(',')} but missing from --initial-advertise-peer-urls=${config.initialAdvertisePeerUrls.join(',')} ("${[...self.peerUrls].sort().join(',')}"(resolved from "${self.peerUrls.join(',')}") != "${advertised}"(resolved from "${config.initialAdvertisePeerUrls.join(',')}"))`,
        );
      }
      const ids = initial.map((m) => computeMemberId(m.peerUrls, config.initialClusterToken));
      let memberId = computeMemberId(self.peerUrls, config.initialClusterToken);
      let clusterId = computeClusterId(ids);
      const peerUrls = initial.filter((m) => m.name !== config.name).flatMap((m) => m.peerUrls);
      if (config.initialClusterState === 'existing') {
        remote = await clusterFromRemotePeers(peerUrls, Math.max(1000, config.electionTimeoutMs));
        if (remote === null) throw new Error('cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs');
        memberId = validateAgainstCluster(initial, config.name, remote);
        clusterId = remote.clusterId;
      } else if (peerUrls.length > 0) {
        // etcd's isMemberBootstrapped: a started member that lost its data must not bootstrap a second time
        const bootstrapped = await clusterFromRemotePeers(peerUrls, 1000);
        const known = bootstrapped?.members.find((m) => m.id === memberId.toString());
        if (known !== undefined && known.clientURLs.length > 0) throw new Error(`member ${memberId.toString(16)} has already been bootstrapped`);
      }
      identity = {
        cluster_id: clusterId.toString(),
        member_id: memberId.toString(),
        name: config.name,
      };
      const id = identity;
      await storage.meta.transaction(() => {
        storage.meta.put('identity', id);
        if (config.initialClusterState === 'new') {
          // etcd's bootstrap: one committed AddNode per initial member at term 1
          const boot = bootstrapEntries(
            initial.map((m, i) => ({
              id: ids[i]!,
              context: encodeConfContext({
                member: { name: m.name, peerURLs: m.peerUrls, clientURLs: m.name === config.name ? [...config.advertiseClientUrls] : [], binaryURLs: [], isLearner: false },
              }),
            })),
            encodeConfChange,
          );
          const rs = new LmdbRaftStorage(storage, () => {
            throw new Error('no snapshot during bootstrap');
          });
          rs.append(boot.entries);
          rs.setHardState(boot.hardState);
        }
      });
      await storage.meta.flushed;
    }
    const persisted: PersistedState = { ...readPersistedState(storage.meta) };
    const removed = (storage.meta.get('removed') as string[] | undefined) ?? [];
    if (removed.includes(identity.member_id)) throw new Error('the member has been permanently removed from the cluster');
    const server = new EtcdServer(config, storage, identity, persisted, events);
    await server.startTransport(remote);
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
    const deadline = monotonicNow() + this.config.electionTimeoutMs * 5;
    while (this.softState.raftState !== StateType.Leader && monotonicNow() < deadline && this.fatal === null) {
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Peers are reached only when the cluster has (or may get) more than one member. */
  private async startTransport(remote: RemoteCluster | null): Promise<void> {
    const initial = parseInitialCluster(this.config.initialCluster);
    const multi = Object.keys(this.members).length > 1 || initial.length > 1 || this.config.initialClusterState === 'existing';
    if (!multi || this.transport !== null) return;
    const transport = new Transport({
      memberId: this.memberId,
      clusterId: this.clusterId,
      listenUrls: this.config.listenPeerUrls,
      deliver: (m: Message) => {
        this.lastHeard.set(m.from, monotonicNow());
        if (m.type === MessageType.HeartbeatResp) this.roundTrips.answered(m.from);
        this.driver.step(m);
      },
      reportUnreachable: (id) => this.driver.reportUnreachable(id),
      reportSnapshot: (id, failed) => this.driver.reportSnapshot(id, failed),
      onClusterId: (id) => this.adoptClusterId(id),
      isRemoved: (id) => this.removedMembers().has(id.toString()),
      clusterMembers: (): PeerMemberInfo[] =>
        sortedMembers(this.members).map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs })),
      onRemoved: () => this.fail(new Error('the member has been permanently removed from the cluster')),
      warn: (msg) => process.emitWarning(`etcd-ts transport: ${msg}`),
    });
    await transport.listen();
    this.transport = transport;
    // Before the configuration is applied, reach the peers named on the command line.
    const known = new Set(Object.keys(this.members));
    const named = remote?.members.map((m) => ({ id: BigInt(m.id), urls: m.peerURLs })) ??
      initial.map((m) => ({ id: computeMemberId(m.peerUrls, this.config.initialClusterToken), urls: m.peerUrls }));
    for (const m of named) if (!known.has(m.id.toString())) transport.addPeer(m.id, m.urls);
    for (const m of Object.values(this.members)) transport.addPeer(BigInt(m.id), m.peerURLs);
  }

  private sendToPeers(messages: Message[]): void {
    const transport = this.transport;
    if (transport === null) return;
    for (const m of messages) if (m.type === MessageType.Heartbeat) this.roundTrips.sent(m.to);
    transport.send(messages);
  }

  private removedCache: Set<string> | null = null;
  /** IDs removed from the cluster (etcd keeps them too): they may never come back. */
  private removedMembers(): Set<string> {
    this.removedCache ??= new Set((this.storage.meta.get('removed') as string[] | undefined) ?? []);
    return this.removedCache;
  }

  private adoptClusterId(id: bigint): void {
    if (this.clusterId !== 0n) return;
    this.clusterId = id;
    const identity = this.storage.meta.get('identity') as Identity;
    this.storage.meta.put('identity', { ...identity, cluster_id: id.toString() });
  }

  // ---- header and status ----------------------------------------------------------------------------------

  header(revision = this.state.revision): ResponseHeader {
    return { cluster_id: this.clusterId, member_id: this.memberId, revision, raft_term: this.driver.node.raft.term };
  }

  /** etcd's Cluster service leaves the header's revision at 0. */
  private memberHeader(): ResponseHeader {
    return { ...this.header(), revision: 0 };
  }

  get revision(): number {
    return this.state.revision;
  }

  get compactRevision(): number {
    return this.state.compactRevision;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get leader(): bigint {
    return this.softState.lead;
  }

  get isLearner(): boolean {
    return this.confState.learners.includes(this.memberId);
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
    return this.waiters.size;
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
      raftAppliedIndex: this.applied,
      errors: [],
      dbSizeInUse: size.inUse,
      isLearner: this.isLearner,
    };
  }

  memberList(): MemberRecord[] {
    return sortedMembers(this.members);
  }

  // ---- membership (etcd's Cluster service) ------------------------------------------------------------------

  memberListResponse(): MemberListResponse {
    this.assertServing();
    return { header: this.memberHeader(), members: sortedMembers(this.members).map(toApiMember) };
  }

  memberAdd(req: MemberAddRequest): Promise<MemberAddResponse> {
    const urls = [...req.peerURLs].sort();
    if (urls.length === 0 || !urls.every(isValidPeerUrl)) return Promise.reject(etcdError('MemberBadURLs'));
    const inUse = new Set(Object.values(this.members).flatMap((m) => m.peerURLs));
    if (urls.some((u) => inUse.has(u))) return Promise.reject(etcdError('PeerURLExist'));
    if (req.isLearner && this.confState.learners.length >= LEARNERS_MAX) return Promise.reject(etcdError('TooManyLearners'));
    if (!req.isLearner && !this.enoughStartedAfter(this.confState.voters.length + 1, null)) return Promise.reject(etcdError('MemberNotEnoughStarted'));
    // etcd's NewMember with the current time; the new member, started with --initial-cluster-state existing, looks
    // its ID up from the cluster by its peer URLs.
    const id = computeMemberId(urls, this.config.initialClusterToken, Math.floor(Date.now() / 1000));
    if (this.members[id.toString()] !== undefined) return Promise.reject(etcdError('MemberExist'));
    return this.proposeMembership(req.isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode, id, {
      name: '', peerURLs: urls, clientURLs: [], binaryURLs: [], isLearner: req.isLearner === true,
    }) as Promise<MemberAddResponse>;
  }

  memberRemove(req: MemberRemoveRequest): Promise<MemberRemoveResponse> {
    const m = this.members[req.ID.toString()];
    if (m === undefined) return Promise.reject(etcdError('MemberNotFound'));
    if (!m.isLearner && !this.enoughStartedAfter(this.confState.voters.length - 1, req.ID)) return Promise.reject(etcdError('MemberNotEnoughStarted'));
    return this.proposeMembership(ConfChangeType.RemoveNode, req.ID) as Promise<MemberRemoveResponse>;
  }

  memberUpdate(req: MemberUpdateRequest): Promise<MemberUpdateResponse> {
    const m = this.members[req.ID.toString()];
    if (m === undefined) return Promise.reject(etcdError('MemberNotFound'));
    const urls = [...req.peerURLs].sort();
    if (urls.length === 0 || !urls.every(isValidPeerUrl)) return Promise.reject(etcdError('MemberBadURLs'));
    const inUse = new Set(Object.values(this.members).filter((x) => x.id !== m.id).flatMap((x) => x.peerURLs));
    if (urls.some((u) => inUse.has(u))) return Promise.reject(etcdError('PeerURLExist'));
    return this.proposeMembership(ConfChangeType.UpdateNode, req.ID, { ...m, peerURLs: urls }) as Promise<MemberUpdateResponse>;
  }

  memberPromote(req: MemberPromoteRequest): Promise<MemberPromoteResponse> {
    const m = this.members[req.ID.toString()];
    if (m === undefined) return Promise.reject(etcdError('MemberNotFound'));
    if (!m.isLearner) return Promise.reject(etcdError('MemberNotLearner'));
    const r = this.driver.node.raft;
    if (r.state === StateType.Leader) {
      // etcd's isLearnerReady: the learner has at least 90% of the leader's log
      const pr = r.trk.progress.get(req.ID);
      if (pr === undefined || pr.match < r.raftLog.committed * 0.9) return Promise.reject(etcdError('LearnerNotReady'));
    }
    if (!this.enoughStartedAfter(this.confState.voters.length + 1, null)) return Promise.reject(etcdError('MemberNotEnoughStarted'));
    return this.proposeMembership(ConfChangeType.AddNode, req.ID, { ...m, isLearner: false }) as Promise<MemberPromoteResponse>;
  }

  /** etcd's MoveLeader: only the leader may hand over, to a voting member; waits until the transfer happened. */
  async moveLeader(req: MoveLeaderRequest): Promise<MoveLeaderResponse> {
    this.assertServing();
    const r = this.driver.node.raft;
    if (r.state !== StateType.Leader) throw etcdError('NotLeader');
    if (req.targetID === this.memberId) return { header: this.header() }; // already the leader: etcd answers OK
    if (!r.trk.voters.has(req.targetID)) throw etcdError('BadLeaderTransferee');
    this.driver.transferLeader(req.targetID);
    const deadline = monotonicNow() + this.config.limits.requestTimeoutMs;
    while (this.softState.lead !== req.targetID) {
      if (monotonicNow() > deadline) throw etcdError('Timeout');
      await new Promise((resolve) => setTimeout(resolve, this.config.heartbeatIntervalMs));
    }
    return { header: this.header() };
  }

  /** When each peer was last heard from (etcd's transport keeps the same, as ActiveSince). */
  private readonly lastHeard = new Map<bigint, number>();

  /**
   * etcd's strict reconfiguration check, from the leader's view: after the change, the voters known to be up (heard
   * from within two election timeouts) must still form a quorum of the new voter count. Raft's own check-quorum flags are not used:
   * they are cleared every election timeout and would refuse changes at random right after each reset.
   */
  private enoughStartedAfter(voters: number, removed: bigint | null): boolean {
    // Only the leader hears from every voter; a follower cannot tell, and lets the change through.
    if (this.driver.node.raft.state !== StateType.Leader) return true;
    const since = monotonicNow() - 2 * this.config.electionTimeoutMs;
    let started = 0;
    for (const id of this.confState.voters) {
      if (id === removed) continue;
      if (id === this.memberId || (this.lastHeard.get(id) ?? -Infinity) >= since) started++;
    }
    return started >= Math.floor(voters / 2) + 1;
  }

  private proposeMembership(type: ConfChange['type'], id: bigint, member?: Omit<MemberRecord, 'id'>): Promise<unknown> {
    try {
      this.assertServing();
    } catch (err) {
      return Promise.reject(err);
    }
    const { id: waiter, promise } = this.newWaiter();
    const cc = { type, nodeId: id, context: encodeConfContext({ member, proposer: [this.memberId.toString(), RUN_ID, waiter] }) };
    this.submit(waiter, () => this.driver.proposeConfChange(cc));
    return promise;
  }

  // ---- reads ------------------------------------------------------------------------------------------------

  /** Serializable reads answer from local state; linearizable ones wait for a ReadIndex round and the apply. */
  range(req: RangeRequest): RangeResponse | Promise<RangeResponse> {
    this.assertServing();
    this.stats.ranges++;
    if (req.serializable) return this.rangeLocal(req);
    return this.linearizable(() => this.rangeLocal(req));
  }

  /**
   * A range for a client that takes responses as encoded bytes (the binary front end): evaluated by a worker thread
   * when there are any (serializable at once, linearizable after the ReadIndex wait), else here. `body` is the request
   * as the client sent it, msgpack {method, request}, so that the worker needs no re-encoded copy.
   */
  rangeForClient(req: RangeRequest, body?: Uint8Array): RangeResponse | Promise<RangeResponse | EncodedResponse> {
    this.assertServing();
    // A single-key read costs a couple of microseconds here, less than the two cross-thread wake-ups of a trip
    // through a worker, so only scans go to the workers (BENCHMARKS.md, "Worker threads").
    if (this.readPool === null || (WORKER_POINT_READS_INLINE && isPointRead(req))) return this.range(req);
    this.stats.ranges++;
    const inWorker = this.inWorker('Range', req, body, () => this.rangeLocal(req));
    if (req.serializable) return inWorker();
    return this.linearizable(inWorker) as unknown as Promise<RangeResponse | EncodedResponse>;
  }

  /** A txn for a client that takes encoded responses: one without writes is evaluated as rangeForClient's reads are. */
  txnForClient(req: TxnRequest, body?: Uint8Array): TxnResponse | EncodedResponse | Promise<TxnResponse | EncodedResponse> {
    if (this.readPool === null || !isReadOnlyTxn(req)) return this.txn(req);
    this.assertServing();
    // counted without its branch's ranges: the worker's answer is not decoded here
    this.stats.txns++;
    const inWorker = this.inWorker('Txn', req, body, () => this.txnReadOnly(req).response);
    return isSerializableTxn(req) ? inWorker() : (this.linearizable(inWorker) as unknown as Promise<TxnResponse | EncodedResponse>);
  }

  private inWorker<T>(method: WorkerReadMethod, req: unknown, body: Uint8Array | undefined, local: () => T): () => Promise<T | EncodedResponse> {
    const pool = this.readPool!;
    return () => pool.read(method, body ?? ReadPool.encodeRequest(method, req)).then((encoded) => encoded ?? local());
  }

  private rangeLocal(req: RangeRequest): RangeResponse {
    const r = range(this.storage, this.state, req);
    return { header: this.header(r.revision), kvs: r.kvs, more: r.more, count: r.count };
  }

  private linearizable<T>(read: () => T): Promise<T> {
    if (this.isLearner) return Promise.reject(etcdError('LearnerNotSupported'));
    return new Promise<T>((resolve, reject) => {
      this.readBatch.push({
        run: () => {
          try {
            this.assertServing();
            resolve(read());
          } catch (err) {
            reject(err);
          }
        },
        fail: reject,
        queuedAt: monotonicNow(),
      });
      this.startReadRound();
    });
  }

  private startReadRound(): void {
    if (this.readInFlight !== null || this.readBatch.length === 0) return;
    this.readInFlight = { ctx: ++this.readSeq, reads: this.readBatch, sentAt: 0 };
    this.readBatch = [];
    this.sendReadIndex();
  }

  /** Sends, or sends again, the ReadIndex request of the round in flight. */
  private sendReadIndex(): void {
    const round = this.readInFlight!;
    round.sentAt = monotonicNow();
    // The leader keeps pending ReadIndex requests by context and ignores one whose context is already pending (as
    // etcd-raft does), so contexts must be unique across the cluster: member ID, this run, then the round.
    const buf = Buffer.alloc(20);
    buf.writeBigUInt64BE(BigInt.asUintN(64, this.memberId), 0);
    buf.writeUInt32BE(RUN_ID, 8);
    buf.writeBigUInt64BE(BigInt(round.ctx), 12);
    try {
      this.driver.readIndex(buf);
    } catch (err) {
      this.readInFlight = null;
      if (!(err instanceof ProposalDroppedError)) throw err;
      // No leader yet: keep the reads queued; a new round starts when a leader is known (or they time out).
      this.readBatch.unshift(...round.reads);
    }
  }

  /**
   * Raft never sends a ReadIndex request again, and a follower's request to the leader or the answer can be lost (a
   * dropped message, a peer connection being re-established, a leader that died): without this every linearizable
   * read of the member would wait for the request timeout and fail. As etcd's linearizable read loop does, send it
   * again after READ_INDEX_RETRY_MS under the same context, so the first answer to either counts (either index is
   * fresh enough: both requests were made after every read of the round arrived). Reads left queued behind a round
   * that expired get a round of their own.
   */
  private retryReadRound(): void {
    if (this.stopped || this.fatal !== null) return;
    if (this.readInFlight === null) this.startReadRound();
    else if (monotonicNow() - this.readInFlight.sentAt >= READ_INDEX_RETRY_MS) this.sendReadIndex();
  }

  private onReadStates(states: ReadState[]): void {
    for (const rs of states) {
      const c = Buffer.from(rs.context);
      if (c.length !== 20 || c.readBigUInt64BE(0) !== BigInt.asUintN(64, this.memberId) || c.readUInt32BE(8) !== RUN_ID) continue;
      const ctx = Number(c.readBigUInt64BE(12));
      if (this.readInFlight === null || this.readInFlight.ctx !== ctx) continue;
      const reads = this.readInFlight.reads;
      this.readInFlight = null;
      this.afterApplied(rs.index, () => {
        for (const r of reads) r.run();
      });
      this.startReadRound();
    }
  }

  private afterApplied(index: number, run: () => void): void {
    if (this.applied >= index) run();
    else this.applyWaits.push({ index, run });
  }

  // ---- writes -----------------------------------------------------------------------------------------------

  put(req: PutRequest): Promise<PutResponse> {
    return this.propose('Put', req) as Promise<PutResponse>;
  }

  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.propose('DeleteRange', req) as Promise<DeleteRangeResponse>;
  }

  txn(req: TxnRequest): Promise<TxnResponse> | TxnResponse {
    if (isReadOnlyTxn(req)) {
      this.assertServing();
      const evaluate = (): TxnResponse => {
        const { response, result } = this.txnReadOnly(req);
        countTxn(req, result, this.stats);
        return response;
      };
      return isSerializableTxn(req) ? evaluate() : this.linearizable(evaluate);
    }
    return this.propose('Txn', req) as Promise<TxnResponse>;
  }

  private txnReadOnly(req: TxnRequest): { response: TxnResponse; result: TxnResponse } {
    const r = new MvccTxn(this.storage, { ...this.state }, undefined, true).txn(req);
    return { response: { header: this.header(r.header.revision), succeeded: r.succeeded, responses: r.responses }, result: r };
  }

  compact(req: CompactionRequest): Promise<CompactionResponse> {
    return this.propose('Compact', req, req.physical === true) as Promise<CompactionResponse>;
  }

  private sizeCache = { bytes: 0, at: -Infinity };
  /** Database file size, sampled at most every 100 ms (a stat per request would cost more than the put). */
  private backendBytes(): number {
    const now = monotonicNow();
    if (now - this.sizeCache.at > 100) this.sizeCache = { bytes: databaseSize(this.storage).size, at: now };
    return this.sizeCache.bytes;
  }

  /** Streams (watch, keep-alive, observe): refused by a stopped member and, as etcd's learners do, by a learner. */
  private assertStreamAllowed(): void {
    this.assertServing();
    if (this.isLearner) throw etcdError('LearnerNotSupported');
  }

  private assertServing(): void {
    if (this.fatal !== null || this.stopped) throw etcdError('Stopped');
  }

  private newWaiter(physical = false): { id: number; promise: Promise<unknown> } {
    const id = this.nextProposalId++;
    const promise = new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve, reject, proposedAt: monotonicNow(), physical });
    });
    return { id, promise };
  }

  private rejectWaiter(id: number, err: Error): void {
    const w = this.waiters.get(id);
    if (w === undefined) return;
    this.waiters.delete(id);
    this.stats.proposalsFailed++;
    w.reject(err);
  }

  /** A write through Raft, for the lease and concurrency services. */
  proposeInternal(method: 'LeaseGrant' | 'LeaseRevoke' | 'LeaseKeepAlive' | 'LeaseCheckpoint', request: unknown): Promise<unknown> {
    return this.propose(method, request);
  }

  /** A read after a ReadIndex round (a serializable read when asked), for the lease and concurrency services. */
  readInternal<T>(read: () => T, serializable = false): Promise<T> {
    try {
      this.assertServing();
    } catch (err) {
      return Promise.reject(err);
    }
    return serializable ? Promise.resolve().then(read) : this.linearizable(read);
  }

  get isLeader(): boolean {
    return this.softState.raftState === StateType.Leader;
  }

  private propose(method: WriteMethod, request: unknown, physical = false): Promise<unknown> {
    try {
      this.assertServing();
      // etcd's learners serve serializable reads and status only
      if (this.isLearner && method !== 'MemberAttributes') throw etcdError('LearnerNotSupported');
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.waiters.size >= this.config.limits.proposalsPendingMax) return Promise.reject(etcdError('TooManyRequests'));
    // etcd's quota applier: once the backend is over quota, requests that add data fail; deletes and compaction
    // still go through so an operator can free space.
    if ((method === 'Put' || method === 'LeaseGrant' || (method === 'Txn' && txnHasPut(request as TxnRequest))) && this.backendBytes() > this.config.limits.backendQuotaBytes) {
      return Promise.reject(etcdError('NoSpace'));
    }
    const { id, promise } = this.newWaiter(physical);
    const data = packr.pack([this.memberId, RUN_ID, id, method, request]);
    if (data.length > this.config.limits.requestBytesMax + 64 * 1024) {
      this.rejectWaiter(id, etcdError('RequestTooLarge'));
      return promise;
    }
    this.submit(id, () => this.driver.propose(data));
    return promise;
  }

  /**
   * Hands a proposal to Raft. Without a known leader it waits, as etcd does, until one is elected or the request
   * times out, instead of failing at once during an election.
   */
  private submit(waiter: number, proposeToRaft: () => void): void {
    try {
      proposeToRaft();
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) return this.rejectWaiter(waiter, err as Error);
      if (this.softState.lead === NONE) this.awaitingLeader.push({ waiter, proposeToRaft });
      else this.rejectWaiter(waiter, etcdError('Unhealthy'));
    }
  }

  private awaitingLeader: { waiter: number; proposeToRaft: () => void }[] = [];

  private resubmitAwaitingLeader(): void {
    const queued = this.awaitingLeader;
    this.awaitingLeader = [];
    for (const q of queued) if (this.waiters.has(q.waiter)) this.submit(q.waiter, q.proposeToRaft);
  }

  // ---- apply ------------------------------------------------------------------------------------------------

  /** Step 3 of a Ready: one LMDB transaction for the batch, the applied index, the configuration and members. */
  private applyEntries(batch: Entry[], confChanges: Map<number, { cc: ConfChange; confState: ConfState }>): void {
    const pending = batch.filter((e) => e.index > this.applied);
    if (pending.length === 0) return;
    if (pending[0]!.index !== this.applied + 1) {
      throw new Error(`assertion failed: applying index ${pending[0]!.index} after applied ${this.applied}`);
    }
    const results: { id: number; ok: boolean; value: unknown; physical?: number }[] = [];
    const events: MvccEvent[] = [];
    const before = { state: { ...this.state }, applied: this.applied, confState: this.confState, members: this.members };
    let removedSelf = false;
    const commitStart = performance.now();
    try {
      this.storage.env.transactionSync(() => {
        for (const entry of pending) {
          if (entry.type === EntryType.ConfChange) {
            const change = confChanges.get(entry.index)!;
            const r = this.applyConfChange(change.cc, change.confState);
            if (r.removedSelf) removedSelf = true;
            if (r.waiter !== 0) results.push({ id: r.waiter, ok: r.ok, value: r.value });
          } else if (entry.data.length > 0) {
            const [proposer, run, id, method, request] = unpackr.unpack(entry.data) as [bigint | number, number, number, WriteMethod, unknown];
            const result = this.applyEntry(method, request, events);
            const mine = BigInt(proposer) === this.memberId && run === RUN_ID;
            results.push({ id: mine ? id : 0, ...result });
          }
          this.applied = entry.index;
        }
        this.persistState();
      });
    } catch (err) {
      // A broken invariant or a disk error: the transaction was aborted; undo the in-memory state and stop.
      Object.assign(this.state, before.state);
      this.applied = before.applied;
      this.confState = before.confState;
      this.members = before.members;
      throw err;
    }
    this.stats.backendCommit((performance.now() - commitStart) / 1000);
    this.maybeCompactLog();
    if (events.length > 0) {
      this.watchHub.onApplied(events);
      this.events.onApplied?.(events, this.state.revision);
    }
    for (const r of results) {
      const waiter = this.waiters.get(r.id);
      if (waiter === undefined) continue; // proposed by another member or run, or timed out
      this.waiters.delete(r.id);
      if (!r.ok) waiter.reject(r.value as Error);
      else if (r.physical !== undefined && waiter.physical) {
        const revision = r.physical;
        this.physicalWaiters.push({ revision, resolve: () => waiter.resolve(r.value) });
      } else waiter.resolve(r.value);
    }
    while (this.applyWaits.length > 0) {
      const ready = this.applyWaits.filter((w) => w.index <= this.applied);
      if (ready.length === 0) break;
      for (const w of ready) this.applyWaits.splice(this.applyWaits.indexOf(w), 1);
      for (const w of ready) w.run();
    }
    if (this.state.compactRevision > this.compactedPhysically) this.resumePhysicalCompaction();
    else this.releasePhysicalWaiters();
    if (removedSelf) this.fail(new Error('the member has been permanently removed from the cluster'));
  }

  private persistState(): void {
    this.storage.meta.putSync('state', {
      applied: this.applied,
      revision: this.state.revision,
      compactRevision: this.state.compactRevision,
      compactedPhysically: this.compactedPhysically,
    } satisfies PersistedState);
  }

  private applyEntry(method: WriteMethod, request: unknown, events: MvccEvent[]): { ok: boolean; value: unknown; physical?: number } {
    const txn = new MvccTxn(this.storage, this.state, this.lessor);
    try {
      let response: unknown;
      switch (method) {
        case 'Put': {
          const req = decodePut(request);
          txn.checkPut(req, true);
          const r = txn.put(req);
          this.stats.puts++;
          response = { ...r, header: this.header(r.header.revision) };
          break;
        }
        case 'DeleteRange': {
          const r = txn.deleteRange(decodeDeleteRange(request));
          this.stats.deletes++;
          response = { ...r, header: this.header(r.header.revision) };
          break;
        }
        case 'Txn': {
          const req = decodeTxn(request);
          const r = txn.txn(req);
          countTxn(req, r, this.stats);
          response = { ...r, header: this.header(r.header.revision) };
          break;
        }
        case 'Compact': {
          const req = decodeCompaction(request);
          compactLogical(this.state, req.revision);
          return { ok: true, value: { header: this.header() }, physical: req.revision };
        }
        case 'MemberAttributes': {
          const m = request as Partial<MemberRecord> & { id: string };
          const existing = this.members[m.id];
          if (existing !== undefined) {
            this.members = { ...this.members, [m.id]: { ...existing, name: m.name ?? existing.name, clientURLs: m.clientURLs ?? existing.clientURLs, binaryURLs: m.binaryURLs ?? existing.binaryURLs } };
            this.storage.meta.putSync('members', this.members);
          }
          return { ok: true, value: { header: this.header() } };
        }
        case 'LeaseGrant': {
          const { ID, TTL } = request as { ID: number | bigint; TTL: number };
          const ttl = this.lessor.grant(BigInt(ID), TTL);
          return { ok: true, value: { header: this.header(), ID: BigInt(ID), TTL: ttl } };
        }
        case 'LeaseRevoke': {
          // every attached key goes in one revision, one DELETE event each; a revocation for expiry carries the
          // renewals the leader saw, and is dropped if the lease was kept alive since
          const { ID, renewals } = request as { ID: number | bigint; renewals?: number };
          const keys = this.lessor.revoke(BigInt(ID), renewals);
          if (keys === null) return { ok: true, value: { header: this.header() } };
          for (const key of keys) txn.deleteRange({ key });
          response = { header: this.header(txn.changed ? txn.beginRevision + 1 : txn.beginRevision) };
          break;
        }
        case 'LeaseKeepAlive': {
          const ids = (request as { IDs: (number | bigint)[] }).IDs;
          return { ok: true, value: ids.map((id) => this.lessor.keepAlive(BigInt(id))) };
        }
        case 'LeaseCheckpoint': {
          const cps = (request as { checkpoints: { ID: number | bigint; remaining_TTL: number; renewals?: number }[] }).checkpoints;
          this.lessor.checkpoint(cps.map((c): LeaseCheckpoint => ({ ID: BigInt(c.ID), remaining_TTL: c.remaining_TTL, renewals: c.renewals })));
          return { ok: true, value: { header: this.header() } };
        }
        default:
          throw new Error(`assertion failed: unknown entry method ${String(method)}`);
      }
      txn.end();
      events.push(...txn.events);
      return { ok: true, value: response };
    } catch (err) {
      if (err instanceof EtcdError && !txn.changed) return { ok: false, value: err };
      throw err;
    }
  }

  private applyConfChange(cc: ConfChange, confState: ConfState): { waiter: number; ok: boolean; value: unknown; removedSelf: boolean } {
    const ctx = decodeConfContext(cc.context);
    const key = cc.nodeId.toString();
    const members = { ...this.members };
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode: {
        const existing = members[key];
        const isLearner = cc.type === ConfChangeType.AddLearnerNode;
        members[key] = existing
          ? { ...existing, isLearner }
          : { id: key, name: ctx.member?.name ?? '', peerURLs: ctx.member?.peerURLs ?? [], clientURLs: ctx.member?.clientURLs ?? [], binaryURLs: ctx.member?.binaryURLs ?? [], isLearner };
        if (cc.nodeId !== this.memberId) this.transport?.addPeer(cc.nodeId, members[key]!.peerURLs);
        break;
      }
      case ConfChangeType.RemoveNode:
        delete members[key];
        this.removedMembers().add(key);
        this.storage.meta.putSync('removed', [...this.removedMembers()]);
        if (cc.nodeId !== this.memberId) this.transport?.removePeer(cc.nodeId);
        break;
      case ConfChangeType.UpdateNode: {
        const existing = members[key];
        if (existing && ctx.member) members[key] = { ...existing, peerURLs: ctx.member.peerURLs };
        if (existing && ctx.member && cc.nodeId !== this.memberId) this.transport?.addPeer(cc.nodeId, ctx.member.peerURLs);
        break;
      }
      default:
        break;
    }
    this.members = members;
    this.confState = confState;
    this.storage.meta.putSync('members', members);
    this.storage.meta.putSync('confstate', confStateToStored(confState));
    const [proposer, run, id] = ctx.proposer ?? ['0', 0, 0];
    const mine = proposer === this.memberId.toString() && run === RUN_ID;
    return {
      waiter: mine ? id : 0,
      ok: true,
      value: { header: this.memberHeader(), members: sortedMembers(members).map(toApiMember), member: members[key] ? toApiMember(members[key]!) : undefined },
      removedSelf: cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.memberId,
    };
  }

  // ---- snapshots and log compaction -------------------------------------------------------------------------

  /** What Raft sends a member that is behind the log: the key space at the applied index. */
  private snapshotForRaft(): Snapshot {
    const index = this.applied;
    return {
      metadata: { index, term: this.raftStorage.term(index), confState: { voters: [...this.confState.voters], learners: [...this.confState.learners] } },
      data: produceSnapshotData(this.storage),
    };
  }

  private installSnapshot(snapshot: Snapshot): void {
    const revisionBefore = this.state.revision;
    this.storage.env.transactionSync(() => {
      const installed = installSnapshotData(this.storage, snapshot.data, snapshot.metadata.index);
      this.state.revision = installed.state.revision;
      this.state.compactRevision = installed.state.compactRevision;
      this.compactedPhysically = installed.state.compactedPhysically;
      this.applied = snapshot.metadata.index;
      this.members = installed.members;
      this.removedCache = null;
      this.confState = snapshot.metadata.confState;
      this.storage.meta.putSync('confstate', confStateToStored(this.confState));
      this.persistState();
    });
    this.raftStorage.resetToSnapshot({ index: snapshot.metadata.index, term: snapshot.metadata.term, confState: confStateToStored(snapshot.metadata.confState) });
    for (const m of Object.values(this.members)) if (BigInt(m.id) !== this.memberId) this.transport?.addPeer(BigInt(m.id), m.peerURLs);
    this.lessor.reload();
    if (this.lessor.isPrimary) this.lessor.promote(this.config.electionTimeoutMs);
    this.watchHub.resyncAll(revisionBefore + 1);
    this.compactor.dataReplaced();
  }

  // ---- lease, lock and election services ---------------------------------------------------------------------

  leaseGrant(req: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    return this.leases.grant(req);
  }
  leaseRevoke(req: LeaseRevokeRequest): Promise<LeaseRevokeResponse> {
    return this.leases.revoke(req);
  }
  leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    return this.leases.timeToLive(req);
  }
  leaseLeases(): Promise<LeaseLeasesResponse> {
    return this.leases.list();
  }
  openKeepAliveStream(sink: StreamSinkLike): { handle(r: unknown): void; close(): void } {
    this.assertStreamAllowed();
    return this.leases.openKeepAliveStream(sink);
  }
  lock(req: LockRequest, signal?: AbortSignal): Promise<LockResponse> {
    return this.concurrency.lock(req, signal);
  }
  unlock(req: UnlockRequest): Promise<UnlockResponse> {
    return this.concurrency.unlock(req);
  }
  campaign(req: CampaignRequest, signal?: AbortSignal): Promise<CampaignResponse> {
    return this.concurrency.campaign(req, signal);
  }
  proclaim(req: ProclaimRequest): Promise<ProclaimResponse> {
    return this.concurrency.proclaim(req);
  }
  electionLeader(req: LeaderRequest): Promise<LeaderResponse> {
    return this.concurrency.leader(req);
  }
  resign(req: ResignRequest): Promise<ResignResponse> {
    return this.concurrency.resign(req);
  }
  openObserveStream(sink: StreamSinkLike): { handle(r: unknown): void; close(): void } {
    this.assertStreamAllowed();
    return this.concurrency.openObserveStream(sink);
  }

  // ---- watch ------------------------------------------------------------------------------------------------

  /** A client watch stream (etcd's Watch RPC); learners refuse it as etcd's do. */
  openWatchStream(sink: WatchSink): WatchStream {
    this.assertStreamAllowed();
    return this.watchHub.openStream(sink);
  }

  /** Every --snapshot-count applied entries, the log before (applied - retained entries) is discarded. */
  private maybeCompactLog(): void {
    const keep = this.config.limits.logEntriesRetained;
    const target = this.applied - keep;
    if (target - this.raftStorage.snapshotIndex >= Math.min(this.config.snapshotCount, 10_000)) {
      this.raftStorage.compact(target, this.confState, this.config.limits.compactionBatchKeysMax);
    } else if (this.raftStorage.firstIndex() > 1) {
      this.raftStorage.trim(this.config.limits.compactionBatchKeysMax);
    }
  }

  // ---- Raft state -------------------------------------------------------------------------------------------

  private onSoftState(ss: SoftState): void {
    const wasLeader = this.softState.raftState === StateType.Leader;
    // etcd counts a change to a known leader other than the one it had
    if (ss.lead !== NONE && ss.lead !== this.softState.lead) this.stats.leaderChanges++;
    this.softState = ss;
    if (!wasLeader && ss.raftState === StateType.Leader) this.lessor.promote(this.config.electionTimeoutMs);
    else if (wasLeader && ss.raftState !== StateType.Leader) this.lessor.demote();
    if (ss.lead === NONE || (wasLeader && ss.raftState !== StateType.Leader)) {
      // Reads waiting on a ReadIndex round of a deposed or unknown leader never get an answer: retry them.
      if (this.readInFlight !== null) {
        this.readBatch.unshift(...this.readInFlight.reads);
        this.readInFlight = null;
      }
    }
    if (ss.lead !== NONE) {
      this.resubmitAwaitingLeader();
      this.startReadRound();
      this.publishAttributes();
    }
  }

  private attributesPublished = false;
  /** Like etcd's publish: once there is a leader, record this member's name and client URLs in the cluster. */
  private publishAttributes(): void {
    if (this.attributesPublished || this.binaryURLs === null) return;
    const self = this.members[this.memberId.toString()];
    const binaryURLs = this.binaryURLs;
    if (self && self.name === this.config.name && sameList(self.clientURLs, [...this.config.advertiseClientUrls]) && sameList(self.binaryURLs, binaryURLs)) {
      this.attributesPublished = true;
      return;
    }
    this.attributesPublished = true;
    this.propose('MemberAttributes', { id: this.memberId.toString(), name: this.config.name, clientURLs: [...this.config.advertiseClientUrls], binaryURLs }).catch(() => {
      this.attributesPublished = false;
    });
  }

  private binaryURLs: string[] | null = null;
  /** Where this member serves the binary protocol, set by the front end once it listens. */
  setBinaryURLs(urls: string[]): void {
    this.binaryURLs = urls;
    if (this.softState.lead !== NONE) this.publishAttributes();
  }

  // ---- physical compaction ----------------------------------------------------------------------------------

  private resumePhysicalCompaction(): void {
    if (!this.stopped) this.compactor.resume();
  }

  /** Every step of the physical compaction at `revision` is done (see compactor.ts). */
  private physicalCompactionCompleted(revision: number): void {
    if (this.stopped || this.fatal !== null) return;
    // a snapshot installed meanwhile may have brought a newer completed compaction
    this.compactedPhysically = Math.max(this.compactedPhysically, revision);
    this.storage.env.transactionSync(() => this.persistState());
    this.releasePhysicalWaiters();
  }

  private releasePhysicalWaiters(): void {
    if (this.physicalWaiters.length === 0) return;
    const ready = this.physicalWaiters.filter((w) => w.revision <= this.compactedPhysically);
    this.physicalWaiters = this.physicalWaiters.filter((w) => w.revision > this.compactedPhysically);
    for (const w of ready) w.resolve();
  }

  // ---- lifecycle --------------------------------------------------------------------------------------------

  private expireWaiters(): void {
    const deadline = monotonicNow() - this.config.limits.requestTimeoutMs;
    const timeout = etcdError(this.softState.lead === NONE ? 'TimeoutDueToLeaderFail' : 'Timeout');
    const expired = this.readBatch.filter((r) => r.queuedAt <= deadline);
    if (expired.length > 0) {
      this.readBatch = this.readBatch.filter((r) => r.queuedAt > deadline);
      for (const r of expired) r.fail(timeout);
    }
    if (this.readInFlight !== null && this.readInFlight.reads.every((r) => r.queuedAt <= deadline)) {
      for (const r of this.readInFlight.reads) r.fail(timeout);
      this.readInFlight = null;
    }
    for (const [id, waiter] of this.waiters) {
      if (waiter.proposedAt > deadline) break; // insertion order = proposal order
      this.waiters.delete(id);
      this.stats.proposalsFailed++;
      waiter.reject(etcdError(this.softState.lead === NONE ? 'TimeoutDueToLeaderFail' : 'Timeout'));
    }
  }

  private fail(err: unknown): void {
    if (this.fatal !== null) return;
    this.fatal = err instanceof Error ? err : new Error(String(err));
    for (const w of this.waiters.values()) w.reject(etcdError('Stopped'));
    this.waiters.clear();
    this.failReads(etcdError('Stopped'));
    // compactions waiting for their physical step will not get it
    for (const w of this.physicalWaiters) w.resolve();
    this.physicalWaiters = [];
    if (this.events.onFatal) this.events.onFatal(this.fatal);
    else process.emitWarning(`etcd-ts: member stopped serving: ${this.fatal.stack ?? this.fatal.message}`);
  }

  private failReads(err: Error): void {
    const reads = [...this.readBatch, ...(this.readInFlight?.reads ?? [])];
    this.readBatch = [];
    this.readInFlight = null;
    for (const r of reads) r.fail(err);
    for (const w of this.applyWaits.splice(0)) w.run();
  }

  get failure(): Error | null {
    return this.fatal;
  }

  get raft(): RaftDriver {
    return this.driver;
  }

  /** Stops Raft and the transport, lets the Ready in progress finish, and leaves storage to its owner. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timeoutSweep);
    await this.readPool?.close();
    await this.compactor.close();
    this.watchHub.close();
    await this.watchFilterPool?.close();
    this.leases.close();
    this.concurrency.close();
    await this.driver.stop();
    await this.transport?.close();
    for (const w of this.waiters.values()) w.reject(etcdError('Stopped'));
    this.waiters.clear();
    this.failReads(etcdError('Stopped'));
    for (const w of this.physicalWaiters) w.resolve();
    this.physicalWaiters = [];
    await this.storage.env.flushed;
  }
}

/** etcd allows one learner at a time. */
const LEARNERS_MAX = 1;

function isValidPeerUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.port !== '' && url.pathname === '/';
  } catch {
    return false;
  }
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

function txnHasPut(req: TxnRequest): boolean {
  return [...(req.success ?? []), ...(req.failure ?? [])].some((op) => op.request_put !== undefined || (op.request_txn !== undefined && txnHasPut(op.request_txn)));
}

export type { NodeId };

/**
 * etcd's ValidateClusterAndAssignIDs: the --initial-cluster of a member joining an existing cluster must name exactly
 * the cluster's members by peer URLs; the joining member takes its ID from the cluster's record of its peer URLs.
 */
function validateAgainstCluster(initial: { name: string; peerUrls: string[] }[], selfName: string, remote: RemoteCluster): bigint {
  const describe = (): string =>
    `{ClusterID:${remote.clusterId.toString(16)} Members:[${remote.members.map((m) => `&{ID:${BigInt(m.id).toString(16)} Name:${m.name} PeerURLs:[${m.peerURLs.join(' ')}]}`).join(' ')}]}`;
  if (initial.length !== remote.members.length) throw new Error(`error validating peerURLs ${describe()}: member count is unequal`);
  const key = (urls: readonly string[]): string => [...urls].sort().join(',');
  const local = [...initial].sort((a, b) => key(a.peerUrls).localeCompare(key(b.peerUrls)));
  const theirs = [...remote.members].sort((a, b) => key(a.peerURLs).localeCompare(key(b.peerURLs)));
  for (let i = 0; i < local.length; i++) {
    const l = key(local[i]!.peerUrls);
    const r = key(theirs[i]!.peerURLs);
    if (l !== r) throw new Error(`error validating peerURLs ${describe()}: unmatched member while checking PeerURLs ("${l}"(resolved from "${l}") != "${r}"(resolved from "${r}"))`);
  }
  return BigInt(theirs[local.findIndex((m) => m.name === selfName)]!.id);
}
