// Physical compaction in a worker thread (--worker-threads > 0): while puts continue, a compaction superseded by a
// newer one and a compaction thread killed mid-step (after its deletes committed, before its result came back) still
// end with exactly etcd's retained history; no acknowledged write is lost, no read at a retained revision changes,
// reads below fail as compacted; and a compaction interrupted by closing the member completes after a restart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startInProcess, tempDir, type InProcessMember } from '../helpers/member.js';
import { putOp, delOp } from '../helpers/kv-builders.js';
import type { Client } from '../../src/client/index.js';
import {
  decodeRecord,
  escapedUserKeyOf,
  historyKey,
  keyIndexKey,
  recordAt,
  revisionOfHistoryKey,
  revisionOfKeyIndexKey,
  subOfHistoryKey,
  subOfKeyIndexValue,
  unescapeUserKey,
  userKeyOfHistoryValue,
} from '../../src/mvcc/index.js';
import { openTables, readPersistedState, type Storage } from '../../src/storage/index.js';
import { compactionChannel, MainThreadSteps, WorkerThreadSteps, type CompactionMessage } from '../../src/server/compactor.js';

const COMPACTED = 'etcdserver: mvcc: required revision has been compacted';
const KEYS = 30;
const keyOf = (i: number): string => `key/${String(i).padStart(3, '0')}`;
const FLAGS = ['--worker-threads', '1', '--experimental-compaction-batch-limit', '10'];

/** The whole key space at a revision, as comparable text (values, create/mod revisions, versions), or its error. */
async function snapshot(c: Client, revision: number): Promise<string> {
  try {
    const r = await c.range({ key: Buffer.from([0]), range_end: Buffer.from([0]), revision, serializable: true });
    return JSON.stringify(r.kvs.map((kv) => [Buffer.from(kv.key).toString(), Buffer.from(kv.value).toString(), String(kv.create_revision), String(kv.mod_revision), String(kv.version)]));
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

async function txn(c: Client, ops: ReturnType<typeof putOp>[]): Promise<number> {
  return Number((await c.txn({ success: ops })).header.revision);
}

/**
 * Long histories (more records per key than a compaction batch), and keys whose newest record <= the compaction is a
 * tombstone, so batches end inside keys and a lost batch matters. Returns [C1, C2, last revision].
 */
async function load(c: Client): Promise<[number, number, number]> {
  const all = Array.from({ length: KEYS }, (_, i) => i);
  for (let round = 1; round <= 20; round++) await txn(c, all.map((i) => putOp(keyOf(i), `r${round}`)));
  await txn(c, all.filter((i) => i % 3 === 0).map((i) => delOp(keyOf(i))));
  for (let round = 21; round <= 25; round++) await txn(c, all.filter((i) => i % 3 !== 0).map((i) => putOp(keyOf(i), `r${round}`)));
  const c1 = await txn(c, all.filter((i) => i % 3 !== 0).map((i) => putOp(keyOf(i), 'c1')));
  for (let round = 26; round <= 30; round++) await txn(c, all.filter((i) => i % 3 !== 0).map((i) => putOp(keyOf(i), `r${round}`)));
  await txn(c, all.filter((i) => i % 3 === 1).map((i) => delOp(keyOf(i))));
  const c2 = await txn(c, all.filter((i) => i % 3 === 2).map((i) => putOp(keyOf(i), 'c2')));
  let last = c2;
  for (let round = 31; round <= 35; round++) last = await txn(c, all.filter((i) => i % 3 === 2).map((i) => putOp(keyOf(i), `r${round}`)));
  return [c1, c2, last];
}

/** etcd's rule, checked on the LMDB tables: at or below C only each key's newest record, never a tombstone; no history below C that no version points at. */
function assertPhysicallyCompacted(storage: Storage, compactRevision: number): void {
  const atOrBelow = new Map<string, number[]>();
  const newest = new Map<string, number>();
  for (const { key, value: entry } of storage.keyindex.getRange({})) {
    const userKey = unescapeUserKey(escapedUserKeyOf(key)).toString();
    const revision = revisionOfKeyIndexKey(key);
    const value = recordAt(storage, revision, subOfKeyIndexValue(entry));
    assert.ok(value !== undefined, `${userKey}@${revision} has its history record`);
    if (!newest.has(userKey)) newest.set(userKey, revision);
    if (revision > compactRevision) continue;
    assert.equal(decodeRecord(value).tombstone, false, `tombstone ${userKey}@${revision} at or below ${compactRevision} is gone`);
    atOrBelow.set(userKey, [...(atOrBelow.get(userKey) ?? []), revision]);
  }
  for (const [userKey, revisions] of atOrBelow) assert.equal(revisions.length, 1, `${userKey} keeps one record at or below ${compactRevision}, has ${revisions.join(',')}`);
  // keys deleted at or below the compaction are gone entirely; the others keep exactly one version there
  for (let i = 0; i < KEYS; i++) {
    const records = atOrBelow.get(keyOf(i))?.length ?? 0;
    assert.equal(records, i % 3 === 2 ? 1 : 0, `${keyOf(i)} at or below ${compactRevision}`);
  }
  const orphans = [...storage.history.getRange({ end: historyKey(compactRevision, 0) })].filter(({ key, value }) => {
    const entry = storage.keyindex.get(keyIndexKey(userKeyOfHistoryValue(value), revisionOfHistoryKey(key)));
    return entry === undefined || subOfKeyIndexValue(entry) !== subOfHistoryKey(key);
  });
  assert.ok(orphans.length === 0, 'no history record below the compacted revision that no version points at');
}

/** Puts from several concurrent writers until stopped; each acknowledged put is remembered with its value. */
function startWriters(m: InProcessMember, writers: number): { stop(): Promise<void>; acked: Map<string, string>; ackedWhileCompacting: () => number } {
  const c = m.client();
  const acked = new Map<string, string>();
  let whileCompacting = 0;
  let stopped = false;
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let n = 0; !stopped; n++) {
      // new keys, and overwrites of a key this writer alone writes (its last acknowledged value must survive)
      const key = n % 2 === 0 ? `live/${w}/${n}` : `own/${w}`;
      const value = `w${w}-${n}`;
      await c.put({ key: Buffer.from(key), value: Buffer.from(value) });
      acked.set(key, value);
      if (m.member.server.compactor.running) whileCompacting++;
    }
  });
  return {
    acked,
    ackedWhileCompacting: () => whileCompacting,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

function listen(onMessage: (m: CompactionMessage) => void): () => void {
  const handler = (message: unknown): void => onMessage(message as CompactionMessage);
  compactionChannel.subscribe(handler);
  return () => compactionChannel.unsubscribe(handler);
}

test('compaction in a worker under writes: superseded, its thread killed mid-step, exactly the retained history survives', { timeout: 180_000 }, async (t) => {
  const m = await startInProcess(FLAGS);
  t.after(() => m.close());
  const server = m.member.server;
  const runner = server.compactor.runner;
  assert.ok(runner instanceof WorkerThreadSteps, 'with --worker-threads 1 compaction steps run in a worker thread');
  const c = m.client();
  const [c1, c2, last] = await load(c);
  const retained = [c2, c2 + 1, last];
  const before = new Map<number, string>();
  for (const r of retained) before.set(r, await snapshot(c, r));
  assert.ok(!(await snapshot(c, c1)).startsWith('error'), 'before compacting, C1 is readable');
  assert.ok(before.get(c2)!.includes(keyOf(2)) && !before.get(c2)!.includes(keyOf(1)), 'the snapshot at C2 shows live keys only');

  // C1 starts; after its first step the compactor is held while C2 is applied, so C2 supersedes C1 mid-scan. C2's
  // third step is killed after its deletes commit.
  const messages: CompactionMessage[] = [];
  let release: (() => void) | null = null;
  let heldAfterFirstStep!: () => void;
  const held = new Promise<void>((resolve) => (heldAfterFirstStep = resolve));
  let killed: Promise<void> | null = null;
  let c2Steps = 0;
  const unsubscribe = listen((msg) => {
    messages.push(msg);
    if (msg.event !== 'step') return;
    if (msg.revision === c1 && release === null) {
      release = server.compactor.holdForTest();
      heldAfterFirstStep();
    }
    if (msg.revision === c2 && ++c2Steps === 2) killed = runner.killDuringNextStepForTest();
  });
  t.after(unsubscribe);

  const writers = startWriters(m, 4);
  const physicalC1 = c.compact({ revision: c1, physical: true });
  await held;
  await c.compact({ revision: c2 }); // applied: the compaction to make physical is now C2
  release!();
  await physicalC1; // answered once C2, which covers C1, is physically done
  assert.ok(killed !== null, 'the kill was armed during C2');
  await killed;
  await writers.stop();

  assert.deepEqual(messages.filter((x) => x.event === 'done').map((x) => x.revision), [c2], 'C1 was superseded, C2 completed');
  assert.ok(messages.some((x) => x.event === 'retry' && x.revision === c2), 'the killed step was retried');
  assert.ok(server.compactor.stats.failures >= 1 && runner.threadsStarted >= 2, 'the killed thread was replaced');
  assert.ok(writers.ackedWhileCompacting() > 0, 'the main thread kept acknowledging puts during the compaction');
  t.diagnostic(`steps ${server.compactor.stats.steps}, removed ${server.compactor.stats.removed}, puts acknowledged while compacting ${writers.ackedWhileCompacting()}`);

  for (const r of retained) assert.equal(await snapshot(c, r), before.get(r), `the key space at retained revision ${r} is unchanged`);
  for (const r of [c1, c2 - 1, 1]) assert.equal(await snapshot(c, r), `error: ${COMPACTED}`, `revision ${r} is compacted`);
  for (const [key, value] of writers.acked) {
    const got = await c.range({ key: Buffer.from(key) });
    assert.equal(got.kvs[0] === undefined ? undefined : Buffer.from(got.kvs[0].value).toString(), value, `acknowledged put of ${key}`);
  }
  assertPhysicallyCompacted(m.member.storage, c2);
  assert.equal(readPersistedState(m.member.storage.meta).compactedPhysically, c2);
});

for (const [mode, flags] of [
  ['in a worker thread', FLAGS],
  ['on the main thread (--worker-threads 0)', ['--worker-threads', '0', '--experimental-compaction-batch-limit', '10']],
] as const) {
  test(`a compaction ${mode} interrupted by closing the member completes after a restart`, { timeout: 120_000 }, async (t) => {
    const dir = tempDir();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const dataDir = path.join(dir, 'data');
    const first = await startInProcess([...flags], dataDir);
    const expected = flags === FLAGS ? WorkerThreadSteps : MainThreadSteps;
    assert.ok(first.member.server.compactor.runner instanceof expected, `compaction steps run ${mode}`);
    let closed = false;
    t.after(() => (closed ? undefined : first.close()));
    const c = first.client();
    const [, c2, last] = await load(c);
    const before = await snapshot(c, last);

    let heldAfterFirstStep!: () => void;
    const held = new Promise<void>((resolve) => (heldAfterFirstStep = resolve));
    let holding = false;
    const unsubscribe = listen((msg) => {
      if (msg.event === 'step' && !holding) {
        holding = true;
        first.member.server.compactor.holdForTest();
        heldAfterFirstStep();
      }
    });
    const physical = c.compact({ revision: c2, physical: true }).then(
      () => 'answered',
      (err: Error) => err.message,
    );
    await held;
    unsubscribe();
    await first.close(); // must not hang on the held compaction
    closed = true;
    await physical; // answered or failed by the close; either way settled
    const offline = openTables(first.member.storage.dbPath, true);
    try {
      assert.ok(readPersistedState(offline.meta).compactedPhysically < c2, 'an unfinished compaction is not recorded as done');
    } finally {
      await offline.env.close();
    }

    let done!: (revision: number) => void;
    const completed = new Promise<number>((resolve) => (done = resolve));
    const stopListening = listen((msg) => {
      if (msg.event === 'done') done(msg.revision);
    });
    t.after(stopListening);
    const second = await startInProcess([...flags], dataDir);
    t.after(() => second.close());
    assert.equal(await completed, c2, 'the restarted member resumed and completed the compaction');
    assertPhysicallyCompacted(second.member.storage, c2);
    assert.equal(readPersistedState(second.member.storage.meta).compactedPhysically, c2);
    const c2nd = second.client();
    assert.equal(await snapshot(c2nd, last), before, 'the current key space is unchanged');
    assert.equal(await snapshot(c2nd, c2 - 1), `error: ${COMPACTED}`);
  });
}
