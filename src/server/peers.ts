// The member's peers: the transport that carries Raft messages (started only when the cluster has, or may get, more
// than one member), when each peer was last heard from, the members removed from the cluster (who may never come
// back) and the cluster ID a joining member adopts from the first peer that reaches it. Conf changes reach the
// transport through here (the applier's MembershipEffects).

import type { Clock } from '../clock/index.js';
import type { Config } from '../config/index.js';
import { MessageType, type Message, type NodeId } from '../raft/index.js';
import { readIdentity, readRemovedMembers, writeIdentity, writeRemovedMembersSync, type Members, type Storage } from '../storage/index.js';
import { Transport, type PeerMemberInfo, type PeerTlsHooks, type RemoteCluster } from '../transport/index.js';
import type { MembershipEffects } from './applier.js';
import { computeMemberId, parseInitialCluster } from './identity.js';
import { sortedMembers } from './membership.js';
import { PeerRoundTrips, type ServerStats } from './stats.js';

export interface PeerPorts {
  readonly memberId: bigint;
  readonly config: Config;
  /** TLS for https:// peer URLs */
  readonly peerTls: PeerTlsHooks | null;
  readonly clock: Clock;
  readonly storage: Storage;
  readonly stats: ServerStats;
  members(): Members;
  /** Raft's inputs from the network (the driver) */
  step(m: Message): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, failed: boolean): void;
  /** the member cannot go on (it learned that it was removed) */
  fail(err: Error): void;
}

export const REMOVED_MESSAGE = 'the member has been permanently removed from the cluster';

export class Peers implements MembershipEffects {
  private transportRef: Transport | null = null;
  private cluster: bigint;
  /** When each peer was last heard from (etcd's transport keeps the same, as ActiveSince). */
  private readonly lastHeard = new Map<bigint, number>();
  private readonly roundTrips: PeerRoundTrips;
  private removedCache: Set<string> | null = null;

  constructor(
    private readonly ports: PeerPorts,
    clusterId: bigint,
  ) {
    this.cluster = clusterId;
    this.roundTrips = new PeerRoundTrips(ports.stats, () => ports.clock.now(), ports.config.electionTimeoutMs);
  }

  /** The cluster ID; 0 on a member joining an existing cluster until a peer tells it. */
  get clusterId(): bigint {
    return this.cluster;
  }

  /** null while the member is alone (a one-member cluster never opens the peer port). */
  get transport(): Transport | null {
    return this.transportRef;
  }

  /** Peers are reached only when the cluster has (or may get) more than one member. */
  async start(remote: RemoteCluster | null): Promise<void> {
    const { config, memberId } = this.ports;
    const initial = parseInitialCluster(config.initialCluster);
    const members = this.ports.members();
    const multi = Object.keys(members).length > 1 || initial.length > 1 || config.initialClusterState === 'existing';
    if (!multi || this.transportRef !== null) return;
    const transport = new Transport({
      memberId,
      clusterId: this.cluster,
      listenUrls: config.listenPeerUrls,
      tls: this.ports.peerTls,
      deliver: (m: Message) => {
        this.lastHeard.set(m.from, this.ports.clock.now());
        if (m.type === MessageType.HeartbeatResp) this.roundTrips.answered(m.from);
        this.ports.step(m);
      },
      reportUnreachable: (id) => this.ports.reportUnreachable(id),
      reportSnapshot: (id, failed) => this.ports.reportSnapshot(id, failed),
      onClusterId: (id) => this.adoptClusterId(id),
      isRemoved: (id) => this.isRemoved(id),
      clusterMembers: (): PeerMemberInfo[] =>
        sortedMembers(this.ports.members()).map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs })),
      onRemoved: () => this.ports.fail(new Error(REMOVED_MESSAGE)),
      warn: (msg) => process.emitWarning(`etcd-ts transport: ${msg}`),
    });
    await transport.listen();
    this.transportRef = transport;
    // Before the configuration is applied, reach the peers named on the command line.
    const known = new Set(Object.keys(members));
    const named = remote?.members.map((m) => ({ id: BigInt(m.id), urls: m.peerURLs })) ??
      initial.map((m) => ({ id: computeMemberId(m.peerUrls, config.initialClusterToken), urls: m.peerUrls }));
    for (const m of named) if (!known.has(m.id.toString())) transport.addPeer(m.id, m.urls);
    this.addAll(members);
  }

  send(messages: Message[]): void {
    const transport = this.transportRef;
    if (transport === null) return;
    for (const m of messages) if (m.type === MessageType.Heartbeat) this.roundTrips.sent(m.to);
    transport.send(messages);
  }

  /** Whether a peer was heard from at or after `since` (clock ms). */
  heardSince(id: bigint, since: number): boolean {
    return (this.lastHeard.get(id) ?? -Infinity) >= since;
  }

  /** IDs removed from the cluster (etcd keeps them too): they may never come back. */
  isRemoved(id: bigint): boolean {
    return this.removedIds().has(id.toString());
  }

  private removedIds(): Set<string> {
    this.removedCache ??= new Set(readRemovedMembers(this.ports.storage.meta));
    return this.removedCache;
  }

  // ---- conf changes, as the applier applies them (inside its transaction) ------------------------------------

  added(id: bigint, peerURLs: readonly string[]): void {
    this.transportRef?.addPeer(id, [...peerURLs]);
  }

  removed(id: bigint): void {
    const removed = this.removedIds();
    removed.add(id.toString());
    writeRemovedMembersSync(this.ports.storage.meta, [...removed]);
    if (id !== this.ports.memberId) this.transportRef?.removePeer(id);
  }

  updated(id: bigint, peerURLs: readonly string[]): void {
    this.transportRef?.addPeer(id, [...peerURLs]);
  }

  /** A snapshot replaced the member list and the removed record: reach every member it names. */
  snapshotInstalled(members: Members): void {
    this.removedCache = null;
    this.addAll(members);
  }

  private addAll(members: Members): void {
    for (const m of Object.values(members)) if (BigInt(m.id) !== this.ports.memberId) this.transportRef?.addPeer(BigInt(m.id), m.peerURLs);
  }

  private adoptClusterId(id: bigint): void {
    if (this.cluster !== 0n) return;
    this.cluster = id;
    const identity = readIdentity(this.ports.storage.meta)!;
    void writeIdentity(this.ports.storage.meta, { ...identity, cluster_id: id.toString() });
  }

  async close(): Promise<void> {
    await this.transportRef?.close();
  }
}
