// One connection of the load generator to the system under test, behind one small interface, so that loadgen.ts
// drives etcd-ts (binary protocol, src/client) and a real etcd (gRPC, the pure-JS `etcd3` client) with the same
// workloads, the same closed-loop model and the same measurement code.
//
// etcd: one `Etcd3` instance per connection. grpc-js shares one HTTP/2 connection between all channels to the same
// target with the same options (its global subchannel pool), so C instances would otherwise be one TCP connection;
// `grpc.use_local_subchannel_pool` gives each channel its own. (etcd3 makes one channel per service it uses: the KV
// workloads use only KV, the watch workload only Watch, so each instance is still one connection.) loadgen reports
// the TCP connections it really has open (`client_connections`) so this can be checked.
//
// `etcd3` is imported lazily: only `--target etcd` loads grpc-js.

import { Client, prefixRangeEnd, CompareResult, CompareTarget, type ClientStream, type WatchRequest } from '../src/client/index.js';
import { WatchCreation } from './watch-stamp.js';

export type Target = 'etcd-ts' | 'etcd';

/** What a range of one key found. */
export interface RangeResult {
  found: boolean;
  /** mod_revision of the key, 0 if absent */
  modRevision: number;
}

/** What a compare-and-put txn did. */
export interface CasResult {
  succeeded: boolean;
  /** the key's mod_revision afterwards: the put's revision, or the current one read in the failure branch (0 if absent) */
  modRevision: number;
}

export interface WatchHandlers {
  /** the values of the events of one watch response, and the arrival time */
  events(values: Uint8Array[]): void;
  error(message: string): void;
}

export interface Conn {
  /** resolves with the revision of the put */
  put(key: Buffer, value: Buffer): Promise<number>;
  /** one key, or [key, rangeEnd) when rangeEnd is given */
  range(key: Buffer, serializable: boolean, rangeEnd?: Buffer): Promise<RangeResult>;
  /** Txn: if mod_revision(key) == expected then put(key, value) else range(key). */
  cas(key: Buffer, expected: number, value: Buffer): Promise<CasResult>;
  /** Opens one watch stream carrying `watchers` watchers of `prefix`; resolves once all are created. */
  watchPrefix(prefix: Buffer, watchers: number, handlers: WatchHandlers): Promise<void>;
  close(): void;
}

export interface ConnectOptions {
  /** the endpoints, in the order to prefer them */
  endpoints: string[];
  dialTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * What the connection is for: etcd3 opens a channel (an HTTP/2 connection) per gRPC service, so the etcd target
   * connects eagerly only the one that will be used (KV by default, Watch for watchPrefix).
   */
  use?: 'kv' | 'watch';
  /** --user: log in as this user (etcd's auth enabled on the server) */
  user?: { name: string; password: string };
}

export async function connect(target: Target, o: ConnectOptions): Promise<Conn> {
  return target === 'etcd-ts' ? connectEtcdTs(o) : connectEtcd(o);
}

// ---- etcd-ts --------------------------------------------------------------------------------------------------

async function connectEtcdTs(o: ConnectOptions): Promise<Conn> {
  const client = new Client({
    endpoints: o.endpoints,
    dialTimeoutMs: o.dialTimeoutMs ?? 5000,
    requestTimeoutMs: o.requestTimeoutMs,
    ...(o.user === undefined ? {} : { username: o.user.name, password: o.user.password }),
  });
  await client.connect();
  const streams: ClientStream<WatchRequest>[] = [];
  return {
    async put(key, value) {
      return (await client.put({ key, value })).header.revision;
    },
    async range(key, serializable, rangeEnd) {
      const r = await client.range({ key, serializable, ...(rangeEnd === undefined ? {} : { range_end: rangeEnd }) });
      const kv = r.kvs[0];
      return { found: kv !== undefined, modRevision: kv?.mod_revision ?? 0 };
    },
    async cas(key, expected, value) {
      const r = await client.txn({
        compare: [{ result: CompareResult.EQUAL, target: CompareTarget.MOD, key, mod_revision: expected }],
        success: [{ request_put: { key, value } }],
        failure: [{ request_range: { key } }],
      });
      if (r.succeeded) return { succeeded: true, modRevision: r.header.revision };
      return { succeeded: false, modRevision: r.responses[0]?.response_range?.kvs[0]?.mod_revision ?? 0 };
    },
    async watchPrefix(prefix, watchers, handlers) {
      const creation = new WatchCreation(watchers);
      const create: WatchRequest = { create_request: { key: prefix, range_end: prefixRangeEnd(prefix) } };
      const stream = await client.openStream('Watch', create, {
        message: (resp) => {
          if (creation.take(resp)) return;
          if (resp.canceled === true) return handlers.error(`watch canceled: ${resp.cancel_reason ?? ''}`);
          if (resp.events.length > 0) handlers.events(resp.events.map((e) => e.kv.value));
        },
        end: (err) => {
          handlers.error(`watch stream ended: ${err?.message ?? 'by the server'}`);
          creation.fail(err ?? new Error('watch stream ended'));
        },
      });
      streams.push(stream);
      for (let i = 1; i < watchers; i++) stream.send(create);
      await creation.created;
    },
    close() {
      for (const s of streams) s.close();
      client.destroy();
    },
  };
}

// ---- etcd (gRPC through etcd3) --------------------------------------------------------------------------------

type Etcd3Module = typeof import('etcd3');
let etcd3Module: Promise<Etcd3Module> | null = null;

/** etcd3 is CommonJS: take its exports from the default import, which always works from ESM. */
function loadEtcd3(): Promise<Etcd3Module> {
  etcd3Module ??= import('etcd3').then((m) => ((m as unknown as { default?: Etcd3Module }).default ?? m) as Etcd3Module);
  return etcd3Module;
}

/** int64 fields arrive as decimal strings (etcd3 loads its protos with `longs: String`). */
const int = (v: string | number | undefined | null): number => (v === undefined || v === null ? 0 : Number(v));

async function connectEtcd(o: ConnectOptions): Promise<Conn> {
  const { Etcd3 } = await loadEtcd3();
  const client = new Etcd3({
    hosts: o.endpoints.map((e) => (/^[a-z]+:\/\//.test(e) ? e : `http://${e}`)),
    dialTimeout: o.dialTimeoutMs ?? 5000,
    // one HTTP/2 connection per Etcd3 instance (see the top of this file)
    grpcOptions: { 'grpc.use_local_subchannel_pool': 1 },
    ...(o.requestTimeoutMs === undefined ? {} : { defaultCallOptions: () => ({ deadline: Date.now() + o.requestTimeoutMs! }) }),
    ...(o.user === undefined ? {} : { auth: { username: o.user.name, password: o.user.password } }),
  });
  const kv = client.kv;
  const streams: { cancel(): void }[] = [];
  // connect now, as the etcd-ts connection does, so that set-up is not in the measurement (watchPrefix connects the
  // Watch channel when it opens its stream)
  if (o.use !== 'watch') await kv.range({ key: Buffer.from('\0'), serializable: true, count_only: true });
  return {
    async put(key, value) {
      return int((await kv.put({ key, value })).header.revision);
    },
    async range(key, serializable, rangeEnd) {
      const r = await kv.range({ key, serializable, ...(rangeEnd === undefined ? {} : { range_end: rangeEnd }) });
      const found = r.kvs[0];
      return { found: found !== undefined, modRevision: int(found?.mod_revision) };
    },
    async cas(key, expected, value) {
      const r = await kv.txn({
        compare: [{ result: 'Equal', target: 'Mod', key, mod_revision: String(expected) }],
        success: [{ request_put: { key, value } }],
        failure: [{ request_range: { key } }],
      });
      if (r.succeeded) return { succeeded: true, modRevision: int(r.header.revision) };
      return { succeeded: false, modRevision: int(r.responses[0]?.response_range?.kvs[0]?.mod_revision) };
    },
    async watchPrefix(prefix, watchers, handlers) {
      const stream = await client.watchClient.watch();
      streams.push(stream);
      let pending = watchers;
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (resp) => {
          if (resp.created) {
            if (resp.canceled) reject(new Error(`watch not created: ${resp.cancel_reason || 'canceled'}`));
            else if (--pending === 0) resolve();
            return;
          }
          if (resp.canceled) return handlers.error(`watch canceled: ${resp.cancel_reason}`);
          if (resp.events.length > 0) handlers.events(resp.events.map((e) => e.kv.value));
        });
        stream.on('error', (err: Error) => {
          // cancelling our own stream at the end reports CANCELLED: not an error of the run
          if (!/CANCELLED|Cancelled/i.test(err.message)) handlers.error(`watch stream failed: ${err.message}`);
          reject(err);
        });
        stream.on('end', () => reject(new Error('watch stream ended')));
        // etcd creates the watchers of one stream in order, one response each
        for (let i = 0; i < watchers; i++) stream.write({ create_request: { key: prefix, range_end: Buffer.from(prefixRangeEnd(prefix)) } });
      });
    },
    close() {
      for (const s of streams) {
        try {
          s.cancel();
        } catch {
          // already gone
        }
      }
      client.close();
    },
  };
}
