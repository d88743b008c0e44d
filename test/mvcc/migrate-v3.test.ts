// Opening an etcd-ts/3 data directory migrates it to etcd-ts/4: every range at every retained revision and the event
// stream equal a model of the history written in the old layout (compacted and uncompacted, deletes, a tombstone at the
// compacted revision, leases), everything else in the directory is unchanged, and a migration killed after a chunk
// (ETCD_TS_FAILPOINTS=migration.chunk=crash@2) leaves an etcd-ts/3 directory whose next open migrates it completely.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compactionStep,
  COMPACTION_BEGIN,
  range,
  readEvents,
  recordAt,
  revisionOfKeyIndexKey,
  subOfKeyIndexValue,
  type CompactionPosition,
  type MvccState,
} from '../../src/mvcc/index.js';
import { openStorage, openTables, readStorageGeneration, STORAGE_FORMAT, type Storage } from '../../src/storage/index.js';
import { tempDir } from '../helpers/member.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';
import { byBytes, eventText, kvText, Model, modelEventText } from '../helpers/mvcc-model.js';
import { writeV3Directory, type V3Directory } from '../helpers/format-v3.js';

const KEYS = ['\0', 'a', 'b', 'c', 'c\0', 'c/1', 'd', 'k\0z', '\xff'];
const seed = seedFromEnv();
const child = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../helpers/migrate-child.js');

/** A random history of `revisions` revisions: 1-3 writes of distinct keys each, puts with and without a lease. */
function randomModel(rng: Rng, revisions: number): Model {
  const model = new Model(KEYS);
  while (model.revision < revisions) {
    const keys = [...KEYS].sort(() => rng.next() - 0.5).slice(0, 1 + rng.int(3));
    model.apply(keys.map((k) => (rng.chance(0.25) ? { del: k } : { put: k, value: `v${model.revision}-${rng.int(100)}`, lease: rng.chance(0.3) ? 7n : 0n })));
  }
  return model;
}

/** A compaction revision whose own writes include a delete (so a tombstone sits exactly at it). */
function compactionWithTombstone(model: Model, near: number): number {
  for (let r = near; r <= model.revision; r++) if (model.events.get(r)?.some((e) => e.type === 'DELETE')) return r;
  return near;
}

function checkAgainstModel(storage: Storage, model: Model, compactRevision: number, what: string): void {
  const state: MvccState = { revision: model.revision, compactRevision };
  const whole = { key: Buffer.from([0]), range_end: Buffer.from([0]) };
  for (let rev = Math.max(1, compactRevision); rev <= model.revision; rev++) {
    const expected = [...model.states[rev]!.values()].sort((x, y) => byBytes(x.key, y.key));
    const got = range(storage, state, { ...whole, revision: rev });
    assert.deepEqual(got.kvs.map((kv) => kvText(kv)), expected.map((kv) => kvText(kv)), `${what}: whole key space at ${rev} (seed ${seed})`);
    assert.equal(range(storage, state, { ...whole, revision: rev, count_only: true }).count, expected.length, `${what}: count at ${rev}`);
    const one = KEYS[rev % KEYS.length]!;
    const single = range(storage, state, { key: Buffer.from(one, 'latin1'), revision: rev, keys_only: true });
    assert.deepEqual(single.kvs.map((kv) => kvText(kv, true)), expected.filter((kv) => kv.key === one).map((kv) => kvText(kv, true)), `${what}: ${JSON.stringify(one)} at ${rev}`);
  }
  if (compactRevision > 1) assert.throws(() => range(storage, state, { ...whole, revision: compactRevision - 1 }), /compacted/);
  const from = Math.max(1, compactRevision);
  for (const withPrev of [false, true]) {
    const got = readEvents(storage, from, model.revision, Infinity, () => true, withPrev).events.map(eventText);
    const expected: string[] = [];
    for (let rev = from; rev <= model.revision; rev++) {
      for (const ev of model.events.get(rev) ?? []) {
        let prev = withPrev ? ev.prev : undefined;
        // the version before one at the compacted revision itself is superseded, compacted away
        if (rev === compactRevision) prev = undefined;
        expected.push(modelEventText(rev, ev, prev));
      }
    }
    assert.deepEqual(got, expected, `${what}: events from ${from}, prev_kv ${withPrev} (seed ${seed})`);
  }
  // every keyindex entry points at its record
  for (const { key, value } of storage.keyindex.getRange({})) {
    assert.ok(recordAt(storage, revisionOfKeyIndexKey(key), subOfKeyIndexValue(value)) !== undefined, `${what}: keyindex entry without its record`);
  }
}

function checkUnchanged(storage: Storage, dir: V3Directory): void {
  assert.equal(storage.meta.get('format'), STORAGE_FORMAT);
  for (const [k, v] of Object.entries(dir.meta)) if (k !== 'format') assert.deepEqual(storage.meta.get(k), v, `meta ${k} unchanged`);
  assert.deepEqual([...storage.leases.getRange({})].map(({ key, value }) => [Buffer.from(key), value]), dir.leases);
  assert.deepEqual([...storage.log.getRange({})].map(({ key, value }) => [Buffer.from(key), Buffer.from(value)]), dir.log);
  const names = [...storage.env.getKeys({})].map(String);
  assert.ok(!names.includes('history') && !names.includes('events'), `the etcd-ts/3 tables are gone (${names.join(', ')})`);
}

/** Compacts the migrated store further, in small steps, and checks the reads again. */
function compactFurther(storage: Storage, model: Model, revision: number): void {
  const tables = { env: storage.env, latest: storage.latest, history: storage.history, keyindex: storage.keyindex, storageGeneration: () => readStorageGeneration(storage.meta) };
  let position: CompactionPosition | null = COMPACTION_BEGIN;
  while (position !== null) position = compactionStep(tables, revision, position, 5).next;
  checkAgainstModel(storage, model, revision, `compacted at ${revision} after migration`);
}

for (const variant of [
  { name: 'never compacted', compaction: 'none' as const, eventsBelow: 0 },
  { name: 'compacted', compaction: 'mid' as const, eventsBelow: 0 },
  { name: 'compacted, its events phase unfinished', compaction: 'mid' as const, eventsBelow: 6 },
]) {
  test(`an etcd-ts/3 directory (${variant.name}) migrates to etcd-ts/4 on open (SEED=${seed})`, async (t) => {
    const root = tempDir();
    t.after(() => fs.rmSync(root, { recursive: true, force: true }));
    const rng = new Rng(seed);
    const model = randomModel(rng, 400);
    const compactRevision = variant.compaction === 'none' ? -1 : compactionWithTombstone(model, 150 + rng.int(100));
    const dir = await writeV3Directory(path.join(root, 'data'), model, compactRevision, variant.eventsBelow);
    const storage = await openStorage(dir.dataDir, { migrationChunkRecords: 50 });
    try {
      checkUnchanged(storage, dir);
      checkAgainstModel(storage, model, compactRevision, 'migrated');
      compactFurther(storage, model, model.revision - 20);
    } finally {
      await storage.close();
    }
  });
}

test(`a migration killed after its second chunk leaves etcd-ts/3; the next open migrates completely (SEED=${seed})`, async (t) => {
  const root = tempDir();
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const rng = new Rng(seed ^ 0x5a5a);
  const model = randomModel(rng, 300);
  const compactRevision = compactionWithTombstone(model, 120);
  const dir = await writeV3Directory(path.join(root, 'data'), model, compactRevision);
  const run = spawnSync(process.execPath, [child, dir.dataDir, '7'], { env: { ...process.env, ETCD_TS_FAILPOINTS: 'migration.chunk=crash@2' }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.signal, 'SIGKILL', `the child died at the failpoint (status ${run.status}, stderr ${run.stderr})`);
  assert.match(run.stderr, /migrating data directory from etcd-ts\/3 to etcd-ts\/5/); // straight to the current format
  assert.doesNotMatch(run.stdout, /opened/);
  const probe = openTables(path.join(dir.dataDir, 'member', 'etcd-ts.mdb'), true);
  try {
    assert.equal(probe.meta.get('format'), 'etcd-ts/3', 'the marker still says etcd-ts/3');
    assert.equal(probe.history.getCount({}), 14, 'two chunks of the new tables were built');
  } finally {
    await probe.env.close();
  }
  const storage = await openStorage(dir.dataDir, { migrationChunkRecords: 7 });
  try {
    checkUnchanged(storage, dir);
    checkAgainstModel(storage, model, compactRevision, 'migrated after a crash');
  } finally {
    await storage.close();
  }
  // and a migration that is not interrupted, in a process of its own, opens it fine afterwards (nothing to migrate)
  const again = spawnSync(process.execPath, [child, dir.dataDir, '7'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /opened/);
  assert.doesNotMatch(again.stderr, /migrating/);
});
