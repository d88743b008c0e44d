// Protobuf (proto3) encoding and decoding driven by the message table in src/proto/schema.ts: no generated code and
// no protobuf library. Decoded messages have the shapes proto/validate.ts accepts (the JSON gateway produces the same
// ones): messages as plain objects keyed by proto name, bytes as views into the received buffer, 64-bit integers as
// numbers when they are safe integers and bigints otherwise, enums as numbers, absent fields absent.
//
// Encoding follows proto3: zero scalars are left out, except members of a oneof; a set message is written even when
// empty; repeated numbers are packed. Fields are written in field-number order, as Go's marshaller writes them.

import { GRPC_MESSAGE_DEPTH_MAX } from '../config/index.js';
import type { FieldDesc, MessageDesc, ScalarKind } from '../proto/index.js';

/** A message that is not valid protobuf for its type: grpc-go answers Internal `grpc: error unmarshalling request: ...`. */
export class ProtobufError extends Error {}

const enum Kind {
  Int64,
  Uint64,
  Int32,
  Uint32,
  Bool,
  String,
  Bytes,
  Enum,
  Message,
}

const KIND_OF: Record<ScalarKind | 'enum' | 'message', Kind> = {
  int64: Kind.Int64,
  uint64: Kind.Uint64,
  int32: Kind.Int32,
  uint32: Kind.Uint32,
  bool: Kind.Bool,
  string: Kind.String,
  bytes: Kind.Bytes,
  enum: Kind.Enum,
  message: Kind.Message,
};

interface FieldPlan {
  readonly name: string;
  readonly num: number;
  readonly kind: Kind;
  readonly repeated: boolean;
  readonly oneof: boolean;
  /** varint, bool, enum: wire type 0; string, bytes, message and packed lists: 2 */
  readonly lengthDelimited: boolean;
  /** the key (number << 3 | wire type) as it is written: packed lists use wire type 2 */
  readonly key: number;
  readonly keyBytes: number;
  readonly desc: FieldDesc;
  message: MessagePlan | null;
}

interface MessagePlan {
  readonly fields: readonly FieldPlan[];
  /** fields by number */
  readonly byNumber: readonly (FieldPlan | undefined)[];
  readonly oneofNames: readonly string[];
}

const plans = new WeakMap<MessageDesc, MessagePlan>();

function planOf(desc: MessageDesc): MessagePlan {
  let plan = plans.get(desc);
  if (plan !== undefined) return plan;
  const fields = desc.fields.map((f): FieldPlan => {
    const kind = KIND_OF[f.kind];
    const lengthDelimited = kind === Kind.String || kind === Kind.Bytes || kind === Kind.Message || f.repeated;
    const key = (f.num << 3) | (lengthDelimited ? 2 : 0);
    return { name: f.name, num: f.num, kind, repeated: f.repeated, oneof: f.oneof, lengthDelimited, key, keyBytes: varintSize32(key), desc: f, message: null };
  });
  const byNumber: (FieldPlan | undefined)[] = [];
  for (const f of fields) byNumber[f.num] = f;
  plan = { fields, byNumber, oneofNames: fields.filter((f) => f.oneof).map((f) => f.name) };
  plans.set(desc, plan);
  return plan;
}

function nestedPlan(f: FieldPlan): MessagePlan {
  return (f.message ??= planOf(f.desc.message!()));
}

// ---- varints --------------------------------------------------------------------------------------------------

const TWO_32 = 4294967296;

function varintSize32(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Low and high 32 bits of a 64-bit two's complement integer (set by splitNumber / splitBigint). */
let lo = 0;
let hi = 0;

function splitNumber(v: number): void {
  const negative = v < 0;
  if (negative) v = -v;
  lo = v >>> 0;
  hi = ((v - lo) / TWO_32) >>> 0;
  if (negative) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
    if (++lo > 0xffffffff) {
      lo = 0;
      if (++hi > 0xffffffff) hi = 0;
    }
  }
}

const MASK_32 = 0xffffffffn;
function splitBigint(v: bigint): void {
  const u = BigInt.asUintN(64, v);
  lo = Number(u & MASK_32);
  hi = Number(u >> 32n);
}

function splitSize(): number {
  if (hi === 0) return varintSize32(lo);
  // bits above the low 28 decide the length: 5 + one per 7 of the remaining
  const part = hi >>> 3; // bits 35..63
  return part === 0 ? 5 : part < 0x80 ? 6 : part < 0x4000 ? 7 : part < 0x200000 ? 8 : part < 0x10000000 ? 9 : 10;
}

/** The encoded size of an integer field value (number or bigint; negative as 64-bit two's complement). */
function integerSize(v: number | bigint): number {
  if (typeof v === 'number') {
    if (v >= 0 && v < 0x80000000) return varintSize32(v);
    splitNumber(v);
  } else splitBigint(v);
  return splitSize();
}

function writeVarint32(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function writeSplit(buf: Buffer, pos: number): number {
  let l = lo;
  let h = hi;
  while (h > 0 || l >= 0x80) {
    buf[pos++] = (l & 0x7f) | 0x80;
    l = ((l >>> 7) | (h << 25)) >>> 0;
    h >>>= 7;
  }
  buf[pos++] = l;
  return pos;
}

function writeInteger(buf: Buffer, pos: number, v: number | bigint): number {
  if (typeof v === 'number') {
    if (v >= 0 && v < 0x80000000) return writeVarint32(buf, pos, v);
    splitNumber(v);
  } else splitBigint(v);
  return writeSplit(buf, pos);
}

// ---- encoding -------------------------------------------------------------------------------------------------

function isZero(v: unknown): boolean {
  return v === undefined || v === null || v === 0 || v === 0n || v === false || v === '' || (v instanceof Uint8Array && v.length === 0);
}

function integerValue(v: unknown): number | bigint {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return 0;
}

/** Size of one value (without its key); nested message sizes are recorded in `sizes`, in the order written. */
function valueSize(f: FieldPlan, v: unknown, sizes: number[]): number {
  switch (f.kind) {
    case Kind.Bool:
      return 1;
    case Kind.String: {
      const n = Buffer.byteLength(v as string);
      return varintSize32(n) + n;
    }
    case Kind.Bytes: {
      const n = (v as Uint8Array).length;
      return varintSize32(n) + n;
    }
    case Kind.Message: {
      const slot = sizes.length;
      sizes.push(0);
      const n = messageSize(v as Record<string, unknown>, nestedPlan(f), sizes);
      sizes[slot] = n;
      return varintSize32(n) + n;
    }
    default:
      return integerSize(integerValue(v));
  }
}

function messageSize(obj: Record<string, unknown>, plan: MessagePlan, sizes: number[]): number {
  let size = 0;
  for (const f of plan.fields) {
    const v = obj[f.name];
    if (f.repeated) {
      const items = v as unknown[] | undefined;
      if (items === undefined || items === null || items.length === 0) continue;
      if (f.kind === Kind.String || f.kind === Kind.Bytes || f.kind === Kind.Message) {
        for (const item of items) size += f.keyBytes + valueSize(f, item, sizes);
      } else {
        let body = 0;
        for (const item of items) body += valueSize(f, item, sizes);
        sizes.push(body);
        size += f.keyBytes + varintSize32(body) + body;
      }
      continue;
    }
    if (v === undefined || v === null) continue;
    if (!f.oneof && f.kind !== Kind.Message && isZero(v)) continue;
    size += f.keyBytes + valueSize(f, v, sizes);
  }
  return size;
}

/** Cursor over `sizes` while writing. */
let sizeIndex = 0;

function writeValue(buf: Buffer, pos: number, f: FieldPlan, v: unknown, sizes: number[]): number {
  switch (f.kind) {
    case Kind.Bool:
      buf[pos] = v ? 1 : 0;
      return pos + 1;
    case Kind.String: {
      const s = v as string;
      const n = Buffer.byteLength(s);
      pos = writeVarint32(buf, pos, n);
      return pos + buf.write(s, pos, 'utf8');
    }
    case Kind.Bytes: {
      const b = v as Uint8Array;
      pos = writeVarint32(buf, pos, b.length);
      buf.set(b, pos);
      return pos + b.length;
    }
    case Kind.Message: {
      const n = sizes[sizeIndex++]!;
      pos = writeVarint32(buf, pos, n);
      return writeMessage(buf, pos, v as Record<string, unknown>, nestedPlan(f), sizes);
    }
    default:
      return writeInteger(buf, pos, integerValue(v));
  }
}

function writeMessage(buf: Buffer, pos: number, obj: Record<string, unknown>, plan: MessagePlan, sizes: number[]): number {
  for (const f of plan.fields) {
    const v = obj[f.name];
    if (f.repeated) {
      const items = v as unknown[] | undefined;
      if (items === undefined || items === null || items.length === 0) continue;
      if (f.kind === Kind.String || f.kind === Kind.Bytes || f.kind === Kind.Message) {
        for (const item of items) {
          pos = writeVarint32(buf, pos, f.key);
          pos = writeValue(buf, pos, f, item, sizes);
        }
      } else {
        pos = writeVarint32(buf, pos, f.key);
        pos = writeVarint32(buf, pos, sizes[sizeIndex++]!);
        for (const item of items) pos = writeValue(buf, pos, f, item, sizes);
      }
      continue;
    }
    if (v === undefined || v === null) continue;
    if (!f.oneof && f.kind !== Kind.Message && isZero(v)) continue;
    pos = writeVarint32(buf, pos, f.key);
    pos = writeValue(buf, pos, f, v, sizes);
  }
  return pos;
}

/** The protobuf encoding of `obj`, after `headroom` bytes left for the caller (frame headers). */
export function encodeMessage(obj: Record<string, unknown>, desc: MessageDesc, headroom = 0): Buffer {
  const plan = planOf(desc);
  const sizes: number[] = [];
  const size = messageSize(obj, plan, sizes);
  const buf = Buffer.allocUnsafe(headroom + size);
  sizeIndex = 0;
  const end = writeMessage(buf, headroom, obj, plan, sizes);
  if (end !== headroom + size) throw new Error(`protobuf encoder wrote ${end - headroom} bytes of ${size}`);
  return buf;
}

/** Encoded size of a message (what etcd's size limits count). */
export function encodedSize(obj: Record<string, unknown>, desc: MessageDesc): number {
  return messageSize(obj, planOf(desc), []);
}

// ---- decoding -------------------------------------------------------------------------------------------------

let pos = 0;

function readVarint(buf: Buffer, end: number): void {
  // sets lo and hi
  let l = 0;
  let h = 0;
  let shift = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new ProtobufError('unexpected EOF');
    const b = buf[pos++]!;
    if (shift < 28) l |= (b & 0x7f) << shift;
    else if (shift === 28) {
      l |= (b & 0x0f) << 28;
      h |= (b & 0x7f) >>> 4;
    } else h |= (b & 0x7f) << (shift - 32);
    if ((b & 0x80) === 0) {
      lo = l >>> 0;
      hi = h >>> 0;
      return;
    }
    shift += 7;
  }
  throw new ProtobufError('proto: integer overflow');
}

/** A small varint (keys, lengths): at most 32 bits, as a number. */
function readSmall(buf: Buffer, end: number): number {
  if (pos < end) {
    const b = buf[pos]!;
    if (b < 0x80) {
      pos++;
      return b;
    }
  }
  readVarint(buf, end);
  if (hi !== 0 || lo > 0x7fffffff) throw new ProtobufError('proto: integer overflow');
  return lo;
}

const SAFE_HIGH = 0x200000; // 2^53 / 2^32

function unsignedValue(): number | bigint {
  if (hi < SAFE_HIGH) return hi * TWO_32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function signedValue(): number | bigint {
  if (hi < SAFE_HIGH) return hi * TWO_32 + lo;
  if (hi >= 0x80000000) {
    // negative: -(2^64 - v)
    const nhi = ~hi >>> 0;
    const nlo = (~lo >>> 0) + 1;
    const magnitude = nhi * TWO_32 + nlo;
    if (nhi < SAFE_HIGH) return -magnitude;
  }
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

function scalar(buf: Buffer, end: number, f: FieldPlan, depth: number): unknown {
  switch (f.kind) {
    case Kind.Int64:
      readVarint(buf, end);
      return signedValue();
    case Kind.Uint64:
      readVarint(buf, end);
      return unsignedValue();
    case Kind.Int32:
    case Kind.Enum:
      readVarint(buf, end);
      return lo | 0; // int32 keeps the low 32 bits, as Go's decoder does
    case Kind.Uint32:
      readVarint(buf, end);
      return lo;
    case Kind.Bool:
      readVarint(buf, end);
      return lo !== 0 || hi !== 0;
    default: {
      const n = readSmall(buf, end);
      const start = pos;
      if (n > end - start) throw new ProtobufError('unexpected EOF');
      pos = start + n;
      if (f.kind === Kind.Bytes) return buf.subarray(start, pos);
      if (f.kind === Kind.String) return buf.toString('utf8', start, pos);
      const value = decodeRange(buf, start, pos, nestedPlan(f), depth + 1);
      pos = start + n;
      return value;
    }
  }
}

function skip(buf: Buffer, end: number, wireType: number): void {
  switch (wireType) {
    case 0:
      readVarint(buf, end);
      return;
    case 1:
      if (end - pos < 8) throw new ProtobufError('unexpected EOF');
      pos += 8;
      return;
    case 2: {
      const n = readSmall(buf, end);
      if (n > end - pos) throw new ProtobufError('unexpected EOF');
      pos += n;
      return;
    }
    case 5:
      if (end - pos < 4) throw new ProtobufError('unexpected EOF');
      pos += 4;
      return;
    default:
      throw new ProtobufError(`proto: illegal wireType ${wireType}`);
  }
}

function decodeRange(buf: Buffer, start: number, end: number, plan: MessagePlan, depth: number): Record<string, unknown> {
  if (depth > GRPC_MESSAGE_DEPTH_MAX) throw new ProtobufError('proto: message nested too deeply');
  const out: Record<string, unknown> = {};
  pos = start;
  while (pos < end) {
    const key = readSmall(buf, end);
    const num = key >>> 3;
    const wireType = key & 7;
    if (num === 0) throw new ProtobufError(`proto: illegal tag 0 (wire type ${wireType})`);
    const f = plan.byNumber[num];
    if (f === undefined) {
      skip(buf, end, wireType);
      continue;
    }
    if (f.repeated) {
      let list = out[f.name] as unknown[] | undefined;
      if (list === undefined) out[f.name] = list = [];
      const scalarVarint = f.kind !== Kind.String && f.kind !== Kind.Bytes && f.kind !== Kind.Message;
      if (scalarVarint && wireType === 2) {
        // packed
        const n = readSmall(buf, end);
        if (n > end - pos) throw new ProtobufError('unexpected EOF');
        const packedEnd = pos + n;
        while (pos < packedEnd) list.push(scalar(buf, packedEnd, f, depth));
        continue;
      }
      if (wireType !== (scalarVarint ? 0 : 2)) throw new ProtobufError(`proto: wrong wireType = ${wireType} for field ${f.name}`);
      list.push(scalar(buf, end, f, depth));
      continue;
    }
    if (wireType !== (f.lengthDelimited ? 2 : 0)) throw new ProtobufError(`proto: wrong wireType = ${wireType} for field ${f.name}`);
    if (f.oneof) for (const other of plan.oneofNames) delete out[other]; // the last member of a oneof wins
    out[f.name] = scalar(buf, end, f, depth);
  }
  return out;
}

/** Decodes one message of type `desc`; throws ProtobufError when it is not valid protobuf for it. */
export function decodeMessage(buf: Buffer, desc: MessageDesc): Record<string, unknown> {
  return decodeRange(buf, 0, buf.length, planOf(desc), 0);
}
