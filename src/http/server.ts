// The HTTP front end on uWebSockets.js: one uWS app serving every --listen-client-urls URL. It is a thin adapter:
// route modules (the JSON gateway, health and metrics, the dashboard) register their handlers on the app and call
// the same EtcdServer methods the binary front end does. uWS runs inside Node's event loop on the main thread.

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
  /** http://host:port URLs (https is reserved for TLS, not served yet) */
  readonly urls: readonly string[];
  readonly routes: readonly HttpRoutes[];
}

function parseListenUrl(url: string): { host: string; port: number } {
  const u = new URL(url);
  if (u.protocol === 'https:') throw new Error(`--listen-client-urls ${url}: TLS (https://) is not supported yet`);
  if (u.protocol !== 'http:') throw new Error(`--listen-client-urls ${url}: scheme must be http`);
  const port = u.port === '' ? 80 : Number(u.port);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

export class HttpServer {
  readonly app: uWS.TemplatedApp;
  private readonly listenSockets: uWS.us_listen_socket[] = [];
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
    for (const url of this.options.urls) {
      const { host, port } = parseListenUrl(url);
      const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
        this.app.listen(host, port, (s) => (s === false ? reject(new Error(`--listen-client-urls ${url}: cannot listen (address in use?)`)) : resolve(s)));
      });
      this.listenSockets.push(socket);
      out.push({ host, port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket) });
    }
    return out;
  }

  /** Stops listening. Open connections are closed too: a uWS socket left open keeps the process alive. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.listenSockets) uWS.us_listen_socket_close(s);
    this.listenSockets.length = 0;
    (this.app as unknown as { close?: () => void }).close?.();
  }
}
