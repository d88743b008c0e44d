// The TypeScript client for the binary protocol, used by etcdctl-ts, the tests and the bench.
// Many requests in flight on one connection (request ids); responses may arrive in any order.
// Lifecycle: close() waits for in-flight requests then ends the connection; destroy(err) rejects them at once.
// Auth: with `username`/`password` the client authenticates on connecting and sets the token on each connection it
// opens (the binary protocol's Auth frame); it re-authenticates once when a request fails with `invalid auth token`
// or `revision of auth store is old`, as clientv3 does. `token` is used as given (never refreshed).

import net from 'node:net';
import { EtcdError, etcdError, fromStatus, GrpcCode } from '../errors/index.js';
import {
  encodeFrame,
  FrameDecoder,
  FrameKind,
  prefixRangeEnd,
  unpackr,
  type Bytes,
  type MethodName,
  type RequestOf,
  type ResponseOf,
  type StreamMethodName,
  type StreamMethods,
} from '../proto/index.js';
import { normalizeIds } from './normalize.js';
import type { ClientStream, StreamHandlers, StreamOpener } from './stream.js';
import { watch, type WatchHandlers, type Watcher, type WatchOptions } from './watch.js';

export interface ClientOptions {
  /** "host:port" or "http://host:port"; several endpoints are tried in order until one connects */
  endpoints: string[];
  /** connect timeout per endpoint */
  dialTimeoutMs?: number;
  /** a request without a response after this long is rejected (the write may or may not have happened) */
  requestTimeoutMs?: number;
  /** largest response body accepted */
  responseBytesMax?: number;
  // ---- auth (etcd's v3 auth) ----
  /** authenticate as this user on connect (with `password`); with auth disabled on the server, requests go anonymous */
  username?: string;
  password?: string;
  /** a token to send as it is (a test's expired or forged one, or one obtained elsewhere); wins over username */
  token?: string;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | null;
}

export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const trimmed = endpoint.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  const idx = trimmed.lastIndexOf(':');
  if (idx <= 0) throw new Error(`invalid endpoint "${endpoint}": want host:port`);
  const host = trimmed.slice(0, idx).replace(/^\[|\]$/g, '');
  const port = Number(trimmed.slice(idx + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`invalid endpoint "${endpoint}": bad port`);
  return { host, port };
}

export function toBytes(v: string | Bytes): Bytes {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

const RESPONSE_BYTES_MAX_DEFAULT = 1 << 30;

/** A request lost with its connection (sent = it may have reached the member) or never sent. */
class RetryableError extends Error {
  constructor(
    override readonly cause: Error,
    readonly sent: boolean,
  ) {
    super(cause.message);
  }
}

/** Credentials refused while a connection was set up: reported as they are, not as an unreachable endpoint. */
class LoginError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

function txnIsReadOnly(t: RequestOf<'Txn'>): boolean {
  return [...(t.success ?? []), ...(t.failure ?? [])].every((op) => !op.request_put && !op.request_delete_range && (!op.request_txn || txnIsReadOnly(op.request_txn)));
}

/** Requests that change nothing, so resending one whose answer was lost is harmless. */
function isSafeToRetry(method: MethodName, request: unknown): boolean {
  if (method === 'Range' || method === 'Status') return true;
  return method === 'Txn' && txnIsReadOnly(request as RequestOf<'Txn'>);
}

export class Client implements StreamOpener {
  private socket: net.Socket | null = null;
  private connecting: Promise<net.Socket> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private closing: Promise<void> | null = null;
  readonly endpoint: string;

  constructor(private readonly options: ClientOptions) {
    if (options.endpoints.length === 0) throw new Error('no endpoints given');
    this.endpoint = options.endpoints[0]!;
  }

  /** Connects (lazily done by the first request too). */
  async connect(): Promise<void> {
    await this.ensureSocket();
  }

  private ensureSocket(): Promise<net.Socket> {
    if (this.socket !== null) return Promise.resolve(this.socket);
    if (this.closed) return Promise.reject(new Error('client is closed'));
    this.connecting ??= this.dialAny().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** Index of the endpoint to try first: the last one that worked, or the one after the last that failed. */
  private preferred = 0;
  private connectedTo = -1;

  private async dialAny(): Promise<net.Socket> {
    let lastError: Error = new Error('no endpoints');
    const n = this.options.endpoints.length;
    for (let k = 0; k < n; k++) {
      const i = (this.preferred + k) % n;
      try {
        const socket = await this.dial(this.options.endpoints[i]!);
        if (this.closed && this.closing === null) {
          // destroyed while dialling: a connection attached now would outlive the client
          socket.destroy();
          throw new Error('client destroyed');
        }
        this.attach(socket);
        try {
          await this.login(socket);
        } catch (err) {
          socket.destroy();
          // the connection broke during the login: try the next endpoint
          if (err instanceof RetryableError) throw err.cause;
          // refused credentials end the attempt here: another endpoint would refuse them too
          throw new LoginError(err as Error);
        }
        this.preferred = i;
        this.connectedTo = i;
        this.socket = socket;
        return socket;
      } catch (err) {
        if (err instanceof LoginError) throw err.cause;
        lastError = etcdError('Unreachable', (err as Error).message);
      }
    }
    throw lastError;
  }

  // ---- auth ----------------------------------------------------------------------------------------------------

  /** the token this client's connections carry (null: anonymous) */
  private token: string | null = null;
  /** a re-authentication in progress: requests wait for it before they are sent */
  private refreshing: Promise<void> | null = null;

  /** The token the client currently sends (null when it sends none). */
  get authToken(): string | null {
    return this.options.token ?? this.token;
  }

  /**
   * Sets a new connection up: its token (the given one, the one obtained earlier, or one obtained now with the
   * username and password; none when the server says auth is not enabled).
   */
  private async login(socket: net.Socket): Promise<void> {
    if (this.options.token !== undefined) return this.sendToken(socket, this.options.token);
    if (this.options.username === undefined) return;
    if (this.token === null) this.token = await this.authenticate(socket);
    if (this.token !== null) this.sendToken(socket, this.token);
  }

  /** Authenticate on `socket` (which carries no token meanwhile); null when auth is not enabled. */
  private async authenticate(socket: net.Socket): Promise<string | null> {
    try {
      const r = await this.requestOn(socket, 'Authenticate', { name: this.options.username ?? '', password: this.options.password ?? '' });
      return r.token;
    } catch (err) {
      if (err instanceof EtcdError && err.name === 'AuthNotEnabled') return null;
      throw err;
    }
  }

  private sendToken(socket: net.Socket, token: string | null): void {
    this.corkForThisTick(socket);
    socket.write(encodeFrame(FrameKind.Auth, 0, token === null ? {} : { token }));
  }

  /** Whether a failed request may be retried after authenticating again. */
  private shouldReauthenticate(err: unknown): boolean {
    return (
      this.options.token === undefined &&
      this.options.username !== undefined &&
      err instanceof EtcdError &&
      (err.name === 'InvalidAuthToken' || err.name === 'AuthOldRevision')
    );
  }

  /** clientv3's token refresh: drop the token, authenticate again, then send the new one; requests wait meanwhile. */
  private reauthenticate(): Promise<void> {
    this.refreshing ??= (async () => {
      const socket = this.socket ?? (await this.ensureSocket());
      this.sendToken(socket, null);
      this.token = await this.authenticate(socket);
      this.sendToken(socket, this.token);
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private dial(endpoint: string): Promise<net.Socket> {
    const { host, port } = parseEndpoint(endpoint);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`dial ${endpoint}: timeout`));
      }, this.options.dialTimeoutMs ?? 2000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`dial ${endpoint}: ${err.message}`));
      });
    });
  }

  private attach(socket: net.Socket): void {
    const decoder = new FrameDecoder(
      this.options.responseBytesMax ?? RESPONSE_BYTES_MAX_DEFAULT,
      {
        frame: (kind, requestId, body) => this.onFrame(kind, requestId, body),
        oversize: (_kind, requestId, length) =>
          this.settle(requestId, etcdError('ResponseTooLarge', length)),
      },
      (kind) => kind === FrameKind.Response || kind === FrameKind.Error || kind === FrameKind.StreamMessage || kind === FrameKind.StreamEnd,
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket === socket) {
        this.socket = null;
        // fail over: the next connection starts with the next endpoint
        this.preferred = (this.connectedTo + 1) % this.options.endpoints.length;
      }
      this.failAll(etcdError('ConnectionClosed'));
      for (const [id, st] of this.streams) {
        if (st.socket !== socket) continue;
        this.streams.delete(id);
        st.handlers.end(etcdError('ConnectionClosed'));
      }
    });
  }

  private onFrame(kind: number, requestId: number, body: Buffer): void {
    let decoded: unknown;
    try {
      decoded = unpackr.unpack(body);
    } catch (err) {
      this.settle(requestId, etcdError('MalformedResponse', (err as Error).message));
      return;
    }
    if (kind === FrameKind.StreamMessage || kind === FrameKind.StreamEnd) {
      const st = this.streams.get(requestId);
      if (st === undefined) return;
      if (kind === FrameKind.StreamMessage) return st.handlers.message(normalizeIds(decoded));
      this.streams.delete(requestId);
      const e = decoded as { code?: number; message?: string };
      st.handlers.end(e.code === undefined ? null : fromStatus(e.code, e.message ?? 'unknown error'));
      return;
    }
    if (kind === FrameKind.Error) {
      const e = decoded as { code?: number; message?: string };
      this.settle(requestId, fromStatus(e.code ?? GrpcCode.Unknown, e.message ?? 'unknown error'));
    } else this.settle(requestId, null, normalizeIds(decoded));
  }

  private settle(requestId: number, err: Error | null, value?: unknown): void {
    const p = this.pending.get(requestId);
    if (p === undefined) return;
    this.pending.delete(requestId);
    if (p.timer !== null) clearTimeout(p.timer);
    if (err !== null) p.reject(err);
    else p.resolve(value);
    if (this.closing !== null && this.pending.size === 0) this.socket?.end();
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.timer !== null) clearTimeout(p.timer);
      p.reject(err);
    }
  }

  /**
   * Sends one request by etcd's RPC name. With several endpoints it fails over: a request that could not be sent
   * (no endpoint reachable at that moment) is retried on the next endpoints; one whose connection broke after it was
   * sent is retried only if it cannot have changed anything (reads, status), since a write's outcome is then unknown.
   */
  async call<M extends MethodName>(method: M, request: RequestOf<M>): Promise<ResponseOf<M>> {
    const attempts = Math.max(1, this.options.endpoints.length);
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.callOnce(method, request);
      } catch (err) {
        // a refused token: authenticate again and retry once (the request was refused before it changed anything)
        if (!reauthenticated && this.shouldReauthenticate(err)) {
          reauthenticated = true;
          await this.reauthenticate();
          attempt--;
          continue;
        }
        if (attempt >= attempts || this.closed || !(err instanceof RetryableError)) throw err instanceof RetryableError ? err.cause : err;
        if (err.sent && !isSafeToRetry(method, request)) throw err.cause;
      }
    }
  }

  private async callOnce<M extends MethodName>(method: M, request: RequestOf<M>): Promise<ResponseOf<M>> {
    if (this.closed) throw new Error('client is closed');
    let socket: net.Socket;
    try {
      if (this.refreshing !== null) await this.refreshing;
      socket = this.socket ?? (await this.ensureSocket());
    } catch (err) {
      if (err instanceof EtcdError && err.code !== GrpcCode.Unavailable) throw err; // refused credentials
      throw new RetryableError(err as Error, false);
    }
    return this.requestOn(socket, method, request);
  }

  /** Sends one request on `socket` and waits for its answer. */
  private requestOn<M extends MethodName>(socket: net.Socket, method: M, request: RequestOf<M>): Promise<ResponseOf<M>> {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1;
    return new Promise<ResponseOf<M>>((resolve, reject) => {
      const timeoutMs = this.options.requestTimeoutMs;
      const timer =
        timeoutMs === undefined
          ? null
          : setTimeout(() => this.settle(id, etcdError('ContextDeadlineExceeded')), timeoutMs);
      const rejectConnectionLoss = (err: Error): void =>
        reject(err instanceof EtcdError && err.name === 'ConnectionClosed' ? new RetryableError(err, true) : err);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject: rejectConnectionLoss, timer });
      this.corkForThisTick(socket);
      socket.write(encodeFrame(FrameKind.Request, id, { method, request }));
    });
  }

  private readonly streams = new Map<number, { socket: net.Socket; handlers: StreamHandlers<unknown> }>();

  /**
   * Opens a stream (Watch, LeaseKeepAlive, Observe) on the current connection (connecting, with failover, if there
   * is none). `end` is called once: null when the member ended it normally, else the error (a lost connection
   * included); the caller decides whether to reopen it.
   */
  async openStream<M extends StreamMethodName>(
    method: M,
    first: StreamMethods[M][0] | undefined,
    handlers: StreamHandlers<StreamMethods[M][1]>,
  ): Promise<ClientStream<StreamMethods[M][0]>> {
    if (this.closed) throw new Error('client is closed');
    if (this.refreshing !== null) await this.refreshing.catch(() => undefined);
    const socket = this.socket ?? (await this.ensureSocket());
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1;
    this.streams.set(id, { socket, handlers: handlers as StreamHandlers<unknown> });
    this.corkForThisTick(socket);
    socket.write(encodeFrame(FrameKind.StreamMessage, id, first === undefined ? { method } : { method, request: first }));
    return {
      send: (request) => {
        if (!this.streams.has(id) || socket.destroyed) return false;
        this.corkForThisTick(socket);
        socket.write(encodeFrame(FrameKind.StreamMessage, id, { method, request }));
        return true;
      },
      close: () => {
        if (!this.streams.delete(id) || socket.destroyed) return;
        socket.write(encodeFrame(FrameKind.StreamEnd, id, {}));
      },
    };
  }

  private corked = false;
  /**
   * Requests issued in one event-loop turn leave in one socket write (cork now, uncork on the next tick): a write
   * per request costs a syscall each and was a third of the client's CPU under load.
   */
  private corkForThisTick(socket: net.Socket): void {
    if (this.corked) return;
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  // ---- conveniences in etcd's names ----------------------------------------------------------------------------

  range(request: RequestOf<'Range'>): Promise<ResponseOf<'Range'>> {
    return this.call('Range', request);
  }
  put(request: RequestOf<'Put'>): Promise<ResponseOf<'Put'>> {
    return this.call('Put', request);
  }
  deleteRange(request: RequestOf<'DeleteRange'>): Promise<ResponseOf<'DeleteRange'>> {
    return this.call('DeleteRange', request);
  }
  txn(request: RequestOf<'Txn'>): Promise<ResponseOf<'Txn'>> {
    return this.call('Txn', request);
  }
  compact(request: RequestOf<'Compact'>): Promise<ResponseOf<'Compact'>> {
    return this.call('Compact', request);
  }
  status(): Promise<ResponseOf<'Status'>> {
    return this.call('Status', {});
  }

  /** Gets one key (or a prefix with { prefix: true }). */
  get(key: string | Bytes, opts: { prefix?: boolean } & Omit<RequestOf<'Range'>, 'key'> = {}): Promise<ResponseOf<'Range'>> {
    const k = toBytes(key);
    const { prefix, ...rest } = opts;
    return this.range({ key: k, ...rest, ...(prefix ? { range_end: prefixRangeEnd(k) } : {}) });
  }

  /**
   * Watches a key or range, resuming after a broken connection from the last revision delivered (see watch.ts).
   */
  watch(options: WatchOptions, handlers: WatchHandlers): Watcher {
    return watch(this, options, handlers);
  }

  /** close() or destroy() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests sent but not answered. */
  get inflight(): number {
    return this.pending.size;
  }

  /** Waits for in-flight requests, then closes the connection. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    const socket = this.socket;
    this.closing = new Promise<void>((resolve) => {
      if (socket === null || socket.destroyed) return resolve();
      socket.once('close', () => resolve());
      if (this.pending.size === 0) socket.end();
    });
    return this.closing;
  }

  /** Closes at once; in-flight requests are rejected with `err`. */
  destroy(err: Error = new Error('client destroyed')): void {
    this.closed = true;
    this.failAll(err);
    this.socket?.destroy();
    this.socket = null;
  }
}
