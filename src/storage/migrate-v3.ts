// Migration of an etcd-ts/3 data directory to etcd-ts/4, on open, crash-safely.
//
// etcd-ts/3 kept `history` keyed by (escaped user key, inverted revision) -> record and `events` (revision u64, index
// u32) -> user key. etcd-ts/4 keeps history keyed by (revision, sub) -> user key + record (LMDB name 'revisions') and
// `keyindex` (escaped user key, inverted revision) -> sub + tombstone flag: the old history key is exactly the new
// keyindex key, and the old event key exactly the new history key. `latest`, meta, the log and leases do not change.
//
// The new tables are built from the old ones in bounded write transactions (MIGRATION_CHUNK_RECORDS records); a final
// transaction sets the format marker and drops the old tables. Until then the marker says etcd-ts/3, so a kill -9 at
// any point leaves an etcd-ts/3 directory whose next open clears the half-built tables and migrates again.
//
// Below the compacted revision etcd-ts/3 has no events, while its history keeps per key the newest record <= C. So:
//   1. every event takes its sub from the event index and its record from old history (an event whose record is gone
//      is the delete at exactly C that compaction removed from history: it becomes a tombstone in history with no
//      keyindex entry, as etcd-ts/4's compaction leaves it);
//   2. every old history record not reached from an event (the compacted region) gets a sub of its own, unique in
//      its revision (from 2^31 up, above any real index within a revision).

import type { Database, RootDatabase } from 'lmdb';
import { MIGRATION_CHUNK_RECORDS, MIGRATION_PROGRESS_RECORDS } from '../config/limits.js';
import { invariant } from '../errors/index.js';
import { failpoint } from '../failpoints/index.js';
import {
  encodeRecord,
  escapedUserKeyOf,
  historyKey,
  historyValue,
  isTombstone,
  keyIndexKey,
  keyIndexValue,
  revisionOfHistoryKey,
  revisionOfKeyIndexKey,
  subOfHistoryKey,
  unescapeUserKey,
} from '../mvcc/index.js';

export const PREVIOUS_FORMAT = 'etcd-ts/3';

/** What the migration touches: the new tables as openTables gives them, and the environment holding the old ones. */
export interface MigrationTables {
  readonly env: RootDatabase;
  readonly meta: Database<any, string>;
  readonly history: Database<Buffer, Buffer>;
  readonly keyindex: Database<Buffer, Buffer>;
}

/** The etcd-ts/3 tables and key encodings (also what tests use to write an etcd-ts/3 directory). */
export const formatV3 = {
  /** old history key of (user key, revision): escaped key, terminator, inverted revision (= the keyindex key) */
  historyKey: (key: Uint8Array, revision: number): Buffer => keyIndexKey(key, revision),
  /** old event key of the index-th event of a revision (= the new history key) */
  eventKey: (revision: number, index: number): Buffer => historyKey(revision, index),
  openTables(env: RootDatabase): { history: Database<Buffer, Buffer>; events: Database<Buffer, Buffer> } {
    const binary = { keyEncoding: 'binary' as const, encoding: 'binary' as const, compression: false };
    return { history: env.openDB<Buffer, Buffer>({ name: 'history', ...binary }), events: env.openDB<Buffer, Buffer>({ name: 'events', ...binary }) };
  },
};

/** Subs given to records of the compacted region, which have no event index entry. */
const COMPACTED_SUB_BASE = 0x8000_0000;
const EMPTY = Buffer.alloc(0);

function log(msg: string, fields: Record<string, unknown>): void {
  process.stderr.write(JSON.stringify({ level: 'info', ts: new Date().toISOString(), caller: 'etcd-ts', msg, ...fields }) + '\n');
}

/**
 * Runs `write` over every entry of `source` in key order, `chunk` entries per write transaction (read inside it), with
 * failpoint('migration.chunk') after each commit. Returns the number of entries.
 */
function inChunks(env: RootDatabase, source: Database<Buffer, Buffer>, chunk: number, write: (key: Buffer, value: Buffer) => void, progress: (n: number) => void): number {
  let after: Buffer | null = null;
  let total = 0;
  for (;;) {
    let n = 0;
    let last: Buffer | null = null;
    env.transactionSync(() => {
      const options = after === null ? { limit: chunk } : { start: after, exclusiveStart: true, limit: chunk };
      for (const { key, value } of source.getRange(options)) {
        write(key, value);
        last = Buffer.from(key);
        n++;
      }
    });
    if (n === 0) return total;
    total += n;
    after = last;
    failpoint('migration.chunk');
    progress(n);
    if (n < chunk) return total;
  }
}

/** Migrates the environment's etcd-ts/3 tables to `format` (see the header). Call with the data directory locked. */
export async function migrateFromV3(tables: MigrationTables, dataDir: string, format: string, chunkRecords = MIGRATION_CHUNK_RECORDS): Promise<void> {
  invariant(chunkRecords >= 1, 'migration: chunk size must be positive');
  const { env, meta, history, keyindex } = tables;
  const old = formatV3.openTables(env);
  const started = Date.now();
  const oldRecords = old.history.getStats() as { entryCount?: number };
  log(`migrating data directory from ${PREVIOUS_FORMAT} to ${format}`, { 'data-dir': dataDir, 'history-records': oldRecords.entryCount ?? null });
  // A migration killed earlier left half-built tables: start over.
  env.transactionSync(() => {
    history.clearSync();
    keyindex.clearSync();
  });
  let done = 0;
  let reported = 0;
  const progress = (n: number): void => {
    done += n;
    if (done - reported >= MIGRATION_PROGRESS_RECORDS) {
      reported = done;
      log('migrating data directory', { 'data-dir': dataDir, 'records-done': done });
    }
  };

  // 1. Every event: its key from the event index, its record from old history.
  const events = inChunks(env, old.events, chunkRecords, (ekey, userKey) => {
    const revision = revisionOfHistoryKey(ekey);
    const record = old.history.get(formatV3.historyKey(userKey, revision));
    if (record === undefined) {
      const tombstone = encodeRecord({ tombstone: true, create_revision: 0, mod_revision: revision, version: 0, lease: 0n, value: EMPTY });
      history.putSync(Buffer.from(ekey), historyValue(userKey, tombstone));
      return;
    }
    history.putSync(Buffer.from(ekey), historyValue(userKey, record));
    keyindex.putSync(formatV3.historyKey(userKey, revision), keyIndexValue(subOfHistoryKey(ekey), isTombstone(record)));
  }, progress);

  // 2. Old history records no event reached: the compacted region.
  let nextSub = COMPACTED_SUB_BASE;
  const records = inChunks(env, old.history, chunkRecords, (hkey, record) => {
    if (keyindex.doesExist(hkey)) return;
    invariant(nextSub <= 0xffff_ffff, 'migration: too many records below the compacted revision');
    const sub = nextSub++;
    const revision = revisionOfKeyIndexKey(hkey);
    history.putSync(historyKey(revision, sub), historyValue(unescapeUserKey(escapedUserKeyOf(hkey)), record));
    keyindex.putSync(Buffer.from(hkey), keyIndexValue(sub, isTombstone(record)));
  }, progress);

  // 3. The switch: one transaction sets the marker and drops the old tables.
  env.transactionSync(() => {
    meta.putSync('format', format);
    old.history.dropSync();
    old.events.dropSync();
  });
  await env.flushed;
  log(`migrated data directory from ${PREVIOUS_FORMAT} to ${format}`, {
    'data-dir': dataDir,
    events,
    'history-records': records,
    'compacted-region-records': nextSub - COMPACTED_SUB_BASE,
    'took-ms': Date.now() - started,
  });
}
