// Go's strconv: Quote (%q), QuoteRune, Unquote, ParseInt, ParseUint, ParseBool, with Go's error texts. etcdctl's
// output and error messages and etcd's flag parsing depend on them. All strings are byte strings (see utf8.ts).

import { isPrint } from './unicode.js';
import { decodeRune, encodeRune, RUNE_ERROR, validRune, type ByteString } from './utf8.js';

const LOWER_HEX = '0123456789abcdef';

function hex2(b: number): string {
  return '\\x' + LOWER_HEX[b >> 4]! + LOWER_HEX[b & 0xf]!;
}

function escapedRune(r: number, quote: number): ByteString {
  if (r === quote || r === 0x5c) return '\\' + String.fromCharCode(r);
  if (isPrint(r)) return encodeRune(r);
  switch (r) {
    case 0x07: return '\\a';
    case 0x08: return '\\b';
    case 0x0c: return '\\f';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    case 0x0b: return '\\v';
  }
  if (r < 0x20 || r === 0x7f) return hex2(r);
  if (!validRune(r)) r = RUNE_ERROR;
  if (r < 0x10000) return '\\u' + r.toString(16).padStart(4, '0');
  return '\\U' + r.toString(16).padStart(8, '0');
}

/** strconv.Quote: a double-quoted Go string literal. */
export function quote(s: ByteString): ByteString {
  let out = '"';
  for (let i = 0; i < s.length; ) {
    const [r, width] = decodeRune(s, i);
    if (width === 1 && r === RUNE_ERROR) out += hex2(s.charCodeAt(i));
    else out += escapedRune(r, 0x22);
    i += width;
  }
  return out + '"';
}

/** strconv.CanBackquote: whether s can stand unchanged between backquotes (fmt's %#q backquotes it then). */
export function canBackquote(s: ByteString): boolean {
  for (let i = 0; i < s.length; ) {
    const [r, width] = decodeRune(s, i);
    i += width;
    if (width > 1) {
      if (r === 0xfeff) return false; // a BOM is invisible
      continue;
    }
    if (r === RUNE_ERROR || (r < 0x20 && r !== 0x09) || r === 0x60 || r === 0x7f) return false;
  }
  return true;
}

/** strconv.QuoteRune (fmt's %q of an integer). */
export function quoteRune(r: number): ByteString {
  if (!validRune(r)) r = RUNE_ERROR;
  return "'" + escapedRune(r, 0x27) + "'";
}

function unhex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** strconv.UnquoteChar: [value, multibyte, rest index] or null on a syntax error. */
function unquoteChar(s: ByteString, i: number, quoteChar: number): [number, boolean, number] | null {
  if (i >= s.length) return null;
  const c = s.charCodeAt(i);
  if (c === quoteChar && (quoteChar === 0x27 || quoteChar === 0x22)) return null;
  if (c >= 0x80) {
    const [r, size] = decodeRune(s, i);
    return [r, true, i + size];
  }
  if (c !== 0x5c) return [c, false, i + 1];
  if (i + 1 >= s.length) return null;
  const e = s.charCodeAt(i + 1);
  let j = i + 2;
  switch (e) {
    case 0x61: return [0x07, false, j];
    case 0x62: return [0x08, false, j];
    case 0x66: return [0x0c, false, j];
    case 0x6e: return [0x0a, false, j];
    case 0x72: return [0x0d, false, j];
    case 0x74: return [0x09, false, j];
    case 0x76: return [0x0b, false, j];
    case 0x78: // x
    case 0x75: // u
    case 0x55: { // U
      const n = e === 0x78 ? 2 : e === 0x75 ? 4 : 8;
      if (s.length - j < n) return null;
      let v = 0;
      for (let k = 0; k < n; k++) {
        const x = unhex(s.charCodeAt(j + k));
        if (x < 0) return null;
        v = v * 16 + x;
      }
      j += n;
      if (e === 0x78) return [v, false, j];
      if (!validRune(v)) return null;
      return [v, true, j];
    }
    case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37: {
      let v = e - 0x30;
      if (s.length - j < 2) return null;
      for (let k = 0; k < 2; k++) {
        const x = s.charCodeAt(j + k) - 0x30;
        if (x < 0 || x > 7) return null;
        v = (v << 3) | x;
      }
      j += 2;
      if (v > 255) return null;
      return [v, false, j];
    }
    case 0x5c: return [0x5c, false, j];
    case 0x27:
    case 0x22:
      if (e !== quoteChar) return null;
      return [e, false, j];
    default:
      return null;
  }
}

/** strconv.Unquote; null means strconv.ErrSyntax ("invalid syntax"). */
export function unquote(s: ByteString): ByteString | null {
  if (s.length < 2) return null;
  const q = s.charCodeAt(0);
  if (q !== s.charCodeAt(s.length - 1)) return null;
  const body = s.slice(1, -1);
  if (q === 0x60) {
    if (body.includes('`')) return null;
    return body.replace(/\r/g, '');
  }
  if (q !== 0x22 && q !== 0x27) return null;
  if (body.includes('\n')) return null;
  let out = '';
  let i = 0;
  let count = 0;
  while (i < body.length) {
    const r = unquoteChar(body, i, q);
    if (r === null) return null;
    const [value, multibyte, next] = r;
    i = next;
    out += value < 0x80 || !multibyte ? String.fromCharCode(value) : encodeRune(value);
    count++;
    if (q === 0x27 && i < body.length) return null;
  }
  // Go 1.19 takes '' as an empty string (its fast path checks only that nothing but one rune lies between the quotes)
  if (q === 0x27 && count > 1) return null;
  return out;
}

export const ERR_SYNTAX = 'invalid syntax';
export const ERR_RANGE = 'value out of range';

export class NumError extends Error {
  constructor(
    readonly func: string,
    readonly num: ByteString,
    readonly err: string,
  ) {
    super(`strconv.${func}: parsing ${quote(num)}: ${err}`);
  }
}

const MAX_UINT64 = (1n << 64n) - 1n;
const DECIMAL_DIGITS = /^[0-9]+$/;

function lower(c: number): number {
  return c | 0x20;
}

function underscoreOK(s: ByteString): boolean {
  let saw = '^';
  let i = 0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && 'box'.includes(String.fromCharCode(lower(s.charCodeAt(1))))) {
    i = 2;
    saw = '0';
    hex = lower(s.charCodeAt(1)) === 0x78;
  }
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 0x30 && c <= 0x39) || (hex && lower(c) >= 0x61 && lower(c) <= 0x66)) {
      saw = '0';
      continue;
    }
    if (c === 0x5f) {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

/** ParseUint's work: the value and the error kind (the value is the maximum on ERR_RANGE, as in Go). */
function parseUintResult(s: ByteString, base: number, bitSize: number): { value: bigint; err: string | null } {
  if (s === '') return { value: 0n, err: ERR_SYNTAX };
  if (base === 10 && s.length <= 18 && DECIMAL_DIGITS.test(s)) {
    // the common case in one step: 18 digits cannot overflow 64 bits
    const value = BigInt(s);
    const maxVal = (1n << BigInt(bitSize)) - 1n;
    return value > maxVal ? { value: maxVal, err: ERR_RANGE } : { value, err: null };
  }
  const base0 = base === 0;
  const s0 = s;
  if (base === 0) {
    base = 10;
    if (s[0] === '0') {
      const c1 = s.length >= 3 ? lower(s.charCodeAt(1)) : 0;
      if (c1 === 0x62) { base = 2; s = s.slice(2); }
      else if (c1 === 0x6f) { base = 8; s = s.slice(2); }
      else if (c1 === 0x78) { base = 16; s = s.slice(2); }
      else { base = 8; s = s.slice(1); }
    }
  }
  const maxVal = (1n << BigInt(bitSize)) - 1n;
  const cutoff = MAX_UINT64 / BigInt(base) + 1n;
  const b = BigInt(base);
  let underscores = false;
  let n = 0n;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let d: number;
    if (c === 0x5f && base0) {
      underscores = true;
      continue;
    } else if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (lower(c) >= 0x61 && lower(c) <= 0x7a) d = lower(c) - 0x61 + 10;
    else return { value: 0n, err: ERR_SYNTAX };
    if (d >= base) return { value: 0n, err: ERR_SYNTAX };
    if (n >= cutoff) return { value: maxVal, err: ERR_RANGE };
    n *= b;
    const n1 = n + BigInt(d);
    if (n1 > maxVal) return { value: maxVal, err: ERR_RANGE };
    n = n1;
  }
  if (underscores && !underscoreOK(s0)) return { value: 0n, err: ERR_SYNTAX };
  return { value: n, err: null };
}

/** strconv.ParseUint(s, base, bitSize); throws NumError. Base 0 takes 0b/0o/0x/0 prefixes and underscores. */
export function parseUint64(s: ByteString, base: number, bitSize = 64): bigint {
  const { value, err } = parseUintResult(s, base, bitSize);
  if (err !== null) throw new NumError('ParseUint', s, err);
  return value;
}

/** strconv.ParseInt(s, base, bitSize); throws NumError. Base 0 takes 0b/0o/0x/0 prefixes and underscores. */
export function parseInt64(s: ByteString, base: number, bitSize = 64): bigint {
  if (s === '') throw new NumError('ParseInt', s, ERR_SYNTAX);
  const s0 = s;
  let neg = false;
  if (s[0] === '+') s = s.slice(1);
  else if (s[0] === '-') {
    neg = true;
    s = s.slice(1);
  }
  const { value: un, err } = parseUintResult(s, base, bitSize);
  if (err !== null && err !== ERR_RANGE) throw new NumError('ParseInt', s0, err);
  const cutoff = 1n << BigInt(bitSize - 1);
  if (!neg && un >= cutoff) throw new NumError('ParseInt', s0, ERR_RANGE);
  if (neg && un > cutoff) throw new NumError('ParseInt', s0, ERR_RANGE);
  return neg ? -un : un;
}

/** strconv.ParseBool; throws NumError. */
export function parseBool(s: ByteString): boolean {
  switch (s) {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False':
      return false;
  }
  throw new NumError('ParseBool', s, ERR_SYNTAX);
}

/** strconv.FormatInt: an int64 carried as bigint (or number), printed as Go prints it (%d / fmt.Print). */
export function int64String(v: bigint | number): string {
  return BigInt.asIntN(64, BigInt(v)).toString();
}

/** strconv.FormatUint. */
export function uint64String(v: bigint | number): string {
  return BigInt.asUintN(64, BigInt(v)).toString();
}
