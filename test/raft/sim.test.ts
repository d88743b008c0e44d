// Deterministic whole-cluster simulation: 3- and 5-member clusters under drops, duplicates, reordering, delays,
// partitions, crashes that lose unflushed writes, membership changes and leader transfers. Safety is checked after
// every step; then the network heals and progress is required within a tick budget.
// SEED=n replays one seed (both sizes); SIM_SEEDS=n changes how many seeds run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from '../../src/sim/index.js';

const replay = process.env.SEED !== undefined && process.env.SEED !== '' ? Number(process.env.SEED) : undefined;
const seedCount = Number(process.env.SIM_SEEDS ?? 500);
const base = replay ?? (Date.now() % 1_000_000) * 1000;

function runSeeds(members: number, seeds: number[]): { committed: number; leaders: number; crashes: number; membership: number; transfers: number } {
  const totals = { committed: 0, leaders: 0, crashes: 0, membership: 0, transfers: 0 };
  for (const seed of seeds) {
    const cluster = new Cluster(seed, { members });
    try {
      const r = cluster.run();
      totals.committed += r.committed;
      totals.leaders += r.leadersElected;
      totals.crashes += r.crashes;
      totals.membership += r.membershipChanges;
      totals.transfers += r.transfers;
    } catch (err) {
      assert.fail(
        `simulation of ${members} members failed with SEED=${seed}: ${(err as Error).message}\n` +
          `last events:\n${cluster.recentTrace.slice(-40).join('\n')}\n(replay: SEED=${seed} npm test)`,
      );
    }
  }
  return totals;
}

const threeMemberSeeds = replay !== undefined ? [replay] : Array.from({ length: Math.ceil(seedCount * 0.6) }, (_, i) => base + i);
const fiveMemberSeeds = replay !== undefined ? [replay] : Array.from({ length: Math.floor(seedCount * 0.4) }, (_, i) => base + 100_000 + i);

test(`3-member cluster: ${threeMemberSeeds.length} seeds of faults keep Raft's safety properties and recover`, (t) => {
  t.diagnostic(`seeds ${threeMemberSeeds[0]}..${threeMemberSeeds[threeMemberSeeds.length - 1]}`);
  const totals = runSeeds(3, threeMemberSeeds);
  t.diagnostic(JSON.stringify(totals));
  // the faults really happened: otherwise the run proves nothing
  if (replay === undefined) {
    assert.ok(totals.crashes > 0 && totals.leaders > threeMemberSeeds.length && totals.membership > 0 && totals.transfers > 0, JSON.stringify(totals));
  }
});

test(`5-member cluster: ${fiveMemberSeeds.length} seeds of faults keep Raft's safety properties and recover`, (t) => {
  t.diagnostic(`seeds ${fiveMemberSeeds[0]}..${fiveMemberSeeds[fiveMemberSeeds.length - 1]}`);
  const totals = runSeeds(5, fiveMemberSeeds);
  t.diagnostic(JSON.stringify(totals));
  if (replay === undefined) assert.ok(totals.crashes > 0 && totals.membership > 0, JSON.stringify(totals));
});
