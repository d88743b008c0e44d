// etcd's Lease service on a member: requests in, Raft proposals out, plus the leader's two loops (expiry and TTL
// checkpoints). The replicated state and the clock live in the Lessor (src/lease).
//
// Keep-alives go through Raft, batched: all keep-alives a member receives in one event-loop turn become one entry.
// That way a renewal is known to every member once acknowledged, so a new leader never expires a lease earlier than
// the client was told, and followers need no side channel to the leader. TimeToLive and Leases answer after a
// ReadIndex round from the member's own view (a follower reports what the leader would start from after a change).

import type { AuthInfo } from '../auth/index.js';
import type { Clock, ClockTimer } from '../clock/index.js';
import type { Config } from '../config/index.js';
import { LEASE_CHECKPOINTS_PER_ENTRY, LEASE_EXPIRY_CHECK_MS, LEASE_KEEPALIVES_PER_ENTRY, LEASE_REVOKES_INFLIGHT_MAX } from '../config/limits.js';
import { etcdError, EtcdError, GrpcCode, toEtcdError } from '../errors/index.js';
import { LEASE_TTL_MAX_SECONDS, type Lessor } from '../lease/index.js';
import type {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  ResponseHeader,
} from '../proto/index.js';
import type { HeaderSource, Proposer, Reader, StreamHandle, StreamSinkLike } from './ports.js';

/** What the lease service needs from the member. */
export interface LeasePorts extends Proposer, Reader {
  readonly memberId: bigint;
  readonly clock: Clock;
  header: HeaderSource;
  isLeader(): boolean;
}

export class LeaseService {
  private readonly expiryTimer: ClockTimer;
  private readonly checkpointTimer: ClockTimer | null;
  private readonly revoking = new Set<bigint>();
  private keepAliveBatch = new Map<bigint, ((ttl: number | Error) => void)[]>();
  private keepAliveScheduled = false;
  private idSuffix: bigint;

  constructor(
    private readonly ports: LeasePorts,
    private readonly lessor: Lessor,
    config: Config,
  ) {
    const { clock } = ports;
    this.idSuffix = (BigInt(clock.wallNow()) << 8n) & ((1n << 48n) - 1n);
    this.expiryTimer = clock.setInterval(() => this.revokeExpired(), LEASE_EXPIRY_CHECK_MS);
    this.checkpointTimer = config.leaseCheckpointIntervalMs > 0 ? clock.setInterval(() => this.checkpoint(), config.leaseCheckpointIntervalMs) : null;
  }

  private closed = false;

  close(): void {
    this.closed = true;
    this.ports.clock.clear(this.expiryTimer);
    this.ports.clock.clear(this.checkpointTimer);
  }

  private header(): ResponseHeader {
    return this.ports.header();
  }

  /**
   * etcd's idutil.Generator: the member ID's low 16 bits, then a 48-bit counter that starts at (start-up milliseconds
   * << 8) and only counts up (recomputing it from the clock on every call would repeat IDs past 256 grants in one
   * millisecond); positive int64.
   */
  private generateId(): bigint {
    for (;;) {
      this.idSuffix = (this.idSuffix + 1n) & ((1n << 48n) - 1n);
      const id = (((this.ports.memberId & 0xffffn) << 48n) | this.idSuffix) & ((1n << 63n) - 1n);
      if (id !== 0n) return id;
    }
  }

  /** `caller`: the client (its entry carries it; etcd checks nothing for a grant, and WRITE on the keys for a revoke) */
  async grant(req: LeaseGrantRequest, caller: AuthInfo): Promise<LeaseGrantResponse> {
    if (req.TTL > LEASE_TTL_MAX_SECONDS) throw etcdError('LeaseTTLTooLarge');
    const id = req.ID !== undefined && req.ID !== 0n ? req.ID : this.generateId();
    return (await this.ports.propose('LeaseGrant', { ID: id, TTL: Math.max(0, req.TTL) }, caller)) as LeaseGrantResponse;
  }

  async revoke(req: LeaseRevokeRequest, caller: AuthInfo): Promise<LeaseRevokeResponse> {
    return (await this.ports.propose('LeaseRevoke', { ID: req.ID }, caller)) as LeaseRevokeResponse;
  }

  /** `checkKeys`: the caller's READ check of the keys the answer would list (etcd 3.4.26), before it is made */
  timeToLive(req: LeaseTimeToLiveRequest, checkKeys?: (keys: readonly Uint8Array[]) => void): Promise<LeaseTimeToLiveResponse> {
    return this.ports.read(() => {
      if (checkKeys !== undefined && req.keys === true) checkKeys(this.lessor.keysOf(req.ID));
      const t = this.lessor.timeToLive(req.ID);
      if (t === null) return { header: this.header(), ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
      return { header: this.header(), ID: req.ID, TTL: t.ttl, grantedTTL: t.granted, keys: req.keys ? this.lessor.keysOf(req.ID) : [] };
    });
  }

  list(): Promise<LeaseLeasesResponse> {
    return this.ports.read(() => ({ header: this.header(), leases: this.lessor.idsByExpiry().map((ID) => ({ ID })) }));
  }

  /** One renewal; resolves with the TTL (0 when the lease does not exist), as etcd's keep-alive answers. */
  keepAlive(id: bigint): Promise<number> {
    return new Promise((resolve, reject) => {
      const waiters = this.keepAliveBatch.get(id);
      const settle = (v: number | Error): void => (v instanceof Error ? reject(v) : resolve(v));
      if (waiters) waiters.push(settle);
      else this.keepAliveBatch.set(id, [settle]);
      if (!this.keepAliveScheduled) {
        this.keepAliveScheduled = true;
        setImmediate(() => this.flushKeepAlives());
      }
    });
  }

  private flushKeepAlives(): void {
    this.keepAliveScheduled = false;
    const batch = [...this.keepAliveBatch];
    this.keepAliveBatch = new Map();
    for (let i = 0; i < batch.length; i += LEASE_KEEPALIVES_PER_ENTRY) {
      const part = batch.slice(i, i + LEASE_KEEPALIVES_PER_ENTRY);
      this.ports.propose('LeaseKeepAlive', { IDs: part.map(([id]) => id) }).then(
        (ttls) => part.forEach(([, ws], j) => ws.forEach((w) => w((ttls as number[])[j]!))),
        (err: unknown) => part.forEach(([, ws]) => ws.forEach((w) => w(toEtcdError(err)))),
      );
    }
  }

  openKeepAliveStream(sink: StreamSinkLike): StreamHandle {
    let closed = false;
    return {
      handle: (r) => {
        const id = (r as { ID: bigint }).ID;
        this.keepAlive(id).then(
          (ttl) => {
            if (!closed) sink.send({ header: this.header(), ID: id, TTL: ttl } satisfies LeaseKeepAliveResponse);
          },
          (err: unknown) => {
            if (closed) return;
            closed = true;
            sink.end(toEtcdError(err));
          },
        );
      },
      close: () => {
        closed = true;
      },
    };
  }

  // ---- the leader's loops -------------------------------------------------------------------------------------

  /**
   * etcd's revokeExpiredLeases: expired leases are revoked through Raft, at most LEASE_REVOKES_INFLIGHT_MAX in flight.
   * As in etcd that bounds the revocations in flight, not per check: each one that completes makes room for the next
   * expired lease at once (16 per 500 ms check would revoke only 32 leases a second).
   */
  private revokeExpired(): void {
    if (this.closed || !this.ports.isLeader()) return;
    const room = LEASE_REVOKES_INFLIGHT_MAX - this.revoking.size;
    if (room <= 0) return;
    for (const id of this.lessor.expired(room + this.revoking.size)) {
      if (this.revoking.has(id)) continue;
      const renewals = this.lessor.renewalsOf(id);
      if (renewals === undefined) continue;
      this.revoking.add(id);
      // conditional on no keep-alive being applied before it (one may already be in the log, ahead of this entry)
      this.ports.propose('LeaseRevoke', { ID: id, renewals }).then(
        () => this.revoked(id, true),
        // not found: revoked meanwhile (go on); anything else (no leader, overload, stopping): retried on the next check
        (err: unknown) => this.revoked(id, err instanceof EtcdError && err.code === GrpcCode.NotFound),
      );
    }
  }

  private revokeScheduled = false;

  private revoked(id: bigint, goOn: boolean): void {
    this.revoking.delete(id);
    if (!goOn || this.revokeScheduled) return;
    this.revokeScheduled = true;
    setImmediate(() => {
      this.revokeScheduled = false;
      this.revokeExpired();
    });
  }

  /** Replicates every lease's remaining TTL, so a new leader or a restarted cluster continues from it. */
  private checkpoint(): void {
    if (!this.ports.isLeader()) return;
    const all = this.lessor.remainingAll();
    for (let i = 0; i < all.length; i += LEASE_CHECKPOINTS_PER_ENTRY) {
      this.ports.propose('LeaseCheckpoint', { checkpoints: all.slice(i, i + LEASE_CHECKPOINTS_PER_ENTRY) }).catch(() => {});
    }
  }
}
