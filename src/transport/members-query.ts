// Asking peers what the cluster is before this member starts, as etcd does over its peers' /members endpoint: a
// member started with --initial-cluster-state existing takes the cluster ID and its own member ID from the cluster
// and refuses to start if its --initial-cluster disagrees; a member started as `new` refuses to start when the
// cluster already knows it as a started member (its data directory was lost or it points at the wrong cluster).

import net from 'node:net';
import { FrameDecoder } from '../proto/index.js';
import { peerUnpackr, PeerFrameKind, type PeerMemberInfo } from './codec.js';
import { frame } from './transport.js';

export interface RemoteCluster {
  clusterId: bigint;
  members: PeerMemberInfo[];
}

const REPLY_BYTES_MAX = 4 << 20;

function queryOne(url: string, timeoutMs: number): Promise<RemoteCluster> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port), noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${url}: timed out`));
    }, timeoutMs);
    const done = (err: Error | null, value?: RemoteCluster): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const decoder = new FrameDecoder(
      REPLY_BYTES_MAX,
      {
        frame: (kind, _id, body) => {
          try {
            const decoded = peerUnpackr.unpack(body) as [number | bigint, PeerMemberInfo[] | string];
            if (kind !== PeerFrameKind.MembersReply || !Array.isArray(decoded[1])) return done(new Error(`${url}: refused: ${String(decoded[1])}`));
            done(null, { clusterId: BigInt(decoded[0]), members: decoded[1] });
          } catch (err) {
            done(new Error(`${url}: malformed reply: ${(err as Error).message}`));
          }
        },
        oversize: () => done(new Error(`${url}: reply too large`)),
      },
      (k) => k === PeerFrameKind.MembersReply || k === PeerFrameKind.Refuse,
    );
    socket.on('connect', () => socket.write(frame(PeerFrameKind.MembersQuery, [0])));
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        done(err as Error);
      }
    });
    socket.on('error', (err) => done(new Error(`${url}: ${err.message}`)));
    socket.on('close', () => done(new Error(`${url}: closed without answering`)));
  });
}

/** The first answer from any of the URLs, or null when none answers (etcd: "could not retrieve cluster information"). */
export async function clusterFromRemotePeers(urls: readonly string[], timeoutMs: number): Promise<RemoteCluster | null> {
  for (const url of urls) {
    try {
      const c = await queryOne(url, timeoutMs);
      if (c.clusterId !== 0n) return c;
    } catch {
      // try the next URL
    }
  }
  return null;
}
