// Byte encodings of the MVCC tables (storage format etcd-ts/4).
//
// history key = revision u64 | sub u32 (the index of the change within its revision), both big-endian: every change
//   in revision order, appended at the end of the table. value = user key length u32 | user key | record.
// keyindex key = escape(user key) + 0x00 0x00 + (REVISION_MAX - revision) as 8 bytes big-endian.
//   escape(): 0x00 -> 0x00 0x01, every other byte as is. The 0x00 0x00 terminator sorts below any escaped
//   continuation, so the encoding is order-preserving and prefix-free over user keys; the inverted revision puts the
//   newest version of each key first. value = sub u32 | flags u8 (tombstone), so a scan skips deleted versions and
//   finds a key's record in history at (revision, sub) without reading anything else.
// record = flags u8 | create_revision u64 | mod_revision u64 | version u64 | lease i64 | value bytes

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

/** Keyindex key of (user key, revision). */
export function keyIndexKey(key: Uint8Array, revision: number): Buffer {
  const out = Buffer.allocUnsafe(escapedLength(key) + 2 + 8);
  const o = writeEscaped(out, key);
  writeU64(out, REVISION_MAX - revision, o);
  return out;
}

/** Lowest keyindex key of a user key (its newest possible revision): the start of a range scan. */
export function keyIndexKeyLowerBound(key: Uint8Array): Buffer {
  return keyIndexKey(key, REVISION_MAX);
}

/** The first keyindex key past every version of `key`: escape(key) + 0x00 0x01 (what key + "\0" starts with). */
export function keyIndexKeyAfter(key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(escapedLength(key) + 2);
  writeEscaped(out, key);
  out[out.length - 1] = 1;
  return out;
}

export function revisionOfKeyIndexKey(ikey: Buffer): number {
  return REVISION_MAX - readU64(ikey, ikey.length - 8);
}

/** The user-key part of a keyindex key, still escaped (comparable between entries of one scan). */
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

export const KEY_INDEX_VALUE_BYTES = 5;

/** Keyindex value: where the version's record is in history (its sub), and whether it is a tombstone. */
export function keyIndexValue(sub: number, tombstone: boolean): Buffer {
  const out = Buffer.allocUnsafe(KEY_INDEX_VALUE_BYTES);
  out.writeUInt32BE(sub, 0);
  out[4] = tombstone ? FLAG_TOMBSTONE : 0;
  return out;
}

export function subOfKeyIndexValue(value: Buffer): number {
  return value.readUInt32BE(0);
}

export function isTombstoneEntry(value: Buffer): boolean {
  return (value[4]! & FLAG_TOMBSTONE) !== 0;
}

export const HISTORY_KEY_BYTES = 12;

/** History key of the `sub`-th change of a revision. */
export function historyKey(revision: number, sub: number): Buffer {
  const out = Buffer.allocUnsafe(HISTORY_KEY_BYTES);
  writeU64(out, revision, 0);
  out.writeUInt32BE(sub, 8);
  return out;
}

export function revisionOfHistoryKey(key: Buffer): number {
  return readU64(key, 0);
}

export function subOfHistoryKey(key: Buffer): number {
  return key.readUInt32BE(8);
}

/** History value: the user key (length-prefixed) and the record. */
export function historyValue(key: Uint8Array, record: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + key.length + record.length);
  out.writeUInt32BE(key.length, 0);
  out.set(key, 4);
  record.copy(out, 4 + key.length);
  return out;
}

/** The user key of a history value (a view: copy it to keep it past the read). */
export function userKeyOfHistoryValue(value: Buffer): Buffer {
  return value.subarray(4, 4 + value.readUInt32BE(0));
}

/** The record of a history value (a view). */
export function recordOfHistoryValue(value: Buffer): Buffer {
  return value.subarray(4 + value.readUInt32BE(0));
}
