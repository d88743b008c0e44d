// Generators of hostile client input for the binary protocol: random values of random shapes, valid requests with
// fields of the wrong type, deeply nested bodies, mutated and truncated frames, corrupt headers. Everything is drawn
// from one seeded Rng, so a failing run replays with SEED=n.
//
// `simulateServer` runs the member's own frame decoder over a connection's bytes to predict what the member will see:
// which frames it must answer (by request id), whether it must close the connection, and which writes it would apply.

import { FrameDecoder, FrameKind, METHOD_NAMES, unpackr, decodeRequest, type TxnRequest, type RequestOp } from '../../src/proto/index.js';
import type { Rng } from './rng.js';
import { frameHeader, packBody, rawBodyFrame, requestFrame } from './raw-connection.js';

/**
 * Methods the fuzzer sends: all but Lock and Campaign, which by design (as in etcd) block until the lock or the
 * leadership is acquired, while the fuzzer waits for an answer to every frame it sends.
 */
const FUZZ_METHODS = METHOD_NAMES.filter((m) => m !== 'Lock' && m !== 'Campaign');

const chance = (rng: Rng, p: number): boolean => rng.next() < p;
const between = (rng: Rng, lo: number, hi: number): number => lo + rng.int(hi - lo + 1);

export const FIELD_NAMES = [
  'method', 'request', 'key', 'range_end', 'limit', 'revision', 'sort_order', 'sort_target', 'serializable', 'keys_only',
  'count_only', 'min_mod_revision', 'max_mod_revision', 'min_create_revision', 'max_create_revision', 'value', 'lease',
  'prev_kv', 'ignore_value', 'ignore_lease', 'compare', 'success', 'failure', 'result', 'target', 'version',
  'create_revision', 'mod_revision', 'request_range', 'request_put', 'request_delete_range', 'request_txn', 'physical',
  '__proto__', 'constructor', 'toString',
] as const;

const ENUM_NAMES = ['NONE', 'ASCEND', 'DESCEND', 'KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE', 'EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'];

/** Keys the fuzzer's well-formed requests use. Guard data lives elsewhere and must never be written by the fuzzer. */
export const FUZZ_PREFIX = 'fuzz/';

function fuzzKey(rng: Rng): Buffer {
  return Buffer.from(`${FUZZ_PREFIX}${rng.int(20)}`);
}

export function randomScalar(rng: Rng): unknown {
  switch (rng.int(14)) {
    case 0: return null;
    case 1: return chance(rng, 0.5);
    case 2: return between(rng, -5, 300);
    case 3: return rng.pick([2 ** 31, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1, -1, 0]);
    case 4: return rng.pick([2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 53n + 1n]);
    case 5: return rng.pick([1.5, -0.0, NaN, Infinity, -Infinity, 1e300, 5e-324]);
    case 6: return rng.pick([...FIELD_NAMES, ...ENUM_NAMES, ...FUZZ_METHODS]);
    case 7: return rng.bytes(rng.int(12)).toString('latin1');
    case 8: return String.fromCharCode(...Array.from({ length: rng.int(8) }, () => rng.int(0x10000)));
    case 9: return rng.bytes(rng.int(24));
    case 10: return fuzzKey(rng);
    case 11: return new Date(rng.int(2 ** 31) * 1000);
    case 12: return rng.pick([new Uint16Array([1, 2, 3]), new Float64Array([1.5]), new Int8Array(0)]);
    default: return '';
  }
}

/** An own field, even for names like __proto__ (plain assignment would change the prototype instead). */
function setField(o: Record<string, unknown>, name: string, value: unknown): void {
  Object.defineProperty(o, name, { value, enumerable: true, writable: true, configurable: true });
}

/** A random msgpack value of random shape, up to `depth` levels of arrays and maps. */
export function randomValue(rng: Rng, depth = 3): unknown {
  if (depth <= 0 || chance(rng, 0.55)) return randomScalar(rng);
  if (chance(rng, 0.4)) return Array.from({ length: rng.int(5) }, () => randomValue(rng, depth - 1));
  const o: Record<string, unknown> = {};
  for (let n = rng.int(6); n > 0; n--) {
    const name = chance(rng, 0.8) ? rng.pick(FIELD_NAMES) : String(randomScalar(rng));
    setField(o, name, randomValue(rng, depth - 1));
  }
  return o;
}

// ---- well-formed requests (on fuzz/ keys), then with fields replaced -------------------------------------------

function rangeRequest(rng: Rng): Record<string, unknown> {
  const r: Record<string, unknown> = { key: fuzzKey(rng) };
  if (chance(rng, 0.4)) r.range_end = chance(rng, 0.5) ? Buffer.from('fuzz0') : Buffer.from([0]);
  if (chance(rng, 0.3)) r.limit = rng.int(5);
  if (chance(rng, 0.2)) r.revision = rng.int(50);
  if (chance(rng, 0.2)) r.sort_order = rng.int(4);
  if (chance(rng, 0.2)) r.sort_target = rng.pick([0, 1, 2, 3, 4, 5, 'VALUE', 'MOD']);
  for (const f of ['serializable', 'keys_only', 'count_only']) if (chance(rng, 0.15)) r[f] = true;
  for (const f of ['min_mod_revision', 'max_mod_revision', 'min_create_revision', 'max_create_revision']) if (chance(rng, 0.1)) r[f] = rng.int(30);
  return r;
}

function putRequest(rng: Rng): Record<string, unknown> {
  const r: Record<string, unknown> = { key: fuzzKey(rng), value: rng.bytes(rng.int(64)) };
  if (chance(rng, 0.2)) r.prev_kv = true;
  if (chance(rng, 0.1)) r.ignore_value = true;
  if (chance(rng, 0.1)) r.ignore_lease = true;
  if (chance(rng, 0.1)) r.lease = rng.pick([0, 1, 2n ** 63n - 1n]);
  return r;
}

function deleteRequest(rng: Rng): Record<string, unknown> {
  const r: Record<string, unknown> = { key: fuzzKey(rng) };
  if (chance(rng, 0.4)) r.range_end = fuzzKey(rng);
  if (chance(rng, 0.3)) r.prev_kv = true;
  return r;
}

function requestOp(rng: Rng, depth: number): Record<string, unknown> {
  switch (rng.int(depth > 0 ? 5 : 4)) {
    case 0: return { request_range: rangeRequest(rng) };
    case 1: return { request_put: putRequest(rng) };
    case 2: return { request_delete_range: deleteRequest(rng) };
    case 3: return {};
    default: return { request_txn: txnRequest(rng, depth - 1) };
  }
}

function txnRequest(rng: Rng, depth = 2): Record<string, unknown> {
  const compare = Array.from({ length: rng.int(3) }, () => {
    const target = rng.int(6);
    const c: Record<string, unknown> = { key: fuzzKey(rng), target, result: rng.int(5) };
    if (chance(rng, 0.3)) c.range_end = Buffer.from('fuzz0');
    const field = ['version', 'create_revision', 'mod_revision', 'value', 'lease'][target];
    if (field !== undefined) c[field] = field === 'value' ? rng.bytes(3) : rng.int(10);
    return c;
  });
  return {
    compare,
    success: Array.from({ length: rng.int(4) }, () => requestOp(rng, depth)),
    failure: Array.from({ length: rng.int(3) }, () => requestOp(rng, depth)),
  };
}

export function validBody(rng: Rng): { method: string; request: Record<string, unknown> } {
  // the KV methods and Status: membership changes are exercised by the cluster tests
  const method = rng.pick(['Range', 'Put', 'DeleteRange', 'Txn', 'Compact', 'Status'] as const);
  switch (method) {
    case 'Range': return { method, request: rangeRequest(rng) };
    case 'Put': return { method, request: putRequest(rng) };
    case 'DeleteRange': return { method, request: deleteRequest(rng) };
    case 'Txn': return { method, request: txnRequest(rng) };
    case 'Compact': return { method, request: { revision: rng.int(40), ...(chance(rng, 0.3) ? { physical: true } : {}) } };
    case 'Status': return { method, request: {} };
  }
}

/** Replaces, removes or adds fields anywhere in a request tree. */
function mutateTree(rng: Rng, value: unknown, rate: number): unknown {
  if (Array.isArray(value)) return value.map((v) => mutateTree(rng, v, rate));
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || value instanceof Date) return value;
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (chance(rng, rate)) {
      if (chance(rng, 0.2)) continue; // drop the field
      setField(o, k, randomValue(rng, 2));
    } else setField(o, k, mutateTree(rng, v, rate));
  }
  if (chance(rng, rate)) setField(o, rng.pick(FIELD_NAMES), randomValue(rng, 2));
  return o;
}

/** Nesting far deeper than any decoder should recurse: arrays, maps or txns inside txns. */
function deepBody(rng: Rng): Buffer {
  const depth = between(rng, 1_000, 60_000);
  switch (rng.int(3)) {
    case 0: // {method: 'Range', request: {key: [[[[...]]]]}}
      return Buffer.concat([Buffer.from([0x82]), packBody('method'), packBody('Range'), packBody('request'), Buffer.from([0x81]), packBody('key'), Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);
    case 1: { // maps nested in maps
      return Buffer.concat([Buffer.from([0x82]), packBody('method'), packBody('Put'), packBody('request'), Buffer.alloc(depth * 2, 0).fill(Buffer.from([0x81, 0xa0])), Buffer.from([0xc0])]);
    }
    default: { // a txn nested in its own success branch, beyond the allowed depth
      let txn: Record<string, unknown> = { success: [{ request_put: { key: fuzzKey(rng), value: Buffer.from('x') } }] };
      for (let i = between(rng, 60, 400); i > 0; i--) txn = { success: [{ request_txn: txn }] };
      return packBody({ method: 'Txn', request: txn });
    }
  }
}

/** One well-framed request (the framing is right, the body may be anything). `requestBytesMax` is the member's limit. */
export function randomFrame(rng: Rng, id: number, requestBytesMax: number): Buffer {
  const r = rng.int(100);
  if (r < 30) return requestFrame(id, validBody(rng));
  if (r < 60) return requestFrame(id, mutateTree(rng, validBody(rng), 0.3));
  if (r < 72) return requestFrame(id, { method: chance(rng, 0.8) ? rng.pick(FUZZ_METHODS) : randomScalar(rng), request: randomValue(rng, 4) });
  if (r < 78) return requestFrame(id, randomValue(rng, 4));
  if (r < 86) return rawBodyFrame(id, rng.bytes(rng.int(40)));
  if (r < 90) return rawBodyFrame(id, deepBody(rng));
  if (r < 95) {
    // a valid frame with bytes of its body flipped
    const frame = Buffer.from(requestFrame(id, validBody(rng)));
    for (let n = between(rng, 1, 4); n > 0; n--) {
      const at = 12 + rng.int(frame.length - 12);
      frame[at] = chance(rng, 0.5) ? frame[at]! ^ (1 << rng.int(8)) : rng.int(256);
    }
    return frame;
  }
  // declared longer than allowed, body sent in full: refused from the header, the body skipped
  const length = rng.pick([requestBytesMax + 1, requestBytesMax + between(rng, 2, 1000)]);
  return Buffer.concat([frameHeader(id, length), rng.bytes(length)]);
}

/** What may end a connection's stream: a frame whose header is damaged or cut short, or that never completes. */
export function hostileTail(rng: Rng, id: number, requestBytesMax: number): Buffer {
  switch (rng.int(6)) {
    case 0: {
      // a header the stream cannot recover from
      const which = rng.int(3);
      return frameHeader(id, rng.int(20), {
        magic: which === 0 ? rng.int(0x10000) : undefined,
        version: which === 1 ? rng.int(256) : undefined,
        kind: which === 2 ? rng.pick([0, FrameKind.Response, FrameKind.Error, 7, 255]) : undefined,
      });
    }
    case 1: return rng.bytes(1 + rng.int(30));
    case 2: {
      // declared huge, body never (fully) sent
      const length = rng.pick([requestBytesMax + 1, requestBytesMax * 2, 0xffff_ffff]);
      return Buffer.concat([frameHeader(id, length), rng.bytes(rng.int(64))]);
    }
    case 3: {
      // declared within the limit, body cut short: the member waits for the rest
      const frame = requestFrame(id, validBody(rng));
      return frame.subarray(0, rng.int(frame.length));
    }
    default: {
      // a valid frame with bytes flipped anywhere, header included
      const frame = Buffer.from(requestFrame(id, validBody(rng)));
      for (let n = between(rng, 1, 4); n > 0; n--) {
        const at = chance(rng, 0.5) ? rng.int(12) : rng.int(frame.length);
        frame[at] = chance(rng, 0.5) ? frame[at]! ^ (1 << rng.int(8)) : rng.int(256);
      }
      return frame;
    }
  }
}

// ---- what the member will do with a connection's bytes ----------------------------------------------------------

export interface Prediction {
  /** request ids the member must answer, one per complete or oversize frame before any corrupt header */
  answered: number[];
  /** a corrupt header: the member closes the connection */
  closes: boolean;
  /** decoded writes the member would accept, by method */
  writes: { method: string; request: unknown }[];
  /** a header damaged into a stream frame kind: what the member answers is not modelled here */
  streams: boolean;
}

export function simulateServer(stream: Buffer, requestBytesMax: number, txnOpsMax: number): Prediction {
  const answered: number[] = [];
  const writes: { method: string; request: unknown }[] = [];
  let streams = false;
  const decoder = new FrameDecoder(
    requestBytesMax,
    {
      frame: (kind, requestId, body) => {
        if (kind !== FrameKind.Request) {
          streams = true;
          return;
        }
        answered.push(requestId);
        let decoded: unknown;
        try {
          decoded = unpackr.unpack(body);
        } catch {
          return;
        }
        if (decoded === null || typeof decoded !== 'object') return;
        const { method, request } = decoded as { method?: unknown; request?: unknown };
        if (method !== 'Put' && method !== 'DeleteRange' && method !== 'Txn') return;
        try {
          writes.push({ method, request: decodeRequest(method, request, txnOpsMax) });
        } catch {
          // refused before it reaches the log
        }
      },
      oversize: (_kind, requestId) => answered.push(requestId),
    },
    (kind) => kind === FrameKind.Request || kind === FrameKind.StreamMessage || kind === FrameKind.StreamEnd || kind === FrameKind.Auth,
  );
  try {
    decoder.push(stream);
  } catch {
    return { answered, closes: true, writes, streams };
  }
  return { answered, closes: false, writes, streams };
}

function touches(key: Uint8Array, rangeEnd: Uint8Array | undefined, lo: Buffer, hi: Buffer): boolean {
  const k = Buffer.from(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return Buffer.compare(k, lo) >= 0 && Buffer.compare(k, hi) < 0;
  const end = Buffer.from(rangeEnd);
  const fromKey = end.length === 1 && end[0] === 0;
  // [k, end) intersects [lo, hi)
  return Buffer.compare(k, hi) < 0 && (fromKey || Buffer.compare(end, lo) > 0);
}

function opsTouch(ops: RequestOp[] | undefined, lo: Buffer, hi: Buffer): boolean {
  return (ops ?? []).some(
    (op) =>
      (op.request_put !== undefined && touches(op.request_put.key, undefined, lo, hi)) ||
      (op.request_delete_range !== undefined && touches(op.request_delete_range.key, op.request_delete_range.range_end, lo, hi)) ||
      (op.request_txn !== undefined && txnTouches(op.request_txn, lo, hi)),
  );
}

function txnTouches(t: TxnRequest, lo: Buffer, hi: Buffer): boolean {
  return opsTouch(t.success, lo, hi) || opsTouch(t.failure, lo, hi);
}

/** Whether an accepted write could change any key in [lo, hi). */
export function writeTouches(w: { method: string; request: unknown }, lo: Buffer, hi: Buffer): boolean {
  const r = w.request as { key: Uint8Array; range_end?: Uint8Array };
  if (w.method === 'Put') return touches(r.key, undefined, lo, hi);
  if (w.method === 'DeleteRange') return touches(r.key, r.range_end, lo, hi);
  return txnTouches(w.request as TxnRequest, lo, hi);
}
