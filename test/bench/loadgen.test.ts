// Smoke tests of the load generator (native-free-bench/loadgen.ts): every workload for about a second against an
// in-process etcd-ts member and against a real etcd (skipped when etcd is not installed), checking the shape of the
// `-w json` line and that work was done. Never asserts timings.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startInProcess } from '../helpers/member.js';
import { etcdInstalled, startRealEtcd } from '../helpers/etcd.js';

/** dist/native-free-bench/loadgen.js, from dist/test/bench */
const LOADGEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../native-free-bench/loadgen.js');

function loadgen(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [LOADGEN, '--duration', '1', '--warmup', '0.2', '--keys', '200', '--connections', '2', '--clients', '8', '-w', 'json', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null) return reject(new Error(`loadgen ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(new Error(`loadgen printed no JSON line:\n${stdout}\n${stderr}`));
      }
    });
  });
}

const WORKLOADS = ['put', 'range-serializable', 'range-linearizable', 'txn-mixed', 'watch'] as const;

function checkReport(r: Record<string, unknown>, target: string, workload: string, serverPid: boolean): void {
  assert.equal(r.target, target);
  assert.equal(r.workload, workload);
  for (const k of ['ops_per_s', 'p50_ms', 'p90_ms', 'p99_ms', 'max_ms', 'mean_ms', 'ops', 'errors', 'duration_s', 'loadgen_cpu_s_per_op']) {
    assert.equal(typeof r[k], 'number', `${k} is a number in ${JSON.stringify(r)}`);
  }
  assert.ok((r.ops as number) > 0, `${target} ${workload}: ops > 0 (${JSON.stringify(r)})`);
  assert.equal(r.errors, 0, `${target} ${workload}: no errors (${JSON.stringify(r.error_samples)})`);
  if (serverPid) assert.equal(typeof r.server_cpu_s_per_op, 'number');
  if (workload === 'watch') {
    const w = r.watch as { watchers: number; puts: number; expected: number; delivered: number };
    assert.ok(w.puts > 0, 'the putter wrote');
    assert.equal(w.expected, w.puts * w.watchers);
    assert.equal(w.delivered, w.expected, 'every event of the window was delivered to every watcher');
  } else {
    // one TCP connection per --connections (grpc-js would share one between the Etcd3 instances if let); with etcd3 a
    // closed set-up connection may linger a moment, hence at least
    if (r.client_connections !== null) {
      if (target === 'etcd-ts') assert.equal(r.client_connections, 2, 'two TCP connections for --connections 2');
      else assert.ok((r.client_connections as number) >= 2, `at least two TCP connections for --connections 2, got ${r.client_connections}`);
    }
  }
  if (workload === 'txn-mixed') {
    const t = r.txn as { cas_succeeded: number; cas_failed: number; ranges: number };
    assert.equal(t.cas_succeeded + t.cas_failed + t.ranges, r.ops);
    assert.ok(t.cas_succeeded > 0, 'some compares held');
  }
  if (workload.startsWith('range')) assert.equal(r.misses, 0, 'the key space was populated');
}

test('loadgen drives an etcd-ts member with every workload', async (t) => {
  const m = await startInProcess();
  t.after(() => m.close());
  for (const workload of WORKLOADS) {
    const extra = workload === 'watch' ? ['--watchers', '5', '--writers', '2'] : [];
    const r = await loadgen(['--target', 'etcd-ts', '--endpoints', m.endpoint, '--workload', workload, '--server-pid', String(process.pid), ...extra]);
    checkReport(r, 'etcd-ts', workload, true);
  }
  // `range` stays an alias of range-serializable; two threads still work
  const r = await loadgen(['--endpoints', m.endpoint, '--workload', 'range', '--threads', '2']);
  checkReport(r, 'etcd-ts', 'range-serializable', false);
});

test('loadgen --target etcd drives a real etcd with every workload', { skip: !etcdInstalled() && 'etcd is not installed' }, async (t) => {
  const etcd = await startRealEtcd();
  t.after(() => etcd.stop());
  for (const workload of WORKLOADS) {
    const extra = workload === 'watch' ? ['--watchers', '5', '--writers', '2'] : [];
    const r = await loadgen(['--target', 'etcd', '--endpoints', etcd.endpoint, '--workload', workload, '--server-pid', String(etcd.child.pid), ...extra]);
    checkReport(r, 'etcd', workload, true);
  }
  const r = await loadgen(['--target', 'etcd', '--endpoints', etcd.endpoint, '--workload', 'put', '--threads', '2']);
  checkReport(r, 'etcd', 'put', false);
});
