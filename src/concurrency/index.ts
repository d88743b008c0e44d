// clientv3/concurrency's protocol (etcd 3.4), written once: a lock or a candidacy is the key <prefix><lease ID in
// hex> attached to a session's lease; the holder or leader is the key with the lowest create revision under the
// prefix; waiting means watching for the deletion of the key just ahead. The member's Lock and Election services
// (src/server/concurrency.ts, as etcd's v3lock and v3election run it on an internal client) and etcdctl-ts's lock and
// elect commands (src/cli/etcdctl/concurrency.ts, as etcdctl runs it on clientv3) both use these steps, each over its
// own way to the key space: the requests are clientv3's, so the revisions they leave are etcd's.

import {
  CompareResult,
  CompareTarget,
  prefixRangeEnd,
  SortOrder,
  SortTarget,
  type KeyValue,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type TxnRequest,
  type TxnResponse,
} from '../proto/index.js';

/** The key space as a recipe sees it: etcd's KV requests plus "wait until this key is deleted". */
export interface RecipeKv {
  range(req: RangeRequest): Promise<RangeResponse>;
  txn(req: TxnRequest): Promise<TxnResponse>;
  /** resolves once `key` is deleted, watching from revision `rev`; rejects if the watch fails or is cancelled */
  waitDelete(key: Uint8Array, rev: number): Promise<void>;
}

/** Go's %x of an int64: a negative lease ID prints with a minus sign, as clientv3's fmt.Sprintf("%s%x") does. */
export function leaseHex(lease: bigint): string {
  const n = BigInt.asIntN(64, lease);
  return n < 0n ? '-' + (-n).toString(16) : n.toString(16);
}

/** <name>/: the prefix a lock or an election of this name keeps its keys under. */
export function recipePrefix(name: Uint8Array): Uint8Array {
  return Buffer.concat([name, Buffer.from('/')]);
}

/** The key a session's lease holds under a prefix. */
export function sessionKey(prefix: Uint8Array, lease: bigint): Uint8Array {
  return Buffer.concat([prefix, Buffer.from(leaseHex(lease))]);
}

/** clientv3's WithFirstCreate / WithLastCreate: the oldest (or newest) key under a prefix. */
export function byCreate(prefix: Uint8Array, order: number): RangeRequest {
  return { key: prefix, range_end: prefixRangeEnd(prefix), sort_target: SortTarget.CREATE, sort_order: order, limit: 1 };
}

function createRevisionIs(key: Uint8Array, revision: number): TxnRequest['compare'] {
  return [{ key, target: CompareTarget.CREATE, result: CompareResult.EQUAL, create_revision: revision }];
}

export interface Queued {
  /** the session's key under the prefix */
  key: Uint8Array;
  /** its create revision: its place in the queue */
  revision: number;
  /** the txn's answer */
  response: TxnResponse;
}

/**
 * Mutex.Lock's first request: puts the session's key unless it exists (a session that holds the lock already keeps
 * its place), and reads the current holder in the same txn. `held` when nobody is ahead.
 */
export async function lockEnqueue(kv: RecipeKv, prefix: Uint8Array, lease: bigint): Promise<Queued & { held: boolean }> {
  const key = sessionKey(prefix, lease);
  const owner = byCreate(prefix, SortOrder.ASCEND);
  const response = await kv.txn({
    compare: createRevisionIs(key, 0),
    success: [{ request_put: { key, lease } }, { request_range: owner }],
    failure: [{ request_range: { key } }, { request_range: owner }],
  });
  const revision = response.succeeded ? Number(response.header.revision) : Number(response.responses[0]!.response_range!.kvs[0]!.create_revision);
  const holder = response.responses[1]?.response_range?.kvs ?? [];
  return { key, revision, response, held: holder.length === 0 || Number(holder[0]!.create_revision) === revision };
}

/**
 * Election.Campaign's first request: puts the session's key with the candidate's value unless it exists. `existing`
 * is the key as it was when it did exist (the caller proclaims the new value if it differs).
 */
export async function campaignEnqueue(kv: RecipeKv, prefix: Uint8Array, lease: bigint, value: Uint8Array): Promise<Queued & { existing: KeyValue | null }> {
  const key = sessionKey(prefix, lease);
  const response = await kv.txn({
    compare: createRevisionIs(key, 0),
    success: [{ request_put: { key, value, lease } }],
    failure: [{ request_range: { key } }],
  });
  if (response.succeeded) return { key, revision: Number(response.header.revision), response, existing: null };
  const existing = response.responses[0]!.response_range!.kvs[0]!;
  return { key, revision: Number(existing.create_revision), response, existing };
}

/**
 * clientv3's waitDeletes: resolves once no key under the prefix has a create revision at or below `maxCreateRevision`,
 * with the header of the last range (the one that found nobody ahead).
 */
export async function waitDeletes(kv: RecipeKv, prefix: Uint8Array, maxCreateRevision: number): Promise<ResponseHeader> {
  for (;;) {
    const r = await kv.range({ ...byCreate(prefix, SortOrder.DESCEND), max_create_revision: maxCreateRevision });
    const ahead = r.kvs[0];
    if (ahead === undefined) return r.header;
    await kv.waitDelete(ahead.key, Number(r.header.revision));
  }
}

/** Election.Proclaim's txn: a new value for the leader's key, if it is still the key created at `revision`. */
export function proclaim(kv: RecipeKv, key: Uint8Array, revision: number, lease: bigint, value: Uint8Array): Promise<TxnResponse> {
  return kv.txn({ compare: createRevisionIs(key, revision), success: [{ request_put: { key, value, lease } }] });
}

/** Election.Resign's txn: deletes the leader's key, if it is still the key created at `revision`. */
export function resign(kv: RecipeKv, key: Uint8Array, revision: number): Promise<TxnResponse> {
  return kv.txn({ compare: createRevisionIs(key, revision), success: [{ request_delete_range: { key } }] });
}
