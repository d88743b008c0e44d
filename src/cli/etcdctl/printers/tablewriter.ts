// olekukonko/tablewriter 0.0.5 as etcdctl's `-w table` uses it: header upper-cased and centred, cells right-aligned,
// full borders, cells word-wrapped to 30 columns.

import { type ByteString, decodeRune } from '../../../gocompat/index.js';

const MAX_CELL_WIDTH = 30;
const WRAP_PENALTY = 1e5;
const MAX_INT32 = 2147483647;

function isWide(r: number): boolean {
  return (
    (r >= 0x1100 && r <= 0x115f) ||
    (r >= 0x2e80 && r <= 0xa4cf && r !== 0x303f) ||
    (r >= 0xac00 && r <= 0xd7a3) ||
    (r >= 0xf900 && r <= 0xfaff) ||
    (r >= 0xfe30 && r <= 0xfe4f) ||
    (r >= 0xff00 && r <= 0xff60) ||
    (r >= 0xffe0 && r <= 0xffe6) ||
    (r >= 0x1f300 && r <= 0x1f64f) ||
    (r >= 0x1f900 && r <= 0x1f9ff) ||
    (r >= 0x20000 && r <= 0x3fffd)
  );
}

/** go-runewidth's StringWidth, approximated: wide East Asian runes count 2, control runes 0, others 1. */
export function displayWidth(s: ByteString): number {
  const stripped = s.replace(/\x1b\[(?:[0-9]{1,3}(?:;[0-9]{1,3})*)?[m|K]/g, '');
  let w = 0;
  for (let i = 0; i < stripped.length; ) {
    const [r, size] = decodeRune(stripped, i);
    i += size;
    if (r < 0x20 || (r >= 0x7f && r < 0xa0)) continue;
    w += isWide(r) ? 2 : 1;
  }
  return w;
}

function wrapWords(words: ByteString[], spc: number, lim: number, pen: number): ByteString[][] {
  const n = words.length;
  const length: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(n).fill(0);
    row[i] = displayWidth(words[i]!);
    for (let j = i + 1; j < n; j++) row[j] = row[j - 1]! + spc + displayWidth(words[j]!);
    length.push(row);
  }
  const nbrk = new Array<number>(n).fill(0);
  const cost = new Array<number>(n).fill(MAX_INT32);
  for (let i = n - 1; i >= 0; i--) {
    if (length[i]![n - 1]! <= lim) {
      cost[i] = 0;
      nbrk[i] = n;
    } else {
      for (let j = i + 1; j < n; j++) {
        const d = lim - length[i]![j - 1]!;
        let c = d * d + cost[j]!;
        if (length[i]![j - 1]! > lim) c += pen;
        if (c < cost[i]!) {
          cost[i] = c;
          nbrk[i] = j;
        }
      }
    }
  }
  const lines: ByteString[][] = [];
  for (let i = 0; i < n; i = nbrk[i]!) lines.push(words.slice(i, nbrk[i]));
  return lines;
}

function wrapString(s: ByteString, lim: number): ByteString[] {
  const words = s.replace(/\n/g, ' ').split(' ');
  for (const v of words) {
    const max = displayWidth(v);
    if (max > lim) lim = max;
  }
  return wrapWords(words, 1, lim, WRAP_PENALTY).map((line) => line.join(' '));
}

function title(name: ByteString): ByteString {
  const origLen = name.length;
  const chars = [...name];
  for (let i = 0; i < chars.length; i++) {
    const r = chars[i]!;
    const isNumOrSpace = (c: string | undefined): boolean => c !== undefined && ((c >= '0' && c <= '9') || c === ' ');
    if (r === '_') chars[i] = ' ';
    else if (r === '.') {
      if ((i !== 0 && !isNumOrSpace(chars[i - 1])) || (i !== chars.length - 1 && !isNumOrSpace(chars[i + 1]))) chars[i] = ' ';
    }
  }
  let out = chars.join('').trim();
  if (out.length === 0 && origLen > 0) out = ' ';
  return out.replace(/[a-z]/g, (c) => c.toUpperCase());
}

function padCenter(s: ByteString, width: number): ByteString {
  const gap = width - displayWidth(s);
  if (gap <= 0) return s;
  const left = Math.floor(gap / 2);
  return ' '.repeat(left) + s + ' '.repeat(gap - left);
}

function padLeft(s: ByteString, width: number): ByteString {
  const gap = width - displayWidth(s);
  return gap > 0 ? ' '.repeat(gap) + s : s;
}

/** Renders a table like tablewriter with SetHeader(header), Append(row)..., SetAlignment(ALIGN_RIGHT), Render(). */
export function renderTable(header: ByteString[], rows: ByteString[][]): ByteString {
  const colWidths = new Map<number, number>();
  const rowHeights = new Map<number, number>();

  const parseDimension = (str: ByteString, col: number, row: number): ByteString[] => {
    let raw = str.split('\n');
    let maxWidth = 0;
    for (const line of raw) maxWidth = Math.max(maxWidth, displayWidth(line));
    if (maxWidth > MAX_CELL_WIDTH) maxWidth = MAX_CELL_WIDTH;
    let newMaxWidth = maxWidth;
    const wrapped = wrapString(raw.join(' '), maxWidth);
    for (const line of wrapped) newMaxWidth = Math.max(newMaxWidth, displayWidth(line));
    raw = wrapped;
    maxWidth = newMaxWidth;
    const w = colWidths.get(col);
    if (w === undefined || w < maxWidth || w === 0) colWidths.set(col, maxWidth);
    const h = rowHeights.get(row);
    if (h === undefined || h < raw.length || h === 0) rowHeights.set(row, raw.length);
    return raw;
  };

  const headers = header.map((h, i) => parseDimension(h, i, -1));
  const lines = rows.map((row, n) => row.map((v, i) => parseDimension(v, i, n)));
  const columns = colWidths.size;
  const width = (i: number): number => colWidths.get(i) ?? 0;

  let out = '';
  const separator = (): void => {
    out += '+';
    for (let i = 0; i < columns; i++) out += '-'.repeat(width(i) + 2) + '+';
    out += '\n';
  };

  separator();
  const headerHeight = rowHeights.get(-1) ?? 0;
  for (let x = 0; x < headerHeight; x++) {
    out += '|';
    for (let y = 0; y < columns; y++) {
      const h = title(headers[y]?.[x] ?? '');
      out += ' ' + padCenter(h, width(y)) + ' |';
    }
    out += '\n';
  }
  separator();
  lines.forEach((cells, rowIndex) => {
    const height = rowHeights.get(rowIndex) ?? 0;
    for (let x = 0; x < height; x++) {
      for (let y = 0; y < cells.length; y++) out += '| ' + padLeft(cells[y]![x] ?? '  ', width(y)) + ' ';
      out += '|\n';
    }
  });
  separator();
  return out;
}

/** go-humanize's Bytes: SI units, "%.0f %s" from 10 up, "%.1f %s" below. */
export function humanizeBytes(s: number): string {
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  if (s < 10) return `${s} B`;
  const e = Math.floor(Math.log(s) / Math.log(1000));
  const suffix = sizes[e]!;
  const val = Math.floor((s / Math.pow(1000, e)) * 10 + 0.5) / 10;
  if (val < 10) return `${val.toFixed(1)} ${suffix}`;
  // Go's %.0f rounds an exact half to even; val has one decimal, so decide on the tenths digit.
  const tenths = Math.round(val * 10);
  let whole = Math.floor(tenths / 10);
  const rest = tenths % 10;
  if (rest > 5 || (rest === 5 && whole % 2 === 1)) whole++;
  return `${whole} ${suffix}`;
}
