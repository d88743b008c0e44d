// etcd's Cluster service (MemberList, MemberAdd, MemberRemove, MemberUpdate, MemberPromote) and MoveLeader. Changes
// are checked as etcd checks them (valid and unused peer URLs, one learner at most, a learner in sync before its
// promotion, and the strict reconfiguration check that the voters known to be up keep a quorum) and then proposed as
// Raft conf changes; the answer comes when the change is applied.

import type { Clock } from '../clock/index.js';
import type { Config } from '../config/index.js';
import { MEMBERSHIP_HEALTH_INTERVAL_MS } from '../config/index.js';
import { etcdError } from '../errors/index.js';
import type {
  MemberAddRequest,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
  MemberRemoveRequest,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
  MoveLeaderRequest,
  MoveLeaderResponse,
  ResponseHeader,
} from '../proto/index.js';
import { ConfChangeType, StateType, type ConfChange, type ConfState, type RawNode } from '../raft/index.js';
import type { MemberRecord, Members } from '../storage/index.js';
import { computeMemberId } from './identity.js';
import { sortedMembers, toApiMember } from './membership.js';

/** etcd allows one learner at a time. */
const LEARNERS_MAX = 1;

export interface ClusterPorts {
  readonly memberId: bigint;
  readonly config: Config;
  readonly clock: Clock;
  /** the Raft node, for its role, progress and voters (read only) and leadership transfer */
  readonly node: RawNode;
  members(): Members;
  confState(): ConfState;
  leader(): bigint;
  header(): ResponseHeader;
  assertServing(): void;
  heardSince(id: bigint, since: number): boolean;
  /** how long the peer connection to `id` has been up, in ms (0: not connected) */
  peerConnectedFor(id: bigint): number;
  proposeConfChange(type: ConfChange['type'], nodeId: bigint, member?: Omit<MemberRecord, 'id'>): Promise<unknown>;
  transferLeader(to: bigint): void;
}

export class ClusterService {
  constructor(private readonly ports: ClusterPorts) {}

  /** etcd's Cluster service leaves the header's revision at 0. */
  private header(): ResponseHeader {
    return { ...this.ports.header(), revision: 0 };
  }

  memberList(): MemberListResponse {
    this.ports.assertServing();
    return { header: this.header(), members: sortedMembers(this.ports.members()).map(toApiMember) };
  }

  memberAdd(req: MemberAddRequest): Promise<MemberAddResponse> {
    const { ports } = this;
    const members = ports.members();
    const urls = [...req.peerURLs].sort();
    if (urls.length === 0 || !urls.every(isValidPeerUrl)) return Promise.reject(etcdError('MemberBadURLs'));
    const confState = ports.confState();
    // etcd's mayAddMember, before the validation of the change itself
    if (!req.isLearner && !this.enoughStartedAfter(confState.voters.length + 1, null)) return Promise.reject(etcdError('MemberNotEnoughStarted'));
    if (!this.connectedToAllVoters()) return Promise.reject(etcdError('Unhealthy'));
    const inUse = new Set(Object.values(members).flatMap((m) => m.peerURLs));
    if (urls.some((u) => inUse.has(u))) return Promise.reject(etcdError('PeerURLExist'));
    if (req.isLearner && confState.learners.length >= LEARNERS_MAX) return Promise.reject(etcdError('TooManyLearners'));
    // etcd's NewMember with the current time; the new member, started with --initial-cluster-state existing, looks
    // its ID up from the cluster by its peer URLs.
    const id = computeMemberId(urls, ports.config.initialClusterToken, Math.floor(ports.clock.wallNow() / 1000));
    if (members[id.toString()] !== undefined) return Promise.reject(etcdError('MemberExist'));
    return ports.proposeConfChange(req.isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode, id, {
      name: '', peerURLs: urls, clientURLs: [], binaryURLs: [], isLearner: req.isLearner === true,
    }) as Promise<MemberAddResponse>;
  }

  memberRemove(req: MemberRemoveRequest): Promise<MemberRemoveResponse> {
    const m = this.ports.members()[req.ID.toString()];
    if (m === undefined) return Promise.reject(etcdError('MemberNotFound'));
    if (!m.isLearner && !this.enoughStartedAfter(this.ports.confState().voters.length - 1, req.ID)) return Promise.reject(etcdError('MemberNotEnoughStarted'));
    return this.ports.proposeConfChange(ConfChangeType.RemoveNode, req.ID) as Promise<MemberRemoveResponse>;
  }

  memberUpdate(req: MemberUpdateRequest): Promise<MemberUpdateResponse> {
    const members = this.ports.members();
    const m = members[req.ID.toString()];
    if (m === undefined) return Promise.reject(etcdError('MemberNotFound'));
    const urls = [...req.peerURLs].sort();
    if (urls.length === 0 || !urls.every(isValidPeerUrl)) return Promise.reject(etcdError('MemberBadURLs'));
    const inUse = new Set(Object.values(members).filter((x) => x.id !== m.id).flatMap((x) => x.peerURLs));
    if (urls.some((u) => inUse.has(u))) return Promise.reject(etcdError('PeerURLExist'));
    return this.ports.proposeConfChange(ConfChangeType.UpdateNode, req.ID, { ...m, peerURLs: urls }) as Promise<MemberUpdateResponse>;
  }

  /**
   * etcd's checks in etcd's order: on the leader, whether the member is in sync (isLearnerReady: any member Raft
   * tracks, so an unstarted voter is "not in sync" too) and whether enough members are started; then, as etcd's apply
   * validation does, whether it exists and is a learner.
   */
  memberPromote(req: MemberPromoteRequest): Promise<MemberPromoteResponse> {
    const r = this.ports.node.raft;
    if (r.state === StateType.Leader) {
      // the member has at least 90% of the leader's log
      const pr = r.trk.progress.get(req.ID);
      const leaderMatch = r.trk.progress.get(r.id)?.match ?? r.raftLog.lastIndex();
      if (pr !== undefined && pr.match < leaderMatch * 0.9) return Promise.reject(etcdError('LearnerNotReady'));
      // etcd's IsReadyToPromoteMember counts the member being promoted as started
      if (!this.enoughStartedAfter(this.ports.confState().voters.length + 1, null, 1)) return Promise.reject(etcdError('MemberNotEnoughStarted'));
    }
    const m = this.ports.members()[req.ID.toString()];
    if (m === undefined) return Promise.reject(etcdError('MemberNotFound'));
    if (!m.isLearner) return Promise.reject(etcdError('MemberNotLearner'));
    return this.ports.proposeConfChange(ConfChangeType.AddNode, req.ID, { ...m, isLearner: false }) as Promise<MemberPromoteResponse>;
  }

  /** etcd's MoveLeader: only the leader may hand over, to a voting member; waits until the transfer happened. */
  async moveLeader(req: MoveLeaderRequest): Promise<MoveLeaderResponse> {
    const { ports } = this;
    ports.assertServing();
    const r = ports.node.raft;
    if (r.state !== StateType.Leader) throw etcdError('NotLeader');
    if (req.targetID === ports.memberId) return {}; // already the leader: etcd answers OK
    if (!r.trk.voters.has(req.targetID)) throw etcdError('BadLeaderTransferee');
    ports.transferLeader(req.targetID);
    const deadline = ports.clock.now() + ports.config.limits.requestTimeoutMs;
    while (ports.leader() !== req.targetID) {
      if (ports.clock.now() > deadline) throw etcdError('Timeout');
      await ports.clock.sleep(ports.config.heartbeatIntervalMs);
    }
    return {}; // etcd's empty MoveLeaderResponse, header included
  }

  /** etcd's isConnectedFullySince: connected to every other voting member for the last HealthInterval. */
  private connectedToAllVoters(): boolean {
    const { ports } = this;
    return ports.confState().voters.every((id) => id === ports.memberId || ports.peerConnectedFor(id) >= MEMBERSHIP_HEALTH_INTERVAL_MS);
  }

  /**
   * etcd's strict reconfiguration check, from the leader's view: after the change, the voters known to be up (heard
   * from within two election timeouts) must still form a quorum of the new voter count. Raft's own check-quorum flags are not used:
   * they are cleared every election timeout and would refuse changes at random right after each reset.
   */
  private enoughStartedAfter(voters: number, removed: bigint | null, alsoStarted = 0): boolean {
    const { ports } = this;
    // Only the leader hears from every voter; a follower cannot tell, and lets the change through.
    if (ports.node.raft.state !== StateType.Leader) return true;
    const since = ports.clock.now() - 2 * ports.config.electionTimeoutMs;
    let started = alsoStarted;
    for (const id of ports.confState().voters) {
      if (id === removed) continue;
      if (id === ports.memberId || ports.heardSince(id, since)) started++;
    }
    return started >= Math.floor(voters / 2) + 1;
  }
}

function isValidPeerUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.port !== '' && url.pathname === '/';
  } catch {
    return false;
  }
}
