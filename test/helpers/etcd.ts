// A real etcd (Debian's etcd-server, installed by .ci/run) as the oracle for differential tests.
// Each instance gets its own data directory and free loopback ports; tests skip when etcd is not installed.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './member.js';

export function etcdInstalled(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function etcdctlInstalled(): boolean {
  return spawnSync('etcdctl', ['version'], { stdio: 'ignore', env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;
}

export async function freePort(): Promise<number> {
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
