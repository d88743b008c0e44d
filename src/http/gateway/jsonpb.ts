// golang/protobuf's jsonpb as etcd's gateway runs it (OrigName on output, defaults omitted, enums by name;
// both proto and lowerCamel names, strings or numbers for 64-bit integers, names or numbers for enums on input),
// over the message descriptors in schema.ts. Input errors carry the Go text etcd sends back.
//
// Decoded values: 64-bit integers as bigint, 32-bit ones and enums as number, bytes as Buffer, messages as plain
// objects keyed by proto name. That is the shape proto/validate.ts accepts.

import {
  base64Decode,
  base64Encode,
  byteStringToUtf8,
  CorruptInputError,
  GoJsonError,
  goUnmarshal,
  jsonQuoteText,
  NumError,
  parseInt64,
  parseUint64,
  quote,
  type JsonNode,
} from '../../gocompat/index.js';
import type { FieldDesc, MessageDesc } from '../../proto/index.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const UINT32_MAX = 2n ** 32n - 1n;

function nodeKind(n: JsonNode): string {
  switch (n.t) {
    case 'obj': return 'object';
    case 'arr': return 'array';
    case 'str': return 'string';
    case 'num': return 'number';
    case 'bool': return 'bool';
    case 'null': return 'null';
  }
}

function typeError(what: string, goType: string): GoJsonError {
  return new GoJsonError(`json: cannot unmarshal ${what} into Go value of type ${goType}`);
}

/**
 * encoding/json's integer store: strconv.ParseInt (signed) or ParseUint (unsigned) of the literal in base 10, then the
 * target's range; any failure is "number <literal>" (so "-0" fits an int64 but not a uint64, as in Go).
 */
function parseInteger(raw: string, lo: bigint, hi: bigint, goType: string): bigint {
  let v: bigint;
  try {
    v = lo < 0n ? parseInt64(raw, 10) : parseUint64(raw, 10);
  } catch (err) {
    if (err instanceof NumError) throw typeError(`number ${raw}`, goType);
    throw err;
  }
  if (v < lo || v > hi) throw typeError(`number ${raw}`, goType);
  return v;
}

const RANGES: Record<string, [bigint, bigint]> = {
  int64: [INT64_MIN, INT64_MAX],
  uint64: [0n, UINT64_MAX],
  int32: [INT32_MIN, INT32_MAX],
  uint32: [0n, UINT32_MAX],
};

function unmarshalInteger(n: JsonNode, kind: 'int64' | 'uint64' | 'int32' | 'uint32', goType = kind): bigint {
  // jsonpb drops the quotes of a quoted number (without unescaping) and parses what is inside as JSON
  if (n.t === 'str') n = goUnmarshal(n.raw);
  if (n.t === 'num') {
    const [lo, hi] = RANGES[kind]!;
    return parseInteger(n.raw, lo, hi, goType);
  }
  if (n.t === 'null') return 0n;
  throw typeError(nodeKind(n), goType);
}

/** encoding/json's []byte: base64.StdEncoding, whose error text the gateway sends back as it is. */
function decodeBase64(bytes: Buffer): Buffer {
  try {
    return base64Decode(bytes);
  } catch (err) {
    if (err instanceof CorruptInputError) throw new GoJsonError(err.message);
    throw err;
  }
}

function unmarshalBytes(n: JsonNode): Buffer {
  if (n.t === 'str') return decodeBase64(n.bytes);
  if (n.t === 'null') return Buffer.alloc(0);
  if (n.t === 'arr') {
    // encoding/json fills a []byte from an array of numbers too
    return Buffer.from(
      n.items.map((item) => {
        if (item.t === 'null') return 0;
        if (item.t !== 'num') throw typeError(nodeKind(item), 'uint8');
        return Number(parseInteger(item.raw, 0n, 255n, 'uint8'));
      }),
    );
  }
  throw typeError(nodeKind(n), '[]uint8');
}

function unmarshalScalar(n: JsonNode, f: FieldDesc): unknown {
  switch (f.kind) {
    case 'int64':
    case 'uint64':
      return unmarshalInteger(n, f.kind);
    case 'int32':
    case 'uint32':
      return Number(unmarshalInteger(n, f.kind));
    case 'bool':
      if (n.t === 'bool') return n.value;
      if (n.t === 'null') return false;
      throw typeError(nodeKind(n), 'bool');
    case 'string':
      if (n.t === 'str') return n.value;
      if (n.t === 'null') return '';
      throw typeError(nodeKind(n), 'string');
    case 'bytes':
      return unmarshalBytes(n);
    case 'enum': {
      const e = f.enumType!;
      if (n.t === 'str') {
        // jsonpb looks the name up without unescaping it
        const name = n.raw.toString('latin1');
        const v = e.byName[name];
        if (v === undefined) throw new GoJsonError(`unknown value ${byteStringToUtf8(quote(name))} for enum ${e.goName}`);
        return v;
      }
      if (n.t === 'num') return Number(parseInteger(n.raw, INT32_MIN, INT32_MAX, e.goName));
      if (n.t === 'null') return 0;
      throw typeError(nodeKind(n), e.goName);
    }
    case 'message':
      return unmarshalMessage(n, f.message!());
  }
}

function unmarshalField(n: JsonNode, f: FieldDesc): unknown {
  if (!f.repeated) return unmarshalScalar(n, f);
  if (n.t === 'null') return [];
  if (n.t !== 'arr') throw typeError(nodeKind(n), '[]json.RawMessage');
  return n.items.map((item) => (item.t === 'null' && f.kind === 'message' ? {} : unmarshalScalar(item, f)));
}

/** One message from its JSON tree; unknown fields are ignored as etcd's gateway does. */
export function unmarshalMessage(n: JsonNode, desc: MessageDesc): Record<string, unknown> {
  if (n.t === 'null') return {};
  if (n.t !== 'obj') throw typeError(nodeKind(n), 'map[string]json.RawMessage');
  const out: Record<string, unknown> = {};
  const take = (f: FieldDesc): JsonNode | undefined => {
    // both spellings accepted; when both are present the lowerCamel one wins (jsonpb's consumeField)
    const camel = n.fields.get(f.camel);
    const orig = n.fields.get(f.name);
    return camel ?? orig;
  };
  // regular fields in declaration order first, then oneof members (jsonpb's order, so the first error matches)
  for (const oneofPass of [false, true]) {
    for (const f of desc.fields) {
      if (f.oneof !== oneofPass) continue;
      const v = take(f);
      if (v === undefined) continue;
      if (v.t === 'null' && (f.kind === 'message' || f.oneof)) continue; // a null message is unset
      if (oneofPass && Object.keys(out).some((k) => desc.fields.some((o) => o.oneof && o.name === k))) continue;
      out[f.name] = unmarshalField(v, f);
    }
  }
  return out;
}

// ---- output -----------------------------------------------------------------------------------------------------

function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === 0n || v === '') return true;
  if (v instanceof Uint8Array) return v.length === 0;
  if (Array.isArray(v)) return v.length === 0;
  return false;
}

function integerText(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Math.trunc(v).toString();
  return String(v);
}

function scalarJson(v: unknown, f: FieldDesc): string {
  switch (f.kind) {
    case 'int64':
    case 'uint64':
      return `"${integerText(v)}"`;
    case 'int32':
    case 'uint32':
      return integerText(v);
    case 'bool':
      return v === true ? 'true' : 'false';
    case 'string':
      return jsonQuoteText(String(v));
    case 'bytes':
      return `"${base64Encode(v instanceof Uint8Array ? v : Buffer.from(v as ArrayLike<number>))}"`;
    case 'enum': {
      const name = f.enumType!.byNumber.get(Number(v));
      return name === undefined ? integerText(v) : `"${name}"`;
    }
    case 'message':
      return marshalJson(v as Record<string, unknown>, f.message!());
  }
}

/** A response message as etcd's gateway writes it: proto names, field-number order, zero values left out. */
export function marshalJson(obj: Record<string, unknown>, desc: MessageDesc): string {
  const parts: string[] = [];
  for (const f of desc.fields) {
    const v = obj[f.name];
    if (f.kind === 'message' && !f.repeated) {
      if (v === undefined || v === null) continue;
    } else if (f.oneof) {
      if (v === undefined || v === null) continue;
    } else if (isZero(v)) continue;
    const text = f.repeated ? `[${(v as unknown[]).map((item) => scalarJson(item, f)).join(',')}]` : scalarJson(v, f);
    parts.push(`"${f.name}":${text}`);
  }
  return `{${parts.join(',')}}`;
}

function scalarNative(v: unknown, f: FieldDesc): unknown {
  switch (f.kind) {
    case 'int64':
    case 'uint64':
    case 'int32':
    case 'uint32':
    case 'enum':
      if (f.kind === 'enum') return f.enumType!.byNumber.get(Number(v)) ?? Number(v);
      return typeof v === 'bigint' && v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    case 'bool':
    case 'string':
      return v;
    case 'bytes':
      return v instanceof Uint8Array ? v : Buffer.from(String(v));
    case 'message':
      return marshalNative(v as Record<string, unknown>, f.message!());
  }
}

/** The same object for MessagePack: bytes stay binary, 64-bit integers stay integers (bigint past 2^53). */
export function marshalNative(obj: Record<string, unknown>, desc: MessageDesc): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of desc.fields) {
    const v = obj[f.name];
    if (f.kind === 'message' && !f.repeated) {
      if (v === undefined || v === null) continue;
    } else if (f.oneof) {
      if (v === undefined || v === null) continue;
    } else if (isZero(v)) continue;
    out[f.name] = f.repeated ? (v as unknown[]).map((item) => scalarNative(item, f)) : scalarNative(v, f);
  }
  return out;
}

// ---- protobuf size (etcd's size limits are on the gRPC message) -------------------------------------------------

function varintSize(v: bigint): number {
  if (v < 0n) return 10;
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function toBig(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return 0n;
}

function valueSize(v: unknown, f: FieldDesc): number {
  switch (f.kind) {
    case 'bytes': {
      const n = (v as Uint8Array).length;
      return varintSize(BigInt(n)) + n;
    }
    case 'string': {
      const n = Buffer.byteLength(String(v));
      return varintSize(BigInt(n)) + n;
    }
    case 'message': {
      const n = protoSize(v as Record<string, unknown>, f.message!());
      return varintSize(BigInt(n)) + n;
    }
    case 'bool':
      return 1;
    default:
      return varintSize(toBig(v));
  }
}

/** Bytes of the message in protobuf (proto3: zero scalars left out, numeric lists packed). */
export function protoSize(obj: Record<string, unknown>, desc: MessageDesc): number {
  let size = 0;
  for (const f of desc.fields) {
    const v = obj[f.name];
    const tag = varintSize(BigInt(f.num << 3));
    if (f.repeated) {
      const items = (v ?? []) as unknown[];
      if (items.length === 0) continue;
      if (f.kind === 'bytes' || f.kind === 'string' || f.kind === 'message') {
        for (const item of items) size += tag + valueSize(item, f);
      } else {
        const body = items.reduce<number>((s, item) => s + valueSize(item, f), 0);
        size += tag + varintSize(BigInt(body)) + body;
      }
      continue;
    }
    if (v === undefined || v === null) continue;
    if (!f.oneof && f.kind !== 'message' && isZero(v)) continue;
    size += tag + valueSize(v, f);
  }
  return size;
}
