// Byte encodings of the MVCC tables.
//
// history key = escape(user key) + 0x00 0x00 + (REVISION_MAX - revision) as 8 bytes big-endian.
//   escape(): 0x00 -> 0x00 0x01, every other byte as is. The 0x00 0x00 terminator sorts below any escaped
//   continuation, so the encoding is order-preserving and prefix-free over user keys; the inverted revision puts the
//   newest version of each key first.
// record = flags u8 | create_revision u64 | mod_revision u64 | version u64 | lease i64 | value bytes
// event key = revision u64 | index of the event within its revision u32 (value: the user key); the revision-ordered
//   index that watch catch-up reads, the record itself stays in history.

import type { KeyValue } from '../proto/index.js';

const TWO32 = 0x1_0000_0000;
/** Largest revision the encoding holds (2^53 - 1, the safe-integer range). */
export const REVISION_MAX = Number.MAX_SAFE_INTEGER;
export const RECORD_HEADER_BYTES = 33;
const FLAG_TOMBSTONE = 1;

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO32 + buf.readUInt32BE(offset + 4);
}

export function escapedLength(key: Uint8Array): number {
  let n = key.length;
  for (let i = 0; i < key.length; i++) if (key[i] === 0) n++;
  return n;
}

/** Writes escape(key) + terminator at offset 0 of a buffer of the right size; returns the offset after it. */
function writeEscaped(out: Buffer, key: Uint8Array): number {
  let o = 0;
  for (let i = 0; i < key.length; i++) {
    const b = key[i]!;
    out[o++] = b;
    if (b === 0) out[o++] = 1;
  }
  out[o++] = 0;
  out[o++] = 0;
  return o;
}

/** History key of (user key, revision). */
export function historyKey(key: Uint8Array, revision: number): Buffer {
  const out = Buffer.allocUnsafe(escapedLength(key) + 2 + 8);
  const o = writeEscaped(out, key);
  writeU64(out, REVISION_MAX - revision, o);
  return out;
}

/** Lowest history key of a user key (its newest possible revision): the start of a range scan. */
export function historyKeyLowerBound(key: Uint8Array): Buffer {
  return historyKey(key, REVISION_MAX);
}

/** The first history key past every version of `key`: escape(key) + 0x00 0x01 (what key + "\0" starts with). */
export function historyKeyAfter(key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(escapedLength(key) + 2);
  writeEscaped(out, key);
  out[out.length - 1] = 1;
  return out;
}

export function revisionOfHistoryKey(hkey: Buffer): number {
  return REVISION_MAX - readU64(hkey, hkey.length - 8);
}

/** The user-key part of a history key, still escaped (comparable between entries of one scan). */
export function escapedUserKeyOf(hkey: Buffer): Buffer {
  return hkey.subarray(0, hkey.length - 8);
}

export function unescapeUserKey(escapedWithTerminator: Buffer): Buffer {
  const end = escapedWithTerminator.length - 2;
  let zeros = 0;
  for (let i = 0; i < end; i++) if (escapedWithTerminator[i] === 0) zeros++;
  if (zeros === 0) return Buffer.from(escapedWithTerminator.subarray(0, end));
  const out = Buffer.allocUnsafe(end - zeros);
  let o = 0;
  for (let i = 0; i < end; i++) {
    const b = escapedWithTerminator[i]!;
    out[o++] = b;
    if (b === 0) i++; // skip the 0x01 escape byte
  }
  return out;
}

export interface StoredRecord {
  tombstone: boolean;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease: bigint;
  value: Buffer;
}

export function encodeRecord(r: {
  tombstone?: boolean;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease: bigint;
  value: Uint8Array;
}): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + r.value.length);
  out[0] = r.tombstone ? FLAG_TOMBSTONE : 0;
  writeU64(out, r.create_revision, 1);
  writeU64(out, r.mod_revision, 9);
  writeU64(out, r.version, 17);
  out.writeBigInt64BE(r.lease, 25);
  out.set(r.value, RECORD_HEADER_BYTES);
  return out;
}

export function isTombstone(record: Buffer): boolean {
  return (record[0]! & FLAG_TOMBSTONE) !== 0;
}

export function modRevisionOfRecord(record: Buffer): number {
  return readU64(record, 9);
}

export function decodeRecord(record: Buffer): StoredRecord {
  return {
    tombstone: isTombstone(record),
    create_revision: readU64(record, 1),
    mod_revision: readU64(record, 9),
    version: readU64(record, 17),
    lease: record.readBigInt64BE(25),
    value: record.subarray(RECORD_HEADER_BYTES),
  };
}

export function recordToKeyValue(key: Uint8Array, record: Buffer, keysOnly = false): KeyValue {
  return {
    key,
    create_revision: readU64(record, 1),
    mod_revision: readU64(record, 9),
    version: readU64(record, 17),
    value: keysOnly ? EMPTY_VALUE : record.subarray(RECORD_HEADER_BYTES),
    lease: record.readBigInt64BE(25),
  };
}
const EMPTY_VALUE = Buffer.alloc(0);

export const EVENT_KEY_BYTES = 12;

/** Events-table key of the `index`-th event of a revision. */
export function eventKey(revision: number, index: number): Buffer {
  const out = Buffer.allocUnsafe(EVENT_KEY_BYTES);
  writeU64(out, revision, 0);
  out.writeUInt32BE(index, 8);
  return out;
}

export function revisionOfEventKey(key: Buffer): number {
  return readU64(key, 0);
}
