// Standard output and error, written synchronously as byte strings (so an exit right after a write loses nothing),
// and etcdctl's ways of ending: ExitWithError's "Error: ..." line with its exit codes, and a Go panic.

import fs from 'node:fs';
import type { ByteString } from '../../gocompat/index.js';

/** etcdctl's exit codes (ctlv3/command/error.go). */
export const ExitCode = {
  Success: 0,
  Error: 1,
  BadConnection: 2,
  InvalidInput: 3,
  BadFeature: 4,
  Interrupted: 5,
  IO: 6,
  BadArgs: 128,
} as const;

/** Thrown to end the command with an exit code once its output is written; caught by main. */
export class CliExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(fd, data, off, data.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        // a non-blocking pipe that is full: wait for the reader
        Atomics.wait(sleeper, 0, 0, 5);
        continue;
      }
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return;
      throw err;
    }
  }
}

export function stdout(s: ByteString | Uint8Array): void {
  if (s.length === 0) return;
  writeAll(1, typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s.buffer, s.byteOffset, s.length));
}

export function stderr(s: ByteString): void {
  if (s.length === 0) return;
  writeAll(2, Buffer.from(s, 'latin1'));
}

/** fmt.Println */
export function println(...parts: (ByteString | number | bigint | boolean)[]): void {
  stdout(parts.map(String).join(' ') + '\n');
}

/** ExitWithError: "Error: <message>" on stderr, then exit. */
export function exitWithError(code: number, message: ByteString): never {
  stderr(`Error: ${message}\n`);
  throw new CliExit(code);
}

/**
 * A Go panic: the runtime prints the value and the goroutine's stack, and exits 2. The stack trace is Go's own and is
 * not reproduced; the first line is.
 */
export function goPanic(message: ByteString): never {
  stderr(`panic: ${message}\n\ngoroutine 1 [running]:\n`);
  throw new CliExit(2);
}

/**
 * Runs `task` as a goroutine: nobody waits for it, and an exit it ends in (ExitWithError, os.Exit, a panic) ends the
 * whole process, as in Go.
 */
export function go(task: () => Promise<void>): void {
  task().catch((err: unknown) => {
    if (err instanceof CliExit) process.exit(err.code);
    process.stderr.write(`etcdctl-ts: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(70);
  });
}

/** Runs `f` from a callback nobody awaits (a stream's message handler): an exit it ends in ends the process. */
export function exitingFrom(f: () => void): void {
  try {
    f();
  } catch (err) {
    if (err instanceof CliExit) process.exit(err.code);
    throw err;
  }
}

let osArgs: ByteString[] = ['etcdctl'];

/** os.Args: the program name and the raw arguments (watch looks for its exec-command there). */
export function setOsArgs(args: ByteString[]): void {
  osArgs = ['etcdctl', ...args];
}

export function getOsArgs(): ByteString[] {
  return osArgs;
}
