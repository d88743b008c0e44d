// lock and elect (ctlv3/command/lock_command.go, elect_command.go, 3.4), built on clientv3/concurrency as etcdctl's
// are (see concurrency.ts): lock prints the lock's key and holds it until SIGINT/SIGTERM, or runs a command while
// holding it; elect campaigns with a proposal and prints the leader key once elected, or with -l observes the
// election. A signal unlocks or resigns before exiting.

import { Command } from '../command.js';
import { boolFlag, int64Flag, Int64Value } from '../flags.js';
import { clientConfigFromCmd, connect, currentDisplay, getBool } from '../global.js';
import { environ, runCommand } from './exec.js';
import { type ByteString, byteStringToBytes, byteStringToUtf8 } from '../../../gocompat/index.js';
import { Ctx, Election, GoError, KvClient, Mutex, Session, TODO } from '../concurrency.js';
import { ExitCode, exitWithError } from '../output.js';
import { Watcher } from '../watcher.js';

function clientFromCmd(cmd: Command): KvClient {
  const cfg = clientConfigFromCmd(cmd);
  const conn = connect(cfg.endpoints, cfg.dialTimeoutNs, cmd);
  return new KvClient(conn, new Watcher(conn), Number(cfg.dialTimeoutNs / 1_000_000n));
}

/** signal.Notify(sigc, SIGINT, SIGTERM) and a goroutine taking the first signal: `onSignal` runs once. */
function onFirstSignal(onSignal: () => void): void {
  let seen = false;
  const handler = (): void => {
    if (seen) return;
    seen = true;
    onSignal();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** Waits for the first of several events; resolves with the index of the one that came first. */
function first(...ps: Promise<unknown>[]): Promise<number> {
  return Promise.race(ps.map((p, i) => p.then(() => i)));
}

async function lockUntilSignal(client: KvClient, lockname: ByteString, cmdArgs: ByteString[], ttl: number): Promise<void> {
  const s = await Session.create(client, ttl);
  const m = new Mutex(s, lockname);
  const ctx = new Ctx();
  let signalled!: () => void;
  const donec = new Promise<void>((resolve) => (signalled = resolve));
  onFirstSignal(() => {
    ctx.cancel();
    signalled();
  });

  await m.lock(ctx);

  if (cmdArgs.length > 0) {
    // the lock's variables first: a variable already in the environment wins, as Go's exec keeps the last
    const env: Record<string, string> = {
      ETCD_LOCK_KEY: byteStringToUtf8(m.key()),
      ETCD_LOCK_REV: BigInt(m.header()?.revision ?? 0).toString(),
    };
    Object.assign(env, environ());
    const err = await runCommand(cmdArgs, env);
    let unlockErr: unknown = null;
    try {
      await m.unlock(TODO);
    } catch (e) {
      unlockErr = e;
    }
    if (err !== null) throw new GoError(err);
    if (unlockErr !== null) throw unlockErr;
    return;
  }

  const k = await client.get(ctx, { key: byteStringToBytes(m.key()) });
  if ((k.kvs ?? []).length === 0) throw new GoError('lock lost on init');
  currentDisplay().get(k);

  if ((await first(donec, s.done())) === 0) {
    await m.unlock(TODO);
    return;
  }
  throw new GoError('session expired');
}

async function lockCommandFunc(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length === 0) exitWithError(ExitCode.BadArgs, 'lock takes a lock name argument and an optional command to execute');
  const client = clientFromCmd(cmd);
  const ttl = Number((cmd.flags().lookup('ttl')!.value as Int64Value).value);
  try {
    await lockUntilSignal(client, args[0]!, args.slice(1), ttl);
  } catch (err) {
    if (err instanceof GoError) exitWithError(ExitCode.Error, err.message);
    throw err;
  }
}

export function lockCommand(): Command {
  return new Command({
    use: 'lock <lockname> [exec-command arg1 arg2 ...]',
    short: 'Acquires a named lock',
    run: lockCommandFunc,
    flags: [int64Flag('ttl', 10n, 'timeout for session')],
  });
}

async function observe(client: KvClient, election: ByteString): Promise<void> {
  const s = await Session.create(client);
  const e = new Election(s, election);
  const ctx = new Ctx();
  onFirstSignal(() => ctx.cancel());
  await e.observe(ctx, (r) => currentDisplay().get(r));
  if (ctx.err() === null) throw new GoError('elect: observer lost');
}

async function campaign(client: KvClient, election: ByteString, prop: ByteString): Promise<void> {
  const s = await Session.create(client);
  const e = new Election(s, election);
  const ctx = new Ctx();
  let signalled!: () => void;
  const donec = new Promise<void>((resolve) => (signalled = resolve));
  onFirstSignal(() => {
    ctx.cancel();
    signalled();
  });

  await e.campaign(ctx, prop);

  // print key since elected
  const resp = await client.get(ctx, { key: byteStringToBytes(e.key()) });
  currentDisplay().get(resp);

  if ((await first(donec, s.done())) === 1) throw new GoError('elect: session expired');
  await e.resign(TODO);
}

async function electCommandFunc(cmd: Command, args: ByteString[]): Promise<void> {
  if (args.length !== 1 && args.length !== 2) {
    exitWithError(ExitCode.BadArgs, 'elect takes one election name argument and an optional proposal argument');
  }
  const client = clientFromCmd(cmd);
  const listen = getBool(cmd, 'listen');
  try {
    if (args.length === 1) {
      if (!listen) exitWithError(ExitCode.BadArgs, 'no proposal argument but -l not set');
      await observe(client, args[0]!);
    } else {
      if (listen) exitWithError(ExitCode.BadArgs, 'proposal given but -l is set');
      await campaign(client, args[0]!, args[1]!);
    }
  } catch (err) {
    if (err instanceof GoError) exitWithError(ExitCode.Error, err.message);
    throw err;
  }
}

export function electCommand(): Command {
  return new Command({
    use: 'elect <election-name> [proposal]',
    short: 'Observes and participates in leader election',
    run: electCommandFunc,
    flags: [boolFlag('listen', 'l', false, 'observation mode')],
  });
}
