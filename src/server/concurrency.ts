// etcd's v3lock and v3election services, built as etcd builds them: clientv3/concurrency's steps (src/concurrency,
// shared with etcdctl-ts's lock and elect) on leases, txns and watches of the member's own key space. A lock or
// candidacy is the key <name>/<lease ID in hex> attached to the lease; the holder is the key with the lowest create
// revision under <name>/; waiting means watching for the deletion of the key just ahead. Every step runs as the
// calling client (`caller`), checked as its own KV requests would be: etcd's services call the KV API with the
// client's token, so a lock needs READ on <name>/ and WRITE on its own key; refusals arrive unmapped (code Unknown).

import type { Caller, KvPort, StreamHandle, StreamSinkLike } from './ports.js';
import { byCreate, campaignEnqueue, lockEnqueue, proclaim, recipePrefix, resign, sessionKey, waitDeletes, type Queued, type RecipeKv } from '../concurrency/index.js';
import { etcdError, EtcdError, GrpcCode, isAssertionError, nameOfMessage, unmapped } from '../errors/index.js';
import { checkKeySize } from '../proto/index.js';
import {
  EventType,
  prefixRangeEnd,
  SortOrder,
  WatchFilterType,
  type CampaignRequest,
  type CampaignResponse,
  type KeyValue,
  type LeaderKey,
  type LeaderRequest,
  type LeaderResponse,
  type LockRequest,
  type LockResponse,
  type ProclaimRequest,
  type ProclaimResponse,
  type ResignRequest,
  type ResignResponse,
  type ResponseHeader,
  type UnlockRequest,
  type UnlockResponse,
  type WatchResponse,
} from '../proto/index.js';

/**
 * etcd's v3lock / v3election run on etcd's own client, whose errors are not gRPC statuses: whatever fails (lease not
 * found, no leader, timeouts, and the recipes' own errors) reaches the caller as gRPC Unknown with the same message.
 */
function asPlain<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    throw err instanceof EtcdError ? unmapped(err) : err;
  });
}
/** etcd's v3lock grants a lease of this TTL when none is given (and does not keep it alive). */
const LOCK_DEFAULT_TTL_SECONDS = 60;

/**
 * A key this service writes or deletes, checked as the KV API checks its keys: these requests reach the apply path
 * without going through the KV request validation, and a key the store cannot index would stop the member.
 */
function checkWriteKey(key: Uint8Array): void {
  if (key.length === 0) throw etcdError('EmptyKey');
  checkKeySize(key);
}

/** The largest lease ID a grant hands out (a positive int64): its key is the longest a granted lease gives. */
const LEASE_ID_MAX = (1n << 63n) - 1n;

export class ConcurrencyService {
  private readonly closers = new Set<() => void>();

  constructor(private readonly kv: KvPort) {}

  close(): void {
    for (const c of [...this.closers]) c();
  }

  /** The member's key space as the shared recipe steps (src/concurrency) use it; `signal` ends a wait early. */
  private recipeKv(caller: Caller, signal?: AbortSignal): RecipeKv {
    return {
      range: async (req) => this.kv.range(req, caller),
      txn: async (req) => this.kv.txn(req, caller),
      waitDelete: (key, rev) => this.waitDelete(Buffer.from(key), rev, caller, signal),
    };
  }

  /** Resolves when `key` is deleted after revision `rev`. */
  private waitDelete(key: Buffer, rev: number, caller: Caller, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(etcdError('Canceled'));
      const stream = this.kv.watch(
        {
          send: (resp: WatchResponse) => {
            // a watch refused for the caller ends the wait with the refusal (clientv3's Watch channel closes with it)
            if (resp.canceled && resp.watch_id === -1) done(fromCancelReason(resp.cancel_reason));
            else if (resp.events.some((e) => e.type === EventType.DELETE) || resp.compact_revision) done(null);
          },
          pendingBytes: () => 0,
        },
        caller,
      );
      const done = (err: Error | null): void => {
        this.closers.delete(closer);
        signal?.removeEventListener('abort', cancel);
        stream.close();
        if (err) reject(err);
        else resolve();
      };
      const closer = (): void => done(unmapped(etcdError('Stopped')));
      const cancel = (): void => done(etcdError('Canceled'));
      this.closers.add(closer);
      signal?.addEventListener('abort', cancel, { once: true });
      stream.handle({ create_request: { key, start_revision: rev + 1, filters: [WatchFilterType.NOPUT] } });
    });
  }

  private async keyExists(key: Uint8Array, caller: Caller): Promise<boolean> {
    return (await this.kv.range({ key, count_only: true }, caller)).count > 0;
  }

  /**
   * Waits for the keys ahead of the queued key (none when `held`); if the caller goes away meanwhile, removes the key
   * (etcd's Mutex.Lock and Campaign). Resolves with the header of the request that found nobody ahead.
   */
  private async waitOrWithdraw(prefix: Uint8Array, queued: Queued, held: boolean, caller: Caller, signal?: AbortSignal): Promise<ResponseHeader> {
    try {
      const header = held ? queued.response.header : await waitDeletes(this.recipeKv(caller, signal), prefix, queued.revision - 1);
      // gone before the answer (also when nothing was ahead): the lock or leadership is not taken, as in etcd
      if (signal?.aborted) throw etcdError('Canceled');
      return header;
    } catch (err) {
      if (signal?.aborted) await this.kv.deleteRange({ key: queued.key }, caller).catch(() => undefined);
      throw err;
    }
  }

  // ---- Lock ---------------------------------------------------------------------------------------------------

  /** `signal`: the caller went away (its connection closed); a waiting Lock then removes its key, as etcd's does. */
  lock(req: LockRequest, caller: Caller, signal?: AbortSignal): Promise<LockResponse> {
    return asPlain(this.lockInner(req, caller, signal));
  }

  private async lockInner(req: LockRequest, caller: Caller, signal?: AbortSignal): Promise<LockResponse> {
    const prefix = recipePrefix(req.name);
    let lease = req.lease;
    if (lease === 0n) {
      checkWriteKey(sessionKey(prefix, LEASE_ID_MAX)); // the longest key a granted lease can give, before granting one
      lease = (await this.kv.leaseGrant({ TTL: LOCK_DEFAULT_TTL_SECONDS }, caller)).ID;
    }
    checkWriteKey(sessionKey(prefix, lease));
    const queued = await lockEnqueue(this.recipeKv(caller, signal), prefix, lease);
    const header = await this.waitOrWithdraw(prefix, queued, queued.held, caller, signal).catch(async (err: unknown) => {
      // the 60 s lease granted for this call has no other use
      if (signal?.aborted && req.lease === 0n) await this.kv.leaseRevoke({ ID: lease }, caller).catch(() => undefined);
      throw err;
    });
    // the lease may have expired while waiting: then the key is gone and the lock was not acquired
    if (!(await this.keyExists(queued.key, caller))) throw etcdError('SessionExpired');
    return { header, key: queued.key };
  }

  unlock(req: UnlockRequest, caller: Caller): Promise<UnlockResponse> {
    return asPlain(this.unlockInner(req, caller));
  }

  private async unlockInner(req: UnlockRequest, caller: Caller): Promise<UnlockResponse> {
    checkWriteKey(req.key);
    const r = await this.kv.deleteRange({ key: req.key }, caller);
    return { header: r.header };
  }

  // ---- Election -----------------------------------------------------------------------------------------------

  /** `signal`: as lock's; a waiting candidate that goes away resigns. */
  campaign(req: CampaignRequest, caller: Caller, signal?: AbortSignal): Promise<CampaignResponse> {
    return asPlain(this.campaignInner(req, caller, signal));
  }

  private async campaignInner(req: CampaignRequest, caller: Caller, signal?: AbortSignal): Promise<CampaignResponse> {
    const value = req.value ?? new Uint8Array(0);
    const prefix = recipePrefix(req.name);
    checkWriteKey(sessionKey(prefix, req.lease));
    const queued = await campaignEnqueue(this.recipeKv(caller, signal), prefix, req.lease, value);
    const leader: LeaderKey = { name: req.name, key: queued.key, rev: queued.revision, lease: req.lease };
    if (queued.existing !== null && !Buffer.from(queued.existing.value).equals(Buffer.from(value))) await this.proclaimInner({ leader, value }, caller);
    await this.waitOrWithdraw(prefix, queued, false, caller, signal);
    if (!(await this.keyExists(queued.key, caller))) throw etcdError('SessionExpired');
    // etcd's Election.Campaign answers with the header of its campaign txn, even after a proclaim or a wait
    return { header: queued.response.header, leader };
  }

  proclaim(req: ProclaimRequest, caller: Caller): Promise<ProclaimResponse> {
    return asPlain(this.proclaimInner(req, caller));
  }

  private async proclaimInner(req: ProclaimRequest, caller: Caller): Promise<ProclaimResponse> {
    if (req.leader === undefined) throw etcdError('MissingLeaderKey');
    const l = req.leader;
    checkWriteKey(l.key);
    const r = await proclaim(this.recipeKv(caller), l.key, l.rev, l.lease, req.value ?? new Uint8Array(0));
    if (!r.succeeded) throw etcdError('ElectionNotLeader');
    return { header: r.header };
  }

  private async currentLeader(name: Uint8Array, caller: Caller, serializable = false): Promise<{ header: ResponseHeader; kv: KeyValue | undefined }> {
    const r = await this.kv.range({ ...byCreate(recipePrefix(name), SortOrder.ASCEND), serializable }, caller);
    return { header: r.header, kv: r.kvs[0] };
  }

  leader(req: LeaderRequest, caller: Caller): Promise<LeaderResponse> {
    return asPlain(this.leaderInner(req, caller));
  }

  private async leaderInner(req: LeaderRequest, caller: Caller): Promise<LeaderResponse> {
    const { header, kv } = await this.currentLeader(req.name, caller);
    if (kv === undefined) throw etcdError('ElectionNoLeader');
    return { header, kv };
  }

  resign(req: ResignRequest, caller: Caller): Promise<ResignResponse> {
    return asPlain(this.resignInner(req, caller));
  }

  private async resignInner(req: ResignRequest, caller: Caller): Promise<ResignResponse> {
    if (req.leader === undefined) throw etcdError('MissingLeaderKey');
    const l = req.leader;
    checkWriteKey(l.key);
    const r = await resign(this.recipeKv(caller), l.key, l.rev);
    return { header: r.header };
  }

  /**
   * etcd's Observe: the leader's key-value now (if any) and at every change of leader or value. `caller` is resolved
   * when the request arrives; a caller refused (or credentials that do not resolve) ends the stream without an error
   * and without a message, as etcd's Observe ends when its internal client's first read fails.
   */
  openObserveStream(sink: StreamSinkLike, caller: Caller): StreamHandle {
    let closed = false;
    let watch: { close(): void } | null = null;
    let last = '';
    const close = (): void => {
      closed = true;
      watch?.close();
      this.closers.delete(close);
    };
    this.closers.add(close);
    const report = async (name: Uint8Array): Promise<void> => {
      const { header, kv } = await this.currentLeader(name, caller, true);
      if (closed || kv === undefined) return;
      const id = `${Buffer.from(kv.key).toString('hex')}@${kv.mod_revision}`;
      if (id === last) return;
      last = id;
      sink.send({ header, kv } satisfies LeaderResponse);
    };
    return {
      handle: (r) => {
        if (watch !== null || closed) return;
        const name = (r as LeaderRequest).name;
        const prefix = recipePrefix(name);
        let chain = Promise.resolve();
        const ended = (err: unknown): void => {
          if (isAssertionError(err)) throw err;
          if (!closed) sink.end(isAuthRefusal(err) ? undefined : unmapped(err instanceof EtcdError ? err : new EtcdError(GrpcCode.Unknown, String(err))));
          close();
        };
        const next = (): void => {
          chain = chain.then(() => report(name)).catch(ended);
        };
        const stream = this.kv.watch({ send: (resp) => resp.events.length > 0 && next(), pendingBytes: () => sink.pendingBytes() }, caller);
        stream.handle({ create_request: { key: prefix, range_end: prefixRangeEnd(prefix) } });
        watch = stream;
        next();
      },
      close,
    };
  }

}

/** The refusals of etcd's auth: what ends an Observe quietly, and what a refused internal watch reports. */
const AUTH_REFUSALS = new Set(['PermissionDenied', 'UserEmpty', 'InvalidAuthToken', 'AuthOldRevision']);

function isAuthRefusal(err: unknown): boolean {
  return err instanceof EtcdError && AUTH_REFUSALS.has(err.name);
}

/** A watch create refused with `reason` (etcd's cancel_reason), as the error the caller's request fails with. */
function fromCancelReason(reason: string | undefined): EtcdError {
  const name = nameOfMessage((reason ?? '').replace(/^rpc error: code = \w+ desc = /, ''));
  return name !== undefined && AUTH_REFUSALS.has(name) ? etcdError(name as 'PermissionDenied') : new EtcdError(GrpcCode.Unknown, reason ?? 'watch canceled');
}
