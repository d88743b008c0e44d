// lease grant/revoke/timetolive/list/keep-alive (ctlv3/command/lease_command.go, 3.4). grant and revoke run under
// --command-timeout and fail as "failed to ... (err)" with exit 1; timetolive, list and keep-alive have no deadline
// and fail with exit 2, as etcdctl's.

import { Errors } from '../../../errors/index.js';
import { Command } from '../command.js';
import { clientErrorText, type Connection, type Deadline } from '../connection.js';
import { boolFlag } from '../flags.js';
import { clientConfigFromCmd, commandDeadline, connect, currentDisplay, getBool, mustClientFromCmd } from '../global.js';
import { type ByteString, NumError, parseInt64 } from '../../../gocompat/index.js';
import { keepAlive } from '../keepalive.js';
import { ExitCode, exitingFrom, exitWithError, stdout } from '../output.js';
import { leaseHex, SimplePrinter } from '../printers/index.js';
import type { Client, ClientStream, LeaseKeepAliveRequest, LeaseKeepAliveResponse } from '../../../client/index.js';

/** leaseFromArgs: the lease ID in hex (as a signed int64). */
export function leaseFromArgs(arg: ByteString): bigint {
  try {
    return parseInt64(arg, 16, 64);
  } catch (err) {
    if (err instanceof NumError) exitWithError(ExitCode.BadArgs, `bad lease ID arg (${err.message}), expecting ID in Hex`);
    throw err;
  }
}

async function call<T>(conn: Connection, send: (c: Client) => Promise<T>, deadline: Deadline, fail: (text: string) => never): Promise<T> {
  try {
    return await conn.request(send, deadline, true);
  } catch (err) {
    return fail(clientErrorText(err));
  } finally {
    conn.close();
  }
}

async function leaseGrant(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'lease grant command needs TTL argument');
  let ttl: bigint;
  try {
    ttl = parseInt64(args[0]!, 10, 64);
  } catch (err) {
    if (err instanceof NumError) exitWithError(ExitCode.BadArgs, `bad TTL (${err.message})`);
    throw err;
  }
  const deadline = commandDeadline(cmd);
  const conn = mustClientFromCmd(cmd);
  const resp = await call(conn, (c) => c.call('LeaseGrant', { TTL: Number(ttl) }), deadline, (e) =>
    exitWithError(ExitCode.Error, `failed to grant lease (${e})`),
  );
  currentDisplay().grant(resp);
}

async function leaseRevoke(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'lease revoke command needs 1 argument');
  const id = leaseFromArgs(args[0]!);
  const deadline = commandDeadline(cmd);
  const conn = mustClientFromCmd(cmd);
  const resp = await call(conn, (c) => c.call('LeaseRevoke', { ID: id }), deadline, (e) =>
    exitWithError(ExitCode.Error, `failed to revoke lease (${e})`),
  );
  currentDisplay().revoke(id, resp);
}

async function leaseTimeToLive(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'lease timetolive command needs lease ID as argument');
  const keys = getBool(cmd, 'keys');
  // Go evaluates mustClientFromCmd(cmd) (the receiver) before the lease ID argument
  const conn = mustClientFromCmd(cmd);
  const id = leaseFromArgs(args[0]!);
  const resp = await call(conn, (c) => c.call('LeaseTimeToLive', keys ? { ID: id, keys: true } : { ID: id }), null, (e) =>
    exitWithError(ExitCode.BadConnection, e),
  );
  currentDisplay().timeToLive(resp, keys);
}

async function leaseList(cmd: Command): Promise<void> {
  const conn = mustClientFromCmd(cmd);
  const resp = await call(conn, (c) => c.call('LeaseLeases', {}), null, (e) => exitWithError(ExitCode.BadConnection, e));
  currentDisplay().leases(resp);
}

/** KeepAliveOnce: one renewal on a stream of its own (sent again on a new stream if that one breaks first). */
function keepAliveOnce(conn: Connection, id: bigint): Promise<LeaseKeepAliveResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const retry = (): void => {
      if (!settled) setTimeout(() => void attempt(), 100);
    };
    const attempt = async (): Promise<void> => {
      let stream: ClientStream<LeaseKeepAliveRequest> | null = null;
      try {
        stream = await conn.stream(
          'LeaseKeepAlive',
          { ID: id },
          {
            message: (r) => {
              if (settled) return;
              settled = true;
              stream?.close();
              if (Number(r.TTL) <= 0) reject(new Error(Errors.LeaseNotFound.message));
              else resolve(r);
            },
            end: (err) => {
              if (err !== null) retry();
            },
          },
          null,
        );
        if (settled) stream.close();
      } catch {
        retry();
      }
    };
    void attempt();
  });
}

async function leaseKeepAlive(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'lease keep-alive command needs lease ID as argument');
  const id = leaseFromArgs(args[0]!);
  const cfg = clientConfigFromCmd(cmd);
  const conn = connect(cfg.endpoints, cfg.dialTimeoutNs, cmd);
  if (getBool(cmd, 'once')) {
    let resp;
    try {
      resp = await keepAliveOnce(conn, id);
    } catch (err) {
      exitWithError(ExitCode.BadConnection, (err as Error).message);
    } finally {
      conn.close();
    }
    currentDisplay().keepAlive(resp);
    return;
  }
  const ka = keepAlive(conn, id, Number(cfg.dialTimeoutNs / 1_000_000n), (r) => exitingFrom(() => currentDisplay().keepAlive(r)));
  await ka.done;
  conn.close();
  if (currentDisplay() instanceof SimplePrinter) stdout(`lease ${leaseHex(id)} expired or revoked.\n`);
}

export function leaseCommand(): Command {
  const lc = new Command({ use: 'lease <subcommand>', short: 'Lease related commands' });
  lc.addCommand(
    new Command({ use: 'grant <ttl>', short: 'Creates leases', run: leaseGrant }),
    new Command({ use: 'revoke <leaseID>', short: 'Revokes leases', run: leaseRevoke }),
    new Command({
      use: 'timetolive <leaseID> [options]',
      short: 'Get lease information',
      run: leaseTimeToLive,
      flags: [boolFlag('keys', '', false, 'Get keys attached to this lease')],
    }),
    new Command({ use: 'list', short: 'List all active leases', run: leaseList }),
    new Command({
      use: 'keep-alive [options] <leaseID>',
      short: 'Keeps leases alive (renew)',
      run: leaseKeepAlive,
      flags: [boolFlag('once', '', false, 'Resets the keep-alive time to its original value and exits immediately')],
    }),
  );
  return lc;
}
