// A chunked HTTP response written line by line with backpressure, for the gateway's streams.
//
// uWS buffers whatever res.write() cannot send at once, and once an onWritable handler is registered it no longer
// drains that buffer by itself: the handler has to write to push it out. So the writer keeps at most the one
// line that hit backpressure inside uWS, queues the rest itself (counted, so the caller can bound it), and holds
// back that line's final "\n" so that onWritable always has something to write, which flushes uWS's buffer first.

import type uWS from 'uWebSockets.js';

export class ChunkedWriter {
  private queue: string[] = [];
  private queuedBytes = 0;
  /** bytes handed to uWS while it reported backpressure (an estimate of what it holds) */
  private uwsBytes = 0;
  private blocked = false;
  private heldNewline = false;
  private started = false;
  private ended = false;

  constructor(
    private readonly res: uWS.HttpResponse,
    private readonly startResponse: (res: uWS.HttpResponse) => void,
    /** called when everything queued went out after a period of backpressure */
    private readonly onDrained: () => void,
  ) {}

  get headersWritten(): boolean {
    return this.started;
  }

  /** Bytes produced for this response and not yet accepted by the socket. */
  pendingBytes(): number {
    return this.queuedBytes + this.uwsBytes;
  }

  /** Writes one line (its text without the trailing newline). */
  writeLine(text: string): void {
    if (this.ended) return;
    if (this.blocked) {
      this.queue.push(text + '\n');
      this.queuedBytes += text.length + 1;
      return;
    }
    this.res.cork(() => {
      this.begin();
      if (!this.res.write(text)) {
        this.block(text.length, true);
        return;
      }
      if (!this.res.write('\n')) this.block(1, false);
    });
  }

  private begin(): void {
    if (this.started) return;
    this.started = true;
    this.startResponse(this.res);
  }

  private block(bytes: number, holdNewline: boolean): void {
    this.blocked = true;
    this.uwsBytes += bytes;
    this.heldNewline = holdNewline;
    this.res.onWritable(() => this.resume());
  }

  private resume(): boolean {
    if (this.ended || !this.blocked) return true; // uWS may call again after the drain
    // Something must be written for uWS to flush what it holds: the held newline, else the queued lines, else one
    // space (JSON whitespace between values, which only happens when the newline itself hit backpressure).
    let text = this.heldNewline ? '\n' : '';
    this.heldNewline = false;
    text += this.queue.join('');
    this.queue = [];
    this.queuedBytes = 0;
    if (text === '') text = ' ';
    const ok = this.res.write(text);
    if (!ok) {
      this.uwsBytes = text.length;
      // the last queued line's newline is in uWS's buffer: nothing is held, the next resume writes a space
      return true;
    }
    this.uwsBytes = 0;
    this.blocked = false;
    this.onDrained();
    return true;
  }

  /** Ends the response: with a final text (no newline after it, as grpc-gateway's error chunk). */
  end(finalText?: string): void {
    if (this.ended) return;
    this.ended = true;
    const tail = (this.heldNewline ? '\n' : '') + this.queue.join('') + (finalText ?? '');
    this.queue = [];
    this.res.cork(() => {
      this.begin();
      this.res.end(tail);
    });
  }

  /** The client went away: drop everything. */
  abort(): void {
    this.ended = true;
    this.queue = [];
    this.queuedBytes = 0;
  }
}
