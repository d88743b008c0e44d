// ManualClock, the clock tests hand to members: timers fire only when the test advances it, in time order (ties in the
// order Node would fire them), each seeing its own due time as now(); intervals fire once per period even over one
// long advance; clear works from anywhere; advanceUntil and sleep move with it; waitWhile holds time back while work
// outside the clock is in flight.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { ManualClock, systemClock } from '../../src/clock/index.js';

test('timeouts fire in time order, ties in the order they were set, each reading its own due time; none before its time', async () => {
  const clock = new ManualClock();
  const fired: string[] = [];
  const at = (name: string) => (): void => void fired.push(`${name}@${clock.now()}`);
  clock.setTimeout(at('c'), 30);
  clock.setTimeout(at('a'), 10);
  clock.setTimeout(at('b1'), 20);
  clock.setTimeout(at('b2'), 20);
  clock.setTimeout(at('zero'), 0);
  assert.deepEqual(fired, [], 'nothing fires until the clock is advanced');
  await clock.advance(19);
  assert.deepEqual(fired, ['zero@0', 'a@10']);
  assert.equal(clock.now(), 19, 'now() is the target once the advance is done');
  await clock.advance(1);
  assert.deepEqual(fired, ['zero@0', 'a@10', 'b1@20', 'b2@20'], 'a timer due exactly at the target fires');
  await clock.advance(100);
  assert.deepEqual(fired, ['zero@0', 'a@10', 'b1@20', 'b2@20', 'c@30']);
  assert.equal(clock.pending, 0);
});

test('a timer set by a firing timer fires in the same advance when it falls due within it', async () => {
  const clock = new ManualClock();
  const fired: number[] = [];
  clock.setTimeout(() => {
    fired.push(clock.now());
    clock.setTimeout(() => fired.push(clock.now()), 15);
    clock.setTimeout(() => fired.push(clock.now()), 0);
  }, 10);
  await clock.advance(30);
  assert.deepEqual(fired, [10, 10, 25]);
});

test('an interval fires once per period, also over one long advance, and re-arms behind timers set meanwhile (as Node)', async () => {
  const clock = new ManualClock();
  const ticks: number[] = [];
  clock.setInterval(() => ticks.push(clock.now()), 100);
  await clock.advance(1050);
  assert.deepEqual(ticks, [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);

  // Node: a timeout set in an interval's callback for the same period fires before the interval's next run
  // (checked against real timers below)
  const order = async (c: { setInterval(fn: () => void, ms: number): unknown; setTimeout(fn: () => void, ms: number): unknown; clear(t: never): void }, run: (log: string[]) => Promise<void>): Promise<string> => {
    const log: string[] = [];
    let n = 0;
    const a = c.setInterval(() => {
      log.push('A');
      if (n++ === 0) c.setTimeout(() => log.push('C'), 20);
      if (n === 3) c.clear(a as never);
    }, 20);
    await run(log);
    return log.join(' ');
  };
  const manual = new ManualClock();
  const real = await order(systemClock, async (log) => {
    for (let i = 0; i < 500 && log.length < 4; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50)); // and no fifth
  });
  const simulated = await order(manual, () => manual.advance(150));
  assert.equal(real, 'A C A A', 'what Node does');
  assert.equal(simulated, real);
});

test('clear: a timeout, an interval (also from its own callback), one already fired, null; only live timers count', async () => {
  const clock = new ManualClock();
  const fired: string[] = [];
  const t1 = clock.setTimeout(() => fired.push('t1'), 10);
  const t2 = clock.setTimeout(() => fired.push('t2'), 12);
  let n = 0;
  const i1 = clock.setInterval(() => {
    fired.push(`i1#${++n}`);
    if (n === 2) clock.clear(i1);
  }, 5);
  const i2 = clock.setInterval(() => fired.push('i2'), 7);
  assert.equal(clock.pending, 4);
  clock.clear(t1);
  clock.clear(i2);
  clock.clear(null);
  clock.clear(undefined);
  assert.equal(clock.pending, 2);
  await clock.advance(100);
  assert.deepEqual(fired, ['i1#1', 'i1#2', 't2']);
  clock.clear(t2); // already fired: nothing happens
  clock.clear(t1); // already cleared
  assert.equal(clock.pending, 0);
  await clock.advance(100);
  assert.deepEqual(fired, ['i1#1', 'i1#2', 't2']);
});

test('an interval whose callback throws still re-arms once (the advance rejects with the error)', async () => {
  const clock = new ManualClock();
  let calls = 0;
  clock.setInterval(() => {
    calls++;
    if (calls === 1) throw new Error('boom');
  }, 10);
  await assert.rejects(clock.advance(10), /boom/);
  assert.equal(calls, 1);
  await clock.advance(10);
  assert.equal(calls, 2, 'fired again a period later, not twice at once');
});

test('sleep resolves after that much of the clock time, not real time; now() and wallNow() move together', async () => {
  const clock = new ManualClock({ now: 1000, wall: Date.UTC(2026, 0, 1) });
  assert.equal(clock.now(), 1000);
  assert.equal(clock.wallNow(), Date.UTC(2026, 0, 1) + 1000);
  let woke = -1;
  const slept = clock.sleep(500).then(() => (woke = clock.now()));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(woke, -1, 'real time does not move it');
  await clock.advance(499);
  assert.equal(woke, -1);
  await clock.advance(1);
  await slept;
  assert.equal(woke, 1500);
  assert.equal(clock.wallNow() - clock.now(), Date.UTC(2026, 0, 1));
});

test('advanceUntil: steps until the condition (sync or async) holds, resolves with the time it took, fails past its limit', async () => {
  const clock = new ManualClock();
  let flag = false;
  clock.setTimeout(() => (flag = true), 35);
  assert.equal(await clock.advanceUntil(() => flag, 1000, 10), 40, 'checked after each 10 ms step');
  assert.equal(await clock.advanceUntil(() => true, 1000), 0, 'already done: no time passes');
  let reply = false;
  clock.setTimeout(() => void setImmediate(() => (reply = true)), 20); // work a timer starts, finishing on a later turn
  assert.equal(await clock.advanceUntil(async () => reply, 1000, 10), 20);
  const start = clock.now();
  await assert.rejects(clock.advanceUntil(() => false, 100, 30), /not done after 100 ms of manual time/);
  assert.equal(clock.now() - start, 120, 'gave up at the first step past the limit');
});

test('advance gives I/O its turns: a socket-like reply started by a timer arrives before the next timer fires', async () => {
  const clock = new ManualClock();
  const log: string[] = [];
  clock.setTimeout(() => {
    log.push('request');
    setImmediate(() => setImmediate(() => log.push('reply')));
  }, 10);
  clock.setTimeout(() => log.push('deadline'), 11);
  await clock.advance(20);
  assert.deepEqual(log, ['request', 'reply', 'deadline']);
});

test('waitWhile: time waits for outside work a timer started (real time passes, manual time does not); unregistering ends it', async () => {
  const clock = new ManualClock();
  let inFlight = 0;
  const undo = clock.waitWhile(() => inFlight > 0);
  const log: string[] = [];
  clock.setTimeout(() => {
    inFlight++;
    log.push(`write@${clock.now()}`);
    setTimeout(() => {
      inFlight--;
      log.push(`written@${clock.now()}`);
    }, 30); // a disk write: real milliseconds
  }, 10);
  clock.setTimeout(() => log.push(`deadline@${clock.now()}`), 11);
  const t0 = performance.now();
  await clock.advance(20);
  assert.ok(performance.now() - t0 >= 25, 'the advance waited for the write');
  assert.deepEqual(log, ['write@10', 'written@10', 'deadline@11'], 'the write took no manual time: the deadline came after it');

  // work already in flight when the advance starts is waited for too
  inFlight++;
  setTimeout(() => inFlight--, 20);
  clock.setTimeout(() => log.push(`late@${clock.now()}`), 1);
  await clock.advance(1);
  assert.equal(inFlight, 0);
  assert.equal(log.at(-1), 'late@21');

  undo();
  inFlight++; // never finishes: nothing waits for it any more
  const t1 = performance.now();
  await clock.advance(1000);
  assert.ok(performance.now() - t1 < 1000, 'no wait once unregistered');
});
