// spf13/pflag as etcdctl uses it: GNU-style flags (--name=value, --name value, -x value, -xvalue, bool flags without
// a value), flags and arguments interspersed, "--" ending the flags, and pflag's exact error messages and usage lines.

import {
  type ByteString,
  formatDuration,
  isUnicodeSpace,
  parseBool,
  parseDuration,
  parseInt64,
  quote,
  quoteRune,
  readCsvRecord,
  writeCsvRecord,
} from '../../gocompat/index.js';

interface FlagValue {
  /** throws an Error whose message is the Go error's text */
  set(s: ByteString): void;
  string(): ByteString;
  readonly type: string;
}

export class BoolValue implements FlagValue {
  readonly type = 'bool';
  constructor(public value: boolean) {}
  set(s: ByteString): void {
    this.value = false;
    this.value = parseBool(s);
  }
  string(): ByteString {
    return String(this.value);
  }
}

export class StringValue implements FlagValue {
  readonly type = 'string';
  constructor(public value: ByteString) {}
  set(s: ByteString): void {
    this.value = s;
  }
  string(): ByteString {
    return this.value;
  }
}

export class Int64Value implements FlagValue {
  readonly type = 'int64';
  constructor(public value: bigint) {}
  set(s: ByteString): void {
    this.value = 0n;
    this.value = parseInt64(s, 0, 64);
  }
  string(): ByteString {
    return this.value.toString();
  }
}

export class DurationValue implements FlagValue {
  readonly type = 'duration';
  /** nanoseconds */
  constructor(public value: bigint) {}
  set(s: ByteString): void {
    this.value = 0n; // Go stores the zero value when parsing fails
    this.value = parseDuration(s);
  }
  string(): ByteString {
    return formatDuration(this.value);
  }
}

export class StringSliceValue implements FlagValue {
  readonly type = 'stringSlice';
  private changed = false;
  constructor(public value: ByteString[]) {}
  set(s: ByteString): void {
    const v = s === '' ? [] : readCsvRecord(s);
    this.value = this.changed ? [...this.value, ...v] : v;
    this.changed = true;
  }
  string(): ByteString {
    return '[' + writeCsvRecord(this.value) + ']';
  }
}

/** etcdctl's discardValue: accepts anything, shows as "" (watch's ETCDCTL_WATCH_* placeholders). */
export class DiscardValue implements FlagValue {
  readonly type = '';
  set(_s: ByteString): void {}
  string(): ByteString {
    return '';
  }
}

export class Flag {
  changed = false;
  readonly defValue: ByteString;
  readonly noOptDefVal: ByteString;

  constructor(
    readonly name: string,
    readonly shorthand: string,
    readonly value: FlagValue,
    readonly usage: string,
  ) {
    this.defValue = value.string();
    this.noOptDefVal = value.type === 'bool' ? 'true' : '';
  }

  /** pflag's defaultIsZeroValue */
  defaultIsZero(): boolean {
    switch (this.value.type) {
      case 'bool':
        return this.defValue === 'false';
      case 'duration':
        return this.defValue === '0' || this.defValue === '0s';
      case 'int64':
        return this.defValue === '0';
      case 'string':
        return this.defValue === '';
      case 'stringSlice':
        return this.defValue === '[]';
      default:
        return false;
    }
  }
}

export function boolFlag(name: string, shorthand: string, def: boolean, usage: string): Flag {
  return new Flag(name, shorthand, new BoolValue(def), usage);
}
export function stringFlag(name: string, shorthand: string, def: string, usage: string): Flag {
  return new Flag(name, shorthand, new StringValue(def), usage);
}
export function int64Flag(name: string, def: bigint, usage: string): Flag {
  return new Flag(name, '', new Int64Value(def), usage);
}
export function durationFlag(name: string, defNs: bigint, usage: string): Flag {
  return new Flag(name, '', new DurationValue(defNs), usage);
}
export function stringSliceFlag(name: string, def: string[], usage: string): Flag {
  return new Flag(name, '', new StringSliceValue(def), usage);
}

/** A parse failure; the message is pflag's. */
export class FlagError extends Error {}

export class FlagSet {
  private readonly formal = new Map<string, Flag>();
  private readonly shorthands = new Map<string, Flag>();
  args: ByteString[] = [];

  constructor(flags: Iterable<Flag> = []) {
    for (const f of flags) this.add(f);
  }

  /** Adds a flag unless one with this name exists (cobra's AddFlagSet). */
  add(flag: Flag): void {
    if (this.formal.has(flag.name)) return;
    this.formal.set(flag.name, flag);
    if (flag.shorthand !== '') this.shorthands.set(flag.shorthand, flag);
  }

  lookup(name: string): Flag | undefined {
    return this.formal.get(name);
  }

  shorthandLookup(c: string): Flag | undefined {
    return this.shorthands.get(c);
  }

  /** Flags sorted by name (pflag's VisitAll order). */
  sorted(): Flag[] {
    return [...this.formal.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get size(): number {
    return this.formal.size;
  }

  /** FlagSet.Set, with pflag's "invalid argument" message on a bad value. */
  set(name: string, value: ByteString): void {
    const flag = this.formal.get(name);
    if (flag === undefined) throw new FlagError(`no such flag -${name}`);
    try {
      flag.value.set(value);
    } catch (err) {
      const flagName = flag.shorthand !== '' ? `-${flag.shorthand}, --${flag.name}` : `--${flag.name}`;
      throw new FlagError(`invalid argument ${quote(value)} for ${quote(flagName)} flag: ${(err as Error).message}`);
    }
    flag.changed = true;
  }

  parse(argv: ByteString[]): void {
    this.args = [];
    let args = argv.slice();
    while (args.length > 0) {
      const s = args.shift()!;
      if (s.length === 0 || s[0] !== '-' || s.length === 1) {
        this.args.push(s);
        continue;
      }
      if (s[1] === '-') {
        if (s.length === 2) {
          this.args.push(...args);
          return;
        }
        args = this.parseLongArg(s, args);
      } else {
        args = this.parseShortArg(s, args);
      }
    }
  }

  private parseLongArg(s: ByteString, args: ByteString[]): ByteString[] {
    let name = s.slice(2);
    if (name.length === 0 || name[0] === '-' || name[0] === '=') throw new FlagError(`bad flag syntax: ${s}`);
    const eq = name.indexOf('=');
    const hasValue = eq >= 0;
    const inlineValue = hasValue ? name.slice(eq + 1) : '';
    if (hasValue) name = name.slice(0, eq);
    const flag = this.formal.get(name);
    if (flag === undefined) throw new FlagError(`unknown flag: --${name}`);
    let value: ByteString;
    if (hasValue) value = inlineValue;
    else if (flag.noOptDefVal !== '') value = flag.noOptDefVal;
    else if (args.length > 0) {
      value = args[0]!;
      args = args.slice(1);
    } else throw new FlagError(`flag needs an argument: ${s}`);
    this.set(flag.name, value);
    return args;
  }

  private parseShortArg(s: ByteString, args: ByteString[]): ByteString[] {
    // pflag hands every shorthand in "-abc" the original argument list (a quirk kept here)
    let shorthands = s.slice(1);
    let out = args;
    while (shorthands.length > 0) {
      const c = shorthands[0]!;
      const flag = this.shorthands.get(c);
      if (flag === undefined) throw new FlagError(`unknown shorthand flag: ${quoteRune(c.charCodeAt(0))} in -${shorthands}`);
      let value: ByteString;
      let rest = shorthands.slice(1);
      if (shorthands.length > 2 && shorthands[1] === '=') {
        value = shorthands.slice(2);
        rest = '';
      } else if (flag.noOptDefVal !== '') value = flag.noOptDefVal;
      else if (shorthands.length > 1) {
        value = shorthands.slice(1);
        rest = '';
      } else if (args.length > 0) {
        value = args[0]!;
        out = args.slice(1);
      } else throw new FlagError(`flag needs an argument: ${quoteRune(c.charCodeAt(0))} in -${shorthands}`);
      this.set(flag.name, value);
      shorthands = rest;
    }
    return out;
  }

  /** etcdctl's etcdFlagUsages: "  -w, --write-out=\"simple\"\tusage" lines, to be aligned by the tab writer. */
  etcdUsages(): ByteString {
    let out = '';
    for (const flag of this.sorted()) {
      let line = flag.shorthand !== '' ? `  -${flag.shorthand}, --${flag.name}` : `      --${flag.name}`;
      const def = flag.value.type === 'string' ? quote(flag.defValue) : flag.defValue;
      line += flag.noOptDefVal !== '' ? `[=${def}]` : `=${def}`;
      out += `${line}\t${flag.usage}\n`;
    }
    return out;
  }

  /** pflag's FlagUsages (cobra's default usage template). */
  pflagUsages(): ByteString {
    const lines: ByteString[] = [];
    let maxlen = 0;
    for (const flag of this.sorted()) {
      let line = flag.shorthand !== '' ? `  -${flag.shorthand}, --${flag.name}` : `      --${flag.name}`;
      const varname = unquoteUsageName(flag);
      if (varname !== '') line += ' ' + varname;
      if (flag.noOptDefVal !== '' && flag.value.type !== 'bool') line += `[=${flag.noOptDefVal}]`;
      line += '\x00';
      maxlen = Math.max(maxlen, line.length);
      line += flag.usage;
      if (!flag.defaultIsZero()) line += flag.value.type === 'string' ? ` (default ${quote(flag.defValue)})` : ` (default ${flag.defValue})`;
      lines.push(line);
    }
    let out = '';
    for (const line of lines) {
      const sidx = line.indexOf('\x00');
      out += line.slice(0, sidx) + ' ' + ' '.repeat(maxlen - sidx) + ' ' + line.slice(sidx + 1) + '\n';
    }
    return out;
  }
}

function unquoteUsageName(flag: Flag): string {
  switch (flag.value.type) {
    case 'bool':
      return '';
    case 'int64':
      return 'int';
    case 'stringSlice':
      return 'strings';
    default:
      return flag.value.type;
  }
}

/** strings.TrimRightFunc(s, unicode.IsSpace) for ASCII text. */
export function trimTrailingSpace(s: ByteString): ByteString {
  let end = s.length;
  while (end > 0 && isUnicodeSpace(s.charCodeAt(end - 1)) && s.charCodeAt(end - 1) < 0x80) end--;
  return s.slice(0, end);
}
