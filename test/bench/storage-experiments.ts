// Storage-level experiments behind BENCHMARKS.md "Why puts are slow": how the commit structure of the write path and
// the layout of the history table change the cost of a batch of puts. LMDB opened with the server's own options
// (storage openTables); batches run one after another (no pipelining), so compare the rows, not absolute rates.
//
//   npm run build && node dist/test/bench/storage-experiments.js [--batch N] [--batches N] [--dir DIR]
//
// It lives in test/bench, not native-free-bench/, because it needs LMDB (native); `npm test` does not run it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openTables } from '../../src/storage/index.js';

type Tables = ReturnType<typeof openTables>;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const BATCH = option('--batch', 64);
const BATCHES = option('--batches', 300);
const dirIdx = process.argv.indexOf('--dir');
const ROOT = dirIdx >= 0 ? process.argv[dirIdx + 1]! : os.tmpdir();

const value = Buffer.alloc(256 + 33, 'v'); // a 256-byte value plus the 33-byte record header
const userKey = (i: number): Buffer => Buffer.from(String(i % 10_000).padStart(8, '0'));
const randomKey = (): Buffer => userKey(Math.floor(Math.random() * 1e9));
let revision = 1;

function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n >>> 0, 4);
  return b;
}
/** history key as now: user key, terminator, inverted revision (newest first) */
function historyByKey(key: Buffer, rev: number): Buffer {
  return Buffer.concat([key, Buffer.from([0, 0]), u64(Number.MAX_SAFE_INTEGER - rev)]);
}

async function withTables<T>(fn: (t: Tables) => Promise<T> | T): Promise<T> {
  const dir = fs.mkdtempSync(path.join(ROOT, 'etcd-ts-storage-exp-'));
  const t = openTables(path.join(dir, 'x.mdb'));
  try {
    return await fn(t);
  } finally {
    await t.env.flushed;
    await t.env.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The MVCC work of one put, with sync (inside a transactionSync) or async lmdb-js writes. */
function applyPut(t: Tables, sync: boolean): void {
  const k = randomKey();
  t.latest.get(k);
  const h = historyByKey(k, revision++);
  if (sync) {
    t.latest.putSync(k, value);
    t.history.putSync(h, value);
  } else {
    void t.latest.put(k, value);
    void t.history.put(h, value);
  }
}

async function commitStrategies(): Promise<void> {
  const strategies: [string, (t: Tables) => Promise<number>][] = [
    ['A as the server: async log + flushed, then transactionSync apply', async (t) => {
      for (let i = 0; i < BATCH; i++) void t.log.put(u64(revision + i), value);
      await t.log.flushed;
      const s = performance.now();
      t.env.transactionSync(() => {
        for (let i = 0; i < BATCH; i++) applyPut(t, true);
        t.meta.putSync('state', { applied: revision });
      });
      return performance.now() - s;
    }],
    ['B log + apply in one transactionSync, then flushed', async (t) => {
      const s = performance.now();
      t.env.transactionSync(() => {
        for (let i = 0; i < BATCH; i++) t.log.putSync(u64(revision + i), value);
        for (let i = 0; i < BATCH; i++) applyPut(t, true);
        t.meta.putSync('state', { applied: revision });
      });
      const blocked = performance.now() - s;
      await t.env.flushed;
      return blocked;
    }],
    ['C log + apply as async puts in one batch, then flushed', async (t) => {
      const s = performance.now();
      for (let i = 0; i < BATCH; i++) void t.log.put(u64(revision + i), value);
      for (let i = 0; i < BATCH; i++) applyPut(t, false);
      void t.meta.put('state', { applied: revision });
      const blocked = performance.now() - s;
      await t.env.flushed;
      return blocked;
    }],
    ['D as A, the apply committed with MDB_NOSYNC', async (t) => {
      for (let i = 0; i < BATCH; i++) void t.log.put(u64(revision + i), value);
      await t.log.flushed;
      const s = performance.now();
      t.env.transactionSync(() => {
        for (let i = 0; i < BATCH; i++) applyPut(t, true);
        t.meta.putSync('state', { applied: revision });
      }, 3 | 0x10000);
      return performance.now() - s;
    }],
  ];
  process.stdout.write(`commit strategies, ${BATCH} puts per batch, ${BATCHES} batches one after another\n`);
  for (const [name, batch] of strategies) {
    await withTables(async (t) => {
      let blocked = 0;
      const t0 = performance.now();
      for (let b = 0; b < BATCHES; b++) blocked += await batch(t);
      const el = performance.now() - t0;
      process.stdout.write(
        `  ${name.padEnd(66)} ${String(Math.round((BATCH * BATCHES * 1000) / el)).padStart(7)} puts/s  ` +
          `${(el / BATCHES).toFixed(2)} ms per batch  main thread blocked ${((100 * blocked) / el).toFixed(0)} %\n`,
      );
    });
  }
}

async function historyLayouts(): Promise<void> {
  const layouts: [string, (t: Tables, k: Buffer) => void][] = [
    ['latest only', (t, k) => {
      t.latest.putSync(k, value);
      revision++;
    }],
    ['latest + history keyed (key, revision), as now', (t, k) => {
      t.latest.putSync(k, value);
      t.history.putSync(historyByKey(k, revision++), value);
    }],
    ['latest + history keyed by revision (append-only)', (t, k) => {
      t.latest.putSync(k, value);
      t.history.putSync(u64(revision++), value);
    }],
  ];
  process.stdout.write(`history layouts: one transactionSync of ${BATCH} random-key puts over 10,000 keys with 5 versions each\n`);
  for (const [name, put] of layouts) {
    await withTables((t) => {
      t.env.transactionSync(() => {
        for (let v = 0; v < 5; v++) for (let i = 0; i < 10_000; i++) put(t, userKey(i));
      });
      const t0 = performance.now();
      for (let b = 0; b < BATCHES; b++) {
        t.env.transactionSync(() => {
          for (let i = 0; i < BATCH; i++) put(t, randomKey());
        });
      }
      const el = performance.now() - t0;
      process.stdout.write(`  ${name.padEnd(50)} ${(el / BATCHES).toFixed(2)} ms per commit\n`);
    });
  }
}

await commitStrategies();
await historyLayouts();
