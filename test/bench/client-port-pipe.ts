// What the client port's pipe to uWS costs per HTTP/1 request (BENCHMARKS.md, "The client port"). A server process serves one tiny route
// on uWS, reached either directly, or through the client port (src/frontend) piping to uWS's private listener over a
// unix socket or a loopback TCP port; this process drives it with keep-alive connections, each sending GET requests one
// after another, and reports requests/s and the server's CPU time per request (from /proc, so independent of the
// client's own speed). The modes alternate A B C A B C in one run, as BENCHMARKS.md asks.
//
//   node dist/test/bench/client-port-pipe.js [--seconds 3] [--connections 8] [--rounds 2] [--ws] [--tls]
//
// --ws sends WebSocket messages (echoed) instead of HTTP requests: the pipe's cost per message both ways.
// --tls compares HTTPS served by uWS's own SSLApp (tls-direct) with TLS terminated by the client port in Node and the
// decrypted bytes piped to uWS over the unix socket (tls-pipe-unix: what --listen-client-http-urls https:// does).

import net from 'node:net';
import tls from 'node:tls';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import uWS from 'uWebSockets.js';
import { HttpServer, type HttpRoutes } from '../../src/http/index.js';
import { ClientPort } from '../../src/frontend/index.js';
import { DEFAULT_LIMITS } from '../../src/config/index.js';
import type { EtcdServer } from '../../src/server/index.js';
import { processCpu } from '../../native-free-bench/procstat.js';
import { CertificateFiles, selectCipherSuites, TlsServer, type TlsInfo } from '../../src/tls/index.js';
import { testCerts } from '../helpers/tls-certs.js';

type Mode = 'direct' | 'pipe-unix' | 'pipe-tcp' | 'tls-direct' | 'tls-pipe-unix';

const tiny: HttpRoutes = (app) => {
  app.get('/version', (res) => {
    res.cork(() => res.writeHeader('Content-Type', 'application/json').end('{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}'));
  });
  app.ws('/echo', { message: (ws, message, isBinary) => void ws.send(message, isBinary) } as uWS.WebSocketBehavior<unknown>);
};

async function serveTls(mode: Mode, certFile: string, keyFile: string): Promise<void> {
  let port: number;
  if (mode === 'tls-direct') {
    const app = uWS.SSLApp({ cert_file_name: certFile, key_file_name: keyFile });
    tiny(app, { server: undefined as unknown as EtcdServer, limits: DEFAULT_LIMITS });
    const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) => app.listen('127.0.0.1', 0, (s) => (s === false ? reject(new Error('listen')) : resolve(s))));
    port = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
  } else {
    const http = new HttpServer({ server: undefined as unknown as EtcdServer, limits: DEFAULT_LIMITS, urls: [], routes: [tiny] });
    const upstream = await http.listenPrivate('unix');
    const info: TlsInfo = {
      certFile, keyFile, trustedCaFile: '', clientCertAuth: false, crlFile: '', allowedCn: '', allowedHostname: '', skipClientSanVerify: false,
      selfCert: false, cipherSuites: [], ciphers: selectCipherSuites([]).ciphers, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3',
    };
    const server = new TlsServer(info, { files: new CertificateFiles(info), crl: null, alpn: 'http1', peer: false });
    const clientPort = new ClientPort({ urls: ['https://127.0.0.1:0'], tls: server, grpc: null, binary: null, http: upstream, httpOnly: true, connectionsMax: 10_000 });
    port = (await clientPort.listen())[0]!.port;
  }
  process.send!({ port });
}

async function serve(mode: Mode): Promise<void> {
  const http = new HttpServer({
    server: undefined as unknown as EtcdServer, // the tiny route reads nothing from the member
    limits: DEFAULT_LIMITS,
    urls: mode === 'direct' ? ['http://127.0.0.1:0'] : [],
    routes: [tiny],
  });
  let port: number;
  if (mode === 'direct') port = (await http.listen())[0]!.port;
  else {
    const upstream = await http.listenPrivate(mode === 'pipe-unix' ? 'unix' : 'tcp');
    const clientPort = new ClientPort({
      urls: ['http://127.0.0.1:0'],
      grpc: null,
      binary: (s) => s.destroy(),
      http: upstream,
      connectionsMax: 10_000,
    });
    port = (await clientPort.listen())[0]!.port;
  }
  process.send!({ port });
}

/** One keep-alive connection sending GET /version until `until`, one request at a time; resolves with the count. */
function httpConnection(port: number, until: number, secure = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = secure ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }) : net.connect({ host: '127.0.0.1', port, noDelay: true });
    const request = Buffer.from('GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    let done = 0;
    let pending = '';
    socket.on(secure ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      // each response ends with its fixed-length body
      for (let end = pending.indexOf('"3.4.0"}'); end >= 0; end = pending.indexOf('"3.4.0"}')) {
        pending = pending.slice(end + 8);
        done++;
        if (performance.now() >= until) {
          socket.destroy();
          resolve(done);
          return;
        }
        socket.write(request);
      }
    });
    socket.on('error', reject);
  });
}

/** One WebSocket (ws client) echoing 64-byte messages until `until`, one at a time. */
async function wsConnection(port: number, until: number): Promise<number> {
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const message = Buffer.alloc(64, 1);
  let done = 0;
  return new Promise((resolve) => {
    ws.on('message', () => {
      done++;
      if (performance.now() >= until) {
        ws.terminate();
        resolve(done);
        return;
      }
      ws.send(message);
    });
    ws.send(message);
  });
}

async function measure(mode: Mode, seconds: number, connections: number, websocket: boolean): Promise<{ mode: Mode; perSecond: number; cpuUsPerRequest: number }> {
  const secure = mode.startsWith('tls-');
  const certs = secure ? testCerts() : null;
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', mode, ...(certs !== null ? [certs.serverCert, certs.serverKey] : [])], { stdio: 'inherit' });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })));
  const connection = (until: number): Promise<number> => (websocket ? wsConnection(port, until) : httpConnection(port, until, secure));
  // warm up
  await Promise.all(Array.from({ length: connections }, () => connection(performance.now() + 300)));
  const cpuBefore = processCpu(child.pid!)!.selfS;
  const start = performance.now();
  const until = start + seconds * 1000;
  const counts = await Promise.all(Array.from({ length: connections }, () => connection(until)));
  const elapsed = (performance.now() - start) / 1000;
  const cpu = processCpu(child.pid!)!.selfS - cpuBefore;
  child.kill();
  const total = counts.reduce((a, b) => a + b, 0);
  return { mode, perSecond: Math.round(total / elapsed), cpuUsPerRequest: Math.round((cpu / total) * 1e7) / 10 };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const serveAt = args.indexOf('--serve');
  if (serveAt >= 0) {
    const mode = args[serveAt + 1] as Mode;
    return mode.startsWith('tls-') ? serveTls(mode, args[serveAt + 2]!, args[serveAt + 3]!) : serve(mode);
  }
  const opt = (name: string, fallback: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const seconds = opt('--seconds', 3);
  const connections = opt('--connections', 8);
  const rounds = opt('--rounds', 2);
  const websocket = args.includes('--ws');
  const secure = args.includes('--tls');
  console.log(`${websocket ? 'WebSocket echo (64 B)' : `HTTP/1.1${secure ? ' over TLS 1.3' : ''} GET /version`}, ${connections} keep-alive connections, ${seconds} s per run`);
  const modes: readonly Mode[] = secure ? ['tls-direct', 'tls-pipe-unix'] : ['direct', 'pipe-unix', 'pipe-tcp'];
  for (let r = 0; r < rounds; r++) {
    for (const mode of modes) {
      const m = await measure(mode, seconds, connections, websocket);
      console.log(`${m.mode.padEnd(13)} ${String(m.perSecond).padStart(7)} ${websocket ? 'messages' : 'requests'}/s   server CPU ${m.cpuUsPerRequest} µs per ${websocket ? 'message' : 'request'}`);
    }
  }
}

await main();
