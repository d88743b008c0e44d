// The watch command (ctlv3/command/watch_command.go, 3.4): one watch printed as its events arrive until the server
// cancels it, optionally running a command per event; or, with -i, watch and progress requests read from stdin.
// etcdctl finds the exec-command in os.Args (the raw arguments), not in what cobra parsed, and keeps its quirks.

import type { WatchCreateRequest } from '../../../client/index.js';
import { Command } from '../command.js';
import { boolFlag, BoolValue, FlagError, FlagSet, int64Flag, Int64Value } from '../flags.js';
import { currentDisplay, mustClientFromCmd } from '../global.js';
import { environ, runCommand } from './exec.js';
import {
  bytesToByteString,
  type ByteString,
  byteStringToBytes,
  byteStringToUtf8,
  quote,
  utf8ToByteString,
} from '../../../gocompat/index.js';
import { prefixEnd } from './kv-ops.js';
import { CliExit, ExitCode, exitWithError, getOsArgs, go, goPanic, stderr, stdout } from '../output.js';
import { eventTypeName, isProgressNotify, watchErr } from '../printers/index.js';
import { AsyncLineReader } from '../stdin.js';
import { argify } from './txn-parse.js';
import { WatchChan, Watcher } from '../watcher.js';

const ERR_BAD_ARGS_NUM = 'bad number of arguments';
const ERR_BAD_ARGS_NUM_CONFLICT_ENV = 'bad number of arguments (found conflicting environment key)';
const ERR_BAD_ARGS_NUM_SEPARATOR = 'bad number of arguments (found separator --, but no commands)';
const ERR_BAD_ARGS_INTERACTIVE_WATCH = "args[0] must be 'watch' for interactive calls";

function watchFlags(): ReturnType<typeof boolFlag>[] {
  return [
    boolFlag('interactive', 'i', false, 'Interactive mode'),
    boolFlag('prefix', '', false, 'Watch on a prefix if prefix is set'),
    int64Flag('rev', 0n, 'Revision to start watching'),
    boolFlag('prev-kv', '', false, 'get the previous key-value pair before the event happens'),
  ];
}

/** The package-level flag variables watch_command.go reads (interactive lines set them anew). */
interface WatchOptions {
  prefix: boolean;
  rev: bigint;
  prevKv: boolean;
}

class WatchArgsError extends Error {}

function optionsOf(fs: FlagSet): WatchOptions {
  return {
    prefix: (fs.lookup('prefix')!.value as BoolValue).value,
    rev: (fs.lookup('rev')!.value as Int64Value).value,
    prevKv: (fs.lookup('prev-kv')!.value as BoolValue).value,
  };
}

/** Go's for-range loop looking for "--": the index where it stopped (the last index when not found) and whether found. */
function findSeparator(list: ByteString[]): [number, boolean] {
  for (let i = 0; i < list.length; i++) if (list[i] === '--') return [i, true];
  return [Math.max(0, list.length - 1), false];
}

interface ParsedWatchArgs {
  watchArgs: ByteString[];
  execArgs: ByteString[];
  /** interactive: the options of the line */
  options?: WatchOptions;
}

/** parseWatchArgs: throws WatchArgsError (or FlagError for an interactive line's flags). */
function parseWatchArgs(osArgs: ByteString[], commandArgs: ByteString[], envKey: ByteString, envRange: ByteString, interactive: boolean): ParsedWatchArgs {
  let rawArgs = osArgs.slice();
  let watchArgs = commandArgs.slice();
  const w = rawArgs.indexOf('watch');
  if (w >= 0) rawArgs = rawArgs.slice(w + 1);
  if (interactive) {
    if (watchArgs[0] !== 'watch') throw new WatchArgsError(ERR_BAD_ARGS_INTERACTIVE_WATCH);
    watchArgs = watchArgs.slice(1);
  }
  if (!interactive) {
    const [execIdx, execExist] = findSeparator(rawArgs);
    if (execExist && execIdx === rawArgs.length - 1) throw new WatchArgsError(ERR_BAD_ARGS_NUM_SEPARATOR);
    if (!execExist && rawArgs.length < 1 && envKey === '') throw new WatchArgsError(ERR_BAD_ARGS_NUM);
    if (execExist && envKey !== '') {
      // "ETCDCTL_WATCH_KEY=foo watch foo -- echo 1": a key before "--" conflicts with the variable
      let ridx = rawArgs.length - 1;
      for (let widx = watchArgs.length - 1; widx >= 0; widx--) {
        if (ridx >= 0 && watchArgs[widx] === rawArgs[ridx]) {
          ridx--;
          continue;
        }
        if (ridx === execIdx) throw new WatchArgsError(ERR_BAD_ARGS_NUM_CONFLICT_ENV);
      }
    }
    if (!execExist && watchArgs.length > 0 && envKey !== '') throw new WatchArgsError(ERR_BAD_ARGS_NUM_CONFLICT_ENV);
  } else {
    const [execIdx, execExist] = findSeparator(watchArgs);
    if (execExist && execIdx === watchArgs.length - 1) throw new WatchArgsError(ERR_BAD_ARGS_NUM_SEPARATOR);
    const fs = new FlagSet(watchFlags());
    fs.parse(watchArgs);
    const pArgs = fs.args;
    if (!execExist && envKey === '' && pArgs.length < 1) throw new WatchArgsError(ERR_BAD_ARGS_NUM);
    if (!execExist && pArgs.length > 0 && envKey !== '') throw new WatchArgsError(ERR_BAD_ARGS_NUM_CONFLICT_ENV);
  }

  // interactive lines carry "--" in the words of the line itself
  const argsWithSep = interactive ? watchArgs : rawArgs;
  const [idx, foundSep] = findSeparator(argsWithSep);
  const execArgs = foundSep ? argsWithSep.slice(idx + 1) : [];
  let options: WatchOptions | undefined;
  if (interactive) {
    const fs = new FlagSet(watchFlags());
    fs.parse(argsWithSep);
    watchArgs = fs.args;
    options = optionsOf(fs);
  }
  if (envKey !== '') watchArgs = [envKey, ...(envRange !== '' ? [envRange] : []), ...watchArgs];
  if (!foundSep) return { watchArgs, execArgs: [], ...(options ? { options } : {}) };
  // "watch foo --rev 1 bar -- echo hello": cobra's arguments are "foo bar echo hello"; drop from the command on
  let endIdx = watchArgs.length - 1;
  for (; endIdx >= 0; endIdx--) if (watchArgs[endIdx] === argsWithSep[idx + 1]) break;
  if (endIdx < 0) goPanic(`runtime error: slice bounds out of range [:${endIdx}]`);
  return { watchArgs: watchArgs.slice(0, endIdx), execArgs, ...(options ? { options } : {}) };
}

/** getWatchChan: the watch request of clientv3.Watch(key, WithRev, [WithRange | WithPrefix], [WithPrevKV]). */
function watchRequest(args: ByteString[], o: WatchOptions): WatchCreateRequest {
  if (args.length < 1) throw new WatchArgsError(ERR_BAD_ARGS_NUM);
  let key = args[0]!;
  let end = '';
  if (args.length === 2) {
    if (o.prefix) throw new WatchArgsError('`range_end` and `--prefix` are mutually exclusive');
    end = args[1]!;
  }
  if (o.prefix) {
    if (key.length === 0) {
      key = '\x00';
      end = '\x00';
    } else end = prefixEnd(key);
  }
  const req: WatchCreateRequest = { key: byteStringToBytes(key) };
  if (end !== '') req.range_end = byteStringToBytes(end);
  if (o.rev !== 0n) req.start_revision = Number(o.rev);
  if (o.prevKv) req.prev_kv = true;
  return req;
}

/** Go's %q of a []string */
function quoteList(list: ByteString[]): ByteString {
  return `[${list.map(quote).join(' ')}]`;
}

/** printWatchCh: prints every response of the watch until its channel closes, running the exec-command per event. */
async function printWatchCh(ch: WatchChan, execArgs: ByteString[]): Promise<void> {
  for (;;) {
    const resp = await ch.next();
    if (resp === null) return;
    if (resp.canceled) stderr(`watch was canceled (${watchErr(resp) ?? '<nil>'})\n`);
    if (isProgressNotify(resp)) stdout(`progress notify: ${BigInt(resp.header?.revision ?? 0).toString()}\n`);
    currentDisplay().watch(resp);
    if (execArgs.length === 0) continue;
    for (const ev of resp.events ?? []) {
      const env = environ();
      env.ETCD_WATCH_REVISION = BigInt(resp.header?.revision ?? 0).toString();
      env.ETCD_WATCH_EVENT_TYPE = quote(eventTypeName(ev.type));
      env.ETCD_WATCH_KEY = byteStringToUtf8(quote(bytesToByteString(ev.kv.key)));
      env.ETCD_WATCH_VALUE = byteStringToUtf8(quote(bytesToByteString(ev.kv.value)));
      const err = await runCommand(execArgs, env);
      if (err !== null) {
        stderr(`command ${quoteList(execArgs)} error (${err})\n`);
        throw new CliExit(1);
      }
    }
  }
}

function envBytes(name: string): ByteString {
  return utf8ToByteString(process.env[name] ?? '');
}

async function watchInteractive(cmd: Command, envKey: ByteString, envRange: ByteString): Promise<void> {
  const conn = mustClientFromCmd(cmd);
  const watcher = new Watcher(conn);
  const reader = new AsyncLineReader();
  for (;;) {
    const { line, eof } = await reader.readLine();
    if (eof) exitWithError(ExitCode.InvalidInput, 'Error reading watch request line: EOF');
    const l = line.endsWith('\n') ? line.slice(0, -1) : line;
    const args = argify(l);
    if (args.length < 1) {
      stderr(`Invalid command: ${l} (watch and progress supported)\n`);
      continue;
    }
    switch (args[0]) {
      case 'watch': {
        if (args.length < 2 && envKey === '') {
          stderr(`Invalid command ${l} (command type or key is not provided)\n`);
          continue;
        }
        let parsed: ParsedWatchArgs;
        try {
          parsed = parseWatchArgs(getOsArgs(), args, envKey, envRange, true);
        } catch (err) {
          if (err instanceof WatchArgsError || err instanceof FlagError) exitWithError(ExitCode.BadArgs, err.message);
          throw err;
        }
        let req: WatchCreateRequest;
        try {
          req = watchRequest(parsed.watchArgs, parsed.options!);
        } catch (err) {
          if (!(err instanceof WatchArgsError)) throw err;
          stderr(`Invalid command ${l} (${err.message})\n`);
          continue;
        }
        const ch = await watcher.watch(req);
        go(() => printWatchCh(ch, parsed.execArgs));
        break;
      }
      case 'progress':
        await watcher.requestProgress();
        break;
      default:
        stderr(`Invalid command ${l} (only support watch)\n`);
    }
  }
}

async function watchCommandFunc(cmd: Command, args: ByteString[]): Promise<void> {
  const envKey = envBytes('ETCDCTL_WATCH_KEY');
  const envRange = envBytes('ETCDCTL_WATCH_RANGE_END');
  if (envKey === '' && envRange !== '') {
    exitWithError(ExitCode.BadArgs, `ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${quote(envRange)}`);
  }
  if ((cmd.flags().lookup('interactive')!.value as BoolValue).value) {
    await watchInteractive(cmd, envKey, envRange);
    return;
  }
  let parsed: ParsedWatchArgs;
  try {
    parsed = parseWatchArgs(getOsArgs(), args, envKey, envRange, false);
  } catch (err) {
    if (err instanceof WatchArgsError) exitWithError(ExitCode.BadArgs, err.message);
    throw err;
  }
  const conn = mustClientFromCmd(cmd);
  let req: WatchCreateRequest;
  try {
    req = watchRequest(parsed.watchArgs, optionsOf(cmd.flags()));
  } catch (err) {
    if (err instanceof WatchArgsError) exitWithError(ExitCode.BadArgs, err.message);
    throw err;
  }
  const watcher = new Watcher(conn);
  await printWatchCh(await watcher.watch(req), parsed.execArgs);
  watcher.close();
  conn.close();
  exitWithError(ExitCode.Interrupted, 'watch is canceled by the server');
}

export function watchCommand(): Command {
  return new Command({
    use: 'watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]',
    short: 'Watches events stream on keys or prefixes',
    run: watchCommandFunc,
    flags: watchFlags(),
  });
}
