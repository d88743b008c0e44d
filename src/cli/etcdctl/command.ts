// The part of spf13/cobra (1.6) that etcdctl's behaviour depends on: finding the command from the arguments (with
// prefix matching and "did you mean" suggestions), parsing its flags, the help flag and help command, and where errors
// and usage go. etcdctl prints usage with its own template straight to stdout (usage.ts); a command tree without a
// usage function (txn's request parser) falls back to cobra's default template, rendered into a string.

import { BoolValue, FlagError, FlagSet, boolFlag, type Flag } from './flags.js';
import { type ByteString, canBackquote, quote as goQuote } from '../../gocompat/index.js';

export type RunFunction = (cmd: Command, args: ByteString[]) => Promise<void> | void;

export interface CommandSpec {
  use: string;
  short?: string;
  long?: string;
  run?: RunFunction;
  flags?: Flag[];
  persistentFlags?: Flag[];
  /** left out of etcdctl-ts's help listings (commands of etcdctl that etcdctl-ts does not implement) */
  unlisted?: boolean;
}

/** cobra's flag.ErrHelp: help was asked for (or the command is not runnable). */
export class HelpRequested extends Error {}

/** An error cobra returns from Execute, after printing what cobra prints for it. */
export class CommandError extends Error {}

export class Command {
  readonly use: string;
  readonly short: string;
  readonly long: string;
  run: RunFunction | undefined;
  readonly unlisted: boolean;
  parent: Command | null = null;
  readonly commands: Command[] = [];
  helpCommand: Command | null = null;
  /** a custom usage printer (etcdctl's); inherited by subcommands */
  usageFunc: ((cmd: Command) => void) | null = null;
  silenceErrors = false;
  private readonly ownFlags: Flag[];
  private readonly ownPersistentFlags: Flag[];
  private merged: FlagSet | null = null;
  private helpFlagAdded = false;

  constructor(spec: CommandSpec) {
    this.use = spec.use;
    this.short = spec.short ?? '';
    this.long = spec.long ?? '';
    this.run = spec.run;
    this.unlisted = spec.unlisted ?? false;
    this.ownFlags = [...(spec.flags ?? [])];
    this.ownPersistentFlags = [...(spec.persistentFlags ?? [])];
  }

  name(): string {
    const i = this.use.indexOf(' ');
    return i >= 0 ? this.use.slice(0, i) : this.use;
  }

  addCommand(...cmds: Command[]): void {
    for (const c of cmds) {
      c.parent = this;
      this.commands.push(c);
    }
  }

  /** Children sorted by name (cobra's Commands()). */
  sortedCommands(): Command[] {
    return [...this.commands].sort((a, b) => (a.name() < b.name() ? -1 : a.name() > b.name() ? 1 : 0));
  }

  root(): Command {
    return this.parent === null ? this : this.parent.root();
  }

  hasParent(): boolean {
    return this.parent !== null;
  }

  runnable(): boolean {
    return this.run !== undefined;
  }

  hasSubCommands(): boolean {
    return this.commands.length > 0;
  }

  isAvailableCommand(): boolean {
    if (this.parent !== null && this.parent.helpCommand === this) return false;
    return this.runnable() || this.commands.some((c) => c.isAvailableCommand());
  }

  commandPath(): string {
    return this.parent === null ? this.name() : `${this.parent.commandPath()} ${this.name()}`;
  }

  /** Flags of ancestors marked persistent, nearest first. */
  private parentPersistentFlags(): Flag[] {
    const out: Flag[] = [];
    for (let p = this.parent; p !== null; p = p.parent) out.push(...p.ownPersistentFlags);
    return out;
  }

  /** Every flag this command parses: its own, its persistent ones and its ancestors' persistent ones. */
  flags(): FlagSet {
    if (this.merged === null) {
      this.merged = new FlagSet([...this.ownFlags, ...this.ownPersistentFlags, ...this.parentPersistentFlags()]);
    }
    return this.merged;
  }

  /** cobra's InitDefaultHelpFlag. */
  initHelpFlag(): void {
    if (this.helpFlagAdded) return;
    this.helpFlagAdded = true;
    if (this.flags().lookup('help') !== undefined) return;
    const flag = boolFlag('help', 'h', false, `help for ${this.name() === '' ? 'this command' : this.name()}`);
    this.ownFlags.push(flag);
    this.flags().add(flag);
  }

  /** The command's own flags, persistent ones included (cobra's LocalFlags). */
  localFlags(): FlagSet {
    return new FlagSet([...this.ownFlags, ...this.ownPersistentFlags]);
  }

  /** Ancestors' persistent flags the command does not redefine (cobra's InheritedFlags). */
  inheritedFlags(): FlagSet {
    const local = new Set([...this.ownFlags, ...this.ownPersistentFlags].map((f) => f.name));
    return new FlagSet(this.parentPersistentFlags().filter((f) => !local.has(f.name)));
  }

  useLine(): string {
    let line = this.parent === null ? this.use : `${this.parent.commandPath()} ${this.use}`;
    if (this.flags().size > 0 && !line.includes('[flags]')) line += ' [flags]';
    return line;
  }

  usageFunction(): ((cmd: Command) => void) | null {
    for (let c: Command | null = this; c !== null; c = c.parent) if (c.usageFunc !== null) return c.usageFunc;
    return null;
  }

  /**
   * cobra's UsageString: with a custom usage function (etcdctl's) the usage goes straight to stdout and the string is
   * empty; otherwise cobra's default template.
   */
  usageString(): ByteString {
    const f = this.usageFunction();
    if (f !== null) {
      f(this);
      return '';
    }
    return defaultUsage(this);
  }

  // ---- finding the command ----------------------------------------------------------------------------------

  findNext(next: string): Command | null {
    const matches: Command[] = [];
    for (const c of this.commands) {
      if (c.name() === next) return c;
      if (c.name().startsWith(next)) matches.push(c);
    }
    return matches.length === 1 ? matches[0]! : null;
  }

  /** cobra's Find: the command named by the leading non-flag arguments, and the arguments left for it. */
  find(args: ByteString[]): { cmd: Command; args: ByteString[]; err: string | null } {
    let c: Command = this;
    let rest = args;
    for (;;) {
      const words = stripFlags(rest, c);
      if (words.length === 0) break;
      const next = c.findNext(words[0]!);
      if (next === null) break;
      rest = argsMinusFirst(rest, words[0]!);
      c = next;
    }
    return { cmd: c, args: rest, err: legacyArgs(c, stripFlags(rest, c)) };
  }

  suggestionsFor(typed: string): string[] {
    const out: string[] = [];
    for (const c of this.commands) {
      if (!c.isAvailableCommand()) continue;
      const byDistance = levenshtein(typed.toLowerCase(), c.name().toLowerCase()) <= 2;
      const byPrefix = c.name().toLowerCase().startsWith(typed.toLowerCase());
      if (byDistance || byPrefix) out.push(c.name());
    }
    return out;
  }
}

function hasNoOptDefVal(name: string, fs: FlagSet): boolean {
  const f = fs.lookup(name);
  return f !== undefined && f.noOptDefVal !== '';
}

function shortHasNoOptDefVal(name: string, fs: FlagSet): boolean {
  if (name.length === 0) return false;
  const f = fs.shorthandLookup(name[0]!);
  return f !== undefined && f.noOptDefVal !== '';
}

/** cobra's stripFlags: the arguments that look like subcommand names. */
function stripFlags(args: ByteString[], c: Command): ByteString[] {
  const commands: ByteString[] = [];
  const fs = c.flags();
  const rest = args.slice();
  while (rest.length > 0) {
    const s = rest.shift()!;
    if (s === '--') break;
    const longWithValue = s.startsWith('--') && !s.includes('=') && !hasNoOptDefVal(s.slice(2), fs);
    const shortWithValue = s.startsWith('-') && !s.includes('=') && s.length === 2 && !shortHasNoOptDefVal(s.slice(1), fs);
    if (longWithValue || shortWithValue) {
      if (rest.length <= 1) break;
      rest.shift();
      continue;
    }
    if (s !== '' && !s.startsWith('-')) commands.push(s);
  }
  return commands;
}

function argsMinusFirst(args: ByteString[], x: ByteString): ByteString[] {
  const i = args.indexOf(x);
  return i < 0 ? args : [...args.slice(0, i), ...args.slice(i + 1)];
}

function legacyArgs(c: Command, args: ByteString[]): string | null {
  if (!c.hasSubCommands()) return null;
  if (!c.hasParent() && args.length > 0) {
    let suggestions = '';
    const found = c.suggestionsFor(args[0]!);
    if (found.length > 0) suggestions = '\n\nDid you mean this?\n' + found.map((s) => `\t${s}\n`).join('');
    return `unknown command ${goQuote(args[0]!)} for ${goQuote(c.commandPath())}${suggestions}`;
  }
  return null;
}

function levenshtein(s: string, t: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= s.length; i++) d.push(new Array<number>(t.length + 1).fill(0));
  for (let i = 0; i <= s.length; i++) d[i]![0] = i;
  for (let j = 0; j <= t.length; j++) d[0]![j] = j;
  for (let j = 1; j <= t.length; j++) {
    for (let i = 1; i <= s.length; i++) {
      if (s[i - 1] === t[j - 1]) d[i]![j] = d[i - 1]![j - 1]!;
      else d[i]![j] = Math.min(d[i - 1]![j]!, d[i]![j - 1]!, d[i - 1]![j - 1]!) + 1;
    }
  }
  return d[s.length]![t.length]!;
}

// ---- cobra's default usage template -------------------------------------------------------------------------

function rpad(s: string, n: number): string {
  return s.padEnd(n, ' ');
}

function defaultUsage(c: Command): ByteString {
  let out = 'Usage:';
  if (c.runnable()) out += `\n  ${c.useLine()}`;
  const available = c.sortedCommands().filter((x) => x.isAvailableCommand() || x.name() === 'help');
  if (c.commands.some((x) => x.isAvailableCommand())) {
    out += `\n  ${c.commandPath()} [command]`;
    out += '\n\nAvailable Commands:';
    const pad = Math.max(11, ...c.commands.map((x) => x.name().length));
    for (const x of available) out += `\n  ${rpad(x.name(), pad)} ${x.short}`;
  }
  const local = c.localFlags();
  if (local.size > 0) out += `\n\nFlags:\n${trimRight(local.pflagUsages())}`;
  const inherited = c.inheritedFlags();
  if (inherited.size > 0) out += `\n\nGlobal Flags:\n${trimRight(inherited.pflagUsages())}`;
  if (c.commands.some((x) => x.isAvailableCommand())) out += `\n\nUse "${c.commandPath()} [command] --help" for more information about a command.`;
  return out + '\n';
}

function trimRight(s: string): string {
  return s.replace(/[\t\n\v\f\r \x85\xa0]+$/, '');
}

// ---- executing ------------------------------------------------------------------------------------------------

export interface ExecuteIo {
  stdout(s: ByteString): void;
  stderr(s: ByteString): void;
}

/** The help function: etcdctl's help template is just the usage; cobra's default adds the description first. */
export function showHelp(cmd: Command, io: ExecuteIo): void {
  if (cmd.usageFunction() !== null) {
    io.stdout(cmd.usageString());
    return;
  }
  const description = cmd.long !== '' ? cmd.long : cmd.short;
  let out = description !== '' ? `${trimRight(description)}\n\n` : '';
  if (cmd.runnable() || cmd.hasSubCommands()) out += cmd.usageString();
  io.stdout(out);
}

/**
 * cobra's ExecuteC on the root command. Resolves when the command has run; throws CommandError for the errors cobra
 * returns from Execute (after printing what cobra prints for them).
 */
export async function execute(root: Command, args: ByteString[], io: ExecuteIo): Promise<void> {
  const found = root.find(args);
  if (found.err !== null) {
    if (!root.silenceErrors) {
      io.stderr(`Error: ${found.err}\n`);
      io.stderr(`Run '${found.cmd.commandPath()} --help' for usage.\n`);
    }
    throw new CommandError(found.err);
  }
  const cmd = found.cmd;
  try {
    await executeCommand(cmd, found.args);
  } catch (err) {
    if (err instanceof HelpRequested) {
      showHelp(cmd, io);
      return;
    }
    if (err instanceof FlagError) {
      if (!root.silenceErrors) io.stderr(`Error: ${err.message}\n`);
      io.stderr(cmd.usageString() + '\n');
      throw new CommandError(err.message);
    }
    throw err;
  }
}

async function executeCommand(cmd: Command, args: ByteString[]): Promise<void> {
  cmd.initHelpFlag();
  const fs = cmd.flags();
  fs.parse(args);
  if ((fs.lookup('help')!.value as BoolValue).value) throw new HelpRequested();
  if (!cmd.runnable()) throw new HelpRequested();
  await cmd.run!(cmd, fs.args);
}

/** cobra's default help command ("help [command]"). */
export function newHelpCommand(root: Command, io: ExecuteIo): Command {
  const help = new Command({
    use: 'help [command]',
    short: 'Help about any command',
    long: `Help provides help for any command in the application.\nSimply type ${root.name()} help [path to command] for full details.`,
    run: (_help, args) => {
      const found = root.find(args);
      if (found.err !== null) {
        io.stderr(`Unknown help topic [${args.map(backquote).join(' ')}]\n`);
        // cobra's default usage function writes to stderr; etcdctl's writes to stdout itself
        io.stderr(root.usageString());
        return;
      }
      found.cmd.initHelpFlag();
      showHelp(found.cmd, io);
    },
  });
  root.helpCommand = help;
  root.addCommand(help);
  return help;
}

/** fmt's %#q of a string: backquoted when strconv.CanBackquote allows, else quoted. */
function backquote(s: ByteString): ByteString {
  return canBackquote(s) ? '`' + s + '`' : goQuote(s);
}
