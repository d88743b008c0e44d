// The txn command: compares, then success requests, then failure requests, each block ended by an empty line, read
// from stdin (with prompts under -i). The transaction has no deadline, as in etcdctl.

import type { Compare, RequestOp, TxnResponse } from '../../../client/index.js';
import { Command } from '../command.js';
import { checkSendSize, clientErrorText } from '../connection.js';
import { requestSize } from '../printers/index.js';
import { boolFlag } from '../flags.js';
import { currentDisplay, getBool, mustClientFromCmd } from '../global.js';
import { type ByteString, trimSpace } from '../../../gocompat/index.js';
import { ExitCode, exitWithError, println } from '../output.js';
import { LineReader } from '../stdin.js';
import { parseCompare, parseRequestUnion, TxnInputError } from './txn-parse.js';

/** The next non-empty line of a block, or null at the block's end; a missing "\n" at end of input is an error. */
function nextLine(reader: LineReader): ByteString | null {
  const { line, eof } = reader.readLine();
  if (eof) exitWithError(ExitCode.InvalidInput, 'EOF');
  const trimmed = trimSpace(line);
  return trimmed.length === 0 ? null : trimmed;
}

function readCompares(reader: LineReader): Compare[] {
  const cmps: Compare[] = [];
  for (let line = nextLine(reader); line !== null; line = nextLine(reader)) {
    try {
      cmps.push(parseCompare(line));
    } catch (err) {
      if (err instanceof TxnInputError) exitWithError(ExitCode.InvalidInput, err.message);
      throw err;
    }
  }
  return cmps;
}

async function readOps(reader: LineReader): Promise<RequestOp[]> {
  const ops: RequestOp[] = [];
  for (let line = nextLine(reader); line !== null; line = nextLine(reader)) {
    try {
      ops.push(await parseRequestUnion(line));
    } catch (err) {
      if (err instanceof TxnInputError) exitWithError(ExitCode.InvalidInput, err.message);
      throw err;
    }
  }
  return ops;
}

async function txn(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 0) exitWithError(ExitCode.BadArgs, 'txn command does not accept argument');
  const interactive = getBool(cmd, 'interactive');
  const prompt = (s: string): void => {
    if (interactive) println(s);
  };
  const reader = new LineReader();
  const conn = mustClientFromCmd(cmd);
  prompt('compares:');
  const compare = readCompares(reader);
  prompt('success requests (get, put, del):');
  const success = await readOps(reader);
  prompt('failure requests (get, put, del):');
  const failure = await readOps(reader);
  let resp: TxnResponse;
  try {
    const req = { compare, success, failure };
    resp = await conn.request((c) => (checkSendSize(requestSize.txn(req)), c.txn(req)), null, false);
  } catch (err) {
    exitWithError(ExitCode.Error, clientErrorText(err));
  } finally {
    conn.close();
  }
  currentDisplay().txn(resp);
}

export function txnCommand(): Command {
  return new Command({
    use: 'txn [options]',
    short: 'Txn processes all the requests in one transaction',
    run: txn,
    flags: [boolFlag('interactive', 'i', false, 'Input transaction in interactive mode')],
  });
}
