// The verbs of fmt.Sscanf that etcdctl's formats use (%q, %s, literal characters and spaces), one call per format
// element, so a caller spells out its format as a sequence of calls and sees how far the scan got when it fails (as
// Sscanf's operand count does). Runes are read as Go reads them (invalid UTF-8 as U+FFFD); errors carry Go's texts.

import { unquote } from './strconv.js';
import { isScanSpace } from './unicode.js';
import { decodeRune, encodeRune, type ByteString } from './utf8.js';

const EOF = -1;

/** A scan that stopped: the message is fmt's error text. */
export class ScanError extends Error {}

/** fmt's scanning state over one input string. */
export class Scanner {
  private pos = 0;
  private lastWidth = 0;
  constructor(private readonly s: ByteString) {}

  private getRune(): number {
    if (this.pos >= this.s.length) {
      this.lastWidth = 0;
      return EOF;
    }
    const [r, w] = decodeRune(this.s, this.pos);
    this.pos += w;
    this.lastWidth = w;
    return r;
  }

  private mustReadRune(): number {
    const r = this.getRune();
    if (r === EOF) throw new ScanError('unexpected EOF');
    return r;
  }

  private unread(): void {
    this.pos -= this.lastWidth;
    this.lastWidth = 0;
  }

  private peekIs(c: number): boolean {
    const r = this.getRune();
    if (r !== EOF) this.unread();
    return r === c;
  }

  private skipSpace(): void {
    for (;;) {
      const r = this.getRune();
      if (r === EOF) return;
      if (r === 0x0d && this.peekIs(0x0a)) continue;
      if (r === 0x0a) throw new ScanError('unexpected newline');
      if (!isScanSpace(r)) {
        this.unread();
        return;
      }
    }
  }

  private notEOF(): void {
    if (this.getRune() === EOF) throw new ScanError('EOF');
    this.unread();
  }

  private quotedString(): ByteString {
    this.notEOF();
    const q = this.getRune();
    if (q === 0x60) {
      let buf = '';
      for (;;) {
        const r = this.mustReadRune();
        if (r === q) return buf;
        buf += encodeRune(r);
      }
    }
    if (q !== 0x22) throw new ScanError('expected quoted string');
    let buf = '"';
    for (;;) {
      const r = this.mustReadRune();
      buf += encodeRune(r);
      if (r === 0x5c) buf += encodeRune(this.mustReadRune());
      else if (r === 0x22) break;
    }
    const out = unquote(buf);
    if (out === null) throw new ScanError('invalid syntax');
    return out;
  }

  /** %q operand: doScanf's SkipSpace, then convertString's. */
  scanQuoted(): ByteString {
    this.skipSpace();
    this.skipSpace();
    this.notEOF();
    return this.quotedString();
  }

  /** %s operand. */
  scanWord(): ByteString {
    this.skipSpace();
    this.skipSpace();
    this.notEOF();
    this.skipSpace();
    let buf = '';
    for (;;) {
      const r = this.getRune();
      if (r === EOF) break;
      if (isScanSpace(r)) {
        this.unread();
        break;
      }
      buf += encodeRune(r);
    }
    return buf;
  }

  /** A literal in the format. */
  literal(c: number): void {
    const r = this.mustReadRune();
    if (r !== c) {
      this.unread();
      throw new ScanError('input does not match format');
    }
  }

  /** A single space in the format (no newline): at least one space or EOF in the input. */
  space(): void {
    let r = this.getRune();
    if (!isScanSpace(r) && r !== EOF) throw new ScanError('expected space in input to match format');
    if (r === 0x0a) throw new ScanError('newline in input does not match format');
    while (isScanSpace(r) && r !== 0x0a) r = this.getRune();
    if (r !== EOF) this.unread();
  }
}
