// Standard input, read synchronously in 4096-byte reads like Go's bufio.Reader over os.Stdin: txn reads it line by
// line; put (and a put inside txn) reads "the rest" of it, i.e. what the line reader has not buffered yet.

import fs from 'node:fs';
import { type ByteString, decodeRune, encodeRune, isScanSpace } from '../../gocompat/index.js';

const READ_SIZE = 4096;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** One read(2) from fd 0; '' at end of input. */
function readChunk(): ByteString {
  const buf = Buffer.alloc(READ_SIZE);
  for (;;) {
    try {
      const n = fs.readSync(0, buf, 0, READ_SIZE, null);
      return buf.subarray(0, n).toString('latin1');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 10);
        continue;
      }
      if (code === 'EOF' || code === 'EBADF' || code === 'EINVAL' || code === 'ENXIO') return '';
      throw err;
    }
  }
}

/** speakeasy's readline: one byte at a time up to "\n", so nothing after the line is consumed. */
export function readLineUnbuffered(): ByteString {
  const buf = Buffer.alloc(1);
  let out = '';
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(0, buf, 0, 1, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 10);
        continue;
      }
      if (code === 'EOF') n = 0;
      else throw err;
    }
    if (n === 0 || buf[0] === 0x0a) return out.endsWith('\r') ? out.slice(0, -1) : out;
    out += String.fromCharCode(buf[0]!);
  }
}

/** ioutil.ReadAll(os.Stdin). */
export function readAllStdin(): ByteString {
  let out = '';
  for (;;) {
    const chunk = readChunk();
    if (chunk === '') return out;
    out += chunk;
  }
}

interface LineBuffer {
  buffered: ByteString;
  eof: boolean;
}

/** The next whole line of the buffer (with its "\n"), or what is left once input ended; null when more is needed. */
function takeLine(b: LineBuffer): { line: ByteString; eof: boolean } | null {
  const nl = b.buffered.indexOf('\n');
  if (nl >= 0) {
    const line = b.buffered.slice(0, nl + 1);
    b.buffered = b.buffered.slice(nl + 1);
    return { line, eof: false };
  }
  if (!b.eof) return null;
  const line = b.buffered;
  b.buffered = '';
  return { line, eof: true };
}

/** bufio.Reader.ReadString('\n') over stdin. */
export class LineReader implements LineBuffer {
  buffered = '';
  eof = false;

  /** The line including its "\n"; `eof` is set when input ended before a "\n" (Go returns io.EOF then). */
  readLine(): { line: ByteString; eof: boolean } {
    for (;;) {
      const taken = takeLine(this);
      if (taken !== null) return taken;
      const chunk = readChunk();
      if (chunk === '') this.eof = true;
      else this.buffered += chunk;
    }
  }
}

/**
 * bufio.Reader.ReadString('\n') over stdin for a command that keeps serving while it waits for input (watch -i):
 * stdin is read asynchronously, so the event loop runs meanwhile.
 */
export class AsyncLineReader implements LineBuffer {
  buffered = '';
  eof = false;
  private waiter: (() => void) | null = null;

  constructor() {
    process.stdin.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString('latin1');
      this.wake();
    });
    const end = (): void => {
      this.eof = true;
      this.wake();
    };
    process.stdin.on('end', end);
    process.stdin.on('error', end);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** The next line including its "\n"; `eof` when input ended first (what was left of a line is returned with it). */
  async readLine(): Promise<{ line: ByteString; eof: boolean }> {
    for (;;) {
      const taken = takeLine(this);
      if (taken !== null) return taken;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}

// ---- fmt.Scanf("%s", &s) over os.Stdin ------------------------------------------------------------------------------

/** One read(2) of a single byte from fd 0; null at end of input (or when stdin cannot be read). */
function readByte(): number | null {
  const buf = Buffer.alloc(1);
  for (;;) {
    try {
      return fs.readSync(0, buf, 0, 1, null) === 0 ? null : buf[0]!;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 10);
        continue;
      }
      return null;
    }
  }
}

/** utf8.FullRune: whether `bytes` (at least one) hold a whole rune, or an invalid start that decodes as one error. */
function fullRune(bytes: number[]): boolean {
  const b0 = bytes[0]!;
  const size = b0 < 0xc2 ? 1 : b0 < 0xe0 ? 2 : b0 < 0xf0 ? 3 : b0 < 0xf5 ? 4 : 1;
  if (bytes.length >= size) return true;
  const lo = b0 === 0xe0 ? 0xa0 : b0 === 0xf0 ? 0x90 : 0x80;
  const hi = b0 === 0xed ? 0x9f : b0 === 0xf4 ? 0x8f : 0xbf;
  if (bytes.length > 1 && (bytes[1]! < lo || bytes[1]! > hi)) return true;
  return bytes.length > 2 && (bytes[2]! < 0x80 || bytes[2]! > 0xbf);
}

/**
 * fmt's readRune over os.Stdin (not a RuneScanner): a byte at a time, so only what the scan looks at is consumed; the
 * bytes after an invalid sequence wait for the next rune.
 */
class StdinRunes {
  private pending: number[] = [];

  /** [rune, its bytes], or null at end of input */
  next(): [number, ByteString] | null {
    const bytes = this.pending;
    this.pending = [];
    if (bytes.length === 0) {
      const b = readByte();
      if (b === null) return null;
      bytes.push(b);
    }
    while (!fullRune(bytes)) {
      const b = readByte();
      if (b === null) break;
      bytes.push(b);
    }
    const text = Buffer.from(bytes).toString('latin1');
    const [r, size] = decodeRune(text, 0);
    this.pending = bytes.slice(size);
    return [r, encodeRune(r)];
  }
}

/**
 * fmt.Scanf("%s", &s) on stdin, as `user add|passwd --interactive=false` read a password: spaces (not newlines) are
 * skipped, then one word up to the next space, newline or end of input. The delimiter is consumed. On a newline or the
 * end of input before the word the scan fails and the variable keeps its value (null here).
 */
export function scanfWordFromStdin(): ByteString | null {
  const runes = new StdinRunes();
  let r = runes.next();
  for (;;) {
    if (r === null) return null;
    if (r[0] === 0x0d) {
      // "\r\n" is a newline; a "\r" on its own is a space, and the rune peeked after it is looked at next
      const next = runes.next();
      if (next !== null && next[0] === 0x0a) return null;
      r = next;
      continue;
    }
    if (r[0] === 0x0a) return null;
    if (!isScanSpace(r[0])) break;
    r = runes.next();
  }
  let word = '';
  while (r !== null && !isScanSpace(r[0])) {
    word += r[1];
    r = runes.next();
  }
  return word;
}
