// Plain HTTP helpers for tests of the HTTP front end: fetch for ordinary requests, a raw socket for request lines
// that fetch would normalise (`..` segments, encoded slashes).

import net from 'node:net';
import { after, before } from 'node:test';
import { startInProcess, type InProcessMember } from './member.js';

export function httpBase(m: InProcessMember | { member: { httpAddresses: { port: number }[] } }): string {
  return `http://127.0.0.1:${m.member.httpAddresses[0]!.port}`;
}

export async function get(url: string, init: RequestInit = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Sends one HTTP/1.1 request line exactly as given; resolves with the status line and the whole response. */
export function rawRequest(port: number, target: string, method = 'GET'): Promise<{ statusLine: string; response: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (data += c));
    socket.on('error', reject);
    socket.on('close', () => resolve({ statusLine: data.split('\r\n')[0] ?? '', response: data }));
  });
}

/** One sample value from Prometheus text: `name` with exactly these labels (none by default). */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  const wanted = labels === '' ? name : `${name}{${labels}}`;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    if (at > 0 && line.slice(0, at) === wanted) return Number(line.slice(at + 1));
  }
  return undefined;
}

/**
 * For a describe block whose tests share one in-process member: started before them, closed after them.
 * `member` and `base` are read inside the tests (they exist once `before` ran).
 */
export function memberForSuite(flags: string[] = []): { readonly member: InProcessMember; readonly base: string } {
  let m: InProcessMember | undefined;
  before(async () => {
    m = await startInProcess(flags);
  });
  after(() => m?.close());
  return {
    get member(): InProcessMember {
      if (m === undefined) throw new Error('the suite member is not started yet');
      return m;
    },
    get base(): string {
      return httpBase(this.member);
    },
  };
}
