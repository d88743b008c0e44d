// The LMDB environment of one member and its durability contract.
//
// Layout: <data-dir>/member/etcd-ts.mdb (+ its -lock file). Named databases:
//   meta     string keys -> msgpack: format marker, identity, applied index, mvcc state, raft hard state
//   log      8-byte big-endian index -> encoded entry (the write-ahead log every write goes through)
//   latest   user key -> record: the newest version of every live key (current-revision reads)
//   history  (LMDB name 'revisions') (revision, sub) -> user key + record: every retained change in revision order,
//            appended at the end (watch catch-up reads it directly); see mvcc/encoding.ts
//   keyindex (escaped user key, inverted revision) -> sub + tombstone flag: per key, its retained versions, newest
//            first (historical reads and compaction). Kept in LMDB rather than in memory as etcd's treeIndex: worker
//            threads serve historical reads from LMDB directly and need the index there, and it costs no RSS and no
//            rebuild at start-up.
//   leases   lease ID -> lease record
//   auth     etcd's auth store (src/auth): its state record, users and roles, keyed and encoded by server/auth-table.ts
//
// `latest` keeps the whole record (the value is stored in history too): current reads then touch one table, which
// measured 25-30% faster for single-key gets than reading the value from history (BENCHMARKS.md).
//
// Durability: entries are appended with asynchronous writes and are durable when `flushed` resolves; the state they
// produce is applied later in one synchronous transaction that also records the applied index. A crash between the
// two replays the log from the applied index, so nothing acknowledged is lost and nothing is applied twice.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { open, type Database, type RootDatabase } from 'lmdb';
import { LMDB_MAP_BYTES } from '../config/limits.js';
import { migrateFromV3, PREVIOUS_FORMAT } from './migrate-v3.js';

/**
 * Version 2: the log holds Raft entries (term, type, data) and the meta table Raft's hard state and configuration.
 * Version 3: the events table (revision-ordered index for watch catch-up) and the leases table.
 * Version 4: history keyed by revision (LMDB name 'revisions') and the keyindex table replace history keyed by
 *   (key, revision) and the events table; an etcd-ts/3 directory is migrated on open (migrate-v3.ts).
 * Version 5: the auth table (users, roles, the enabled flag and the auth revision). An etcd-ts/4 directory becomes
 *   etcd-ts/5 on open (its auth table is created empty: auth disabled, as it was); an etcd-ts/3 one is migrated
 *   straight to etcd-ts/5. The marker changes so that an older etcd-ts refuses a directory whose auth it would
 *   silently drop (serving every key to anyone).
 */
export const STORAGE_FORMAT = 'etcd-ts/5';
/** The format before the auth table: opened and marked etcd-ts/5, nothing else to change. */
const FORMAT_WITHOUT_AUTH = 'etcd-ts/4';
const DB_FILE = 'etcd-ts.mdb';

export interface Storage {
  readonly dataDir: string;
  readonly dbPath: string;
  readonly env: RootDatabase;
  readonly meta: Database<any, string>;
  readonly log: Database<Buffer, Buffer>;
  readonly latest: Database<Buffer, Buffer>;
  readonly history: Database<Buffer, Buffer>;
  readonly keyindex: Database<Buffer, Buffer>;
  readonly leases: Database<any, Buffer>;
  readonly auth: Database<any, Buffer>;
  close(): Promise<void>;
}

export class StorageError extends Error {}

/** Options every thread must open the environment with, identically (lmdb-js shares one env per process). */
export function openTables(dbPath: string, readOnly = false): Omit<Storage, 'dataDir' | 'dbPath' | 'close'> {
  const env = open({ path: dbPath, readOnly, compression: false, noMemInit: true, remapChunks: false, mapSize: LMDB_MAP_BYTES });
  const binary = { keyEncoding: 'binary' as const, encoding: 'binary' as const, compression: false };
  return {
    env,
    meta: env.openDB<any, string>({ name: 'meta', encoding: 'msgpack', compression: false }),
    log: env.openDB<Buffer, Buffer>({ name: 'log', ...binary }),
    latest: env.openDB<Buffer, Buffer>({ name: 'latest', ...binary }),
    history: env.openDB<Buffer, Buffer>({ name: 'revisions', ...binary }),
    keyindex: env.openDB<Buffer, Buffer>({ name: 'keyindex', ...binary }),
    leases: env.openDB<any, Buffer>({ name: 'leases', keyEncoding: 'binary', encoding: 'msgpack', compression: false }),
    auth: env.openDB<any, Buffer>({ name: 'auth', keyEncoding: 'binary', encoding: 'msgpack', compression: false }),
  };
}

/**
 * Holds the data directory for this process: an abstract Unix socket named after the directory's real path. The
 * kernel releases it when the process dies (kill -9 included), so there is no stale lock file to guess about.
 */
async function lockDataDir(realDir: string): Promise<net.Server> {
  const name = '\0etcd-ts-lock-' + createHash('sha256').update(realDir).digest('hex').slice(0, 40);
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new StorageError(`data directory ${realDir} is in use by another etcd-ts member (locked)`));
      else reject(new StorageError(`cannot lock data directory ${realDir}: ${err.message}`));
    });
    server.listen(name, () => resolve());
  });
  server.unref();
  return server;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// LMDB's file header (mdb.c as built by lmdb-js): pages 0 and 1 are meta pages. Page header 24 bytes (page number,
// txnid, pad, flags at 18), then MDB_meta: magic at 24, version at 28, the free-space db record at 48 whose first
// field is the page size, the last used page at 144 and the meta's txnid at 152.
const LMDB_MAGIC = 0xbeefc0de;
const LMDB_DATA_VERSION = 2;
const LMDB_P_META = 0x08;
const LMDB_META_BYTES = 160;

/**
 * Checks that a file is an LMDB environment LMDB can open, before LMDB sees it: lmdb-js crashes the process (SIGSEGV
 * or SIGBUS) instead of returning an error when mdb_env_open fails or a meta page points past the end of the file.
 * Returns a reason to refuse, or null. (Damage inside the B-tree is beyond what a header check can see.)
 */
function lmdbFileProblem(file: string): string | null {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return 'the database file is empty';
    const head = Buffer.alloc(LMDB_META_BYTES);
    if (fs.readSync(fd, head, 0, LMDB_META_BYTES, 0) < LMDB_META_BYTES) return 'the database file is too short to be an LMDB file';
    const pageSize = head.readUInt32LE(48);
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return 'the database file is not an LMDB file';
    if (size < 2 * pageSize) return 'the database file is too short to be an LMDB file';
    let newest: { txnid: bigint; lastPage: bigint } | null = null;
    for (const page of [0, 1]) {
      const meta = Buffer.alloc(LMDB_META_BYTES);
      fs.readSync(fd, meta, 0, LMDB_META_BYTES, page * pageSize);
      if ((meta.readUInt16LE(18) & LMDB_P_META) === 0 || meta.readUInt32LE(24) !== LMDB_MAGIC) {
        return 'the database file is not an LMDB file (no LMDB meta page)';
      }
      if ((meta.readUInt32LE(28) & 0xffff) !== LMDB_DATA_VERSION) return `the database file has LMDB data version ${meta.readUInt32LE(28) & 0xffff}, not ${LMDB_DATA_VERSION}`;
      if (meta.readUInt32LE(48) !== pageSize) return 'the database file is damaged (its meta pages disagree on the page size)';
      const txnid = meta.readBigUInt64LE(152);
      if (newest === null || txnid > newest.txnid) newest = { txnid, lastPage: meta.readBigUInt64LE(144) };
    }
    if (newest !== null && (newest.lastPage + 1n) * BigInt(pageSize) > BigInt(size)) {
      return `the database file is truncated (${size} bytes, its last page ends at ${(newest.lastPage + 1n) * BigInt(pageSize)})`;
    }
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads the format marker without writing anything in the data directory: LMDB creates and initialises a lock file
 * next to the database even when opening it read-only, so the probe opens it through a symlink in a private temporary
 * directory, where that lock file goes. (Our own directory lock is held, so no etcd-ts member writes meanwhile.)
 */
async function readFormatMarker(dbPath: string): Promise<unknown> {
  const probeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-ts-probe-'));
  try {
    const link = path.join(probeDir, DB_FILE);
    fs.symlinkSync(dbPath, link);
    const probe = openTables(link, true);
    try {
      // read-only, lmdb-js gives no handle at all for a named database the file does not have
      const meta = probe.meta as Database<unknown, string> | undefined;
      return meta?.get('format');
    } finally {
      await probe.env.close();
    }
  } finally {
    fs.rmSync(probeDir, { recursive: true, force: true });
  }
}

/** An existing, non-empty data directory must hold member/etcd-ts.mdb, a regular file. */
function checkExisting(absolute: string, memberDir: string, dbPath: string): void {
  let st: fs.Stats;
  try {
    if (!fs.statSync(memberDir).isDirectory()) throw new StorageError(`${absolute} is not an etcd-ts data directory (member is not a directory)`);
    st = fs.statSync(dbPath);
  } catch (err) {
    if (err instanceof StorageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StorageError(`${absolute} is not an etcd-ts data directory (no member/${DB_FILE})`);
    throw new StorageError(`cannot access data directory ${absolute}: ${describe(err)}`);
  }
  if (!st.isFile()) throw new StorageError(`cannot open data directory ${absolute}: member/${DB_FILE} is not a regular file`);
  try {
    fs.accessSync(memberDir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
    fs.accessSync(dbPath, fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    throw new StorageError(`cannot access data directory ${absolute}: ${describe(err)}`);
  }
}

export interface OpenOptions {
  /** records per transaction when migrating an older format (tests make it small) */
  migrationChunkRecords?: number;
}

/**
 * Opens (or, when absent or empty, creates) a member's data directory. Refuses, without modifying anything, a
 * directory that is locked by a running member, unreadable, or not an etcd-ts data directory. An etcd-ts/3 directory
 * is migrated to the current format first (crash-safely: see migrate-v3.ts).
 */
export async function openStorage(dataDir: string, options: OpenOptions = {}): Promise<Storage> {
  const absolute = path.resolve(dataDir);
  let entries: string[] | null = null;
  try {
    const st = fs.statSync(absolute);
    if (!st.isDirectory()) throw new StorageError(`data directory ${absolute} exists and is not a directory`);
    entries = fs.readdirSync(absolute);
  } catch (err) {
    if (err instanceof StorageError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StorageError(`cannot read data directory ${absolute}: ${describe(err)}`);
  }
  const memberDir = path.join(absolute, 'member');
  const dbPath = path.join(memberDir, DB_FILE);
  let fresh = entries === null || entries.length === 0;
  if (!fresh) checkExisting(absolute, memberDir, dbPath);
  else {
    try {
      fs.mkdirSync(absolute, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StorageError(`cannot create data directory ${absolute}: ${describe(err)}`);
    }
  }
  // Lock before creating anything inside: two members started on one empty directory must not both initialise it.
  const realDir = fs.realpathSync(absolute);
  const lock = await lockDataDir(realDir);
  let tables: ReturnType<typeof openTables>;
  let migrate = false;
  let markOnly = false;
  try {
    if (fresh && fs.readdirSync(absolute).length > 0) {
      fresh = false; // filled between the first look and the lock
      checkExisting(absolute, memberDir, dbPath);
    }
    if (fresh) fs.mkdirSync(memberDir, { recursive: true, mode: 0o700 });
    else {
      // Check the file and then the marker, read-only, so a foreign or damaged file is never written to.
      const problem = lmdbFileProblem(dbPath);
      if (problem !== null) throw new StorageError(`cannot open data directory ${absolute}: member/${DB_FILE}: ${problem}`);
      const format = await readFormatMarker(dbPath);
      migrate = format === PREVIOUS_FORMAT;
      markOnly = format === FORMAT_WITHOUT_AUTH;
      if (format !== STORAGE_FORMAT && !migrate && !markOnly) {
        throw new StorageError(`${absolute} is not an etcd-ts data directory (format marker ${JSON.stringify(format ?? null)})`);
      }
    }
    tables = openTables(dbPath);
    if (fresh || markOnly) tables.meta.putSync('format', STORAGE_FORMAT);
  } catch (err) {
    lock.close();
    if (err instanceof StorageError) throw err;
    throw new StorageError(`cannot open data directory ${absolute}: ${describe(err)}`);
  }
  try {
    if (migrate) await migrateFromV3(tables, absolute, STORAGE_FORMAT, options.migrationChunkRecords);
  } catch (err) {
    await tables.env.close();
    lock.close();
    if (err instanceof StorageError) throw err;
    throw new StorageError(`cannot open data directory ${absolute}: ${describe(err)}`);
  }
  let closed = false;
  return {
    dataDir: absolute,
    dbPath,
    ...tables,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await tables.env.flushed;
      await tables.env.close();
      await new Promise<void>((resolve) => lock.close(() => resolve()));
    },
  };
}

export function logKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeUInt32BE(Math.floor(index / 0x1_0000_0000), 0);
  key.writeUInt32BE(index >>> 0, 4);
  return key;
}

export function logIndexOf(key: Buffer): number {
  return key.readUInt32BE(0) * 0x1_0000_0000 + key.readUInt32BE(4);
}

interface TreeStats {
  treeBranchPageCount?: number;
  treeLeafPageCount?: number;
  overflowPages?: number;
  pageSize?: number;
}

function pagesOf(stats: TreeStats): number {
  return (stats.treeBranchPageCount ?? 0) + (stats.treeLeafPageCount ?? 0) + (stats.overflowPages ?? 0);
}

/** Bytes of the database file, and of the pages holding live data (etcd's dbSize / dbSizeInUse). */
export function databaseSize(
  storage: Pick<Storage, 'env' | 'dbPath' | 'meta' | 'log' | 'latest' | 'history' | 'keyindex' | 'leases' | 'auth'>,
): { size: number; inUse: number } {
  let size = 0;
  try {
    size = fs.statSync(storage.dbPath).size;
  } catch {
    size = 0;
  }
  const root = storage.env.getStats() as TreeStats;
  const pageSize = root.pageSize ?? 4096;
  let pages = 2 + pagesOf(root); // two meta pages, the catalogue of named databases
  for (const db of [storage.meta, storage.log, storage.latest, storage.history, storage.keyindex, storage.leases, storage.auth]) pages += pagesOf(db.getStats() as TreeStats);
  return { size, inUse: Math.min(size, pages * pageSize) };
}
