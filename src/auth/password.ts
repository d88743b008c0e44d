// bcrypt for user passwords, off the event loop: the `bcrypt` package's async calls run on libuv's thread pool
// (measured in BENCHMARKS.md against @node-rs/bcrypt and bcryptjs; @node-rs/bcrypt was 2-5 % faster, but its
// per-platform optional packages cannot all be locked from the registry this project installs from, so `npm ci` of a
// clean clone failed; `bcrypt` ships its prebuilt binaries inside the package). A bcrypt at cost 10 takes ~50 ms of one core, so checks are bounded
// twice: at most `parallel` run at once (libuv's pool has 4 threads by default, which lmdb-js and the file system
// share), at most `pendingMax` are running or waiting; past that a check fails at once with `too many
// authentication requests`, so a burst of logins (wrong passwords included) cannot queue without bound or take the
// pool from the member's own disk work. Raft heartbeats never wait for a check: the main thread only awaits.

import { createRequire } from 'node:module';
import { etcdError } from '../errors/index.js';

/** The part of the `bcrypt` package used here (it ships no types). */
interface Bcrypt {
  genSalt(rounds: number, minor: 'a' | 'b'): Promise<string>;
  hash(data: string, salt: string): Promise<string>;
  compare(data: string, encrypted: string): Promise<boolean>;
}
const bcrypt = createRequire(import.meta.url)('bcrypt') as Bcrypt;

/** golang.org/x/crypto/bcrypt's bounds and default, as etcd's --bcrypt-cost takes them. */
export const BCRYPT_COST_MIN = 4;
export const BCRYPT_COST_MAX = 31;
export const BCRYPT_COST_DEFAULT = 10;

export interface PasswordLimits {
  /** bcrypt computations running at once */
  readonly parallel: number;
  /** computations running or waiting; more are refused */
  readonly pendingMax: number;
}

export class PasswordHasher {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly cost: number,
    private readonly limits: PasswordLimits,
  ) {}

  /** Checks running or waiting. */
  get pending(): number {
    return this.running + this.waiting.length;
  }

  /** A bcrypt hash ($2a$, as Go writes it) of `password` at the configured cost. */
  hash(password: string): Promise<string> {
    return this.run(async () => bcrypt.hash(password, await bcrypt.genSalt(this.cost, 'a')));
  }

  /** Whether `password` matches `hash` (false for a hash bcrypt cannot read). */
  verify(password: string, hash: string): Promise<boolean> {
    return this.run(() => bcrypt.compare(password, hash).catch(() => false));
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.pending >= this.limits.pendingMax) throw etcdError('TooManyAuthRequests');
    if (this.running >= this.limits.parallel) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next(); // the slot passes to the next waiter
      else this.running--;
    }
  }
}
