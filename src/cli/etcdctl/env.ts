// etcd's pkg/flags.SetPflagsFromEnv: ETCDCTL_<FLAG> environment variables fill in flags not given on the command
// line; a variable for a flag that was also given is fatal; an ETCDCTL_ variable matching no flag is warned about.
// Messages go through capnslog's format ("<date> <time> W | pkg/flags: ...").

import type { FlagSet } from './flags.js';
import { type ByteString, quote, utf8ToByteString } from '../../gocompat/index.js';
import { CliExit, stderr } from './output.js';

export function flagToEnv(prefix: string, name: string): string {
  return `${prefix}_${name.replace(/-/g, '_').toUpperCase()}`;
}

function capnslogTime(): string {
  const d = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const micros = p(d.getMilliseconds(), 3) + p(Number(process.hrtime.bigint() % 1000n), 3);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${micros}`;
}

function capnslog(level: 'W' | 'C', message: ByteString): void {
  stderr(`${capnslogTime()} ${level} | pkg/flags: ${message}\n`);
}

/** The environment as Go's os.Environ() lists it, as byte strings. */
function environ(): [ByteString, ByteString][] {
  return Object.entries(process.env).map(([k, v]) => [utf8ToByteString(k), utf8ToByteString(v ?? '')]);
}

/** Applies ETCDCTL_* to `fs`. A bad value is ignored (etcdctl ignores the error), leaving what the flag's Set left. */
export function setFlagsFromEnv(prefix: string, fs: FlagSet): void {
  const alreadySet = new Set<string>();
  const used = new Set<string>();
  const env = new Map(environ());
  for (const flag of fs.sorted()) {
    const key = flagToEnv(prefix, flag.name);
    if (flag.changed) alreadySet.add(key);
    if (alreadySet.has(key)) continue;
    const value = env.get(key) ?? '';
    if (value === '') continue;
    used.add(key);
    try {
      fs.set(flag.name, value);
    } catch {
      // etcdctl discards SetPflagsFromEnv's error
    }
  }
  for (const [key, value] of environ()) {
    if (used.has(key)) continue;
    if (alreadySet.has(key)) {
      capnslog(
        'C',
        `conflicting environment variable ${quote(key)} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`,
      );
      throw new CliExit(1);
    }
    if (key.startsWith(prefix + '_')) capnslog('W', `unrecognized environment variable ${key}=${value}`);
  }
}
