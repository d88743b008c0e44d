// /health, /livez, /readyz and /version on a healthy member, on a member that has no leader (one member of a
// three-member cluster whose peers never start) and on a member over its backend quota (ALARM NOSPACE).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseFlags } from '../../src/config/index.js';
import { startMember, type Member } from '../../src/cli/member.js';
import { freePort } from '../helpers/etcd.js';
import { startInProcess, tempDir, type InProcessMember } from '../helpers/member.js';
import { get, httpBase, memberForSuite, metricValue } from '../helpers/http.js';

const packageVersion = (JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('health endpoints of a healthy member', () => {
  const suite = memberForSuite();

  test('/health is 200 {"health":"true","reason":""} and counts in etcd_server_health_success', async () => {
    const r = await get(`${suite.base}/health`);
    assert.equal(r.status, 200);
    assert.equal(r.body, '{"health":"true","reason":""}');
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    const s = await get(`${suite.base}/health?serializable=true`);
    assert.equal(s.status, 200);
    assert.deepEqual(JSON.parse(s.body), { health: 'true', reason: '' });
    const metrics = (await get(`${suite.base}/metrics`)).body;
    assert.ok(metricValue(metrics, 'etcd_server_health_success')! >= 2);
    assert.equal(metricValue(metrics, 'etcd_server_health_failures'), 0);
  });

  test('methods other than GET are 405 with Allow: GET, as etcd answers', async () => {
    for (const p of ['/health', '/livez', '/readyz', '/readyz/linearizable_read', '/version']) {
      const r = await get(`${suite.base}${p}`, { method: 'POST', body: '{}' });
      assert.equal(r.status, 405, p);
      assert.equal(r.headers.get('allow'), 'GET', p);
      assert.equal(r.body, 'Method Not Allowed\n', p);
    }
  });

  test('/livez and /readyz say ok; ?verbose lists every check', async () => {
    assert.deepEqual(await get(`${suite.base}/livez`).then((r) => [r.status, r.body]), [200, 'ok\n']);
    assert.deepEqual(await get(`${suite.base}/readyz`).then((r) => [r.status, r.body]), [200, 'ok\n']);
    const v = await get(`${suite.base}/readyz?verbose`);
    assert.equal(v.status, 200);
    assert.equal(v.body, '[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n[+]non_learner ok\nok\n');
    assert.equal((await get(`${suite.base}/livez?verbose`)).body, '[+]serializable_read ok\nok\n');
    const one = await get(`${suite.base}/readyz/linearizable_read?verbose`);
    assert.equal(one.body, '[+]linearizable_read ok\nok\n');
    const excluded = await get(`${suite.base}/readyz?verbose&exclude=linearizable_read&exclude=non_learner`);
    assert.equal(excluded.body, '[+]data_corruption ok\n[+]serializable_read ok\nok\n');
    assert.equal((await get(`${suite.base}/readyz/no_such_check`)).status, 404);
  });

  test('/version names the etcd API version and etcd-ts own version', async () => {
    const r = await get(`${suite.base}/version`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.deepEqual(JSON.parse(r.body), { etcdserver: '3.4.0', etcdcluster: '3.4.0', etcdts: packageVersion });
  });
});

describe('health endpoints of a member without a leader', () => {
  let member: Member;
  let root: string;
  let base: string;
  before(async () => {
    // one member of three: its peers never start, so it can never win an election
    root = tempDir('etcd-ts-noleader-');
    const peers = [await freePort(), await freePort(), await freePort()];
    const { config } = parseFlags(
      [
        '--name', 'p1', '--data-dir', path.join(root, 'p1'),
        '--listen-client-binary-urls', 'http://127.0.0.1:0', '--listen-client-urls', 'http://127.0.0.1:0',
        '--listen-peer-urls', `http://127.0.0.1:${peers[0]}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peers[0]}`,
        '--initial-cluster', peers.map((p, i) => `p${i + 1}=http://127.0.0.1:${p}`).join(','),
        '--heartbeat-interval', '50', '--election-timeout', '500',
      ],
      {},
    );
    member = await startMember(config);
    base = `http://127.0.0.1:${member.httpAddresses[0]!.port}`;
  });
  after(async () => {
    await member.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('/health is 503 RAFT NO LEADER; serializable=true reads locally and is 200', async () => {
    const r = await get(`${base}/health`);
    assert.equal(r.status, 503);
    assert.equal(r.body, '{"health":"false","reason":"RAFT NO LEADER"}\n');
    const s = await get(`${base}/health?serializable=true`);
    assert.equal(s.status, 200);
    assert.equal(s.body, '{"health":"true","reason":""}');
    const metrics = (await get(`${base}/metrics`)).body;
    assert.ok(metricValue(metrics, 'etcd_server_health_failures')! >= 1);
    assert.equal(metricValue(metrics, 'etcd_server_has_leader'), 0);
    assert.equal(metricValue(metrics, 'etcd_server_is_leader'), 0);
  });

  test('/livez is ok (local reads work); /readyz is 503 naming the linearizable read', async () => {
    assert.deepEqual(await get(`${base}/livez`).then((r) => [r.status, r.body]), [200, 'ok\n']);
    const r = await get(`${base}/readyz`);
    assert.equal(r.status, 503);
    const lines = r.body.split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('[+]')), ['[+]data_corruption ok', '[+]serializable_read ok', '[+]non_learner ok']);
    assert.match(r.body, /^\[-\]linearizable_read failed: etcdserver: request timed out$/m);
    assert.ok(r.body.endsWith('\n\n'), 'http.Error adds a newline after the check lines');
    assert.equal((await get(`${base}/readyz/serializable_read`)).status, 200);
    assert.equal((await get(`${base}/readyz/linearizable_read`)).status, 503);
    assert.equal((await get(`${base}/readyz?exclude=linearizable_read`)).status, 200);
  });
});

describe('health of a member over its backend quota', () => {
  let m: InProcessMember;
  before(async () => {
    // a quota smaller than an empty database: the state etcd reports as an active NOSPACE alarm
    m = await startInProcess(['--quota-backend-bytes', '4096']);
  });
  after(() => m.close());

  test('/health reports ALARM NOSPACE unless ?exclude=NOSPACE', async () => {
    const base = httpBase(m);
    const r = await get(`${base}/health`);
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body), { health: 'false', reason: 'ALARM NOSPACE' });
    const x = await get(`${base}/health?exclude=NOSPACE`);
    assert.equal(x.status, 200);
    assert.deepEqual(JSON.parse(x.body), { health: 'true', reason: '' });
  });
});
