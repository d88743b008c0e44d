// A JSON reader that fails the way Go's encoding/json does. etcd's gateway decodes request bodies with a
// json.Decoder (one value per request, a sequence of values on a stream) and answers a malformed body with the Go
// error text, so the parser reports the same messages at the same bytes: "unexpected EOF", "invalid character 'x'
// looking for beginning of value", and so on. It yields a small tree that keeps what jsonpb looks at: the raw text of
// numbers and of quoted strings (jsonpb strips the quotes off a quoted int64 without unescaping), object members with
// the last duplicate winning (Go decodes objects into a map first).

import { quote } from './strconv.js';
import { byteStringToUtf8, decodeUtf8, encodeRune } from './utf8.js';

export type JsonNode =
  | { readonly t: 'obj'; readonly fields: Map<string, JsonNode> }
  | { readonly t: 'arr'; readonly items: JsonNode[] }
  | { readonly t: 'str'; readonly value: string; readonly bytes: Buffer; readonly raw: Buffer }
  | { readonly t: 'num'; readonly raw: string }
  | { readonly t: 'bool'; readonly value: boolean }
  | { readonly t: 'null' };

/** A Go-worded decoding failure; the gateway sends its message as the error text. */
export class GoJsonError extends Error {}

/** Thrown when the input ends inside a value: a stream reader waits for more bytes, a whole body fails. */
class EndOfInput extends Error {}

/** encoding/json's quoteChar: the offending byte as Go prints it in a syntax error (strconv.Quote of string(rune(c))). */
function quoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return `'"'`;
  const quoted = quote(encodeRune(c));
  return byteStringToUtf8("'" + quoted.slice(1, -1) + "'");
}

function invalid(c: number, context: string): GoJsonError {
  return new GoJsonError(`invalid character ${quoteChar(c)} ${context}`);
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  peek(): number {
    if (this.pos >= this.end) throw new EndOfInput();
    return this.buf[this.pos]!;
  }

  skipSpace(): void {
    while (this.pos < this.end && isSpace(this.buf[this.pos]!)) this.pos++;
  }

  value(depth: number): JsonNode {
    if (depth > 10_000) throw new GoJsonError('exceeded max depth'); // Go's own nesting limit
    this.skipSpace();
    const c = this.peek();
    switch (c) {
      case 0x7b: return this.object(depth);
      case 0x5b: return this.array(depth);
      case 0x22: return this.string();
      case 0x74: this.literal('true'); return { t: 'bool', value: true };
      case 0x66: this.literal('false'); return { t: 'bool', value: false };
      case 0x6e: this.literal('null'); return { t: 'null' };
      default:
        if (c === 0x2d || isDigit(c)) return this.number();
        throw invalid(c, 'looking for beginning of value');
    }
  }

  private literal(word: string): void {
    this.pos++;
    for (let i = 1; i < word.length; i++) {
      const c = this.peek();
      if (c !== word.charCodeAt(i)) throw invalid(c, `in literal ${word} (expecting '${word[i]}')`);
      this.pos++;
    }
  }

  private number(): JsonNode {
    const start = this.pos;
    let c = this.peek();
    if (c === 0x2d) {
      this.pos++;
      c = this.peek();
      if (!isDigit(c)) throw invalid(c, 'in numeric literal');
    }
    if (c === 0x30) this.pos++;
    else while (this.pos < this.end && isDigit(this.buf[this.pos]!)) this.pos++;
    if (this.pos < this.end && this.buf[this.pos] === 0x2e) {
      this.pos++;
      c = this.peek();
      if (!isDigit(c)) throw invalid(c, 'after decimal point in numeric literal');
      while (this.pos < this.end && isDigit(this.buf[this.pos]!)) this.pos++;
    }
    if (this.pos < this.end && (this.buf[this.pos] === 0x65 || this.buf[this.pos] === 0x45)) {
      this.pos++;
      c = this.peek();
      if (c === 0x2b || c === 0x2d) {
        this.pos++;
        c = this.peek();
      }
      if (!isDigit(c)) throw invalid(c, 'in exponent of numeric literal');
      while (this.pos < this.end && isDigit(this.buf[this.pos]!)) this.pos++;
    }
    // A number at the very end of a stream may still be growing; the caller decides (see decodeNext).
    if (this.pos >= this.end) this.numberAtEnd = true;
    return { t: 'num', raw: this.buf.toString('latin1', start, this.pos) };
  }

  numberAtEnd = false;

  string(): JsonNode & { t: 'str' } {
    const open = this.pos;
    this.pos++;
    const out: number[] = [];
    let plain = true;
    for (;;) {
      const c = this.peek();
      if (c === 0x22) break;
      if (c < 0x20) throw invalid(c, 'in string literal');
      if (c !== 0x5c) {
        out.push(c);
        this.pos++;
        continue;
      }
      plain = false;
      this.pos++;
      const e = this.peek();
      this.pos++;
      switch (e) {
        case 0x62: out.push(8); break;
        case 0x66: out.push(12); break;
        case 0x6e: out.push(10); break;
        case 0x72: out.push(13); break;
        case 0x74: out.push(9); break;
        case 0x22: case 0x5c: case 0x2f: out.push(e); break;
        case 0x75: {
          let r = this.hex4();
          if (r >= 0xd800 && r < 0xdc00) {
            // a surrogate pair when a low surrogate follows, else U+FFFD (Go's unquote)
            const save = this.pos;
            if (this.pos + 1 < this.end && this.buf[this.pos] === 0x5c && this.buf[this.pos + 1] === 0x75) {
              this.pos += 2;
              const lo = this.hex4();
              if (lo >= 0xdc00 && lo < 0xe000) r = 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00);
              else {
                this.pos = save;
                r = 0xfffd;
              }
            } else r = 0xfffd;
          } else if (r >= 0xdc00 && r < 0xe000) r = 0xfffd;
          for (const b of Buffer.from(String.fromCodePoint(r), 'utf8')) out.push(b);
          break;
        }
        default:
          throw invalid(e, 'in string escape code');
      }
    }
    const raw = this.buf.subarray(open + 1, this.pos);
    this.pos++;
    const bytes = plain ? Buffer.from(raw) : Buffer.from(out);
    // Go replaces each invalid UTF-8 byte with U+FFFD when it decodes a string
    return { t: 'str', value: decodeUtf8(bytes), bytes, raw: Buffer.from(raw) };
  }

  private hex4(): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.peek();
      if (!isHex(c)) throw invalid(c, 'in \\u hexadecimal character escape');
      v = v * 16 + parseInt(String.fromCharCode(c), 16);
      this.pos++;
    }
    return v;
  }

  private object(depth: number): JsonNode {
    this.pos++;
    const fields = new Map<string, JsonNode>();
    this.skipSpace();
    if (this.peek() === 0x7d) {
      this.pos++;
      return { t: 'obj', fields };
    }
    for (;;) {
      this.skipSpace();
      const c = this.peek();
      if (c !== 0x22) throw invalid(c, 'looking for beginning of object key string');
      const key = this.string().value;
      this.skipSpace();
      const colon = this.peek();
      if (colon !== 0x3a) throw invalid(colon, 'after object key');
      this.pos++;
      const v = this.value(depth + 1);
      fields.delete(key); // the last duplicate wins and keeps its own place
      fields.set(key, v);
      this.skipSpace();
      const next = this.peek();
      this.pos++;
      if (next === 0x2c) continue;
      if (next === 0x7d) return { t: 'obj', fields };
      throw invalid(next, 'after object key:value pair');
    }
  }

  private array(depth: number): JsonNode {
    this.pos++;
    const items: JsonNode[] = [];
    this.skipSpace();
    if (this.peek() === 0x5d) {
      this.pos++;
      return { t: 'arr', items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.skipSpace();
      const next = this.peek();
      this.pos++;
      if (next === 0x2c) continue;
      if (next === 0x5d) return { t: 'arr', items };
      throw invalid(next, 'after array element');
    }
  }
}

/**
 * json.Unmarshal's error for a document cut short: its scanner's eof() steps one space past the end first, so a cut
 * inside a literal or a number reports that space ("invalid character ' ' in literal true (expecting 'e')"), and
 * only a cut elsewhere is "unexpected end of JSON input".
 */
function endOfInputError(buf: Buffer): GoJsonError {
  try {
    new Reader(Buffer.concat([buf, Buffer.from(' ')]), 0, buf.length + 1).value(0);
  } catch (err) {
    if (err instanceof GoJsonError) return err;
  }
  return new GoJsonError('unexpected end of JSON input');
}

/** json.Unmarshal of a whole document (jsonpb's inner parse of a quoted number). */
export function goUnmarshal(buf: Buffer): JsonNode {
  const r = new Reader(buf, 0, buf.length);
  let v: JsonNode;
  try {
    v = r.value(0);
  } catch (err) {
    if (err instanceof EndOfInput) throw endOfInputError(buf);
    throw err;
  }
  r.skipSpace();
  if (r.pos < buf.length) throw invalid(buf[r.pos]!, 'after top-level value');
  return v;
}

export type DecodeResult =
  | { readonly kind: 'value'; readonly node: JsonNode; readonly next: number }
  | { readonly kind: 'eof' }
  | { readonly kind: 'more' };

/**
 * json.Decoder.Decode on buf[start..]: the next value and where the one after it starts, 'eof' when only
 * whitespace is left, or 'more' when the input ends inside a value (a stream waits for more bytes; at the end of a
 * body that is Go's "unexpected EOF"). `final` says no more bytes will come.
 */
export function decodeNext(buf: Buffer, start: number, final: boolean): DecodeResult {
  const r = new Reader(buf, start, buf.length);
  r.skipSpace();
  if (r.pos >= buf.length) return { kind: 'eof' };
  try {
    const node = r.value(0);
    if (r.numberAtEnd && !final) return { kind: 'more' }; // "12" might become "123"
    return { kind: 'value', node, next: r.pos };
  } catch (err) {
    if (err instanceof EndOfInput) {
      if (final) throw new GoJsonError('unexpected EOF');
      return { kind: 'more' };
    }
    throw err;
  }
}
