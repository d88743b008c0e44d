// The command tree of etcdctl-ts: etcdctl's root command and global flags, the implemented commands, and placeholders
// for etcdctl's other commands so that prefix matching and "did you mean" behave as etcdctl's do.

import { Command, newHelpCommand, type ExecuteIo } from './command.js';
import {
  authCommand,
  compactionCommand,
  delCommand,
  electCommand,
  endpointCommand,
  getCommand,
  leaseCommand,
  lockCommand,
  memberCommand,
  moveLeaderCommand,
  putCommand,
  roleCommand,
  txnCommand,
  userCommand,
  watchCommand,
} from './commands/index.js';
import { globalFlags } from './global.js';
import { ExitCode, exitWithError, println } from './output.js';
import { API_VERSION, ETCDCTL_VERSION, etcdctlUsage } from './usage.js';

function versionCommand(): Command {
  return new Command({
    use: 'version',
    short: 'Prints the version of etcdctl',
    run: () => {
      println('etcdctl version:', ETCDCTL_VERSION);
      println('API version:', API_VERSION);
    },
  });
}

/** An etcdctl command that etcdctl-ts does not implement (alarms, defragmentation, snapshots, mirroring). */
function notImplemented(name: string, short: string): Command {
  return new Command({
    use: name,
    short,
    unlisted: true,
    run: () => exitWithError(ExitCode.Error, `etcdctl-ts does not implement "${name}"`),
  });
}

export function newRootCommand(io: ExecuteIo): Command {
  const root = new Command({
    use: 'etcdctl',
    short: 'A simple command line client for etcd3.',
    persistentFlags: globalFlags(),
  });
  root.usageFunc = etcdctlUsage;
  // etcdctl's AddCommand order (which "did you mean" suggestions follow)
  root.addCommand(
    getCommand(),
    putCommand(),
    delCommand(),
    txnCommand(),
    compactionCommand(),
    notImplemented('alarm', 'Alarm related commands'),
    notImplemented('defrag', 'Defragments the storage of the etcd members with given endpoints'),
    endpointCommand(),
    moveLeaderCommand(),
    watchCommand(),
    versionCommand(),
    leaseCommand(),
    memberCommand(),
    notImplemented('snapshot', 'Manages etcd node snapshots'),
    notImplemented('make-mirror', 'Makes a mirror at the destination etcd cluster'),
    notImplemented('migrate', 'Migrates keys in a v2 store to a mvcc store'),
    lockCommand(),
    electCommand(),
    authCommand(),
    userCommand(),
    roleCommand(),
    notImplemented('check', 'commands for checking properties of the etcd cluster'),
  );
  newHelpCommand(root, io);
  root.addCommand(notImplemented('completion', 'Generate the autocompletion script for the specified shell'));
  return root;
}
