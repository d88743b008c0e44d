// A real etcd (Debian's etcd-server, installed by .ci/run) as the oracle for differential tests.
// Each instance gets its own data directory and free loopback ports; tests skip when etcd is not installed.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from './member.js';

export function etcdInstalled(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function etcdctlInstalled(): boolean {
  return spawnSync('etcdctl', ['version'], { stdio: 'ignore', env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;
}

/** Whether `port` can be bound on loopback now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The lowest port the kernel hands out for a bind to port 0 (Linux's ip_local_port_range). */
function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

const PORTS_DIR = path.join(os.tmpdir(), 'etcd-ts-test-ports');
/** A reservation older than this is taken to be left over from an earlier run. */
const PORT_RESERVATION_MS = 20 * 60_000;
const FREE_PORT_LOW = 10_000;

/** Claims `port` for this process among the test processes of the machine (an O_EXCL file per port). */
function reserve(port: number): boolean {
  const file = path.join(PORTS_DIR, String(port));
  try {
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    try {
      if (Date.now() - fs.statSync(file).mtimeMs < PORT_RESERVATION_MS) return false;
      const now = new Date();
      fs.utimesSync(file, now, now);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * A loopback port for a process a test starts. Not one the kernel picked for a bind to port 0: members started with
 * `:0` URLs (and every outgoing connection) take ports from the ephemeral range, and a port handed out here and bound
 * a moment later could be taken meanwhile (a cluster test failed once with EADDRINUSE that way). So the port is drawn
 * below the ephemeral range, where only explicit binds go, and reserved across the test processes running at once.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  if (high - FREE_PORT_LOW >= 1000) {
    fs.mkdirSync(PORTS_DIR, { recursive: true });
    for (let attempt = 0; attempt < 500; attempt++) {
      const port = FREE_PORT_LOW + Math.floor(Math.random() * (high - FREE_PORT_LOW + 1));
      if (reserve(port) && (await canBind(port))) return port;
    }
  }
  // an unusual port range: the kernel's pick, as before
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RealEtcd {
  child: ChildProcess;
  /** host:port of the client URL (gRPC and the JSON gateway) */
  endpoint: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** `flags` are added to etcd's command line (e.g. ['--max-request-bytes', '65536']). */
export async function startRealEtcd(flags: string[] = []): Promise<RealEtcd> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const root = tempDir('etcd-oracle-');
  const dataDir = path.join(root, 'data');
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    'etcd',
    [
      '--data-dir', dataDir,
      '--listen-client-urls', clientUrl,
      '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', 'http://localhost:2380',
      '--initial-cluster', 'default=http://localhost:2380',
      '--logger', 'zap',
      '--log-outputs', 'stderr',
      ...flags,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const endpoint = `127.0.0.1:${clientPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`etcd exited: ${log}`);
    try {
      const res = await fetch(`http://${endpoint}/health`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`etcd did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    endpoint,
    dataDir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
