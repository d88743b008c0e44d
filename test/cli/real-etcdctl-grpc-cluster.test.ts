// The real etcdctl 3.4 against a 3-member etcd cluster and a 3-member etcd-ts cluster, side by side (issue 13): the
// member commands, move-leader and `endpoint --cluster`, which need more than one member. Each side's members are
// m1, m2, m3; their addresses are replaced by @C1@ (client) and @P1@ (peer) for m1 and so on, member and cluster IDs and
// raft terms are masked (each cluster makes its own), and rows that each cluster lists in its own order (members by
// ID, health answers as they come) are sorted. Leadership is first moved to m1 on each side, uncompared, so that which
// member leads is the same on both sides from there on.
// REAL_ETCDCTL_AGAINST=etcd runs the second side against a second etcd cluster (see test/helpers/real-etcdctl.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realEtcdctlPair, type EtcdctlPair, type RealCompareOptions, type RealNormalise, type Vars } from '../helpers/real-etcdctl.js';
import { run, type CliResult } from '../helpers/etcdctl.js';

/** etcdserver's HealthInterval: how long a quorum must have been connected before etcd accepts a new voter */
const HEALTH_INTERVAL_MS = 5000;

function text(b: Buffer): string {
  return b.toString('latin1');
}

/**
 * endpoint status rows of a cluster (simple and table): version, db size, raft term and indexes, after the IDs were
 * masked (the JSON fields are masked by the generic `status` option)
 */
function maskStatusRows(s: string): string {
  return s
    .replace(/^(http:\/\/@C\d@), <id>, [^,]+, [^,]+, (\w+), (\w+), \d+, \d+, \d+, /gm, '$1, <id>, <v>, <size>, $2, $3, <term>, <n>, <n>, ')
    .replace(/^\| (http:\/\/@C\d@) \| <id> \| [^|]+ \| [^|]+ \| (\w+) \| (\w+) \| \d+ \| \d+ \| \d+ \|/gm, '| $1 | <id> | <v> | <size> | $2 | $3 | <term> | <n> | <n> |');
}

/** Member IDs by name on one side, from `member list` (simple): hex, as etcdctl prints and takes them. */
function idsByName(r: CliResult): Map<string, string> {
  const ids = new Map<string, string>();
  for (const line of text(r.stdout).split('\n')) {
    const [id, , name] = line.split(', ');
    if (id !== undefined && name !== undefined) ids.set(name, id);
  }
  return ids;
}

/** The leader's ID (hex) as each member of one side reports it, from `endpoint status --cluster -w json`. */
function leadersSeen(r: CliResult): string[] {
  return [...text(r.stdout).matchAll(/"leader":(\d+)/g)].map((m) => BigInt(m[1]!).toString(16));
}

test('the real etcdctl against 3-member etcd and etcd-ts clusters', { timeout: 180_000 }, async (t) => {
  const pair = await realEtcdctlPair(t, 3, ['--heartbeat-interval', '50', '--election-timeout', '500']);
  if (pair === null) return;
  // member responses list the members in ID order, which differ: JSON member lists are always sorted
  const base: RealNormalise = { ids: true, terms: true, sortJson: true };
  const same = (args: string[], opts: RealCompareOptions = {}): Promise<CliResult> => pair.same(args, { ...opts, norm: { ...base, ...(opts.norm ?? {}) } });
  /** a command line against one member only (given as @C1@, ...) */
  const at = (member: string, args: string[], opts: RealCompareOptions = {}): Promise<CliResult> =>
    same(['--endpoints', member, ...args], { ...opts, endpoint: 'none' });

  /** etcdctl on one side only, against every member (setup steps, not compared) */
  const onSide = (p: EtcdctlPair, side: 0 | 1, args: string[]): Promise<CliResult> => run('etcdctl', ['--endpoints', p.endpoints[side], ...args]);
  const ids = await Promise.all([0, 1].map(async (side) => idsByName(await onSide(pair, side as 0 | 1, ['member', 'list']))));
  const idVars: Vars = {};
  for (const name of ['m1', 'm2', 'm3']) idVars[`@ID${name.slice(1)}@`] = [ids[0]!.get(name) ?? '<none>', ids[1]!.get(name) ?? '<none>'];

  /** waits until every member of each side reports `name` as its leader */
  const waitForLeader = async (name: string, sides: (0 | 1)[]): Promise<void> => {
    const deadline = Date.now() + 15_000;
    for (const side of sides) {
      const want = ids[side]!.get(name);
      for (;;) {
        const seen = leadersSeen(await onSide(pair, side, ['endpoint', 'status', '--cluster', '-w', 'json']));
        if (seen.length === 3 && seen.every((id) => id === want)) break;
        if (Date.now() > deadline) throw new Error(`side ${side}: members see leaders ${seen.join(', ')}, waiting for ${name} (${want})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  await t.test('setup: m1 leads on both sides', async () => {
    for (const side of [0, 1] as const) {
      const seen = leadersSeen(await onSide(pair, side, ['endpoint', 'status', '--cluster', '-w', 'json']));
      const m1 = ids[side]!.get('m1');
      if (seen[0] !== undefined && seen[0] !== m1) {
        const moved = await onSide(pair, side, ['move-leader', m1 ?? '']);
        assert.equal(moved.code, 0, `side ${side}: move-leader to m1: ${text(moved.stderr)}`);
      }
    }
    await waitForLeader('m1', [0, 1]);
  });

  await t.test('member list and endpoint --cluster in every format', async () => {
    for (const w of ['simple', 'json', 'table']) {
      await same(['member', 'list', '-w', w], { norm: { sortLines: w !== 'json', table: w === 'table' } });
      await same(['endpoint', 'status', '--cluster', '-w', w], { norm: { status: true, sortLines: w !== 'json', table: w === 'table', mask: maskStatusRows } });
      await same(['endpoint', 'health', '--cluster', '-w', w], { norm: { took: true, sortLines: w !== 'json', table: w === 'table' } });
    }
    await same(['endpoint', 'status', '-w', 'json'], { norm: { status: true } });
    await same(['endpoint', 'health'], { norm: { took: true, sortLines: true } });
  });

  await t.test('move-leader', async () => {
    await at('@C2@', ['move-leader', '@ID3@'], { vars: idVars, label: 'move-leader without the leader among the endpoints' });
    await same(['move-leader', '@ID2@'], { vars: idVars });
    await waitForLeader('m2', [0, 1]);
    await same(['endpoint', 'status', '--cluster', '-w', 'table'], { norm: { status: true, sortLines: true, table: true, mask: maskStatusRows } });
    await same(['move-leader', '@ID2@', '-w', 'json'], { vars: idVars, label: 'move-leader to the leader' });
    await same(['move-leader', '1234'], { label: 'move-leader to a member not found' });
  });

  // membership changes go to the leader (m2 from here on), which answers with what it has applied: a follower may
  // list the members before it has applied the change
  await t.test('member add (an unstarted voter and a learner), update, promote, remove', async () => {
    // etcd refuses to add a voter ("unhealthy cluster") until a quorum has been connected to the leader for 5 s
    // (etcdserver's HealthInterval): wait that long after start-up, so that both sides answer the same whatever the pace
    const ready = Math.max(...pair.deployments.map((d) => d.healthyAt)) + HEALTH_INTERVAL_MS + 500;
    if (Date.now() < ready) await new Promise((r) => setTimeout(r, ready - Date.now()));
    const [addA, addB] = await pair.both(['--endpoints', '@C2@', 'member', 'add', 'm4', '--peer-urls=http://127.0.0.1:29999'], { endpoint: 'none' });
    pair.compare(addA, addB, 'member add m4', { norm: base });
    const added = (r: CliResult): string => /^Member +([0-9a-f]+) added/.exec(text(r.stdout))?.[1] ?? '<none>';
    const vars: Vars = { ...idVars, '@ID4@': [added(addA), added(addB)] };
    for (const w of ['simple', 'json']) await at('@C2@', ['member', 'list', '-w', w], { norm: { sortLines: w !== 'json' } });
    await at('@C2@', ['member', 'update', '@ID4@', '--peer-urls=http://127.0.0.1:29998'], { vars });
    await at('@C2@', ['member', 'update', '@ID4@', '--peer-urls=http://127.0.0.1:29998', '-w', 'json'], { vars });
    await at('@C2@', ['member', 'promote', '@ID4@'], { vars, label: 'promote a voter' });

    const [learnerA, learnerB] = await pair.both(['--endpoints', '@C2@', 'member', 'add', 'l5', '--learner', '--peer-urls=http://127.0.0.1:29997', '-w', 'json'], { endpoint: 'none' });
    pair.compare(learnerA, learnerB, 'member add --learner -w json', { norm: base });
    const learnerId = (r: CliResult): string => {
      const m = /"member":\{"ID":(\d+)/.exec(text(r.stdout));
      return m === null ? '<none>' : BigInt(m[1]!).toString(16);
    };
    vars['@ID5@'] = [learnerId(learnerA), learnerId(learnerB)];
    await at('@C2@', ['member', 'list'], { norm: { sortLines: true } });
    await at('@C2@', ['member', 'promote', '@ID5@'], { vars, label: 'promote a learner not in sync' });
    await at('@C2@', ['member', 'remove', '@ID5@'], { vars });
    await at('@C2@', ['member', 'remove', '@ID4@', '-w', 'json'], { vars });
    await at('@C2@', ['member', 'remove', '@ID4@'], { vars, label: 'remove a member already removed' });
    await at('@C2@', ['member', 'list', '-w', 'table'], { norm: { sortLines: true, table: true } });
  });

  await t.test('member remove of a started follower', async () => {
    await at('@C2@', ['member', 'remove', '@ID3@'], { vars: idVars });
    await at('@C2@', ['member', 'list'], { norm: { sortLines: true } });
    await same(['--endpoints', '@C1@,@C2@', 'endpoint', 'health', '--cluster'], { endpoint: 'none', norm: { took: true, sortLines: true } });
    await at('@C1@', ['member', 'remove', '@ID3@'], { vars: idVars, label: 'remove a member already removed, through a follower' });
  });
});
