// Differential testing of the KV API: every request goes to an etcd-ts member (in-process, binary client) and, when
// etcd is installed, to a real etcd through its JSON gateway; both outcomes (response or error) are brought to one
// canonical form and must be equal field by field, headers included. Without etcd only etcd-ts answers, so the
// direct assertions of a test still run.
//
// Nothing is normalised away: with default flags both systems have the same member id, cluster id and raft term 2,
// and both start at revision 1, so as long as every write goes to both they stay in lockstep.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  EtcdError,
  type Client,
  type Compare,
  type CompactionRequest,
  type CompactionResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type KeyValue,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOf,
  type RequestOp,
  type ResponseHeader,
  type ResponseOf,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from '../../src/client/index.js';
import { etcdInstalled, startRealEtcd, type RealEtcd } from './etcd.js';
import { startInProcess, tempDir, type InProcessMember } from './member.js';

export type KvMethod = 'Range' | 'Put' | 'DeleteRange' | 'Txn' | 'Compact';

const GATEWAY_PATH: Record<KvMethod, string> = {
  Range: 'range',
  Put: 'put',
  DeleteRange: 'deleterange',
  Txn: 'txn',
  Compact: 'compaction',
};

/** etcd's ids for a single member started with default flags (name "default", peer URL http://localhost:2380). */
export const DEFAULT_MEMBER_ID = 0x8e9e05c52164694dn;
export const DEFAULT_CLUSTER_ID = 0xcdf818194e3a8c32n;

export const b = (s: string): Buffer => Buffer.from(s, 'latin1');

// ---- typed request -> gateway JSON -----------------------------------------------------------------------------

type Json = Record<string, unknown>;

function base64(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

/** Enums go as numbers (jsonpb takes a name or a number, not a quoted number). */
const ENUM_FIELDS = new Set(['sort_order', 'sort_target', 'target', 'result']);

/** Copies the defined fields of a typed message into gateway JSON: bytes as base64, 64-bit integers as strings. */
function fields(src: object, bytesFields: readonly string[]): Json {
  const out: Json = {};
  for (const [name, value] of Object.entries(src)) {
    if (value === undefined) continue;
    if (bytesFields.includes(name)) out[name] = base64(value as Uint8Array);
    else if (ENUM_FIELDS.has(name)) out[name] = Number(value);
    else if (typeof value === 'number' || typeof value === 'bigint') out[name] = String(value);
    else out[name] = value;
  }
  return out;
}

export function rangeToJson(r: RangeRequest): Json {
  return fields(r, ['key', 'range_end']);
}
export function putToJson(r: PutRequest): Json {
  return fields(r, ['key', 'value']);
}
export function deleteRangeToJson(r: DeleteRangeRequest): Json {
  return fields(r, ['key', 'range_end']);
}
function compareToJson(c: Compare): Json {
  return fields(c, ['key', 'range_end', 'value']);
}
function requestOpToJson(op: RequestOp): Json {
  if (op.request_range) return { request_range: rangeToJson(op.request_range) };
  if (op.request_put) return { request_put: putToJson(op.request_put) };
  if (op.request_delete_range) return { request_delete_range: deleteRangeToJson(op.request_delete_range) };
  if (op.request_txn) return { request_txn: txnToJson(op.request_txn) };
  return {};
}
export function txnToJson(r: TxnRequest): Json {
  const out: Json = {};
  if (r.compare !== undefined) out.compare = r.compare.map(compareToJson);
  if (r.success !== undefined) out.success = r.success.map(requestOpToJson);
  if (r.failure !== undefined) out.failure = r.failure.map(requestOpToJson);
  return out;
}
export function compactToJson(r: CompactionRequest): Json {
  return fields(r, []);
}

export function requestToGatewayJson<M extends KvMethod>(method: M, request: RequestOf<M>): Json {
  switch (method) {
    case 'Range': return rangeToJson(request as RangeRequest);
    case 'Put': return putToJson(request as PutRequest);
    case 'DeleteRange': return deleteRangeToJson(request as DeleteRangeRequest);
    case 'Txn': return txnToJson(request as TxnRequest);
    default: return compactToJson(request as CompactionRequest);
  }
}

// ---- gateway JSON -> typed response (jsonpb omits zero values: put them back) -----------------------------------

function obj(v: unknown): Json {
  return typeof v === 'object' && v !== null ? (v as Json) : {};
}
function int(v: unknown): number {
  return v === undefined || v === null ? 0 : Number(v);
}
function id(v: unknown): bigint {
  return v === undefined || v === null ? 0n : BigInt(v as string);
}
function bytes(v: unknown): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.alloc(0);
}

function headerFromJson(v: unknown): ResponseHeader {
  const h = obj(v);
  return { cluster_id: id(h.cluster_id), member_id: id(h.member_id), revision: int(h.revision), raft_term: int(h.raft_term) };
}
function kvFromJson(v: unknown): KeyValue {
  const kv = obj(v);
  return {
    key: bytes(kv.key),
    create_revision: int(kv.create_revision),
    mod_revision: int(kv.mod_revision),
    version: int(kv.version),
    value: bytes(kv.value),
    lease: id(kv.lease),
  };
}
function kvsFromJson(v: unknown): KeyValue[] {
  return Array.isArray(v) ? v.map(kvFromJson) : [];
}
export function rangeFromJson(v: unknown): RangeResponse {
  const r = obj(v);
  return { header: headerFromJson(r.header), kvs: kvsFromJson(r.kvs), more: r.more === true, count: int(r.count) };
}
export function putFromJson(v: unknown): PutResponse {
  const r = obj(v);
  const out: PutResponse = { header: headerFromJson(r.header) };
  if (r.prev_kv !== undefined) out.prev_kv = kvFromJson(r.prev_kv);
  return out;
}
export function deleteRangeFromJson(v: unknown): DeleteRangeResponse {
  const r = obj(v);
  return { header: headerFromJson(r.header), deleted: int(r.deleted), prev_kvs: kvsFromJson(r.prev_kvs) };
}
function responseOpFromJson(v: unknown): ResponseOp {
  const op = obj(v);
  if (op.response_range !== undefined) return { response_range: rangeFromJson(op.response_range) };
  if (op.response_put !== undefined) return { response_put: putFromJson(op.response_put) };
  if (op.response_delete_range !== undefined) return { response_delete_range: deleteRangeFromJson(op.response_delete_range) };
  if (op.response_txn !== undefined) return { response_txn: txnFromJson(op.response_txn) };
  return {};
}
export function txnFromJson(v: unknown): TxnResponse {
  const r = obj(v);
  return {
    header: headerFromJson(r.header),
    succeeded: r.succeeded === true,
    responses: Array.isArray(r.responses) ? r.responses.map(responseOpFromJson) : [],
  };
}
export function compactFromJson(v: unknown): CompactionResponse {
  return { header: headerFromJson(obj(v).header) };
}

export function responseFromGatewayJson<M extends KvMethod>(method: M, json: unknown): ResponseOf<M> {
  switch (method) {
    case 'Range': return rangeFromJson(json) as ResponseOf<M>;
    case 'Put': return putFromJson(json) as ResponseOf<M>;
    case 'DeleteRange': return deleteRangeFromJson(json) as ResponseOf<M>;
    case 'Txn': return txnFromJson(json) as ResponseOf<M>;
    default: return compactFromJson(json) as ResponseOf<M>;
  }
}

// ---- canonical form: plain data that deepStrictEqual compares and prints readably -------------------------------

/** Printable ASCII stays readable; anything else is shown as hex. */
export function showBytes(v: Uint8Array | undefined): string {
  if (v === undefined) return '';
  const buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  for (const c of buf) if (c < 0x20 || c > 0x7e) return `<hex ${buf.toString('hex')}>`;
  return buf.toString('latin1');
}

function canonicalHeader(h: ResponseHeader | undefined): unknown {
  return {
    cluster_id: String(h?.cluster_id ?? 0n),
    member_id: String(h?.member_id ?? 0n),
    revision: Number(h?.revision ?? 0),
    raft_term: Number(h?.raft_term ?? 0),
  };
}
function canonicalKv(kv: KeyValue): unknown {
  return {
    key: showBytes(kv.key),
    create_revision: Number(kv.create_revision ?? 0),
    mod_revision: Number(kv.mod_revision ?? 0),
    version: Number(kv.version ?? 0),
    value: showBytes(kv.value),
    lease: String(kv.lease ?? 0n),
  };
}
function canonicalRange(r: RangeResponse): unknown {
  return { header: canonicalHeader(r.header), kvs: (r.kvs ?? []).map(canonicalKv), more: r.more === true, count: Number(r.count ?? 0) };
}
function canonicalPut(r: PutResponse): unknown {
  return { header: canonicalHeader(r.header), prev_kv: r.prev_kv ? canonicalKv(r.prev_kv) : null };
}
function canonicalDeleteRange(r: DeleteRangeResponse): unknown {
  return { header: canonicalHeader(r.header), deleted: Number(r.deleted ?? 0), prev_kvs: (r.prev_kvs ?? []).map(canonicalKv) };
}
function canonicalResponseOp(op: ResponseOp): unknown {
  if (op.response_range) return { response_range: canonicalRange(op.response_range) };
  if (op.response_put) return { response_put: canonicalPut(op.response_put) };
  if (op.response_delete_range) return { response_delete_range: canonicalDeleteRange(op.response_delete_range) };
  if (op.response_txn) return { response_txn: canonicalTxn(op.response_txn) };
  return {};
}
function canonicalTxn(r: TxnResponse): unknown {
  return { header: canonicalHeader(r.header), succeeded: r.succeeded === true, responses: (r.responses ?? []).map(canonicalResponseOp) };
}

export function canonicalResponse<M extends KvMethod>(method: M, response: ResponseOf<M>): unknown {
  switch (method) {
    case 'Range': return canonicalRange(response as RangeResponse);
    case 'Put': return canonicalPut(response as PutResponse);
    case 'DeleteRange': return canonicalDeleteRange(response as DeleteRangeResponse);
    case 'Txn': return canonicalTxn(response as TxnResponse);
    default: return { header: canonicalHeader((response as CompactionResponse).header) };
  }
}

export interface ErrorOutcome {
  code: number;
  message: string;
}

/** What a request produced: a response or an error (exactly one). */
export type Outcome<M extends KvMethod> = { response: ResponseOf<M>; error?: undefined } | { response?: undefined; error: ErrorOutcome };

export function canonicalOutcome<M extends KvMethod>(method: M, outcome: Outcome<M>): unknown {
  return outcome.error !== undefined ? { error: outcome.error } : { response: canonicalResponse(method, outcome.response) };
}

/** A short rendering of a request for assertion messages (bytes readable, bigints as strings). */
export function describeRequest(method: KvMethod, request: unknown): string {
  const text = JSON.stringify(request, (_k, v: unknown) => {
    if (typeof v === 'bigint') return String(v);
    if (v instanceof Uint8Array) return showBytes(v);
    if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return showBytes(Buffer.from((v as { data: number[] }).data));
    }
    return v;
  });
  return `${method} ${text.length > 600 ? text.slice(0, 600) + '...' : text}`;
}

// ---- the two systems -------------------------------------------------------------------------------------------

/** Sends one request to a real etcd's JSON gateway. */
export async function gatewayCall<M extends KvMethod>(endpoint: string, method: M, request: RequestOf<M>): Promise<Outcome<M>> {
  const res = await fetch(`http://${endpoint}/v3/kv/${GATEWAY_PATH[method]}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(requestToGatewayJson(method, request)),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`etcd gateway answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  if (res.status !== 200) {
    const e = obj(json);
    return { error: { code: int(e.code), message: String(e.message ?? e.error ?? '') } };
  }
  return { response: responseFromGatewayJson(method, json) };
}

async function clientCall<M extends KvMethod>(client: Client, method: M, request: RequestOf<M>): Promise<Outcome<M>> {
  try {
    return { response: await client.call(method, request) };
  } catch (err) {
    if (err instanceof EtcdError) return { error: { code: err.code, message: err.message } };
    throw err;
  }
}

export interface KvPairOptions {
  /** false: etcd-ts only even when etcd is installed */
  etcd?: boolean;
  /** extra etcd-ts flags */
  flags?: string[];
}

export class KvPair {
  /** requests sent so far (for failure messages) */
  steps = 0;
  private closed = false;
  private constructor(
    readonly member: InProcessMember,
    readonly client: Client,
    readonly etcd: RealEtcd | null,
  ) {}

  static async start(options: KvPairOptions = {}): Promise<KvPair> {
    const useEtcd = options.etcd !== false && etcdInstalled();
    const [member, etcd] = await Promise.all([startInProcess(options.flags ?? [], path.join(tempDir(), 'data')), useEtcd ? startRealEtcd() : Promise.resolve(null)]);
    return new KvPair(member, member.client(), etcd);
  }

  /** True when a real etcd answers too. */
  get differential(): boolean {
    return this.etcd !== null;
  }

  /** Sends to both systems; with etcd present asserts equal outcomes. Returns etcd-ts's outcome. */
  async send<M extends KvMethod>(method: M, request: RequestOf<M>, note = ''): Promise<Outcome<M>> {
    this.steps++;
    const [ours, theirs] = await Promise.all([
      clientCall(this.client, method, request),
      this.etcd === null ? Promise.resolve(null) : gatewayCall(this.etcd.endpoint, method, request),
    ]);
    if (theirs !== null) {
      assert.deepStrictEqual(
        canonicalOutcome(method, ours),
        canonicalOutcome(method, theirs),
        `${note ? note + ': ' : ''}etcd-ts (actual) differs from etcd (expected) on ${describeRequest(method, request)}`,
      );
    }
    return ours;
  }

  /** send() and require success. */
  async ok<M extends KvMethod>(method: M, request: RequestOf<M>, note = ''): Promise<ResponseOf<M>> {
    const outcome = await this.send(method, request, note);
    if (outcome.error !== undefined) {
      assert.fail(`${note ? note + ': ' : ''}${describeRequest(method, request)} failed: ${outcome.error.message} (code ${outcome.error.code})`);
    }
    return outcome.response;
  }

  /** send() and require an error; returns it. */
  async fails<M extends KvMethod>(method: M, request: RequestOf<M>, note = ''): Promise<ErrorOutcome> {
    const outcome = await this.send(method, request, note);
    if (outcome.error === undefined) assert.fail(`${note ? note + ': ' : ''}${describeRequest(method, request)} succeeded, expected an error`);
    return outcome.error;
  }

  put(r: PutRequest, note = ''): Promise<PutResponse> {
    return this.ok('Put', r, note);
  }
  range(r: RangeRequest, note = ''): Promise<RangeResponse> {
    return this.ok('Range', r, note);
  }
  deleteRange(r: DeleteRangeRequest, note = ''): Promise<DeleteRangeResponse> {
    return this.ok('DeleteRange', r, note);
  }
  txn(r: TxnRequest, note = ''): Promise<TxnResponse> {
    return this.ok('Txn', r, note);
  }
  compact(r: CompactionRequest, note = ''): Promise<CompactionResponse> {
    return this.ok('Compact', r, note);
  }

  /** The current store revision (a read; does not change anything). */
  async revision(): Promise<number> {
    return (await this.range({ key: b('\0') })).header.revision;
  }

  /** Stops both systems and removes their data directories (etcd-ts's stays with keepMemberData). */
  async close(options: { keepMemberData?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.member.close(), this.etcd?.stop()]);
    if (this.etcd !== null) removeTempDir(this.etcd.dataDir);
    if (options.keepMemberData !== true) this.removeMemberData();
  }

  removeMemberData(): void {
    removeTempDir(this.member.dataDir);
  }
}

/** Removes a data directory made by the helpers (`<tmpdir>/<prefix>XXXXXX/data`): the directory above it. */
function removeTempDir(dataDir: string): void {
  const parent = path.dirname(dataDir);
  if (path.dirname(parent) !== os.tmpdir() || path.basename(dataDir) !== 'data') return;
  fs.rmSync(parent, { recursive: true, force: true });
}

// ---- small builders ---------------------------------------------------------------------------------------------

/** etcd's error strings (src/errors has the catalogue; these are spelled out so a catalogue typo fails a test). */
export const ERR = {
  emptyKey: { code: 3, message: 'etcdserver: key is not provided' },
  keyNotFound: { code: 3, message: 'etcdserver: key not found' },
  valueProvided: { code: 3, message: 'etcdserver: value is provided' },
  leaseProvided: { code: 3, message: 'etcdserver: lease is provided' },
  tooManyOps: { code: 3, message: 'etcdserver: too many operations in txn request' },
  duplicateKey: { code: 3, message: 'etcdserver: duplicate key given in txn request' },
  compacted: { code: 11, message: 'etcdserver: mvcc: required revision has been compacted' },
  futureRev: { code: 11, message: 'etcdserver: mvcc: required revision is a future revision' },
  leaseNotFound: { code: 5, message: 'etcdserver: requested lease not found' },
} as const;

export function kvSummary(kv: KeyValue): { key: string; value: string; create_revision: number; mod_revision: number; version: number; lease: bigint } {
  return {
    key: showBytes(kv.key),
    value: showBytes(kv.value),
    create_revision: kv.create_revision,
    mod_revision: kv.mod_revision,
    version: kv.version,
    lease: kv.lease,
  };
}

export function keysOf(kvs: readonly KeyValue[]): string[] {
  return kvs.map((kv) => showBytes(kv.key));
}
