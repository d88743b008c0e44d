// The lessor: etcd's leases over our LMDB `leases` table, with two halves.
//
// Replicated (called at apply time inside the write transaction, the same on every member): grant, revoke (returns
// the attached keys for the caller to delete in one revision), keep-alive, checkpoints of remaining TTLs, and the
// key attachments that puts and deletes make. A lease record keeps its granted TTL and the remaining TTL last
// checkpointed (0 = none since the last grant or keep-alive, i.e. the full TTL).
//
// Local (this member's clock): when each lease expires. Only the leader acts on it, by proposing revocations through
// Raft, so every member deletes the same keys at the same revision. A member that becomes leader (or a cluster that
// restarts) starts each lease from its checkpointed remaining TTL, not its full TTL (beyond etcd: issue 9395).
//
// Table layout: [0x01, id u64] -> {ttl, remaining}; [0x02, id u64, user key] -> 1 (the lease's keys, in key order).

import type { Database } from 'lmdb';
import { etcdError } from '../errors/index.js';

export interface LeaseRecord {
  /** granted TTL, seconds */
  ttl: number;
  /** remaining TTL at the last checkpoint, seconds; 0 = the full TTL */
  remaining: number;
  /**
   * keep-alives applied since the grant (absent = 0). The leader's decisions taken on its clock (this lease expired;
   * this much is left) travel through Raft with the count they saw and are dropped at apply time if a keep-alive was
   * applied in between: a client told "renewed" keeps its lease, and a stale checkpoint cannot undo a renewal.
   */
  renewals?: number;
}

export interface LeaseCheckpoint {
  ID: bigint;
  remaining_TTL: number;
  /** the lease's renewals when the leader measured it; absent = apply unconditionally */
  renewals?: number;
}

const RECORD = 1;
const ATTACHED = 2;
/** etcd's MaxLeaseTTL */
export const LEASE_TTL_MAX_SECONDS = 9_000_000_000;
const FOREVER = Number.POSITIVE_INFINITY;

function idBytes(out: Buffer, id: bigint, offset: number): void {
  out.writeBigUInt64BE(BigInt.asUintN(64, id), offset);
}

function recordKey(id: bigint): Buffer {
  const k = Buffer.allocUnsafe(9);
  k[0] = RECORD;
  idBytes(k, id, 1);
  return k;
}

function attachedPrefix(id: bigint): Buffer {
  const k = Buffer.allocUnsafe(9);
  k[0] = ATTACHED;
  idBytes(k, id, 1);
  return k;
}

function attachedKey(id: bigint, key: Uint8Array): Buffer {
  return Buffer.concat([attachedPrefix(id), key]);
}

function idOfRecordKey(k: Buffer): bigint {
  return BigInt.asIntN(64, k.readBigUInt64BE(1));
}

export class Lessor {
  /** local expiry per lease, in `now()` milliseconds; FOREVER while this member is not the leader's lessor */
  private readonly expiry = new Map<bigint, number>();
  private primary = false;

  constructor(
    private readonly table: Database<any, Buffer>,
    private readonly now: () => number,
    /** etcd's minimum TTL: ceil(1.5 x election timeout), seconds */
    readonly minTtlSeconds: number,
  ) {
    this.reload();
  }

  /** Rebuilds the local view from the table (start-up, snapshot install). */
  reload(): void {
    this.expiry.clear();
    for (const { key, value } of this.table.getRange({ start: Buffer.from([RECORD]), end: Buffer.from([RECORD + 1]) })) {
      const rec = value as LeaseRecord;
      this.expiry.set(idOfRecordKey(key), this.primary ? this.startingExpiry(rec, 0) : FOREVER);
    }
  }

  private startingExpiry(rec: LeaseRecord, extendMs: number): number {
    return this.now() + (rec.remaining > 0 ? rec.remaining : rec.ttl) * 1000 + extendMs;
  }

  private record(id: bigint): LeaseRecord | undefined {
    return this.table.get(recordKey(id)) as LeaseRecord | undefined;
  }

  exists(id: bigint): boolean {
    return this.record(id) !== undefined;
  }

  // ---- replicated: called at apply time, inside the write transaction ----------------------------------------

  grant(id: bigint, ttl: number): number {
    if (this.exists(id)) throw etcdError('LeaseExist');
    const effective = Math.max(ttl, this.minTtlSeconds);
    this.table.putSync(recordKey(id), { ttl: effective, remaining: 0 } satisfies LeaseRecord);
    this.expiry.set(id, this.primary ? this.now() + effective * 1000 : FOREVER);
    return effective;
  }

  /**
   * Removes the lease and returns its keys, which the caller deletes in the same revision. With `ifRenewals` (a
   * revocation for expiry) nothing happens and null is returned when the lease was renewed since the leader found it
   * expired.
   */
  revoke(id: bigint, ifRenewals?: number): Buffer[] | null {
    const rec = this.record(id);
    if (rec === undefined) throw etcdError('LeaseNotFound');
    if (ifRenewals !== undefined && (rec.renewals ?? 0) !== ifRenewals) return null;
    const keys = this.keysOf(id);
    for (const k of keys) this.table.removeSync(attachedKey(id, k));
    this.table.removeSync(recordKey(id));
    this.expiry.delete(id);
    return keys;
  }

  /** Renews to the full TTL; returns the TTL, or 0 for a lease that does not exist (etcd's keep-alive answer). */
  keepAlive(id: bigint): number {
    const rec = this.record(id);
    if (rec === undefined) return 0;
    this.table.putSync(recordKey(id), { ttl: rec.ttl, remaining: 0, renewals: (rec.renewals ?? 0) + 1 } satisfies LeaseRecord);
    if (this.primary) this.expiry.set(id, this.now() + rec.ttl * 1000);
    return rec.ttl;
  }

  checkpoint(checkpoints: readonly LeaseCheckpoint[]): void {
    for (const c of checkpoints) {
      const rec = this.record(c.ID);
      if (rec === undefined) continue;
      if (c.renewals !== undefined && c.renewals !== (rec.renewals ?? 0)) continue; // measured before a keep-alive
      this.table.putSync(recordKey(c.ID), { ttl: rec.ttl, remaining: c.remaining_TTL, renewals: rec.renewals ?? 0 } satisfies LeaseRecord);
    }
  }

  attach(id: bigint, key: Uint8Array): void {
    this.table.putSync(attachedKey(id, key), 1);
  }

  detach(id: bigint, key: Uint8Array): void {
    this.table.removeSync(attachedKey(id, key));
  }

  // ---- queries ------------------------------------------------------------------------------------------------

  keysOf(id: bigint): Buffer[] {
    const prefix = attachedPrefix(id);
    const out: Buffer[] = [];
    for (const k of this.table.getKeys({ start: prefix })) {
      const b = k as Buffer;
      if (b.length < 9 || !b.subarray(0, 9).equals(prefix)) break;
      out.push(Buffer.from(b.subarray(9)));
    }
    return out;
  }

  /** etcd's TimeToLive: remaining whole seconds by this member's clock, rounded down as etcd's int64(Remaining().Seconds()), or null for an unknown lease. */
  timeToLive(id: bigint): { ttl: number; granted: number } | null {
    const rec = this.record(id);
    if (rec === undefined) return null;
    const exp = this.expiry.get(id) ?? FOREVER;
    // a follower does not run the clock: it reports what the leader would start from
    if (exp === FOREVER) return { ttl: rec.remaining > 0 ? rec.remaining : rec.ttl, granted: rec.ttl };
    // etcd reports whole seconds left, truncated (int64(Remaining().Seconds())): 29 just after granting 30
    return { ttl: Math.max(0, Math.floor((exp - this.now()) / 1000)), granted: rec.ttl };
  }

  /** Keep-alives applied to the lease so far (what a decision taken now is conditional on); undefined if unknown. */
  renewalsOf(id: bigint): number | undefined {
    const rec = this.record(id);
    return rec === undefined ? undefined : (rec.renewals ?? 0);
  }

  ids(): bigint[] {
    const out: bigint[] = [];
    for (const k of this.table.getKeys({ start: Buffer.from([RECORD]), end: Buffer.from([RECORD + 1]) })) out.push(idOfRecordKey(k as Buffer));
    return out;
  }

  /** The leases as etcd's Leases() lists them: soonest expiry first (ties, as on a follower, in ID order). */
  idsByExpiry(): bigint[] {
    const at = (id: bigint): number => this.expiry.get(id) ?? FOREVER;
    return this.ids().sort((a, b) => at(a) - at(b) || (a < b ? -1 : a > b ? 1 : 0));
  }

  // ---- the leader's clock -------------------------------------------------------------------------------------

  get isPrimary(): boolean {
    return this.primary;
  }

  /** This member became leader: every lease runs from its checkpointed remaining TTL, plus `extendMs` of grace. */
  promote(extendMs: number): void {
    this.primary = true;
    for (const { key, value } of this.table.getRange({ start: Buffer.from([RECORD]), end: Buffer.from([RECORD + 1]) })) {
      this.expiry.set(idOfRecordKey(key), this.startingExpiry(value as LeaseRecord, extendMs));
    }
  }

  demote(): void {
    this.primary = false;
    for (const id of this.expiry.keys()) this.expiry.set(id, FOREVER);
  }

  /** Leases past their expiry, at most `limit`. */
  expired(limit: number): bigint[] {
    if (!this.primary) return [];
    const now = this.now();
    const out: bigint[] = [];
    for (const [id, exp] of this.expiry) {
      if (exp <= now) out.push(id);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** What the leader replicates as checkpoints: every lease's remaining TTL by its clock, whole seconds rounded up. */
  remainingAll(): LeaseCheckpoint[] {
    if (!this.primary) return [];
    const now = this.now();
    const out: LeaseCheckpoint[] = [];
    for (const [id, exp] of this.expiry) {
      if (exp === FOREVER) continue;
      const renewals = this.renewalsOf(id);
      if (renewals === undefined) continue;
      out.push({ ID: id, remaining_TTL: Math.max(1, Math.ceil((exp - now) / 1000)), renewals });
    }
    return out;
  }
}
