// The differential permission matrix of etcd's v3 auth (issue 14, "no bypass"): two servers set up alike, a real etcd
// 3.4 (side A, the oracle) and etcd-ts (side B), each called with every identity through every front end it has, and
// the answers (gRPC status code and message, or a digest of a success) compared cell by cell.
//
// Side A is spoken to over gRPC (grpc-js, metadata `token`) and its JSON gateway (`Authorization` header). Side B, when
// it is etcd-ts, also over the binary protocol (the TypeScript client with `token`) and the gateway's WebSocket streams
// (`Authorization` at the upgrade); those answers must be what etcd gives over gRPC. AUTH_MATRIX_AGAINST=etcd makes
// side B a second real etcd (gRPC and gateway only): every comparison must then pass, which validates the harness.
//
// Requests are written once in a canonical form (proto field names, bytes as Buffer, int64 as bigint) and converted
// per front end.

import http from 'node:http';
import grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { Client, type ClientOptions, type MethodName, type StreamMethodName } from '../../src/client/index.js';
import { EtcdError } from '../../src/errors/index.js';
import { etcdClients, rawCall, grpcFrame, type EtcdClients } from './grpc.js';
import { etcdInstalled } from './etcd.js';
import { startDeployment, type Deployment, type ServerKind } from './real-etcdctl.js';

export type FrontEnd = 'grpc' | 'gateway' | 'binary' | 'websocket';

/** What side B is: etcd-ts, or a second real etcd (AUTH_MATRIX_AGAINST=etcd) that validates the harness. */
export function matrixSecondKind(): ServerKind {
  const against = process.env.AUTH_MATRIX_AGAINST ?? 'etcd-ts';
  if (against !== 'etcd' && against !== 'etcd-ts') throw new Error(`AUTH_MATRIX_AGAINST must be etcd or etcd-ts, not ${against}`);
  return against;
}

export function matrixAvailable(): boolean {
  return etcdInstalled();
}

// ---- canonical requests --------------------------------------------------------------------------------------------

/** bytes */
export const B = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));

type Canon = unknown;

function convert(v: Canon, to: 'grpc' | 'json' | 'binary'): unknown {
  if (Buffer.isBuffer(v)) return to === 'json' ? v.toString('base64') : v;
  if (typeof v === 'bigint') return to === 'binary' ? v : v.toString();
  if (Array.isArray(v)) return v.map((x) => convert(x, to));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = convert(x, to);
    return out;
  }
  return v;
}

/** Reads a response's fields the same way whatever front end it came through (bytes are base64 in JSON). */
export interface View {
  bytes(v: unknown): string;
  int(v: unknown): string;
}

const binaryView: View = {
  bytes: (v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v === undefined || v === null ? '' : String(v)),
  int: (v) => (v === undefined || v === null ? '0' : String(v)),
};
const jsonView: View = {
  bytes: (v) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('latin1') : ''),
  int: (v) => (v === undefined || v === null ? '0' : String(v)),
};

// ---- services and routes -----------------------------------------------------------------------------------------

export type RpcName =
  | MethodName
  | StreamMethodName
  | 'Alarm'
  | 'Defragment'
  | 'Hash'
  | 'HashKV'
  | 'Snapshot';

const SERVICE: Record<RpcName, keyof Omit<EtcdClients, 'close'>> = {
  Range: 'kv', Put: 'kv', DeleteRange: 'kv', Txn: 'kv', Compact: 'kv',
  Watch: 'watch',
  LeaseGrant: 'lease', LeaseRevoke: 'lease', LeaseKeepAlive: 'lease', LeaseTimeToLive: 'lease', LeaseLeases: 'lease',
  MemberAdd: 'cluster', MemberRemove: 'cluster', MemberUpdate: 'cluster', MemberList: 'cluster', MemberPromote: 'cluster',
  Status: 'maintenance', Alarm: 'maintenance', Defragment: 'maintenance', Hash: 'maintenance', HashKV: 'maintenance',
  Snapshot: 'maintenance', MoveLeader: 'maintenance',
  AuthEnable: 'auth', AuthDisable: 'auth', AuthStatus: 'auth', Authenticate: 'auth', UserAdd: 'auth', UserGet: 'auth',
  UserList: 'auth', UserDelete: 'auth', UserChangePassword: 'auth', UserGrantRole: 'auth', UserRevokeRole: 'auth',
  RoleAdd: 'auth', RoleGet: 'auth', RoleList: 'auth', RoleDelete: 'auth', RoleGrantPermission: 'auth',
  RoleRevokePermission: 'auth',
  Lock: 'lock', Unlock: 'lock',
  Campaign: 'election', Proclaim: 'election', Leader: 'election', Observe: 'election', Resign: 'election',
};

/** gRPC service paths, for the methods grpc-js's stubs (our 3.4 protos) lack. */
const GRPC_SERVICE_PATH: Record<keyof Omit<EtcdClients, 'close'>, string> = {
  kv: 'etcdserverpb.KV', watch: 'etcdserverpb.Watch', lease: 'etcdserverpb.Lease', cluster: 'etcdserverpb.Cluster',
  maintenance: 'etcdserverpb.Maintenance', auth: 'etcdserverpb.Auth', lock: 'v3lockpb.Lock', election: 'v3electionpb.Election',
};

/** etcd 3.4's gateway paths (HashKV and AuthStatus have none). */
export const GATEWAY_PATH: Partial<Record<RpcName, string>> = {
  Range: '/v3/kv/range', Put: '/v3/kv/put', DeleteRange: '/v3/kv/deleterange', Txn: '/v3/kv/txn', Compact: '/v3/kv/compaction',
  Watch: '/v3/watch',
  LeaseGrant: '/v3/lease/grant', LeaseRevoke: '/v3/lease/revoke', LeaseKeepAlive: '/v3/lease/keepalive',
  LeaseTimeToLive: '/v3/lease/timetolive', LeaseLeases: '/v3/lease/leases',
  MemberAdd: '/v3/cluster/member/add', MemberRemove: '/v3/cluster/member/remove', MemberUpdate: '/v3/cluster/member/update',
  MemberList: '/v3/cluster/member/list', MemberPromote: '/v3/cluster/member/promote',
  Status: '/v3/maintenance/status', Alarm: '/v3/maintenance/alarm', Defragment: '/v3/maintenance/defragment',
  Hash: '/v3/maintenance/hash', Snapshot: '/v3/maintenance/snapshot', MoveLeader: '/v3/maintenance/transfer-leadership',
  AuthEnable: '/v3/auth/enable', AuthDisable: '/v3/auth/disable', Authenticate: '/v3/auth/authenticate',
  UserAdd: '/v3/auth/user/add', UserGet: '/v3/auth/user/get', UserList: '/v3/auth/user/list', UserDelete: '/v3/auth/user/delete',
  UserChangePassword: '/v3/auth/user/changepw', UserGrantRole: '/v3/auth/user/grant', UserRevokeRole: '/v3/auth/user/revoke',
  RoleAdd: '/v3/auth/role/add', RoleGet: '/v3/auth/role/get', RoleList: '/v3/auth/role/list', RoleDelete: '/v3/auth/role/delete',
  RoleGrantPermission: '/v3/auth/role/grant', RoleRevokePermission: '/v3/auth/role/revoke',
  Lock: '/v3/lock/lock', Unlock: '/v3/lock/unlock',
  Campaign: '/v3/election/campaign', Proclaim: '/v3/election/proclaim', Leader: '/v3/election/leader',
  Observe: '/v3/election/observe', Resign: '/v3/election/resign',
};

/** The gateway's WebSocket paths (etcd-ts): the streams. */
const WEBSOCKET_PATH: Partial<Record<RpcName, string>> = {
  Watch: '/v3/watch', LeaseKeepAlive: '/v3/lease/keepalive', Observe: '/v3/election/observe',
};

const BIDI: ReadonlySet<RpcName> = new Set(['Watch', 'LeaseKeepAlive']);
const SERVER_STREAM: ReadonlySet<RpcName> = new Set(['Observe', 'Snapshot']);
export const isStream = (rpc: RpcName): boolean => BIDI.has(rpc) || SERVER_STREAM.has(rpc);
/** RPCs the binary protocol has (it leaves out what etcd-ts has nothing to do for: Alarm, Defragment, Hash...). */
const BINARY_RPCS: ReadonlySet<RpcName> = new Set<RpcName>([
  'Range', 'Put', 'DeleteRange', 'Txn', 'Compact', 'Status', 'MemberList', 'MemberAdd', 'MemberRemove', 'MemberUpdate',
  'MemberPromote', 'MoveLeader', 'LeaseGrant', 'LeaseRevoke', 'LeaseTimeToLive', 'LeaseLeases', 'Lock', 'Unlock',
  'Campaign', 'Proclaim', 'Leader', 'Resign', 'AuthEnable', 'AuthDisable', 'AuthStatus', 'Authenticate', 'UserAdd',
  'UserGet', 'UserList', 'UserDelete', 'UserChangePassword', 'UserGrantRole', 'UserRevokeRole', 'RoleAdd', 'RoleGet',
  'RoleList', 'RoleDelete', 'RoleGrantPermission', 'RoleRevokePermission', 'Watch', 'LeaseKeepAlive', 'Observe',
]);

/** Whether `rpc` can be sent through `frontEnd` at all. */
export function servedBy(rpc: RpcName, frontEnd: FrontEnd): boolean {
  switch (frontEnd) {
    case 'grpc':
      return true;
    case 'gateway':
      return GATEWAY_PATH[rpc] !== undefined;
    case 'binary':
      return BINARY_RPCS.has(rpc);
    case 'websocket':
      return WEBSOCKET_PATH[rpc] !== undefined;
  }
}

// ---- outcomes ------------------------------------------------------------------------------------------------------

/** One answer: code 0 with a digest of the response, or a gRPC status; `http` is the gateway's HTTP status. */
export interface Outcome {
  code: number;
  message: string;
  http?: number;
  /** the binary client's error name (the catalogue's, derived from the message it received) */
  name?: string;
}

export const outcomeText = (o: Outcome): string => `${o.code === 0 ? 'OK' : o.code} ${o.message}${o.http === undefined ? '' : ` [HTTP ${o.http}]`}`;

/** A digest of a success: what two servers must agree on (never IDs, revisions or times). */
export type Digest = (response: Record<string, unknown>, view: View) => string;
const okDigest: Digest = () => 'ok';

/** A stream's first answer: its first message (digested), the stream's error, or its end without a message. */
const NO_ANSWER_MS = 10_000;

// ---- sides ---------------------------------------------------------------------------------------------------------

export const PASSWORDS: Readonly<Record<string, string>> = {
  root: 'rootpw', alice: 'alicepw', bob: 'bobpw', carol: 'carolpw', dave: 'davepw', erin: 'erinpw', victim: 'victimpw',
};

/** A token is fetched again once it has been idle this long (the servers run with --auth-token-ttl 2, sliding). */
const TOKEN_IDLE_MS = 500;

interface CachedToken {
  token: Promise<string>;
  lastUsed: number;
}

export interface Side {
  readonly label: 'A' | 'B';
  readonly kind: ServerKind;
  readonly deployment: Deployment;
  /** host:port of the client URL: gRPC, the gateway, WebSockets and (etcd-ts) the binary protocol */
  readonly endpoint: string;
  readonly clients: EtcdClients;
  readonly frontEnds: readonly FrontEnd[];
  /** IDs and names the set-up made on this side (leases differ between servers) */
  readonly fixtures: Record<string, bigint | string>;
  /** a live token of `user`, logged in again when it may have expired */
  token(user: string): Promise<{ token: string; idleMs: number }>;
  forgetToken(user: string): void;
  /** the member still answers (a process that crashed or hung would not) */
  alive(): Promise<boolean>;
}

export function makeSide(label: 'A' | 'B', deployment: Deployment): Side {
  const server = deployment.servers[0]!;
  const endpoint = server.endpoint;
  const clients = etcdClients(endpoint);
  const cache = new Map<string, CachedToken>();
  const login = async (user: string): Promise<string> => {
    const res = await grpcUnary(clients, 'Authenticate', { name: user, password: PASSWORDS[user] }, undefined);
    if (res.code !== 0) throw new Error(`${label}: ${user} could not log in: ${outcomeText(res)}`);
    return res.message;
  };
  return {
    label,
    kind: deployment.kind,
    deployment,
    endpoint,
    clients,
    frontEnds: deployment.kind === 'etcd' ? ['grpc', 'gateway'] : ['grpc', 'gateway', 'binary', 'websocket'],
    fixtures: {},
    async token(user) {
      const now = Date.now();
      const c = cache.get(user);
      if (c !== undefined && now - c.lastUsed < TOKEN_IDLE_MS) {
        const idleMs = now - c.lastUsed;
        c.lastUsed = now;
        return { token: await c.token, idleMs };
      }
      const fresh = { token: login(user), lastUsed: now };
      cache.set(user, fresh);
      fresh.token.catch(() => cache.delete(user));
      return { token: await fresh.token, idleMs: 0 };
    },
    forgetToken(user) {
      cache.delete(user);
    },
    async alive() {
      if (server.child.exitCode !== null || server.child.signalCode !== null) return false;
      const res = await grpcUnary(clients, 'Status', {}, undefined, 10_000);
      return res.code === 0;
    },
  };
}

/**
 * Real etcd (side A) and the second kind (side B), both started with `flags`; null when etcd is not installed.
 * Both are stopped by the returned close().
 */
export async function startPair(flags: string[]): Promise<{ sides: [Side, Side]; close(): Promise<void> } | null> {
  if (!matrixAvailable()) return null;
  const [a, b] = await Promise.allSettled([startDeployment('etcd', 1, flags), startDeployment(matrixSecondKind(), 1, flags)]);
  if (a.status === 'rejected' || b.status === 'rejected') {
    if (a.status === 'fulfilled') await a.value.stop();
    if (b.status === 'fulfilled') await b.value.stop();
    throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
  }
  const sides: [Side, Side] = [makeSide('A', a.value), makeSide('B', b.value)];
  return {
    sides,
    async close() {
      for (const s of sides) s.clients.close();
      await Promise.all([a.value.stop(), b.value.stop()]);
    },
  };
}

// ---- calls, per front end --------------------------------------------------------------------------------------------

type GrpcClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function metadataOf(token: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set('token', token);
  return md;
}

/** A unary gRPC call with these metadata entries (e.g. a token under another key). */
export function grpcWithMetadata(side: Side, rpc: RpcName, request: Canon, entries: Record<string, string>, digest: Digest = okDigest): Promise<Outcome> {
  const client = side.clients[SERVICE[rpc]] as GrpcClient;
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries)) md.set(k, v);
  return new Promise((resolve) => {
    (client[rpc] as (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Record<string, unknown>) => void) => void).call(
      client,
      convert(request, 'grpc'),
      md,
      { deadline: Date.now() + 20_000 },
      (err, res) => resolve(err === null ? { code: 0, message: digest(res, binaryView) } : statusOf(err)),
    );
  });
}

function statusOf(err: unknown): Outcome {
  const e = err as grpc.ServiceError;
  return { code: e.code ?? 2, message: e.details ?? String(err) };
}

/**
 * A unary gRPC call; `message` of a success is the digest (for Authenticate without a digest: the token). Methods the
 * 3.4 protos lack (AuthStatus) go through a raw HTTP/2 call.
 */
export async function grpcUnary(
  clients: EtcdClients,
  rpc: RpcName,
  request: Canon,
  token: string | undefined,
  timeoutMs = 20_000,
  digest?: Digest,
): Promise<Outcome> {
  const service = SERVICE[rpc];
  const client = clients[service] as GrpcClient;
  if (typeof client[rpc] !== 'function') return rawUnary(clients, rpc, token);
  return new Promise((resolve) => {
    (client[rpc] as (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Record<string, unknown>) => void) => void).call(
      client,
      convert(request, 'grpc'),
      metadataOf(token),
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        if (err !== null) return resolve(statusOf(err));
        if (digest === undefined && rpc === 'Authenticate') return resolve({ code: 0, message: String(res['token']) });
        resolve({ code: 0, message: (digest ?? okDigest)(res, binaryView) });
      },
    );
  });
}

/** A method with an empty request over raw HTTP/2 (for RPCs etcd 3.4's protos do not have). */
async function rawUnary(clients: EtcdClients, rpc: RpcName, token: string | undefined): Promise<Outcome> {
  const target = clients.kv.getChannel().getTarget().replace(/^dns:/, '');
  const res = await rawCall(target, `/${GRPC_SERVICE_PATH[SERVICE[rpc]]}/${rpc}`, grpcFrame(new Uint8Array(0)), token === undefined ? {} : { token });
  if (res.status === 0) return { code: 0, message: 'ok' };
  return { code: res.status ?? -1, message: res.message ?? `reset ${String(res.rstCode)}` };
}

/** A stream's first answer over gRPC. */
function grpcStream(clients: EtcdClients, rpc: RpcName, request: Canon, token: string | undefined, digest: Digest): Promise<Outcome> {
  const client = clients[SERVICE[rpc]] as GrpcClient;
  const md = metadataOf(token);
  return new Promise((resolve) => {
    let done = false;
    let call: grpc.ClientReadableStream<Record<string, unknown>>;
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      call.cancel();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ code: -1, message: `no answer in ${NO_ANSWER_MS} ms` }), NO_ANSWER_MS);
    if (BIDI.has(rpc)) {
      const duplex = (client[rpc] as (m: grpc.Metadata) => grpc.ClientDuplexStream<unknown, Record<string, unknown>>).call(client, md);
      duplex.write(convert(request, 'grpc'));
      call = duplex;
    } else {
      call = (client[rpc] as (r: unknown, m: grpc.Metadata) => grpc.ClientReadableStream<Record<string, unknown>>).call(client, convert(request, 'grpc'), md);
    }
    call.on('data', (m: Record<string, unknown>) => finish({ code: 0, message: digest(m, binaryView) }));
    call.on('error', (err: unknown) => finish(statusOf(err)));
    call.on('end', () => finish({ code: 0, message: 'stream ended without a message' }));
  });
}

function gatewayHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? { 'content-type': 'application/json' } : { 'content-type': 'application/json', authorization: token };
}

/** A unary call through the JSON gateway. */
export function gatewayUnary(endpoint: string, rpc: RpcName, request: Canon, token: string | undefined, digest: Digest = okDigest): Promise<Outcome> {
  return gatewayWithHeaders(endpoint, rpc, request, gatewayHeaders(token), digest);
}

/** A unary call through the JSON gateway with these request headers. */
export function gatewayWithHeaders(endpoint: string, rpc: RpcName, request: Canon, headers: Record<string, string>, digest: Digest = okDigest): Promise<Outcome> {
  const body = JSON.stringify(convert(request, 'json'));
  return new Promise((resolve) => {
    const req = http.request(
      { host: endpoint.split(':')[0], port: Number(endpoint.split(':')[1]), path: GATEWAY_PATH[rpc], method: 'POST', headers: { 'content-type': 'application/json', ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(gatewayOutcome(res.statusCode ?? 0, Buffer.concat(chunks).toString(), digest)));
        res.on('error', (err) => resolve({ code: -1, message: `response error: ${err.message}` }));
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ code: -1, message: `request error: ${err.message}` }));
    req.end(body);
  });
}

function gatewayOutcome(status: number, text: string, digest: Digest): Outcome {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { code: -1, message: `not JSON: ${text.slice(0, 200)}`, http: status };
  }
  if (status === 200) return { code: 0, message: digest(body, jsonView), http: status };
  return { code: Number(body['code']), message: String(body['message'] ?? body['error']), http: status };
}

/** A stream's first answer through the gateway's chunked HTTP (a line per message). */
function gatewayStream(endpoint: string, rpc: RpcName, request: Canon, token: string | undefined, digest: Digest): Promise<Outcome> {
  return new Promise((resolve) => {
    let done = false;
    let status = 0;
    let text = '';
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ code: -1, message: `no answer in ${NO_ANSWER_MS} ms`, http: status }), NO_ANSWER_MS);
    const headers = { ...gatewayHeaders(token), 'transfer-encoding': 'chunked' };
    const req = http.request({ host: endpoint.split(':')[0], port: Number(endpoint.split(':')[1]), path: GATEWAY_PATH[rpc], method: 'POST', headers, agent: false }, (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        const nl = text.indexOf('\n');
        if (nl >= 0) finish(streamLineOutcome(text.slice(0, nl), digest, status));
      });
      res.on('end', () => finish(text.trim() === '' ? { code: 0, message: 'stream ended without a message', http: status } : streamLineOutcome(text, digest, status)));
      res.on('error', () => {});
    });
    req.on('error', (err) => finish({ code: -1, message: `request error: ${err.message}`, http: status }));
    req.write(JSON.stringify(convert(request, 'json')));
    if (!BIDI.has(rpc)) req.end();
  });
}

function streamLineOutcome(line: string, digest: Digest, http?: number): Outcome {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { code: -1, message: `not JSON: ${line.slice(0, 200)}`, ...(http === undefined ? {} : { http }) };
  }
  const withHttp = (o: Outcome): Outcome => (http === undefined ? o : { ...o, http });
  if (m['result'] !== undefined) return withHttp({ code: 0, message: digest(m['result'] as Record<string, unknown>, jsonView) });
  // a unary call's error body ({"error": text, "code", "message"}) where a stream's error line belongs
  if (typeof m['error'] === 'string') return withHttp({ code: Number(m['code'] ?? -1), message: `${String(m['message'])} (a unary error body, not a stream error line)` });
  const e = (m['error'] ?? {}) as Record<string, unknown>;
  return withHttp({ code: Number(e['grpc_code'] ?? -1), message: String(e['message']) });
}

/** A binary-protocol client that sends `token` as it is (or none). */
export function binaryClient(endpoint: string, token: string | undefined): Client {
  const options: ClientOptions = { endpoints: [endpoint], requestTimeoutMs: 20_000 };
  if (token !== undefined) options.token = token;
  return new Client(options);
}

function binaryError(err: unknown): Outcome {
  if (err instanceof EtcdError) return { code: err.code, message: err.message, name: err.name };
  return { code: -1, message: `not an EtcdError: ${String(err)}` };
}

async function binaryUnary(endpoint: string, rpc: RpcName, request: Canon, token: string | undefined, digest: Digest): Promise<Outcome> {
  const client = binaryClient(endpoint, token);
  try {
    const res = await client.call(rpc as MethodName, convert(request, 'binary') as never);
    return { code: 0, message: digest(res as unknown as Record<string, unknown>, binaryView) };
  } catch (err) {
    return binaryError(err);
  } finally {
    client.destroy();
  }
}

async function binaryStream(endpoint: string, rpc: RpcName, request: Canon, token: string | undefined, digest: Digest): Promise<Outcome> {
  const client = binaryClient(endpoint, token);
  try {
    return await new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => resolve({ code: -1, message: `no answer in ${NO_ANSWER_MS} ms` }), NO_ANSWER_MS);
      const finish = (o: Outcome): void => {
        clearTimeout(timer);
        resolve(o);
      };
      client
        .openStream(rpc as StreamMethodName, convert(request, 'binary') as never, {
          message: (m) => finish({ code: 0, message: digest(m as unknown as Record<string, unknown>, binaryView) }),
          end: (err) => finish(err === null ? { code: 0, message: 'stream ended without a message' } : binaryError(err)),
        })
        .catch((err: unknown) => finish(binaryError(err)));
    });
  } finally {
    client.destroy();
  }
}

/** A stream's first answer over the gateway's WebSocket (JSON text messages), the token given at the upgrade. */
function websocketStream(endpoint: string, rpc: RpcName, request: Canon, token: string | undefined, digest: Digest): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${endpoint}${WEBSOCKET_PATH[rpc]}`, [], token === undefined ? {} : { headers: { authorization: token } });
    let done = false;
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ code: -1, message: `no answer in ${NO_ANSWER_MS} ms` }), NO_ANSWER_MS);
    ws.on('open', () => ws.send(JSON.stringify(convert(request, 'json'))));
    ws.on('message', (data: Buffer) => finish(streamLineOutcome(data.toString(), digest)));
    ws.on('unexpected-response', (_req, res) => finish({ code: -1, message: `upgrade refused with HTTP ${res.statusCode ?? 0}` }));
    // a normal close without a message is the stream ending without one (gRPC: OK status, no message)
    ws.on('close', (code, reason) => finish({ code: 0, message: code === 1000 ? 'stream ended without a message' : `closed without a message (${code} ${reason.toString()})` }));
    ws.on('error', (err) => finish({ code: -1, message: `websocket error: ${err.message}` }));
  });
}

/** One call of `rpc` through `frontEnd` of `side` with `token` (undefined: none). */
export function invoke(side: Side, frontEnd: FrontEnd, rpc: RpcName, request: Canon, token: string | undefined, digest: Digest = okDigest): Promise<Outcome> {
  const stream = isStream(rpc);
  switch (frontEnd) {
    case 'grpc':
      return stream ? grpcStream(side.clients, rpc, request, token, digest) : grpcUnary(side.clients, rpc, request, token, 20_000, digest);
    case 'gateway':
      return stream ? gatewayStream(side.endpoint, rpc, request, token, digest) : gatewayUnary(side.endpoint, rpc, request, token, digest);
    case 'binary':
      return stream ? binaryStream(side.endpoint, rpc, request, token, digest) : binaryUnary(side.endpoint, rpc, request, token, digest);
    case 'websocket':
      return websocketStream(side.endpoint, rpc, request, token, digest);
  }
}

/** An administrative call as root over gRPC that must succeed; returns the response. */
export function rootCall(side: Side, rpc: RpcName, request: Canon): Promise<Record<string, unknown>> {
  return side.token('root').then(({ token }) => plainCall(side, rpc, request, token));
}

/** A gRPC call that must succeed (set-up); returns the response. */
export function plainCall(side: Side, rpc: RpcName, request: Canon, token?: string): Promise<Record<string, unknown>> {
  const client = side.clients[SERVICE[rpc]] as GrpcClient;
  return new Promise((resolve, reject) => {
    (client[rpc] as (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Record<string, unknown>) => void) => void).call(
      client,
      convert(request, 'grpc'),
      metadataOf(token),
      { deadline: Date.now() + 20_000 },
      (err, res) => (err === null ? resolve(res) : reject(new Error(`${side.label} (${side.kind}) ${rpc} ${JSON.stringify(convert(request, 'json'))}: ${err.code} ${err.details}`))),
    );
  });
}

// ---- running many calls ----------------------------------------------------------------------------------------------

/** Runs `tasks` with at most `width` at once; resolves when all are done (a task must not throw). */
export async function pool(tasks: (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(width, tasks.length) }, worker));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- long-lived watch streams ----------------------------------------------------------------------------------------

/** A watch response as the tests read it, whatever front end it came through. */
export interface WatchMessage {
  created: boolean;
  canceled: boolean;
  watchId: string;
  cancelReason: string;
  /** the events' keys */
  keys: string[];
}

/** An open watch stream: its messages so far, more requests on the same stream, and the stream's end. */
export interface WatchTap {
  readonly label: string;
  readonly messages: WatchMessage[];
  /** the stream's error or end, when it has ended */
  ended: Outcome | null;
  send(request: Canon): void;
  /** resolves when a message satisfies `pred`; rejects after timeoutMs */
  waitFor(pred: (m: WatchMessage) => boolean, what: string, timeoutMs?: number): Promise<WatchMessage>;
  close(): void;
}

function watchMessage(r: Record<string, unknown>, view: View): WatchMessage {
  return {
    created: Boolean(r['created']),
    canceled: Boolean(r['canceled']),
    watchId: view.int(r['watch_id']),
    cancelReason: String(r['cancel_reason'] ?? ''),
    keys: ((r['events'] ?? []) as Record<string, unknown>[]).map((e) => view.bytes((e['kv'] as Record<string, unknown> | undefined)?.['key'])),
  };
}

/** Opens a watch stream through `frontEnd` of `side` with `token` and sends `first` on it. */
export async function openWatch(side: Side, frontEnd: FrontEnd, token: string | undefined, first: Canon): Promise<WatchTap> {
  const messages: WatchMessage[] = [];
  const label = `${side.label}:${side.kind} ${frontEnd}`;
  let send: (request: Canon) => void;
  let close: () => void;
  const tap: WatchTap = {
    label,
    messages,
    ended: null,
    send: (r) => send(r),
    async waitFor(pred, what, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = messages.find(pred);
        if (m !== undefined) return m;
        if (tap.ended !== null || Date.now() > deadline) {
          throw new Error(`${label}: ${what} not seen (stream ${tap.ended === null ? 'open' : `ended: ${outcomeText(tap.ended)}`}); messages: ${JSON.stringify(messages)}`);
        }
        await sleep(20);
      }
    },
    close: () => close(),
  };
  const end = (o: Outcome): void => {
    tap.ended ??= o;
  };
  switch (frontEnd) {
    case 'grpc': {
      const client = side.clients.watch as GrpcClient;
      const call = (client['Watch'] as (m: grpc.Metadata) => grpc.ClientDuplexStream<unknown, Record<string, unknown>>).call(client, metadataOf(token));
      call.on('data', (m: Record<string, unknown>) => messages.push(watchMessage(m, binaryView)));
      call.on('error', (err: unknown) => end(statusOf(err)));
      call.on('end', () => end({ code: 0, message: 'ended' }));
      send = (r) => call.write(convert(r, 'grpc'));
      close = () => call.cancel();
      break;
    }
    case 'gateway': {
      const [host, port] = side.endpoint.split(':');
      let tail = '';
      const req = http.request(
        { host, port: Number(port), path: '/v3/watch', method: 'POST', headers: { ...gatewayHeaders(token), 'transfer-encoding': 'chunked' }, agent: false },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            tail += c;
            let nl;
            while ((nl = tail.indexOf('\n')) >= 0) {
              const line = tail.slice(0, nl);
              tail = tail.slice(nl + 1);
              if (line.trim() === '') continue;
              const parsed = JSON.parse(line) as Record<string, unknown>;
              if (parsed['result'] !== undefined) messages.push(watchMessage(parsed['result'] as Record<string, unknown>, jsonView));
              else end(streamLineOutcome(line, okDigest));
            }
          });
          res.on('end', () => end({ code: 0, message: 'ended' }));
          res.on('error', () => {});
        },
      );
      req.on('error', (err) => end({ code: -1, message: err.message }));
      send = (r) => req.write(`${JSON.stringify(convert(r, 'json'))}\n`);
      close = () => req.destroy();
      break;
    }
    case 'binary': {
      const client = binaryClient(side.endpoint, token);
      const stream = await client.openStream('Watch', convert(first, 'binary') as never, {
        message: (m) => messages.push(watchMessage(m as unknown as Record<string, unknown>, binaryView)),
        end: (err) => end(err === null ? { code: 0, message: 'ended' } : binaryError(err)),
      });
      send = (r) => void stream.send(convert(r, 'binary') as never);
      close = () => client.destroy();
      break;
    }
    case 'websocket': {
      const ws = new WebSocket(`ws://${side.endpoint}/v3/watch`, [], token === undefined ? {} : { headers: { authorization: token } });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.on('message', (data: Buffer) => {
        const parsed = JSON.parse(data.toString()) as Record<string, unknown>;
        if (parsed['result'] !== undefined) messages.push(watchMessage(parsed['result'] as Record<string, unknown>, jsonView));
        else end(streamLineOutcome(data.toString(), okDigest));
      });
      ws.on('close', (code, reason) => end({ code: 0, message: `closed ${code} ${reason.toString()}` }));
      ws.on('error', () => {});
      send = (r) => ws.send(JSON.stringify(convert(r, 'json')));
      close = () => ws.terminate();
      break;
    }
  }
  if (frontEnd !== 'binary') tap.send(first);
  return tap;
}
