// The HTTP front end on uWebSockets.js: one uWS app serving the client URLs' HTTP. It is a thin adapter: route
// modules (the JSON gateway, health and metrics, the dashboard) register their handlers on the app and call the same
// EtcdServer methods the binary front end does. uWS runs inside Node's event loop on the main thread.
//
// By default uWS listens only privately (listenPrivate): the client port (src/frontend) pipes HTTP connections to it
// behind a PROXY v2 header, so a route that wants the client's address reads res.getProxiedRemoteAddressAsText() (empty
// on a direct connection: then getRemoteAddressAsText()). With --listen-client-http-urls it listens there directly.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import uWS from 'uWebSockets.js';
import type { Limits } from '../config/index.js';
import type { EtcdServer } from '../server/index.js';
import type { ListeningAddress } from '../binary/index.js';

// If the native binary fails to load, uWS falls back to a slow JavaScript build without saying so (STACK.md).
if (typeof (uWS as unknown as { H3App?: unknown }).H3App !== 'function') {
  throw new Error('uWebSockets.js: the native binary did not load (Node 20 on linux-x64 glibc is required)');
}

export interface HttpContext {
  readonly server: EtcdServer;
  readonly limits: Limits;
}

/** A route module: registers its handlers on the app. Modules are registered in order; the 404 fallback is last. */
export type HttpRoutes = (app: uWS.TemplatedApp, ctx: HttpContext) => void;

export interface HttpServerOptions extends HttpContext {
  /** http://host:port URLs to listen on directly (https is reserved for TLS, not served yet); may be empty */
  readonly urls: readonly string[];
  /** the flag `urls` came from, for error messages (default --listen-client-urls) */
  readonly flag?: string;
  readonly routes: readonly HttpRoutes[];
}

/** Where the private listener is: a unix socket or a TCP port on loopback, as net.connect takes it. */
export type HttpPrivateAddress = { readonly path: string } | { readonly host: string; readonly port: number };

function parseListenUrl(url: string, flag: string): { host: string; port: number } {
  const u = new URL(url);
  if (u.protocol === 'https:') throw new Error(`${flag} ${url}: TLS (https://) is not supported yet`);
  if (u.protocol !== 'http:') throw new Error(`${flag} ${url}: scheme must be http`);
  const port = u.port === '' ? 80 : Number(u.port);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

export class HttpServer {
  readonly app: uWS.TemplatedApp;
  private readonly listenSockets: uWS.us_listen_socket[] = [];
  /** the private unix socket's directory (mode 0700), removed on close */
  private privateDir: string | null = null;
  private closed = false;

  constructor(private readonly options: HttpServerOptions) {
    this.app = uWS.App();
    for (const register of options.routes) register(this.app, options);
    // Go's net/http NotFound body, as etcd answers an unknown path
    this.app.any('/*', (res) => {
      res.cork(() => res.writeStatus('404 Not Found').writeHeader('Content-Type', 'text/plain; charset=utf-8').end('404 page not found\n'));
    });
  }

  async listen(): Promise<ListeningAddress[]> {
    const out: ListeningAddress[] = [];
    const flag = this.options.flag ?? '--listen-client-urls';
    for (const url of this.options.urls) {
      const { host, port } = parseListenUrl(url, flag);
      const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
        this.app.listen(host, port, (s) => (s === false ? reject(new Error(`${flag} ${url}: cannot listen (address in use?)`)) : resolve(s)));
      });
      this.listenSockets.push(socket);
      out.push({ host, port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket) });
    }
    return out;
  }

  /**
   * Listens where only this member reaches: a unix socket in a directory of its own that only this user may enter
   * (nobody else can connect, so nobody else can claim an address with a PROXY header), or with `tcp` a loopback port.
   */
  async listenPrivate(kind: 'unix' | 'tcp' = 'unix'): Promise<HttpPrivateAddress> {
    if (kind === 'tcp') {
      const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
        this.app.listen('127.0.0.1', 0, (s) => (s === false ? reject(new Error('uWS: cannot listen on a loopback port')) : resolve(s)));
      });
      this.listenSockets.push(socket);
      return { host: '127.0.0.1', port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket) };
    }
    // mkdtemp makes the directory with mode 0700; the path stays short (a unix socket path has 107 bytes at most)
    this.privateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-ts-http-'));
    const socketPath = path.join(this.privateDir, 'uws.sock');
    const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
      this.app.listen_unix((s) => ((s as unknown) === false ? reject(new Error(`uWS: cannot listen on ${socketPath}`)) : resolve(s)), socketPath);
    });
    this.listenSockets.push(socket);
    return { path: socketPath };
  }

  /** Stops listening. Open connections are closed too: a uWS socket left open keeps the process alive. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.listenSockets) uWS.us_listen_socket_close(s);
    this.listenSockets.length = 0;
    (this.app as unknown as { close?: () => void }).close?.();
    if (this.privateDir !== null) fs.rmSync(this.privateDir, { recursive: true, force: true });
    this.privateDir = null;
  }
}
