// Go strings are byte sequences; code that must behave as Go does on any bytes (etcdctl-ts keeps every command-line
// string, key and value this way) holds them as a "byte string": a JS string whose char codes are the bytes (latin1).
// Byte-wise operations then behave as Go's do, and output is written back as the same bytes. These helpers convert,
// and decode UTF-8 exactly as Go's unicode/utf8 does (an invalid byte is one RuneError of width 1, unlike
// TextDecoder, which replaces a maximal invalid subsequence once).

import { isUtf8 } from 'node:buffer';

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

/** Decodes a byte string as UTF-8 into a JS string, each invalid byte as U+FFFD (see decodeUtf8). */
export function byteStringToUtf8(s: ByteString): string {
  return decodeUtf8(Buffer.from(s, 'latin1'));
}

/**
 * UTF-8 bytes to a JS string as Go turns invalid UTF-8 into runes (string(runes), encoding/json's strings): each byte
 * that starts no valid sequence is one U+FFFD, so a sequence cut short gives one per byte where TextDecoder gives one.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (isUtf8(buf)) return buf.toString('utf8');
  const s = buf.toString('latin1');
  let out = '';
  for (let i = 0; i < s.length; ) {
    const [r, width] = decodeRune(s, i);
    out += String.fromCodePoint(r);
    i += width;
  }
  return out;
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
