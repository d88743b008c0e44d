// user, role and auth commands and the global --user/--password through etcdctl-ts and the real etcdctl, on one pair
// of members (a real etcd, an etcd-ts member) driven through the same script: help, argument and prompt errors that
// never reach a server, then users and roles created, read in every output format, changed and removed, then a session
// with authentication enabled (root and a limited user logging in, a denied read, refused credentials with exit code
// 2, a password typed at the prompt) and authentication disabled again. The cluster and member IDs are the one thing
// that must differ; each side's are replaced by placeholders (decimal, and as -w protobuf's varints).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairFor, varintText, type CliResult, type CompareOptions } from '../helpers/etcdctl.js';

const FORMATS = ['simple', 'json', 'fields', 'protobuf', 'table'];
const UNREACHABLE = '127.0.0.1:1';

function out(r: CliResult): string {
  return r.stdout.toString('latin1');
}

type Vars = Record<string, [string, string]>;

test('etcdctl-ts user, role and auth commands agree with etcdctl', { timeout: 240_000 }, async (t) => {
  const pair = await pairFor(t);
  if (pair === null) return;

  // each side's cluster and member ID, as the printers show them
  const [statusA, statusB] = await pair.both(['endpoint', 'status', '-w', 'json']);
  const ids = (r: CliResult): [string, string] => {
    const m = /"cluster_id":(\d+),"member_id":(\d+)/.exec(out(r));
    assert.ok(m !== null, `endpoint status -w json: ${out(r)}`);
    return [m[1]!, m[2]!];
  };
  const [[cidA, midA], [cidB, midB]] = [ids(statusA), ids(statusB)];
  const vars: Vars = {
    '@CID@': [cidA, cidB],
    '@MID@': [midA, midB],
    '@CIDV@': [varintText(BigInt(cidA)), varintText(BigInt(cidB))],
    '@MIDV@': [varintText(BigInt(midA)), varintText(BigInt(midB))],
  };
  const same = (args: (string | Buffer)[], opts: CompareOptions = {}): Promise<CliResult> => pair.same(args, { vars, ...opts });
  /** the command in every output format */
  const inEveryFormat = async (args: (string | Buffer)[], opts: CompareOptions = {}): Promise<void> => {
    for (const w of FORMATS) await same([...args, '-w', w], opts);
  };
  const root = ['--user', 'root:rootpw'];
  const alice = ['--user', 'alice:alicepw'];

  await t.test('help of the user, role and auth commands', async () => {
    for (const args of [
      ['user', '--help'],
      ['role', '--help'],
      ['auth', '--help'],
      ['user'],
      ['role', 'bogus'],
      ['user', 'add', '--help'],
      ['user', 'passwd', '-h'],
      ['user', 'get', '--help'],
      ['user', 'delete', '--help'],
      ['user', 'list', '--help'],
      ['user', 'grant-role', '--help'],
      ['help', 'user', 'revoke-role'],
      ['role', 'add', '--help'],
      ['role', 'get', '--help'],
      ['role', 'grant-permission', '--help'],
      ['role', 'revoke-permission', '--help'],
      ['help', 'auth', 'enable'],
      ['auth', 'disable', '--help'],
      ['us', 'li', '--help'],
    ]) {
      await same(args);
    }
    const help = await same(['--help'], { norm: { commandList: true } });
    for (const c of ['user add', 'role grant-permission', 'auth enable']) assert.match(out(help), new RegExp(`\\t${c}\\t`));
  });

  await t.test('argument errors (no server reached)', async () => {
    for (const args of [
      ['user', 'add'],
      ['user', 'add', 'a', 'b'],
      ['user', 'add', ':x'],
      ['user', 'add', ':'],
      ['user', 'get'],
      ['user', 'get', 'a', 'b'],
      ['user', 'list', 'x'],
      ['user', 'delete'],
      ['user', 'passwd'],
      ['user', 'grant-role', 'a'],
      ['user', 'revoke-role', 'a', 'b', 'c'],
      ['role', 'add'],
      ['role', 'get', 'a', 'b'],
      ['role', 'delete'],
      ['role', 'list', 'x'],
      ['role', 'grant-permission', 'r1', 'read'],
      ['role', 'grant-permission', 'r1', 'bogus', '/a'],
      ['role', 'grant-permission', 'r1', 'readonly', ''],
      ['role', 'grant-permission', 'r1', '--prefix', 'read', '/a', '/b'],
      ['role', 'grant-permission', 'r1', '--from-key', 'write', '/a', '/b'],
      ['role', 'grant-permission', 'r1', '--from-key', '--prefix', 'read', ''],
      ['role', 'grant-permission', 'r1', '--from-key', '--prefix', 'read', 'x'],
      ['role', 'revoke-permission', 'r1'],
      ['role', 'revoke-permission', '--prefix', 'r1', '/a', '/b'],
      ['role', 'revoke-permission', '--from-key', '--prefix', 'r1', ''],
      ['auth', 'enable', 'x'],
      ['auth', 'disable', 'x'],
      ['user', 'add', 'x', '--no-password=maybe'],
      ['-w', 'yaml', 'user', 'list'],
      ['-w', 'yaml', 'auth', 'enable'],
    ]) {
      await same(args);
    }
  });

  await t.test('password prompts and their errors', async () => {
    await same(['user', 'add', 'bob'], { stdin: 'pw1\npw2\n', label: 'passwords differ' });
    await same(['user', 'add', 'bob'], { stdin: '\n', label: 'empty password' });
    await same(['user', 'add', 'bob'], { stdin: '', label: 'no input' });
    await same(['user', 'add', 'bob'], { stdin: 'pw1', label: 'input ends after the first password' });
    await same(['user', 'passwd', 'bob'], { stdin: ' pw1 \npw2\n', label: 'passwd: passwords differ' });
  });

  await t.test('auth enable without a root user', async () => {
    await same(['auth', 'enable']);
    await same(['auth', 'disable']);
  });

  await t.test('users: add in every way, errors', async () => {
    await same(['user', 'add', 'root', '--interactive=false'], { stdin: 'rootpw\n' });
    await same(['user', 'add', 'alice:alicepw']);
    await same(['user', 'add', 'alice:other']);
    await same(['user', 'add', 'bob'], { stdin: ' bobpw\n\tbobpw \n', label: 'interactive, surrounding spaces trimmed' });
    await same(['user', 'add', 'carol', '--new-user-password', 'carolpw']);
    await same(['user', 'add', 'dave', '--no-password']);
    await same(['user', 'add', 'x:y:z']);
    await same(['user', 'add', 'eve', '--interactive=false'], { stdin: '  evepw extra\n', label: 'Scanf reads one word' });
    await same(['user', 'add', 'frank', '--interactive=false'], { stdin: '\nfrankpw\n', label: 'Scanf stops at a newline' });
    await same(['user', 'add', '--new-user-password=pw', 'gina:ignored']);
    await same(['user', 'add', '--no-password', 'hank:kept']);
    await same(['user', 'add', '--new-user-password=pw', '']);
    await same(['user', 'add', '<a&b>\u00fc:pw']);
    await same(['user', 'add', 'ivan:pw', '-w', 'json']);
    await same(['user', 'add', 'judy:pw', '-w', 'fields']);
    await same(['user', 'add', 'kim:pw', '-w', 'protobuf']);
    await same(['user', 'add', 'leo:pw', '-w', 'table']);
    await inEveryFormat(['user', 'list']);
  });

  await t.test('roles and permissions', async () => {
    await same(['role', 'add', 'r1']);
    await same(['role', 'add', 'r1']);
    await same(['role', 'add', '']);
    await same(['role', 'add', 'r2', '-w', 'json']);
    for (const args of [
      ['r1', 'read', '/a'],
      ['r1', '--prefix', 'readwrite', '/p/'],
      ['r1', 'write', '/k1', '/k5'],
      ['r1', '--from-key', 'read', '/z'],
      ['r1', 'READ', '/r'],
      ['r1', 'Write', '/w'],
      ['r1', 'read', '/r', '-w', 'json'],
      ['r1', 'read', '/s', '-w', 'fields'],
      ['r1', 'read', '/t', '-w', 'protobuf'],
      ['r1', 'read', '/u', '-w', 'table'],
      ['nosuch', 'read', '/x'],
      ['', 'read', '/x'],
    ]) {
      await same(['role', 'grant-permission', ...args]);
    }
    await same(['role', 'grant-permission', 'r2', '--prefix', 'read', Buffer.from([0x2f, 0xff, 0xff])]);
    await same(['role', 'grant-permission', 'r2', '--prefix', 'read', '']);
    await same(['role', 'grant-permission', 'r2', '--from-key', 'write', '']);
    await same(['role', 'grant-permission', 'r2', 'readwrite', '', '/ignored']);
    await same(['role', 'grant-permission', 'r2', 'write', '/b', '/a']);
    await inEveryFormat(['role', 'get', 'r1']);
    await inEveryFormat(['role', 'get', 'r2']);
    const r1 = await same(['role', 'get', 'r1']);
    assert.equal(
      out(r1),
      'Role r1\nKV Read:\n\t/a\n\t[/p/, /p0) (prefix /p/)\n\t/r\n\t/s\n\t/t\n\t/u\n\t[/z, <open ended>\nKV Write:\n\t[/k1, /k5)\n\t[/p/, /p0) (prefix /p/)\n\t/w\n',
    );
    await same(['role', 'get', 'nosuch']);
    await inEveryFormat(['role', 'list']);
  });

  await t.test('revoking permissions', async () => {
    await same(['role', 'add', 'r3']);
    for (const args of [['read', '/b'], ['write', '/k1', '/k5'], ['--from-key', 'read', '/z'], ['--prefix', 'read', '/q/'], ['--prefix', 'read', ''], ['read', '']]) {
      await same(['role', 'grant-permission', 'r3', ...args]);
    }
    for (const args of [['/b'], ['/b'], ['/k1', '/k5'], ['--from-key', '/z'], ['--prefix', '/q/', '-w', 'json'], ['--prefix', ''], [''], ['nosuch']]) {
      await same(['role', 'revoke-permission', 'r3', ...args]);
    }
    await same(['role', 'revoke-permission', 'nosuch', '/b']);
    const r3 = await same(['role', 'get', 'r3']);
    assert.equal(out(r3), 'Role r3\nKV Read:\nKV Write:\n');
  });

  await t.test('granting and revoking roles, user get', async () => {
    await same(['user', 'grant-role', 'alice', 'r1']);
    await same(['user', 'grant-role', 'alice', 'r1']);
    await same(['user', 'grant-role', 'alice', 'nosuch']);
    await same(['user', 'grant-role', 'nosuch', 'r1']);
    await same(['user', 'grant-role', 'carol', 'r2', '-w', 'json']);
    await same(['user', 'grant-role', 'carol', 'r3', '-w', 'fields']);
    await same(['user', 'grant-role', 'bob', 'r3', '-w', 'protobuf']);
    await inEveryFormat(['user', 'get', 'alice']);
    assert.equal(out(await same(['user', 'get', 'alice'])), 'User: alice\nRoles: r1\n');
    assert.match(out(await same(['user', 'get', 'alice', '-w', 'json'])), /^\{"header":\{"cluster_id":\d+,"member_id":\d+,"revision":\d+,"raft_term":\d+\},"roles":\["r1"\]\}\n$/);
    await inEveryFormat(['user', 'get', 'carol', '--detail']);
    await same(['user', 'get', 'dave', '--detail']);
    await same(['user', 'get', 'root']);
    await same(['user', 'get', 'nosuch']);
    await same(['user', 'get', 'nosuch', '--detail']);
    await same(['user', 'revoke-role', 'carol', 'r3']);
    await same(['user', 'revoke-role', 'carol', 'r3']);
    await same(['user', 'revoke-role', 'nosuch', 'r3']);
    await same(['user', 'revoke-role', 'bob', 'r3', '-w', 'table']);
  });

  await t.test('passwords, deletions', async () => {
    await same(['user', 'passwd', 'bob', '--interactive=false'], { stdin: 'newbobpw\n' });
    await same(['user', 'passwd', 'carol'], { stdin: 'carolpw2\ncarolpw2\n' });
    await same(['user', 'passwd', 'nosuch', '--interactive=false'], { stdin: 'x\n' });
    await same(['user', 'passwd', 'dave', '--interactive=false', '-w', 'json'], { stdin: 'davepw\n' });
    await same(['user', 'delete', 'x']);
    await same(['user', 'delete', 'x']);
    await same(['user', 'delete', 'ivan', '-w', 'json']);
    await same(['user', 'delete', 'judy', '-w', 'fields']);
    await same(['role', 'delete', 'r3']);
    await same(['role', 'delete', 'r3']);
    await same(['role', 'add', 'r4']);
    await same(['role', 'delete', 'r4', '-w', 'protobuf']);
    await same(['user', 'get', 'carol']);
  });

  await t.test('--user with authentication disabled', async () => {
    await same([...root, 'user', 'list']);
    await same(['--user', 'root:wrong', 'role', 'list']);
    await same(['--user', 'root', 'user', 'get', 'alice'], { stdin: 'anything\n', label: 'password prompt' });
  });

  await t.test('auth enable: role root made and granted by etcdctl', async () => {
    // a role root that exists but is not granted to root fails the RoleAdd etcdctl retries with
    await same(['role', 'add', 'root']);
    await same(['auth', 'enable']);
    await same(['role', 'delete', 'root']);
    await same(['auth', 'enable', '-w', 'json']);
  });

  await t.test('a session with authentication enabled', async () => {
    const anonymous = await same(['user', 'list']);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr.toString(), /Error: etcdserver: user name is empty/);
    await same(['put', 'k', 'v']);
    await same([...root, 'user', 'get', 'root']);
    await same([...root, 'role', 'list', '-w', 'json']);
    await same([...root, 'put', '/p/x', 'rootv']);
    await same(['--user', 'root', '--password', 'rootpw', 'user', 'list']);
    await same(['--user', 'root', 'user', 'list'], { stdin: 'rootpw\n', label: 'password prompt' });
    // the new user's password read by Scanf, then root's at the prompt
    await same(['--user', 'root', 'user', 'add', 'max', '--interactive=false'], { stdin: 'maxpw\nrootpw\n', label: 'Scanf, then the prompt' });
    await same(['--user', 'root', 'user', 'add', 'ned'], { stdin: 'nedpw\nnedpw\nrootpw\n', label: 'three prompts' });
    await same(['--user', 'ned:nedpw', 'get', 'k']);
    await same(['--user', 'bob', 'get', 'k'], { stdin: 'newbobpw\n', label: 'prompt, permission denied' });
    // refused credentials: exit code 2
    const refused = await same(['--user', 'root:wrong', 'user', 'list']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr.toString(), /Error: etcdserver: authentication failed, invalid user ID or password/);
    await same(['--user', 'nosuch:pw', 'get', 'k']);
    await same(['--user', 'root:rootpw', '--password', 'rootpw', 'get', 'k']);
    await same(['--user', 'root', 'get', 'k'], { stdin: 'wrong\n', label: 'wrong password at the prompt' });
    await same(['--user', 'dave:x', 'get', 'k'], { label: 'no-password user' });
    // an empty password (or name) means no login at all: anonymous
    await same(['--user', 'root:', 'user', 'list']);
    await same(['--user', ':rootpw', 'user', 'list']);
    await same(['--user', 'root', 'user', 'list'], { stdin: '\n', label: 'empty password at the prompt' });
    // a limited user
    await same([...alice, 'put', '/p/y', 'alicev']);
    await same([...alice, 'get', '/p/', '--prefix']);
    await same([...alice, 'get', '/p', '--prefix']);
    const allowed = await same([...alice, 'get', '/p/x']);
    assert.equal(out(allowed), '/p/x\nrootv\n');
    const readable = await same([...alice, 'get', '/a']);
    assert.equal(readable.code, 0, 'read permission on /a');
    // readable through r1's [/z, <open ended>
    await same([...alice, 'get', 'k']);
    const denied = await same([...alice, 'get', '/b']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr.toString(), /Error: etcdserver: permission denied/);
    await same([...alice, 'put', '/a', 'v']);
    await same([...alice, 'user', 'get', 'alice', '--detail']);
    await same([...alice, 'role', 'get', 'r1', '-w', 'json']);
    await same([...alice, 'user', 'get', 'root']);
    await same([...alice, 'role', 'get', 'r2']);
    await same([...alice, 'user', 'list']);
    await same([...alice, 'role', 'add', 'r9']);
    await same([...alice, 'auth', 'disable']);
    // endpoint health: a refused login is that endpoint's failure; a denied read still proves health
    await same([...alice, 'endpoint', 'health'], { norm: { took: true } });
    await same(['--user', 'root:wrong', 'endpoint', 'health', '-w', 'json'], { norm: { took: true } });
    // root is protected
    await same([...root, 'user', 'delete', 'root']);
    await same([...root, 'role', 'delete', 'root']);
    await same([...root, 'user', 'revoke-role', 'root', 'root']);
    await same([...root, 'role', 'revoke-permission', 'r1', '/a']);
    await same([...root, 'role', 'get', 'r1']);
    await same([...root, 'auth', 'enable']);
    // logging in where nothing answers: the login's deadline is the dial timeout
    const down = ['--endpoints', UNREACHABLE, '--dial-timeout', '300ms', '--command-timeout', '500ms', ...root];
    await same([...down, 'user', 'list'], { endpoint: 'none' });
    await same([...down, 'endpoint', 'status'], { endpoint: 'none' });
    await same([...down, 'endpoint', 'health'], { endpoint: 'none' });
  });

  await t.test('auth disable', async () => {
    await same([...root, 'auth', 'disable', '-w', 'json']);
    await same(['auth', 'disable']);
    assert.match(out(await same(['user', 'list'])), /\nalice\nbob\n/);
    await same(['get', '/p/', '--prefix']);
  });
});
