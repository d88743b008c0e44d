// TLS on a member's client listeners, one member shared by the file's tests: the client port (gRPC, the gateway,
// WebSockets, the binary protocol and the dashboard behind one https:// URL) and the binary listener, with
// --client-cert-auth, a trusted CA and a CRL, as etcd 3.4 serves them. Real etcdctl runs against etcd-ts and against a
// real etcd with the same flags; the refusals of reference section 3.3 (and an expired or revoked certificate) are
// refused with etcd's log line while everyone else is served; the certificate is rotated on disk without a restart.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { parseFlags } from '../../src/config/index.js';
import { startMember } from '../../src/cli/member.js';
import { Client } from '../../src/client/index.js';
import { METHODS, type CallContext, type RequestAuth } from '../../src/server/index.js';
import { etcdctlAvailable, runEtcdctl, runEtcdctlTs, start as startCli } from '../helpers/etcdctl.js';
import { runEtcdTs, startChild, startInProcess, tempDir, type InProcessMember } from '../helpers/member.js';
import { pem, testCerts } from '../helpers/tls-certs.js';
import { httpsRequest, startRealEtcdTls, TlsLog, tlsProbe } from '../helpers/tls.js';

const certs = testCerts();
const log = new TlsLog();
let member: InProcessMember;
/** the member's certificate files: copies, so that the rotation test can replace them */
let certDir: string;
let clientPort: number;
let binaryPort: number;
const alice = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };

before(async () => {
  certDir = tempDir('etcd-ts-tls-member-');
  fs.copyFileSync(certs.serverCert, path.join(certDir, 'server.crt'));
  fs.copyFileSync(certs.serverKey, path.join(certDir, 'server.key'));
  member = await startInProcess([
    '--listen-client-urls', 'https://127.0.0.1:0',
    '--listen-client-binary-urls', 'https://127.0.0.1:0',
    '--cert-file', path.join(certDir, 'server.crt'),
    '--key-file', path.join(certDir, 'server.key'),
    '--client-cert-auth',
    '--trusted-ca-file', certs.ca,
    '--client-crl-file', certs.crl,
  ]);
  clientPort = member.member.clientAddresses[0]!.port;
  binaryPort = member.member.binaryAddresses[0]!.port;
});

after(async () => {
  await member.close();
  log.close();
  fs.rmSync(certDir, { recursive: true, force: true });
});

const tlsClient = (endpoint: string): Client =>
  new Client({ endpoints: [endpoint], tls: { ca: pem(certs.ca), cert: pem(certs.clientCert), key: pem(certs.clientKey) } });

/** Records the RequestAuth every Range call gets, whichever front end it came through (the method table's entry). */
function spyOnRange(): { seen: (RequestAuth | undefined)[]; restore(): void } {
  const entry = METHODS.Range as unknown as { call: (s: never, r: never, ctx: CallContext, caller: never) => unknown };
  const original = entry.call;
  const seen: (RequestAuth | undefined)[] = [];
  entry.call = (s, r, ctx, caller) => {
    seen.push(ctx.auth);
    return original(s, r, ctx, caller);
  };
  return { seen, restore: () => void (entry.call = original) };
}

const etcdctlTls = ['--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey, '--dial-timeout=3s', '--command-timeout=5s'];

test('real etcdctl 3.4 over TLS: put, get and watch print on etcd-ts what they print on a real etcd with the same flags', { timeout: 60_000 }, async (t) => {
  if (!etcdctlAvailable()) return t.skip('etcd and etcdctl are not installed');
  const etcd = await startRealEtcdTls(
    ['--cert-file', certs.serverCert, '--key-file', certs.serverKey, '--client-cert-auth', '--trusted-ca-file', certs.ca, '--client-crl-file', certs.crl],
    alice,
  );
  t.after(() => etcd.stop());
  const sides = [`https://${etcd.endpoint}`, `https://127.0.0.1:${clientPort}`];
  const both = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }[]> =>
    Promise.all(sides.map(async (ep) => {
      const r = await runEtcdctl([`--endpoints=${ep}`, ...etcdctlTls, ...args]);
      return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    }));
  // the watches start from the revision after which both sides make the same writes
  const revisions = await Promise.all(sides.map(async (ep) => {
    const r = await runEtcdctl([`--endpoints=${ep}`, ...etcdctlTls, 'get', 'tls/none', '-w', 'json']);
    return Number((JSON.parse(r.stdout.toString()) as { header: { revision: number } }).header.revision);
  }));
  for (const args of [['put', 'tls/a', '1'], ['put', 'tls/b', '2', '--prev-kv'], ['get', 'tls/', '--prefix'], ['get', 'tls/a', '--print-value-only'], ['del', 'tls/a']]) {
    const [real, ours] = await both(args);
    assert.equal(real!.code, 0, `${args.join(' ')} against etcd: ${real!.stderr}`);
    assert.deepEqual(ours, real, args.join(' '));
  }
  const watches = sides.map((ep, i) => startCli('etcdctl', [`--endpoints=${ep}`, ...etcdctlTls, 'watch', '--prefix', 'tls/', `--rev=${revisions[i]! + 1}`]));
  t.after(() => watches.forEach((w) => w.signal('SIGKILL')));
  const waitForWatches = async (expected: string): Promise<void> => {
    for (const w of watches) {
      const deadline = Date.now() + 10_000;
      while (w.output().stdout.toString() !== expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(watches.map((w) => w.output().stdout.toString()), [expected, expected]);
  };
  // the history first, then a live event
  const history = 'PUT\ntls/a\n1\nPUT\ntls/b\n2\nDELETE\ntls/a\n\n';
  await waitForWatches(history);
  await both(['put', 'tls/c', '3']);
  await waitForWatches(`${history}PUT\ntls/c\n3\n`);
  // a client that does not trust the server: etcdctl says only "context deadline exceeded"; both log Go's alert
  const distrust = await Promise.all(sides.map((ep) => runEtcdctl([`--endpoints=${ep}`, '--cacert', certs.otherCa, '--cert', certs.clientCert, '--key', certs.clientKey, '--dial-timeout=1s', '--command-timeout=2s', 'get', 'x'])));
  assert.deepEqual(distrust.map((r) => [r.code, r.stderr.toString().split('\n').filter((l) => l.startsWith('Error:'))]), [[1, ['Error: context deadline exceeded']], [1, ['Error: context deadline exceeded']]]);
  assert.match(etcd.log(), /"msg":"rejected connection".*"error":"remote error: tls: bad certificate"/);
  await log.waitFor((m) => m.msg === 'rejected connection' && m.fields.error === 'remote error: tls: bad certificate');
});

test('etcdctl-ts and the TypeScript client over TLS, to the client port and the binary listener; the client CN reaches the method table on every path', { timeout: 60_000 }, async (t) => {
  const spy = spyOnRange();
  t.after(() => spy.restore());
  for (const ep of [`127.0.0.1:${binaryPort}`, `https://127.0.0.1:${clientPort}`]) {
    const put = await runEtcdctlTs([`--endpoints=${ep}`, ...etcdctlTls, 'put', 'ts/k', ep]);
    assert.equal(put.stdout.toString(), 'OK\n', put.stderr.toString());
    const get = await runEtcdctlTs([`--endpoints=${ep}`, ...etcdctlTls, 'get', 'ts/k', '--print-value-only']);
    assert.equal(get.stdout.toString(), `${ep}\n`, get.stderr.toString());
  }
  // etcdctl's rules: cert without key is refused (128); without any TLS flag a scheme-less endpoint is plaintext
  const half = await runEtcdctlTs([`--endpoints=127.0.0.1:${binaryPort}`, '--cert', certs.clientCert, 'get', 'x']);
  assert.equal(half.code, 128);
  assert.equal(half.stderr.toString(), `Error: KeyFile and CertFile must both be present[key: , cert: ${certs.clientCert}]\n`);
  const plain = await runEtcdctlTs([`--endpoints=127.0.0.1:${binaryPort}`, '--dial-timeout=1s', '--command-timeout=1s', 'get', 'x']);
  assert.equal(plain.stderr.toString().trim().split('\n').pop(), 'Error: context deadline exceeded');
  // --insecure-skip-tls-verify applies to a TLS configuration (here: the client certificate alone); without a CA the
  // server is not trusted (--insecure-transport=false alone asks for TLS with the system's roots)
  const skip = await runEtcdctlTs([`--endpoints=127.0.0.1:${binaryPort}`, '--cert', certs.clientCert, '--key', certs.clientKey, '--insecure-skip-tls-verify', 'get', 'ts/k', '--print-value-only']);
  assert.equal(skip.stdout.toString(), `https://127.0.0.1:${clientPort}\n`, skip.stderr.toString());
  const untrusted = await runEtcdctlTs([`--endpoints=127.0.0.1:${binaryPort}`, '--insecure-transport=false', '--dial-timeout=1s', '--command-timeout=1s', 'get', 'x']);
  assert.equal(untrusted.stderr.toString().trim().split('\n').pop(), 'Error: context deadline exceeded');
  const env = await runEtcdctlTs([`--endpoints=127.0.0.1:${binaryPort}`, 'get', 'ts/k', '--print-value-only'], { env: { ETCDCTL_CACERT: certs.ca, ETCDCTL_CERT: certs.clientCert, ETCDCTL_KEY: certs.clientKey } });
  assert.equal(env.stdout.toString(), `https://127.0.0.1:${clientPort}\n`, env.stderr.toString());

  spy.seen.length = 0;
  for (const ep of [`https://127.0.0.1:${binaryPort}`, `127.0.0.1:${clientPort}`]) {
    const c = tlsClient(ep);
    t.after(() => c.destroy());
    const r = await c.range({ key: Buffer.from('ts/k') });
    assert.equal(r.kvs.length, 1);
  }
  const gateway = await httpsRequest(`https://127.0.0.1:${clientPort}/v3/kv/range`, alice, JSON.stringify({ key: Buffer.from('ts/k').toString('base64') }));
  assert.equal(gateway.status, 200, gateway.body);
  if (etcdctlAvailable()) {
    const grpc = await runEtcdctl([`--endpoints=https://127.0.0.1:${clientPort}`, ...etcdctlTls, 'get', 'ts/k', '--print-value-only']);
    assert.equal(grpc.stdout.toString(), `https://127.0.0.1:${clientPort}\n`, grpc.stderr.toString());
  }
  assert.ok(spy.seen.length >= (etcdctlAvailable() ? 4 : 3));
  assert.deepEqual(spy.seen, spy.seen.map(() => ({ commonName: 'alice' })), 'binary (both listeners), gateway and gRPC calls carry the CN');
});

test('curl over HTTPS: /health, the gateway and the dashboard; a WebSocket watch over wss', { timeout: 30_000 }, async (t) => {
  const base = `https://127.0.0.1:${clientPort}`;
  const health = await httpsRequest(`${base}/health`, alice);
  assert.equal(health.status, 200);
  assert.equal(JSON.parse(health.body).health, 'true');
  const dashboard = await httpsRequest(`${base}/`, alice);
  assert.equal(dashboard.status, 200);
  assert.match(String(dashboard.headers['content-type']), /text\/html/);
  const put = await httpsRequest(`${base}/v3/kv/put`, alice, JSON.stringify({ key: Buffer.from('wss/a').toString('base64'), value: Buffer.from('1').toString('base64') }));
  assert.equal(put.status, 200, put.body);
  const ws = new WebSocket(`wss://127.0.0.1:${clientPort}/v3/watch`, { ca: pem(certs.ca), cert: pem(certs.clientCert), key: pem(certs.clientKey) });
  t.after(() => ws.terminate());
  const messages: { result?: { created?: boolean; events?: { kv: { key: string; value: string } }[] } }[] = [];
  ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString())));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ create_request: { key: Buffer.from('wss/').toString('base64'), range_end: Buffer.from('wss0').toString('base64') } }));
  const waitFor = async (pred: () => boolean): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`WebSocket messages: ${JSON.stringify(messages)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor(() => messages.some((m) => m.result?.created === true));
  await httpsRequest(`${base}/v3/kv/put`, alice, JSON.stringify({ key: Buffer.from('wss/b').toString('base64'), value: Buffer.from('2').toString('base64') }));
  await waitFor(() => messages.some((m) => (m.result?.events ?? []).length > 0));
  const event = messages.find((m) => (m.result?.events ?? []).length > 0)!.result!.events![0]!;
  assert.equal(Buffer.from(event.kv.key, 'base64').toString(), 'wss/b');
});

test("refusals, each logged as etcd logs it, while a connected client and new good ones are served: plaintext, no certificate, another CA's, expired, revoked", { timeout: 60_000 }, async (t) => {
  const connected = tlsClient(`127.0.0.1:${clientPort}`);
  t.after(() => connected.destroy());
  await connected.put({ key: Buffer.from('served'), value: Buffer.from('0') });
  const cases: { name: string; probe: Parameters<typeof tlsProbe>[1]; error: RegExp; withCertificate: boolean }[] = [
    { name: 'plaintext', probe: { plain: true }, error: /^tls: first record does not look like a TLS handshake$/, withCertificate: false },
    { name: 'no client certificate', probe: { ca: certs.ca }, error: /^tls: client didn't provide a certificate$/, withCertificate: false },
    { name: 'another CA', probe: { ca: certs.ca, cert: certs.otherClientCert, key: certs.otherClientKey }, error: /^tls: failed to verify client certificate: x509: certificate signed by unknown authority$/, withCertificate: false },
    { name: 'expired', probe: { ca: certs.ca, cert: certs.expiredCert, key: certs.expiredKey }, error: /^tls: failed to verify client certificate: x509: certificate has expired or is not yet valid: current time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ is after 2020-02-01T00:00:00Z$/, withCertificate: false },
    { name: 'revoked', probe: { ca: certs.ca, cert: certs.revokedCert, key: certs.revokedKey }, error: new RegExp(`^transport: certificate serial ${certs.revokedSerial} revoked$`), withCertificate: true },
  ];
  for (const port of [clientPort, binaryPort]) {
    for (const c of cases) {
      const from = log.lines.length;
      const probe = await tlsProbe(port, c.probe);
      assert.notEqual(probe.outcome, 'data', `${c.name} on ${port}: the refused client got an answer`);
      const line = await log.waitFor((m) => m.msg === 'rejected connection' && m.fields['remote-addr'] === `127.0.0.1:${probe.localPort}`, from);
      assert.equal(line.level, 'warn');
      assert.match(String(line.fields.error), c.error, `${c.name} on ${port}`);
      assert.equal('ip-addresses' in line.fields, c.withCertificate, `${c.name}: the certificate's SANs are logged only when the handshake got that far`);
      // the member goes on serving: the connection made before, and a new one
      const r = await connected.range({ key: Buffer.from('served') });
      assert.equal(r.kvs.length, 1);
      assert.equal((await tlsProbe(port, { ...alice, handshakeOnly: true })).handshake, true);
    }
  }
  // curl sees what it sees against etcd (reference 3.3): no reply to plaintext, a failed handshake without a certificate
  const curl = await runCurl([`http://127.0.0.1:${clientPort}/health`]);
  assert.equal(curl.code, 52, curl.stderr);
  const noCert = await runCurl(['--cacert', certs.ca, `https://127.0.0.1:${clientPort}/health`]);
  assert.equal(noCert.code, 56, noCert.stderr);
  const good = await runCurl(['--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey, `https://127.0.0.1:${clientPort}/health`]);
  assert.equal(good.code, 0, good.stderr);
  assert.equal(JSON.parse(good.stdout).health, 'true');
});

async function runCurl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { run } = await import('../helpers/etcdctl.js');
  const r = await run('curl', ['-sS', '--max-time', '10', ...args]);
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test('start-up refusals with etcd\'s messages; http:// listeners with certificates are warned about', { timeout: 30_000 }, async () => {
  const dir = tempDir('etcd-ts-tls-refusals-');
  const refusal = async (flags: string[]): Promise<string> => {
    const { config } = parseFlags(['--data-dir', path.join(dir, 'data'), '--listen-client-binary-urls', 'http://127.0.0.1:0', '--listen-client-urls', 'http://127.0.0.1:0', ...flags], {});
    try {
      const m = await startMember(config);
      await m.close();
      return 'started';
    } catch (err) {
      return (err as Error).message;
    }
  };
  const cert = ['--cert-file', certs.serverCert, '--key-file', certs.serverKey];
  assert.equal(await refusal(['--listen-client-urls', 'https://127.0.0.1:0']), 'TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:0 with HTTPS scheme');
  assert.equal(await refusal(['--listen-client-binary-urls', 'https://127.0.0.1:0']), 'TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:0 with HTTPS scheme');
  assert.equal(await refusal(['--listen-client-urls', 'https://127.0.0.1:0', '--cert-file', certs.serverCert]), `KeyFile and CertFile must both be present[key: , cert: ${certs.serverCert}]`);
  assert.equal(await refusal(['--listen-client-urls', 'https://127.0.0.1:0', '--cert-file', '/nonexistent/server.crt', '--key-file', certs.serverKey]), 'open /nonexistent/server.crt: no such file or directory');
  assert.equal(await refusal(['--listen-client-urls', 'https://127.0.0.1:0', ...cert, '--trusted-ca-file', '/nonexistent/ca.crt']), 'open /nonexistent/ca.crt: no such file or directory');
  assert.equal(await refusal([...cert, '--cipher-suites', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_BOGUS']), 'unexpected TLS cipher suite "TLS_BOGUS"');
  const peer = ['--initial-cluster', 'default=https://127.0.0.1:1', '--initial-advertise-peer-urls', 'https://127.0.0.1:1'];
  assert.equal(await refusal([...peer, '--listen-peer-urls', 'https://127.0.0.1:1']), 'cannot listen on TLS for 127.0.0.1:1: KeyFile and CertFile are not presented');
  assert.equal(
    await refusal([...peer, '--listen-peer-urls', 'https://127.0.0.1:1', '--peer-cert-file', certs.serverCert, '--peer-key-file', certs.serverKey, '--peer-cert-allowed-cn', 'a', '--peer-cert-allowed-hostname', 'b']),
    'AllowedCN and AllowedHostname are mutually exclusive (cn="a", hostname="b")',
  );
  assert.equal(await refusal(['--listen-peer-urls', 'https://127.0.0.1:1,http://127.0.0.1:1', '--peer-cert-file', certs.serverCert, '--peer-key-file', certs.serverKey]), 'listen tcp 127.0.0.1:1: bind: address already in use');
  // http:// with certificate files: served in plaintext, with etcd's warnings; a missing file is never read
  const from = log.lines.length;
  assert.equal(await refusal(['--cert-file', '/nonexistent/server.crt', '--key-file', certs.serverKey, '--client-cert-auth']), 'started');
  const warned = log.lines.slice(from).filter((m) => m.level === 'warn').map((m) => m.msg);
  assert.ok(warned.includes('scheme is HTTP while key and cert files are present; ignoring key and cert files'), JSON.stringify(warned));
  assert.ok(warned.includes('scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL'), JSON.stringify(warned));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the etcd-ts command: start-up refusals and rejected connections as JSON log lines with etcd\'s fields', { timeout: 40_000 }, async (t) => {
  const dir = tempDir('etcd-ts-tls-cli-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const refused = await runEtcdTs(['--data-dir', path.join(dir, 'refused'), '--listen-client-urls', 'https://127.0.0.1:0', '--listen-client-binary-urls', 'http://127.0.0.1:0']);
  assert.equal(refused.code, 1);
  const fatal = refused.stderr.split('\n').filter((l) => l.includes('"level":"fatal"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(fatal.map((l) => [l.msg, l.error]), [['failed to start member', 'TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:0 with HTTPS scheme']]);
  assert.ok(!fs.existsSync(path.join(dir, 'refused')), 'a refused start leaves no data directory');
  const child = await startChild(['--listen-client-urls', 'https://127.0.0.1:0', '--listen-client-binary-urls', 'https://127.0.0.1:0', '--cert-file', certs.serverCert, '--key-file', certs.serverKey, '--trusted-ca-file', certs.ca], path.join(dir, 'data'));
  t.after(() => child.kill());
  const ready = child.stderr().split('\n').map((l) => (l.startsWith('{') ? (JSON.parse(l) as Record<string, unknown>) : {})).find((l) => l.msg === 'ready to serve client requests')!;
  assert.match(String((ready['client-urls'] as string[])[0]), /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(child.stderr().includes('"msg":"starting with client TLS"'));
  const port = Number(child.endpoint.split(':')[1]);
  const probe = await tlsProbe(port, { ca: certs.ca });
  const deadline = Date.now() + 10_000;
  let line: Record<string, unknown> | undefined;
  while (line === undefined && Date.now() < deadline) {
    line = child.stderr().split('\n').filter((l) => l.includes('rejected connection')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['remote-addr'] === `127.0.0.1:${probe.localPort}`);
    if (line === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(line !== undefined, child.stderr());
  assert.deepEqual(Object.keys(line).filter((k) => k !== 'ts'), ['level', 'caller', 'msg', 'remote-addr', 'server-name', 'error']);
  assert.equal(line.level, 'warn');
  assert.equal(line.error, "tls: client didn't provide a certificate", 'the CA file alone requires client certificates (trap 8)');
});

test('--auto-tls with https:// --listen-client-http-urls: a self-signed certificate in <data-dir>/fixtures/client, HTTP and the dashboard over HTTPS', { timeout: 30_000 }, async (t) => {
  const b = await startInProcess(['--auto-tls', '--listen-client-http-urls', 'https://127.0.0.1:0', '--client-cert-auth', '--trusted-ca-file', certs.ca]);
  t.after(() => b.close());
  const fixtures = path.join(b.dataDir, 'fixtures', 'client');
  assert.deepEqual(fs.readdirSync(fixtures).sort(), ['cert.pem', 'key.pem']);
  const httpPort = b.member.httpAddresses[0]!.port;
  // auto TLS replaces the client TLS settings (etcd 3.4): no client certificate is asked for, the certificate is etcd's
  const probe = await tlsProbe(httpPort, {});
  assert.equal(probe.outcome, 'self-signed certificate');
  const health = await runCurl(['-k', `https://127.0.0.1:${httpPort}/health`]);
  assert.equal(health.code, 0, health.stderr);
  assert.equal(JSON.parse(health.stdout).health, 'true');
  const dashboard = await runCurl(['-k', '-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${httpPort}/`]);
  assert.equal(dashboard.stdout, '200');
  // the HTTP listener serves HTTP only; the client URL (http://) serves the binary protocol in plaintext
  const binaryOnHttp = new Client({ endpoints: [`https://127.0.0.1:${httpPort}`], tls: { insecureSkipVerify: true } });
  t.after(() => binaryOnHttp.destroy());
  await assert.rejects(binaryOnHttp.range({ key: Buffer.from('auto') }));
  const c = b.client();
  await c.put({ key: Buffer.from('auto'), value: Buffer.from('tls') });
  assert.equal((await c.range({ key: Buffer.from('auto') })).kvs.length, 1);
});

test('a certificate rotated on disk is served to new connections without a restart; connections already open go on', { timeout: 30_000 }, async (t) => {
  const before = await tlsProbe(clientPort, { ...alice, handshakeOnly: true });
  assert.equal(before.serverCommonName, 'etcd-server');
  const open = tlsClient(`127.0.0.1:${binaryPort}`);
  t.after(() => open.destroy());
  await open.put({ key: Buffer.from('rotation'), value: Buffer.from('before') });
  // replace the files as a rotation does: new file, then rename over the old one
  for (const [from, to] of [[certs.rotatedKey, 'server.key'], [certs.rotatedCert, 'server.crt']] as const) {
    fs.copyFileSync(from, path.join(certDir, `${to}.new`));
    fs.renameSync(path.join(certDir, `${to}.new`), path.join(certDir, to));
  }
  const deadline = Date.now() + 15_000;
  let served: string | undefined;
  for (const port of [clientPort, binaryPort]) {
    do {
      served = (await tlsProbe(port, { ...alice, handshakeOnly: true })).serverCommonName;
      if (served !== 'etcd-server-rotated') await new Promise((r) => setTimeout(r, 100));
    } while (served !== 'etcd-server-rotated' && Date.now() < deadline);
    assert.equal(served, 'etcd-server-rotated', `port ${port} serves the rotated certificate`);
  }
  await open.put({ key: Buffer.from('rotation'), value: Buffer.from('after') });
  const fresh = tlsClient(`127.0.0.1:${binaryPort}`);
  t.after(() => fresh.destroy());
  assert.equal(Buffer.from((await fresh.range({ key: Buffer.from('rotation') })).kvs[0]!.value).toString(), 'after');
});
