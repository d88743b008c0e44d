// etcd's gRPC API: the calls of etcd's clients (etcdctl, clientv3, the etcd3 npm client) over this package's HTTP/2
// layer. Each call is decoded from protobuf (codec.ts, the shared message table) and goes through the member's
// method table exactly as a binary-protocol or JSON request does; errors come from the one catalogue, as grpc-status
// and grpc-message trailers. Texts of gRPC's own errors are grpc-go 1.33's (the version Debian's etcd 3.4 links).
//
// Per call: the `hasleader` metadata refuses with `no leader` when the member has none (unary calls and stream
// opens, as etcd's interceptors do; open require-leader streams end after three election timeouts without one);
// `grpc-timeout` ends the call with DeadlineExceeded; the `token` metadata (or, as etcd also reads it, `authorization`)
// is the call's auth token, handed to the method table as the caller's credentials; `client-api-version` and other
// metadata are accepted and ignored. A message above the receive limit gets grpc-go's ResourceExhausted; a proposal above
// --max-request-bytes gets etcd's `request is too large`.
//
// Backpressure per connection, as the binary front end: complete requests wait (their bytes still counting against
// the client's HTTP/2 window) while too many are in flight or too many response bytes are outstanding. Streams
// report their queued bytes to the member, so a watch whose client stops reading stops taking live events and is
// caught up from history when the client reads again.

import type net from 'node:net';
import type { ClockTimer } from '../clock/index.js';
import {
  GRPC_HEADER_BLOCK_BYTES_MAX,
  GRPC_STREAM_PENDING_BYTES_MAX,
  grpcConnectionWindowBytes,
  grpcReceiveBytesMax,
  grpcStreamWindowBytes,
  type Limits,
} from '../config/index.js';
import { EtcdError, etcdError, toEtcdError } from '../errors/index.js';
import { decodeStreamRequest, type Event, type MessageDesc, type ResponseHeader } from '../proto/index.js';
import {
  type RequestAuth,
  callMethod,
  EncodedResponse,
  openMethodStream,
  type EtcdServer,
  type StreamHandle,
  type StreamOutput,
} from '../server/index.js';
import { listenTcp } from '../transport/index.js';
import { decodeMessage, encodeMessage, ProtobufError } from './codec.js';
import { encodeHeaderBlock, type HeaderField } from './hpack.js';
import { ErrorCode, Http2Connection, type Http2Handler, type Http2Options, type Http2Stream } from './http2.js';
import { SERVICES, type Route, type StreamRoute, type UnaryRoute } from './services.js';

export interface GrpcServerOptions {
  server: EtcdServer;
  limits: Limits;
}

export interface GrpcServerStats {
  connections: number;
  /** HTTP/2 streams open (calls in progress, streams open) */
  streams: number;
  /** response bytes waiting for clients' HTTP/2 windows */
  queuedBytes: number;
  /** bytes handed to sockets (or about to be) and not yet written */
  writeBufferedBytes: number;
  /** complete requests held back by backpressure */
  waitingRequests: number;
}

export interface ListeningAddress {
  host: string;
  port: number;
}

/** HTTP/2 DATA frame header (9) and gRPC message prefix (5): room left in front of an encoded response. */
const HEADROOM = 14;
const PREFIX_BYTES = 5;

const RESPONSE_HEADERS = encodeHeaderBlock([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);
const OK_TRAILERS = encodeHeaderBlock([['grpc-status', '0']]);

/** grpc-go's encodeGrpcMessage: bytes outside printable ASCII, and `%`, as %XX of their UTF-8 encoding. */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const b of Buffer.from(message, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The status as trailers; `trailersOnly` when no response headers were sent (then the block carries them too). */
function statusBlock(err: EtcdError, trailersOnly: boolean): Buffer {
  const fields: HeaderField[] = trailersOnly ? [[':status', '200'], ['content-type', 'application/grpc']] : [];
  fields.push(['grpc-status', String(err.code)], ['grpc-message', encodeGrpcMessage(err.message)]);
  return encodeHeaderBlock(fields);
}

const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** grpc-timeout: 1 to 8 digits and a unit; null when malformed (grpc-go resets such a stream). */
function parseTimeout(value: string): number | null {
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  return m === null ? null : Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!;
}

/** grpc-go's ContentSubtype check: application/grpc, alone or followed by `+subtype` or `;params`. */
function isGrpcContentType(value: string): boolean {
  if (!value.startsWith('application/grpc')) return false;
  const next = value.charAt('application/grpc'.length);
  return next === '' || next === '+' || next === ';';
}

/** Splits a request body into gRPC messages (1-byte compressed flag, 4-byte length, message). */
class MessageReader {
  private parts: Buffer[] = [];
  private bytes = 0;
  /** whole size (prefix included) of the message being read, once its prefix is in */
  private expected = -1;
  stopped = false;

  constructor(
    private readonly max: number,
    private readonly onMessage: (message: Buffer, compressed: boolean) => void,
    private readonly onTooLarge: (size: number) => void,
  ) {}

  /** bytes of an incomplete message held */
  get partial(): number {
    return this.bytes;
  }

  push(data: Buffer): void {
    if (this.stopped) return;
    if (this.bytes === 0) {
      // whole messages straight from the frame, without copying
      let at = 0;
      while (data.length - at >= PREFIX_BYTES) {
        const length = data.readUInt32BE(at + 1);
        if (length > this.max) return this.tooLarge(length);
        if (data.length - at - PREFIX_BYTES < length) break;
        const compressed = data[at] !== 0;
        const start = at + PREFIX_BYTES;
        at = start + length;
        this.onMessage(data.subarray(start, at), compressed);
        if (this.stopped) return;
      }
      if (at === data.length) return;
      data = data.subarray(at);
    }
    this.parts.push(data);
    this.bytes += data.length;
    for (;;) {
      if (this.expected < 0) {
        if (this.bytes < PREFIX_BYTES) return;
        const head = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
        this.parts = [head];
        const length = head.readUInt32BE(1);
        if (length > this.max) return this.tooLarge(length);
        this.expected = PREFIX_BYTES + length;
      }
      if (this.bytes < this.expected) return;
      const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
      const message = all.subarray(PREFIX_BYTES, this.expected);
      const compressed = all[0] !== 0;
      const rest = all.subarray(this.expected);
      this.parts = rest.length > 0 ? [rest] : [];
      this.bytes = rest.length;
      this.expected = -1;
      this.onMessage(message, compressed);
      if (this.stopped) return;
    }
  }

  private tooLarge(size: number): void {
    this.stopped = true;
    this.onTooLarge(size);
  }
}

const encodedHeaders = new WeakMap<ResponseHeader, Buffer>();
const encodedEvents = new WeakMap<readonly Event[], Buffer>();
const NOTHING = Buffer.alloc(0);

/**
 * WatchResponse{header, watch_id, events} from the encodings of its fields, the header's and the events' cached by
 * object identity (the hub hands every watcher of a batch the same objects): protobuf fields encoded apart and
 * concatenated in field order are the message's encoding.
 */
function encodeWatchEvents(desc: MessageDesc, header: ResponseHeader, watchId: number, events: readonly Event[]): Buffer {
  let h = encodedHeaders.get(header);
  if (h === undefined) encodedHeaders.set(header, (h = encodeMessage({ header }, desc)));
  let e = encodedEvents.get(events);
  if (e === undefined) encodedEvents.set(events, (e = encodeMessage({ events }, desc)));
  const id = watchId === 0 ? NOTHING : encodeMessage({ watch_id: watchId }, desc);
  const buf = Buffer.allocUnsafe(HEADROOM + h.length + id.length + e.length);
  h.copy(buf, HEADROOM);
  id.copy(buf, HEADROOM + h.length);
  e.copy(buf, HEADROOM + h.length + id.length);
  return buf;
}

/** What every call needs from its connection. */
interface CallContext {
  readonly server: EtcdServer;
  readonly limits: Limits;
  readonly connection: GrpcConnection;
}

/** One gRPC call on one HTTP/2 stream. */
/** The credentials of a call: its auth token, if it carries one. (The TLS client CN joins them here.) */
function callerCredentials(token: string | undefined): RequestAuth | undefined {
  return token === undefined ? undefined : { token };
}

abstract class Call {
  finished = false;
  /** body bytes received and not yet released back to the client's window */
  private held = 0;
  private timer: ClockTimer | null = null;
  protected readonly reader: MessageReader;

  constructor(
    protected readonly ctx: CallContext,
    protected readonly h2: Http2Stream,
    timeoutMs: number | null,
  ) {
    this.reader = new MessageReader(
      grpcReceiveBytesMax(ctx.limits),
      (message, compressed) => this.message(message, compressed),
      (size) => this.fail(etcdError('ReceivedMessageTooLarge', size, grpcReceiveBytesMax(ctx.limits))),
    );
    h2.onData = (data) => {
      this.held += data.length;
      if (this.finished) this.releaseAll();
      else this.reader.push(data);
    };
    h2.onEnd = () => {
      if (!this.finished) this.remoteEnded();
    };
    h2.onClose = () => this.closed();
    if (timeoutMs !== null) {
      this.timer = ctx.server.clock.setTimeout(() => this.fail(etcdError('ContextDeadlineExceeded')), timeoutMs);
    }
  }

  /** A whole message arrived. */
  protected abstract message(message: Buffer, compressed: boolean): void;
  /** The client half-closed the stream. */
  protected abstract remoteEnded(): void;
  /** Ends the call with an error status. */
  abstract fail(err: EtcdError): void;
  /** The stream is gone (reset by the client, or its connection ended): release everything. */
  protected abstract closed(): void;

  /** Gives `bytes` of received body back to the client's windows (a message was dispatched). */
  protected release(bytes: number): void {
    const n = Math.min(bytes, this.held);
    this.held -= n;
    if (n > 0) this.h2.release(n);
  }

  protected releaseAll(): void {
    this.release(this.held);
  }

  /** The call is over: no more work, its timer and remaining bytes released. */
  protected settle(): void {
    this.finished = true;
    this.reader.stopped = true;
    this.ctx.server.clock.clear(this.timer);
    this.timer = null;
    this.releaseAll();
  }

  /** Decodes a request message; throws EtcdError for what grpc-go refuses before the handler runs. */
  protected decode(message: Buffer, compressed: boolean, route: Route): Record<string, unknown> {
    if (compressed) throw etcdError('CompressedWithoutEncoding');
    try {
      return decodeMessage(message, route.request);
    } catch (err) {
      if (err instanceof ProtobufError) throw etcdError('UnmarshalRequestFailed', err.message);
      throw err;
    }
  }
}

class UnaryCall extends Call {
  private received = false;
  private abort: AbortController | null = null;

  constructor(
    ctx: CallContext,
    h2: Http2Stream,
    timeoutMs: number | null,
    private readonly route: UnaryRoute,
    private readonly requireLeader: boolean,
    private readonly auth: RequestAuth | undefined,
  ) {
    super(ctx, h2, timeoutMs);
  }

  protected message(message: Buffer, compressed: boolean): void {
    if (this.received) return; // grpc-go reads one message of a unary call; anything after it is ignored
    this.received = true;
    const bytes = PREFIX_BYTES + message.length;
    this.ctx.connection.dispatch(() => {
      if (this.finished) return;
      this.release(bytes);
      this.run(message, compressed);
    });
  }

  protected remoteEnded(): void {
    if (this.received) return;
    this.fail(etcdError(this.reader.partial > 0 ? 'RequestTruncated' : 'RequestMissing'));
  }

  private run(message: Buffer, compressed: boolean): void {
    const { server, limits, connection } = this.ctx;
    const route = this.route;
    let result: unknown;
    try {
      const request = this.decode(message, compressed, route);
      if (this.requireLeader && server.leader === 0n) throw etcdError('NoLeader');
      if (route.fixed !== undefined) result = route.fixed(server, request, this.auth === undefined ? {} : { auth: this.auth });
      else {
        if (route.proposal && message.length > limits.requestBytesMax) throw etcdError('RequestTooLarge');
        const method = route.method!;
        const signal = method === 'Lock' || method === 'Campaign' ? (this.abort = new AbortController()).signal : undefined;
        result = callMethod(server, method, request, this.auth === undefined ? { signal } : { signal, auth: this.auth });
      }
    } catch (err) {
      return this.fail(toEtcdError(err));
    }
    if (!(result instanceof Promise)) return this.reply(result);
    connection.inflight++;
    result.then(
      (value) => this.reply(value),
      (err: unknown) => this.fail(toEtcdError(err)),
    ).finally(() => {
      connection.inflight--;
      connection.updateFlow();
    });
  }

  private reply(value: unknown): void {
    if (this.finished) return;
    let buf: Buffer;
    try {
      if (value instanceof EncodedResponse || typeof value !== 'object' || value === null) throw new Error('not a response object');
      buf = encodeMessage(value as Record<string, unknown>, this.route.response, HEADROOM);
    } catch (err) {
      return this.fail(etcdError('ResponseEncodeFailed', (err as Error).message));
    }
    this.settle();
    buf[9] = 0;
    buf.writeUInt32BE(buf.length - HEADROOM, 10);
    this.ctx.connection.noteResponse(buf.length);
    this.h2.respond(RESPONSE_HEADERS);
    this.h2.writeWithHeadroom(buf);
    this.h2.end(OK_TRAILERS);
  }

  fail(err: EtcdError): void {
    if (this.finished) return;
    this.settle();
    this.abort?.abort();
    this.h2.end(statusBlock(err, true));
  }

  protected closed(): void {
    if (this.finished) return;
    this.settle();
    this.abort?.abort(); // a waiting Lock or Campaign withdraws its key, as etcd's do when the client goes away
  }
}

class StreamCall extends Call {
  private handle: StreamHandle | null = null;
  private headersSent = false;
  private requests = 0;
  private answered = 0;
  private remoteDone = false;

  constructor(
    ctx: CallContext,
    h2: Http2Stream,
    timeoutMs: number | null,
    private readonly route: StreamRoute,
    requireLeader: boolean,
    auth: RequestAuth | undefined,
  ) {
    super(ctx, h2, timeoutMs);
    const output: StreamOutput = {
      send: (response) => this.send(response),
      end: (err) => this.end(err),
      pendingBytes: () => this.pendingBytes(),
    };
    // the watch fan-out's fast path: a batch's header and events are encoded once for all its watchers
    if (route.method === 'Watch') output.sendEvents = (header, watchId, events) => this.sendEncoded(encodeWatchEvents(route.response, header, watchId, events));
    try {
      this.handle = openMethodStream(ctx.server, route.method, output, auth === undefined ? { requireLeader } : { requireLeader, auth });
    } catch (err) {
      this.fail(toEtcdError(err));
      return;
    }
    ctx.connection.streamCalls.add(this);
    h2.onDrain = () => this.handle?.drained?.();
  }

  /** bytes of this stream's responses waiting for the client's window */
  get queuedBytes(): number {
    return this.h2.queuedBytes;
  }

  protected message(message: Buffer, compressed: boolean): void {
    // a server stream (Observe) takes one request, as grpc-go's generated handler reads one
    if (!this.route.bidi && this.requests > 0) return;
    this.requests++;
    const bytes = PREFIX_BYTES + message.length;
    this.ctx.connection.dispatch(() => {
      if (this.finished) return;
      this.release(bytes);
      let request: unknown;
      try {
        request = decodeStreamRequest(this.route.method, this.decode(message, compressed, this.route));
      } catch (err) {
        return this.fail(toEtcdError(err));
      }
      this.handle!.handle(request);
    });
  }

  protected remoteEnded(): void {
    this.remoteDone = true;
    if (!this.route.bidi && this.requests === 0) return this.fail(etcdError(this.reader.partial > 0 ? 'RequestTruncated' : 'RequestMissing'));
    this.maybeEndKeepAlive();
  }

  /** etcd's keep-alive stream ends (OK) once the client half-closed and every renewal got its answer. */
  private maybeEndKeepAlive(): void {
    if (this.route.method === 'LeaseKeepAlive' && this.remoteDone && this.answered >= this.requests) this.end();
  }

  private pendingBytes(): number {
    const h2 = this.ctx.connection.h2;
    // all of this connection's streams together past the write bound count as congestion for each of them
    const streamsQueued = h2.queuedBytes > this.ctx.limits.connectionWriteBufferBytesMax ? h2.queuedBytes : 0;
    return this.h2.queuedBytes + h2.pendingBytes() + streamsQueued;
  }

  private send(response: unknown): void {
    if (this.finished) return;
    let buf: Buffer;
    try {
      buf = encodeMessage(response as Record<string, unknown>, this.route.response, HEADROOM);
    } catch (err) {
      return this.fail(etcdError('ResponseEncodeFailed', (err as Error).message));
    }
    this.sendEncoded(buf);
  }

  /** Sends one encoded response (HEADROOM bytes free in front). */
  private sendEncoded(buf: Buffer): void {
    if (this.finished) return;
    // judged on what already waits, not on this message: one response larger than the bound still reaches a reader
    if (this.h2.queuedBytes > GRPC_STREAM_PENDING_BYTES_MAX) {
      this.settleStream();
      this.h2.reset(ErrorCode.Cancel);
      return;
    }
    buf[9] = 0;
    buf.writeUInt32BE(buf.length - HEADROOM, 10);
    if (!this.headersSent) {
      this.headersSent = true;
      this.h2.respond(RESPONSE_HEADERS);
    }
    this.h2.writeWithHeadroom(buf);
    this.answered++;
    this.maybeEndKeepAlive();
  }

  private end(err?: EtcdError): void {
    if (this.finished) return;
    if (err !== undefined) return this.fail(err);
    this.settleStream();
    this.h2.end(this.headersSent ? OK_TRAILERS : encodeHeaderBlock([[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '0']]));
  }

  fail(err: EtcdError): void {
    if (this.finished) return;
    this.settleStream();
    this.h2.end(statusBlock(err, !this.headersSent));
  }

  protected closed(): void {
    if (this.finished) return;
    this.settleStream();
  }

  private settleStream(): void {
    this.settle();
    this.ctx.connection.streamCalls.delete(this);
    const h = this.handle;
    this.handle = null;
    h?.close();
  }
}

/** One client connection: its HTTP/2 session, its calls, and backpressure across them. */
class GrpcConnection implements Http2Handler {
  readonly h2: Http2Connection;
  inflight = 0;
  readonly streamCalls = new Set<StreamCall>();
  /** dispatches held back by backpressure, in arrival order */
  private waiting: (() => void)[] = [];
  private waitingHead = 0;
  /** expected bytes of one response: the largest recent one, decaying (as the binary front end estimates) */
  private responseBytesEstimate: number;
  private readonly ctx: CallContext;

  constructor(socket: net.Socket, server: EtcdServer, limits: Limits, options: Http2Options) {
    this.ctx = { server, limits, connection: this };
    this.responseBytesEstimate = limits.connectionWriteBufferBytesMax / limits.connectionRequestsInflightInitial;
    this.h2 = new Http2Connection(socket, this, options);
  }

  stream(h2: Http2Stream, headers: HeaderField[], endStream: boolean): void {
    let path = '';
    let contentType = '';
    let timeout: string | null = null;
    let encoding = '';
    let requireLeader = false;
    let token: string | undefined;
    let authorization: string | undefined;
    for (const [name, value] of headers) {
      switch (name) {
        case ':path': path = value; break;
        case 'content-type': contentType = value; break;
        case 'grpc-timeout': timeout = value; break;
        case 'grpc-encoding': encoding = value; break;
        case 'hasleader': requireLeader = value === 'true'; break;
        case 'token': token ??= value; break;
        case 'authorization': authorization ??= value; break;
        default: break;
      }
    }
    // etcd's AuthInfoFromCtx: metadata `token`, else `authorization` (what its gateway forwards)
    const auth = callerCredentials(token ?? authorization);
    // grpc-go resets a stream without a gRPC content type, or with a malformed timeout
    if (!isGrpcContentType(contentType)) return h2.reset(ErrorCode.ProtocolError);
    const timeoutMs = timeout === null ? null : parseTimeout(timeout);
    if (timeout !== null && timeoutMs === null) return h2.reset(ErrorCode.ProtocolError);

    const refuse = (err: EtcdError): void => {
      h2.onData = (data) => h2.release(data.length);
      h2.end(statusBlock(err, true));
    };
    const route = this.route(path);
    if (route instanceof EtcdError) return refuse(route);
    if (encoding !== '' && encoding !== 'identity') return refuse(etcdError('DecompressorNotInstalled', JSON.stringify(encoding)));
    const call =
      route.kind === 'unary' ? new UnaryCall(this.ctx, h2, timeoutMs, route, requireLeader, auth) : new StreamCall(this.ctx, h2, timeoutMs, route, requireLeader, auth);
    if (endStream && !call.finished) h2.onEnd!();
  }

  private route(path: string): Route | EtcdError {
    const name = path.startsWith('/') ? path.slice(1) : path;
    const slash = name.lastIndexOf('/');
    if (slash === -1) return etcdError('MalformedMethodName', JSON.stringify(path));
    const service = name.slice(0, slash);
    const method = name.slice(slash + 1);
    const methods = SERVICES.get(service);
    if (methods === undefined) return etcdError('UnknownService', service);
    return methods.get(method) ?? etcdError('UnknownServiceMethod', method, service);
  }

  /** Runs a complete request now, or once backpressure lifts. */
  dispatch(task: () => void): void {
    if (this.waitingHead === this.waiting.length && !this.overloaded()) task();
    else this.waiting.push(task);
  }

  updateFlow(): void {
    while (this.waitingHead < this.waiting.length && !this.overloaded()) {
      const task = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead++] = noop;
      task();
    }
    if (this.waitingHead === this.waiting.length && this.waitingHead > 0) {
      this.waiting = [];
      this.waitingHead = 0;
    }
  }

  drain(): void {
    this.updateFlow();
  }

  get waitingRequests(): number {
    return this.waiting.length - this.waitingHead;
  }

  /** A unary response went out: the estimate jumps up to large ones and decays towards small ones. */
  noteResponse(bytes: number): void {
    const limits = this.ctx.limits;
    const floor = limits.connectionWriteBufferBytesMax / limits.connectionRequestsInflightMax;
    const decayed = this.responseBytesEstimate - (this.responseBytesEstimate - bytes) / 8;
    this.responseBytesEstimate = Math.max(floor, bytes, decayed);
  }

  /**
   * Too many requests in flight, or too many response bytes outstanding: written but not yet taken by the socket,
   * waiting for the windows of unary calls, and expected from the requests in flight. Bytes waiting on a stream's
   * own window are bounded per stream (streams stop or are reset), so a stalled watch does not stop unary calls.
   */
  private overloaded(): boolean {
    const limits = this.ctx.limits;
    if (this.inflight >= limits.connectionRequestsInflightMax) return true;
    let unaryQueued = this.h2.queuedBytes;
    for (const c of this.streamCalls) unaryQueued -= c.queuedBytes;
    const outstanding = this.h2.pendingBytes() + unaryQueued + this.inflight * this.responseBytesEstimate;
    return outstanding >= limits.connectionWriteBufferBytesMax;
  }
}

const noop = (): void => {};

function parseListenUrl(url: string): { host: string; port: number } {
  const u = new URL(url);
  if (u.protocol === 'https:') throw new Error(`gRPC listen URL ${url}: TLS (https://) is not supported yet`);
  if (u.protocol !== 'http:') throw new Error(`gRPC listen URL ${url}: scheme must be http`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? 80 : Number(u.port) };
}

/**
 * etcd's gRPC API on connections handed to it (`handleConnection`, e.g. by the client port's multiplexer once it saw
 * the HTTP/2 preface) or accepted on its own listeners (`listen`).
 */
export class GrpcServer {
  private readonly connections = new Set<GrpcConnection>();
  private readonly listeners: net.Server[] = [];
  private readonly h2Options: Http2Options;
  private closing = false;

  constructor(private readonly options: GrpcServerOptions) {
    const limits = options.limits;
    this.h2Options = Object.freeze({
      streamsMax: limits.connectionRequestsInflightMax,
      streamWindowBytes: grpcStreamWindowBytes(limits),
      connectionWindowBytes: grpcConnectionWindowBytes(limits),
      headerBlockBytesMax: GRPC_HEADER_BLOCK_BYTES_MAX,
      writeBufferBytesMax: limits.connectionWriteBufferBytesMax,
    });
  }

  /** Serves one connection whose first bytes (the HTTP/2 preface) have not been consumed, or were unshifted back. */
  handleConnection(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const c = new GrpcConnection(socket, this.options.server, this.options.limits, this.h2Options);
    this.connections.add(c);
    socket.once('close', () => this.connections.delete(c));
  }

  /** Listens on http://host:port URLs of its own (tests, or a gRPC-only listener). */
  async listen(urls: readonly string[]): Promise<ListeningAddress[]> {
    const addresses: ListeningAddress[] = [];
    for (const url of urls) {
      const { host, port } = parseListenUrl(url);
      const { server, address } = await listenTcp(host, port, (socket) => this.handleConnection(socket), this.options.limits.connectionsMax);
      this.listeners.push(server);
      addresses.push(address);
    }
    return addresses;
  }

  /** What the front end holds right now, for metrics and tests. */
  stats(): GrpcServerStats {
    let streams = 0;
    let queuedBytes = 0;
    let writeBufferedBytes = 0;
    let waitingRequests = 0;
    for (const c of this.connections) {
      streams += c.h2.streams.size;
      queuedBytes += c.h2.queuedBytes;
      writeBufferedBytes += c.h2.pendingBytes();
      waitingRequests += c.waitingRequests;
    }
    return { connections: this.connections.size, streams, queuedBytes, writeBufferedBytes, waitingRequests };
  }

  /** Stops listening and ends every connection (GOAWAY; calls in progress are abandoned). */
  async close(): Promise<void> {
    this.closing = true;
    const listening = this.listeners.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const c of this.connections) c.h2.shutdown();
    await Promise.all(listening);
  }
}
