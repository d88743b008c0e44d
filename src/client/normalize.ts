// Widening of 64-bit IDs in stream responses (watch events, keepalives, election observations): msgpack carries
// small ones as plain integers, the schema types them as bigint.

function toBigInt(v: unknown): unknown {
  return typeof v === 'number' ? BigInt(v) : v;
}

function kv(v: unknown): void {
  if (v !== null && typeof v === 'object') (v as { lease: unknown }).lease = toBigInt((v as { lease: unknown }).lease ?? 0);
}

export function normalizeStreamResponse(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  const r = v as Record<string, unknown>;
  const h = r.header as Record<string, unknown> | undefined;
  if (h !== undefined && h !== null) {
    h.cluster_id = toBigInt(h.cluster_id ?? 0);
    h.member_id = toBigInt(h.member_id ?? 0);
  }
  if (Array.isArray(r.events)) {
    for (const ev of r.events as Record<string, unknown>[]) {
      kv(ev.kv);
      if (ev.prev_kv !== undefined) kv(ev.prev_kv);
    }
  }
  if (r.ID !== undefined) r.ID = toBigInt(r.ID);
  if (r.kv !== undefined) kv(r.kv);
  return v;
}
