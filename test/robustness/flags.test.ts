// Flags and environment: etcd's flag names as `--flag value`, `--flag=value` (and Go's single-dash forms), each also
// read from ETCD_<FLAG_NAME>; a flag wins over its variable; unknown flags and invalid values are refused as etcd
// refuses them (checked against the real etcd binary when installed); --max-txn-ops and --max-request-bytes change
// the limits the member enforces.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, parseFlags, parseGoInteger } from '../../src/config/index.js';
import { Client, EtcdError } from '../../src/client/index.js';
import { tempDir } from '../helpers/member.js';
import { etcdInstalled } from '../helpers/etcd.js';
import { run, runEtcdTsWith, startEtcdTsWith } from '../helpers/process.js';

const b = (s: string): Buffer => Buffer.from(s);

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the configuration to be refused');
}

// ---- parsing, in process ------------------------------------------------------------------------------------------

test('every spelling of a flag sets it: --flag value, --flag=value, -flag value, -flag=value', () => {
  for (const argv of [
    ['--data-dir', '/d', '--max-request-bytes', '2048', '--max-txn-ops', '7'],
    ['--data-dir=/d', '--max-request-bytes=2048', '--max-txn-ops=7'],
    ['-data-dir', '/d', '-max-request-bytes', '2048', '-max-txn-ops', '7'],
    ['-data-dir=/d', '-max-request-bytes=2048', '-max-txn-ops=7'],
    ['--data-dir', '/x', '--data-dir=/d', '--max-request-bytes', '1', '-max-request-bytes=2048', '--max-txn-ops', '7'],
  ]) {
    const { config } = parseFlags(argv, {});
    assert.equal(config.dataDir, '/d', argv.join(' '));
    assert.equal(config.limits.requestBytesMax, 2048, argv.join(' '));
    assert.equal(config.limits.txnOpsMax, 7, argv.join(' '));
  }
  // a value may itself start with a dash, as in Go
  assert.equal(parseFlags(['--name', '-odd-name'], {}).config.name, '-odd-name');
  assert.equal(parseFlags(['--name=a=b'], {}).config.name, 'a=b');
  assert.equal(parseFlags([], {}).config.dataDir, 'default.etcd', "etcd's default: ${name}.etcd");
  assert.equal(parseFlags(['--name', 'n1'], {}).config.dataDir, 'n1.etcd');
});

test('integers parse as Go flags do (base prefixes, underscores; no sign on unsigned flags)', () => {
  const good: [string, number][] = [['16', 16], ['0x10', 16], ['0X10', 16], ['0o20', 16], ['020', 16], ['0b10000', 16], ['1_6', 16], ['0x_10', 16]];
  for (const [text, n] of good) assert.equal(parseFlags(['--max-txn-ops', text], {}).config.limits.txnOpsMax, n, text);
  const bad = ['08', '1__6', '_16', '16_', '0x', '+16', '-1', '1.5', '1e3', ' 16', '16 ', '', 'sixteen', '0x1g'];
  for (const text of bad) {
    const err = refusal(() => parseFlags(['--max-txn-ops', text], {}));
    assert.equal(err.message, `invalid value "${text}" for flag -max-txn-ops: parse error`, JSON.stringify(text));
    assert.equal(err.exitCode, 2);
  }
  const big = refusal(() => parseFlags(['--max-request-bytes', '18446744073709551616'], {}));
  assert.equal(big.message, 'invalid value "18446744073709551616" for flag -max-request-bytes: value out of range');
  // --quota-backend-bytes is signed (int64), so a sign is fine there
  assert.equal(parseFlags(['--quota-backend-bytes', '+1048576'], {}).config.limits.backendQuotaBytes, 1048576);
  assert.equal(parseGoInteger('-9223372036854775808', true), -(2n ** 63n));
  assert.equal(parseGoInteger('9223372036854775808', true), 'value out of range');
  assert.equal(parseGoInteger('18446744073709551615', false), 2n ** 64n - 1n);
});

test('unknown flags, bad syntax, missing values and stray arguments are refused with etcd\'s messages', () => {
  const cases: [string[], string, 1 | 2][] = [
    [['--foo'], 'flag provided but not defined: -foo', 2],
    [['-foo=1'], 'flag provided but not defined: -foo', 2],
    [['--data-dir', 'd', '--foo', 'bar'], 'flag provided but not defined: -foo', 2],
    [['---foo'], 'bad flag syntax: ---foo', 2],
    [['--=x'], 'bad flag syntax: --=x', 2],
    [['--data-dir'], 'flag needs an argument: -data-dir', 2],
    [['--max-request-bytes', 'abc', '--foo'], 'invalid value "abc" for flag -max-request-bytes: parse error', 2],
    [['--initial-cluster-state', 'bogus'], 'invalid value "bogus" for flag -initial-cluster-state: invalid value', 2],
    [['--listen-peer-urls=http://h'], 'invalid value "http://h" for flag -listen-peer-urls: URL address does not have the form "host:port": http://h', 2],
    [['--listen-client-binary-urls', 'tcp://h:1'], 'invalid value "tcp://h:1" for flag -listen-client-binary-urls: URL scheme must be http or https: tcp://h:1', 2],
    [['positional'], "'positional' is not a valid flag", 1],
    [['-'], "'-' is not a valid flag", 1],
    [['--data-dir', 'd', '--', '--foo'], "'--foo' is not a valid flag", 1],
    [['--heartbeat-interval', '0x10', '--election-timeout', '0b1'], '--election-timeout[1ms] should be at least as 5 times as --heartbeat-interval[16ms]', 1],
    [['--max-request-bytes', '0'], 'invalid limits: requestBytesMax must be an integer in [1, 536870912], got 0', 1],
    [['--max-txn-ops', '0'], 'invalid limits: txnOpsMax must be an integer in [1, 1000000], got 0', 1],
  ];
  for (const [argv, message, exitCode] of cases) {
    const err = refusal(() => parseFlags(argv, {}));
    assert.equal(err.message, message, argv.join(' '));
    assert.equal(err.exitCode, exitCode, argv.join(' '));
  }
  assert.equal(parseFlags(['--'], {}).config.name, 'default', '"--" alone ends the (empty) flags');
  assert.equal(parseFlags(['-h', '--foo'], {}).help, true, 'Go stops at -h');
  assert.equal(parseFlags(['--version'], {}).version, true);
});

test('ETCD_<FLAG_NAME> variables set flags; a flag wins; empty variables are ignored; bad values are refused', () => {
  const env = { ETCD_DATA_DIR: '/from-env', ETCD_MAX_REQUEST_BYTES: '0x800', ETCD_MAX_TXN_OPS: '9', ETCD_NAME: 'env-name' };
  const fromEnv = parseFlags([], env);
  assert.equal(fromEnv.config.dataDir, '/from-env');
  assert.equal(fromEnv.config.limits.requestBytesMax, 2048);
  assert.equal(fromEnv.config.limits.txnOpsMax, 9);
  assert.equal(fromEnv.config.name, 'env-name');
  assert.deepEqual(fromEnv.warnings, []);

  const both = parseFlags(['--data-dir', '/from-flag', '--max-txn-ops=3'], env);
  assert.equal(both.config.dataDir, '/from-flag');
  assert.equal(both.config.limits.txnOpsMax, 3);
  assert.equal(both.config.limits.requestBytesMax, 2048, 'variables without a flag still apply');
  assert.deepEqual(both.warnings.sort(), [
    'recognized environment variable ETCD_DATA_DIR, but unused: shadowed by corresponding flag',
    'recognized environment variable ETCD_MAX_TXN_OPS, but unused: shadowed by corresponding flag',
  ]);

  const empty = parseFlags(['--name', 'n'], { ETCD_DATA_DIR: '', ETCD_MAX_TXN_OPS: '' });
  assert.equal(empty.config.dataDir, 'n.etcd', 'an empty ETCD_DATA_DIR is as if unset (etcd), not the current directory');
  assert.equal(empty.config.limits.txnOpsMax, 128);

  assert.deepEqual(parseFlags([], { ETCD_FOO: 'bar' }).warnings, ['unrecognized environment variable ETCD_FOO=bar']);
  for (const [key, value, message] of [
    ['ETCD_MAX_REQUEST_BYTES', 'abc', 'invalid value "abc" for ETCD_MAX_REQUEST_BYTES: parse error'],
    ['ETCD_MAX_TXN_OPS', '-1', 'invalid value "-1" for ETCD_MAX_TXN_OPS: parse error'],
    ['ETCD_INITIAL_CLUSTER_STATE', 'x', 'invalid value "x" for ETCD_INITIAL_CLUSTER_STATE: invalid value'],
  ] as const) {
    const err = refusal(() => parseFlags([], { [key]: value }));
    assert.equal(err.message, message);
    assert.equal(err.exitCode, 1, 'etcd refuses bad variables after parsing, with exit code 1');
  }
  // a bad variable shadowed by a flag is never looked at
  assert.equal(parseFlags(['--max-txn-ops', '5'], { ETCD_MAX_TXN_OPS: 'abc' }).config.limits.txnOpsMax, 5);
});

// ---- the etcd-ts binary ---------------------------------------------------------------------------------------------

function scratch(t: { after(fn: () => unknown): void }): string {
  const root = tempDir('etcd-ts-flags-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

test('etcd-ts reads its data directory and limits from ETCD_* variables, and a flag wins over a variable', { timeout: 60_000 }, async (t) => {
  const root = scratch(t);
  const envDir = path.join(root, 'env-dir');
  const flagDir = path.join(root, 'flag-dir');
  // everything from the environment, nothing on the command line
  const a = await startEtcdTsWith([], {
    cwd: root,
    env: { ETCD_DATA_DIR: envDir, ETCD_LISTEN_CLIENT_BINARY_URLS: 'http://127.0.0.1:0', ETCD_MAX_TXN_OPS: '2', ETCD_MAX_REQUEST_BYTES: '2048' },
  });
  t.after(() => a.stop());
  const ca = new Client({ endpoints: [a.endpoint] });
  t.after(() => ca.destroy());
  await ca.put({ key: b('where'), value: b('env') });
  assert.ok(fs.statSync(path.join(envDir, 'member', 'etcd-ts.mdb')).isFile(), 'ETCD_DATA_DIR was used');
  await checkLimits(ca, 2, 2048);
  assert.equal((await a.stop('SIGTERM')).code, 0);

  // the flags win: the data goes to --data-dir, and the flag's limits apply
  const b2 = await startEtcdTsWith(['--data-dir', flagDir, '-listen-client-binary-urls=http://127.0.0.1:0', '--listen-client-urls=http://127.0.0.1:0', '--max-txn-ops=3', '-max-request-bytes', '4096'], {
    cwd: root,
    env: { ETCD_DATA_DIR: envDir, ETCD_MAX_TXN_OPS: '2', ETCD_MAX_REQUEST_BYTES: '2048', ETCD_LISTEN_CLIENT_BINARY_URLS: 'http://127.0.0.1:1' },
  });
  t.after(() => b2.stop());
  const cb = new Client({ endpoints: [b2.endpoint] });
  t.after(() => cb.destroy());
  assert.equal((await cb.get('where')).kvs.length, 0, 'not the environment data directory');
  assert.ok(fs.statSync(path.join(flagDir, 'member', 'etcd-ts.mdb')).isFile(), '--data-dir was used');
  await checkLimits(cb, 3, 4096);
  assert.match(b2.stderr(), /recognized environment variable ETCD_DATA_DIR, but unused: shadowed by corresponding flag/);
  assert.deepEqual(fs.readdirSync(root).sort(), ['env-dir', 'flag-dir'], 'no default.etcd in the working directory');
});

/** The member enforces exactly these limits: a txn of maxOps operations passes, one more fails; likewise bytes. */
async function checkLimits(c: Client, maxOps: number, maxBytes: number): Promise<void> {
  const puts = (n: number): { request_put: { key: Buffer; value: Buffer } }[] =>
    Array.from({ length: n }, (_, i) => ({ request_put: { key: b(`limit/${i}`), value: b('v') } }));
  assert.equal((await c.txn({ success: puts(maxOps) })).succeeded, true);
  await assert.rejects(c.txn({ success: puts(maxOps + 1) }), (err: unknown) => {
    assert.ok(err instanceof EtcdError);
    assert.deepEqual([err.code, err.message], [3, 'etcdserver: too many operations in txn request']);
    return true;
  });
  await c.put({ key: b('limit/bytes'), value: Buffer.alloc(maxBytes - 100) });
  await assert.rejects(c.put({ key: b('limit/bytes'), value: Buffer.alloc(maxBytes) }), (err: unknown) => {
    assert.ok(err instanceof EtcdError);
    assert.deepEqual([err.code, err.message], [3, 'etcdserver: request is too large']);
    return true;
  });
}

test('etcd-ts refuses an unknown flag with exit code 2 and the usage, and a bad variable with exit code 1', { timeout: 60_000 }, async (t) => {
  const root = scratch(t);
  const unknown = await runEtcdTsWith(['--foo'], { cwd: root });
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr.split('\n')[0], 'flag provided but not defined: -foo');
  assert.match(unknown.stderr, /Usage:/);
  const badValue = await runEtcdTsWith(['--max-request-bytes', 'abc'], { cwd: root });
  assert.equal(badValue.code, 2);
  assert.equal(badValue.stderr.split('\n')[0], 'invalid value "abc" for flag -max-request-bytes: parse error');
  const badEnv = await runEtcdTsWith([], { cwd: root, env: { ETCD_MAX_REQUEST_BYTES: 'abc' } });
  assert.equal(badEnv.code, 1);
  assert.equal(badEnv.stderr.trim(), `error verifying flags, invalid value "abc" for ETCD_MAX_REQUEST_BYTES: parse error. See 'etcd-ts --help'.`);
  assert.deepEqual(fs.readdirSync(root), [], 'a refused start creates nothing');
});

// ---- against the real etcd --------------------------------------------------------------------------------------------

/** The part of a refusal both binaries share: the first line of a parse error, or the reason of a verification error. */
function reasonOf(stderr: string): string {
  const verifying = /error verifying flags, (.*)\. See '/.exec(stderr);
  if (verifying) return verifying[1]!;
  return stderr.split('\n').find((l) => l.length > 0 && !l.startsWith('[WARNING]')) ?? '';
}

test('unknown flags and bad values: the same exit code and message as the real etcd', { timeout: 60_000, skip: !etcdInstalled() && 'etcd is not installed' }, async (t) => {
  const root = scratch(t);
  // Every case is refused by both before anything starts (a --data-dir inside the scratch directory all the same).
  const cases: { argv: string[]; env?: Record<string, string> }[] = [
    { argv: ['--foo'] },
    { argv: ['-foo=1'] },
    { argv: ['--foo', 'bar'] },
    { argv: ['---foo'] },
    { argv: ['--=x'] },
    { argv: ['--name'] },
    { argv: ['--max-request-bytes', 'abc'] },
    { argv: ['--max-request-bytes=-1'] },
    { argv: ['--max-request-bytes', '99999999999999999999999'] },
    { argv: ['--max-txn-ops=1.5'] },
    { argv: ['--max-txn-ops', '08'] },
    { argv: ['--initial-cluster-state', 'bogus'] },
    { argv: ['--listen-peer-urls=http://h'] },
    { argv: ['--version=maybe'] },
    { argv: ['--version=false', '--foo'] },
    { argv: ['positional'] },
    { argv: ['-'] },
    { argv: ['--heartbeat-interval', '0x10', '--election-timeout', '0b1'] },
    { argv: ['--heartbeat-interval=1_0', '--election-timeout=0o7'] },
    { argv: ['--heartbeat-interval', '100', '--election-timeout', '60000'] },
    { argv: [], env: { ETCD_MAX_REQUEST_BYTES: 'abc' } },
    { argv: [], env: { ETCD_MAX_TXN_OPS: '-1' } },
    { argv: [], env: { ETCD_INITIAL_CLUSTER_STATE: 'x' } },
    { argv: [], env: { ETCD_ELECTION_TIMEOUT: '1' } },
    { argv: [], env: { ETCD_HEARTBEAT_INTERVAL: '0x10', ETCD_ELECTION_TIMEOUT: '0b1' } },
    // Not compared: a variable shadowed by a flag. etcd 3.4 stops with "conflicting environment variable ... is
    // shadowed by corresponding command-line flag"; etcd-ts lets the flag win with a warning, as specified.
  ];
  for (const { argv, env } of cases) {
    const label = `${Object.entries(env ?? {}).map(([k, v]) => `${k}=${v} `).join('')}${argv.join(' ')}`;
    const args = ['--data-dir', path.join(root, 'never-created'), ...argv];
    const [etcd, ours] = await Promise.all([
      run('etcd', args, { cwd: root, env, timeoutMs: 10_000 }),
      runEtcdTsWith(args, { cwd: root, env, timeoutMs: 10_000 }),
    ]);
    assert.equal(etcd.signal, null, `${label}: etcd refused it (it did not have to be killed)`);
    assert.equal(ours.code, etcd.code, `${label}: exit code (etcd: ${etcd.stderr.slice(0, 300)}; etcd-ts: ${ours.stderr.slice(0, 300)})`);
    assert.equal(reasonOf(ours.stderr), reasonOf(etcd.stderr), `${label}: message`);
  }
  assert.deepEqual(fs.readdirSync(root), [], 'neither binary created anything');
});
