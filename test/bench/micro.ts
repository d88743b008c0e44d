// Micro-benchmarks of the request hot paths (tinybench):
//   frame encode/decode (proto/frame.ts), request validation (proto/validate.ts), MVCC apply of puts in one LMDB
//   transaction (mvcc MvccTxn over storage openTables), range evaluation (mvcc range) for one key and a 100-key prefix.
//
//   npm run bench:micro [-- --time MS] [-- --filter TEXT] [-- -w json]
//
// Each task reports the time per operation (per frame, per put, per range): tasks that do a batch per iteration
// divide by the batch size.
//
// It lives in test/bench, not native-free-bench/: it measures the member's own code, LMDB (native) included. Only
// *.test.js files run as tests, so `npm test` does not run it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Bench } from 'tinybench';
import { Packr } from 'msgpackr';
import {
  decodeRequest,
  decodePut,
  encodeFrame,
  FrameDecoder,
  FrameKind,
  packr,
  prefixRangeEnd,
  unpackr,
  type KeyValue,
} from '../../src/proto/index.js';
import { MvccTxn, range, type MvccState } from '../../src/mvcc/index.js';
import { openTables } from '../../src/storage/index.js';
import { Ring } from '../../src/ring/index.js';
import { bootstrapEntries, decodeConfChange, encodeConfChange, EntryType, MemoryStorage, RawNode, type Message } from '../../src/raft/index.js';

/**
 * Three Raft nodes in memory with a synchronous "network": propose() puts one batch of entries on the leader and
 * pumps every Ready (persist to MemoryStorage, deliver messages, apply conf changes, advance) until all is quiet.
 */
function raftTrio(): { propose(batch: Uint8Array[]): void; committed(): number } {
  const ids = [1n, 2n, 3n];
  const boot = bootstrapEntries(ids.map((id) => ({ id, context: new Uint8Array() })), encodeConfChange);
  const nodes = new Map<bigint, { node: RawNode; storage: MemoryStorage }>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    storage.append(boot.entries.map((e) => ({ ...e })));
    storage.setHardState(boot.hardState);
    nodes.set(id, { node: new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage, applied: 0, confState: { voters: [], learners: [] }, maxInflightMsgs: 256, random: () => 0.5 }), storage });
  }
  const queue: Message[] = [];
  const pump = (): void => {
    for (;;) {
      let busy = false;
      for (const { node, storage } of nodes.values()) {
        if (!node.hasReady()) continue;
        busy = true;
        const rd = node.ready();
        storage.append(rd.entries);
        if (rd.hardState) storage.setHardState(rd.hardState);
        queue.push(...rd.messages);
        for (const e of rd.committedEntries) if (e.type === EntryType.ConfChange) node.applyConfChange(decodeConfChange(e.data));
        node.advance(rd);
      }
      while (queue.length > 0) {
        busy = true;
        const m = queue.shift()!;
        nodes.get(m.to)?.node.step(m);
      }
      if (!busy) return;
    }
  };
  const leader = nodes.get(1n)!.node;
  pump();
  leader.campaign();
  pump();
  if (!leader.isLeader) throw new Error('raft micro-benchmark: node 1 did not become leader');
  return {
    propose(batch) {
      for (const data of batch) leader.propose(data);
      pump();
    },
    committed: () => leader.raft.raftLog.committed,
  };
}

interface Options {
  timeMs: number;
  filter: string | null;
  output: 'simple' | 'json';
}

function parseOptions(argv: string[]): Options {
  const o: Options = { timeMs: 500, filter: null, output: 'simple' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--time') o.timeMs = Number(argv[++i]);
    else if (a === '--filter') o.filter = argv[++i] ?? null;
    else if (a === '-w') o.output = argv[++i] === 'json' ? 'json' : 'simple';
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: npm run bench:micro -- [--time MS per task, default 500] [--filter TEXT] [-w simple|json]\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!(o.timeMs > 0)) throw new Error('--time: want a positive number of milliseconds');
  return o;
}

const KEY_SIZE = 8;
const VALUE_SIZE = 256;
const KEYS = 10_000;
const key = (i: number): Buffer => Buffer.from(String(i).padStart(KEY_SIZE, '0'), 'latin1');
const value = Buffer.alloc(VALUE_SIZE, 'v');
const header = { cluster_id: 0xcdf818194e3a8c32n, member_id: 0x8e9e05c52164694dn, revision: 123456, raft_term: 2 };

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-ts-micro-'));
  const tables = openTables(path.join(dir, 'micro.mdb'));
  const state: MvccState = { revision: 1, compactRevision: -1 };
  let firstHistRevision = 0;

  // ---- fixtures ----
  // the key space: 10,000 keys of 8 bytes, plus a 100-key prefix "pfx/000".."pfx/099" among them
  tables.env.transactionSync(() => {
    for (let i = 0; i < KEYS; i++) {
      const t = new MvccTxn(tables, state);
      t.put({ key: key(i), value });
      t.end();
    }
    for (let i = 0; i < 100; i++) {
      const t = new MvccTxn(tables, state);
      t.put({ key: Buffer.from(`pfx/${String(i).padStart(3, '0')}`), value });
      t.end();
    }
    // one key with 1,001 versions, for reads at an old revision
    for (let i = 0; i <= 1000; i++) {
      const t = new MvccTxn(tables, state);
      t.put({ key: Buffer.from('hist/key'), value });
      if (i === 0) firstHistRevision = state.revision + 1;
      t.end();
    }
  });
  await tables.env.flushed;

  const putRequest = { method: 'Put', request: { key: key(42), value } };
  const rangeRequest = { method: 'Range', request: { key: key(42), serializable: true } };
  const putFrame = encodeFrame(FrameKind.Request, 7, putRequest);
  const rangeFrame = encodeFrame(FrameKind.Request, 7, rangeRequest);
  const putBody = unpackr.unpack(putFrame.subarray(12)) as { request: unknown };
  const rangeBody = unpackr.unpack(rangeFrame.subarray(12)) as { request: unknown };
  const kv: KeyValue = { key: key(42), create_revision: 2, mod_revision: 123456, version: 7, value, lease: 0n };
  const putResponse = { header };
  const rangeResponse = { header, kvs: [kv], more: false, count: 1 };
  const BATCH = 64;
  const putChunk = Buffer.concat(Array.from({ length: BATCH }, (_, i) => encodeFrame(FrameKind.Request, i + 1, putRequest)));
  const rangeResponseChunk = Buffer.concat(Array.from({ length: BATCH }, (_, i) => encodeFrame(FrameKind.Response, i + 1, rangeResponse)));
  let sink = 0;
  const decoder = new FrameDecoder(1 << 30, { frame: (_k, id, body) => { sink += id + (unpackr.unpack(body) as { method?: string }).toString().length; }, oversize: () => {} }, () => true);
  // the same work without unpacking, to separate the framing from msgpack
  const framingOnly = new FrameDecoder(1 << 30, { frame: (_k, id, body) => { sink += id + body.length; }, oversize: () => {} }, () => true);
  const plainPackr = new Packr({ useRecords: false });

  // log entries as the server writes them (server.persistPending): [term, id, method, request]
  const entryRequest = putBody.request;
  let nextKey = 0;
  const term = 2;

  const singleRange = { key: key(42), serializable: true };
  const prefixRange = { key: Buffer.from('pfx/'), range_end: prefixRangeEnd(Buffer.from('pfx/')), serializable: true };

  /** name -> operations per iteration */
  const perIteration = new Map<string, number>();
  const bench = new Bench({ time: o.timeMs, warmupTime: Math.min(200, o.timeMs), throws: true });
  const add = (name: string, ops: number, fn: () => void): void => {
    if (o.filter !== null && !name.includes(o.filter)) return;
    perIteration.set(name, ops);
    bench.add(name, fn);
  };

  add('frame encode: Put request (8 B key, 256 B value)', 1, () => {
    sink += encodeFrame(FrameKind.Request, 7, putRequest).length;
  });
  add('frame encode: Range request', 1, () => {
    sink += encodeFrame(FrameKind.Request, 7, rangeRequest).length;
  });
  add('frame encode: Put response (header with bigint ids)', 1, () => {
    sink += encodeFrame(FrameKind.Response, 7, putResponse).length;
  });
  add('frame encode: Range response, 1 kv of 256 B', 1, () => {
    sink += encodeFrame(FrameKind.Response, 7, rangeResponse).length;
  });
  add(`frame decode: header only, ${BATCH} Put requests per chunk`, BATCH, () => {
    framingOnly.push(putChunk);
  });
  add(`frame decode + unpack: ${BATCH} Put requests per chunk`, BATCH, () => {
    decoder.push(putChunk);
  });
  add(`frame decode + unpack: ${BATCH} Range responses per chunk (client side)`, BATCH, () => {
    decoder.push(rangeResponseChunk);
  });
  add('validate: decodeRequest Put', 1, () => {
    sink += decodeRequest('Put', putBody.request, 128).key.length;
  });
  add('validate: decodeRequest Range', 1, () => {
    sink += decodeRequest('Range', rangeBody.request, 128).key.length;
  });
  add('log entry encode: packr.pack([term, id, method, request]) + copy', 1, () => {
    sink += Buffer.from(packr.pack([term, 1, 'Put', entryRequest])).length;
  });
  add('log entry encode without the copy (plain Packr)', 1, () => {
    sink += plainPackr.pack([term, 1, 'Put', entryRequest]).length;
  });
  for (const batch of [1, 64, 1024]) {
    add(`mvcc apply: ${batch} put(s) in one transactionSync (as server.applyEntries)`, batch, () => {
      tables.env.transactionSync(() => {
        for (let i = 0; i < batch; i++) {
          const txn = new MvccTxn(tables, state);
          const req = decodePut({ key: key(nextKey++ % KEYS), value });
          txn.checkPut(req);
          sink += txn.put(req).header.revision;
          txn.end();
        }
        tables.meta.putSync('state', { applied: state.revision, revision: state.revision, compactRevision: -1, compactedPhysically: -1 });
      });
    });
  }
  const ring = Ring.create(1 << 16);
  const ringMessage = new Uint8Array(300).fill(7);
  add('ring: push + pop of one 300 B message (SharedArrayBuffer, same thread)', 1, () => {
    ring.push(ringMessage);
    sink += ring.pop()!.length;
  });
  add('ring: 64 pushes then 64 pops of 300 B messages', 64, () => {
    for (let i = 0; i < 64; i++) ring.push(ringMessage);
    for (let i = 0; i < 64; i++) sink += ring.pop()!.length;
  });
  const trio = raftTrio();
  const entry = new Uint8Array(300).fill(1);
  for (const batch of [1, 64]) {
    const entries = Array.from({ length: batch }, () => entry);
    add(`raft: ${batch} entr${batch === 1 ? 'y' : 'ies'} proposed, replicated and committed on 3 in-memory nodes (every Ready and message)`, batch, () => {
      trio.propose(entries);
      sink += trio.committed();
    });
  }
  add('mvcc range: single key (current revision)', 1, () => {
    sink += range(tables, state, singleRange).kvs.length;
  });
  add('mvcc range: 100-key prefix (current revision)', 1, () => {
    sink += range(tables, state, prefixRange).kvs.length;
  });
  add('mvcc range: single key at its newest revision via history (revision = current - 1)', 1, () => {
    sink += range(tables, state, { key: Buffer.from('hist/key'), revision: state.revision - 1 }).kvs.length;
  });
  add('mvcc range: single key at its oldest of 1,001 versions (history walk)', 1, () => {
    sink += range(tables, state, { key: Buffer.from('hist/key'), revision: firstHistRevision }).kvs.length;
  });

  await bench.run();
  await tables.env.flushed;
  await tables.env.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const rows = bench.tasks.map((t) => {
    const r = t.result;
    const ops = perIteration.get(t.name) ?? 1;
    if (r.state !== 'completed') return { task: t.name, error: r.state === 'errored' ? r.error.message : r.state };
    const nsPerOp = (r.latency.mean * 1e6) / ops;
    return {
      task: t.name,
      ns_per_op: Math.round(nsPerOp),
      ops_per_s: Math.round(1e9 / nsPerOp),
      rme_pct: Number(r.latency.rme.toFixed(1)),
      samples: r.latency.samplesCount,
    };
  });
  if (o.output === 'json') {
    process.stdout.write(JSON.stringify({ node: process.version, rows }) + '\n');
  } else {
    const width = Math.max(...rows.map((r) => r.task.length));
    process.stdout.write(`${'task'.padEnd(width)}  ${'ns/op'.padStart(10)}  ${'ops/s'.padStart(12)}  ±%\n`);
    for (const r of rows) {
      if ('error' in r) process.stdout.write(`${r.task.padEnd(width)}  ${r.error}\n`);
      else process.stdout.write(`${r.task.padEnd(width)}  ${String(r.ns_per_op).padStart(10)}  ${String(r.ops_per_s).padStart(12)}  ${r.rme_pct}\n`);
    }
  }
  if (sink === -1) process.stdout.write('\n'); // keeps the results observable, so no work is optimised away
}

main().catch((err: unknown) => {
  process.stderr.write(`micro: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
