// Member and cluster IDs computed as etcd computes them, so the same flags give the same IDs as a real etcd
// (the default member is 8e9e05c52164694d in cluster cdf818194e3a8c32).

import { createHash } from 'node:crypto';

export interface InitialMember {
  name: string;
  peerUrls: string[];
}

/** Parses --initial-cluster "name=url,name=url2,other=url3" (a name may repeat to list several URLs). */
export function parseInitialCluster(spec: string): InitialMember[] {
  const byName = new Map<string, string[]>();
  for (const part of spec.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`--initial-cluster: "${part}" is not of the form name=url`);
    const name = part.slice(0, eq);
    const url = part.slice(eq + 1);
    const urls = byName.get(name) ?? [];
    urls.push(url);
    byName.set(name, urls);
  }
  return [...byName].map(([name, peerUrls]) => ({ name, peerUrls }));
}

/**
 * etcd's NewMember: sha1(sorted peer URLs + cluster token [+ unix seconds]), first 8 bytes big-endian. Bootstrap
 * members leave the time out (so the same flags give the same IDs); members added at runtime include it (so a member
 * removed and added again with the same URLs gets a new ID).
 */
export function computeMemberId(peerUrls: readonly string[], clusterToken: string, unixSeconds?: number): bigint {
  const h = createHash('sha1');
  for (const u of [...peerUrls].sort()) h.update(u);
  h.update(clusterToken);
  if (unixSeconds !== undefined) h.update(String(unixSeconds));
  return h.digest().readBigUInt64BE(0);
}

/** etcd's RaftCluster.genID: sha1 of the sorted member IDs as 8-byte big-endian values. */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => buf.writeBigUInt64BE(id, i * 8));
  return createHash('sha1').update(buf).digest().readBigUInt64BE(0);
}

export function idToHex(id: bigint): string {
  return id.toString(16);
}
