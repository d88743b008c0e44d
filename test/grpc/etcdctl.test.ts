// The real etcdctl 3.4 against etcd-ts's gRPC port and against a real etcd 3.4, side by side: stdout, stderr and the
// exit code must agree once ids, durations and sizes are normalised (test/helpers/etcdctl.ts). Skipped when etcd and
// etcdctl are not installed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSame, runEtcdctl, start, waitUntil, type CliResult, type Normalise } from '../helpers/etcdctl.js';
import { etcdctlSides } from '../helpers/etcdctl-sides.js';

const leaseIdOf = (r: CliResult): string => /lease ([0-9a-f]+) granted/.exec(r.stdout.toString())![1]!;

test('etcdctl put, get, del, txn, compaction and their errors: the same output as against etcd', { timeout: 120_000 }, async (t) => {
  const s = await etcdctlSides(t);
  if (s === null) return;
  await s.same(['put', 'foo', 'bar']);
  await s.same(['put', 'foo', 'baz', '--prev-kv']);
  await s.same(['put', 'foo2', 'x']);
  await s.same(['get', 'foo']);
  // the comparison sees a difference (here: another key on etcd-ts's side)
  await assert.rejects(s.same(['get', 'foo'], {}, { tsArgs: ['get', 'foo2'] }), /stdout of: get foo/);
  await s.same(['get', 'foo', '--prefix', '--sort-by=KEY', '--order=DESCEND']);
  await s.same(['get', 'foo', '-w', 'json'], { ids: true });
  await s.same(['get', 'foo', '--prefix', '--keys-only', '--limit', '1']);
  await s.same(['get', 'foo', '--rev', '2']);
  await s.same(['get', 'nothing']);
  await s.same(['get', 'foo', '--rev', '100']);
  await s.same(['get', '']);
  await s.same(['txn', '-w', 'simple'], {}, { stdin: 'value("foo") = "baz"\n\nput txn1 yes\nget foo\n\nput txn1 no\n\n' });
  await s.same(['txn'], {}, { stdin: 'mod("foo") > "100"\n\nput t x\n\nget txn1\n\n' });
  await s.same(['del', 'foo', '--prefix', '--prev-kv']);
  await s.same(['del', 'nothing']);
  await s.same(['compaction', '3']);
  await s.same(['get', 'foo', '--rev', '2']);
  await s.same(['compaction', '3']);
});

test('etcdctl member list, endpoint status and health, move-leader and auth: the same output as against etcd', { timeout: 120_000 }, async (t) => {
  const s = await etcdctlSides(t);
  if (s === null) return;
  await s.same(['member', 'list'], { ids: true });
  await s.same(['member', 'list', '-w', 'table'], { ids: true, table: true });
  await s.same(['endpoint', 'status'], { status: true, ids: true });
  await s.same(['endpoint', 'status', '-w', 'json'], { status: true, ids: true });
  await s.same(['endpoint', 'health'], { took: true });
  await s.same(['endpoint', 'health', '--cluster'], { took: true });
  await s.same(['move-leader', '123'], { ids: true });
  await s.same(['member', 'remove', '123'], { ids: true });
  await s.same(['user', 'list']);
  await s.same(['role', 'list']);
  await s.same(['user', 'get', 'nobody']);
  await s.same(['auth', 'enable']);
  await s.same(['alarm', 'list']);
  await s.same(['defrag'], {});
});

test('etcdctl lease grant, timetolive, list, keep-alive --once and revoke: the same output as against etcd', { timeout: 120_000 }, async (t) => {
  const s = await etcdctlSides(t);
  if (s === null) return;
  const [a, b] = await s.same(['lease', 'grant', '100'], { ids: true });
  const ids: [string, string] = [leaseIdOf(a), leaseIdOf(b)];
  const norm = { replace: [] as [string, string][], ids: true };
  const both = async (args: (id: string) => string[], n: Omit<Normalise, 'endpoints'> = norm): Promise<void> => {
    const [ra, rb] = await Promise.all([
      runEtcdctl(['--endpoints', s.real.endpoint, ...args(ids[0])]),
      runEtcdctl(['--endpoints', s.ts.endpoint, ...args(ids[1])]),
    ]);
    assertSame(ra, rb, { ...n, endpoints: [s.real.endpoint, s.ts.endpoint], replace: [[ids[0], '<lease>']] }, args('<lease>').join(' '), {
      ...n,
      endpoints: [s.real.endpoint, s.ts.endpoint],
      replace: [[ids[1], '<lease>']],
    });
  };
  await both((id) => ['put', 'lk', 'lv', `--lease=${id}`]);
  await both((id) => ['lease', 'timetolive', id, '--keys']);
  await both(() => ['lease', 'list']);
  await both((id) => ['lease', 'keep-alive', '--once', id]);
  await both((id) => ['lease', 'revoke', id]);
  await both((id) => ['lease', 'revoke', id]);
  await both(() => ['get', 'lk']);
});

test('etcdctl watch, lock and elect: the same output as against etcd', { timeout: 120_000 }, async (t) => {
  const s = await etcdctlSides(t);
  if (s === null) return;
  const endpoints: [string, string] = [s.real.endpoint, s.ts.endpoint];
  const watches = endpoints.map((ep) => start('etcdctl', ['--endpoints', ep, 'watch', 'w', '--prefix', '--prev-kv'], { timeoutMs: 30_000 }));
  await new Promise((r) => setTimeout(r, 1000)); // etcdctl prints nothing when its watch is created
  await s.same(['put', 'w1', 'a']);
  await s.same(['put', 'w1', 'b']);
  await s.same(['del', 'w1']);
  await waitUntil(() => watches.every((w) => w.output().stdout.toString().split('\n').length >= 12), 10_000, 'the watch events');
  for (const w of watches) w.signal('SIGINT');
  const [wa, wb] = await Promise.all(watches.map((w) => w.result));
  assertSame(wa!, wb!, { endpoints }, 'watch w --prefix --prev-kv');

  await s.same(['lock', 'mylock', 'echo', 'ran under the lock']);
  const elects = endpoints.map((ep) => start('etcdctl', ['--endpoints', ep, 'elect', 'myelection', 'p1'], { timeoutMs: 30_000 }));
  await waitUntil(() => elects.every((e) => e.output().stdout.toString().includes('p1')), 10_000, 'the campaign to win');
  const [la, lb] = await Promise.all(endpoints.map((ep) => runEtcdctl(['--endpoints', ep, 'elect', '-l', 'myelection'], { timeoutMs: 2000 })));
  // listen mode prints the leader and keeps observing until killed
  assert.equal(la!.stdout.toString().replace(/[0-9a-f]{16}/, '<id>'), lb!.stdout.toString().replace(/[0-9a-f]{16}/, '<id>'));
  assert.match(lb!.stdout.toString(), /^myelection\/[0-9a-f]+\np1\n/);
  for (const e of elects) e.signal('SIGINT');
  const [ea, eb] = await Promise.all(elects.map((e) => e.result));
  assertSame(ea!, eb!, { endpoints, ids: true }, 'elect myelection p1');
});
