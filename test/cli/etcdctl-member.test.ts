// member list/add/remove/update/promote, move-leader and `endpoint --cluster`: differentially against etcdctl and a
// real etcd (output formats, argument and URL errors, server errors), and directly against a 3-member etcd-ts cluster
// for the changes a single real etcd cannot make (a learner that joins and is promoted, a leadership transfer).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSame, normalise, pairFor, runEtcdctl, runEtcdctlTs, type CliResult, type Normalise } from '../helpers/etcdctl.js';
import { TestCluster } from '../helpers/cluster.js';

const IDS = { norm: { ids: true } };

function out(r: CliResult): string {
  return r.stdout.toString('latin1');
}

/** The hex IDs of `member list` (simple), in order. */
function memberIds(r: CliResult): string[] {
  return out(r)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(', ')[0]!);
}

/** Top-level protobuf fields (number and wire type) of a message, for checking -w protobuf's layout. */
function protoFields(buf: Buffer): { field: number; body: Buffer }[] {
  const fields: { field: number; body: Buffer }[] = [];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) {
      const start = i;
      varint();
      fields.push({ field: tag >> 3, body: buf.subarray(start, i) });
    } else if (wire === 2) {
      const len = varint();
      fields.push({ field: tag >> 3, body: buf.subarray(i, i + len) });
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return fields;
}

test('etcdctl-ts member commands agree with etcdctl', { timeout: 60_000 }, async (t) => {
  const pair = await pairFor(t, { advertiseBinary: true });
  if (pair === null) return;
  const same = pair.same.bind(pair);
  const norm = (extra: Omit<Normalise, 'endpoints'> = {}): Normalise => ({ ...extra, ids: true, endpoints: [pair.real.endpoint, pair.ts.endpoint] });

  /** The same command with each side's own member ID (hex) in place of @ID@. */
  const sameWithId = async (args: string[], ids: [string, string], extra: Omit<Normalise, 'endpoints'> = {}): Promise<[CliResult, CliResult]> => {
    const [a, b] = await Promise.all([
      runEtcdctl(['--endpoints', pair.real.endpoint, ...args.map((x) => x.replace('@ID@', ids[0]))]),
      runEtcdctlTs(['--endpoints', pair.ts.endpoint, ...args.map((x) => x.replace('@ID@', ids[1]))]),
    ]);
    assertSame(a, b, norm(extra), args.join(' '));
    return [a, b];
  };

  await t.test('help of the member commands and move-leader', async () => {
    for (const args of [['member', '--help'], ['member'], ['member', 'add', '--help'], ['member', 'list', '-h'], ['help', 'member', 'promote'], ['member', 'remove', '--help'], ['member', 'update', '--help'], ['move-leader', '--help'], ['mem', 'li', '--help']]) {
      await same(args, { norm: { commandList: true } });
    }
    // the root help lists the member commands and move-leader
    const root = await same(['--help'], { norm: { commandList: true } });
    assert.match(out(root), /\tmember list\t/);
    assert.match(out(root), /\tmove-leader\t/);
  });

  await t.test('member list in every output format', async () => {
    for (const w of ['simple', 'json', 'fields', 'table']) {
      const r = await same(['member', 'list', '-w', w], { norm: { ids: true, table: w === 'table' } });
      assert.match(out(r), /default/);
    }
    // protobuf: etcd's MemberListResponse layout (header 1, members 2; member ID 1, name 2, peerURLs 3, clientURLs 4)
    const [a, b] = await pair.both(['member', 'list', '-w', 'protobuf']);
    assert.equal(b.code, 0);
    for (const r of [a, b]) {
      const top = protoFields(r.stdout);
      assert.deepEqual(top.map((f) => f.field), [1, 2]);
      assert.deepEqual(protoFields(top[1]!.body).map((f) => f.field), [1, 2, 3, 4]);
    }
    assert.ok(b.stdout.includes(Buffer.from(`http://${pair.ts.endpoint}`)));
  });

  await t.test('argument errors', async () => {
    for (const args of [
      ['member', 'remove'],
      ['member', 'remove', 'a', 'b'],
      ['member', 'remove', 'zz'],
      ['member', 'remove', '0x10'],
      ['member', 'remove', '1ffffffffffffffff'],
      ['member', 'remove', ''],
      ['member', 'remove', '--', '-1'],
      ['member', 'promote'],
      ['member', 'promote', 'g'],
      ['member', 'update', '10'],
      ['member', 'update', 'xyz', '--peer-urls=http://a:1'],
      ['member', 'update'],
      ['member', 'add'],
      ['member', 'add', 'a'],
      ['member', 'add', 'a', 'b', 'http://x:1', 'HTTPS://y:2'],
      ['member', 'add', 'a', '--peer-urls'],
      ['member', 'bogus'],
      ['move-leader'],
      ['move-leader', 'a', 'b'],
      ['move-leader', 'zz'],
      ['move-leader', '-w', 'json', '+1'],
    ]) {
      await same(args, IDS);
    }
  });

  await t.test('peer URL errors (clientv3 checks the URLs before sending)', async () => {
    for (const u of ['foo', '127.0.0.1:2380', 'localhost:2380', 'http://a', 'http://a:1/x', 'http://a:1,ftp://b:2', 'http://a:1x', 'http://a b:1', 'http://%zz:1', ':x', ' http://a:1/ ', 'http:opaque', 'http://[::1:2', ',']) {
      await same(['member', 'add', 'n', `--peer-urls=${u}`], IDS);
      await same(['member', 'update', '1234', `--peer-urls=${u}`], IDS);
    }
  });

  await t.test('server errors', async () => {
    await same(['member', 'remove', '1234'], IDS);
    await same(['member', 'promote', 'ffff'], IDS);
    await same(['member', 'update', 'abc', '--peer-urls=http://127.0.0.1:1'], IDS);
    await same(['move-leader', '1234'], IDS);
    await same(['-w', 'json', 'move-leader', '1234'], IDS);
    const [listA, listB] = await pair.both(['member', 'list']);
    const ids: [string, string] = [memberIds(listA)[0]!, memberIds(listB)[0]!];
    // promoting a voter
    await sameWithId(['member', 'promote', '@ID@'], ids);
    await sameWithId(['-w', 'json', 'member', 'promote', '@ID@'], ids);
    // an update that changes nothing, in each format
    for (const w of ['simple', 'json', 'fields', 'table']) {
      await sameWithId(['-w', w, 'member', 'update', '@ID@', '--peer-urls=http://localhost:2380'], ids);
    }
  });

  await t.test('endpoint status and health --cluster take the endpoints from the member list', async () => {
    for (const w of ['simple', 'json', 'fields', 'table']) {
      await same(['endpoint', 'status', '--cluster', '-w', w], { norm: { status: true, table: w === 'table' } });
      await same(['endpoint', 'health', '--cluster', '-w', w], { norm: { took: true, table: w === 'table' } });
    }
    const [, b] = await pair.both(['endpoint', 'status', '--cluster']);
    assert.match(out(b), new RegExp(`^http://${pair.ts.endpoint.replace(/\./g, '\\.')}, `));
    await same(['--command-timeout=1s', 'endpoint', 'status', '--cluster'], { endpoint: 'none', env: { ETCDCTL_ENDPOINTS: '127.0.0.1:1' }, norm: { status: true }, timeoutMs: 20_000 });
  });

  await t.test('a learner: add, list, promote (not in sync), update, remove', async () => {
    // an unstarted learner does not count for quorum, so the single real etcd stays available
    const added = await same(['member', 'add', 'l1', '--learner', '--peer-urls=http://127.0.0.1:29999'], IDS);
    assert.match(out(added), /^Member [ 0-9a-f]{16} added to cluster [ 0-9a-f]{16}\n\nETCD_NAME="l1"\n/);
    const [listA, listB] = await pair.both(['member', 'list']);
    // sort the rows: members are listed by ID, which differ between the two servers
    const sorted = (r: CliResult): string => normalise(out(r), norm()).split('\n').sort().join('\n');
    assert.equal(sorted(listB), sorted(listA));
    assert.equal(listB.code, 0);
    const learner = (r: CliResult): string => out(r).split('\n').find((l) => l.includes('unstarted'))!.split(', ')[0]!;
    const ids: [string, string] = [learner(listA), learner(listB)];
    await sameWithId(['member', 'promote', '@ID@'], ids);
    await sameWithId(['member', 'update', '@ID@', '--peer-urls=http://127.0.0.1:29998'], ids);
    await sameWithId(['-w', 'table', 'member', 'update', '@ID@', '--peer-urls=http://127.0.0.1:29998'], ids);
    await sameWithId(['-w', 'fields', 'member', 'remove', '@ID@'], ids);
    await sameWithId(['member', 'remove', '@ID@'], ids);
    const after = await same(['member', 'list'], IDS);
    assert.doesNotMatch(out(after), /unstarted/);
  });
});

test('etcdctl-ts member commands on a 3-member etcd-ts cluster', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(3);
  t.after(() => cluster.stop());
  await cluster.waitForLeader();
  const all = cluster.members.map((m) => m.endpoint).join(',');
  const ctl = (args: string[], endpoints = all): Promise<CliResult> => runEtcdctlTs(['--endpoints', endpoints, ...args]);

  const list = await ctl(['member', 'list']);
  assert.equal(list.code, 0, list.stderr.toString());
  const rows = out(list).trim().split('\n');
  assert.equal(rows.length, 3);
  for (const row of rows) assert.match(row, /^[0-9a-f]+, started, m\d, http:\/\/127\.0\.0\.1:\d+, [^,]*, false$/);

  // add a learner, start it, promote it once it has caught up
  const m4 = await cluster.addMember('m4');
  const peerUrl = `http://127.0.0.1:${m4.peerPort}`;
  // as etcd, a member is added only after the one asked has been connected to every voter for 5 s (HealthInterval)
  let added = await ctl(['member', 'add', 'm4', '--learner', `--peer-urls=${peerUrl}`]);
  for (let i = 0; i < 120 && added.code !== 0 && added.stderr.toString().includes('etcdserver: unhealthy cluster'); i++) {
    await new Promise((r) => setTimeout(r, 250));
    added = await ctl(['member', 'add', 'm4', '--learner', `--peer-urls=${peerUrl}`]);
  }
  assert.equal(added.code, 0, added.stderr.toString());
  const addedMatch = /^Member +([0-9a-f]+) added to cluster +([0-9a-f]+)\n\nETCD_NAME="m4"\nETCD_INITIAL_CLUSTER="([^"]*)"\nETCD_INITIAL_ADVERTISE_PEER_URLS="([^"]*)"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$/.exec(out(added));
  assert.ok(addedMatch, out(added));
  const newId = addedMatch[1]!;
  assert.deepEqual(addedMatch[3]!.split(',').map((x) => x.split('=')[0]).sort(), ['m1', 'm2', 'm3', 'm4']);
  assert.ok(addedMatch[3]!.includes(`m4=${peerUrl}`));
  assert.equal(addedMatch[4], peerUrl);
  const withLearner = await ctl(['member', 'list', '-w', 'json']);
  const members = JSON.parse(out(withLearner).replace(/"ID":(\d+)/g, '"ID":"$1"')) as { members: { ID: string; isLearner?: boolean; name?: string }[] };
  const learnerEntry = members.members.find((m) => BigInt(m.ID).toString(16) === newId);
  assert.ok(learnerEntry?.isLearner === true, out(withLearner));
  assert.equal(learnerEntry.name, undefined);

  cluster.startJoining(m4);
  let promoted: CliResult | null = null;
  for (let i = 0; i < 100; i++) {
    const r = await ctl(['member', 'promote', newId]);
    if (r.code === 0) {
      promoted = r;
      break;
    }
    assert.match(r.stderr.toString(), /can only promote a learner member which is in sync with leader|not leader|leader changed/);
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(promoted !== null, 'the learner was never promoted');
  assert.match(out(promoted), new RegExp(`^Member +${newId} promoted in cluster +[0-9a-f]+\n$`));
  const again = await ctl(['member', 'promote', newId]);
  assert.equal(again.code, 1);
  assert.equal(again.stderr.toString(), 'Error: etcdserver: can only promote a learner member\n');

  // update (to the same peer URL, so that the member keeps working)
  const updated = await ctl(['member', 'update', newId, `--peer-urls=${peerUrl}`]);
  assert.equal(updated.code, 0, updated.stderr.toString());
  assert.match(out(updated), new RegExp(`^Member +${newId} updated in cluster +[0-9a-f]+\n$`));

  // move-leader: from whichever member leads to another voter
  const statusOf = async (ep: string): Promise<{ id: string; leader: string }> => {
    const r = await ctl(['endpoint', 'status', '-w', 'json'], ep);
    const s = JSON.parse(out(r).replace(/:(\d{10,})/g, ':"$1"')) as { Status: { header: { member_id: string }; leader: string } }[];
    return { id: BigInt(s[0]!.Status.header.member_id).toString(16), leader: BigInt(s[0]!.Status.leader).toString(16) };
  };
  const currentLeader = await cluster.waitForLeader();
  const leaderStatus = await statusOf(currentLeader.endpoint);
  const follower = cluster.members.find((m) => m !== currentLeader && m.name !== 'm4')!;
  const target = (await statusOf(follower.endpoint)).id;
  const notLeader = await ctl(['move-leader', target], follower.endpoint);
  assert.equal(notLeader.code, 128);
  assert.equal(notLeader.stderr.toString(), `Error: no leader endpoint given at [${follower.endpoint}]\n`);
  const moved = await ctl(['move-leader', target]);
  assert.equal(moved.code, 0, moved.stderr.toString());
  assert.equal(out(moved), `Leadership transferred from ${leaderStatus.leader} to ${target}\n`);
  const newLeader = await cluster.waitForLeader();
  assert.equal(newLeader, follower);

  // remove the member added above
  const removed = await ctl(['member', 'remove', newId]);
  assert.equal(removed.code, 0, removed.stderr.toString());
  assert.match(out(removed), new RegExp(`^Member +${newId} removed from cluster +[0-9a-f]+\n$`));
  await cluster.kill(m4);
  const finalList = await ctl(['member', 'list'], cluster.members.filter((m) => m !== m4).map((m) => m.endpoint).join(','));
  assert.equal(out(finalList).trim().split('\n').length, 3);
  assert.doesNotMatch(out(finalList), new RegExp(`^${newId},`, 'm'));
  const unknown = await ctl(['member', 'remove', newId], follower.endpoint);
  assert.equal(unknown.stderr.toString(), 'Error: etcdserver: member not found\n');
  assert.equal(unknown.code, 1);

  // etcdctl 3.4 prints a promotion only in the simple format: the others reach a nil printer and Go panics (exit 2),
  // after the promotion has been applied
  const live = cluster.members.filter((m) => m !== m4).map((m) => m.endpoint).join(',');
  // a member joining names the cluster as it is now (etcd refuses a disagreeing --initial-cluster)
  cluster.forget(m4);
  const m5 = await cluster.addMember('m5');
  const added5 = await ctl(['member', 'add', 'm5', '--learner', `--peer-urls=http://127.0.0.1:${m5.peerPort}`], live);
  assert.equal(added5.code, 0, added5.stderr.toString());
  const id5 = /^Member +([0-9a-f]+) added/.exec(out(added5))![1]!;
  cluster.startJoining(m5);
  let panicked: CliResult | null = null;
  for (let i = 0; i < 100 && panicked === null; i++) {
    const r = await ctl(['-w', 'json', 'member', 'promote', id5], live);
    if (r.code !== 1) panicked = r;
    else await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(panicked !== null, 'the second learner was never promoted');
  assert.equal(panicked.code, 2);
  assert.equal(out(panicked), '');
  assert.match(panicked.stderr.toString(), /^panic: runtime error: invalid memory address or nil pointer dereference\n\[signal SIGSEGV/);
  const voters = await ctl(['member', 'list'], live);
  assert.match(out(voters), new RegExp(`^${id5}, [^\n]*, false$`, 'm'));
});
