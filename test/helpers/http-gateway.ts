// Small HTTP helpers for the gateway tests: one request with its status, content type and body; a streaming POST
// that yields the response's lines as they arrive; normalisation of etcd answers so that two servers compare.
// Shared by test/http/*.test.ts.

import http from 'node:http';

export interface Reply {
  status: number;
  contentType: string;
  body: string;
}

export function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

export function request(base: string, path: string, body: string | undefined, method = 'POST', headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, base);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A POST whose response is read line by line while the request body may stay open. */
export class StreamingCall {
  readonly lines: string[] = [];
  status = 0;
  ended = false;
  private waiters: (() => void)[] = [];
  private readonly req: http.ClientRequest;
  private tail = '';

  constructor(base: string, path: string, headers: Record<string, string> = {}) {
    const u = new URL(path, base);
    this.req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'Transfer-Encoding': 'chunked', ...headers }, agent: false }, (res) => {
      this.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        this.tail += c;
        let i;
        while ((i = this.tail.indexOf('\n')) >= 0) {
          this.lines.push(this.tail.slice(0, i));
          this.tail = this.tail.slice(i + 1);
        }
        this.wake();
      });
      res.on('end', () => {
        if (this.tail !== '') this.lines.push(this.tail);
        this.tail = '';
        this.ended = true;
        this.wake();
      });
      res.on('error', () => {});
    });
    this.req.on('error', () => {
      this.ended = true;
      this.wake();
    });
    this.req.flushHeaders();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(text: string): void {
    this.req.write(text);
  }

  endBody(): void {
    this.req.end();
  }

  /** Resolves once `n` lines arrived (or the response ended); rejects after timeoutMs. */
  async waitLines(n: number, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length < n && !this.ended) {
      if (Date.now() > deadline) throw new Error(`waited for ${n} lines, got ${this.lines.length}: ${JSON.stringify(this.lines)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines.slice(0, n);
  }

  async waitEnd(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('response did not end');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close(): void {
    this.req.destroy();
  }
}

const REVISION_FIELDS = new Set(['revision', 'create_revision', 'mod_revision', 'compact_revision']);
const ID_FIELDS = new Set(['cluster_id', 'member_id', 'raft_term', 'leader', 'raftIndex', 'raftTerm', 'raftAppliedIndex', 'dbSize', 'dbSizeInUse', 'version']);

/**
 * Rewrites one side's answer so that two servers compare: identities and sizes become placeholders, revisions
 * become relative to the side's revision at suite start, lease IDs become their order of first appearance.
 */
export class Normaliser {
  private readonly leases = new Map<string, string>();
  constructor(readonly baseRevision: number) {}

  lease(id: string): string {
    if (id === '0') return id;
    let v = this.leases.get(id);
    if (v === undefined) this.leases.set(id, (v = `lease#${this.leases.size + 1}`));
    return v;
  }

  value(v: unknown, key = ''): unknown {
    if (Array.isArray(v)) return v.map((x) => this.value(x, key));
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const isMember = 'peerURLs' in o || 'clientURLs' in o;
      for (const [k, x] of Object.entries(o)) {
        if (isMember && ['ID', 'name', 'peerURLs', 'clientURLs'].includes(k)) out[k] = `<${k}>`;
        else if ((k === 'ID' || k === 'lease') && typeof x === 'string') out[k] = this.lease(x);
        else if (REVISION_FIELDS.has(k) && typeof x === 'string' && /^-?\d+$/.test(x)) out[k] = String(Number(x) - (Number(x) > 0 ? this.baseRevision : 0));
        else if (ID_FIELDS.has(k) && key !== 'kv' && typeof x === 'string' && k !== 'version') out[k] = `<${k}>`;
        else if (k === 'version' && typeof x === 'string' && x.includes('.')) out[k] = '<server version>';
        else if (k === 'TTL' && 'grantedTTL' in o && typeof x === 'string' && Number(x) > 0) out[k] = Number(x) >= Number(o['grantedTTL']) - 2 ? '<near granted>' : x;
        else out[k] = this.value(x, k);
      }
      return out;
    }
    return v;
  }

  reply(r: Reply): unknown {
    let body: unknown = r.body;
    if (r.contentType.startsWith('application/json')) {
      try {
        body = this.value(JSON.parse(r.body));
      } catch {
        // a stream's lines
        body = r.body.split('\n').filter((l) => l !== '').map((l) => this.value(JSON.parse(l)));
      }
    }
    return { status: r.status, contentType: r.contentType, body };
  }
}
