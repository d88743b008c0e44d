// Peer transport: one outbound TCP connection per peer for Raft messages (same framing as the client protocol),
// bounded send queues (a full queue drops the message and tells Raft the peer is unreachable, as etcd's rafthttp
// does), reconnection with exponential backoff, snapshots streamed in chunks on a connection of their own, and fault
// hooks (drop, delay, partition, per direction) for tests. Traffic that names another cluster is refused.
// https:// peer URLs are TLS, listener and dialer, snapshot connections included, through the hooks src/tls provides
// (TransportOptions.tls); http:// ones stay plain TCP.

import net from 'node:net';
import { FrameDecoder, FRAME_HEADER_BYTES } from '../proto/index.js';
import type { Message, NodeId } from '../raft/index.js';
import { MessageType } from '../raft/index.js';
import { DEFAULT_TRANSPORT_LIMITS, type TransportLimits } from '../config/limits.js';

export { DEFAULT_TRANSPORT_LIMITS, type TransportLimits };
import { listenTcp } from './listen.js';
import { dialPeer, peerAddress, type PeerTlsHooks } from './dial.js';
import { decodeMessage, encodeMessage, isPeerFrameKind, peerPackr, peerUnpackr, PeerFrameKind, type PeerMemberInfo } from './codec.js';

const RESERVE_START_SPACE = 2048;

export interface TransportOptions {
  memberId: NodeId;
  clusterId: bigint;
  listenUrls: readonly string[];
  limits?: Partial<TransportLimits>;
  /** a Raft message from a peer of this cluster */
  deliver(m: Message): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, failed: boolean): void;
  /** whether a member ID was removed from the cluster: its connections are refused with REMOVED_REASON */
  isRemoved?(id: NodeId): boolean;
  /** a peer refused us because this member was removed from the cluster */
  onRemoved?(): void;
  /** a member joining an existing cluster (cluster ID 0) learns the ID from the first peer that reaches it */
  onClusterId?(id: bigint): void;
  /** the cluster's members as this member knows them, for a member about to start (MembersQuery) */
  clusterMembers?(): PeerMemberInfo[];
  /** diagnostics (refused connections, errors) */
  warn?(message: string): void;
  /** TLS for https:// peer URLs (src/tls); without it such URLs cannot be listened on or dialled */
  tls?: PeerTlsHooks | null;
}

/** Test hooks: what to drop or delay, per direction and peer. */
export class Faults {
  /** peers we send nothing to */
  readonly blockOut = new Set<NodeId>();
  /** peers whose messages we discard on arrival */
  readonly blockIn = new Set<NodeId>();
  dropRate = 0;
  delayMs = 0;
  random: () => number = Math.random;

  isolate(peers: Iterable<NodeId>): void {
    for (const p of peers) {
      this.blockOut.add(p);
      this.blockIn.add(p);
    }
  }

  clear(): void {
    this.blockOut.clear();
    this.blockIn.clear();
    this.dropRate = 0;
    this.delayMs = 0;
  }
}

export function frame(kind: number, body: unknown): Buffer {
  const buf = peerPackr.pack(body, RESERVE_START_SPACE | FRAME_HEADER_BYTES) as Buffer;
  buf.writeUInt16BE(0xe7cd, 0);
  buf[2] = 1;
  buf[3] = kind;
  buf.writeUInt32BE(0, 4);
  buf.writeUInt32BE(buf.length - FRAME_HEADER_BYTES, 8);
  return buf;
}


class Peer {
  private socket: net.Socket | null = null;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private backoffMs: number;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private connecting = false;
  /** when the current connection was established (performance.now()), null while there is none */
  connectedAt: number | null = null;

  constructor(
    readonly id: NodeId,
    public urls: string[],
    private readonly transport: Transport,
  ) {
    this.backoffMs = transport.limits.reconnectBackoffMinMs;
  }

  enqueue(buf: Buffer): boolean {
    const limits = this.transport.limits;
    if (this.queue.length >= limits.peerQueueMessagesMax || this.queuedBytes + buf.length > limits.peerQueueBytesMax) return false;
    this.queue.push(buf);
    this.queuedBytes += buf.length;
    if (this.socket !== null) this.flushSoon();
    else this.connect();
    return true;
  }

  private flushScheduled = false;
  private flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const s = this.socket;
    if (s === null || this.queue.length === 0) return;
    const out = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue, this.queuedBytes);
    this.queue = [];
    this.queuedBytes = 0;
    s.write(out);
  }

  connect(): void {
    if (this.closed || this.socket !== null || this.connecting || this.timer !== null) return;
    const url = this.urls[0];
    if (url === undefined) return;
    this.connecting = true;
    dialPeer(url, this.transport.options.tls ?? null).then(
      (socket) => {
        this.connecting = false;
        if (this.closed) socket.destroy();
        else this.attach(socket);
      },
      (err: Error) => {
        this.connecting = false;
        this.noteDialError(err);
        if (!this.closed) this.retryLater();
      },
    );
  }

  /** The last dial error reported: a TLS refusal is worth a warning, once until it changes; a refused connect is not. */
  private lastDialError = '';
  private noteDialError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || err.message === this.lastDialError) return;
    this.lastDialError = err.message;
    this.transport.options.warn?.(`dialing peer ${this.id.toString(16)} failed: ${err.message}`);
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    this.lastDialError = '';
    this.connectedAt = performance.now();
    this.backoffMs = this.transport.limits.reconnectBackoffMinMs;
    socket.on('data', (chunk: Buffer) => this.transport.onOutboundReply(this, chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket === socket) {
        this.socket = null;
        this.connectedAt = null;
      }
      if (!this.closed) this.retryLater();
    });
    socket.write(frame(PeerFrameKind.Hello, [this.transport.clusterId, this.transport.memberId, this.id]));
    this.flush();
  }

  private retryLater(): void {
    this.transport.options.reportUnreachable(this.id);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.queue.length > 0 || this.transport.hasPeer(this.id)) this.connect();
    }, this.backoffMs);
    this.timer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, this.transport.limits.reconnectBackoffMaxMs);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.destroy();
    this.socket = null;
    this.connectedAt = null;
    this.queue = [];
    this.queuedBytes = 0;
  }
}

/** What a member says to a peer that was removed from the cluster (etcd's words). */
export const REMOVED_REASON = 'the member has been permanently removed from the cluster';

export class Transport {
  readonly limits: TransportLimits;
  readonly faults = new Faults();
  private readonly peers = new Map<NodeId, Peer>();
  private readonly servers: net.Server[] = [];
  private readonly inbound = new Set<net.Socket>();
  private nextSnapshotId = 1;
  clusterId: bigint;
  readonly memberId: NodeId;

  constructor(readonly options: TransportOptions) {
    this.limits = { ...DEFAULT_TRANSPORT_LIMITS, ...(options.limits ?? {}) };
    this.clusterId = options.clusterId;
    this.memberId = options.memberId;
  }

  async listen(): Promise<{ host: string; port: number }[]> {
    const out: { host: string; port: number }[] = [];
    for (const url of this.options.listenUrls) {
      const { host, port, secure } = peerAddress(url);
      const tls = this.options.tls ?? null;
      if (secure && tls === null) throw new Error(`peer URL ${url}: no TLS configuration`);
      const onConnection = secure ? (raw: net.Socket): void => this.acceptTls(tls!, raw) : (socket: net.Socket): void => this.accept(socket);
      const { server: srv, address } = await listenTcp(host, port, onConnection);
      out.push(address);
      this.servers.push(srv);
    }
    return out;
  }

  /** TLS first; the connection counts as inbound from accept, so close() ends handshakes in progress too. */
  private acceptTls(tls: PeerTlsHooks, raw: net.Socket): void {
    this.inbound.add(raw);
    raw.once('close', () => this.inbound.delete(raw));
    tls.accept(raw, (secure) => this.accept(secure));
  }

  hasPeer(id: NodeId): boolean {
    return this.peers.has(id);
  }

  addPeer(id: NodeId, urls: string[]): void {
    if (id === this.memberId) return;
    const existing = this.peers.get(id);
    if (existing) {
      existing.urls = urls;
      return;
    }
    const peer = new Peer(id, urls, this);
    this.peers.set(id, peer);
    // connected from the start, as etcd's streams are, whether or not Raft has anything to send yet: how long a peer
    // has been connected is what etcd's membership checks ask (connectedFor)
    peer.connect();
  }

  /** How long the connection to `id` has been up, in ms (0: not connected): etcd's transport ActiveSince. */
  connectedFor(id: NodeId): number {
    const at = this.peers.get(id)?.connectedAt ?? null;
    return at === null ? 0 : performance.now() - at;
  }

  removePeer(id: NodeId): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
  }

  peerIds(): NodeId[] {
    return [...this.peers.keys()];
  }

  /** Sends Raft messages; a message that cannot be queued is dropped and the peer reported unreachable. */
  send(messages: Message[]): void {
    for (const m of messages) {
      if (m.to === this.memberId) continue;
      const peer = this.peers.get(m.to);
      if (peer === undefined) continue;
      if (this.faults.blockOut.has(m.to) || (this.faults.dropRate > 0 && this.faults.random() < this.faults.dropRate)) {
        if (m.type === MessageType.Snap) this.options.reportSnapshot(m.to, true);
        continue;
      }
      if (m.type === MessageType.Snap) {
        void this.sendSnapshot(peer, m);
        continue;
      }
      const buf = frame(PeerFrameKind.Raft, [this.clusterId, encodeMessage(m)]);
      const queue = (): void => {
        if (!peer.enqueue(buf)) this.options.reportUnreachable(m.to);
      };
      if (this.faults.delayMs > 0) setTimeout(queue, this.faults.delayMs).unref();
      else queue();
    }
  }

  /** Streams a snapshot on a connection of its own, then reports the outcome to Raft. */
  private async sendSnapshot(peer: Peer, m: Message): Promise<void> {
    const data = m.snapshot!.data;
    const snapshotId = this.nextSnapshotId++;
    const url = peer.urls[0];
    let ok = false;
    if (url !== undefined) {
      let socket: net.Socket | null = null;
      try {
        socket = await dialPeer(url, this.options.tls ?? null);
        const s = socket;
        s.on('error', () => {});
        const write = (buf: Buffer): Promise<void> =>
          new Promise((resolve, reject) => {
            if (s.destroyed) return reject(new Error('closed'));
            if (s.write(buf)) resolve();
            else s.once('drain', resolve);
          });
        await write(frame(PeerFrameKind.Hello, [this.clusterId, this.memberId, peer.id]));
        const chunk = this.limits.snapshotChunkBytes;
        let seq = 0;
        for (let off = 0; off < data.length || seq === 0; off += chunk) {
          const last = off + chunk >= data.length;
          await write(frame(PeerFrameKind.SnapshotChunk, [this.clusterId, snapshotId, seq++, last, data.subarray(off, off + chunk)]));
          if (last) break;
        }
        await write(frame(PeerFrameKind.Raft, [this.clusterId, encodeMessage(m), snapshotId]));
        await new Promise<void>((resolve) => s.end(resolve));
        ok = true;
      } catch (err) {
        this.options.warn?.(`sending snapshot to ${peer.id.toString(16)} failed: ${(err as Error).message}`);
      } finally {
        socket?.destroy();
      }
    }
    this.options.reportSnapshot(peer.id, !ok);
  }

  onOutboundReply(peer: Peer, chunk: Buffer): void {
    // The only frame a receiver writes back is Refuse; decode it for the diagnostic.
    try {
      const decoder = new FrameDecoder(1 << 20, {
        frame: (_k, _id, body) => {
          const [, reason] = peerUnpackr.unpack(body) as [unknown, string];
          this.options.warn?.(`peer ${peer.id.toString(16)} refused our connection: ${reason}`);
          if (reason === REMOVED_REASON) this.options.onRemoved?.();
        },
        oversize: () => {},
      }, (k) => k === PeerFrameKind.Refuse);
      decoder.push(chunk);
    } catch {
      // ignore
    }
  }

  private accept(socket: net.Socket): void {
    this.inbound.add(socket);
    socket.on('close', () => this.inbound.delete(socket));
    socket.on('error', () => {});
    let from: NodeId | null = null;
    const snapshots = new Map<number, { parts: Buffer[]; bytes: number; done: boolean }>();
    const refuse = (reason: string): void => {
      this.options.warn?.(`refused peer connection: ${reason}`);
      socket.end(frame(PeerFrameKind.Refuse, [this.clusterId, reason]));
      socket.destroySoon?.();
    };
    const decoder = new FrameDecoder(
      this.limits.peerFrameBytesMax,
      {
        frame: (kind, _id, body) => {
          let decoded: unknown[];
          try {
            decoded = peerUnpackr.unpack(body) as unknown[];
          } catch {
            return refuse('malformed frame');
          }
          if (!Array.isArray(decoded)) return refuse('malformed frame');
          if (kind === PeerFrameKind.MembersQuery && from === null) {
            socket.end(frame(PeerFrameKind.MembersReply, [this.clusterId, this.options.clusterMembers?.() ?? []]));
            return;
          }
          const clusterId = BigInt(decoded[0] as number | bigint);
          if (this.clusterId === 0n && kind === PeerFrameKind.Hello && clusterId !== 0n) {
            this.clusterId = clusterId;
            this.options.onClusterId?.(clusterId);
          }
          if (clusterId !== this.clusterId) {
            return refuse(`cluster ID mismatch: local ${this.clusterId.toString(16)}, remote ${clusterId.toString(16)}`);
          }
          if (kind === PeerFrameKind.Hello) {
            const to = BigInt(decoded[2] as number | bigint);
            if (to !== this.memberId) return refuse(`addressed to member ${to.toString(16)}, this is ${this.memberId.toString(16)}`);
            from = BigInt(decoded[1] as number | bigint);
            if (this.options.isRemoved?.(from)) return refuse(REMOVED_REASON);
            return;
          }
          if (from === null) return refuse('no hello');
          if (kind === PeerFrameKind.SnapshotChunk) {
            const [, snapshotId, , last, bytes] = decoded as [unknown, number, number, boolean, Uint8Array];
            const s = snapshots.get(snapshotId) ?? { parts: [], bytes: 0, done: false };
            s.parts.push(Buffer.from(bytes));
            s.bytes += bytes.length;
            s.done = last;
            if (s.bytes > this.limits.snapshotBytesMax) return refuse('snapshot too large');
            snapshots.set(snapshotId, s);
            return;
          }
          if (kind === PeerFrameKind.Raft) {
            if (this.options.isRemoved?.(from)) return refuse(REMOVED_REASON);
            if (this.faults.blockIn.has(from)) return;
            const snapshotId = decoded[2] as number | undefined;
            let data: Uint8Array | undefined;
            if (snapshotId !== undefined) {
              const s = snapshots.get(snapshotId);
              if (!s || !s.done) return refuse('snapshot message without its data');
              data = Buffer.concat(s.parts, s.bytes);
              snapshots.delete(snapshotId);
            }
            const m = decodeMessage(decoded[1] as unknown[], data);
            if (m.from !== from || m.to !== this.memberId) return refuse('message does not match the connection');
            this.options.deliver(m);
          }
        },
        oversize: () => refuse('frame too large'),
      },
      isPeerFrameKind,
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy();
      }
    });
  }

  async close(): Promise<void> {
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    for (const s of this.inbound) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
