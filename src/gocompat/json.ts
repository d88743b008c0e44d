// The pieces of Go's encoding/json that etcdctl's `-w json` output uses: string escaping (HTML-safe, invalid UTF-8
// as \ufffd) and []byte as standard base64. Objects are assembled by the printers in field order, leaving out zero
// values where the Go struct says `omitempty`.

import { decodeRune, RUNE_ERROR, type ByteString } from './utf8.js';

const HEX = '0123456789abcdef';

/** encoding/json's encodeState.string with escapeHTML on (json.Marshal's default). */
export function jsonString(s: ByteString): ByteString {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; ) {
    const b = s.charCodeAt(i);
    if (b < 0x80) {
      if (b >= 0x20 && b !== 0x22 && b !== 0x5c && b !== 0x3c && b !== 0x3e && b !== 0x26) {
        i++;
        continue;
      }
      out += s.slice(start, i) + '\\';
      switch (b) {
        case 0x5c:
        case 0x22:
          out += String.fromCharCode(b);
          break;
        case 0x0a:
          out += 'n';
          break;
        case 0x0d:
          out += 'r';
          break;
        case 0x09:
          out += 't';
          break;
        default:
          out += 'u00' + HEX[b >> 4]! + HEX[b & 0xf]!;
      }
      i++;
      start = i;
      continue;
    }
    const [c, size] = decodeRune(s, i);
    if (c === RUNE_ERROR && size === 1) {
      out += s.slice(start, i) + '\\ufffd';
      i += size;
      start = i;
      continue;
    }
    if (c === 0x2028 || c === 0x2029) {
      out += s.slice(start, i) + '\\u202' + HEX[c & 0xf]!;
      i += size;
      start = i;
      continue;
    }
    i += size;
  }
  return out + s.slice(start) + '"';
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

/** Builds a JSON object from [name, encoded value] pairs, skipping undefined (omitted) members. */
export function jsonObject(members: [string, string | undefined][]): string {
  const parts: string[] = [];
  for (const [name, value] of members) if (value !== undefined) parts.push(`"${name}":${value}`);
  return '{' + parts.join(',') + '}';
}

export function jsonArray(items: string[]): string {
  return '[' + items.join(',') + ']';
}
