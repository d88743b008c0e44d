// A raw binary-protocol connection for tests that must control every byte: partial frames, corrupt headers, bodies
// that are not msgpack, requests whose responses are never read. Responses are collected by request id.

import net from 'node:net';
import { encodeFrame, FrameDecoder, FrameKind, packr, unpackr, FRAME_HEADER_BYTES, FRAME_MAGIC, FRAME_VERSION } from '../../src/proto/index.js';
import { parseEndpoint } from '../../src/client/index.js';

export interface RawFrame {
  kind: number;
  requestId: number;
  body: unknown;
}

/** The response to one request: a value, or an error frame's {code, message}. */
export type RawReply = { ok: true; value: unknown } | { ok: false; code: number; message: string };

/** Builds a 12-byte frame header by hand (any magic, version, kind and declared length). */
export function frameHeader(
  requestId: number,
  bodyLength: number,
  { kind = FrameKind.Request, magic = FRAME_MAGIC, version = FRAME_VERSION }: { kind?: number; magic?: number; version?: number } = {},
): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h.writeUInt16BE(magic, 0);
  h[2] = version;
  h[3] = kind;
  h.writeUInt32BE(requestId >>> 0, 4);
  h.writeUInt32BE(bodyLength >>> 0, 8);
  return h;
}

/** A request frame with an arbitrary (possibly invalid) decoded body. */
export function requestFrame(requestId: number, body: unknown): Buffer {
  return encodeFrame(FrameKind.Request, requestId, body);
}

/** A request frame whose body is the given bytes, verbatim. */
export function rawBodyFrame(requestId: number, body: Uint8Array, kind: number = FrameKind.Request): Buffer {
  return Buffer.concat([frameHeader(requestId, body.length, { kind }), body]);
}

export function packBody(value: unknown): Buffer {
  return Buffer.from(packr.pack(value));
}

export class RawConnection {
  readonly socket: net.Socket;
  /** every frame received, in order */
  readonly frames: RawFrame[] = [];
  /** resolves when the server (or we) closed the connection */
  readonly closed: Promise<void>;
  private readonly waiting = new Map<number, (f: RawFrame) => void>();
  private readonly early = new Map<number, RawFrame>();
  private protocolError: Error | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const decoder = new FrameDecoder(
      1 << 30,
      {
        frame: (kind, requestId, body) => this.onFrame({ kind, requestId, body: unpackr.unpack(body) as unknown }),
        oversize: () => {
          throw new Error('oversize response');
        },
      },
      (kind) => kind === FrameKind.Response || kind === FrameKind.Error,
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        this.protocolError = err as Error;
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(endpoint: string): Promise<RawConnection> {
    const { host, port } = parseEndpoint(endpoint);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /** The first error the response stream itself had (a malformed frame from the server), if any. */
  get serverProtocolError(): Error | null {
    return this.protocolError;
  }

  private countWaiters: { n: number; resolve: () => void }[] = [];

  /** Resolves once `n` frames have arrived in total; rejects if the connection closes before. */
  waitFrames(n: number): Promise<void> {
    if (this.frames.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { n, resolve };
      this.countWaiters.push(w);
      void this.closed.then(() => {
        if (this.countWaiters.includes(w)) reject(new Error(`connection closed after ${this.frames.length} of ${n} frames${this.protocolError ? `: ${this.protocolError.message}` : ''}`));
      });
    });
  }

  private onFrame(f: RawFrame): void {
    this.frames.push(f);
    const ready = this.countWaiters.filter((w) => w.n <= this.frames.length);
    this.countWaiters = this.countWaiters.filter((w) => w.n > this.frames.length);
    for (const w of ready) w.resolve();
    const w = this.waiting.get(f.requestId);
    if (w !== undefined) {
      this.waiting.delete(f.requestId);
      w(f);
    } else this.early.set(f.requestId, f);
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** Waits for the frame answering `requestId`; rejects if the connection closes first. */
  frame(requestId: number): Promise<RawFrame> {
    const got = this.early.get(requestId);
    if (got !== undefined) {
      this.early.delete(requestId);
      return Promise.resolve(got);
    }
    return new Promise((resolve, reject) => {
      this.waiting.set(requestId, resolve);
      void this.closed.then(() => {
        if (this.waiting.delete(requestId)) {
          reject(new Error(`connection closed before the response to request ${requestId}${this.protocolError ? `: ${this.protocolError.message}` : ''}`));
        }
      });
    });
  }

  async reply(requestId: number): Promise<RawReply> {
    const f = await this.frame(requestId);
    if (f.kind === FrameKind.Error) {
      const e = f.body as { code: number; message: string };
      return { ok: false, code: e.code, message: e.message };
    }
    return { ok: true, value: f.body };
  }

  /** Sends one request with any body and waits for its reply. */
  async call(requestId: number, body: unknown): Promise<RawReply> {
    const reply = this.reply(requestId);
    await this.write(requestFrame(requestId, body));
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }
}
