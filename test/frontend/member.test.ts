// A member's client URL is one port for everything, as etcd's 2379: HTTP (/health, the JSON gateway, WebSocket
// streams), the binary protocol (etcd-ts's client) and HTTP/2 for the gRPC front end (a stand-in here); closing the
// member closes all of it; --listen-client-http-urls moves HTTP to its own listener, as in etcd 3.5.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { ConfigError, parseFlags } from '../../src/config/index.js';
import { Client } from '../../src/client/index.js';
import { startInProcess } from '../helpers/member.js';
import { closed, connected, exchange, http2Get, http2StandIn, readUntil } from '../helpers/client-port.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('the client URL serves /health, the JSON gateway, a WebSocket watch, the binary client and HTTP/2, on one port', { timeout: 60_000 }, async (t) => {
  const standIn = http2StandIn();
  const m = await startInProcess([], undefined, { frontEnds: { grpc: () => standIn } });
  t.after(() => m.close());
  const port = m.member.clientAddresses[0]!.port;
  assert.deepEqual(m.member.httpAddresses, m.member.clientAddresses, 'HTTP is served on the client URLs');
  assert.notEqual(port, m.member.binaryAddresses[0]!.port);

  const health = await fetch(`http://127.0.0.1:${port}/health`);
  assert.deepEqual(await health.json(), { health: 'true', reason: '' });

  const ws = new WebSocket(`ws://127.0.0.1:${port}/v3/watch`);
  t.after(() => ws.terminate());
  const messages: { result?: { created?: boolean; events?: { kv: { key: string; value: string } }[] } }[] = [];
  ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as (typeof messages)[number]));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ create_request: { key: b64('mux/'), range_end: b64('mux0') } }));
  const until = async (n: number): Promise<void> => {
    while (messages.length < n) await new Promise((r) => setTimeout(r, 10));
  };
  await until(1);
  assert.equal(messages[0]!.result?.created, true);

  // the binary client, on the client URL
  const client = new Client({ endpoints: [`http://127.0.0.1:${port}`] });
  t.after(() => client.destroy());
  await client.put({ key: Buffer.from('mux/a'), value: Buffer.from('binary') });
  const range = await client.range({ key: Buffer.from('mux/a') });
  assert.equal(Buffer.from(range.kvs![0]!.value!).toString(), 'binary');
  // the JSON gateway, on the same port
  const put = await fetch(`http://127.0.0.1:${port}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64('mux/b'), value: b64('json') }) });
  assert.equal(put.status, 200);

  await until(3);
  const events = messages.slice(1).flatMap((msg) => msg.result?.events ?? []);
  assert.deepEqual(events.map((e) => [Buffer.from(e.kv.key, 'base64').toString(), Buffer.from(e.kv.value, 'base64').toString()]), [['mux/a', 'binary'], ['mux/b', 'json']]);

  assert.equal(await http2Get(port, '/etcdserverpb.KV/Range'), 'stand-in /etcdserverpb.KV/Range');
  assert.equal(standIn.connections, 1);
});

test("closing the member closes the client port, uWS's private listener and every connection on them", { timeout: 60_000 }, async () => {
  const m = await startInProcess();
  const port = m.member.clientAddresses[0]!.port;
  const privateAddress = m.member.httpPrivateAddress;
  assert.ok(privateAddress !== null && 'path' in privateAddress, 'uWS listens on a unix socket');
  assert.ok(fs.existsSync(privateAddress.path));
  assert.equal((fs.statSync(path.dirname(privateAddress.path)).mode & 0o777).toString(8), '700', 'only this user may reach it');

  const keepAlive = await connected(port);
  keepAlive.write('GET /version HTTP/1.1\r\nHost: x\r\n\r\n');
  await readUntil(keepAlive, (text) => text.endsWith('}'));
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v3/watch`);
  ws.on('error', () => {});
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const wsClosed = new Promise((resolve) => ws.once('close', resolve));
  const client = new Client({ endpoints: [`127.0.0.1:${port}`] });
  await client.put({ key: Buffer.from('k'), value: Buffer.from('v') });
  const silent = await connected(port);

  await m.close();
  await Promise.all([closed(keepAlive), wsClosed, closed(silent)]);
  assert.equal(m.member.clientPort.openSockets, 0);
  await assert.rejects(client.range({ key: Buffer.from('k') }));
  client.destroy();
  await assert.rejects(connected(port), /ECONNREFUSED/);
  assert.equal(fs.existsSync(path.dirname(privateAddress.path)), false, 'the private socket and its directory are gone');
});

test('--listen-client-http-urls: HTTP on its own listener; the client URL serves gRPC and the binary protocol only', { timeout: 60_000 }, async (t) => {
  const standIn = http2StandIn();
  const m = await startInProcess(['--listen-client-http-urls', 'http://127.0.0.1:0'], undefined, { frontEnds: { grpc: () => standIn } });
  t.after(() => m.close());
  const clientPort = m.member.clientAddresses[0]!.port;
  const httpPort = m.member.httpAddresses[0]!.port;
  assert.notEqual(clientPort, httpPort);
  assert.equal(m.member.httpPrivateAddress, null);

  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/health`)).status, 200);
  // etcd 3.5's gRPC-only port: grpc-go's SETTINGS frame, then the close
  const answer = await exchange(clientPort, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\n']);
  assert.equal(answer.toString('hex'), '000006040000000000000500004000');
  assert.equal(await http2Get(clientPort, '/etcdserverpb.KV/Range'), 'stand-in /etcdserverpb.KV/Range');
  const client = new Client({ endpoints: [`127.0.0.1:${clientPort}`] });
  t.after(() => client.destroy());
  await client.put({ key: Buffer.from('split'), value: Buffer.from('yes') });
  assert.equal((await client.range({ key: Buffer.from('split') })).count, 1);
});

test('--listen-client-http-urls and ETCD_LISTEN_CLIENT_HTTP_URLS: unset by default, validated as etcd validates listen URLs', () => {
  assert.deepEqual(parseFlags([], {}).config.listenClientHttpUrls, []);
  assert.deepEqual(parseFlags(['--listen-client-http-urls', ''], {}).config.listenClientHttpUrls, [], 'the empty value is allowed, as etcd allows it');
  assert.deepEqual(parseFlags(['--listen-client-http-urls', 'http://127.0.0.1:2381,http://[::1]:2381'], {}).config.listenClientHttpUrls, ['http://127.0.0.1:2381', 'http://[::1]:2381']);
  assert.deepEqual(parseFlags([], { ETCD_LISTEN_CLIENT_HTTP_URLS: 'http://localhost:2381' }).config.listenClientHttpUrls, ['http://localhost:2381']);
  assert.deepEqual(parseFlags(['--listen-client-http-urls=http://127.0.0.1:1'], { ETCD_LISTEN_CLIENT_HTTP_URLS: 'http://127.0.0.1:2' }).config.listenClientHttpUrls, ['http://127.0.0.1:1']);
  const refused = (argv: string[]): ConfigError => {
    try {
      parseFlags(argv, {});
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err;
    }
    assert.fail(`${argv.join(' ')} was accepted`);
  };
  const hostName = refused(['--listen-client-http-urls', 'http://example.com:2381']);
  assert.equal(hostName.message, 'expected IP in URL for binding (http://example.com:2381)');
  assert.equal(hostName.exitCode, 1);
  const noPort = refused(['--listen-client-http-urls', 'http://127.0.0.1']);
  assert.equal(noPort.message, 'invalid value "http://127.0.0.1" for flag -listen-client-http-urls: URL address does not have the form "host:port": http://127.0.0.1');
  assert.equal(noPort.exitCode, 2);
  assert.match(refused(['--listen-client-http-urls', 'ftp://127.0.0.1:1']).message, /URL scheme must be http or https: ftp:\/\/127\.0\.0\.1:1$/);
});
