// /health, /livez, /readyz and /version, as etcd serves them.
//
// /health is etcd 3.5's: 200 {"health":"true","reason":""}, or 503 {"health":"false","reason":"..."} when an alarm is
// active (etcd-ts has no persistent alarms: a database over --quota-backend-bytes reports ALARM NOSPACE, which is the
// state etcd's NOSPACE alarm describes), when there is no leader, or when a read fails or does not finish within
// HEALTH_READ_TIMEOUT_MS. `?exclude=NOSPACE` ignores that alarm; `?serializable=true` skips the leader requirement
// and reads locally. (etcd 3.4's body has no "reason"; clients read "health" only.)
//
// /livez and /readyz are etcd 3.5.11's check lists: "ok\n", or 503 with one "[+]name ok" / "[-]name failed: why"
// line per check; `?verbose` lists the lines on success too, `?exclude=name` skips a check, /readyz/<name> runs one.

import type { ClockTimer } from '../clock/index.js';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type uWS from 'uWebSockets.js';
import { HEALTH_READ_TIMEOUT_MS, HEALTH_READS_INFLIGHT_MAX } from '../config/limits.js';
import { etcdError } from '../errors/index.js';
import { metricsFor } from '../metrics/index.js';
import { NONE } from '../raft/index.js';
import { SERVER_VERSION, type EtcdServer } from '../server/index.js';
import type { HttpRoutes } from './server.js';
import { methodNotAllowed, reply, respondAsync } from './reply.js';

/** etcd-ts's own version, from package.json (dist/src/http -> the package root). */
export const ETCD_TS_VERSION: string = (() => {
  try {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const pkg = JSON.parse(fs.readFileSync(path.resolve(here, '../../../package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
})();

const TEXT = 'text/plain; charset=utf-8';

/** Reads of the health checks waiting at once, per member. */
const inflight = new WeakMap<EtcdServer, number>();

/** A Range of one key, keys only, as etcd's health read; resolves with the error message, or null when it worked. */
async function readCheck(server: EtcdServer, serializable: boolean): Promise<string | null> {
  const n = inflight.get(server) ?? 0;
  if (n >= HEALTH_READS_INFLIGHT_MAX) return etcdError('TooManyRequests').message;
  inflight.set(server, n + 1);
  let timer: ClockTimer | undefined;
  try {
    const read = Promise.resolve().then(() => server.kv.range({ key: Buffer.from('health'), keys_only: true, limit: 1, serializable }));
    const timeout = new Promise<never>((_, reject) => {
      timer = server.clock.setTimeout(() => reject(etcdError('Timeout')), HEALTH_READ_TIMEOUT_MS);
    });
    await Promise.race([read, timeout]);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    server.clock.clear(timer);
    inflight.set(server, (inflight.get(server) ?? 1) - 1);
  }
}

export interface Health {
  health: 'true' | 'false';
  reason: string;
}

/** etcd 3.5's checkV3Health: alarms, then the leader, then a read. */
export async function checkHealth(server: EtcdServer, excluded: ReadonlySet<string>, serializable: boolean): Promise<Health> {
  if (server.overQuota && !excluded.has('NOSPACE')) return { health: 'false', reason: 'ALARM NOSPACE' };
  if (!serializable && server.leader === NONE) return { health: 'false', reason: 'RAFT NO LEADER' };
  const failed = await readCheck(server, serializable);
  if (failed !== null) return { health: 'false', reason: `RANGE ERROR:${failed}` };
  return { health: 'true', reason: '' };
}

type Check = (server: EtcdServer) => Promise<string | null>;

const CHECKS: Record<string, Check> = {
  // etcd-ts raises no CORRUPT alarm (there is no corruption checker yet), so this check always passes
  data_corruption: async () => null,
  serializable_read: (server) => readCheck(server, true),
  linearizable_read: (server) => readCheck(server, false),
  non_learner: async (server) => (server.isLearner ? 'not supported for learner' : null),
};
const LIVEZ = ['serializable_read'];
const READYZ = ['data_corruption', 'serializable_read', 'linearizable_read', 'non_learner'];

/** Query values of one parameter, repeated or comma-separated. */
function querySet(query: string, name: string): Set<string> {
  const out = new Set<string>();
  for (const v of new URLSearchParams(query).getAll(name)) for (const s of v.split(',')) if (s !== '') out.add(s.trim());
  return out;
}

async function runChecks(server: EtcdServer, names: readonly string[]): Promise<{ healthy: boolean; lines: string }> {
  const results = await Promise.all(names.map((name) => CHECKS[name]!(server)));
  let lines = '';
  results.forEach((failed, i) => {
    lines += failed === null ? `[+]${names[i]} ok\n` : `[-]${names[i]} failed: ${failed}\n`;
  });
  return { healthy: results.every((r) => r === null), lines };
}

function checkListRoute(app: uWS.TemplatedApp, server: EtcdServer, base: string, names: readonly string[]): void {
  const serve = (res: uWS.HttpResponse, query: string, selected: readonly string[]): void => {
    const verbose = new URLSearchParams(query).has('verbose');
    respondAsync(res, async () => {
      const { healthy, lines } = await runChecks(server, selected);
      // Go's http.Error adds a newline after the reason, as etcd's failing probe body shows
      if (!healthy) return (r) => reply(r, '503 Service Unavailable', TEXT, `${lines}\n`, { 'X-Content-Type-Options': 'nosniff' });
      return (r) => reply(r, '200 OK', TEXT, verbose ? `${lines}ok\n` : 'ok\n');
    });
  };
  app.get(base, (res, req) => {
    const query = req.getQuery() ?? '';
    const excluded = querySet(query, 'exclude');
    serve(res, query, names.filter((n) => !excluded.has(n)));
  });
  app.any(base, (res) => methodNotAllowed(res));
  for (const name of names) {
    app.get(`${base}/${name}`, (res, req) => serve(res, req.getQuery() ?? '', [name]));
    app.any(`${base}/${name}`, (res) => methodNotAllowed(res));
  }
}

export const healthRoutes: HttpRoutes = (app, { server }) => {
  const metrics = metricsFor(server);
  app.get('/health', (res, req) => {
    const query = req.getQuery() ?? '';
    const excluded = querySet(query, 'exclude');
    const serializable = new URLSearchParams(query).get('serializable') === 'true';
    respondAsync(res, async () => {
      const h = await checkHealth(server, excluded, serializable);
      metrics.healthChecked(h.health === 'true');
      const body = JSON.stringify(h);
      if (h.health !== 'true') return (r) => reply(r, '503 Service Unavailable', TEXT, `${body}\n`, { 'X-Content-Type-Options': 'nosniff' });
      return (r) => reply(r, '200 OK', TEXT, body);
    });
  });
  app.any('/health', (res) => methodNotAllowed(res));
  checkListRoute(app, server, '/livez', LIVEZ);
  checkListRoute(app, server, '/readyz', READYZ);
  // etcd's version.Versions, with etcd-ts's own version beside it (clients ignore fields they do not know)
  const versions = JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: SERVER_VERSION.replace(/\.\d+$/, '.0'), etcdts: ETCD_TS_VERSION });
  app.get('/version', (res) => reply(res, '200 OK', 'application/json', versions));
  app.any('/version', (res) => methodNotAllowed(res));
};
