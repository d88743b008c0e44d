// What the client port's pipe to uWS costs per HTTP/1 request (BENCHMARKS.md, "The client port"). A server process serves one tiny route
// on uWS, reached either directly, or through the client port (src/frontend) piping to uWS's private listener over a
// unix socket or a loopback TCP port; this process drives it with keep-alive connections, each sending GET requests one
// after another, and reports requests/s and the server's CPU time per request (from /proc, so independent of the
// client's own speed). The modes alternate A B C A B C in one run, as BENCHMARKS.md asks.
//
//   node dist/test/bench/client-port-pipe.js [--seconds 3] [--connections 8] [--rounds 2] [--ws]
//
// --ws sends WebSocket messages (echoed) instead of HTTP requests: the pipe's cost per message both ways.

import net from 'node:net';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import uWS from 'uWebSockets.js';
import { HttpServer, type HttpRoutes } from '../../src/http/index.js';
import { ClientPort } from '../../src/frontend/index.js';
import { DEFAULT_LIMITS } from '../../src/config/index.js';
import type { EtcdServer } from '../../src/server/index.js';
import { processCpu } from '../../native-free-bench/procstat.js';

type Mode = 'direct' | 'pipe-unix' | 'pipe-tcp';

const tiny: HttpRoutes = (app) => {
  app.get('/version', (res) => {
    res.cork(() => res.writeHeader('Content-Type', 'application/json').end('{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}'));
  });
  app.ws('/echo', { message: (ws, message, isBinary) => void ws.send(message, isBinary) } as uWS.WebSocketBehavior<unknown>);
};

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
function httpConnection(port: number, until: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const request = Buffer.from('GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    let done = 0;
    let pending = '';
    socket.on('connect', () => socket.write(request));
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
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', mode], { stdio: 'inherit' });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })));
  // warm up
  await Promise.all(Array.from({ length: connections }, () => (websocket ? wsConnection : httpConnection)(port, performance.now() + 300)));
  const cpuBefore = processCpu(child.pid!)!.selfS;
  const start = performance.now();
  const until = start + seconds * 1000;
  const counts = await Promise.all(Array.from({ length: connections }, () => (websocket ? wsConnection : httpConnection)(port, until)));
  const elapsed = (performance.now() - start) / 1000;
  const cpu = processCpu(child.pid!)!.selfS - cpuBefore;
  child.kill();
  const total = counts.reduce((a, b) => a + b, 0);
  return { mode, perSecond: Math.round(total / elapsed), cpuUsPerRequest: Math.round((cpu / total) * 1e7) / 10 };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const serveAt = args.indexOf('--serve');
  if (serveAt >= 0) return serve(args[serveAt + 1] as Mode);
  const opt = (name: string, fallback: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const seconds = opt('--seconds', 3);
  const connections = opt('--connections', 8);
  const rounds = opt('--rounds', 2);
  const websocket = args.includes('--ws');
  console.log(`${websocket ? 'WebSocket echo (64 B)' : 'HTTP/1.1 GET /version'}, ${connections} keep-alive connections, ${seconds} s per run`);
  for (let r = 0; r < rounds; r++) {
    for (const mode of ['direct', 'pipe-unix', 'pipe-tcp'] as const) {
      const m = await measure(mode, seconds, connections, websocket);
      console.log(`${m.mode.padEnd(10)} ${String(m.perSecond).padStart(7)} ${websocket ? 'messages' : 'requests'}/s   server CPU ${m.cpuUsPerRequest} µs per ${websocket ? 'message' : 'request'}`);
    }
  }
}

await main();
