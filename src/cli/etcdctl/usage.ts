// etcdctl's own help/usage template (ctlv3/help.go), aligned with text/tabwriter and printed to stdout.

import type { Command } from './command.js';
import { formatTabbed } from '../../gocompat/index.js';
import { stdout } from './output.js';

/** The etcdctl release whose behaviour and output etcdctl-ts reproduces. */
export const ETCDCTL_VERSION = '3.4.23';
export const API_VERSION = '3.4';

function cmdName(cmd: Command, start: Command): string {
  const parts = [cmd.name()];
  let c = cmd;
  while (c.parent !== null && c.parent.name() !== start.name()) {
    c = c.parent;
    parts.unshift(c.name());
  }
  return parts.join(' ');
}

function listedSubCommands(cmd: Command): Command[] {
  const out: Command[] = [];
  for (const sub of cmd.sortedCommands()) {
    if (sub.unlisted) continue;
    out.push(sub, ...listedSubCommands(sub));
  }
  return out;
}

export function etcdctlUsageText(cmd: Command): string {
  let out = 'NAME:\n';
  out += cmd.parent === null ? `\t${cmd.name()} - ${cmd.short}\n` : `\t${cmdName(cmd, cmd.root())} - ${cmd.short}\n`;
  out += `\nUSAGE:\n\t${cmd.useLine()}\n`;
  if (cmd.parent === null) out += `\nVERSION:\n\t${ETCDCTL_VERSION}\n`;
  if (cmd.hasSubCommands()) {
    out += `\nAPI VERSION:\n\t${API_VERSION}\n`;
    out += '\n\nCOMMANDS:\n';
    for (const sub of listedSubCommands(cmd)) if (sub.runnable()) out += `\t${cmdName(sub, cmd)}\t${sub.short}\n`;
  }
  if (cmd.long !== '') {
    out += '\nDESCRIPTION:\n';
    for (const line of cmd.long.replace(/^[\n\t ]+|[\n\t ]+$/g, '').split('\n')) out += `\t${line}\n`;
  }
  const local = cmd.localFlags();
  if (local.size > 0) out += `\nOPTIONS:\n${local.etcdUsages()}`;
  const inherited = cmd.inheritedFlags();
  if (inherited.size > 0) out += `\nGLOBAL OPTIONS:\n${inherited.etcdUsages()}`;
  return formatTabbed(out + '\n');
}

/** etcdctl's usageFunc: writes the usage to stdout. */
export function etcdctlUsage(cmd: Command): void {
  stdout(etcdctlUsageText(cmd));
}
