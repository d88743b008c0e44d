// Client recipes in the shape of etcd's clientv3/concurrency: a Session (a lease kept alive in the background), a
// Mutex and an Election on top of it. The Mutex and the Election call the server's v3lock / v3election RPCs, which
// run etcd's key-prefix algorithm on the member (a key <name>/<lease hex> attached to the session's lease; the
// lowest create revision under <name>/ holds the lock or leads).
//
// Everything is tied to the session's lease: a holder stays holder only while its lease lives. A session that cannot
// renew its lease for a whole TTL (member unreachable, process paused) must assume the lease, and so the lock or the
// leadership, are gone: `done` resolves then.

import { systemClock, type Clock, type ClockTimer } from '../clock/index.js';
import { EtcdError, etcdError, GrpcCode } from '../errors/index.js';
import type { Bytes, KeyValue, LeaderKey, ResponseHeader } from '../proto/index.js';
import type { Client } from './client.js';
import type { ClientStream } from './stream.js';

const toBytes = (v: string | Bytes): Bytes => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

/** A request lost with its connection (or never sent): safe to resend when the request is idempotent. */
function isConnectionLoss(err: unknown): boolean {
  return err instanceof EtcdError && err.code === GrpcCode.Unavailable;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** Runs `call` until it gets an answer, sending it again after a lost connection (only for idempotent calls). */
async function resendOnConnectionLoss<T>(call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!isConnectionLoss(err)) throw err;
      await sleep(100);
    }
  }
}

export interface SessionOptions {
  /** lease TTL in seconds when the session grants its own lease (default 60, as clientv3) */
  ttl?: number;
  /** an existing lease to keep alive instead of granting one */
  lease?: bigint;
  /** pause before reopening a keep-alive stream that broke (default 250 ms) */
  reconnectDelayMs?: number;
  /** the keep-alive timer, the lease deadline and the reconnect pauses (default: the system clock); tests pass a ManualClock */
  clock?: Clock;
}

/** A lease kept alive over a LeaseKeepAlive stream (reopened on connection loss) until close() revokes it. */
export class Session {
  private stream: ClientStream<{ ID: bigint }> | null = null;
  private timer: ClockTimer | null = null;
  private stopped = false;
  /** local deadline (clock.now() ms) past which the lease may have expired: the last renewal's answer + its TTL */
  private deadline: number;
  private resolveDone!: () => void;
  /** resolves when the session ends: closed, orphaned, or its lease expired or was revoked */
  readonly done: Promise<void> = new Promise((r) => (this.resolveDone = r));
  private ended = false;

  private constructor(
    readonly client: Client,
    readonly lease: bigint,
    readonly ttl: number,
    private readonly reconnectDelayMs: number,
    private readonly clock: Clock,
  ) {
    this.deadline = clock.now() + ttl * 1000;
    void this.openStream();
    this.timer = clock.setInterval(() => this.tick(), Math.max(100, (ttl * 1000) / 3));
    // the system clock's timers do not hold the process open; this one always did: a live session keeps it running
    (this.timer as Partial<NodeJS.Timeout>).ref?.();
  }

  static async create(client: Client, options: SessionOptions = {}): Promise<Session> {
    const reconnect = options.reconnectDelayMs ?? 250;
    const clock = options.clock ?? systemClock;
    if (options.lease !== undefined) {
      const t = await client.call('LeaseTimeToLive', { ID: options.lease });
      if (t.TTL < 0) throw etcdError('LeaseNotFound'); // -1: unknown
      return new Session(client, options.lease, t.grantedTTL, reconnect, clock);
    }
    const r = await client.call('LeaseGrant', { TTL: options.ttl ?? 60 });
    return new Session(client, r.ID, r.TTL, reconnect, clock);
  }

  /** True once the session ended (its lease is, or must be assumed, gone). */
  get isDone(): boolean {
    return this.ended;
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopped = true;
    this.clock.clear(this.timer);
    this.timer = null;
    this.stream?.close();
    this.stream = null;
    this.resolveDone();
  }

  /** Every TTL/3: one renewal on the open stream; gives up once a whole TTL passed without one. */
  private tick(): void {
    if (this.stopped) return;
    if (this.clock.now() >= this.deadline) return this.finish();
    if (this.stream === null || !this.stream.send({ ID: this.lease })) void this.openStream();
  }

  private opening = false;

  private async openStream(): Promise<void> {
    if (this.stopped || this.opening || this.stream !== null) return;
    this.opening = true;
    try {
      this.stream = await this.client.openStream(
        'LeaseKeepAlive',
        { ID: this.lease },
        {
          message: (r) => {
            if (r.TTL <= 0) return this.finish(); // revoked or expired
            this.deadline = this.clock.now() + r.TTL * 1000;
          },
          end: () => {
            this.stream = null;
            if (!this.stopped) this.clock.setTimeout(() => void this.openStream(), this.reconnectDelayMs);
          },
        },
      );
    } catch {
      this.stream = null;
      if (!this.stopped) this.clock.setTimeout(() => void this.openStream(), this.reconnectDelayMs);
    } finally {
      this.opening = false;
    }
  }

  /** Stops renewing without revoking: the lease then expires after its TTL (clientv3's Orphan). */
  orphan(): void {
    this.finish();
  }

  /** Stops renewing and revokes the lease, deleting its keys (a lock held or a candidacy goes with it). */
  async close(): Promise<void> {
    const wasEnded = this.ended;
    this.finish();
    if (wasEnded) return;
    try {
      await this.client.call('LeaseRevoke', { ID: this.lease });
    } catch (err) {
      // already expired or revoked: nothing to do; otherwise it expires by itself
      if (!(err instanceof EtcdError && err.code === GrpcCode.NotFound)) throw err;
    }
  }
}

/**
 * A distributed lock (etcd's v3lock through the server's Lock/Unlock RPCs). Lock is idempotent for a given lease
 * (the same key comes back), so a Lock lost with its connection is sent again rather than abandoned.
 */
export class Mutex {
  private myKey: Bytes | null = null;
  private hdr: ResponseHeader | null = null;
  readonly name: Bytes;

  constructor(
    readonly session: Session,
    name: string | Bytes,
  ) {
    this.name = toBytes(name);
  }

  /** Waits until this session holds the lock. Fails if the session's lease is gone. */
  async lock(): Promise<void> {
    const r = await resendOnConnectionLoss(() => {
      if (this.session.isDone) throw etcdError('SessionExpired');
      return this.session.client.call('Lock', { name: this.name, lease: this.session.lease });
    });
    this.myKey = r.key;
    this.hdr = r.header;
  }

  /** Releases the lock (deletes this session's key). */
  async unlock(): Promise<void> {
    if (this.myKey === null) return;
    const key = this.myKey;
    await resendOnConnectionLoss(() => this.session.client.call('Unlock', { key })); // deleting the key again is harmless
    this.myKey = null;
  }

  /** The key that holds the lock (null when not locked by this Mutex). */
  get key(): Bytes | null {
    return this.myKey;
  }

  /** The response header of the Lock that acquired it. */
  get header(): ResponseHeader | null {
    return this.hdr;
  }
}

/** A leader election (etcd's v3election through the server's Campaign/Proclaim/Leader/Resign/Observe RPCs). */
export class Election {
  private leaderKey: LeaderKey | null = null;
  private hdr: ResponseHeader | null = null;
  readonly name: Bytes;

  constructor(
    readonly session: Session,
    name: string | Bytes,
  ) {
    this.name = toBytes(name);
  }

  /** Waits until this session leads, announcing `value`. Idempotent for the session's lease. */
  async campaign(value: string | Bytes): Promise<void> {
    const r = await resendOnConnectionLoss(() => {
      if (this.session.isDone) throw etcdError('SessionExpired');
      return this.session.client.call('Campaign', { name: this.name, lease: this.session.lease, value: toBytes(value) });
    });
    this.leaderKey = r.leader;
    this.hdr = r.header;
  }

  /** Announces a new value while leading; 'election: not leader' otherwise. */
  async proclaim(value: string | Bytes): Promise<void> {
    if (this.leaderKey === null) throw etcdError('ElectionNotLeader');
    try {
      this.hdr = (await this.session.client.call('Proclaim', { leader: this.leaderKey, value: toBytes(value) })).header;
    } catch (err) {
      if (err instanceof EtcdError && err.name === 'ElectionNotLeader') this.leaderKey = null;
      throw err;
    }
  }

  /** The current leader's key-value; 'election: no leader' when nobody leads. */
  async leader(): Promise<KeyValue> {
    const r = await this.session.client.call('Leader', { name: this.name });
    if (r.kv === undefined) throw etcdError('ElectionNoLeader');
    return r.kv;
  }

  /** Gives up leadership (or a pending candidacy's key); a no-op when not leading. */
  async resign(): Promise<void> {
    if (this.leaderKey === null) return;
    this.hdr = (await this.session.client.call('Resign', { leader: this.leaderKey })).header;
    this.leaderKey = null;
  }

  /**
   * Streams the leader's key-value now and at every change (new leader or proclaimed value), reopening the stream
   * on connection loss; a value already reported is not reported twice.
   */
  observe(onLeader: (kv: KeyValue) => void): { close(): void } {
    let closed = false;
    let stream: ClientStream<{ name: Bytes }> | null = null;
    let last = '';
    const open = async (): Promise<void> => {
      if (closed) return;
      try {
        stream = await this.session.client.openStream(
          'Observe',
          { name: this.name },
          {
            message: (r) => {
              if (r.kv === undefined) return;
              const id = `${Buffer.from(r.kv.key).toString('hex')}@${r.kv.mod_revision}`;
              if (id === last) return;
              last = id;
              onLeader(r.kv);
            },
            end: () => {
              stream = null;
              if (!closed) setTimeout(() => void open(), 250).unref();
            },
          },
        );
        if (closed) stream.close();
      } catch {
        if (!closed) setTimeout(() => void open(), 250).unref();
      }
    };
    void open();
    return {
      close: () => {
        closed = true;
        stream?.close();
      },
    };
  }

  /** This candidate's key, once campaign() returned (null otherwise). */
  get key(): LeaderKey | null {
    return this.leaderKey;
  }

  get header(): ResponseHeader | null {
    return this.hdr;
  }
}
