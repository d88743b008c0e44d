// Hostile auth input for the permission matrix's servers: user and role names (empty, long, unicode, NUL, bytes that
// are not UTF-8), passwords (empty, around bcrypt's 72-byte limit, long), permission types out of range, key and
// range_end shapes (empty, NUL, inverted, equal, long), and tokens of random bytes. Each input is sent through one
// front end of side B and through the matching front end of side A (real etcd: gateway for gateway, gRPC for the
// rest), in the same order on both sides, so the two auth stores stay alike and every answer is compared with etcd's.
//
// gRPC requests are encoded by hand (protobuf) and sent over raw HTTP/2, so that a string field can carry bytes that
// are not UTF-8 and a token can carry bytes grpc-js would not send; gateway bodies are written by hand for the same
// reason. Everything is drawn from one seeded Rng: SEED=n replays a run.

import http from 'node:http';
import { grpcFrame, rawCall } from './grpc.js';
import { binaryClient, type FrontEnd, type Outcome, type Side } from './auth-matrix.js';
import { EtcdError } from '../../src/errors/index.js';
import type { Rng } from './rng.js';

type Kind = 'string' | 'bytes' | 'enum' | 'bool' | 'msg';

/** One protobuf field: its number, its JSON (proto) name, and a value of its kind. */
export interface Field {
  no: number;
  name: string;
  kind: Kind;
  value: string | Buffer | number | boolean | Field[];
}

export type FuzzRpc =
  | 'UserAdd' | 'UserGet' | 'UserDelete' | 'UserChangePassword' | 'UserGrantRole' | 'UserRevokeRole'
  | 'RoleAdd' | 'RoleGet' | 'RoleDelete' | 'RoleGrantPermission' | 'RoleRevokePermission' | 'Authenticate' | 'Range';

const GRPC_PATH: Record<FuzzRpc, string> = {
  UserAdd: '/etcdserverpb.Auth/UserAdd', UserGet: '/etcdserverpb.Auth/UserGet', UserDelete: '/etcdserverpb.Auth/UserDelete',
  UserChangePassword: '/etcdserverpb.Auth/UserChangePassword', UserGrantRole: '/etcdserverpb.Auth/UserGrantRole',
  UserRevokeRole: '/etcdserverpb.Auth/UserRevokeRole', RoleAdd: '/etcdserverpb.Auth/RoleAdd', RoleGet: '/etcdserverpb.Auth/RoleGet',
  RoleDelete: '/etcdserverpb.Auth/RoleDelete', RoleGrantPermission: '/etcdserverpb.Auth/RoleGrantPermission',
  RoleRevokePermission: '/etcdserverpb.Auth/RoleRevokePermission', Authenticate: '/etcdserverpb.Auth/Authenticate',
  Range: '/etcdserverpb.KV/Range',
};
const GATEWAY_PATH: Record<FuzzRpc, string> = {
  UserAdd: '/v3/auth/user/add', UserGet: '/v3/auth/user/get', UserDelete: '/v3/auth/user/delete',
  UserChangePassword: '/v3/auth/user/changepw', UserGrantRole: '/v3/auth/user/grant', UserRevokeRole: '/v3/auth/user/revoke',
  RoleAdd: '/v3/auth/role/add', RoleGet: '/v3/auth/role/get', RoleDelete: '/v3/auth/role/delete',
  RoleGrantPermission: '/v3/auth/role/grant', RoleRevokePermission: '/v3/auth/role/revoke', Authenticate: '/v3/auth/authenticate',
  Range: '/v3/kv/range',
};

export interface FuzzInput {
  rpc: FuzzRpc;
  fields: Field[];
  /** 'root': root's live token; else the token sent as is (undefined: none) */
  as: 'root' | { token: string | undefined };
  /** RoleGrantPermission of a range etcd 3.4.25 refuses (invalid auth management) and 3.4.23 accepts */
  invalidPermissionRange?: boolean;
}

// ---- encodings ----------------------------------------------------------------------------------------------------

function varint(n: bigint): number[] {
  let v = BigInt.asUintN(64, n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

export function protobuf(fields: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if (f.kind === 'enum' || f.kind === 'bool') {
      parts.push(Buffer.from([...varint(BigInt(f.no << 3)), ...varint(BigInt(f.kind === 'bool' ? Number(f.value) : (f.value as number)))]));
      continue;
    }
    const payload = f.kind === 'msg' ? protobuf(f.value as Field[]) : Buffer.isBuffer(f.value) ? f.value : Buffer.from(String(f.value), 'utf8');
    parts.push(Buffer.from([...varint(BigInt((f.no << 3) | 2)), ...varint(BigInt(payload.length))]), payload);
  }
  return Buffer.concat(parts);
}

/** A JSON string literal holding `v`'s bytes as they are (a Buffer's bytes need not be UTF-8: the decoder decides). */
function jsonString(v: string | Buffer): Buffer {
  if (!Buffer.isBuffer(v)) return Buffer.from(JSON.stringify(v), 'utf8');
  return Buffer.concat([Buffer.from('"'), v, Buffer.from('"')]);
}

export function jsonBody(fields: Field[]): Buffer {
  const parts: Buffer[] = [Buffer.from('{')];
  fields.forEach((f, i) => {
    if (i > 0) parts.push(Buffer.from(','));
    parts.push(Buffer.from(`${JSON.stringify(f.name)}:`));
    switch (f.kind) {
      case 'string':
        parts.push(jsonString(f.value as string | Buffer));
        break;
      case 'bytes':
        parts.push(Buffer.from(JSON.stringify((Buffer.isBuffer(f.value) ? f.value : Buffer.from(String(f.value))).toString('base64'))));
        break;
      case 'msg':
        parts.push(jsonBody(f.value as Field[]));
        break;
      default:
        parts.push(Buffer.from(JSON.stringify(f.value)));
    }
  });
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

function nativeObject(fields: Field[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) {
    if (f.kind === 'msg') o[f.name] = nativeObject(f.value as Field[]);
    else if (f.kind === 'bytes') o[f.name] = Buffer.isBuffer(f.value) ? f.value : Buffer.from(String(f.value));
    else o[f.name] = f.value;
  }
  return o;
}

// ---- sending ------------------------------------------------------------------------------------------------------

const FUZZ_TIMEOUT_MS = 15_000;

export async function sendFuzz(side: Side, frontEnd: FrontEnd, input: FuzzInput): Promise<Outcome> {
  const token = input.as === 'root' ? (await side.token('root')).token : input.as.token;
  switch (frontEnd) {
    case 'grpc': {
      const headers = token === undefined ? {} : { token };
      try {
        const r = await rawCall(side.endpoint, GRPC_PATH[input.rpc], grpcFrame(protobuf(input.fields)), headers, FUZZ_TIMEOUT_MS);
        if (r.status === 0) return { code: 0, message: 'ok' };
        return { code: r.status ?? -1, message: r.message ?? `stream reset ${String(r.rstCode)}` };
      } catch (err) {
        return { code: -1, message: (err as Error).message };
      }
    }
    case 'gateway':
      return gatewayFuzz(side.endpoint, GATEWAY_PATH[input.rpc], jsonBody(input.fields), token);
    case 'binary': {
      const client = binaryClient(side.endpoint, token);
      try {
        await client.call(input.rpc, nativeObject(input.fields) as never);
        return { code: 0, message: 'ok' };
      } catch (err) {
        return err instanceof EtcdError ? { code: err.code, message: err.message } : { code: -1, message: String(err) };
      } finally {
        client.destroy();
      }
    }
    case 'websocket':
      throw new Error('the fuzz sends no unary request over WebSocket');
  }
}

function gatewayFuzz(endpoint: string, path: string, body: Buffer, token: string | undefined): Promise<Outcome> {
  const [host, port] = endpoint.split(':');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['authorization'] = token;
  return new Promise((resolve) => {
    const req = http.request({ host, port: Number(port), path, method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const status = res.statusCode ?? 0;
        if (status === 200) return resolve({ code: 0, message: 'ok', http: status });
        try {
          const e = JSON.parse(text) as { code?: number; message?: string; error?: string };
          resolve({ code: Number(e.code), message: String(e.message ?? e.error), http: status });
        } catch {
          resolve({ code: -1, message: `not JSON: ${text.slice(0, 200)}`, http: status });
        }
      });
    });
    req.setTimeout(FUZZ_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ code: -1, message: `request error: ${err.message}` }));
    req.end(body);
  });
}

// ---- generators ---------------------------------------------------------------------------------------------------

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const word = (rng: Rng, n: number): string => Array.from({ length: n }, () => rng.pick([...ALNUM])).join('');
/**
 * Bytes that are not UTF-8 (and, inside a JSON string, need no escaping), then a random word: two such names differ
 * even where a decoder replaces the bad bytes.
 */
const notUtf8 = (rng: Rng, prefix: string): Buffer =>
  Buffer.concat([Buffer.from(prefix), Buffer.from(Array.from({ length: 1 + rng.int(4) }, () => 0x80 + rng.int(0x40))), Buffer.from(word(rng, 6))]);

/** The fuzz's own names: always prefixed, so no matrix user or role is ever touched. */
export class NamePool {
  readonly users: string[] = [];
  readonly roles: string[] = [];
  constructor(private readonly rng: Rng, private readonly prefix: string) {}

  fresh(kind: 'u' | 'r'): string | Buffer {
    const p = `${this.prefix}${kind}`;
    switch (this.rng.int(10)) {
      case 9:
        return '';
      case 0:
        return notUtf8(this.rng, p);
      case 1:
        return `${p}-${'x'.repeat(200 + this.rng.int(3000))}`;
      case 2:
        return `${p}-é日本🔑${word(this.rng, 3)}`;
      case 3:
        return `${p}\u0000${word(this.rng, 3)}`;
      case 4:
        return `${p} ${word(this.rng, 2)}/../${word(this.rng, 2)}`;
      default:
        return `${p}-${word(this.rng, 1 + this.rng.int(10))}`;
    }
  }

  /** a name made earlier (valid UTF-8 only, so both servers stored the same text), a fresh one, or an edge case */
  some(kind: 'u' | 'r'): string | Buffer {
    const made = kind === 'u' ? this.users : this.roles;
    const r = this.rng.int(10);
    if (r < 7 && made.length > 0) return this.rng.pick(made);
    if (r === 7) return '';
    if (r === 8) return kind === 'u' ? 'victim' : 'victim-role';
    return this.fresh(kind);
  }
}

export function password(rng: Rng): string | Buffer {
  switch (rng.int(8)) {
    case 0:
      return '';
    case 1:
      return 'a'.repeat(72);
    case 2:
      return 'a'.repeat(73);
    case 3:
      return 'p'.repeat(1000 + rng.int(5000));
    case 4:
      return notUtf8(rng, 'pw');
    case 5:
      return 'pässwörd🔑';
    default:
      return word(rng, 1 + rng.int(12));
  }
}

export function permType(rng: Rng): number {
  return rng.pick([0, 1, 2, 0, 1, 2, 3, 7, 100, 2 ** 31 - 1, -1]);
}

/** [key, range_end] shapes; the second value says whether etcd 3.4.25's isValidPermissionRange accepts it. */
export function permRange(rng: Rng): [Buffer, Buffer, boolean] {
  const shapes: [Buffer, Buffer][] = [
    [Buffer.from('/fz/a'), Buffer.alloc(0)],
    [Buffer.from('/fz/a'), Buffer.from('/fz/b')],
    [Buffer.from('/fz/'), Buffer.from('/fz0')],
    [Buffer.from('/fz/b'), Buffer.from('/fz/a')],
    [Buffer.from('/fz/a'), Buffer.from('/fz/a')],
    [Buffer.alloc(0), Buffer.alloc(0)],
    [Buffer.alloc(0), Buffer.from('/fz/z')],
    [Buffer.alloc(0), Buffer.from([0])],
    [Buffer.from([0]), Buffer.from([0])],
    [Buffer.from('/fz/k'), Buffer.from([0])],
    [Buffer.from([0]), Buffer.alloc(0)],
    [Buffer.concat([Buffer.from('/fz/'), Buffer.alloc(10_000, 0x61)]), Buffer.alloc(0)],
    [Buffer.from([0xff, 0xfe]), Buffer.from([0xff, 0xff])],
  ];
  const [key, end] = rng.pick(shapes);
  return [key, end, isValidPermissionRange(key, end)];
}

/** etcd 3.4.25's check (auth/range_perm_cache.go). */
function isValidPermissionRange(key: Buffer, end: Buffer): boolean {
  if (key.length === 0) return false;
  if (end.length === 0) return true;
  if (Buffer.compare(key, end) < 0) return true;
  return end.length === 1 && end[0] === 0;
}

/**
 * Tokens no server issued. None has the form `<x>.<digits>` with a number past the applied raft index: etcd would
 * wait for that index before answering (see the future-index test), which is not what the fuzz is about.
 */
export function randomToken(rng: Rng): string {
  switch (rng.int(10)) {
    case 0:
      return Array.from({ length: 1 + rng.int(40) }, () => String.fromCharCode(0x21 + rng.int(0x5e))).join('').replace(/\./g, ',');
    case 1:
      return Array.from({ length: 1 + rng.int(20) }, () => String.fromCharCode(0x80 + rng.int(0x80))).join('');
    case 2:
      return 'a.b.c';
    case 3:
      return '.5';
    case 4:
      return `${word(rng, 16)}.99999999999999999999999`;
    case 5:
      return `${word(rng, 16)}.${rng.int(40)}`;
    case 6:
      return 'x'.repeat(4096 + rng.int(4096));
    case 7:
      return ' ';
    case 8:
      return `${word(rng, 16)}.abc`;
    default:
      return rng.bytes(8 + rng.int(24)).toString('base64').replace(/\./g, ',');
  }
}

const s = (no: number, name: string, value: string | Buffer): Field => ({ no, name, kind: 'string', value });

/** One random auth request as root (or, for a few, with a random token) over the names in `pool`. */
export function fuzzInput(rng: Rng, pool: NamePool): FuzzInput {
  // users and roles first, so that the later requests find some
  const op = pool.users.length < 4 ? 0 : pool.roles.length < 4 ? 1 : rng.chance(0.2) ? rng.int(2) : rng.int(13);
  switch (op) {
    case 0: {
      const name = pool.fresh('u');
      const pw = password(rng);
      const noPassword = rng.chance(0.15);
      if (typeof name === 'string' && name !== '') pool.users.push(name);
      const fields = [s(1, 'name', name), s(2, 'password', pw)];
      if (noPassword) fields.push({ no: 3, name: 'options', kind: 'msg', value: [{ no: 1, name: 'no_password', kind: 'bool', value: true }] });
      return { rpc: 'UserAdd', fields, as: 'root' };
    }
    case 1: {
      const name = pool.fresh('r');
      if (typeof name === 'string' && name !== '') pool.roles.push(name);
      return { rpc: 'RoleAdd', fields: [s(1, 'name', name)], as: 'root' };
    }
    case 2:
      return { rpc: 'UserGet', fields: [s(1, 'name', pool.some('u'))], as: 'root' };
    case 3:
      return { rpc: 'RoleGet', fields: [s(1, 'role', pool.some('r'))], as: 'root' };
    case 4:
      return { rpc: 'UserGrantRole', fields: [s(1, 'user', pool.some('u')), s(2, 'role', rng.chance(0.2) ? 'r-read' : pool.some('r'))], as: 'root' };
    case 5:
      return { rpc: 'UserRevokeRole', fields: [s(1, 'name', pool.some('u')), s(2, 'role', pool.some('r'))], as: 'root' };
    case 6:
      return { rpc: 'UserChangePassword', fields: [s(1, 'name', pool.some('u')), s(2, 'password', password(rng))], as: 'root' };
    case 7: {
      const [key, end, valid] = permRange(rng);
      const role = pool.some('r');
      const perm: Field[] = [{ no: 1, name: 'permType', kind: 'enum', value: permType(rng) }, { no: 2, name: 'key', kind: 'bytes', value: key }];
      if (end.length > 0) perm.push({ no: 3, name: 'range_end', kind: 'bytes', value: end });
      return { rpc: 'RoleGrantPermission', fields: [s(1, 'name', role), { no: 2, name: 'perm', kind: 'msg', value: perm }], as: 'root', invalidPermissionRange: !valid };
    }
    case 8: {
      const [key, end] = permRange(rng);
      const fields: Field[] = [s(1, 'role', pool.some('r')), { no: 2, name: 'key', kind: 'bytes', value: key }];
      if (end.length > 0) fields.push({ no: 3, name: 'range_end', kind: 'bytes', value: end });
      return { rpc: 'RoleRevokePermission', fields, as: 'root' };
    }
    case 9:
      return { rpc: 'Authenticate', fields: [s(1, 'name', pool.some('u')), s(2, 'password', password(rng))], as: { token: undefined } };
    case 10:
      return rng.chance(0.5) ? { rpc: 'UserDelete', fields: [s(1, 'name', pool.some('u'))], as: 'root' } : { rpc: 'RoleDelete', fields: [s(1, 'role', pool.some('r'))], as: 'root' };
    case 11:
      return { rpc: 'Range', fields: [{ no: 1, name: 'key', kind: 'bytes', value: Buffer.from('/a/1') }], as: { token: randomToken(rng) } };
    default:
      return { rpc: 'UserGet', fields: [s(1, 'name', 'alice')], as: { token: randomToken(rng) } };
  }
}
