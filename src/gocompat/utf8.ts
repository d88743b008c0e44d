// Go strings are byte sequences; etcdctl-ts keeps every command-line string, key and value as a "byte string": a JS
// string whose char codes are the bytes (latin1). Byte-wise operations then behave as Go's do, and output is written
// back as the same bytes. These helpers convert, and decode UTF-8 exactly as Go's unicode/utf8 does.

import { PRINTABLE_RANGES } from './printable.js';

/** A JS string holding one byte per char code (0-255). */
export type ByteString = string;

export const RUNE_ERROR = 0xfffd;

export function bytesToByteString(bytes: Uint8Array | undefined): ByteString {
  if (bytes === undefined || bytes.length === 0) return '';
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

export function byteStringToBytes(s: ByteString): Buffer {
  return Buffer.from(s, 'latin1');
}

/** UTF-8 encodes a JS (UTF-16) string into a byte string. */
export function utf8ToByteString(s: string): ByteString {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** Decodes a byte string as UTF-8 into a JS string (invalid bytes become U+FFFD). For ASCII-only text mostly. */
export function byteStringToUtf8(s: ByteString): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

/** utf8.DecodeRuneInString: [rune, width]; an invalid or short sequence decodes as [RUNE_ERROR, 1]. */
export function decodeRune(s: ByteString, i: number): [number, number] {
  const n = s.length - i;
  if (n <= 0) return [RUNE_ERROR, 0];
  const b0 = s.charCodeAt(i);
  if (b0 < 0x80) return [b0, 1];
  let size: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) size = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    size = 3;
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    size = 4;
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else return [RUNE_ERROR, 1];
  if (n < size) return [RUNE_ERROR, 1];
  const b1 = s.charCodeAt(i + 1);
  if (b1 < lo || b1 > hi) return [RUNE_ERROR, 1];
  if (size === 2) return [((b0 & 0x1f) << 6) | (b1 & 0x3f), 2];
  const b2 = s.charCodeAt(i + 2);
  if (b2 < 0x80 || b2 > 0xbf) return [RUNE_ERROR, 1];
  if (size === 3) return [((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f), 3];
  const b3 = s.charCodeAt(i + 3);
  if (b3 < 0x80 || b3 > 0xbf) return [RUNE_ERROR, 1];
  return [((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f), 4];
}

export function validRune(r: number): boolean {
  return (r >= 0 && r < 0xd800) || (r > 0xdfff && r <= 0x10ffff);
}

/** utf8.EncodeRune into a byte string (invalid runes encode as U+FFFD, like Go). */
export function encodeRune(r: number): ByteString {
  if (!validRune(r)) r = RUNE_ERROR;
  if (r < 0x80) return String.fromCharCode(r);
  if (r < 0x800) return String.fromCharCode(0xc0 | (r >> 6), 0x80 | (r & 0x3f));
  if (r < 0x10000) return String.fromCharCode(0xe0 | (r >> 12), 0x80 | ((r >> 6) & 0x3f), 0x80 | (r & 0x3f));
  return String.fromCharCode(0xf0 | (r >> 18), 0x80 | ((r >> 12) & 0x3f), 0x80 | ((r >> 6) & 0x3f), 0x80 | (r & 0x3f));
}

/** utf8.RuneCountInString. */
export function runeCount(s: ByteString): number {
  let n = 0;
  for (let i = 0; i < s.length; n++) i += decodeRune(s, i)[1];
  return n;
}

/** strconv.IsPrint (Go 1.19 tables). */
export function isPrint(r: number): boolean {
  let lo = 0;
  let hi = PRINTABLE_RANGES.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (PRINTABLE_RANGES[mid * 2 + 1]! < r) lo = mid + 1;
    else hi = mid;
  }
  return lo < PRINTABLE_RANGES.length / 2 && PRINTABLE_RANGES[lo * 2]! <= r;
}

/** fmt's isSpace (the scanner's notion of white space). */
export function isScanSpace(r: number): boolean {
  return (
    (r >= 0x09 && r <= 0x0d) ||
    r === 0x20 ||
    r === 0x85 ||
    r === 0xa0 ||
    r === 0x1680 ||
    (r >= 0x2000 && r <= 0x200a) ||
    r === 0x2028 ||
    r === 0x2029 ||
    r === 0x202f ||
    r === 0x205f ||
    r === 0x3000
  );
}

/** unicode.IsSpace. */
export function isUnicodeSpace(r: number): boolean {
  if (r <= 0xff) return (r >= 0x09 && r <= 0x0d) || r === 0x20 || r === 0x85 || r === 0xa0;
  return r === 0x1680 || (r >= 0x2000 && r <= 0x200a) || r === 0x2028 || r === 0x2029 || r === 0x202f || r === 0x205f || r === 0x3000;
}

/** strings.TrimSpace (ASCII fast path plus Unicode white space, as Go does). */
export function trimSpace(s: ByteString): ByteString {
  let start = 0;
  while (start < s.length) {
    const [r, w] = decodeRune(s, start);
    if (!isUnicodeSpace(r)) break;
    start += w;
  }
  let end = s.length;
  while (end > start) {
    // walk back to the start of the last rune
    let j = end - 1;
    while (j > start && (s.charCodeAt(j) & 0xc0) === 0x80 && end - j < 4) j--;
    const [r, w] = decodeRune(s, j);
    if (j + w !== end) {
      // a stray continuation byte: not a space
      break;
    }
    if (!isUnicodeSpace(r)) break;
    end = j;
  }
  return s.slice(start, end);
}
