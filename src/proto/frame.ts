// The binary frame codec shared by the client protocol and (later) the peer protocol.
//
// Frame = 12-byte header + msgpack body:
//   offset 0  u16  magic 0xE7CD
//   offset 2  u8   protocol version (1)
//   offset 3  u8   frame kind (FrameKind)
//   offset 4  u32  request id (big-endian), chosen by the client, echoed by the server
//   offset 8  u32  body length in bytes (big-endian)
// The body length is checked against the configured limit before any byte of the body is buffered.

import { Packr, Unpackr } from 'msgpackr';

export const FRAME_MAGIC = 0xe7cd;
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 12;
/** msgpackr's RESERVE_START_SPACE flag: leaves room for the header in the packed buffer, so no copy is needed. */
const RESERVE_START_SPACE = 2048;

export const FrameKind = {
  /** client -> server: body {method, request} */
  Request: 1,
  /** server -> client: body = the response message */
  Response: 2,
  /** server -> client: body {code, message} */
  Error: 3,
  /**
   * both ways, on a stream (Watch, LeaseKeepAlive, Observe): client -> server {method, request}, the first one with a
   * new id opens the stream; server -> client: one stream response
   */
  StreamMessage: 4,
  /** both ways: the stream ends (client: cancel it; server: body {} when done, or {code, message} on error) */
  StreamEnd: 5,
  /**
   * client -> server: body {token} sets the connection's auth token for every request and stream opened after this
   * frame (etcd's gRPC `token` metadata); {} clears it. No answer: a bad token fails the requests that carry it.
   * The request id is ignored (send 0).
   */
  Auth: 6,
} as const;
export type FrameKindNumber = (typeof FrameKind)[keyof typeof FrameKind];

export const packr = new Packr({ useRecords: false, variableMapSize: true });
// 'auto': 64-bit integers within the safe range decode as numbers, larger ones (IDs) as bigints.
export const unpackr = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'number', mapsAsObjects: true });

/** Encodes one frame: a msgpack body with the header written into the reserved space in front of it. */
export function encodeFrame(kind: number, requestId: number, body: unknown): Buffer {
  const frame = packr.pack(body, RESERVE_START_SPACE | FRAME_HEADER_BYTES) as Buffer;
  writeHeader(frame, kind, requestId, frame.length - FRAME_HEADER_BYTES);
  return frame;
}

/** Completes a frame whose body was encoded elsewhere (a worker) behind FRAME_HEADER_BYTES left free for the header. */
export function frameInPlace(kind: number, requestId: number, frame: Buffer): Buffer {
  writeHeader(frame, kind, requestId, frame.length - FRAME_HEADER_BYTES);
  return frame;
}

/** Frames a body given as parts, copied once into the frame (for bodies assembled from pre-encoded pieces). */
export function frameEncodedParts(kind: number, requestId: number, parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  writeHeader(frame, kind, requestId, length);
  let at = FRAME_HEADER_BYTES;
  for (const p of parts) {
    frame.set(p, at);
    at += p.length;
  }
  return frame;
}

function writeHeader(frame: Buffer, kind: number, requestId: number, bodyLength: number): void {
  frame.writeUInt16BE(FRAME_MAGIC, 0);
  frame[2] = FRAME_VERSION;
  frame[3] = kind;
  frame.writeUInt32BE(requestId >>> 0, 4);
  frame.writeUInt32BE(bodyLength, 8);
}

export class FrameError extends Error {}

export interface FrameSink {
  /** A complete frame. `body` is a view into a buffer that may be reused: decode it before returning. */
  frame(kind: number, requestId: number, body: Buffer): void;
  /** A frame whose declared body is longer than the limit; its body is skipped without being buffered. */
  oversize(kind: number, requestId: number, bodyLength: number): void;
}

/**
 * Incremental frame parser. Feed it socket chunks; it calls the sink per frame. A header with a wrong magic, version
 * or kind throws FrameError: the stream is out of sync and the connection must be closed.
 *
 * `pause()` (typically called from inside the sink) stops delivering frames, even in the middle of a chunk: the rest
 * stays buffered until `resume()`. A server uses it for backpressure, so one chunk full of small requests cannot make
 * it produce an unbounded amount of output before it looks at its write buffer again.
 */
export class FrameDecoder {
  /** Unparsed bytes, concatenated only once enough have arrived for the next step (a header or a whole frame). */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  /** bytes that must be buffered before parsing can make progress (0 while paused with frames pending) */
  private neededBytes = FRAME_HEADER_BYTES;
  /** body bytes of an oversize frame still to be discarded as they arrive */
  private skipBytes = 0;
  private paused = false;
  constructor(
    private readonly bodyBytesMax: number,
    private readonly sink: FrameSink,
    private readonly validKind: (kind: number) => boolean,
  ) {}

  push(chunk: Buffer): void {
    if (this.skipBytes > 0) {
      // skipBytes > 0 only when nothing is buffered: the oversize header consumed everything before it
      if (chunk.length <= this.skipBytes) {
        this.skipBytes -= chunk.length;
        return;
      }
      chunk = chunk.subarray(this.skipBytes);
      this.skipBytes = 0;
    }
    if (chunk.length === 0) return;
    this.parts.push(chunk);
    this.partsBytes += chunk.length;
    if (!this.paused && this.partsBytes >= this.neededBytes) this.parse();
  }

  /** Stops delivering frames until resume(); bytes pushed meanwhile are buffered. */
  pause(): void {
    this.paused = true;
  }

  /** Delivers the frames buffered while paused (may throw FrameError, as push does). */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.partsBytes >= this.neededBytes) this.parse();
  }

  private parse(): void {
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partsBytes);
    this.parts = [];
    this.partsBytes = 0;
    this.neededBytes = FRAME_HEADER_BYTES;
    let offset = 0;
    while (buf.length - offset >= FRAME_HEADER_BYTES) {
      if (this.paused) {
        this.neededBytes = 0;
        break;
      }
      if (buf.readUInt16BE(offset) !== FRAME_MAGIC) throw new FrameError('bad frame magic');
      if (buf[offset + 2] !== FRAME_VERSION) throw new FrameError(`unsupported protocol version ${buf[offset + 2]}`);
      const kind = buf[offset + 3]!;
      if (!this.validKind(kind)) throw new FrameError(`unknown frame kind ${kind}`);
      const requestId = buf.readUInt32BE(offset + 4);
      const bodyLength = buf.readUInt32BE(offset + 8);
      if (bodyLength > this.bodyBytesMax) {
        this.sink.oversize(kind, requestId, bodyLength);
        const available = buf.length - offset - FRAME_HEADER_BYTES;
        if (available >= bodyLength) {
          offset += FRAME_HEADER_BYTES + bodyLength;
          continue;
        }
        this.skipBytes = bodyLength - available;
        return;
      }
      const end = offset + FRAME_HEADER_BYTES + bodyLength;
      if (end > buf.length) {
        this.neededBytes = FRAME_HEADER_BYTES + bodyLength;
        break;
      }
      this.sink.frame(kind, requestId, buf.subarray(offset + FRAME_HEADER_BYTES, end));
      offset = end;
    }
    if (offset < buf.length) {
      const tail = buf.subarray(offset);
      this.parts = [tail];
      this.partsBytes = tail.length;
    }
  }

  /** Bytes buffered and not yet delivered (bounded by header + bodyBytesMax, plus what arrives while paused). */
  get bufferedBytes(): number {
    return this.partsBytes;
  }
}
