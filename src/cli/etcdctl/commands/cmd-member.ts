// member add/remove/update/list/promote and move-leader (ctlv3/command/member_command.go, move_leader_command.go),
// over etcd-ts's binary protocol, which serves etcd's Cluster service and MoveLeader.

import type { Client, StatusResponse } from '../../../client/index.js';
import { Command } from '../command.js';
import { clientErrorText, type Connection, type Deadline } from '../connection.js';
import { boolFlag, stringFlag } from '../flags.js';
import { clientConfigFromCmd, commandDeadline, connect, currentDisplay, getBool, getString, mustClientFromCmd } from '../global.js';
import {
  type ByteString,
  byteStringToUtf8,
  newUrlsError,
  NumError,
  parseUint64,
  quote,
  utf8ToByteString,
} from '../../../gocompat/index.js';
import { ExitCode, exitWithError, stdout } from '../output.js';
import { SimplePrinter } from '../printers/index.js';

/** The member ID argument of remove, update and promote. */
function memberIdArg(args: ByteString[]): bigint {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'member ID is not provided');
  try {
    return parseUint64(args[0]!, 16);
  } catch (err) {
    if (err instanceof NumError) exitWithError(ExitCode.BadArgs, `bad member ID arg (${err.message}), expecting ID in Hex`);
    throw err;
  }
}

/** Runs one request of a command on its connection; failures end the command as ExitWithError(ExitError, err). */
async function requestOrExit<T>(conn: Connection, send: (c: Client) => Promise<T>, deadline: Deadline, idempotent: boolean): Promise<T> {
  try {
    return await conn.request(send, deadline, idempotent);
  } catch (err) {
    return exitWithError(ExitCode.Error, clientErrorText(err));
  } finally {
    conn.close();
  }
}

function splitUrls(s: ByteString): string[] {
  return s.split(',').map(byteStringToUtf8);
}

async function memberAdd(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length < 1) exitWithError(ExitCode.BadArgs, 'member name not provided');
  if (args.length > 1) {
    let ev = 'too many arguments';
    for (const s of args) if (s.toLowerCase().startsWith('http')) ev += `, did you mean --peer-urls=${s}`;
    exitWithError(ExitCode.BadArgs, ev);
  }
  const newMemberName = args[0]!;
  const peerUrls = getString(cmd, 'peer-urls');
  if (peerUrls.length === 0) exitWithError(ExitCode.BadArgs, 'member peer urls not provided');
  const urls = splitUrls(peerUrls);
  const deadline = commandDeadline(cmd);
  const conn = mustClientFromCmd(cmd);
  const isLearner = getBool(cmd, 'learner');
  // clientv3 checks the URLs (types.NewURLs) before sending the request
  const urlError = newUrlsError(peerUrls.split(','));
  if (urlError !== null) {
    conn.close();
    exitWithError(ExitCode.Error, urlError);
  }
  const resp = await requestOrExit(conn, (c) => c.call('MemberAdd', { peerURLs: urls, isLearner }), deadline, false);
  const newId = BigInt(resp.member?.ID ?? 0);
  const display = currentDisplay();
  display.memberAdd(resp);
  if (display instanceof SimplePrinter) {
    const conf: ByteString[] = [];
    for (const m of resp.members ?? []) {
      for (const u of m.peerURLs ?? []) {
        const n = BigInt(m.ID ?? 0) === newId ? newMemberName : utf8ToByteString(m.name ?? '');
        conf.push(`${n}=${utf8ToByteString(u)}`);
      }
    }
    stdout('\n');
    stdout(`ETCD_NAME=${quote(newMemberName)}\n`);
    stdout(`ETCD_INITIAL_CLUSTER=${quote(conf.join(','))}\n`);
    stdout(`ETCD_INITIAL_ADVERTISE_PEER_URLS=${quote(peerUrls)}\n`);
    stdout('ETCD_INITIAL_CLUSTER_STATE="existing"\n');
  }
}

async function memberRemove(cmd: Command, args: ByteString[]): Promise<void> {
  const id = memberIdArg(args);
  const deadline = commandDeadline(cmd);
  const conn = mustClientFromCmd(cmd);
  const resp = await requestOrExit(conn, (c) => c.call('MemberRemove', { ID: id }), deadline, false);
  currentDisplay().memberRemove(id, resp);
}

async function memberUpdate(cmd: Command, args: ByteString[]): Promise<void> {
  const id = memberIdArg(args);
  const peerUrls = getString(cmd, 'peer-urls');
  if (peerUrls.length === 0) exitWithError(ExitCode.BadArgs, 'member peer urls not provided');
  const urls = splitUrls(peerUrls);
  const deadline = commandDeadline(cmd);
  const conn = mustClientFromCmd(cmd);
  const urlError = newUrlsError(peerUrls.split(','));
  if (urlError !== null) {
    conn.close();
    exitWithError(ExitCode.Error, urlError);
  }
  // clientv3 retries MemberUpdate ("it is safe to retry on update")
  const resp = await requestOrExit(conn, (c) => c.call('MemberUpdate', { ID: id, peerURLs: urls }), deadline, true);
  currentDisplay().memberUpdate(id, resp);
}

async function memberList(cmd: Command): Promise<void> {
  const deadline = commandDeadline(cmd);
  const conn = mustClientFromCmd(cmd);
  const resp = await requestOrExit(conn, (c) => c.call('MemberList', {}), deadline, true);
  currentDisplay().memberList(resp);
}

async function memberPromote(cmd: Command, args: ByteString[]): Promise<void> {
  const id = memberIdArg(args);
  const deadline = commandDeadline(cmd);
  const conn = mustClientFromCmd(cmd);
  const resp = await requestOrExit(conn, (c) => c.call('MemberPromote', { ID: id }), deadline, false);
  currentDisplay().memberPromote(id, resp);
}

export function memberCommand(): Command {
  const mc = new Command({ use: 'member <subcommand>', short: 'Membership related commands' });
  mc.addCommand(
    new Command({
      use: 'add <memberName> [options]',
      short: 'Adds a member into the cluster',
      flags: [
        stringFlag('peer-urls', '', '', 'comma separated peer URLs for the new member.'),
        boolFlag('learner', '', false, 'indicates if the new member is raft learner'),
      ],
      run: memberAdd,
    }),
    new Command({ use: 'remove <memberID>', short: 'Removes a member from the cluster', run: memberRemove }),
    new Command({
      use: 'update <memberID> [options]',
      short: 'Updates a member in the cluster',
      flags: [stringFlag('peer-urls', '', '', 'comma separated peer URLs for the updated member.')],
      run: memberUpdate,
    }),
    new Command({
      use: 'list',
      short: 'Lists all members in the cluster',
      long: `When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.
`,
      run: memberList,
    }),
    new Command({
      use: 'promote <memberID>',
      short: 'Promotes a non-voting member in the cluster',
      long: `Promotes a non-voting learner member to a voting one in the cluster.
`,
      run: memberPromote,
    }),
  );
  return mc;
}

// ---- move-leader ----------------------------------------------------------------------------------------------------

/** Go's %v of a []string */
function goSlice(list: ByteString[]): ByteString {
  return `[${list.join(' ')}]`;
}

async function moveLeader(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'move-leader command needs 1 argument');
  let target: bigint;
  try {
    target = parseUint64(args[0]!, 16);
  } catch (err) {
    if (err instanceof NumError) exitWithError(ExitCode.BadArgs, err.message);
    throw err;
  }
  const cfg = clientConfigFromCmd(cmd);
  connect(cfg.endpoints, cfg.dialTimeoutNs, cmd).close();
  const eps = cfg.endpoints;
  // one context for every status request and the transfer
  const deadline = commandDeadline(cmd);
  let leaderConn: Connection | null = null;
  let leaderId = 0n;
  for (const ep of eps) {
    const conn = connect([ep], cfg.dialTimeoutNs, cmd);
    let resp: StatusResponse;
    try {
      resp = await conn.request((c) => c.status(), deadline, true);
    } catch (err) {
      conn.close();
      return exitWithError(ExitCode.Error, clientErrorText(err));
    }
    if (BigInt(resp.header?.member_id ?? 0) === BigInt(resp.leader ?? 0)) {
      leaderConn = conn;
      leaderId = BigInt(resp.leader ?? 0);
      break;
    }
    conn.close();
  }
  if (leaderConn === null) exitWithError(ExitCode.BadArgs, `no leader endpoint given at ${goSlice(eps)}`);
  const resp = await requestOrExit(leaderConn, (c) => c.call('MoveLeader', { targetID: target }), deadline, false);
  currentDisplay().moveLeader(leaderId, target, resp);
}

export function moveLeaderCommand(): Command {
  return new Command({
    use: 'move-leader <transferee-member-id>',
    short: 'Transfers leadership to another etcd cluster member.',
    run: moveLeader,
  });
}
