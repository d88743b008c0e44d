// Helpers for the TLS tests: HTTPS requests with client certificates, a raw TLS probe, the member's TLS log lines
// (src/tls's diagnostics channel), and a real etcd serving its client URL over TLS.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { tlsChannel, type TlsLogMessage } from '../../src/tls/index.js';
import { freePort } from './etcd.js';
import { tempDir } from './member.js';

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

function read(files: TlsFiles): tls.ConnectionOptions {
  return {
    ...(files.ca !== undefined ? { ca: fs.readFileSync(files.ca) } : {}),
    ...(files.cert !== undefined ? { cert: fs.readFileSync(files.cert) } : {}),
    ...(files.key !== undefined ? { key: fs.readFileSync(files.key) } : {}),
  };
}

/** One HTTPS request on a connection of its own; rejects when the connection fails. */
export function httpsRequest(url: string, files: TlsFiles, body?: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: body === undefined ? 'GET' : 'POST', agent: false, ...read(files) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface ProbeResult {
  /** the handshake completed on the client's side */
  handshake: boolean;
  /** the server's certificate CN when it did */
  serverCommonName?: string;
  /** what the client saw last: an error message, 'closed' (the server ended it), or 'data' */
  outcome: string;
  /** the client's port: the server logs it in remote-addr */
  localPort: number;
}

/**
 * Connects with TLS (or plain TCP with `plain`), writes `send` once connected, and reports what happened: a refused
 * client sees the handshake fail or the connection end without an answer.
 */
export function tlsProbe(port: number, files: TlsFiles & { plain?: boolean; send?: string; maxVersion?: tls.SecureVersion; handshakeOnly?: boolean }): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const result: ProbeResult = { handshake: false, outcome: '', localPort: 0 };
    const request = files.send ?? 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    let socket: net.Socket;
    if (files.plain === true) {
      socket = net.connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => socket.write(request));
    } else {
      const t = tls.connect({ port, host: '127.0.0.1', ...read(files), ...(files.maxVersion !== undefined ? { maxVersion: files.maxVersion } : {}) });
      t.once('secureConnect', () => {
        result.handshake = true;
        result.serverCommonName = t.getPeerCertificate().subject?.CN as string | undefined;
        // end(), not destroy(): the client's Finished must reach the server, or it logs the connection as rejected
        if (files.handshakeOnly === true) t.end();
        else t.write(request);
      });
      socket = t;
    }
    socket.once('connect', () => (result.localPort = socket.localPort ?? 0));
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 10 s')), 10_000);
    socket.on('data', () => {
      result.outcome = 'data';
      socket.destroy();
    });
    socket.on('error', (err) => {
      result.outcome ||= err.message.split('\n')[0]!;
    });
    socket.once('close', () => {
      clearTimeout(timer);
      result.outcome ||= 'closed';
      resolve(result);
    });
  });
}

/** The TLS layer's log lines, from subscription on. */
export class TlsLog {
  readonly lines: TlsLogMessage[] = [];
  private readonly listener = (m: unknown): void => {
    this.lines.push(m as TlsLogMessage);
  };

  constructor() {
    tlsChannel.subscribe(this.listener);
  }

  close(): void {
    tlsChannel.unsubscribe(this.listener);
  }

  /** Waits for a line matching `pred` that arrived after `from` lines (a failed refusal shows as a timeout). */
  async waitFor(pred: (m: TlsLogMessage) => boolean, from = 0, timeoutMs = 10_000): Promise<TlsLogMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.slice(from).find(pred);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no such TLS log line; seen: ${JSON.stringify(this.lines.slice(from))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  rejected(from = 0): TlsLogMessage[] {
    return this.lines.slice(from).filter((m) => m.msg === 'rejected connection');
  }
}

export interface RealTlsEtcd {
  child: ChildProcess;
  /** host:port of the https:// client URL */
  endpoint: string;
  log(): string;
  stop(): Promise<void>;
}

/** A real etcd whose client URL is https://, with `flags` (the certificate flags), healthy for `client`. */
export async function startRealEtcdTls(flags: string[], client: TlsFiles): Promise<RealTlsEtcd> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const root = tempDir('etcd-tls-oracle-');
  const clientUrl = `https://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    'etcd',
    [
      '--data-dir', path.join(root, 'data'),
      '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `default=${peerUrl}`,
      '--logger', 'zap', '--log-outputs', 'stderr',
      ...flags,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`etcd exited: ${log}`);
    try {
      const res = await httpsRequest(`${clientUrl}/health`, client);
      if (res.status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`etcd did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    endpoint: `127.0.0.1:${clientPort}`,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
