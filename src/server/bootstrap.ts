// Bootstrap and joining: who this member is. A data directory used before already knows (its identity record); a new
// one takes its identity from the flags, as etcd does: with --initial-cluster-state new, the member and cluster IDs
// are computed from --initial-cluster and --initial-cluster-token and the bootstrap conf changes are written to the
// log; with `existing`, the member asks the cluster's peers and must match what they know.

import type { Config } from '../config/index.js';
import { bootstrapEntries, encodeConfChange } from '../raft/index.js';
import { LmdbRaftStorage, readIdentity, readRemovedMembers, writeIdentity, type MemberIdentity, type Storage } from '../storage/index.js';
import { clusterFromRemotePeers, type PeerTlsHooks, type RemoteCluster } from '../transport/index.js';
import { computeClusterId, computeMemberId, parseInitialCluster, type InitialMember } from './identity.js';
import { encodeConfContext } from './membership.js';
import { REMOVED_MESSAGE } from './peers.js';

export interface Bootstrapped {
  identity: MemberIdentity;
  /** what the cluster's peers said, for a member joining an existing cluster for the first time */
  remote: RemoteCluster | null;
}

/** Finds or establishes the member's identity; a new member of a new cluster also gets its bootstrap log. */
export async function bootstrap(config: Config, storage: Storage, peerTls: PeerTlsHooks | null = null): Promise<Bootstrapped> {
  let identity = readIdentity(storage.meta);
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
      remote = await clusterFromRemotePeers(peerUrls, Math.max(1000, config.electionTimeoutMs), peerTls);
      if (remote === null) throw new Error('cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs');
      memberId = validateAgainstCluster(initial, config.name, remote);
      clusterId = remote.clusterId;
    } else if (peerUrls.length > 0) {
      // etcd's isMemberBootstrapped: a started member that lost its data must not bootstrap a second time
      const bootstrapped = await clusterFromRemotePeers(peerUrls, 1000, peerTls);
      const known = bootstrapped?.members.find((m) => m.id === memberId.toString());
      if (known !== undefined && known.clientURLs.length > 0) throw new Error(`member ${memberId.toString(16)} has already been bootstrapped`);
    }
    const id: MemberIdentity = { cluster_id: clusterId.toString(), member_id: memberId.toString(), name: config.name };
    await storage.meta.transaction(() => {
      void writeIdentity(storage.meta, id);
      if (config.initialClusterState === 'new') writeBootstrapLog(config, storage, initial, ids);
    });
    await storage.meta.flushed;
    identity = id;
  }
  if (readRemovedMembers(storage.meta).includes(identity.member_id)) throw new Error(REMOVED_MESSAGE);
  return { identity, remote };
}

/** etcd's bootstrap: one committed AddNode per initial member at term 1. */
function writeBootstrapLog(config: Config, storage: Storage, initial: InitialMember[], ids: bigint[]): void {
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

/**
 * etcd's ValidateClusterAndAssignIDs: the --initial-cluster of a member joining an existing cluster must name exactly
 * the cluster's members by peer URLs; the joining member takes its ID from the cluster's record of its peer URLs.
 */
function validateAgainstCluster(initial: InitialMember[], selfName: string, remote: RemoteCluster): bigint {
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
