// etcdctl-ts against a member's client URL (not its binary listener): the client port recognises the binary
// protocol, so the advertised client URLs that `member list` and `endpoint --cluster` hand out work as endpoints.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startChild } from '../helpers/member.js';
import { freePort } from '../helpers/etcd.js';
import { runEtcdctlTs } from '../helpers/etcdctl.js';

test('etcdctl-ts --endpoints <client URL>: put, get, member list and endpoint status/health --cluster', { timeout: 60_000 }, async (t) => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const m = await startChild(['--listen-client-urls', url, '--advertise-client-urls', url]);
  t.after(() => m.kill());
  const ctl = async (...args: string[]): Promise<string> => {
    const r = await runEtcdctlTs(['--endpoints', url, ...args]);
    assert.equal(r.code, 0, `etcdctl-ts ${args.join(' ')}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };
  assert.equal(await ctl('put', 'foo', 'bar'), 'OK\n');
  assert.equal(await ctl('get', 'foo'), 'foo\nbar\n');
  const r = await runEtcdctlTs(['--endpoints', url.replace('http://', ''), 'get', 'foo', '--print-value-only']);
  assert.equal(r.stdout.toString(), 'bar\n', 'host:port works as well');
  assert.match(await ctl('member', 'list'), new RegExp(`, started, default, http://localhost:2380, ${url}, false\\n$`));
  assert.match(await ctl('endpoint', 'status', '--cluster'), new RegExp(`^${url}, [0-9a-f]+, 3\\.4\\.0, `));
  const health = await runEtcdctlTs(['--endpoints', url, 'endpoint', 'health', '--cluster']);
  assert.equal(health.code, 0, health.stderr.toString());
  assert.match(health.stderr.toString(), new RegExp(`^${url} is healthy: successfully committed proposal: took = `), 'etcdctl prints health on stderr');
});
