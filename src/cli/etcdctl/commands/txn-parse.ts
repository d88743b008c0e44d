// txn's input syntax (txn_command.go, util.go argify): compare lines such as `mod("k") > "3"`, and request lines that
// are put/get/del command lines, parsed by a small command tree of their own. etcdctl's quirks are kept, including
// argify's slicing of single-quoted words by the number of words, and the panics clientv3.Compare raises.

import type { Compare, RequestOp } from '../../../client/index.js';
import { CompareResult, CompareTarget } from '../../../client/index.js';
import { Command, CommandError, execute, newHelpCommand } from '../command.js';
import { type ByteString, byteStringToBytes, NumError, parseInt64, quote, ScanError, Scanner } from '../../../gocompat/index.js';
import { getDelOp, getGetOp, getPutOp, newDelCommand, newGetCommand, newPutCommand } from './kv-ops.js';
import { ExitCode, exitWithError, goPanic, stderr, stdout } from '../output.js';

/** A parse error of a txn line (etcdctl exits 3 with it). */
export class TxnInputError extends Error {}

// Go's regexp \s is [\t\n\f\r ] and its "." excludes only "\n"; the text is a byte string.
const ARG_PATTERN = /"(?:[^"\\]|\\[^\n])*"|'[^']*'|[^'"\t\n\f\r ][^\t\n\f\r ]*[^'"\t\n\f\r ]?/g;

/** argify: splits a line into words, unquoting "double" and 'single' quoted ones. */
export function argify(s: ByteString): ByteString[] {
  const args = [...s.matchAll(ARG_PATTERN)].map((m) => m[0]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.length === 0) continue;
    if (a[0] === "'") {
      // etcdctl slices with the number of words, not the word's length
      const high = args.length - 1;
      if (high > a.length) goPanic(`runtime error: slice bounds out of range [:${high}] with length ${a.length}`);
      if (1 > high) goPanic(`runtime error: slice bounds out of range [1:${high}]`);
      args[i] = a.slice(1, high);
    } else if (a[0] === '"') {
      const r = scanQuotedWord(a);
      if (r.err !== null) exitWithError(ExitCode.InvalidInput, r.err);
      args[i] = r.value;
    }
  }
  return args;
}

const RESULTS: Record<string, number> = {
  '=': CompareResult.EQUAL,
  '!=': CompareResult.NOT_EQUAL,
  '>': CompareResult.GREATER,
  '<': CompareResult.LESS,
};

/** clientv3.Compare's result switch: an unknown operator panics. */
function compareResult(op: ByteString): number {
  const r = RESULTS[op];
  if (r === undefined) goPanic('Unknown result op');
  return r;
}

/** parseCompare */
export function parseCompare(line: ByteString): Compare {
  const paren = line.indexOf('(');
  if (paren < 0) throw new TxnInputError(`malformed comparison: ${line}`);
  const target = line.slice(0, paren);
  const { n, key, op, val } = scanCompare(line.slice(paren + 1));
  if (n !== 3) {
    throw new TxnInputError(`malformed comparison: ${line}; got ${target}(${quote(key)}) ${op} ${quote(val)}`);
  }
  const keyBytes = byteStringToBytes(key);
  const integer = (): number | null => {
    try {
      return Number(parseInt64(val, 10, 64));
    } catch (err) {
      if (err instanceof NumError) return null;
      throw err;
    }
  };
  let cmp: Compare | null;
  switch (target) {
    case 'ver':
    case 'version': {
      const v = integer();
      cmp = v === null ? null : { key: keyBytes, target: CompareTarget.VERSION, result: compareResult(op), version: v };
      break;
    }
    case 'c':
    case 'create': {
      const v = integer();
      cmp = v === null ? null : { key: keyBytes, target: CompareTarget.CREATE, result: compareResult(op), create_revision: v };
      break;
    }
    case 'm':
    case 'mod': {
      const v = integer();
      cmp = v === null ? null : { key: keyBytes, target: CompareTarget.MOD, result: compareResult(op), mod_revision: v };
      break;
    }
    case 'val':
    case 'value':
      cmp = { key: keyBytes, target: CompareTarget.VALUE, result: compareResult(op), value: byteStringToBytes(val) };
      break;
    case 'lease':
      // etcdctl 3.4 hands clientv3.Compare the value as a string, which it cannot take for a lease: it panics
      compareResult(op);
      goPanic('bad value');
    // falls through (unreachable)
    default:
      throw new TxnInputError(`malformed comparison: ${line} (unknown target ${target})`);
  }
  if (cmp === null) throw new TxnInputError(`invalid txn compare request: ${line}`);
  return cmp;
}

/**
 * parseRequestUnion: a put/get/del line, run through a command tree of its own. A line that runs something else
 * (help, completion) makes etcdctl wait forever for a request; etcdctl-ts reports it as an invalid request instead.
 */
export async function parseRequestUnion(line: ByteString): Promise<RequestOp> {
  const args = argify(line);
  if (args.length < 2) throw new TxnInputError(`invalid txn compare request: ${line}`);
  let op: RequestOp | null = null;
  const io = { stdout, stderr };
  const root = new Command({ use: '' });
  root.silenceErrors = true;
  root.addCommand(
    newPutCommand((cmd, a) => {
      op = { request_put: getPutOp(cmd, a) };
    }),
    newGetCommand((cmd, a) => {
      op = { request_range: getGetOp(cmd, a) };
    }),
    newDelCommand((cmd, a) => {
      op = { request_delete_range: getDelOp(cmd, a) };
    }),
  );
  newHelpCommand(root, io);
  // cobra also adds its "completion" command, which shows in usage; etcdctl-ts does not generate the scripts
  const completion = new Command({ use: 'completion', short: 'Generate the autocompletion script for the specified shell' });
  for (const shell of ['bash', 'fish', 'powershell', 'zsh']) {
    completion.addCommand(new Command({ use: shell, short: `Generate the autocompletion script for ${shell}`, run: () => {} }));
  }
  root.addCommand(completion);
  try {
    await execute(root, args, io);
  } catch (err) {
    if (err instanceof CommandError) throw new TxnInputError(`invalid txn request: ${line}`);
    throw err;
  }
  if (op === null) throw new TxnInputError(`invalid txn request: ${line}`);
  return op;
}

/** What fmt.Sscanf(s, "%q) %s %q", &key, &op, &val) leaves: etcdctl prints both the count and the operands in its
 * "malformed comparison" error. */
export interface CompareScan {
  /** operands scanned: 3 means success */
  n: number;
  key: ByteString;
  op: ByteString;
  val: ByteString;
}

/** parseCompare's fmt.Sscanf(s, "%q) %s %q", &key, &op, &val). */
export function scanCompare(input: ByteString): CompareScan {
  const res: CompareScan = { n: 0, key: '', op: '', val: '' };
  const r = new Scanner(input);
  try {
    res.key = r.scanQuoted();
    res.n = 1;
    r.literal(0x29);
    r.space();
    res.op = r.scanWord();
    res.n = 2;
    r.space();
    res.val = r.scanQuoted();
    res.n = 3;
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
  }
  return res;
}

/** fmt.Sscanf(word, "%q", &out): the word unquoted, or the scan error's text. */
export function scanQuotedWord(word: ByteString): { value: ByteString; err: string | null } {
  const r = new Scanner(word);
  try {
    return { value: r.scanQuoted(), err: null };
  } catch (err) {
    if (err instanceof ScanError) return { value: '', err: err.message };
    throw err;
  }
}
