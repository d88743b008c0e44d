// etcdctl-ts's command line as a whole against the real etcdctl: help and usage, version, command lookup (prefixes,
// suggestions), flag errors and their exit codes, endpoint status and health, unreachable endpoints and timeouts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EP, pairFor, runEtcdctlTs } from '../helpers/etcdctl.js';

const UNREACHABLE = '127.0.0.1:1';

test('etcdctl-ts command line agrees with etcdctl', { timeout: 120_000 }, async (t) => {
  const pair = await pairFor(t);
  if (pair === null) return;
  const same = pair.same.bind(pair);

  await t.test('help and usage of every command', async () => {
    for (const args of [
      ['get', '--help'],
      ['put', '-h'],
      ['del', '--help'],
      ['txn', '--help'],
      ['compaction', '--help'],
      ['version', '--help'],
      ['endpoint', 'status', '--help'],
      ['endpoint', 'health', '-h'],
      ['help', 'get'],
      ['help', 'endpoint', 'status'],
      ['help', 'help'],
      ['get', '--help=false', '--help'],
    ]) {
      await same(args);
    }
    const commandList = { norm: { commandList: true } };
    for (const args of [['--help'], ['help'], [], ['-h', 'get'], ['--help', 'get'], ['help', 'bogus'], ['--'], ['endpoint'], ['endpoint', 'bogus'], ['endpoint', '--help']]) {
      await same(args, commandList);
    }
  });

  await t.test('version', async () => {
    await same(['version']);
    await same(['version', 'extra', 'args']);
    await same(['ver']);
  });

  await t.test('command lookup: prefixes, unknown commands, suggestions', async () => {
    for (const args of [['g', 'x'], ['pu', 'pk', 'pv'], ['d', 'pk'], ['t', '--help'], ['comp', '--help'], ['e'], ['de'], ['co'], ['bogus'], ['gett'], ['pt'], ['vers'], ['endpoint', 'st', '--help'], ['x', 'y']]) {
      await same(args, { norm: { commandList: true } });
    }
  });

  await t.test('flag errors and exit codes', async () => {
    for (const args of [
      ['get', '--foo'],
      ['get', '-x', 'k'],
      ['get', '--limit'],
      ['get', '--limit', 'abc', 'k'],
      ['get', '--rev=', 'k'],
      ['get', '--limit', '99999999999999999999', 'k'],
      ['--hex=maybe', 'get', 'k'],
      ['--dial-timeout', 'abc', 'get', 'k'],
      ['--command-timeout=5', 'get', 'k'],
      ['-w'],
      ['-w', 'yaml', 'get', 'k'],
      ['-w', 'yaml', 'version'],
      ['---bad', 'get'],
      ['txn', '--bogus'],
      ['put', '-i', 'k', 'v'],
      ['--cert', '', 'get', 'k'],
      ['--key=', 'get', 'k'],
      ['-wjson', 'get', 'k'],
      ['--write-out=fields', 'get', 'k'],
      ['get', 'k', '--', '--not-a-flag'],
      ['--endpoints', '"unterminated', 'get', 'k'],
      ['--endpoints', 'a"b', 'get', 'k'],
    ]) {
      await same(args, { norm: { commandList: true } });
    }
  });

  await t.test('endpoint status in every format', async () => {
    await same(['put', 'status-key', 'v']);
    for (const w of ['simple', 'json', 'fields', 'table', 'protobuf']) {
      await same(['endpoint', 'status', '-w', w], { norm: { status: true, table: w === 'table' } });
    }
    await same(['endpoint', 'status', '--cluster=false', '-w', 'json'], { norm: { status: true } });
  });

  await t.test('endpoint health in every format', async () => {
    for (const w of ['simple', 'json', 'fields', 'table', 'protobuf']) {
      await same(['endpoint', 'health', '-w', w], { norm: { took: true, table: w === 'table' } });
    }
    await same(['endpoint', 'health'], { endpoint: 'env', env: { ETCDCTL_WRITE_OUT: 'json' }, norm: { took: true } });
  });

  await t.test('unreachable endpoints and timeouts', async () => {
    const down = ['--endpoints', UNREACHABLE, '--command-timeout', '200ms'];
    const opts = { endpoint: 'none' as const, norm: { took: true, status: true } };
    for (const args of [
      ['get', 'k'],
      ['put', 'k', 'v'],
      ['del', 'k'],
      ['compaction', '1'],
      ['endpoint', 'status'],
      ['endpoint', 'status', '-w', 'json'],
      ['endpoint', 'status', '-w', 'table'],
      ['endpoint', 'health'],
      ['endpoint', 'health', '-w', 'json'],
      ['endpoint', 'health', '-w', 'fields'],
    ]) {
      await same([...down, ...args], opts);
    }
    await same(['--endpoints', '', 'get', 'k'], opts);
    await same(['--endpoints', `${UNREACHABLE},${EP}`, '--command-timeout', '2s', 'get', 'status-key'], opts);
    await same(['--endpoints', `${EP},${UNREACHABLE}`, '--command-timeout', '300ms', 'endpoint', 'health'], opts);
    await same(['--endpoints', `${EP},${UNREACHABLE}`, '--command-timeout', '300ms', 'endpoint', 'status', '-w', 'json'], opts);
    await same(['--endpoints', EP, '--command-timeout', '0s', 'get', 'status-key'], opts);
    await same(['--endpoints', EP, '--command-timeout', '0s', 'endpoint', 'status'], opts);
  });

  await t.test('TLS, auth and connection flags', async () => {
    const quick = ['--command-timeout', '300ms'];
    for (const args of [
      ['--insecure-transport=false', ...quick, 'get', 'k'],
      ['--cert', '/nonexistent/cert.pem', 'get', 'k'],
      ['--cert', '/nonexistent/cert.pem', '--key', '/nonexistent/key.pem', 'get', 'k'],
      ['--cacert', '/nonexistent/ca.pem', 'get', 'k'],
      ['--cacert', '/etc', 'get', 'k'],
      ['--key', '/etc/hostname', '--cert', '/etc/hostname', 'get', 'k'],
      ['--cacert', '/etc/hostname', ...quick, 'endpoint', 'health'],
      ['--user', 'root:secret', 'get', 'status-key'],
      ['--user', 'root', '--password', 'secret', 'get', 'status-key'],
      ['--keepalive-time', '5s', '--keepalive-timeout', '1s', '--insecure-skip-tls-verify', '--insecure-discovery=false', 'get', 'status-key'],
      ['--dial-timeout', '100ms', '--command-timeout', '1s', 'get', 'status-key'],
    ]) {
      await same(args, { norm: { took: true } });
    }
    await same(['--user', 'root', 'get', 'status-key'], { stdin: 'secret\n', label: 'password prompt' });
  });

  await t.test('the comparison catches a difference', async () => {
    // write to etcd-ts only: from here on the two servers differ, so this runs last
    const put = await runEtcdctlTs(['--endpoints', pair.ts.endpoint, 'put', 'only-on-etcd-ts', 'v']);
    assert.equal(put.code, 0);
    await assert.rejects(same(['get', 'only-on-etcd-ts']), /stdout of: get only-on-etcd-ts/);
    await assert.rejects(same(['endpoint', 'status', '-w', 'json'], { norm: { status: true } }), /stdout of/);
  });
});
