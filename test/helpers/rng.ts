// Seeded pseudo-random numbers for randomized tests: SEED=n replays a run; every failure message carries the seed.
// The generator is the simulation's own (src/sim), so tests and simulation share one implementation.

export { Rng } from '../../src/sim/index.js';

export function seedFromEnv(): number {
  const s = process.env.SEED;
  if (s !== undefined && s !== '') return Number(s) >>> 0;
  return (Date.now() ^ (process.pid << 8)) >>> 0;
}
