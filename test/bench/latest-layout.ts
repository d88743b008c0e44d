// Current-revision read cost of the two `latest` layouts considered for storage format etcd-ts/4 (BENCHMARKS.md):
//   full   latest: user key -> the whole record (header + value); the value is stored twice (latest and history)
//   once   latest: user key -> header + sub (37 bytes); the value is read from history at (mod_revision, sub)
// 10,000 keys with 256-byte values, 5 versions each in history; single-key gets and 100-key ranges, decoded to
// KeyValue-shaped objects as src/mvcc/read.ts does. Runs each variant for about a second, alternating.
//
//   npx tsc -p tsconfig.json && node dist/test/bench/latest-layout.js [--dir DIR]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';

const KEYS = 10_000;
const VERSIONS = 5;
const dirIdx = process.argv.indexOf('--dir');
const ROOT = dirIdx >= 0 ? process.argv[dirIdx + 1]! : os.tmpdir();
const dir = fs.mkdtempSync(path.join(ROOT, 'etcd-ts-latest-layout-'));
const env = open({ path: path.join(dir, 'x.mdb'), compression: false, noMemInit: true, remapChunks: false });
const binary = { keyEncoding: 'binary' as const, encoding: 'binary' as const, compression: false };
const latestFull = env.openDB<Buffer, Buffer>({ name: 'latest-full', ...binary });
const latestOnce = env.openDB<Buffer, Buffer>({ name: 'latest-once', ...binary });
const history = env.openDB<Buffer, Buffer>({ name: 'history', ...binary });

const keyOf = (i: number): Buffer => Buffer.from(String(i).padStart(8, '0'));
const u64 = (b: Buffer, n: number, o: number): void => {
  b.writeUInt32BE(Math.floor(n / 2 ** 32), o);
  b.writeUInt32BE(n >>> 0, o + 4);
};
const r64 = (b: Buffer, o: number): number => b.readUInt32BE(o) * 2 ** 32 + b.readUInt32BE(o + 4);
function historyKey(rev: number, sub: number): Buffer {
  const k = Buffer.allocUnsafe(12);
  u64(k, rev, 0);
  k.writeUInt32BE(sub, 8);
  return k;
}
function header(rev: number, create: number, version: number, extra: number): Buffer {
  const h = Buffer.alloc(33 + extra);
  u64(h, create, 1);
  u64(h, rev, 9);
  u64(h, version, 17);
  return h;
}

let revision = 1;
env.transactionSync(() => {
  for (let v = 1; v <= VERSIONS; v++) {
    for (let i = 0; i < KEYS; i++) {
      const rev = ++revision;
      const key = keyOf(i);
      const value = Buffer.alloc(256, v);
      const record = Buffer.concat([header(rev, i + 2, v, 0), value]);
      const h = Buffer.allocUnsafe(4 + key.length + record.length);
      h.writeUInt32BE(key.length, 0);
      key.copy(h, 4);
      record.copy(h, 4 + key.length);
      history.putSync(historyKey(rev, 0), h);
      if (v === VERSIONS) {
        latestFull.putSync(key, record);
        const once = header(rev, i + 2, v, 4);
        once.writeUInt32BE(0, 33);
        latestOnce.putSync(key, once);
      }
    }
  }
});

interface Kv { key: Buffer; create_revision: number; mod_revision: number; version: number; value: Buffer }
function kvFull(key: Buffer, record: Buffer): Kv {
  return { key, create_revision: r64(record, 1), mod_revision: r64(record, 9), version: r64(record, 17), value: record.subarray(33) };
}
function kvOnce(key: Buffer, head: Buffer): Kv {
  const mod = r64(head, 9);
  const h = history.get(historyKey(mod, head.readUInt32BE(33)))!;
  return { key, create_revision: r64(head, 1), mod_revision: mod, version: r64(head, 17), value: h.subarray(4 + h.readUInt32BE(0) + 33) };
}

let sink = 0;
function getFull(i: number): void {
  const k = keyOf(i);
  const r = latestFull.get(k);
  if (r !== undefined) sink += kvFull(k, r).value.length;
}
function getOnce(i: number): void {
  const k = keyOf(i);
  const r = latestOnce.get(k);
  if (r !== undefined) sink += kvOnce(k, r).value.length;
}
function rangeFull(i: number): void {
  for (const { key, value } of latestFull.getRange({ start: keyOf(i), end: keyOf(i + 100) })) sink += kvFull(Buffer.from(key), value).value.length;
}
function rangeOnce(i: number): void {
  for (const { key, value } of latestOnce.getRange({ start: keyOf(i), end: keyOf(i + 100) })) sink += kvOnce(Buffer.from(key), value).value.length;
}

function rate(fn: (i: number) => void, ms: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let j = 0; j < 200; j++) fn(Math.floor(Math.random() * (KEYS - 100)));
    n += 200;
    t = performance.now();
    env.resetReadTxn();
  }
  return (n / (t - t0)) * 1000;
}

const rows: [string, (i: number) => void][] = [
  ['get  full', getFull],
  ['get  once', getOnce],
  ['range100 full', rangeFull],
  ['range100 once', rangeOnce],
];
const results = new Map<string, number[]>();
for (let round = 0; round < 3; round++) {
  for (const [name, fn] of rows) results.set(name, [...(results.get(name) ?? []), rate(fn, 300)]);
}
for (const [name, rs] of results) console.log(`${name.padEnd(14)} ${rs.map((r) => Math.round(r).toString().padStart(8)).join(' ')} ops/s (3 rounds)`);
const best = (name: string): number => Math.max(...results.get(name)!);
console.log(`value-once vs full: get ${((1 - best('get  once') / best('get  full')) * 100).toFixed(0)}% slower, range100 ${((1 - best('range100 once') / best('range100 full')) * 100).toFixed(0)}% slower (best rounds)`);
await env.close();
fs.rmSync(dir, { recursive: true, force: true });
if (sink < 0) console.log(sink);
