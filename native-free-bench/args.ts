// Command-line parsing shared by the bench tools: `--flag value` and `--flag=value`, numbers checked with the flag's
// name in the message, and the common -w / --server-pid options.

/**
 * Calls `handle` per argument with its flag name and a reader for its value (inline after `=`, or the next one);
 * `-h` / `--help` print `usage` and exit. `handle` throws unknownOption(arg) for what it does not know.
 */
export function eachFlag(argv: readonly string[], usage: string, handle: (flag: string, value: () => string | undefined, arg: string) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(usage);
      process.exit(0);
    }
    const eq = arg.indexOf('=');
    const inline = arg.startsWith('--') && eq > 0;
    handle(inline ? arg.slice(0, eq) : arg, () => (inline ? arg.slice(eq + 1) : argv[++i]), arg);
  }
}

export function unknownOption(arg: string): Error {
  return new Error(`unknown option ${arg}`);
}

/** A flag's value, which must be there. */
export function required(flag: string, v: string | undefined): string {
  if (v === undefined) throw new Error(`${flag}: missing value`);
  return v;
}

/** A positive (or, with allowZero, non-negative) finite number. */
export function positiveNumber(flag: string, v: string | undefined, allowZero = false): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new Error(`${flag}: want a ${allowZero ? 'non-negative' : 'positive'} number, got ${v}`);
  return n;
}

/** A positive (or, with allowZero, non-negative) safe integer. */
export function positiveInteger(flag: string, v: string | undefined, allowZero = false): number {
  const n = positiveNumber(flag, v, allowZero);
  if (!Number.isSafeInteger(n)) throw new Error(`${flag}: want an integer, got ${v}`);
  return n;
}

/** -w / --write-out */
/** --target: which server a tool drives. */
export function targetSystem(v: string | undefined): 'etcd-ts' | 'etcd' {
  if (v !== 'etcd-ts' && v !== 'etcd') throw new Error(`--target: want etcd-ts or etcd, got ${v}`);
  return v;
}

export function outputFormat(v: string | undefined): 'simple' | 'json' {
  if (v !== 'simple' && v !== 'json') throw new Error(`-w: want simple or json, got ${v}`);
  return v;
}

/** --server-pid: comma-separated process ids */
export function pidList(flag: string, v: string | undefined): number[] {
  return (v ?? '').split(',').filter((s) => s.length > 0).map((s) => positiveInteger(flag, s));
}
