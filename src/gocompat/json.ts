// Go's encoding/json string encoding, which etcdctl's `-w json` output and etcd's JSON gateway (through jsonpb) both
// write: json.Marshal's HTML-safe escapes (<, > and & as \u003c, \u003e, \u0026), U+2028 and U+2029 escaped, control
// characters as \n, \r, \t or \u00XX (Go 1.19 spells \b and \f as \u0008 and \u000c), and each invalid UTF-8 byte
// as \ufffd. DEL (0x7f) stays as it is.

import { byteStringToUtf8, decodeRune, RUNE_ERROR, utf8ToByteString, type ByteString } from './utf8.js';

const HEX = '0123456789abcdef';

/** encoding/json's encodeState.string with escapeHTML on (json.Marshal's default), of a Go string's bytes. */
export function jsonQuote(s: ByteString): ByteString {
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

/**
 * jsonQuote of a JavaScript string, as Go would encode the same text held as UTF-8 (a lone surrogate, which no Go
 * string decoded from UTF-8 can hold, becomes U+FFFD).
 */
export function jsonQuoteText(s: string): string {
  return byteStringToUtf8(jsonQuote(utf8ToByteString(s)));
}
