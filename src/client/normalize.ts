// Widening of 64-bit IDs in responses, unary and streamed: msgpack carries small 64-bit integers as plain numbers,
// the schema types IDs as bigint (header IDs, lease IDs in key-values and lease responses, Status.leader, an
// election's LeaderKey), recursively through txn responses and watch events.

function toBigInt(v: unknown): unknown {
  return typeof v === 'number' ? BigInt(v) : v;
}

function normalizeKv(kv: unknown): void {
  if (kv !== null && typeof kv === 'object') (kv as { lease: unknown }).lease = toBigInt((kv as { lease: unknown }).lease ?? 0);
}

export function normalizeIds(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  const r = v as Record<string, unknown>;
  const h = r.header as Record<string, unknown> | undefined;
  if (h !== undefined && h !== null) {
    h.cluster_id = toBigInt(h.cluster_id ?? 0);
    h.member_id = toBigInt(h.member_id ?? 0);
  }
  if (Array.isArray(r.kvs)) r.kvs.forEach(normalizeKv);
  if (Array.isArray(r.prev_kvs)) r.prev_kvs.forEach(normalizeKv);
  if (r.prev_kv !== undefined) normalizeKv(r.prev_kv);
  if (r.leader !== undefined) r.leader = toBigInt(r.leader);
  if (r.leader !== null && typeof r.leader === 'object') normalizeKv(r.leader);
  if (r.kv !== undefined) normalizeKv(r.kv);
  if (r.ID !== undefined) r.ID = toBigInt(r.ID);
  if (Array.isArray(r.leases)) for (const l of r.leases as { ID: unknown }[]) l.ID = toBigInt(l.ID);
  if (Array.isArray(r.events)) {
    for (const ev of r.events as Record<string, unknown>[]) {
      normalizeKv(ev.kv);
      if (ev.prev_kv !== undefined) normalizeKv(ev.prev_kv);
    }
  }
  if (Array.isArray(r.responses)) {
    for (const op of r.responses as Record<string, unknown>[]) {
      for (const inner of Object.values(op)) normalizeIds(inner);
    }
  }
  return v;
}
