// HPACK (RFC 7541), as much as a gRPC server needs: a complete decoder for the header blocks clients send (indexed
// fields, literals with and without indexing, the dynamic table and its size updates, Huffman-coded strings), and an
// encoder that only writes literals without indexing, so the member keeps no encoder state per connection and never
// depends on the client's table size.
//
// Header names and values are latin1 strings: one character per octet, as HTTP/2 carries them.

import { HUFFMAN_CODES, HUFFMAN_CODE_BITS, STATIC_TABLE } from './hpack-tables.js';

/** A malformed header block: HTTP/2's COMPRESSION_ERROR, which ends the connection. */
export class HpackError extends Error {}

/** Entry overhead RFC 7541 section 4.1 counts in the table size. */
const ENTRY_OVERHEAD = 32;
/** Integers larger than this are refused (no header field or table index is anywhere near it). */
const INTEGER_MAX = 2 ** 30;

// ---- Huffman decoding: a binary tree over the code, walked bit by bit ------------------------------------------

const EOS = 256;
const NODES_MAX = 2 * (EOS + 1);
const childZero = new Int16Array(NODES_MAX).fill(-1);
const childOne = new Int16Array(NODES_MAX).fill(-1);
const symbolAt = new Int16Array(NODES_MAX).fill(-1);
{
  let nodes = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const code = HUFFMAN_CODES[symbol]!;
    const bits = HUFFMAN_CODE_BITS[symbol]!;
    let node = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const children = (code >>> i) & 1 ? childOne : childZero;
      if (children[node] === -1) children[node] = nodes++;
      node = children[node]!;
    }
    symbolAt[node] = symbol;
  }
}

const scratch = Buffer.allocUnsafe(64 * 1024);

function huffmanDecode(buf: Buffer, start: number, end: number): string {
  // every symbol takes at least 5 bits, so the output is at most 8/5 of the input
  const out = (end - start) * 2 <= scratch.length ? scratch : Buffer.allocUnsafe((end - start) * 2);
  let n = 0;
  let node = 0;
  let pendingBits = 0;
  let pendingAllOnes = true;
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >> bit) & 1;
      node = one ? childOne[node]! : childZero[node]!;
      pendingBits++;
      if (!one) pendingAllOnes = false;
      const symbol = symbolAt[node]!;
      if (symbol >= 0) {
        if (symbol === EOS) throw new HpackError('EOS in a Huffman-coded string');
        out[n++] = symbol;
        node = 0;
        pendingBits = 0;
        pendingAllOnes = true;
      }
    }
  }
  // the padding is a prefix of EOS (all ones), shorter than a byte
  if (pendingBits > 7 || !pendingAllOnes) throw new HpackError('bad Huffman padding');
  return out.toString('latin1', 0, n);
}

// ---- the decoder ---------------------------------------------------------------------------------------------

export type HeaderField = [name: string, value: string];

export class HpackDecoder {
  /** the dynamic table, oldest entry first */
  private readonly table: HeaderField[] = [];
  private tableBytes = 0;
  private tableBytesMax: number;
  private pos = 0;

  /** `tableBytesLimit`: SETTINGS_HEADER_TABLE_SIZE as this side advertised it (HTTP/2's default is 4096). */
  constructor(private readonly tableBytesLimit = 4096) {
    this.tableBytesMax = tableBytesLimit;
  }

  /** Decodes one complete header block; throws HpackError on anything malformed (the connection must end). */
  decode(block: Buffer): HeaderField[] {
    const fields: HeaderField[] = [];
    this.pos = 0;
    let fieldsSeen = false;
    while (this.pos < block.length) {
      const b = block[this.pos]!;
      if (b & 0x80) {
        fields.push(this.field(this.integer(block, 7)));
      } else if (b & 0x40) {
        const f = this.literal(block, 6);
        this.insert(f);
        fields.push(f);
      } else if (b & 0x20) {
        // a table size update may only open a block (RFC 7541 section 4.2)
        if (fieldsSeen) throw new HpackError('dynamic table size update after a header field');
        const size = this.integer(block, 5);
        if (size > this.tableBytesLimit) throw new HpackError(`dynamic table size ${size} above the ${this.tableBytesLimit} allowed`);
        this.tableBytesMax = size;
        this.evict(0);
        continue;
      } else {
        fields.push(this.literal(block, 4)); // without indexing (0000) or never indexed (0001)
      }
      fieldsSeen = true;
    }
    return fields;
  }

  private integer(buf: Buffer, prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let value = buf[this.pos++]! & mask;
    if (value < mask) return value;
    let shift = 0;
    for (;;) {
      if (this.pos >= buf.length) throw new HpackError('truncated integer');
      const b = buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (value > INTEGER_MAX) throw new HpackError('integer too large');
      if ((b & 0x80) === 0) return value;
      shift += 7;
    }
  }

  private string(buf: Buffer): string {
    if (this.pos >= buf.length) throw new HpackError('truncated string');
    const huffman = (buf[this.pos]! & 0x80) !== 0;
    const length = this.integer(buf, 7);
    const start = this.pos;
    const end = start + length;
    if (end > buf.length) throw new HpackError('truncated string');
    this.pos = end;
    return huffman ? huffmanDecode(buf, start, end) : buf.toString('latin1', start, end);
  }

  private literal(buf: Buffer, prefixBits: number): HeaderField {
    const index = this.integer(buf, prefixBits);
    const name = index === 0 ? this.string(buf) : this.field(index)[0];
    return [name, this.string(buf)];
  }

  private field(index: number): HeaderField {
    if (index === 0) throw new HpackError('index 0');
    if (index < STATIC_TABLE.length) return STATIC_TABLE[index] as HeaderField;
    const dynamic = index - STATIC_TABLE.length; // 0 is the newest entry
    const entry = this.table[this.table.length - 1 - dynamic];
    if (entry === undefined) throw new HpackError(`index ${index} beyond the table`);
    return entry;
  }

  private insert(f: HeaderField): void {
    const size = f[0].length + f[1].length + ENTRY_OVERHEAD;
    if (size > this.tableBytesMax) {
      // an entry larger than the table empties it and is not added (RFC 7541 section 4.4)
      this.table.length = 0;
      this.tableBytes = 0;
      return;
    }
    this.evict(size);
    this.table.push(f);
    this.tableBytes += size;
  }

  /** Evicts the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    let drop = 0;
    while (this.tableBytes + room > this.tableBytesMax && drop < this.table.length) {
      const f = this.table[drop++]!;
      this.tableBytes -= f[0].length + f[1].length + ENTRY_OVERHEAD;
    }
    if (drop > 0) this.table.splice(0, drop);
  }
}

// ---- the encoder: literals without indexing ---------------------------------------------------------------------

function integerBytes(value: number, prefixBits: number, firstByteFlags: number): number[] {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) return [firstByteFlags | value];
  const out = [firstByteFlags | mask];
  value -= mask;
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

function stringBytes(s: string): Buffer {
  const body = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from(integerBytes(body.length, 7, 0)), body]);
}

/** The static table index of a header name, if it has one. */
function staticNameIndex(name: string): number {
  for (let i = 1; i < STATIC_TABLE.length; i++) if (STATIC_TABLE[i]![0] === name) return i;
  return 0;
}

/** One field as a literal without indexing (RFC 7541 section 6.2.2), its name by static index when there is one. */
export function encodeLiteral(name: string, value: string): Buffer {
  const index = staticNameIndex(name);
  const head = Buffer.from(integerBytes(index, 4, 0));
  return index === 0 ? Buffer.concat([head, stringBytes(name), stringBytes(value)]) : Buffer.concat([head, stringBytes(value)]);
}

/** A field of the static table by index (RFC 7541 section 6.1), e.g. 8 for `:status: 200`. */
export function encodeIndexed(index: number): Buffer {
  return Buffer.from(integerBytes(index, 7, 0x80));
}

/** Encodes a header block from fields (each a literal without indexing, `:status: 200` indexed). */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Buffer {
  return Buffer.concat(fields.map(([name, value]) => (name === ':status' && value === '200' ? encodeIndexed(8) : encodeLiteral(name, value))));
}
