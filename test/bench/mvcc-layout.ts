// MVCC-level costs of the storage layout (BENCHMARKS.md, storage format etcd-ts/4), through src/mvcc itself so the same
// script runs on the code before and after a layout change:
//   reads   10,000 keys with 256-byte values (5 versions each): serializable single-key gets and 100-key ranges at the
//           current revision and at an older one, via range()
//   writes  batches of 16 puts of random keys through MvccTxn, one write transaction per batch
//   size    --size: 100,000 keys x 256 B x 5 versions written in transactions of 1,000 puts; the data file's size
//
//   npx tsc -p tsconfig.json && node dist/test/bench/mvcc-layout.js [--size] [--keep DIR]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MvccTxn, range, type MvccState } from '../../src/mvcc/index.js';
import { openStorage } from '../../src/storage/index.js';

const sizeMode = process.argv.includes('--size');
const keepIdx = process.argv.indexOf('--keep');
const root = keepIdx >= 0 ? process.argv[keepIdx + 1]! : fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-ts-mvcc-layout-'));
const storage = await openStorage(path.join(root, 'data'));
const state: MvccState = { revision: 1, compactRevision: -1 };
const keyOf = (i: number): Buffer => Buffer.from(String(i).padStart(8, '0'));
const value = Buffer.alloc(256, 'v');

function populate(keys: number, versions: number, perTxn: number): number {
  const t0 = performance.now();
  for (let v = 0; v < versions; v++) {
    for (let i = 0; i < keys; i += perTxn) {
      storage.env.transactionSync(() => {
        for (let j = i; j < Math.min(keys, i + perTxn); j++) {
          const txn = new MvccTxn(storage, state);
          txn.put({ key: keyOf(j), value });
          txn.end();
        }
      });
    }
  }
  return performance.now() - t0;
}

function rate(fn: () => void, ms: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let j = 0; j < 100; j++) fn();
    n += 100;
    t = performance.now();
    storage.env.resetReadTxn();
  }
  return (n / (t - t0)) * 1000;
}

if (sizeMode) {
  const ms = populate(100_000, 5, 1000);
  await storage.env.flushed;
  const stat = fs.statSync(storage.dbPath);
  const entries = (db: { getStats(): unknown }): number => (db.getStats() as { entryCount: number }).entryCount;
  console.log(JSON.stringify({ mode: 'size', puts: 500_000, ms: Math.round(ms), fileBytes: stat.size, fileMiB: +(stat.size / 2 ** 20).toFixed(1), latest: entries(storage.latest), history: entries(storage.history) }));
} else {
  populate(10_000, 5, 1000);
  const old = state.revision - 20_000; // a revision inside the third round of versions
  const rnd = (): number => Math.floor(Math.random() * 9_900);
  const rows: Record<string, () => void> = {
    'get current': () => range(storage, state, { key: keyOf(rnd()), serializable: true }),
    'range100 current': () => range(storage, state, { key: keyOf(rnd()), range_end: keyOf(rnd() + 100), serializable: true }),
    'range100 current keys_only': () => range(storage, state, { key: keyOf(rnd()), range_end: keyOf(rnd() + 100), keys_only: true }),
    'get old': () => range(storage, state, { key: keyOf(rnd()), revision: old }),
    'range100 old': () => range(storage, state, { key: keyOf(rnd()), range_end: keyOf(rnd() + 100), revision: old }),
  };
  // the same start for both ends of a range: a 100-key range
  rows['range100 current'] = () => { const i = rnd(); range(storage, state, { key: keyOf(i), range_end: keyOf(i + 100), serializable: true }); };
  rows['range100 current keys_only'] = () => { const i = rnd(); range(storage, state, { key: keyOf(i), range_end: keyOf(i + 100), keys_only: true }); };
  rows['range100 old'] = () => { const i = rnd(); range(storage, state, { key: keyOf(i), range_end: keyOf(i + 100), revision: old }); };
  const results: Record<string, number[]> = {};
  for (let round = 0; round < 3; round++) for (const [name, fn] of Object.entries(rows)) (results[name] ??= []).push(Math.round(rate(fn, 250)));
  // writes: 16 random puts per write transaction
  const writeRates: number[] = [];
  const writeCpu: number[] = [];
  for (let round = 0; round < 3; round++) {
    let batches = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    while (performance.now() - t0 < 400) {
      storage.env.transactionSync(() => {
        for (let j = 0; j < 16; j++) {
          const txn = new MvccTxn(storage, state);
          txn.put({ key: keyOf(Math.floor(Math.random() * 10_000)), value });
          txn.end();
        }
      });
      batches++;
    }
    writeRates.push(+((performance.now() - t0) / batches).toFixed(3));
    const cpu = process.cpuUsage(cpu0);
    writeCpu.push(+((cpu.user + cpu.system) / 1000 / batches).toFixed(3));
  }
  for (const [name, rs] of Object.entries(results)) console.log(`${name.padEnd(28)} ${rs.map((r) => String(r).padStart(8)).join(' ')} ops/s`);
  console.log(`${'16 random puts, ms/txn'.padEnd(28)} ${writeRates.map((r) => String(r).padStart(8)).join(' ')}`);
  console.log(`${'16 random puts, CPU ms/txn'.padEnd(28)} ${writeCpu.map((r) => String(r).padStart(8)).join(' ')}`);
}
await storage.close();
if (keepIdx < 0) fs.rmSync(root, { recursive: true, force: true });
