// Go's os/exec as etcdctl uses it (watch's and lock's exec-command): the command is looked up in $PATH unless its
// name has a slash, runs with stdin from /dev/null and etcdctl's stdout and stderr, and its failure reads as Go's
// error text ("exit status 3", "signal: killed", `exec: "x": executable file not found in $PATH`).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type ByteString, byteStringToUtf8, quote } from '../../../gocompat/index.js';

/** syscall.Signal's String() on Linux */
const SIGNAL_TEXT: Record<string, string> = {
  SIGHUP: 'hangup',
  SIGINT: 'interrupt',
  SIGQUIT: 'quit',
  SIGILL: 'illegal instruction',
  SIGTRAP: 'trace/breakpoint trap',
  SIGABRT: 'aborted',
  SIGBUS: 'bus error',
  SIGFPE: 'floating point exception',
  SIGKILL: 'killed',
  SIGUSR1: 'user defined signal 1',
  SIGSEGV: 'segmentation fault',
  SIGUSR2: 'user defined signal 2',
  SIGPIPE: 'broken pipe',
  SIGALRM: 'alarm clock',
  SIGTERM: 'terminated',
};

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOEXEC: 'exec format error',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
};

function isExecutable(file: string): boolean {
  try {
    const st = fs.statSync(file);
    return !st.isDirectory() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** exec.LookPath: the first executable regular file named `name` in $PATH (an empty entry is "."). */
function lookPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const file = path.join(dir === '' ? '.' : dir, name);
    if (isExecutable(file)) return dir === '' ? `./${name}` : file;
  }
  return null;
}

/**
 * exec.Command(args[0], args[1:]...).Run() with the given environment. Resolves with null on success, else with the
 * Go error's text.
 */
export function runCommand(args: ByteString[], env: Record<string, string>): Promise<string | null> {
  const name = args[0]!;
  let file = byteStringToUtf8(name);
  if (!name.includes('/')) {
    const found = lookPath(file);
    if (found === null) return Promise.resolve(`exec: ${quote(name)}: executable file not found in $PATH`);
    file = found;
  }
  return new Promise((resolve) => {
    const child = spawn(file, args.slice(1).map(byteStringToUtf8), {
      argv0: byteStringToUtf8(name),
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      resolve(`fork/exec ${file}: ${ERRNO_TEXT[err.code ?? ''] ?? err.message}`);
    });
    child.once('exit', (code, signal) => {
      if (signal !== null) resolve(`signal: ${SIGNAL_TEXT[signal] ?? signal}`);
      else if (code !== 0) resolve(`exit status ${code}`);
      else resolve(null);
    });
  });
}

/** The environment as Go's os.Environ() passes it on, as a spawn env object. */
export function environ(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}
