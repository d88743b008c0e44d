// Unit tests of the linearizability checker (test/helpers/linearizability.ts) on hand-written histories, good and
// bad; on random histories generated from a sequential model with random concurrency, which must pass, and must
// mostly fail with one read changed; against a brute-force search on tiny random histories; and for speed on a few
// thousand operations on one key. SEED=n replays the random ones.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory, type KvOperation } from '../helpers/linearizability.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';

const U = Infinity; // return time of an operation whose outcome is unknown

const put = (clientId: number, value: string, call: number, ret: number, key = 'x'): KvOperation => ({ clientId, key, kind: 'put', input: value, output: null, call, return: ret });
const get = (clientId: number, value: string | null, call: number, ret: number, key = 'x'): KvOperation => ({ clientId, key, kind: 'get', input: null, output: value, call, return: ret });
const cas = (clientId: number, expected: string | null, value: string, succeeded: boolean, call: number, ret: number, key = 'x'): KvOperation => ({
  clientId,
  key,
  kind: 'cas',
  input: { expected, value },
  output: succeeded,
  call,
  return: ret,
});
const del = (clientId: number, deleted: boolean, call: number, ret: number, key = 'x'): KvOperation => ({ clientId, key, kind: 'delete', input: null, output: deleted, call, return: ret });
const at = (op: KvOperation, revision: number): KvOperation => ({ ...op, revision });

function assertLinearizable(history: KvOperation[], what: string): void {
  const r = checkHistory(history);
  assert.ok(r.ok, `${what} should be linearizable:\n${r.explanation}`);
}

function assertViolation(history: KvOperation[], what: string): string {
  const r = checkHistory(history);
  assert.ok(!r.ok && r.timedOut !== true, `${what} should not be linearizable (${r.explanation})`);
  return r.explanation;
}

test('linearizable histories pass: sequential, overlapping, and with outcomes unknown', () => {
  assertLinearizable([], 'the empty history');
  assertLinearizable([get(1, null, 0, 1), put(1, 'a', 2, 3), get(2, 'a', 4, 5), del(1, true, 6, 7), get(2, null, 8, 9), del(2, false, 10, 11)], 'a sequential history');
  // a read overlapping a write may see either value; one that starts after another read saw the write must see it
  assertLinearizable([put(1, 'a', 0, 10), get(2, 'a', 1, 2), get(3, null, 1, 4), get(3, 'a', 5, 6)], 'reads overlapping a write');
  // two overlapping writes may take effect in either order, even against their call order
  assertLinearizable([put(1, 'a', 0, 10), put(2, 'b', 1, 9), get(3, 'b', 11, 12)], 'overlapping writes, the one called last wins');
  assertLinearizable([put(1, 'a', 0, 10), put(2, 'b', 1, 9), get(3, 'a', 11, 12)], 'overlapping writes, the one called first wins');
  // overlapping compare-and-sets: exactly one wins
  assertLinearizable([put(1, 'a', 0, 1), cas(2, 'a', 'b', false, 2, 6), cas(3, 'a', 'c', true, 3, 5), get(1, 'c', 7, 8)], 'one of two cas wins');
  assertLinearizable([cas(1, null, 'a', true, 0, 1), cas(2, null, 'b', false, 2, 3), get(2, 'a', 4, 5)], 'cas on an absent key');
  // writes whose answer was lost: they took effect, or did not, or took effect much later
  assertLinearizable([put(1, 'a', 0, 1), put(2, 'b', 2, U), get(3, 'b', 5, 6), get(3, 'b', 7, 8)], 'a lost write that took effect');
  assertLinearizable([put(1, 'a', 0, 1), put(2, 'b', 2, U), get(3, 'a', 5, 6), get(3, 'a', 7, 8)], 'a lost write that did not take effect');
  assertLinearizable([put(1, 'a', 0, 1), put(2, 'b', 2, U), get(3, 'a', 50, 60), get(3, 'b', 70, 80)], 'a lost write that took effect late');
  assertLinearizable([put(1, 'a', 0, 1), cas(2, 'a', 'b', false, 2, U), get(3, 'b', 5, 6)], 'a lost cas (its output is ignored) that took effect');
  assertLinearizable([put(1, 'a', 0, 1), del(2, false, 2, U), get(3, null, 5, 6), put(3, 'c', 7, 8), get(3, 'c', 9, 10)], 'a lost delete that took effect');
  assertLinearizable([put(1, 'a', 0, 1), get(2, 'zzz', 2, U), get(3, 'a', 5, 6)], 'a lost read shows nothing');
  // each key's order is found on its own
  assertLinearizable([put(1, 'a', 0, 10, 'x'), put(4, 'b', 0, 10, 'y'), get(2, 'a', 1, 2, 'x'), get(2, null, 3, 4, 'y'), get(3, 'a', 3, 4, 'x'), get(3, 'b', 5, 6, 'y')], 'two keys');
  // equal timestamps count as overlapping
  assertLinearizable([put(1, 'a', 0, 5), get(2, null, 5, 6)], 'a read called when the write returned');
});

test('histories that are not linearizable fail, with an explanation naming the key and the operation', () => {
  const stale = assertViolation([put(1, 'a', 0, 1), put(1, 'b', 2, 3), get(2, 'a', 4, 5)], 'a stale read after a completed write');
  assert.match(stale, /key "x"/);
  assert.match(stale, /#2 client 2 get -> "a"/, stale);
  assertViolation([put(1, 'a', 0, 1), get(2, 'never', 2, 3)], 'a read of a value never written');
  assertViolation([get(2, 'early', 0, 1), put(1, 'early', 2, 3)], 'a read of a value before its write began');
  assertViolation(
    [put(1, 'a', 0, 10), put(2, 'b', 0, 10), get(3, 'a', 1, 2), get(3, 'b', 3, 4), get(4, 'b', 1, 2), get(4, 'a', 3, 4)],
    'two readers seeing two writes in opposite orders',
  );
  assertViolation([put(1, 'a', 0, 1), put(2, 'b', 2, 3), get(3, 'b', 4, 5), get(3, 'a', 6, 7)], 'an acknowledged write visible, then lost');
  assertViolation([put(1, 'a', 0, 1), put(2, 'b', 2, U), get(3, 'b', 4, 5), get(3, 'a', 6, 7)], 'a write with unknown outcome visible, then lost');
  assertViolation([put(1, 'a', 0, 1), cas(2, 'a', 'b', true, 2, 5), cas(3, 'a', 'c', true, 3, 6)], 'two cas on the same value both succeeding');
  assertViolation([put(1, 'a', 0, 1), cas(2, 'a', 'b', false, 2, 3)], 'a cas failing although the value matched');
  assertViolation([put(1, 'a', 0, 1), del(2, false, 2, 3)], 'a delete finding nothing to delete');
  assertViolation([put(1, 'a', 0, 1), del(2, true, 2, 3), get(3, 'a', 4, 5)], 'a read of a deleted value');
  assertViolation([put(1, 'a', 0, 1, 'y'), get(2, 'a', 2, 3, 'y'), get(2, 'a', 4, 5, 'x')], 'a value of one key read from another');
});

test('the report shows the shortest failing prefix, the partial order and the candidates', () => {
  const history = [put(1, 'a', 0, 1), put(2, 'b', 2, 3), get(3, 'b', 4, 5), put(1, 'c', 6, 7), get(2, 'a', 8, 9), get(3, 'c', 10, 11), put(1, 'd', 12, 13), get(2, 'd', 14, 15)];
  const explanation = assertViolation(history, 'a lost write');
  assert.match(explanation, /shortest failing prefix is the 5 operations called by 9\.000 ms/, explanation);
  assert.match(explanation, /#4 client 2 get -> "a" \[8\.000 ms \.\. 9\.000 ms\]/, explanation);
  assert.match(explanation, /places the most operations with known outcome \(4 in all\)/, explanation);
  assert.match(explanation, /Then the value is "c"/, explanation);
});

test('revisions that contradict real time or the values read fail', () => {
  assert.ok(checkHistory([at(put(1, 'a', 0, 1), 5), at(put(1, 'b', 2, 3), 6), at(get(2, 'b', 4, 5), 6)]).ok);
  const backwards = checkHistory([at(put(1, 'a', 0, 1), 5), at(put(1, 'b', 2, 3), 4), at(get(2, 'b', 4, 5), 4)]);
  assert.ok(!backwards.ok && /contradict real time/.test(backwards.explanation), backwards.explanation);
  const wrongValue = checkHistory([at(put(1, 'a', 0, 1), 5), at(put(1, 'b', 2, 3), 6), at(get(2, 'b', 4, 5), 5)]);
  assert.ok(!wrongValue.ok && /read mod_revision 5/.test(wrongValue.explanation), wrongValue.explanation);
  const twice = checkHistory([at(put(1, 'a', 0, 1), 5), at(put(1, 'b', 2, 3), 5)]);
  assert.ok(!twice.ok && /both claim revision 5/.test(twice.explanation), twice.explanation);
  assert.ok(checkHistory([at(put(1, 'a', 0, 1), 5), at(put(1, 'b', 2, 3), 4)], { revisions: false }).ok);
});

// ---- random histories -------------------------------------------------------------------------------------

interface GenOptions {
  keys: number;
  clients: number;
  opsPerClient: number;
  /** chance that an operation's answer is lost (it then takes effect or not, half and half) */
  unknownRate: number;
  /** longest operation, in ms; durations are skewed short */
  maxDuration: number;
}

interface Planned {
  clientId: number;
  key: string;
  kind: KvOperation['kind'];
  call: number;
  ret: number;
  /** when it takes effect */
  point: number;
  unknown: boolean;
  effect: boolean;
}

/**
 * Each client issues operations one after another with random durations; every operation takes effect at a random
 * instant within its interval (one whose answer is lost: at some instant after its call, or never). Applying them
 * in the order of those instants to a sequential register gives the outputs, so the history is linearizable.
 */
function generate(rng: Rng, o: GenOptions): KvOperation[] {
  const planned: Planned[] = [];
  for (let clientId = 1; clientId <= o.clients; clientId++) {
    let t = rng.next() * 5;
    for (let k = 0; k < o.opsPerClient; k++) {
      const duration = 0.05 + rng.next() * rng.next() * o.maxDuration;
      const unknown = rng.chance(o.unknownRate);
      const r = rng.next();
      const kind = r < 0.45 ? 'get' : r < 0.7 ? 'put' : r < 0.95 ? 'cas' : 'delete';
      const point = t + rng.next() * duration * (unknown ? 4 : 1);
      planned.push({ clientId, key: `k${rng.int(o.keys)}`, kind, call: t, ret: t + duration, point, unknown, effect: !unknown || rng.chance(0.5) });
      t += duration + rng.next() * 2;
    }
  }
  planned.sort((a, b) => a.point - b.point);
  const state = new Map<string, string | null>();
  const written = new Map<string, string[]>();
  let serial = 0;
  return planned.map((p) => {
    const current = state.get(p.key) ?? null;
    const values = written.get(p.key) ?? [];
    written.set(p.key, values);
    const base = { clientId: p.clientId, key: p.key, call: p.call, return: p.unknown ? Infinity : p.ret };
    const write = (v: string | null): void => {
      if (p.effect) state.set(p.key, v);
    };
    switch (p.kind) {
      case 'get':
        return { ...base, kind: 'get', input: null, output: current };
      case 'put': {
        const value = `v${serial++}`;
        values.push(value);
        write(value);
        return { ...base, kind: 'put', input: value, output: null };
      }
      case 'cas': {
        const value = `v${serial++}`;
        const expected = rng.chance(0.6) || values.length === 0 ? current : rng.chance(0.2) ? null : rng.pick(values);
        values.push(value);
        if (current === expected) write(value);
        return { ...base, kind: 'cas', input: { expected, value }, output: current === expected };
      }
      default:
        write(null);
        return { ...base, kind: 'delete', input: null, output: current !== null };
    }
  });
}

/** The history with one completed read changed to another value written to its key (or absent), or null. */
function mutateOneRead(rng: Rng, history: KvOperation[]): KvOperation[] | null {
  const reads = history.map((op, i) => ({ op, i })).filter(({ op }) => op.kind === 'get' && op.return !== Infinity);
  if (reads.length === 0) return null;
  const { op, i } = rng.pick(reads);
  const choices = [null, ...history.filter((w) => w.key === op.key && (w.kind === 'put' || w.kind === 'cas')).map((w) => (w.kind === 'put' ? w.input : w.kind === 'cas' ? w.input.value : null))].filter(
    (v) => v !== op.output,
  );
  if (choices.length === 0) return null;
  const mutated = [...history];
  mutated[i] = { ...op, kind: 'get', input: null, output: rng.pick(choices) };
  return mutated;
}

test('random histories from a sequential model pass; with one read changed they mostly fail', (t) => {
  const seed = seedFromEnv();
  const rng = new Rng(seed);
  let mutated = 0;
  let caught = 0;
  let operations = 0;
  for (let round = 0; round < 300; round++) {
    const history = generate(rng, { keys: 1 + rng.int(3), clients: 2 + rng.int(6), opsPerClient: 10 + rng.int(50), unknownRate: rng.pick([0, 0.02, 0.1]), maxDuration: rng.pick([1, 5, 20]) });
    operations += history.length;
    const r = checkHistory(history);
    assert.ok(r.ok, `round ${round}, SEED=${seed}: a generated history failed:\n${r.explanation}`);
    const bad = mutateOneRead(rng, history);
    if (bad === null) continue;
    mutated++;
    const m = checkHistory(bad);
    assert.ok(m.timedOut !== true, `SEED=${seed}: the check timed out`);
    if (!m.ok) caught++;
  }
  assert.ok(mutated >= 250 && caught >= mutated * 0.6, `SEED=${seed}: only ${caught} of ${mutated} mutated histories failed`);
  t.diagnostic(`SEED=${seed}: 300 histories (${operations} operations) passed; ${caught} of ${mutated} with one read changed failed`);
});

test('random histories with many lost writes pass in every mode of the search, and with one read changed get one verdict', () => {
  const seed = seedFromEnv();
  const rng = new Rng(seed);
  // exactStepsPerOperation: 0 runs the relaxed search first, Infinity only the exact one
  const modes = [{}, { exactStepsPerOperation: 0 }, { exactStepsPerOperation: Infinity }];
  let caught = 0;
  for (let round = 0; round < 600; round++) {
    const history = generate(rng, { keys: 1, clients: 2 + rng.int(8), opsPerClient: 3 + rng.int(25), unknownRate: 0.3, maxDuration: rng.pick([1, 5, 20]) });
    const bad = mutateOneRead(rng, history);
    const verdicts = modes.map((mode) => {
      const r = checkHistory(history, { revisions: false, ...mode });
      assert.ok(r.ok, `round ${round}, SEED=${seed}, ${JSON.stringify(mode)}: a generated history failed:\n${r.explanation}`);
      return bad === null ? null : checkHistory(bad, { revisions: false, ...mode }).ok;
    });
    assert.ok(verdicts.every((v) => v === verdicts[0]), `round ${round}, SEED=${seed}: with one read changed, the modes disagree: ${JSON.stringify(verdicts)}`);
    if (verdicts[0] === false) caught++;
  }
  assert.ok(caught > 300, `SEED=${seed}: only ${caught} histories with one read changed failed`);
});

/** Linearizability by brute force: every order of the known operations and of any subset of the unknown ones. */
function bruteForce(history: KvOperation[]): boolean {
  const known = history.filter((op) => op.return !== Infinity);
  const unknown = history.filter((op) => op.return === Infinity && op.kind !== 'get');
  const apply = (op: KvOperation, state: string | null): { ok: boolean; state: string | null } => {
    const sure = op.return !== Infinity;
    switch (op.kind) {
      case 'put':
        return { ok: true, state: op.input };
      case 'get':
        return { ok: !sure || op.output === state, state };
      case 'cas': {
        const hit = state === op.input.expected;
        return { ok: !sure || op.output === hit, state: hit ? op.input.value : state };
      }
      default:
        return { ok: !sure || op.output === (state !== null), state: null };
    }
  };
  const extend = (placed: Set<KvOperation>, state: string | null): boolean => {
    if (known.every((op) => placed.has(op))) return true;
    for (const op of [...known, ...unknown]) {
      if (placed.has(op)) continue;
      // everything that returned before op was called must come first
      if ([...known].some((o) => !placed.has(o) && o !== op && o.return < op.call)) continue;
      const r = apply(op, state);
      if (!r.ok) continue;
      placed.add(op);
      const found = extend(placed, r.state);
      placed.delete(op);
      if (found) return true;
    }
    return false;
  };
  return extend(new Set(), null);
}

/** Tiny histories with random intervals and random answers (from few values, so they repeat), half linearizable. */
function randomTiny(rng: Rng): KvOperation[] {
  const values = ['a', 'b', 'c'];
  const value = (): string | null => (rng.chance(0.25) ? null : rng.pick(values));
  return Array.from({ length: 2 + rng.int(6) }, (_, k): KvOperation => {
    const call = rng.int(10);
    const base = { clientId: k, key: 'x', call, return: rng.chance(0.25) ? Infinity : call + 1 + rng.int(5) };
    const r = rng.next();
    if (r < 0.3) return { ...base, kind: 'put', input: rng.pick(values), output: null };
    if (r < 0.65) return { ...base, kind: 'get', input: null, output: value() };
    if (r < 0.9) return { ...base, kind: 'cas', input: { expected: value(), value: rng.pick(values) }, output: rng.chance(0.5) };
    return { ...base, kind: 'delete', input: null, output: rng.chance(0.5) };
  });
}

test('on tiny random histories the checker agrees with a brute-force search', () => {
  const seed = seedFromEnv();
  const rng = new Rng(seed);
  const verdicts = { linearizable: 0, not: 0 };
  for (let round = 0; round < 3000; round++) {
    const history = randomTiny(rng);
    const expected = bruteForce(history);
    const r = checkHistory(history, { revisions: false });
    assert.equal(r.ok, expected, `SEED=${seed} round ${round}: checker says ${r.ok}, brute force ${expected}:\n${JSON.stringify(history, (_, v: unknown) => (v === Infinity ? 'Infinity' : v))}\n${r.explanation}`);
    verdicts[expected ? 'linearizable' : 'not']++;
  }
  assert.ok(verdicts.linearizable > 300 && verdicts.not > 300, JSON.stringify(verdicts));
});

/**
 * Tiny histories in which every write writes a value of its own (so that, once its readers are ordered, no later
 * operation can tell it from another) and many outcomes are lost, a third of them linearizable.
 */
function randomTinyLost(rng: Rng): KvOperation[] {
  const written: string[] = [];
  const seen = (): string | null => (written.length === 0 || rng.chance(0.3) ? null : rng.pick(written));
  const fresh = (): string => {
    written.push(`v${written.length}`);
    return written.at(-1)!;
  };
  return Array.from({ length: 2 + rng.int(6) }, (_, k): KvOperation => {
    const call = rng.int(10);
    const base = { clientId: k, key: 'x', call, return: rng.chance(0.4) ? Infinity : call + 1 + rng.int(5) };
    const r = rng.next();
    if (r < 0.3) return { ...base, kind: 'put', input: fresh(), output: null };
    if (r < 0.6) return { ...base, kind: 'get', input: null, output: seen() };
    if (r < 0.9) return { ...base, kind: 'cas', input: { expected: seen(), value: fresh() }, output: rng.chance(0.5) };
    return { ...base, kind: 'delete', input: null, output: rng.chance(0.5) };
  });
}

test('with many lost writes, the exact search, the relaxed one first, and the default agree with a brute-force search', () => {
  const seed = seedFromEnv();
  const rng = new Rng(seed);
  const verdicts = { linearizable: 0, not: 0 };
  // exactStepsPerOperation: 0 runs the relaxed search first (the exact one goes on when the order it finds uses a lost
  // write twice), Infinity only the exact one
  const modes = [{}, { exactStepsPerOperation: 0 }, { exactStepsPerOperation: Infinity }];
  for (let round = 0; round < 3000; round++) {
    const history = randomTinyLost(rng);
    const expected = bruteForce(history);
    for (const mode of modes) {
      const r = checkHistory(history, { revisions: false, ...mode });
      const shown = JSON.stringify(history, (_, v: unknown) => (v === Infinity ? 'Infinity' : v));
      assert.equal(r.ok, expected, `SEED=${seed} round ${round} ${JSON.stringify(mode)}: checker says ${r.ok}, brute force ${expected}:\n${shown}\n${r.explanation}`);
    }
    verdicts[expected ? 'linearizable' : 'not']++;
  }
  assert.ok(verdicts.linearizable > 500 && verdicts.not > 500, JSON.stringify(verdicts));
});

test('a few thousand operations with lost writes and one read changed are refuted, not given up on (SEED=1369289600)', () => {
  // the history the next test checks second for SEED=1369289600, which the search used to give up on after 20 s: every
  // configuration before the changed read was explored once for every way the lost writes could have explained the
  // answers on the way (a failed cas, a delete that found a value)
  const rng = new Rng(1369289600);
  let bad: KvOperation[] = [];
  for (const unknownRate of [0, 0.01]) bad = mutateOneRead(rng, generate(rng, { keys: 1, clients: 8, opsPerClient: 500, unknownRate, maxDuration: 5 }))!;
  const r = checkHistory(bad, { timeoutMs: 10_000 });
  assert.ok(!r.ok && r.timedOut !== true, r.explanation);
  assert.match(r.explanation, /shortest failing prefix[^\n]*\n {2}#3147 client 1 get -> "v729"/, r.explanation);
});

test('a few thousand operations on one key are checked well within a second', (t) => {
  const seed = seedFromEnv();
  const rng = new Rng(seed);
  // (a failing history costs more: every configuration before the violation is explored; with 16 clients that is
  // seconds, so only the 8-client ones are also checked with a read changed)
  for (const [clients, unknownRate] of [[8, 0], [8, 0.01], [16, 0.005]] as const) {
    const history = generate(rng, { keys: 1, clients, opsPerClient: Math.floor(4000 / clients), unknownRate, maxDuration: 5 });
    const r = checkHistory(history);
    assert.ok(r.ok, `SEED=${seed}: ${r.explanation}`);
    t.diagnostic(`SEED=${seed}: ${history.length} operations on one key, ${clients} clients, ${unknownRate * 100}% unknown: ${r.stats.elapsedMs.toFixed(0)} ms`);
    // generous for a loaded 2-core machine; typically well under a second
    assert.ok(r.stats.elapsedMs < 5000, `SEED=${seed}: took ${r.stats.elapsedMs} ms`);
    if (clients > 8) continue;
    const bad = mutateOneRead(rng, history)!;
    const m = checkHistory(bad);
    t.diagnostic(`... with one read changed: ${m.ok ? 'passed' : 'failed'} in ${m.stats.elapsedMs.toFixed(0)} ms`);
    assert.ok(m.timedOut !== true);
  }
});
