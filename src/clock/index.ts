// Time as an input. Everything in the member that waits or measures time (the Raft ticker, request deadlines, lease
// expiry, watch progress and sync, pool restarts) reads one Clock, handed in at start-up, instead of the process's
// timers: production passes `systemClock`; tests that only need time to pass pass a ManualClock and advance it, so
// a 7 s lease test takes milliseconds and never depends on how busy the machine is.
//
// `now()` is monotonic milliseconds (a wall-clock jump must not expire requests); `wallNow()` is the epoch time etcd
// derives IDs from (member and lease IDs). Timers never keep the process alive: the member's sockets do.

import { performance } from 'node:perf_hooks';

/** A timer the clock made; only the clock that made it can clear it. */
export interface ClockTimer {
  readonly __clockTimer: true;
}

export interface Clock {
  /** monotonic milliseconds */
  now(): number;
  /** milliseconds since the Unix epoch */
  wallNow(): number;
  setTimeout(fn: () => void, ms: number): ClockTimer;
  setInterval(fn: () => void, ms: number): ClockTimer;
  /** clears a timeout or an interval; clearing one already fired or cleared does nothing */
  clear(timer: ClockTimer | null | undefined): void;
  /** resolves after `ms` of this clock's time */
  sleep(ms: number): Promise<void>;
}

class SystemClock implements Clock {
  now(): number {
    return performance.now();
  }
  wallNow(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): ClockTimer {
    return setTimeout(fn, ms).unref() as unknown as ClockTimer;
  }
  setInterval(fn: () => void, ms: number): ClockTimer {
    return setInterval(fn, ms).unref() as unknown as ClockTimer;
  }
  clear(timer: ClockTimer | null | undefined): void {
    // clearTimeout and clearInterval are the same operation in Node
    if (timer) clearTimeout(timer as unknown as NodeJS.Timeout);
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/** The process's own clock and timers. */
export const systemClock: Clock = new SystemClock();

interface ManualTimer extends ClockTimer {
  at: number;
  /** 0 for a timeout */
  every: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/** Lets pending I/O callbacks (socket reads, LMDB flushes, setImmediate work) run between fired timers. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Longest real time a ManualClock waits, at one step, for outside work (`waitWhile`) before moving on anyway: work
 * that needs time itself to finish (a proposal waiting for an election on this clock) must not stall the clock.
 */
const OUTSIDE_WORK_WAIT_MS_MAX = 2000;

/**
 * A clock that moves only when told. `advance(ms)` fires every timer that falls due, in time order (ties in the order
 * they were set; an interval re-arms after its callback, behind timers set for the same time meanwhile, as Node's do),
 * with `now()` reading each timer's own time while it runs. Between due times it yields to the event loop a few turns,
 * so work a timer starts elsewhere (a reply over a socket) can finish before the next timer fires, as it would in real
 * time; work that takes real time (a proposal's disk write) is waited for through `waitWhile`.
 */
export class ManualClock implements Clock {
  private current: number;
  private wall: number;
  private seq = 0;
  private timers: ManualTimer[] = [];
  private readonly outsideWork = new Set<() => boolean>();

  constructor(start = { now: 0, wall: Date.UTC(2026, 0, 1) }) {
    this.current = start.now;
    this.wall = start.wall;
  }

  now(): number {
    return this.current;
  }

  wallNow(): number {
    return this.wall + this.current;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    return this.add(fn, ms, 0);
  }

  setInterval(fn: () => void, ms: number): ClockTimer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clear(timer: ClockTimer | null | undefined): void {
    if (!timer) return;
    const t = timer as ManualTimer;
    t.live = false;
    this.timers = this.timers.filter((x) => x !== t);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms`, firing what falls due on the way. `turns`: event-loop turns given to I/O after each
   * firing (and once at the end), so replies to what a timer started arrive before time moves on.
   */
  async advance(ms: number, turns = 3): Promise<void> {
    const target = this.current + Math.max(0, ms);
    await this.settle(turns); // what the caller started just before (a request sent, a watch being created)
    for (;;) {
      const next = this.nextDue(target);
      if (next === undefined) break;
      this.current = Math.max(this.current, next.at);
      if (next.every === 0) this.clear(next);
      try {
        next.fn();
      } finally {
        if (next.every > 0 && next.live) {
          next.at += next.every;
          next.seq = this.seq++;
        }
      }
      await this.settle(turns);
    }
    this.current = target;
    await this.settle(turns);
  }

  /**
   * Registers work outside this clock that time waits for: after each timer it fires, `advance` gives the event loop
   * its turns and then, while `busy()` holds, real time (up to OUTSIDE_WORK_WAIT_MS_MAX per step). Without it a
   * disk write a timer started (a lease revocation, a keep-alive through Raft) would take no manual time at all
   * while the clock raced on through deadlines and TTLs in microseconds. Returns the function that unregisters it.
   */
  waitWhile(busy: () => boolean): () => void {
    this.outsideWork.add(busy);
    return () => void this.outsideWork.delete(busy);
  }

  /**
   * Advances in steps of `stepMs` until `done()` holds (checked after each step, awaiting it when it returns a
   * promise) or `limitMs` has passed; resolves with the time it took. For tests that wait for something timers cause.
   */
  async advanceUntil(done: () => boolean | Promise<boolean>, limitMs: number, stepMs = 10): Promise<number> {
    const start = this.current;
    while (!(await done())) {
      if (this.current - start >= limitMs) throw new Error(`not done after ${limitMs} ms of manual time`);
      await this.advance(stepMs);
    }
    return this.current - start;
  }

  /** `turns` event-loop turns, then again after every wait for outside work, until none is busy (or the cap). */
  private async settle(turns: number): Promise<void> {
    const giveUpAt = performance.now() + OUTSIDE_WORK_WAIT_MS_MAX;
    for (;;) {
      for (let i = 0; i < turns; i++) await turn();
      if (!this.busy() || performance.now() >= giveUpAt) return;
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
  }

  private busy(): boolean {
    for (const busy of this.outsideWork) if (busy()) return true;
    return false;
  }

  private add(fn: () => void, ms: number, every: number): ManualTimer {
    const t: ManualTimer = { __clockTimer: true, at: this.current + Math.max(0, ms), every, seq: this.seq++, fn, live: true };
    this.timers.push(t);
    return t;
  }

  private nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers) {
      if (t.at > limit) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
