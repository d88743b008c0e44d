// user, role and auth (ctlv3/command/user_command.go, role_command.go, auth_command.go) over etcd-ts's binary
// protocol, which serves etcd's Auth service. As in etcdctl 3.4, the user and role requests have no deadline
// (context.TODO: against an endpoint that never answers they wait for good); auth enable and disable take
// --command-timeout's.

import { EtcdError, PermissionType, prefixRangeEnd, type Client } from '../../../client/index.js';
import { Command } from '../command.js';
import { clientErrorText, type Connection, type Deadline } from '../connection.js';
import { boolFlag, stringFlag } from '../flags.js';
import { commandDeadline, currentDisplay, getBool, getString, mustClientFromCmd } from '../global.js';
import { type ByteString, byteStringToBytes, byteStringToUtf8, bytesToByteString, utf8ToByteString } from '../../../gocompat/index.js';
import { ExitCode, exitWithError, println } from '../output.js';
import { askPassword } from '../prompt.js';
import { scanfWordFromStdin } from '../stdin.js';

/** Runs one request; its failure ends the command as ExitWithError(ExitError, err). */
async function requestOrExit<T>(conn: Connection, send: (c: Client) => Promise<T>, idempotent: boolean, deadline: Deadline = null): Promise<T> {
  try {
    return await conn.request(send, deadline, idempotent);
  } catch (err) {
    conn.close();
    return exitWithError(ExitCode.Error, clientErrorText(err));
  }
}

/** A command's single request on a new client, closed once answered. */
async function singleRequest<T>(cmd: Command, send: (c: Client) => Promise<T>, idempotent: boolean): Promise<T> {
  const conn = mustClientFromCmd(cmd);
  const resp = await requestOrExit(conn, send, idempotent);
  conn.close();
  return resp;
}

const utf8 = byteStringToUtf8;

// ---- user -------------------------------------------------------------------------------------------------------

/** readPasswordInteractive: asked twice, as speakeasy asks. */
function readPasswordInteractive(name: ByteString): ByteString {
  const password = askPassword(`Password of ${name}: `);
  if (password.length === 0) exitWithError(ExitCode.BadArgs, 'empty password');
  const again = askPassword(`Type password of ${name} again for confirmation: `);
  if (password !== again) exitWithError(ExitCode.BadArgs, 'given passwords are different');
  return password;
}

/** The password of `user add name` and `user passwd`: from the terminal, or with --interactive=false fmt.Scanf("%s"). */
function readPassword(cmd: Command, name: ByteString): ByteString {
  return getBool(cmd, 'interactive') ? readPasswordInteractive(name) : (scanfWordFromStdin() ?? '');
}

async function userAdd(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'user add command requires user name as its argument');
  const arg = args[0]!;
  const noPassword = getBool(cmd, 'no-password');
  let user = arg;
  let password = '';
  if (!noPassword) {
    const fromFlag = getString(cmd, 'new-user-password');
    const colon = arg.indexOf(':');
    if (fromFlag !== '') password = fromFlag;
    else if (colon < 0) password = readPassword(cmd, arg);
    else {
      user = arg.slice(0, colon);
      password = arg.slice(colon + 1);
      if (user.length === 0) exitWithError(ExitCode.BadArgs, 'empty user name is not allowed');
    }
  }
  const request = { name: utf8(user), password: utf8(password), options: { no_password: noPassword } };
  const resp = await singleRequest(cmd, (c) => c.call('UserAdd', request), false);
  currentDisplay().userAdd(user, resp);
}

async function userDelete(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'user delete command requires user name as its argument');
  const resp = await singleRequest(cmd, (c) => c.call('UserDelete', { name: utf8(args[0]!) }), false);
  currentDisplay().userDelete(args[0]!, resp);
}

async function userGet(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'user get command requires user name as its argument');
  const name = args[0]!;
  const conn = mustClientFromCmd(cmd);
  const resp = await requestOrExit(conn, (c) => c.call('UserGet', { name: utf8(name) }), true);
  const display = currentDisplay();
  if (!getBool(cmd, 'detail')) {
    conn.close();
    display.userGet(name, resp);
    return;
  }
  // each role's permissions, printed as `role get` prints them, after "User: <name>"
  println(`User: ${name}`);
  for (const role of resp.roles ?? []) {
    println();
    const roleResp = await requestOrExit(conn, (c) => c.call('RoleGet', { role }), true);
    display.roleGet(utf8ToByteString(role), roleResp);
  }
  conn.close();
}

async function userList(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 0) exitWithError(ExitCode.BadArgs, 'user list command requires no arguments');
  const resp = await singleRequest(cmd, (c) => c.call('UserList', {}), true);
  currentDisplay().userList(resp);
}

async function userChangePassword(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'user passwd command requires user name as its argument');
  const password = readPassword(cmd, args[0]!);
  const resp = await singleRequest(cmd, (c) => c.call('UserChangePassword', { name: utf8(args[0]!), password: utf8(password) }), false);
  currentDisplay().userChangePassword(resp);
}

async function userGrantRole(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 2) exitWithError(ExitCode.BadArgs, 'user grant command requires user name and role name as its argument');
  const [user, role] = args as [ByteString, ByteString];
  const resp = await singleRequest(cmd, (c) => c.call('UserGrantRole', { user: utf8(user), role: utf8(role) }), false);
  currentDisplay().userGrantRole(user, role, resp);
}

async function userRevokeRole(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 2) exitWithError(ExitCode.BadArgs, 'user revoke-role requires user name and role name as its argument');
  const [user, role] = args as [ByteString, ByteString];
  const resp = await singleRequest(cmd, (c) => c.call('UserRevokeRole', { name: utf8(user), role: utf8(role) }), false);
  currentDisplay().userRevokeRole(user, role, resp);
}

export function userCommand(): Command {
  const uc = new Command({ use: 'user <subcommand>', short: 'User related commands' });
  uc.addCommand(
    new Command({
      use: 'add <user name or user:password> [options]',
      short: 'Adds a new user',
      flags: [
        boolFlag('interactive', '', true, 'Read password from stdin instead of interactive terminal'),
        stringFlag('new-user-password', '', '', 'Supply password from the command line flag'),
        boolFlag('no-password', '', false, 'Create a user without password (CN based auth only)'),
      ],
      run: userAdd,
    }),
    new Command({ use: 'delete <user name>', short: 'Deletes a user', run: userDelete }),
    new Command({
      use: 'get <user name> [options]',
      short: 'Gets detailed information of a user',
      flags: [boolFlag('detail', '', false, 'Show permissions of roles granted to the user')],
      run: userGet,
    }),
    new Command({ use: 'list', short: 'Lists all users', run: userList }),
    new Command({
      use: 'passwd <user name> [options]',
      short: 'Changes password of user',
      flags: [boolFlag('interactive', '', true, 'If true, read password from stdin instead of interactive terminal')],
      run: userChangePassword,
    }),
    new Command({ use: 'grant-role <user name> <role name>', short: 'Grants a role to a user', run: userGrantRole }),
    new Command({ use: 'revoke-role <user name> <role name>', short: 'Revokes a role from a user', run: userRevokeRole }),
  );
  return uc;
}

// ---- role -------------------------------------------------------------------------------------------------------

/** clientv3.StrToPermissionType */
function permissionType(s: ByteString): number {
  const name = utf8(s).toUpperCase();
  if (name === 'READ' || name === 'WRITE' || name === 'READWRITE') return PermissionType[name];
  return exitWithError(ExitCode.BadArgs, `invalid permission type: ${s}`);
}

/** rangeEndFromPermFlags: the range end of a non-empty key and its optional end key. */
function rangeEndFromPermFlags(cmd: Command, args: ByteString[]): ByteString {
  const prefix = getBool(cmd, 'prefix');
  const fromKey = getBool(cmd, 'from-key');
  if (args.length === 1) {
    if (prefix) {
      if (fromKey) exitWithError(ExitCode.BadArgs, '--from-key and --prefix flags are mutually exclusive');
      return bytesToByteString(prefixRangeEnd(byteStringToBytes(args[0]!)));
    }
    return fromKey ? '\x00' : '';
  }
  if (prefix) exitWithError(ExitCode.BadArgs, 'unexpected endkey argument with --prefix flag');
  if (fromKey) exitWithError(ExitCode.BadArgs, 'unexpected endkey argument with --from-key flag');
  return args[1]!;
}

/**
 * permRange: the key and range end a permission covers. An empty key stands for "\x00" (the first key); with --prefix
 * or --from-key it covers every key.
 */
function permRange(cmd: Command, args: ByteString[]): [ByteString, ByteString] {
  const key = args[0]!;
  if (key.length !== 0) return [key, rangeEndFromPermFlags(cmd, args)];
  const prefix = getBool(cmd, 'prefix');
  const fromKey = getBool(cmd, 'from-key');
  if (prefix && fromKey) exitWithError(ExitCode.BadArgs, '--from-key and --prefix flags are mutually exclusive');
  return ['\x00', prefix || fromKey ? '\x00' : ''];
}

async function roleAdd(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'role add command requires role name as its argument');
  const resp = await singleRequest(cmd, (c) => c.call('RoleAdd', { name: utf8(args[0]!) }), false);
  currentDisplay().roleAdd(args[0]!, resp);
}

async function roleDelete(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'role delete command requires role name as its argument');
  const resp = await singleRequest(cmd, (c) => c.call('RoleDelete', { role: utf8(args[0]!) }), false);
  currentDisplay().roleDelete(args[0]!, resp);
}

async function roleGet(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'role get command requires role name as its argument');
  const resp = await singleRequest(cmd, (c) => c.call('RoleGet', { role: utf8(args[0]!) }), true);
  currentDisplay().roleGet(args[0]!, resp);
}

async function roleList(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 0) exitWithError(ExitCode.BadArgs, 'role list command requires no arguments');
  const resp = await singleRequest(cmd, (c) => c.call('RoleList', {}), true);
  currentDisplay().roleList(resp);
}

async function roleGrantPermission(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length < 3) {
    exitWithError(ExitCode.BadArgs, 'role grant command requires role name, permission type, and key [endkey] as its argument');
  }
  const permType = permissionType(args[1]!);
  const [key, rangeEnd] = permRange(cmd, args.slice(2));
  const perm = { permType, key: byteStringToBytes(key), range_end: byteStringToBytes(rangeEnd) };
  const resp = await singleRequest(cmd, (c) => c.call('RoleGrantPermission', { name: utf8(args[0]!), perm }), false);
  currentDisplay().roleGrantPermission(args[0]!, resp);
}

async function roleRevokePermission(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length < 2) {
    exitWithError(ExitCode.BadArgs, 'role revoke-permission command requires role name and key [endkey] as its argument');
  }
  const [key, rangeEnd] = permRange(cmd, args.slice(1));
  const request = { role: utf8(args[0]!), key: byteStringToBytes(key), range_end: byteStringToBytes(rangeEnd) };
  const resp = await singleRequest(cmd, (c) => c.call('RoleRevokePermission', request), false);
  // the key as given (an empty one prints empty), the range end as sent
  currentDisplay().roleRevokePermission(args[0]!, args[1]!, rangeEnd, resp);
}

export function roleCommand(): Command {
  const rc = new Command({ use: 'role <subcommand>', short: 'Role related commands' });
  rc.addCommand(
    new Command({ use: 'add <role name>', short: 'Adds a new role', run: roleAdd }),
    new Command({ use: 'delete <role name>', short: 'Deletes a role', run: roleDelete }),
    new Command({ use: 'get <role name>', short: 'Gets detailed information of a role', run: roleGet }),
    new Command({ use: 'list', short: 'Lists all roles', run: roleList }),
    new Command({
      use: 'grant-permission [options] <role name> <permission type> <key> [endkey]',
      short: 'Grants a key to a role',
      flags: [
        boolFlag('prefix', '', false, 'grant a prefix permission'),
        boolFlag('from-key', '', false, 'grant a permission of keys that are greater than or equal to the given key using byte compare'),
      ],
      run: roleGrantPermission,
    }),
    new Command({
      use: 'revoke-permission <role name> <key> [endkey]',
      short: 'Revokes a key from a role',
      flags: [
        boolFlag('prefix', '', false, 'revoke a prefix permission'),
        boolFlag('from-key', '', false, 'revoke a permission of keys that are greater than or equal to the given key using byte compare'),
      ],
      run: roleRevokePermission,
    }),
  );
  return rc;
}

// ---- auth -------------------------------------------------------------------------------------------------------

function isEtcdError(err: unknown, name: string): boolean {
  return err instanceof EtcdError && err.name === name;
}

/**
 * auth enable: when the server refuses because user root lacks role root, etcdctl creates role root, grants it to
 * root and tries again (so "root user does not have root role" is never shown; a role root that exists but is not
 * granted fails the RoleAdd instead).
 */
async function authEnable(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 0) exitWithError(ExitCode.BadArgs, 'auth enable command does not accept any arguments');
  const deadline = commandDeadline(cmd);
  const conn = mustClientFromCmd(cmd);
  let failure: unknown = null;
  for (;;) {
    try {
      await conn.request((c) => c.call('AuthEnable', {}), deadline, false);
      break;
    } catch (err) {
      if (!isEtcdError(err, 'RootRoleNotExist')) {
        failure = err;
        break;
      }
    }
    try {
      await conn.request((c) => c.call('RoleAdd', { name: 'root' }), deadline, false);
      await conn.request((c) => c.call('UserGrantRole', { user: 'root', role: 'root' }), deadline, false);
    } catch (err) {
      failure = err;
      break;
    }
  }
  conn.close();
  if (failure !== null) exitWithError(ExitCode.Error, clientErrorText(failure));
  println('Authentication Enabled');
}

async function authDisable(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 0) exitWithError(ExitCode.BadArgs, 'auth disable command does not accept any arguments');
  const deadline = commandDeadline(cmd);
  const conn = mustClientFromCmd(cmd);
  await requestOrExit(conn, (c) => c.call('AuthDisable', {}), false, deadline);
  conn.close();
  println('Authentication Disabled');
}

export function authCommand(): Command {
  const ac = new Command({ use: 'auth <enable or disable>', short: 'Enable or disable authentication' });
  ac.addCommand(
    new Command({ use: 'enable', short: 'Enables authentication', run: authEnable }),
    new Command({ use: 'disable', short: 'Disables authentication', run: authDisable }),
  );
  return ac;
}
