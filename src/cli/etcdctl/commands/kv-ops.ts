// The get, put and del commands' flags and argument checks (getGetOp, getPutOp, getDelOp), turned into requests the
// way clientv3's OpGet/OpPut/OpDelete build them. Shared by the commands and by txn's request lines.

import type { DeleteRangeRequest, PutRequest, RangeRequest } from '../../../client/index.js';
import { SortOrder, SortTarget } from '../../../client/index.js';
import { Command, type RunFunction } from '../command.js';
import { boolFlag, int64Flag, stringFlag, type Int64Value } from '../flags.js';
import { getBool, getString } from '../global.js';
import { type ByteString, byteStringToBytes, NumError, parseInt64, quote } from '../../../gocompat/index.js';
import { ExitCode, exitWithError } from '../output.js';
import { readAllStdin } from '../stdin.js';

export function newGetCommand(run: RunFunction): Command {
  return new Command({
    use: 'get [options] <key> [range_end]',
    short: 'Gets the key or a range of keys',
    run,
    flags: [
      stringFlag('consistency', '', 'l', 'Linearizable(l) or Serializable(s)'),
      stringFlag('order', '', '', 'Order of results; ASCEND or DESCEND (ASCEND by default)'),
      stringFlag('sort-by', '', '', 'Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION'),
      int64Flag('limit', 0n, 'Maximum number of results'),
      boolFlag('prefix', '', false, 'Get keys with matching prefix'),
      boolFlag('from-key', '', false, 'Get keys that are greater than or equal to the given key using byte compare'),
      int64Flag('rev', 0n, 'Specify the kv revision'),
      boolFlag('keys-only', '', false, 'Get only the keys'),
      boolFlag('print-value-only', '', false, 'Only write values when using the "simple" output format'),
    ],
  });
}

const PUT_LONG = `
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
`;

export function newPutCommand(run: RunFunction): Command {
  return new Command({
    use: 'put [options] <key> <value> (<value> can also be given from stdin)',
    short: 'Puts the given key into the store',
    long: PUT_LONG,
    run,
    flags: [
      stringFlag('lease', '', '0', 'lease ID (in hexadecimal) to attach to the key'),
      boolFlag('prev-kv', '', false, 'return the previous key-value pair before modification'),
      boolFlag('ignore-value', '', false, 'updates the key using its current value'),
      boolFlag('ignore-lease', '', false, 'updates the key using its current lease'),
    ],
  });
}

export function newDelCommand(run: RunFunction): Command {
  return new Command({
    use: 'del [options] <key> [range_end]',
    short: 'Removes the specified key or range of keys [key, range_end)',
    run,
    flags: [
      boolFlag('prefix', '', false, 'delete keys with matching prefix'),
      boolFlag('prev-kv', '', false, 'return deleted key-value pairs'),
      boolFlag('from-key', '', false, 'delete keys that are greater than or equal to the given key using byte compare'),
    ],
  });
}

function getInt64(cmd: Command, name: string): bigint {
  return (cmd.flags().lookup(name)!.value as Int64Value).value;
}

/** clientv3's getPrefix: the end of the range of keys starting with `key`. */
export function prefixEnd(key: ByteString): ByteString {
  for (let i = key.length - 1; i >= 0; i--) {
    const c = key.charCodeAt(i);
    if (c < 0xff) return key.slice(0, i) + String.fromCharCode(c + 1);
  }
  return '\x00';
}

function asciiUpper(s: ByteString): ByteString {
  return s.replace(/[a-z]/g, (c) => c.toUpperCase());
}

function toNumber(v: bigint): number {
  return Number(v);
}

function bytesOrUndefined(s: ByteString | undefined): Uint8Array | undefined {
  return s === undefined || s === '' ? undefined : byteStringToBytes(s);
}

/** getGetOp */
/** The key and range_end of get/del, as clientv3's WithPrefix and WithFromKey set them (empty key: whole keyspace). */
function keyRange(key: ByteString, end: ByteString | undefined, prefix: boolean, fromKey: boolean): { key: Uint8Array; range_end?: Uint8Array } {
  if (prefix) {
    if (key.length === 0) {
      key = '\x00';
      end = '\x00';
    } else end = prefixEnd(key);
  }
  if (fromKey) {
    if (key.length === 0) key = '\x00';
    end = '\x00';
  }
  const range: { key: Uint8Array; range_end?: Uint8Array } = { key: byteStringToBytes(key) };
  const rangeEnd = bytesOrUndefined(end);
  if (rangeEnd !== undefined) range.range_end = rangeEnd;
  return range;
}

export function getGetOp(cmd: Command, args: ByteString[]): RangeRequest {
  if (args.length === 0) {
    exitWithError(ExitCode.BadArgs, 'get command needs one argument as key and an optional argument as range_end');
  }
  const prefix = getBool(cmd, 'prefix');
  const fromKey = getBool(cmd, 'from-key');
  if (prefix && fromKey) {
    exitWithError(ExitCode.BadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  }
  const consistency = getString(cmd, 'consistency');
  let serializable = false;
  if (consistency === 's') serializable = true;
  else if (consistency !== 'l') exitWithError(ExitCode.BadFeature, `unknown consistency flag ${quote(consistency)}`);

  let key = args[0]!;
  let end: ByteString | undefined;
  if (args.length > 1) {
    if (prefix || fromKey) {
      exitWithError(ExitCode.BadArgs, 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set');
    }
    end = args[1]!;
  }
  const limit = getInt64(cmd, 'limit');
  const rev = getInt64(cmd, 'rev');

  const orderFlag = getString(cmd, 'order');
  let order: number = SortOrder.NONE;
  switch (asciiUpper(orderFlag)) {
    case 'ASCEND': order = SortOrder.ASCEND; break;
    case 'DESCEND': order = SortOrder.DESCEND; break;
    case '': break;
    default: exitWithError(ExitCode.BadFeature, `bad sort order ${orderFlag}`);
  }
  const targetFlag = getString(cmd, 'sort-by');
  let target: number = SortTarget.KEY;
  switch (asciiUpper(targetFlag)) {
    case 'CREATE': target = SortTarget.CREATE; break;
    case 'KEY': target = SortTarget.KEY; break;
    case 'MODIFY': target = SortTarget.MOD; break;
    case 'VALUE': target = SortTarget.VALUE; break;
    case 'VERSION': target = SortTarget.VERSION; break;
    case '': break;
    default: exitWithError(ExitCode.BadFeature, `bad sort target ${targetFlag}`);
  }
  // clientv3.WithSort: ascending by key is the server's natural order, so it is sent as "no sort"
  if (target === SortTarget.KEY && order === SortOrder.ASCEND) order = SortOrder.NONE;

  const req: RangeRequest = keyRange(key, end, prefix, fromKey);
  if (limit !== 0n) req.limit = toNumber(limit);
  if (rev > 0n) req.revision = toNumber(rev);
  if (order !== SortOrder.NONE) req.sort_order = order;
  if (target !== SortTarget.KEY) req.sort_target = target;
  if (serializable) req.serializable = true;
  if (getBool(cmd, 'keys-only')) req.keys_only = true;
  return req;
}

/** argOrStdin */
function argOrStdin(args: ByteString[], i: number): ByteString | null {
  if (i < args.length) return args[i]!;
  const data = readAllStdin();
  return data === '' ? null : data;
}

/** getPutOp */
export function getPutOp(cmd: Command, args: ByteString[]): PutRequest {
  const needs = 'put command needs 1 argument and input from stdin or 2 arguments';
  if (args.length === 0) exitWithError(ExitCode.BadArgs, needs);
  const key = args[0]!;
  const ignoreValue = getBool(cmd, 'ignore-value');
  if (ignoreValue && args.length > 1) exitWithError(ExitCode.BadArgs, "put command needs only 1 argument when 'ignore-value' is set");
  let value = '';
  if (!ignoreValue) {
    const v = argOrStdin(args, 1);
    if (v === null) exitWithError(ExitCode.BadArgs, needs);
    value = v;
  }
  let lease: bigint;
  try {
    lease = parseInt64(getString(cmd, 'lease'), 16, 64);
  } catch (err) {
    if (!(err instanceof NumError)) throw err;
    exitWithError(ExitCode.BadArgs, `bad lease ID (${err.message}), expecting ID in Hex`);
  }
  const req: PutRequest = { key: byteStringToBytes(key) };
  const v = bytesOrUndefined(value);
  if (v !== undefined) req.value = v;
  if (lease !== 0n) req.lease = lease;
  if (getBool(cmd, 'prev-kv')) req.prev_kv = true;
  if (ignoreValue) req.ignore_value = true;
  if (getBool(cmd, 'ignore-lease')) req.ignore_lease = true;
  return req;
}

/** getDelOp */
export function getDelOp(cmd: Command, args: ByteString[]): DeleteRangeRequest {
  if (args.length === 0 || args.length > 2) {
    exitWithError(ExitCode.BadArgs, 'del command needs one argument as key and an optional argument as range_end');
  }
  const prefix = getBool(cmd, 'prefix');
  const fromKey = getBool(cmd, 'from-key');
  if (prefix && fromKey) {
    exitWithError(ExitCode.BadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  }
  let key = args[0]!;
  let end: ByteString | undefined;
  if (args.length > 1) {
    if (prefix || fromKey) {
      exitWithError(ExitCode.BadArgs, 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set');
    }
    end = args[1]!;
  }
  const req: DeleteRangeRequest = keyRange(key, end, prefix, fromKey);
  if (getBool(cmd, 'prev-kv')) req.prev_kv = true;
  return req;
}
