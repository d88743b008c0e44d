// Fuzzing the binary protocol: random frames, mutated valid frames, corrupt and truncated headers, huge declared
// lengths, random msgpack of random shapes, deep nesting and wrong field types, sent over several connections at once
// in random chunks. Every complete frame gets exactly one answer; a corrupt header closes only its connection; the
// member keeps serving and the data written before is intact. Seeded: SEED=n replays a run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client, prefixRangeEnd } from '../../src/client/index.js';
import { FrameDecoder, FrameKind } from '../../src/proto/index.js';
import { startChild, tempDir } from '../helpers/member.js';
import { frameHeader, RawConnection } from '../helpers/raw-connection.js';
import { hostileTail, randomFrame, simulateServer, writeTouches } from '../helpers/fuzz.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';

const REQUEST_BYTES_MAX = 100_000;
const TXN_OPS_MAX = 128;
const CONNECTIONS = 4;
const PROGRAMS_PER_CONNECTION = 60;
/** Stop early (but still check everything) if the machine is slow: the run stays a few seconds. */
const FUZZ_BUDGET_MS = 4_000;

const GUARD = 'guard/';
const guardLo = Buffer.from(GUARD);
const guardHi = Buffer.from(prefixRangeEnd(guardLo));

/** One connection's bytes: frames with increasing ids, regenerated until no accepted write touches the guard keys. */
function program(rng: Rng): { stream: Buffer; prediction: ReturnType<typeof simulateServer> } {
  for (;;) {
    const frames: Buffer[] = [];
    let id = 1;
    for (let n = 1 + rng.int(20); n > 0; n--) frames.push(randomFrame(rng, id++, REQUEST_BYTES_MAX));
    if (rng.int(3) === 0) frames.push(hostileTail(rng, id++, REQUEST_BYTES_MAX));
    for (let n = rng.int(3); n > 0; n--) frames.push(randomFrame(rng, id++, REQUEST_BYTES_MAX)); // after a bad tail: garbage
    const stream = Buffer.concat(frames);
    const prediction = simulateServer(stream, REQUEST_BYTES_MAX, TXN_OPS_MAX);
    if (!prediction.streams && !prediction.writes.some((w) => writeTouches(w, guardLo, guardHi))) return { stream, prediction };
  }
}

function checkAnswer(seed: number, where: string, kind: number, body: unknown): void {
  assert.ok(kind === FrameKind.Response || kind === FrameKind.Error, `seed ${seed} ${where}: frame kind ${kind}`);
  if (kind === FrameKind.Error) {
    const e = body as { code?: unknown; message?: unknown };
    assert.ok(Number.isInteger(e.code) && (e.code as number) > 0 && (e.code as number) <= 16, `seed ${seed} ${where}: error code ${String(e.code)}`);
    assert.equal(typeof e.message, 'string', `seed ${seed} ${where}: error message`);
    assert.notEqual(e.code, 13, `seed ${seed} ${where}: an internal error means input reached code that did not expect it: ${String(e.message)}`);
  } else {
    assert.ok(body !== null && typeof body === 'object' && 'header' in body, `seed ${seed} ${where}: a response has a header`);
  }
}

/** Sends a program in random chunks, letting the member read between some of them, and checks what comes back. */
interface Stats {
  closed: number;
  answers: Map<string, number>;
}

async function runProgram(endpoint: string, rng: Rng, seed: number, where: string, stats: Stats): Promise<void> {
  const { stream, prediction } = program(rng);
  const conn = await RawConnection.connect(endpoint);
  try {
    let at = 0;
    while (at < stream.length && !conn.socket.destroyed) {
      const size = rng.int(3) === 0 ? 1 + rng.int(16) : 1 + rng.int(stream.length);
      const chunk = stream.subarray(at, at + size);
      at += chunk.length;
      if (rng.int(3) === 0) {
        await conn.write(chunk).catch(() => {}); // the member may already have closed on a corrupt header
        await new Promise((r) => setImmediate(r));
      } else conn.socket.write(chunk);
    }
    if (prediction.closes) {
      await conn.closed; // the member closes a connection whose stream it cannot resynchronise
    } else {
      await conn.waitFrames(prediction.answered.length);
      assert.deepEqual(
        conn.frames.map((f) => f.requestId).sort((a, b) => a - b),
        [...prediction.answered].sort((a, b) => a - b),
        `seed ${seed} ${where}: one answer per complete frame`,
      );
      assert.equal(conn.socket.destroyed, false, `seed ${seed} ${where}: a well-framed stream keeps its connection`);
    }
    assert.equal(conn.serverProtocolError, null, `seed ${seed} ${where}: the member's own frames are well formed`);
    for (const f of conn.frames) {
      checkAnswer(seed, where, f.kind, f.body);
      const label = f.kind === FrameKind.Error ? `error ${(f.body as { code: number }).code}` : 'response';
      stats.answers.set(label, (stats.answers.get(label) ?? 0) + 1);
    }
    if (prediction.closes) stats.closed++;
  } finally {
    conn.close();
  }
}

test('fuzzing the binary protocol over several connections: the member keeps serving, data is intact', { timeout: 90_000 }, async (t) => {
  const seed = seedFromEnv();
  t.diagnostic(`seed ${seed} (SEED=${seed} replays)`);
  const root = tempDir('etcd-ts-fuzz-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const m = await startChild(['--max-request-bytes', String(REQUEST_BYTES_MAX), '--max-txn-ops', String(TXN_OPS_MAX)], path.join(root, 'data'));
  t.after(() => m.kill('SIGKILL'));

  // Data written before the fuzzing, with some history.
  const setup = new Client({ endpoints: [m.endpoint] });
  t.after(() => setup.destroy());
  for (let i = 0; i < 20; i++) await setup.put({ key: Buffer.from(`${GUARD}${i}`), value: Buffer.from(`value-${i}`) });
  await setup.put({ key: Buffer.from(`${GUARD}0`), value: Buffer.from('value-0-v2') });
  await setup.deleteRange({ key: Buffer.from(`${GUARD}19`) });
  const before = await setup.range({ key: guardLo, range_end: guardHi });
  assert.equal(before.kvs.length, 19);

  const started = performance.now();
  let programs = 0;
  const stats: Stats = { closed: 0, answers: new Map() };
  const master = new Rng(seed);
  const streams = Array.from({ length: CONNECTIONS }, () => new Rng(master.int(0x1_0000_0000)));
  await Promise.all(
    streams.map(async (rng, c) => {
      for (let p = 0; p < PROGRAMS_PER_CONNECTION && performance.now() - started < FUZZ_BUDGET_MS; p++) {
        try {
          await runProgram(m.endpoint, rng, seed, `connection ${c} program ${p}`, stats);
        } catch (err) {
          throw new Error(`${(err as Error).message}\nmember log (tail): ${m.stderr().slice(-3000)}`);
        }
        programs++;
      }
    }),
  );
  t.diagnostic(`${programs} programs, ${stats.closed} closed by a corrupt header; answers: ${[...stats.answers].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  assert.equal(m.child.exitCode, null, `seed ${seed}: the member is still running: ${m.stderr()}`);
  assert.doesNotMatch(m.stderr(), /stopped serving|unexpected error/, `seed ${seed}: no fatal error in the member's log`);

  // A fresh connection is served, reads and writes work, and the earlier data is exactly as it was.
  const after = new Client({ endpoints: [m.endpoint] });
  t.after(() => after.destroy());
  const status = await after.status();
  assert.equal(status.errors.length, 0, `seed ${seed}: status errors`);
  const now = await after.range({ key: guardLo, range_end: guardHi });
  assert.deepEqual(now.kvs, before.kvs, `seed ${seed}: the data written before the fuzzing is intact`);
  const put = await after.put({ key: Buffer.from('after-fuzz'), value: Buffer.from('ok') });
  const got = await after.get('after-fuzz');
  assert.equal(Buffer.from(got.kvs[0]!.value).toString(), 'ok');
  assert.equal(got.kvs[0]!.mod_revision, put.header.revision);
});

test('the frame decoder delivers the same frames however the stream is cut, paused and resumed', () => {
  const seed = seedFromEnv();
  const rng = new Rng(seed);
  const max = 300;
  for (let round = 0; round < 200; round++) {
    // frames within the limit and over it, bodies of every size around the boundaries
    const frames: Buffer[] = [];
    const expected: string[] = [];
    for (let id = 1, n = 1 + rng.int(8); id <= n; id++) {
      const length = rng.pick([0, 1, 11, 12, 13, max - 1, max, max + 1, 2 * max, rng.int(2 * max)]);
      const body = rng.bytes(length);
      frames.push(Buffer.concat([frameHeader(id, length), body]));
      expected.push(length > max ? `oversize ${id} ${length}` : `frame ${id} ${body.toString('hex')}`);
    }
    const stream = Buffer.concat(frames);
    const got: string[] = [];
    const decoder: FrameDecoder = new FrameDecoder(
      max,
      {
        frame: (_kind, id, body) => {
          got.push(`frame ${id} ${Buffer.from(body).toString('hex')}`);
          if (rng.int(3) === 0) decoder.pause();
        },
        oversize: (_kind, id, length) => got.push(`oversize ${id} ${length}`),
      },
      (kind) => kind === FrameKind.Request,
    );
    for (let at = 0; at < stream.length; ) {
      const size = 1 + rng.int(rng.int(2) === 0 ? 16 : stream.length);
      decoder.push(stream.subarray(at, at + size));
      at += size;
      if (rng.int(2) === 0) decoder.resume();
    }
    decoder.resume();
    while (got.length < expected.length && decoder.bufferedBytes > 0) decoder.resume();
    assert.deepEqual(got, expected, `seed ${seed} round ${round}`);
    assert.equal(decoder.bufferedBytes, 0);
  }
});
