// Asking peers what the cluster is before this member starts, as etcd does over its peers' /members endpoint: a
// member started with --initial-cluster-state existing takes the cluster ID and its own member ID from the cluster
// and refuses to start if its --initial-cluster disagrees; a member started as `new` refuses to start when the
// cluster already knows it as a started member (its data directory was lost or it points at the wrong cluster).

import type net from 'node:net';
import { FrameDecoder } from '../proto/index.js';
import { dialPeer, type PeerTlsHooks } from './dial.js';
import { peerUnpackr, PeerFrameKind, type PeerMemberInfo } from './codec.js';
import { frame } from './transport.js';

export interface RemoteCluster {
  clusterId: bigint;
  members: PeerMemberInfo[];
}

const REPLY_BYTES_MAX = 4 << 20;

function queryOne(url: string, timeoutMs: number, tls: PeerTlsHooks | null): Promise<RemoteCluster> {
  return new Promise((resolve, reject) => {
    let socket: net.Socket | null = null;
    let finished = false;
    const done = (err: Error | null, value?: RemoteCluster): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket?.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => done(new Error(`${url}: timed out`)), timeoutMs);
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
    const ask = (s: net.Socket): void => {
      s.on('data', (chunk: Buffer) => {
        try {
          decoder.push(chunk);
        } catch (err) {
          done(err as Error);
        }
      });
      s.on('error', (err) => done(new Error(`${url}: ${err.message}`)));
      s.on('close', () => done(new Error(`${url}: closed without answering`)));
      s.write(frame(PeerFrameKind.MembersQuery, [0]));
    };
    dialPeer(url, tls).then(
      (s) => {
        socket = s;
        if (finished) s.destroy();
        else ask(s);
      },
      (err: Error) => done(new Error(`${url}: ${err.message}`)),
    );
  });
}

/** The first answer from any of the URLs, or null when none answers (etcd: "could not retrieve cluster information"). */
export async function clusterFromRemotePeers(urls: readonly string[], timeoutMs: number, tls: PeerTlsHooks | null = null): Promise<RemoteCluster | null> {
  for (const url of urls) {
    try {
      const c = await queryOne(url, timeoutMs, tls);
      if (c.clusterId !== 0n) return c;
    } catch {
      // try the next URL
    }
  }
  return null;
}
