// The binary client protocol front end: TCP, length-prefixed frames (proto/frame.ts), msgpack bodies
// {method, request} in etcd's names. Many requests in flight per connection; responses go out as they complete,
// coalesced per event-loop turn into one socket write.
//
// Bad input: an oversized frame gets `request is too large` from its header alone; a malformed body or unknown
// method gets InvalidArgument; a corrupt header closes that connection only. Nothing here throws past a socket.
//
// Auth: an Auth frame ({token}) sets the connection's token; every request and stream opened after it carries it
// (frames are handled in order, so a client can send it and then requests at once, without waiting). Without one
// the connection's requests are anonymous (docs/protocol.md).

import net from 'node:net';
import type { Limits } from '../config/index.js';
import { EtcdError, toEtcdError, etcdError } from '../errors/index.js';
import {
  decodeStreamRequest,
  encodeFrame,
  frameInPlace,
  FrameDecoder,
  FrameError,
  FrameKind,
  unpackr,
  type StreamMethodName,
} from '../proto/index.js';
import {
  callMethod,
  EncodedResponse,
  isMethodName,
  isStreamMethodName,
  openMethodStream,
  type EtcdServer,
  type RequestAuth,
  type StreamHandle,
  type StreamOutput,
} from '../server/index.js';
import { listenTcp } from '../transport/index.js';
import { encodeWatchEventsFrame } from './watch-encoding.js';

export interface BinaryServerOptions {
  server: EtcdServer;
  limits: Limits;
  /** http://host:port URLs (https is reserved for TLS, not served yet) */
  urls: readonly string[];
}

export interface ListeningAddress {
  host: string;
  port: number;
}

function parseListenUrl(url: string): { host: string; port: number } {
  const u = new URL(url);
  if (u.protocol === 'https:') throw new Error(`--listen-client-binary-urls ${url}: TLS (https://) is not supported yet`);
  if (u.protocol !== 'http:') throw new Error(`--listen-client-binary-urls ${url}: scheme must be http`);
  // URL drops a scheme's default port: http://host:80 has port ''
  const port = u.port === '' ? 80 : Number(u.port);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

function errorBody(err: EtcdError): { code: number; message: string } {
  return { code: err.code, message: err.message };
}

/** A request or stream frame's body: msgpack {method, request}. */
function decodeEnvelope(body: Buffer): { method?: unknown; request?: unknown } {
  let decoded: unknown;
  try {
    decoded = unpackr.unpack(body);
  } catch {
    throw etcdError('InvalidRequest', 'malformed msgpack body');
  }
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) {
    throw etcdError('InvalidRequest', 'body must be a map {method, request}');
  }
  return decoded as { method?: unknown; request?: unknown };
}

function describeType(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'object' ? 'a map' : `a ${typeof v}`;
}

class Connection {
  private inflight = 0;
  private out: Buffer[] = [];
  /** bytes in `out`: responses produced but not yet handed to the socket */
  private outBytes = 0;
  private outScheduled = false;
  private paused = false;
  /** expected bytes of one response on this connection: the largest recent one, decaying (see updateFlow) */
  private responseBytesEstimate: number;
  private readonly decoder: FrameDecoder;
  private readonly streams = new Map<number, StreamHandle>();
  /** aborted when the connection closes: a waiting Lock or Campaign then withdraws its key, as etcd's do */
  private closed: AbortController | null = null;
  /** the signal of `closed`, made on first use (one function per connection, not one per request) */
  private readonly untilClosed = (): AbortSignal => (this.closed ??= new AbortController()).signal;
  /** the credentials set by the last Auth frame (none: anonymous) */
  private auth: RequestAuth | undefined = undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly server: EtcdServer,
    private readonly limits: Limits,
  ) {
    this.responseBytesEstimate = limits.connectionWriteBufferBytesMax / limits.connectionRequestsInflightInitial;
    this.decoder = new FrameDecoder(
      limits.requestBytesMax,
      {
        frame: (kind, requestId, body) => {
          if (kind === FrameKind.Request) this.onRequest(requestId, body);
          else if (kind === FrameKind.StreamMessage) this.onStreamMessage(requestId, body);
          else if (kind === FrameKind.Auth) this.onAuth(body);
          else this.closeStream(requestId);
        },
        oversize: (_kind, requestId) => {
          this.sendError(requestId, etcdError('RequestTooLarge'));
          this.updateFlow();
        },
      },
      (kind) => kind === FrameKind.Request || kind === FrameKind.StreamMessage || kind === FrameKind.StreamEnd || kind === FrameKind.Auth,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk);
      } catch (err) {
        // a corrupt header: the stream cannot be resynchronised. Anything else (a broken invariant) goes on up.
        if (!(err instanceof FrameError)) throw err;
        socket.destroy();
      }
    });
    socket.on('drain', () => {
      this.updateFlow();
      for (const h of this.streams.values()) h.drained?.();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed?.abort();
      for (const h of this.streams.values()) h.close();
      this.streams.clear();
    });
  }

  /**
   * The connection's token from now on ({token}; {} or a body that is not a map with a string token: none). A body
   * that cannot be decoded clears it too, so no request runs with credentials the client did not mean.
   */
  private onAuth(body: Buffer): void {
    let token: unknown;
    try {
      token = (decodeEnvelope(body) as { token?: unknown }).token;
    } catch {
      token = undefined;
    }
    // a TLS client certificate's CN (set with the connection) stays; the token beats it where both are given
    const commonName = this.auth?.commonName;
    const credentials: RequestAuth = {};
    if (typeof token === 'string') credentials.token = token;
    if (commonName !== undefined) credentials.commonName = commonName;
    this.auth = credentials.token === undefined && credentials.commonName === undefined ? undefined : credentials;
  }

  /** A message on a stream: the first one with a new id opens it ({method, request}), later ones carry {request}. */
  private onStreamMessage(streamId: number, body: Buffer): void {
    let handler = this.streams.get(streamId);
    try {
      const decoded = decodeEnvelope(body);
      if (handler === undefined) {
        const method = decoded.method;
        if (typeof method !== 'string' || !isStreamMethodName(method)) {
          throw etcdError('UnknownStreamMethod', typeof method === 'string' ? JSON.stringify(method) : describeType(method));
        }
        handler = this.open(streamId, method);
      }
      const method = (handler as StreamHandle & { method: StreamMethodName }).method;
      if (decoded.request !== undefined) handler.handle(decodeStreamRequest(method, decoded.request));
    } catch (err) {
      if (handler !== undefined) {
        handler.close();
        this.streams.delete(streamId);
      }
      this.enqueue(encodeFrame(FrameKind.StreamEnd, streamId, errorBody(toEtcdError(err))));
    }
    this.updateFlow();
  }

  private open(streamId: number, method: StreamMethodName): StreamHandle {
    const output: StreamOutput = {
      send: (response) => {
        if (this.streams.has(streamId)) this.sendFrame(FrameKind.StreamMessage, streamId, response);
      },
      // watch fan-out: the batch's header and events are encoded once for every watcher (watch-encoding.ts)
      sendEvents: (header, watchId, events) => {
        if (this.streams.has(streamId)) this.enqueue(encodeWatchEventsFrame(streamId, header, watchId, events));
      },
      end: (err) => {
        if (!this.streams.delete(streamId)) return;
        this.enqueue(encodeFrame(FrameKind.StreamEnd, streamId, err === undefined ? {} : errorBody(err)));
      },
      pendingBytes: () => this.socket.writableLength + this.outBytes,
    };
    const handler = Object.assign(openMethodStream(this.server, method, output, this.auth === undefined ? {} : { auth: this.auth }), { method });
    this.streams.set(streamId, handler);
    return handler;
  }

  private closeStream(streamId: number): void {
    const h = this.streams.get(streamId);
    if (h === undefined) return;
    this.streams.delete(streamId);
    h.close();
  }

  private onRequest(requestId: number, body: Buffer): void {
    let result: unknown;
    try {
      const { method, request } = decodeEnvelope(body);
      if (typeof method !== 'string') {
        // Never stringify the value itself: a decoded map may carry a non-function `toString` that makes String() throw.
        throw etcdError('InvalidRequest', `field "method" must be a string, got ${describeType(method)}`);
      }
      if (!isMethodName(method)) throw etcdError('UnknownMethod', JSON.stringify(method));
      // Lock and Campaign take the connection's signal: a waiter whose client went away withdraws its key
      result = callMethod(this.server, method, request, {
        rawRequest: body,
        signal: method === 'Lock' || method === 'Campaign' ? this.untilClosed() : undefined,
        auth: this.auth,
      });
    } catch (err) {
      this.sendError(requestId, toEtcdError(err));
      this.updateFlow();
      return;
    }
    if (result instanceof Promise) {
      this.inflight++;
      this.updateFlow();
      result.then(
        (value) => this.sendResponse(requestId, value),
        (err: unknown) => this.sendError(requestId, toEtcdError(err)),
      ).finally(() => {
        this.inflight--;
        this.updateFlow();
      });
    } else {
      this.sendResponse(requestId, result);
      this.updateFlow();
    }
  }

  private sendResponse(requestId: number, value: unknown): void {
    this.sendFrame(FrameKind.Response, requestId, value);
  }

  private sendFrame(kind: number, requestId: number, value: unknown): void {
    if (value instanceof EncodedResponse) return this.enqueue(frameInPlace(kind, requestId, value.frame));
    let frame: Buffer;
    try {
      frame = encodeFrame(kind, requestId, value);
    } catch (err) {
      const failed = etcdError('ResponseEncodeFailed', (err as Error).message);
      frame = encodeFrame(kind === FrameKind.Response ? FrameKind.Error : FrameKind.StreamEnd, requestId, errorBody(failed));
    }
    this.enqueue(frame);
  }

  private sendError(requestId: number, err: EtcdError): void {
    this.enqueue(encodeFrame(FrameKind.Error, requestId, errorBody(err)));
  }

  private enqueue(frame: Buffer): void {
    if (this.socket.destroyed) return;
    this.out.push(frame);
    this.outBytes += frame.length;
    // Jumps up to a large response at once, decays towards small ones by 1/8 per response; never below the share
    // of the write buffer that lets connectionRequestsInflightMax small requests be in flight.
    const floor = this.limits.connectionWriteBufferBytesMax / this.limits.connectionRequestsInflightMax;
    const decayed = this.responseBytesEstimate - (this.responseBytesEstimate - frame.length) / 8;
    this.responseBytesEstimate = Math.max(floor, frame.length, decayed);
    if (!this.outScheduled) {
      this.outScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.outScheduled = false;
    if (this.socket.destroyed || this.out.length === 0) return;
    const frames = this.out;
    this.out = [];
    this.outBytes = 0;
    this.socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    this.updateFlow();
  }

  /**
   * Backpressure: stop taking requests while too many are in flight, or while the response bytes outstanding (queued
   * here or in the socket, plus those expected from the requests in flight) reach the write buffer limit. Checked
   * after every request, so one chunk full of small requests for large responses cannot run ahead of the limit: the
   * decoder stops mid-chunk and keeps the rest until the client reads.
   */
  private updateFlow(): void {
    const outstanding = this.socket.writableLength + this.outBytes + this.inflight * this.responseBytesEstimate;
    const overloaded =
      this.inflight >= this.limits.connectionRequestsInflightMax || outstanding >= this.limits.connectionWriteBufferBytesMax;
    if (overloaded && !this.paused) {
      this.paused = true;
      this.decoder.pause();
      this.socket.pause();
    } else if (!overloaded && this.paused && !this.socket.destroyed) {
      this.paused = false;
      this.socket.resume();
      try {
        this.decoder.resume(); // may deliver buffered requests, and pause again
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        this.socket.destroy();
      }
    }
  }
}

export class BinaryServer {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  constructor(private readonly options: BinaryServerOptions) {}

  async listen(): Promise<ListeningAddress[]> {
    const addresses: ListeningAddress[] = [];
    for (const url of this.options.urls) {
      const { host, port } = parseListenUrl(url);
      const { server: srv, address } = await listenTcp(host, port, (socket) => this.acceptSocket(socket), this.options.limits.connectionsMax);
      addresses.push(address);
      this.servers.push(srv);
    }
    return addresses;
  }

  /**
   * Serves a connection accepted elsewhere: the client port (src/frontend) hands over the binary protocol's
   * connections this way, their first bytes read and put back. A socket of a closed server is destroyed.
   */
  acceptSocket(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy(); // a connection that raced with close() would keep the listener from closing
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    new Connection(socket, this.options.server, this.options.limits);
  }

  private closing = false;

  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
