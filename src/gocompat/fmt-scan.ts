// fmt.Sscanf(s, "%q) %s %q", &key, &op, &val), the parser of etcdctl's txn compare lines (txn_command.go
// parseCompare). What matters is how many operands were scanned and what they hold when scanning stops, because
// etcdctl prints both in its "malformed comparison" error. Runes are read as Go reads them (invalid UTF-8 as U+FFFD).

import { unquote } from './strconv.js';
import { decodeRune, encodeRune, isScanSpace, type ByteString } from './utf8.js';

const EOF = -1;

class ScanFailure extends Error {}

class RuneReader {
  private pos = 0;
  private lastWidth = 0;
  constructor(private readonly s: ByteString) {}

  getRune(): number {
    if (this.pos >= this.s.length) {
      this.lastWidth = 0;
      return EOF;
    }
    const [r, w] = decodeRune(this.s, this.pos);
    this.pos += w;
    this.lastWidth = w;
    return r;
  }

  mustReadRune(): number {
    const r = this.getRune();
    if (r === EOF) throw new ScanFailure('unexpected EOF');
    return r;
  }

  unread(): void {
    this.pos -= this.lastWidth;
    this.lastWidth = 0;
  }

  peekIs(c: number): boolean {
    const r = this.getRune();
    if (r !== EOF) this.unread();
    return r === c;
  }

  skipSpace(): void {
    for (;;) {
      const r = this.getRune();
      if (r === EOF) return;
      if (r === 0x0d && this.peekIs(0x0a)) continue;
      if (r === 0x0a) throw new ScanFailure('unexpected newline');
      if (!isScanSpace(r)) {
        this.unread();
        return;
      }
    }
  }

  notEOF(): void {
    if (this.getRune() === EOF) throw new ScanFailure('EOF');
    this.unread();
  }

  quotedString(): ByteString {
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
    if (q !== 0x22) throw new ScanFailure('expected quoted string');
    let buf = '"';
    for (;;) {
      const r = this.mustReadRune();
      buf += encodeRune(r);
      if (r === 0x5c) buf += encodeRune(this.mustReadRune());
      else if (r === 0x22) break;
    }
    const out = unquote(buf);
    if (out === null) throw new ScanFailure('invalid syntax');
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
      throw new ScanFailure('input does not match format');
    }
  }

  /** A single space in the format (no newline): at least one space or EOF in the input. */
  space(): void {
    let r = this.getRune();
    if (!isScanSpace(r) && r !== EOF) throw new ScanFailure('expected space in input to match format');
    if (r === 0x0a) throw new ScanFailure('newline in input does not match format');
    while (isScanSpace(r) && r !== 0x0a) r = this.getRune();
    if (r !== EOF) this.unread();
  }
}

export interface CompareScan {
  /** operands scanned: 3 means success */
  n: number;
  key: ByteString;
  op: ByteString;
  val: ByteString;
}

export function scanCompare(input: ByteString): CompareScan {
  const res: CompareScan = { n: 0, key: '', op: '', val: '' };
  const r = new RuneReader(input);
  try {
    res.key = r.scanQuoted();
    res.n = 1;
    r.literal(0x29);
    r.space();
    res.op = r.scanWord();
    res.n = 2;
    r.space();
    res.val = r.scanQuoted();
    res.n = 3;
  } catch (err) {
    if (!(err instanceof ScanFailure)) throw err;
  }
  return res;
}

/** fmt.Sscanf(word, "%q", &out): the word unquoted, or the scan error's text. */
export function scanQuotedWord(word: ByteString): { value: ByteString; err: string | null } {
  const r = new RuneReader(word);
  try {
    return { value: r.scanQuoted(), err: null };
  } catch (err) {
    if (err instanceof ScanFailure) return { value: '', err: err.message };
    throw err;
  }
}
