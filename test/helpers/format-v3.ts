// Writes an etcd-ts/3 data directory directly, with the old layout and encodings (src/storage/migrate-v3.ts keeps
// them): latest user key -> record, history (escaped key, inverted revision) -> record, events (revision, index) ->
// user key. Compaction as etcd-ts/3 left it: below C per key only the newest record (none if it is a tombstone, a
// tombstone at C included), no events below C (or, with `eventsBelowCompaction`, the last few revisions' events still
// there, as a physical compaction interrupted in its events phase left them).

import fs from 'node:fs';
import path from 'node:path';
import { encodeRecord } from '../../src/mvcc/index.js';
import { formatV3, openTables } from '../../src/storage/index.js';
import { buf, type Model } from './mvcc-model.js';

export interface V3Directory {
  dataDir: string;
  /** raw meta records and other tables written besides the key space, to check they survive unchanged */
  meta: Record<string, unknown>;
  leases: [Buffer, unknown][];
  log: [Buffer, Buffer][];
}

export async function writeV3Directory(dataDir: string, model: Model, compactRevision: number, eventsBelowCompaction = 0): Promise<V3Directory> {
  fs.mkdirSync(path.join(dataDir, 'member'), { recursive: true, mode: 0o700 });
  const t = openTables(path.join(dataDir, 'member', 'etcd-ts.mdb'));
  const old = formatV3.openTables(t.env);
  const meta: Record<string, unknown> = {
    format: 'etcd-ts/3',
    state: { applied: 4242, revision: model.revision, compactRevision, compactedPhysically: compactRevision },
    identity: { cluster_id: '1', member_id: '2', name: 'm' },
    members: { '2': { id: '2', name: 'm', peerURLs: ['http://127.0.0.1:1'], clientURLs: [], binaryURLs: [], isLearner: false } },
  };
  const leases: [Buffer, unknown][] = [[Buffer.from('0000000000000007', 'hex'), { id: 7, ttl: 60 }]];
  const log: [Buffer, Buffer][] = [[Buffer.from('0000000000000001', 'hex'), Buffer.from('entry one')]];
  const final = model.states[model.revision]!;
  t.env.transactionSync(() => {
    for (const [k, v] of Object.entries(meta)) t.meta.putSync(k, v);
    for (const [k, v] of leases) t.leases.putSync(k, v);
    for (const [k, v] of log) t.log.putSync(k, v);
    for (const kv of final.values()) t.latest.putSync(buf(kv.key), encodeRecord({ ...kv, value: buf(kv.value) }));
    const byKey = new Map<string, typeof model.writes>();
    for (const w of model.writes) byKey.set(w.key, [...(byKey.get(w.key) ?? []), w]);
    for (const [, writes] of byKey) {
      const newestAtOrBelow = writes.filter((w) => w.revision <= compactRevision).at(-1);
      for (const w of writes) {
        if (!(w.revision > compactRevision || (w === newestAtOrBelow && !w.tombstone))) continue;
        const kv = model.states[w.revision]!.get(w.key);
        const record = w.tombstone || kv === undefined
          ? encodeRecord({ tombstone: true, create_revision: 0, mod_revision: w.revision, version: 0, lease: 0n, value: Buffer.alloc(0) })
          : encodeRecord({ ...kv, value: buf(kv.value) });
        old.history.putSync(formatV3.historyKey(buf(w.key), w.revision), record);
      }
    }
    for (const w of model.writes) {
      if (w.revision >= compactRevision - eventsBelowCompaction) old.events.putSync(formatV3.eventKey(w.revision, w.sub), buf(w.key));
    }
  });
  await t.env.close();
  return { dataDir, meta, leases, log };
}
