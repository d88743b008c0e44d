// A server side of HTTP/2 (RFC 9113) on one socket, as much as gRPC needs: frames, HPACK, streams opened by the
// client, flow control in both directions, SETTINGS, PING, RST_STREAM and GOAWAY. No server push, no priorities
// (PRIORITY frames are read and ignored), no HTTP/1 upgrade: gRPC clients start with the preface.
//
// Why not node:http2: it costs 40-50 µs of CPU per unary call before any work is done (BENCHMARKS.md, "gRPC (issue 13)"), which would
// cap the member below etcd's own put rate; this layer costs a few µs (same file).
//
// Memory is bounded on both sides:
// - in: a client may send only what the windows it was granted allow. A stream's window covers one whole message
//   (--max-request-bytes + gRPC's slack); the connection's window is granted back only for bytes the gRPC layer has
//   released (dispatched or discarded), so requests waiting for dispatch stop the client. Header blocks are bounded,
//   and streams by SETTINGS_MAX_CONCURRENT_STREAMS.
// - out: frames go out as the client's windows allow; the rest waits in the stream's queue, which the gRPC layer
//   bounds (a watch stream stops taking live events; other streams are reset). Frames not yet taken by the socket
//   past a bound stop the reading of the connection until the socket drains (they never wait on the client's
//   windows, so this cannot deadlock).

import type net from 'node:net';
import { GRPC_GOAWAY_LINGER_MS, GRPC_WRITE_COALESCE_BYTES_MAX } from '../config/index.js';
import { HpackDecoder, HpackError, type HeaderField } from './hpack.js';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const enum FrameType {
  Data = 0,
  Headers = 1,
  Priority = 2,
  RstStream = 3,
  Settings = 4,
  PushPromise = 5,
  Ping = 6,
  GoAway = 7,
  WindowUpdate = 8,
  Continuation = 9,
}

const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

export const ErrorCode = {
  NoError: 0,
  ProtocolError: 1,
  InternalError: 2,
  FlowControlError: 3,
  StreamClosed: 5,
  FrameSizeError: 6,
  RefusedStream: 7,
  Cancel: 8,
  CompressionError: 9,
  EnhanceYourCalm: 11,
} as const;

const SETTINGS_HEADER_TABLE_SIZE = 1;
const SETTINGS_ENABLE_PUSH = 2;
const SETTINGS_MAX_CONCURRENT_STREAMS = 3;
const SETTINGS_INITIAL_WINDOW_SIZE = 4;
const SETTINGS_MAX_FRAME_SIZE = 5;
const SETTINGS_MAX_HEADER_LIST_SIZE = 6;

/** RFC 9113's defaults and bounds. */
const DEFAULT_WINDOW = 65_535;
const WINDOW_MAX = 2 ** 31 - 1;
const FRAME_SIZE_DEFAULT = 16_384;
const FRAME_SIZE_LIMIT = 2 ** 24 - 1;
const FRAME_HEADER_BYTES = 9;

export interface Http2Options {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams one client may have open; more are refused (REFUSED_STREAM) */
  readonly streamsMax: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: bytes a client may send on one stream ahead of what the member took */
  readonly streamWindowBytes: number;
  /** bytes a client may send on the whole connection ahead of what the member released */
  readonly connectionWindowBytes: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE, and the largest header block (HEADERS + CONTINUATION) read */
  readonly headerBlockBytesMax: number;
  /** frames handed to the socket and not yet written, past which the member stops reading the connection */
  readonly writeBufferBytesMax: number;
}

export interface Http2Handler {
  /** A client opened a stream with these request headers (`endStream`: it sent no body). */
  stream(stream: Http2Stream, headers: HeaderField[], endStream: boolean): void;
  /** The socket took what was waiting, or a window update let queued data go: backpressure may lift. */
  drain?(): void;
}

/** A connection-level failure: the connection is ended with GOAWAY and this code. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeFrameHeader(h, 0, length, type, flags, streamId);
  return h;
}

function writeFrameHeader(buf: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  buf[at] = length >>> 16;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  buf.writeUInt32BE(streamId, at + 5);
}

/** One stream the client opened. The gRPC layer sets the callbacks and answers through the send methods. */
export class Http2Stream {
  /** a piece of the request body (a view into the received bytes); call `release` once it is consumed */
  onData: ((data: Buffer) => void) | null = null;
  /** the client half-closed the stream: no more data will come */
  onEnd: (() => void) | null = null;
  /** the client reset the stream or the connection ended before the member ended it */
  onClose: (() => void) | null = null;
  /** what was queued for the client went out (a congested sender may send again) */
  onDrain: (() => void) | null = null;

  /** how much more the member may send on this stream (the client's window for it) */
  sendWindow: number;
  /** how much more the client may send on this stream */
  receiveWindow: number;
  /** bytes consumed and not yet granted back to the client */
  private ungranted = 0;
  remoteClosed = false;
  localClosed = false;
  /** DATA payloads waiting for window */
  private readonly queue: Buffer[] = [];
  queuedBytes = 0;
  /** the trailers' header block, once the gRPC layer ended the stream while data still waited */
  private pendingTrailers: Buffer | null = null;

  constructor(
    readonly id: number,
    private readonly conn: Http2Connection,
    sendWindow: number,
    receiveWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.receiveWindow = receiveWindow;
  }

  /** Sends the response headers (a complete header block). */
  respond(block: Buffer): void {
    if (this.localClosed) return;
    this.conn.sendHeaders(this.id, block, false);
  }

  /**
   * Sends `buf` minus its first 9 bytes as DATA: those bytes are room for the frame header, so a message that fits
   * the windows goes out without a copy.
   */
  writeWithHeadroom(buf: Buffer): void {
    if (this.localClosed) return;
    const length = buf.length - FRAME_HEADER_BYTES;
    const conn = this.conn;
    if (this.queue.length === 0 && length <= this.sendWindow && length <= conn.sendWindow && length <= conn.peerFrameSizeMax) {
      writeFrameHeader(buf, 0, length, FrameType.Data, 0, this.id);
      this.sendWindow -= length;
      conn.sendWindow -= length;
      conn.emit(buf);
      return;
    }
    this.queue.push(buf.subarray(FRAME_HEADER_BYTES));
    this.queuedBytes += length;
    conn.queuedBytes += length;
    this.flush();
  }

  /** Ends the stream with trailers (a complete header block), after any data still waiting for window. */
  end(trailers: Buffer): void {
    if (this.localClosed || this.pendingTrailers !== null) return;
    if (this.queue.length > 0) {
      this.pendingTrailers = trailers;
      return;
    }
    this.conn.sendHeaders(this.id, trailers, true);
    this.closeLocal();
  }

  /** Ends the stream at once with RST_STREAM (what is queued is dropped). */
  reset(code: number): void {
    if (this.localClosed) return;
    this.conn.emitFrame(FrameType.RstStream, 0, this.id, u32(code));
    this.dropQueue();
    this.localClosed = true;
    this.conn.forget(this);
  }

  /** Bytes of this stream's body the gRPC layer has consumed: the client may send that much more. */
  release(bytes: number): void {
    this.conn.releaseConnection(bytes);
    if (this.remoteClosed || this.localClosed) return;
    this.ungranted += bytes;
    if (this.ungranted >= this.conn.streamWindowBytes / 2) {
      this.receiveWindow += this.ungranted;
      this.conn.emitFrame(FrameType.WindowUpdate, 0, this.id, u32(this.ungranted));
      this.ungranted = 0;
    }
  }

  /** Sends what the windows allow; returns true if the queue emptied. */
  flush(): boolean {
    const conn = this.conn;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const n = Math.min(head.length, this.sendWindow, conn.sendWindow, conn.peerFrameSizeMax);
      if (n <= 0) {
        if (this.sendWindow > 0) conn.blocked.add(this); // waiting for the connection's window
        return false;
      }
      conn.emit(frameHeader(n, FrameType.Data, 0, this.id));
      conn.emit(n === head.length ? head : head.subarray(0, n));
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      this.sendWindow -= n;
      conn.sendWindow -= n;
      this.queuedBytes -= n;
      conn.queuedBytes -= n;
    }
    conn.blocked.delete(this);
    if (this.pendingTrailers !== null) {
      conn.sendHeaders(this.id, this.pendingTrailers, true);
      this.pendingTrailers = null;
      this.closeLocal();
    }
    return true;
  }

  private closeLocal(): void {
    this.localClosed = true;
    // as grpc-go: a client still sending is told to stop
    if (!this.remoteClosed) this.conn.emitFrame(FrameType.RstStream, 0, this.id, u32(ErrorCode.NoError));
    this.conn.forget(this);
  }

  /** @internal the connection ended or the client reset the stream */
  dropQueue(): void {
    this.conn.queuedBytes -= this.queuedBytes;
    this.queuedBytes = 0;
    this.queue.length = 0;
    this.pendingTrailers = null;
    this.conn.blocked.delete(this);
  }
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** A header block in progress (HEADERS without END_HEADERS, then CONTINUATION frames). */
interface PartialHeaders {
  streamId: number;
  endStream: boolean;
  parts: Buffer[];
  bytes: number;
}

export class Http2Connection {
  private input: Buffer | null = null;
  private prefaceSeen = false;
  private settingsSeen = false;
  private readonly decoder: HpackDecoder;
  private partial: PartialHeaders | null = null;
  readonly streams = new Map<number, Http2Stream>();
  private lastStreamId = 0;
  private goingAway = false;
  private closed = false;

  // sending
  private peerInitialWindow = DEFAULT_WINDOW;
  peerFrameSizeMax = FRAME_SIZE_DEFAULT;
  sendWindow = DEFAULT_WINDOW;
  /** streams with data waiting for the connection's window, in the order they blocked */
  readonly blocked = new Set<Http2Stream>();
  /** bytes of DATA waiting in stream queues for window */
  queuedBytes = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private paused = false;

  // receiving
  private receiveWindow = DEFAULT_WINDOW;
  private ungranted = 0;
  readonly streamWindowBytes: number;

  constructor(
    private readonly socket: net.Socket,
    private readonly handler: Http2Handler,
    private readonly options: Http2Options,
  ) {
    this.streamWindowBytes = options.streamWindowBytes;
    this.decoder = new HpackDecoder(4096);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', () => {});
    socket.on('close', () => this.onSocketClose());
    socket.resume(); // a socket handed over by a multiplexer may arrive paused, with its first bytes unshifted
    this.sendPreface();
  }

  /** frames handed to the socket and not yet written */
  pendingBytes(): number {
    return this.socket.writableLength + this.outBytes;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Ends the connection now: GOAWAY, every open stream abandoned (its owner hears onClose), and the socket closed
   * once what was queued is written.
   */
  shutdown(): void {
    if (this.closed) return;
    this.goAway(ErrorCode.NoError, '');
    for (const s of [...this.streams.values()]) this.abandon(s);
    this.flush(); // no stream is left: this ends the socket
    this.socket.once('finish', () => this.socket.destroy());
    this.socket.setTimeout(GRPC_GOAWAY_LINGER_MS, () => this.socket.destroy());
  }

  // ---- sending ---------------------------------------------------------------------------------------------

  private sendPreface(): void {
    const settings: [number, number][] = [
      [SETTINGS_MAX_CONCURRENT_STREAMS, this.options.streamsMax],
      [SETTINGS_INITIAL_WINDOW_SIZE, this.options.streamWindowBytes],
      [SETTINGS_MAX_HEADER_LIST_SIZE, this.options.headerBlockBytesMax],
      [SETTINGS_ENABLE_PUSH, 0],
    ];
    const body = Buffer.allocUnsafe(6 * settings.length);
    settings.forEach(([id, value], i) => {
      body.writeUInt16BE(id, 6 * i);
      body.writeUInt32BE(value, 6 * i + 2);
    });
    this.emitFrame(FrameType.Settings, 0, 0, body);
    const extra = this.options.connectionWindowBytes - DEFAULT_WINDOW;
    if (extra > 0) {
      this.emitFrame(FrameType.WindowUpdate, 0, 0, u32(extra));
      this.receiveWindow += extra;
    }
  }

  /** @internal */
  emit(buf: Buffer): void {
    if (this.closed) return;
    this.out.push(buf);
    this.outBytes += buf.length;
    this.scheduleFlush();
  }

  /** @internal */
  emitFrame(type: number, flags: number, streamId: number, payload: Buffer | null): void {
    const length = payload === null ? 0 : payload.length;
    if (length <= 256 && payload !== null) {
      const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
      writeFrameHeader(buf, 0, length, type, flags, streamId);
      payload.copy(buf, FRAME_HEADER_BYTES);
      this.emit(buf);
      return;
    }
    this.emit(frameHeader(length, type, flags, streamId));
    if (payload !== null && length > 0) this.emit(payload);
  }

  /** @internal A complete header block as HEADERS (and CONTINUATION frames if it is larger than a frame). */
  sendHeaders(streamId: number, block: Buffer, endStream: boolean): void {
    const max = this.peerFrameSizeMax;
    const endFlag = endStream ? FLAG_END_STREAM : 0;
    if (block.length <= max) {
      this.emitFrame(FrameType.Headers, endFlag | FLAG_END_HEADERS, streamId, block);
      return;
    }
    this.emitFrame(FrameType.Headers, endFlag, streamId, block.subarray(0, max));
    for (let at = max; at < block.length; at += max) {
      const last = at + max >= block.length;
      this.emitFrame(FrameType.Continuation, last ? FLAG_END_HEADERS : 0, streamId, block.subarray(at, Math.min(block.length, at + max)));
    }
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    if (this.out.length > 0) {
      const frames = this.out;
      const bytes = this.outBytes;
      this.out = [];
      this.outBytes = 0;
      if (frames.length === 1) this.socket.write(frames[0]!);
      else if (bytes <= GRPC_WRITE_COALESCE_BYTES_MAX) this.socket.write(Buffer.concat(frames, bytes));
      else {
        this.socket.cork();
        for (const f of frames) this.socket.write(f);
        this.socket.uncork();
      }
    }
    if (this.goingAway && this.streams.size === 0) {
      // GOAWAY was sent (or received) and every stream has ended: the connection is done
      this.closed = true;
      this.socket.end();
      return;
    }
    this.updateReading();
  }

  /** @internal A stream ended (by either side): it no longer counts towards the open streams. */
  forget(stream: Http2Stream): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    if (this.goingAway && this.streams.size === 0) this.scheduleFlush();
  }

  /** @internal Body bytes consumed (or discarded): granted back to the client in batches. */
  releaseConnection(bytes: number): void {
    this.ungranted += bytes;
    if (this.ungranted >= this.options.connectionWindowBytes / 2) {
      this.receiveWindow += this.ungranted;
      this.emitFrame(FrameType.WindowUpdate, 0, 0, u32(this.ungranted));
      this.ungranted = 0;
    }
  }

  private goAway(code: number, debug: string): void {
    if (this.closed) return;
    const body = Buffer.allocUnsafe(8 + Buffer.byteLength(debug));
    body.writeUInt32BE(this.lastStreamId, 0);
    body.writeUInt32BE(code, 4);
    body.write(debug, 8);
    this.emitFrame(FrameType.GoAway, 0, 0, body);
    this.goingAway = true;
    if (code !== ErrorCode.NoError) {
      // a protocol error: nothing more is read or answered
      for (const s of [...this.streams.values()]) this.abandon(s);
      this.flush(); // ends the socket: no stream is left
      this.socket.setTimeout(GRPC_GOAWAY_LINGER_MS, () => this.socket.destroy());
    } else this.scheduleFlush();
  }

  /** Backpressure on the socket: stop reading while too much waits to be written. */
  private updateReading(): void {
    const over = this.pendingBytes() > this.options.writeBufferBytesMax;
    if (over && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!over && this.paused && !this.socket.destroyed) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private onSocketDrain(): void {
    this.updateReading();
    this.handler.drain?.();
    for (const s of this.streams.values()) s.onDrain?.();
  }

  private onSocketClose(): void {
    this.closed = true;
    this.out = [];
    this.outBytes = 0;
    for (const s of [...this.streams.values()]) this.abandon(s);
  }

  /** A stream the connection can no longer serve: its owner hears onClose. */
  private abandon(s: Http2Stream): void {
    s.dropQueue();
    this.streams.delete(s.id);
    s.localClosed = true;
    s.onClose?.();
  }

  // ---- receiving -------------------------------------------------------------------------------------------

  private onBytes(chunk: Buffer): void {
    if (this.closed) return;
    const buf = this.input === null ? chunk : Buffer.concat([this.input, chunk]);
    let pos = 0;
    try {
      if (!this.prefaceSeen) {
        if (buf.length < PREFACE.length) {
          if (!PREFACE.subarray(0, buf.length).equals(buf)) throw new ConnectionError(ErrorCode.ProtocolError, 'bad connection preface');
          this.input = buf;
          return;
        }
        if (!PREFACE.equals(buf.subarray(0, PREFACE.length))) throw new ConnectionError(ErrorCode.ProtocolError, 'bad connection preface');
        this.prefaceSeen = true;
        pos = PREFACE.length;
      }
      while (buf.length - pos >= FRAME_HEADER_BYTES && !this.closed) {
        const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
        if (length > FRAME_SIZE_DEFAULT) throw new ConnectionError(ErrorCode.FrameSizeError, `frame of ${length} bytes`);
        if (buf.length - pos - FRAME_HEADER_BYTES < length) break;
        const type = buf[pos + 3]!;
        const flags = buf[pos + 4]!;
        const streamId = buf.readUInt32BE(pos + 5) & 0x7fff_ffff;
        const payload = buf.subarray(pos + FRAME_HEADER_BYTES, pos + FRAME_HEADER_BYTES + length);
        pos += FRAME_HEADER_BYTES + length;
        this.onFrame(type, flags, streamId, payload);
      }
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      this.goAway(err.code, err.message);
      return;
    }
    if (pos < buf.length) {
      // keep only the unread tail (a copy, so a large chunk is not held for a few bytes)
      this.input = pos === 0 ? buf : Buffer.from(buf.subarray(pos));
    } else this.input = null;
    this.updateReading();
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (!this.settingsSeen && type !== FrameType.Settings) throw new ConnectionError(ErrorCode.ProtocolError, 'first frame is not SETTINGS');
    if (this.partial !== null && (type !== FrameType.Continuation || streamId !== this.partial.streamId)) {
      throw new ConnectionError(ErrorCode.ProtocolError, 'header block interrupted');
    }
    switch (type) {
      case FrameType.Data: return this.onData(flags, streamId, payload);
      case FrameType.Headers: return this.onHeaders(flags, streamId, payload);
      case FrameType.Priority:
        if (streamId === 0) throw new ConnectionError(ErrorCode.ProtocolError, 'PRIORITY on stream 0');
        return;
      case FrameType.RstStream: return this.onRstStream(streamId, payload);
      case FrameType.Settings: return this.onSettings(flags, streamId, payload);
      case FrameType.PushPromise: throw new ConnectionError(ErrorCode.ProtocolError, 'PUSH_PROMISE from a client');
      case FrameType.Ping: return this.onPing(flags, streamId, payload);
      case FrameType.GoAway:
        if (streamId !== 0) throw new ConnectionError(ErrorCode.ProtocolError, 'GOAWAY on a stream');
        this.goingAway = true; // the client leaves: its open streams finish, new ones are not expected
        return;
      case FrameType.WindowUpdate: return this.onWindowUpdate(streamId, payload);
      case FrameType.Continuation: return this.onContinuation(flags, streamId, payload);
      default:
        return; // unknown frame types are ignored (RFC 9113 section 4.1)
    }
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.ProtocolError, 'DATA on stream 0');
    const length = payload.length;
    this.receiveWindow -= length;
    if (this.receiveWindow < 0) throw new ConnectionError(ErrorCode.FlowControlError, 'connection window exceeded');
    let data = payload;
    if (flags & FLAG_PADDED) {
      const pad = length === 0 ? -1 : payload[0]!;
      if (pad < 0 || pad >= length) throw new ConnectionError(ErrorCode.ProtocolError, 'bad padding');
      data = payload.subarray(1, length - pad);
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.lastStreamId) throw new ConnectionError(ErrorCode.ProtocolError, 'DATA on an idle stream');
      this.releaseConnection(length); // a stream already closed: the data is dropped
      return;
    }
    if (stream.remoteClosed) {
      this.releaseConnection(length);
      stream.onClose?.();
      stream.reset(ErrorCode.StreamClosed);
      return;
    }
    stream.receiveWindow -= length;
    if (stream.receiveWindow < 0) {
      this.releaseConnection(length);
      stream.onClose?.();
      stream.reset(ErrorCode.FlowControlError);
      return;
    }
    if (length > data.length) stream.release(length - data.length); // padding and its length byte
    const end = (flags & FLAG_END_STREAM) !== 0;
    if (end) stream.remoteClosed = true;
    if (data.length > 0) stream.onData?.(data);
    if (end && !stream.localClosed) stream.onEnd?.();
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0) throw new ConnectionError(ErrorCode.ProtocolError, `HEADERS on stream ${streamId}`);
    let start = 0;
    let end = payload.length;
    if (flags & FLAG_PADDED) {
      if (payload.length < 1) throw new ConnectionError(ErrorCode.ProtocolError, 'bad padding');
      start = 1;
      end -= payload[0]!;
    }
    if (flags & FLAG_PRIORITY) start += 5;
    if (end < start) throw new ConnectionError(ErrorCode.ProtocolError, 'bad padding');
    const fragment = payload.subarray(start, end);
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    if (flags & FLAG_END_HEADERS) return this.onHeaderBlock(streamId, endStream, fragment);
    this.checkHeaderBytes(fragment.length);
    // copied: the chunk it is a view of may be reused for the next frames
    this.partial = { streamId, endStream, parts: [Buffer.from(fragment)], bytes: fragment.length };
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const p = this.partial;
    if (p === null || p.streamId !== streamId) throw new ConnectionError(ErrorCode.ProtocolError, 'unexpected CONTINUATION');
    p.bytes += payload.length;
    this.checkHeaderBytes(p.bytes);
    p.parts.push(Buffer.from(payload));
    if (flags & FLAG_END_HEADERS) {
      this.partial = null;
      this.onHeaderBlock(streamId, p.endStream, Buffer.concat(p.parts));
    }
  }

  private checkHeaderBytes(bytes: number): void {
    if (bytes > this.options.headerBlockBytesMax) {
      throw new ConnectionError(ErrorCode.EnhanceYourCalm, `header block larger than ${this.options.headerBlockBytesMax} bytes`);
    }
  }

  private onHeaderBlock(streamId: number, endStream: boolean, block: Buffer): void {
    this.checkHeaderBytes(block.length);
    let fields: HeaderField[];
    try {
      fields = this.decoder.decode(block); // always: the decoder's table must follow every block
    } catch (err) {
      if (err instanceof HpackError) throw new ConnectionError(ErrorCode.CompressionError, err.message);
      throw err;
    }
    const existing = this.streams.get(streamId);
    if (existing !== undefined) {
      // trailers from the client: they must end the stream
      if (!endStream || existing.remoteClosed) {
        existing.onClose?.();
        existing.reset(ErrorCode.ProtocolError);
        return;
      }
      existing.remoteClosed = true;
      if (!existing.localClosed) existing.onEnd?.();
      return;
    }
    if (streamId <= this.lastStreamId) return; // a stream that is already closed
    this.lastStreamId = streamId;
    if (this.goingAway) return;
    if (this.streams.size >= this.options.streamsMax) {
      this.emitFrame(FrameType.RstStream, 0, streamId, u32(ErrorCode.RefusedStream));
      return;
    }
    const stream = new Http2Stream(streamId, this, this.peerInitialWindow, this.options.streamWindowBytes);
    stream.remoteClosed = endStream;
    this.streams.set(streamId, stream);
    this.handler.stream(stream, fields, endStream);
  }

  private onRstStream(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FrameSizeError, 'RST_STREAM length');
    if (streamId === 0) throw new ConnectionError(ErrorCode.ProtocolError, 'RST_STREAM on stream 0');
    if (streamId > this.lastStreamId) throw new ConnectionError(ErrorCode.ProtocolError, 'RST_STREAM on an idle stream');
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    this.abandon(stream);
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.ProtocolError, 'SETTINGS on a stream');
    if (flags & FLAG_ACK) {
      if (payload.length !== 0) throw new ConnectionError(ErrorCode.FrameSizeError, 'SETTINGS ACK with a body');
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FrameSizeError, 'SETTINGS length');
    this.settingsSeen = true;
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      switch (id) {
        case SETTINGS_ENABLE_PUSH:
          if (value > 1) throw new ConnectionError(ErrorCode.ProtocolError, 'SETTINGS_ENABLE_PUSH');
          break;
        case SETTINGS_INITIAL_WINDOW_SIZE: {
          if (value > WINDOW_MAX) throw new ConnectionError(ErrorCode.FlowControlError, 'SETTINGS_INITIAL_WINDOW_SIZE');
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > WINDOW_MAX) throw new ConnectionError(ErrorCode.FlowControlError, 'stream window overflow');
          }
          if (delta > 0) for (const s of [...this.streams.values()]) if (s.queuedBytes > 0) this.flushStream(s);
          break;
        }
        case SETTINGS_MAX_FRAME_SIZE:
          if (value < FRAME_SIZE_DEFAULT || value > FRAME_SIZE_LIMIT) throw new ConnectionError(ErrorCode.ProtocolError, 'SETTINGS_MAX_FRAME_SIZE');
          this.peerFrameSizeMax = value;
          break;
        case SETTINGS_HEADER_TABLE_SIZE: // the encoder never indexes: any table size suits it
        case SETTINGS_MAX_CONCURRENT_STREAMS: // the member opens no streams
        case SETTINGS_MAX_HEADER_LIST_SIZE: // responses carry a handful of short fields
        default:
          break;
      }
    }
    this.emitFrame(FrameType.Settings, FLAG_ACK, 0, null);
  }

  private onPing(flags: number, streamId: number, payload: Buffer): void {
    if (payload.length !== 8) throw new ConnectionError(ErrorCode.FrameSizeError, 'PING length');
    if (streamId !== 0) throw new ConnectionError(ErrorCode.ProtocolError, 'PING on a stream');
    if (!(flags & FLAG_ACK)) this.emitFrame(FrameType.Ping, FLAG_ACK, 0, payload);
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FrameSizeError, 'WINDOW_UPDATE length');
    const increment = payload.readUInt32BE(0) & 0x7fff_ffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.ProtocolError, 'WINDOW_UPDATE of 0');
      this.sendWindow += increment;
      if (this.sendWindow > WINDOW_MAX) throw new ConnectionError(ErrorCode.FlowControlError, 'connection window overflow');
      for (const s of [...this.blocked]) {
        if (this.sendWindow <= 0) break;
        this.flushStream(s);
      }
      this.handler.drain?.();
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.lastStreamId) throw new ConnectionError(ErrorCode.ProtocolError, 'WINDOW_UPDATE on an idle stream');
      return;
    }
    if (increment === 0 || stream.sendWindow + increment > WINDOW_MAX) {
      stream.onClose?.();
      stream.reset(increment === 0 ? ErrorCode.ProtocolError : ErrorCode.FlowControlError);
      return;
    }
    stream.sendWindow += increment;
    if (stream.queuedBytes > 0) {
      this.flushStream(stream);
      this.handler.drain?.();
    }
  }

  private flushStream(s: Http2Stream): void {
    if (s.flush()) s.onDrain?.();
  }
}
