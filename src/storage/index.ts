// The LMDB environment of one member and its durability contract.
//
// Layout: <data-dir>/member/etcd-ts.mdb (+ its -lock file). Named databases:
//   meta     string keys -> msgpack: format marker, identity, applied index, mvcc state, raft hard state
//   log      8-byte big-endian index -> encoded entry (the write-ahead log every write goes through)
//   latest   user key -> record: the newest version of every live key (current-revision reads)
//   history  mvcc key (see mvcc/keys.ts) -> record: every retained version and tombstone (historical reads)
//
// Durability: entries are appended with asynchronous writes and are durable when `flushed` resolves; the state they
// produce is applied later in one synchronous transaction that also records the applied index. A crash between the
// two replays the log from the applied index, so nothing acknowledged is lost and nothing is applied twice.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { open, type Database, type RootDatabase } from 'lmdb';

export const STORAGE_FORMAT = 'etcd-ts/1';
const DB_FILE = 'etcd-ts.mdb';

export interface Storage {
  readonly dataDir: string;
  readonly dbPath: string;
  readonly env: RootDatabase;
  readonly meta: Database<any, string>;
  readonly log: Database<Buffer, Buffer>;
  readonly latest: Database<Buffer, Buffer>;
  readonly history: Database<Buffer, Buffer>;
  close(): Promise<void>;
}

export class StorageError extends Error {}

/** Options every thread must open the environment with, identically (lmdb-js shares one env per process). */
export function openTables(dbPath: string, readOnly = false): Omit<Storage, 'dataDir' | 'dbPath' | 'close'> {
  const env = open({ path: dbPath, readOnly, compression: false, noMemInit: true, remapChunks: false });
  const binary = { keyEncoding: 'binary' as const, encoding: 'binary' as const, compression: false };
  return {
    env,
    meta: env.openDB<any, string>({ name: 'meta', encoding: 'msgpack', compression: false }),
    log: env.openDB<Buffer, Buffer>({ name: 'log', ...binary }),
    latest: env.openDB<Buffer, Buffer>({ name: 'latest', ...binary }),
    history: env.openDB<Buffer, Buffer>({ name: 'history', ...binary }),
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

/**
 * Opens (or, when absent or empty, creates) a member's data directory. Refuses, without modifying anything, a
 * directory that is locked by a running member, unreadable, or not an etcd-ts data directory.
 */
export async function openStorage(dataDir: string): Promise<Storage> {
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
  const fresh = entries === null || entries.length === 0;
  if (!fresh) {
    try {
      fs.accessSync(memberDir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
      fs.accessSync(dbPath, fs.constants.R_OK | fs.constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new StorageError(`${absolute} is not an etcd-ts data directory (no member/${DB_FILE})`);
      throw new StorageError(`cannot access data directory ${absolute}: ${describe(err)}`);
    }
  } else {
    fs.mkdirSync(memberDir, { recursive: true, mode: 0o700 });
  }
  const realDir = fs.realpathSync(absolute);
  const lock = await lockDataDir(realDir);
  let tables: ReturnType<typeof openTables>;
  try {
    if (!fresh) {
      // Check the marker read-only first, so a foreign or corrupt file is never written to.
      const probe = openTables(dbPath, true);
      let format: unknown;
      try {
        format = probe.meta.get('format');
      } finally {
        await probe.env.close();
      }
      if (format !== STORAGE_FORMAT) {
        throw new StorageError(`${absolute} is not an etcd-ts data directory (format marker ${JSON.stringify(format ?? null)})`);
      }
    }
    tables = openTables(dbPath);
    if (fresh) tables.meta.putSync('format', STORAGE_FORMAT);
  } catch (err) {
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

/** What the apply transaction records with every batch (meta key 'state'). */
export interface PersistedState {
  /** last applied log index */
  applied: number;
  /** store revision */
  revision: number;
  /** compacted revision (-1 before any compaction, as etcd's compactMainRev) */
  compactRevision: number;
  /** compaction revision whose physical removal finished */
  compactedPhysically: number;
}

export const INITIAL_STATE: PersistedState = Object.freeze({ applied: 0, revision: 1, compactRevision: -1, compactedPhysically: -1 });

/** The state as of the caller's read snapshot: consistent with the key-space tables read in the same turn. */
export function readPersistedState(meta: Storage['meta']): PersistedState {
  return (meta.get('state') as PersistedState | undefined) ?? INITIAL_STATE;
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
export function databaseSize(storage: Pick<Storage, 'env' | 'dbPath' | 'meta' | 'log' | 'latest' | 'history'>): { size: number; inUse: number } {
  let size = 0;
  try {
    size = fs.statSync(storage.dbPath).size;
  } catch {
    size = 0;
  }
  const root = storage.env.getStats() as TreeStats;
  const pageSize = root.pageSize ?? 4096;
  let pages = 2 + pagesOf(root); // two meta pages, the catalogue of named databases
  for (const db of [storage.meta, storage.log, storage.latest, storage.history]) pages += pagesOf(db.getStats() as TreeStats);
  return { size, inUse: Math.min(size, pages * pageSize) };
}
