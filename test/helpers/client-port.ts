// Helpers for tests of the client port (src/frontend): raw socket exchanges, a proxy that trickles a connection's first
// bytes one write at a time, and an HTTP/2 server standing in for the gRPC front end.

import net from 'node:net';
import http2 from 'node:http2';
import type { GrpcFrontEnd } from '../../src/frontend/index.js';

/** Writes `payload` (one write per element, `gapMs` apart), then collects everything until the server closes. */
export function exchange(port: number, payload: (Buffer | string)[], gapMs = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(received)));
    socket.on('connect', async () => {
      for (const part of payload) {
        if (socket.destroyed) return;
        socket.write(part);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

/** Collects what the server sends on `socket` until `predicate` holds for it. */
export function readUntil(socket: net.Socket, predicate: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('latin1');
      if (predicate(text)) {
        socket.removeListener('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
  });
}

export function connected(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

export function closed(socket: net.Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

/**
 * A TCP proxy in front of `targetPort` that forwards the first `trickleBytes` a client sends one byte per write, a few
 * milliseconds apart (so they reach the target in separate reads), and everything after as it comes.
 */
export async function trickleProxy(targetPort: number, trickleBytes = 40): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
    client.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.once('close', () => sockets.delete(s));
    }
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    upstream.on('data', (c: Buffer) => client.write(c));
    let sent = 0;
    let chain = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      chain = chain.then(async () => {
        for (let i = 0; i < chunk.length; ) {
          const n = sent < trickleBytes ? 1 : chunk.length - i;
          upstream.write(chunk.subarray(i, i + n));
          i += n;
          sent += n;
          if (sent <= trickleBytes) await new Promise((r) => setTimeout(r, 3));
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A plain HTTP/2 server taking the client port's HTTP/2 connections, in place of the gRPC front end. */
export function http2StandIn(): GrpcFrontEnd & { connections: number } {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(`stand-in ${String(headers[':path'])}`);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  const standIn = {
    connections: 0,
    handleConnection(socket: net.Socket): void {
      standIn.connections++;
      server.emit('connection', socket);
    },
    async close(): Promise<void> {
      for (const s of sessions) s.destroy();
    },
  };
  return standIn;
}

/** One HTTP/2 GET on a fresh session; resolves with the body. */
export async function http2Get(port: number, path: string): Promise<string> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise<string>((resolve, reject) => {
      session.once('error', reject);
      const req = session.request({ ':path': path });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => resolve(body));
      req.on('error', reject);
    });
  } finally {
    session.destroy();
  }
}
