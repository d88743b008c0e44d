// Helpers for the lease, lock and election tests: the same request to etcd-ts (binary client) and to a real etcd
// (JSON gateway), both outcomes brought to one canonical form (the gateway's jsonpb shape, zero values omitted), and
// small polling utilities.

import assert from 'node:assert/strict';
import { EtcdError, type Client, type KeyValue, type MethodName, type RequestOf } from '../../src/client/index.js';

const GATEWAY: Partial<Record<MethodName, string>> = {
  LeaseGrant: 'lease/grant',
  LeaseRevoke: 'lease/revoke',
  LeaseTimeToLive: 'lease/timetolive',
  LeaseLeases: 'lease/leases',
  Lock: 'lock/lock',
  Unlock: 'lock/unlock',
  Campaign: 'election/campaign',
  Proclaim: 'election/proclaim',
  Leader: 'election/leader',
  Resign: 'election/resign',
  Range: 'kv/range',
  Put: 'kv/put',
  DeleteRange: 'kv/deleterange',
  Txn: 'kv/txn',
};

/** Typed request/response -> gateway JSON: bytes as base64, 64-bit and other integers as strings. */
export function toGatewayJson(v: unknown): unknown {
  if (v === undefined || v === null) return undefined;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.map(toGatewayJson);
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const j = toGatewayJson(x);
      if (j !== undefined) out[k] = j;
    }
    return out;
  }
  return v;
}

/** jsonpb omits zero values: drop them everywhere, so both sides compare field by field. Sorts listed arrays. */
export function omitDefaults(v: unknown, sortPaths: readonly string[] = [], path = ''): unknown {
  if (Array.isArray(v)) {
    const items = v.map((x) => omitDefaults(x, sortPaths, path + '[]'));
    if (sortPaths.includes(path)) items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    return items.length === 0 ? undefined : items;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = omitDefaults((v as Record<string, unknown>)[k], sortPaths, path ? `${path}.${k}` : k);
      if (x !== undefined) out[k] = x;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  if (v === '0' || v === 0 || v === '' || v === false || v === null) return undefined;
  return v;
}

export type LeaseOutcome = { response: unknown; error?: undefined } | { response?: undefined; error: { code: number; message: string } };

export async function gatewaySend(endpoint: string, method: MethodName, request: unknown): Promise<LeaseOutcome> {
  const res = await fetch(`http://${endpoint}/v3/${GATEWAY[method]}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(toGatewayJson(request) ?? {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) return { error: { code: Number(json.code ?? 0), message: String(json.message ?? json.error ?? '') } };
  return { response: json };
}

export async function clientSend(client: Client, method: MethodName, request: unknown): Promise<LeaseOutcome> {
  try {
    return { response: toGatewayJson(await client.call(method, request as RequestOf<typeof method>)) };
  } catch (err) {
    if (err instanceof EtcdError) return { error: { code: err.code, message: err.message } };
    throw err;
  }
}

/** One keep-alive through the gateway's streaming endpoint (the body ends, so the stream answers once and ends). */
export async function gatewayKeepAliveOnce(endpoint: string, id: bigint): Promise<unknown> {
  const res = await fetch(`http://${endpoint}/v3/lease/keepalive`, { method: 'POST', body: JSON.stringify({ ID: String(id) }) });
  const text = await res.text();
  const first = text.split('\n').find((l) => l.trim() !== '');
  assert.ok(first !== undefined, `empty keepalive answer from etcd: ${text}`);
  const line = JSON.parse(first) as { result?: unknown; error?: unknown };
  assert.ok(line.result !== undefined, `keepalive error from etcd: ${first}`);
  return line.result;
}

/** One keep-alive over etcd-ts's LeaseKeepAlive stream. */
export async function keepAliveOnce(client: Client, id: bigint, timeoutMs = 5000): Promise<{ ID: bigint; TTL: number; header: unknown }> {
  return new Promise((resolve, reject) => {
    let stream: { close(): void } | null = null;
    const timer = setTimeout(() => reject(new Error('keepalive: no answer')), timeoutMs);
    client
      .openStream('LeaseKeepAlive', { ID: id }, {
        message: (r) => {
          clearTimeout(timer);
          stream?.close();
          resolve(r);
        },
        end: (err) => {
          clearTimeout(timer);
          reject(err ?? new Error('keepalive stream ended without an answer'));
        },
      })
      .then((s) => (stream = s), reject);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns a non-undefined value; fails after `timeoutMs`. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const text = (v: Uint8Array | undefined): string => (v === undefined ? '' : Buffer.from(v).toString('utf8'));

export function kvText(kv: KeyValue | undefined): string | undefined {
  return kv === undefined ? undefined : `${text(kv.key)}=${text(kv.value)}`;
}
