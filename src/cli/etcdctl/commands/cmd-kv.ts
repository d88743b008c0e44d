// The get, put, del and compaction commands.

import { Command } from '../command.js';
import { checkSendSize, clientErrorText } from '../connection.js';
import { boolFlag } from '../flags.js';
import { commandDeadline, currentDisplay, getBool, mustClientFromCmd } from '../global.js';
import { type ByteString, NumError, parseInt64 } from '../../../gocompat/index.js';
import { getDelOp, getGetOp, getPutOp, newDelCommand, newGetCommand, newPutCommand } from './kv-ops.js';
import { ExitCode, exitWithError, println } from '../output.js';
import { requestSize, SimplePrinter } from '../printers/index.js';

export function getCommand(): Command {
  return newGetCommand(async (cmd, args) => {
    const req = getGetOp(cmd, args);
    // etcdctl takes the deadline before mustClientFromCmd applies ETCDCTL_COMMAND_TIMEOUT
    const deadline = commandDeadline(cmd);
    const conn = mustClientFromCmd(cmd);
    let resp;
    try {
      resp = await conn.request((c) => (checkSendSize(requestSize.range(req)), c.range(req)), deadline, true);
    } catch (err) {
      exitWithError(ExitCode.Error, clientErrorText(err));
    } finally {
      conn.close();
    }
    const display = currentDisplay();
    if (getBool(cmd, 'print-value-only')) {
      if (!(display instanceof SimplePrinter)) {
        exitWithError(ExitCode.BadArgs, 'print-value-only is only for `--write-out=simple`');
      }
      display.valueOnly = true;
    }
    display.get(resp);
  });
}

export function putCommand(): Command {
  return newPutCommand(async (cmd, args) => {
    const req = getPutOp(cmd, args);
    const deadline = commandDeadline(cmd);
    const conn = mustClientFromCmd(cmd);
    let resp;
    try {
      resp = await conn.request((c) => (checkSendSize(requestSize.put(req)), c.put(req)), deadline, false);
    } catch (err) {
      exitWithError(ExitCode.Error, clientErrorText(err));
    } finally {
      conn.close();
    }
    currentDisplay().put(resp);
  });
}

export function delCommand(): Command {
  return newDelCommand(async (cmd, args) => {
    const req = getDelOp(cmd, args);
    const deadline = commandDeadline(cmd);
    const conn = mustClientFromCmd(cmd);
    let resp;
    try {
      resp = await conn.request((c) => (checkSendSize(requestSize.deleteRange(req)), c.deleteRange(req)), deadline, false);
    } catch (err) {
      exitWithError(ExitCode.Error, clientErrorText(err));
    } finally {
      conn.close();
    }
    currentDisplay().del(resp);
  });
}

async function compaction(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1) exitWithError(ExitCode.BadArgs, 'compaction command needs 1 argument');
  let rev: bigint;
  try {
    rev = parseInt64(args[0]!, 10, 64);
  } catch (err) {
    if (!(err instanceof NumError)) throw err;
    exitWithError(ExitCode.Error, err.message);
  }
  const physical = getBool(cmd, 'physical');
  const conn = mustClientFromCmd(cmd);
  const deadline = commandDeadline(cmd);
  try {
    await conn.request((c) => c.compact({ revision: Number(rev), ...(physical ? { physical: true } : {}) }), deadline, false);
  } catch (err) {
    exitWithError(ExitCode.Error, clientErrorText(err));
  } finally {
    conn.close();
  }
  println('compacted revision', rev.toString());
}

export function compactionCommand(): Command {
  return new Command({
    use: 'compaction [options] <revision>',
    short: 'Compacts the event history in etcd',
    run: compaction,
    flags: [boolFlag('physical', '', false, "'true' to wait for compaction to physically remove all old revisions")],
  });
}
