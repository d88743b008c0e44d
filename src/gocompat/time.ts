// Go's time.ParseDuration and Duration.String (etcdctl's and etcd's flag values, `took` in endpoint health), with
// Go's error texts. Durations are bigint nanoseconds; strings are byte strings, so both micro signs (U+00B5 and
// U+03BC) are matched as their UTF-8 bytes.

import { decodeRune, RUNE_ERROR, type ByteString } from './utf8.js';

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  '\xc2\xb5s': 1000n, // U+00B5 micro sign, as UTF-8 bytes
  '\xce\xbcs': 1000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const LIMIT = 1n << 63n;

/** time's own quote(): non-ASCII and control bytes as \x escapes. */
function timeQuote(s: ByteString): ByteString {
  let out = '"';
  for (let i = 0; i < s.length; ) {
    const [c, w] = decodeRune(s, i);
    if (c >= 0x80 || c < 0x20) {
      let width = w;
      if (c === RUNE_ERROR) {
        width = 1;
        if (i + 2 < s.length && s.slice(i, i + 3) === '\xef\xbf\xbd') width = 3;
      }
      for (let j = 0; j < width; j++) out += '\\x' + s.charCodeAt(i + j).toString(16).padStart(2, '0');
      i += width;
    } else {
      if (c === 0x22 || c === 0x5c) out += '\\';
      out += s[i]!;
      i += 1;
    }
  }
  return out + '"';
}

export class DurationError extends Error {}

function invalid(orig: ByteString): DurationError {
  return new DurationError('time: invalid duration ' + timeQuote(orig));
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** time.ParseDuration; throws DurationError. */
export function parseDuration(orig: ByteString): bigint {
  let s = orig;
  let d = 0n;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid(orig);
  while (s !== '') {
    let v = 0n;
    let f = 0n;
    let scale = 1;
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid(orig);
    let i = 0;
    for (; i < s.length && isDigit(s[i]); i++) {
      if (v > LIMIT / 10n) throw invalid(orig);
      v = v * 10n + BigInt(s.charCodeAt(i) - 0x30);
      if (v > LIMIT) throw invalid(orig);
    }
    const pre = i > 0;
    s = s.slice(i);
    let post = false;
    if (s !== '' && s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; j < s.length && isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > (LIMIT - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 0x30);
        if (y > LIMIT) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalid(orig);
    let k = 0;
    for (; k < s.length; k++) {
      const c = s[k]!;
      if (c === '.' || isDigit(c)) break;
    }
    if (k === 0) throw new DurationError('time: missing unit in duration ' + timeQuote(orig));
    const u = s.slice(0, k);
    s = s.slice(k);
    const unit = UNITS[u];
    if (unit === undefined) throw new DurationError('time: unknown unit ' + timeQuote(u) + ' in duration ' + timeQuote(orig));
    if (v > LIMIT / unit) throw invalid(orig);
    v *= unit;
    if (f > 0n) {
      // float64 arithmetic, as Go does
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > LIMIT) throw invalid(orig);
    }
    d += v;
    if (d > LIMIT) throw invalid(orig);
  }
  if (neg) return -d;
  if (d > LIMIT - 1n) throw invalid(orig);
  return d;
}

function fmtFrac(v: bigint, prec: number): [string, bigint] {
  let out = '';
  let print = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    print = print || digit !== 0n;
    if (print) out = digit.toString() + out;
    v /= 10n;
  }
  if (print) out = '.' + out;
  return [out, v];
}

/** time.Duration.String, as a byte string ("µs" is UTF-8 encoded). */
export function formatDuration(d: bigint): ByteString {
  const neg = d < 0n;
  let u = neg ? -d : d;
  let out: string;
  if (u < 1_000_000_000n) {
    let prec: number;
    let unit: string;
    if (u === 0n) return '0s';
    if (u < 1000n) {
      prec = 0;
      unit = 'ns';
    } else if (u < 1_000_000n) {
      prec = 3;
      unit = '\xc2\xb5s';
    } else {
      prec = 6;
      unit = 'ms';
    }
    const [frac, rest] = fmtFrac(u, prec);
    out = rest.toString() + frac + unit;
  } else {
    const [frac, rest] = fmtFrac(u, 9);
    u = rest;
    out = (u % 60n).toString() + frac + 's';
    u /= 60n;
    if (u > 0n) {
      out = (u % 60n).toString() + 'm' + out;
      u /= 60n;
      if (u > 0n) out = u.toString() + 'h' + out;
    }
  }
  return neg ? '-' + out : out;
}
