// Go's notions of printable and white space, which decide what strconv.Quote escapes and what strings.TrimSpace and
// fmt's scanner skip. The printable table is Go 1.19's (see printable.ts), not JavaScript's newer Unicode data.

import { PRINTABLE_RANGES } from './printable.js';
import { decodeRune, type ByteString } from './utf8.js';

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
