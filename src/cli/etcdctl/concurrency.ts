// clientv3/concurrency (3.4) as etcdctl's lock and elect use it, over plain KV, lease and watch requests: a session
// is a lease kept alive; a mutex or a candidacy is the key <name>/<lease ID in hex> attached to it; the holder or
// leader is the key with the lowest create revision under <name>/, and waiting means watching for the deletion of
// the key just ahead. The steps are src/concurrency's (the member's Lock and Election services run the same ones);
// here are clientv3's sessions, contexts and error texts around them.

import { byCreate, campaignEnqueue, leaseHex, lockEnqueue, proclaim, resign, waitDeletes, type RecipeKv } from '../../concurrency/index.js';
import {
  EventType,
  SortOrder,
  type Client,
  type KeyValue,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type TxnResponse,
} from '../../client/index.js';
import { clientErrorText, type Connection } from './connection.js';
import { byteStringToBytes, bytesToByteString, type ByteString } from '../../gocompat/index.js';
import { keepAlive, type KeepAlive } from './keepalive.js';
import { prefixEnd } from './commands/kv-ops.js';
import { watchErr, type WatchEvents } from './printers/index.js';
import type { WatchChan, Watcher } from './watcher.js';

/** A Go error on its way back to etcdctl's ExitWithError; the message is the error's text. */
export class GoError extends Error {}

const CONTEXT_CANCELED = 'context canceled';

/** context.WithCancel(context.TODO()): cancelled once (by a signal), never expires. */
export class Ctx {
  private canceled = false;
  private readonly waiters: (() => void)[] = [];

  cancel(): void {
    if (this.canceled) return;
    this.canceled = true;
    for (const w of this.waiters.splice(0)) w();
  }

  err(): string | null {
    return this.canceled ? CONTEXT_CANCELED : null;
  }

  /** resolves when cancelled (ctx.Done()) */
  done(): Promise<void> {
    if (this.canceled) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** `p`, or a "context canceled" error if the context is cancelled first */
  run<T>(p: Promise<T>): Promise<T> {
    if (this.canceled) {
      p.catch(() => {});
      return Promise.reject(new GoError(CONTEXT_CANCELED));
    }
    return Promise.race([p, this.done().then((): never => { throw new GoError(CONTEXT_CANCELED); })]);
  }
}

/** context.TODO(): never cancelled */
export const TODO = new Ctx();

/** One request without deadline (clientv3 with the given context); errors become GoErrors with clientv3's text. */
export class KvClient {
  constructor(
    readonly conn: Connection,
    readonly watcher: Watcher,
    readonly dialTimeoutMs: number,
  ) {}

  async request<T>(ctx: Ctx, send: (c: Client) => Promise<T>, idempotent: boolean): Promise<T> {
    try {
      return await ctx.run(this.conn.request(send, null, idempotent));
    } catch (err) {
      if (err instanceof GoError) throw err;
      throw new GoError(clientErrorText(err));
    }
  }

  get(ctx: Ctx, req: RangeRequest): Promise<RangeResponse> {
    return this.request(ctx, (c) => c.range(req), true);
  }

  txn(ctx: Ctx, req: Parameters<Client['txn']>[0]): Promise<TxnResponse> {
    return this.request(ctx, (c) => c.txn(req), false);
  }

  /** Watch(ctx, key, WithRev(rev)...): the channel closes when ctx is cancelled */
  async watch(ctx: Ctx, req: Parameters<Watcher['watch']>[0]): Promise<WatchChan> {
    const ch = await ctx.run(this.watcher.watch(req));
    void ctx.done().then(() => this.watcher.cancel(ch));
    return ch;
  }
}

const SESSION_TTL_DEFAULT = 60;

/** concurrency.Session: a lease granted with the session's TTL and kept alive until the process ends. */
export class Session {
  private constructor(
    readonly client: KvClient,
    readonly lease: bigint,
    private readonly ka: KeepAlive,
  ) {}

  /** NewSession(client, WithTTL(ttl)): a TTL of 0 or less keeps the default, 60 s */
  static async create(client: KvClient, ttl = SESSION_TTL_DEFAULT): Promise<Session> {
    const resp = await client.request(TODO, (c) => c.call('LeaseGrant', { TTL: ttl > 0 ? ttl : SESSION_TTL_DEFAULT }), true);
    const id = BigInt(resp.ID);
    return new Session(client, id, keepAlive(client.conn, id, client.dialTimeoutMs, () => {}));
  }

  /** Done(): the keep-alive ended (the lease expired or was revoked) */
  done(): Promise<void> {
    return this.ka.done;
  }
}

/** waitDelete: until `key` is deleted (watching from revision `rev`). */
async function waitDelete(ctx: Ctx, client: KvClient, key: Uint8Array, rev: number): Promise<void> {
  const wch = await client.watch(ctx, { key, start_revision: rev });
  let last: WatchEvents | null = null;
  for (;;) {
    const wr = await wch.next();
    if (wr === null) break;
    last = wr;
    if ((wr.events ?? []).some((ev) => ev.type === EventType.DELETE)) {
      client.watcher.cancel(wch);
      return;
    }
  }
  const err = last === null ? null : watchErr(last);
  if (err !== null) throw new GoError(err);
  if (ctx.err() !== null) throw new GoError(ctx.err()!);
  throw new GoError('lost watcher waiting for delete');
}

/** The key space as the shared recipe steps use it: this client's requests under `ctx`. */
function recipeKv(ctx: Ctx, client: KvClient): RecipeKv {
  return {
    range: (req) => client.get(ctx, req),
    txn: (req) => client.txn(ctx, req),
    waitDelete: (key, rev) => waitDelete(ctx, client, key, rev),
  };
}

/** concurrency.Mutex */
export class Mutex {
  private readonly pfx: ByteString;
  private myKey: ByteString = '';
  private myRev = -1;
  private hdr: ResponseHeader | null = null;

  constructor(
    private readonly s: Session,
    pfx: ByteString,
  ) {
    this.pfx = pfx + '/';
  }

  async lock(ctx: Ctx): Promise<void> {
    const kv = recipeKv(ctx, this.s.client);
    const prefix = byteStringToBytes(this.pfx);
    this.myKey = this.pfx + leaseHex(this.s.lease);
    const queued = await lockEnqueue(kv, prefix, this.s.lease);
    this.myRev = queued.revision;
    if (queued.held) {
      this.hdr = queued.response.header;
      return;
    }
    try {
      this.hdr = await waitDeletes(kv, prefix, this.myRev - 1);
    } catch (err) {
      await this.unlock(TODO).catch(() => {});
      throw err;
    }
  }

  async unlock(ctx: Ctx): Promise<void> {
    await this.s.client.request(ctx, (c) => c.deleteRange({ key: byteStringToBytes(this.myKey) }), false);
    this.myKey = '\x00';
    this.myRev = -1;
  }

  key(): ByteString {
    return this.myKey;
  }

  header(): ResponseHeader | null {
    return this.hdr;
  }
}

const ERR_ELECTION_NOT_LEADER = 'election: not leader';

/** concurrency.Election */
export class Election {
  private readonly keyPrefix: ByteString;
  private leaderKey: ByteString = '';
  private leaderRev = 0;
  private leaderSession: Session | null = null;

  constructor(
    private readonly session: Session,
    pfx: ByteString,
  ) {
    this.keyPrefix = pfx + '/';
  }

  async campaign(ctx: Ctx, val: ByteString): Promise<void> {
    const s = this.session;
    const kv = recipeKv(ctx, s.client);
    const prefix = byteStringToBytes(this.keyPrefix);
    const queued = await campaignEnqueue(kv, prefix, s.lease, byteStringToBytes(val));
    this.leaderKey = bytesToByteString(queued.key);
    this.leaderRev = queued.revision;
    this.leaderSession = s;
    if (queued.existing !== null && bytesToByteString(queued.existing.value) !== val) {
      try {
        await this.proclaim(ctx, val);
      } catch (err) {
        await this.resign(ctx).catch(() => {});
        throw err;
      }
    }
    try {
      await waitDeletes(kv, prefix, this.leaderRev - 1);
    } catch (err) {
      if (ctx.err() !== null) await this.resign(TODO).catch(() => {});
      else this.leaderSession = null;
      throw err;
    }
  }

  async proclaim(ctx: Ctx, val: ByteString): Promise<void> {
    if (this.leaderSession === null) throw new GoError(ERR_ELECTION_NOT_LEADER);
    const resp = await proclaim(recipeKv(ctx, this.session.client), byteStringToBytes(this.leaderKey), this.leaderRev, this.leaderSession.lease, byteStringToBytes(val));
    if (!resp.succeeded) {
      this.leaderKey = '';
      throw new GoError(ERR_ELECTION_NOT_LEADER);
    }
  }

  async resign(ctx: Ctx): Promise<void> {
    if (this.leaderSession === null) return;
    try {
      await resign(recipeKv(ctx, this.session.client), byteStringToBytes(this.leaderKey), this.leaderRev);
    } finally {
      this.leaderKey = '';
      this.leaderSession = null;
    }
  }

  key(): ByteString {
    return this.leaderKey;
  }

  /**
   * observe: calls `emit` with a GetResponse for the leader when observed and for each of its new values, until the
   * context is cancelled or a request or watch fails. Returns when it stops (Go closes the channel then).
   */
  async observe(ctx: Ctx, emit: (r: RangeResponse) => void): Promise<void> {
    const client = this.session.client;
    for (;;) {
      let resp: RangeResponse;
      try {
        resp = await client.get(ctx, byCreate(byteStringToBytes(this.keyPrefix), SortOrder.ASCEND));
      } catch {
        return;
      }
      let kv: KeyValue | undefined;
      let hdr: ResponseHeader;
      if ((resp.kvs ?? []).length === 0) {
        // wait for the first key put under the prefix
        let wch: WatchChan;
        try {
          wch = await client.watch(ctx, {
            key: byteStringToBytes(this.keyPrefix),
            range_end: byteStringToBytes(prefixEnd(this.keyPrefix)),
            start_revision: Number(resp.header.revision),
          });
        } catch {
          return;
        }
        hdr = resp.header;
        while (kv === undefined) {
          const wr = await wch.next();
          if (wr === null || watchErr(wr) !== null) {
            client.watcher.cancel(wch);
            return;
          }
          const put = (wr.events ?? []).find((ev) => ev.type === EventType.PUT);
          if (put !== undefined) {
            kv = put.kv;
            hdr = { ...(wr.header ?? ({} as ResponseHeader)), revision: put.kv.mod_revision };
          }
        }
        client.watcher.cancel(wch);
      } else {
        hdr = resp.header;
        kv = resp.kvs[0]!;
      }
      if (ctx.err() !== null) return;
      emit({ header: hdr, kvs: [kv] } as RangeResponse);

      let wch: WatchChan;
      try {
        wch = await client.watch(ctx, { key: kv.key, start_revision: Number(hdr.revision) + 1 });
      } catch {
        return;
      }
      let keyDeleted = false;
      while (!keyDeleted) {
        const wr = await wch.next();
        if (wr === null) return;
        for (const ev of wr.events ?? []) {
          if (ev.type === EventType.DELETE) {
            keyDeleted = true;
            break;
          }
          resp = { ...resp, header: wr.header ?? ({} as ResponseHeader), kvs: [ev.kv] };
          if (ctx.err() !== null) return;
          emit(resp);
        }
      }
      client.watcher.cancel(wch);
    }
  }
}
