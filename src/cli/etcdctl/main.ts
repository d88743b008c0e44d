// etcdctl-ts's entry: raw command-line arguments in, exit code out.

import fs from 'node:fs';
import { CommandError, execute } from './command.js';
import { type ByteString, utf8ToByteString } from '../../gocompat/index.js';
import { CliExit, ExitCode, setOsArgs, stderr, stdout } from './output.js';
import { newRootCommand } from './root.js';

/**
 * The arguments as the bytes the shell passed: Node decodes argv as UTF-8 (replacing invalid bytes), so on Linux they
 * are read back from /proc/self/cmdline, whose last entries are the script's arguments.
 */
export function rawArguments(): ByteString[] {
  const count = process.argv.length - 2;
  try {
    const raw = fs.readFileSync('/proc/self/cmdline').toString('latin1').split('\x00');
    if (raw[raw.length - 1] === '') raw.pop();
    const args = raw.slice(raw.length - count);
    // only trust it when it agrees with what Node decoded (wherever that decoding was lossless)
    const agrees = (a: ByteString, i: number): boolean => {
      const decoded = Buffer.from(a, 'latin1').toString('utf8');
      return decoded.includes('\ufffd') || decoded === process.argv[i + 2];
    };
    if (args.length === count && args.every(agrees)) return args;
  } catch {
    // not Linux: fall back to the decoded arguments
  }
  return process.argv.slice(2).map(utf8ToByteString);
}

export async function main(args: ByteString[]): Promise<number> {
  // etcdctl reads ETCDCTL_API itself and removes it before looking at other ETCDCTL_ variables
  const api = process.env.ETCDCTL_API ?? '';
  delete process.env.ETCDCTL_API;
  if (api !== '' && api !== '3') {
    stderr(`unsupported API version ${api}\n`);
    return 1;
  }
  setOsArgs(args);
  const io = { stdout, stderr };
  try {
    await execute(newRootCommand(io), args, io);
    return ExitCode.Success;
  } catch (err) {
    if (err instanceof CliExit) return err.code;
    // ctl.go: an error from cobra's Execute is printed once more, by ExitWithError(ExitError, err)
    if (err instanceof CommandError) {
      stderr(`Error: ${err.message}\n`);
      return ExitCode.Error;
    }
    throw err;
  }
}
