// Fuzzing the JSON gateway and its WebSockets: a few thousand random and mutated JSON bodies over every /v3/ path
// (random shapes built from the real field names, then byte flips, cuts and insertions), and malformed WebSocket
// messages in text and msgpack. The member must answer each HTTP request with a well-formed status, never crash,
// and still serve a put and a range afterwards. Seeded: SEED=n replays a run.
// Cluster reconfiguration paths are left out: a random member/add would really add a member and cost the quorum.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { Packr } from 'msgpackr';
import { ROUTES } from '../../src/http/gateway/routes.js';
import * as S from '../../src/proto/schema.js';
import { startInProcess, type InProcessMember } from '../helpers/member.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';
import { b64, request } from '../helpers/http-gateway.js';

const SEED = seedFromEnv();
const BODIES = 2500;
const WS_MESSAGES = 400;
const PARALLEL = 8;
const EXCLUDED = new Set(['/v3/cluster/member/add', '/v3/cluster/member/remove', '/v3/cluster/member/update', '/v3/cluster/member/promote', '/v3/maintenance/transfer-leadership']);

let member: InProcessMember;
let port: number;

before(async () => {
  member = await startInProcess(['--max-request-bytes', '50000']);
  port = member.member.httpAddresses[0]!.port;
});
after(async () => {
  await member.close();
});

const names = new Set<string>();
for (const desc of Object.values(S)) {
  if (typeof desc === 'object' && desc !== null && 'fields' in desc) {
    for (const f of (desc as S.MessageDesc).fields) {
      names.add(f.name);
      names.add(f.camel);
    }
  }
}
const NAMES = [...names, 'bogus', '', 'KEY', '__proto__', 'constructor'];
const ENUM_NAMES = ['NONE', 'ASCEND', 'DESCEND', 'KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE', 'EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL', 'NOPUT', 'NODELETE', 'GET', 'ACTIVATE', 'NOSPACE', 'READWRITE'];

function randomScalar(rng: Rng): unknown {
  switch (rng.int(12)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return rng.int(1000) - 500;
    case 3: return rng.pick(['9223372036854775807', '-9223372036854775808', '18446744073709551616', '1e3', '0x10', '-0', '', ' 7', '7 ']);
    case 4: return rng.pick([1.5, -1e300, 2 ** 63, 1e21, Number.MAX_SAFE_INTEGER]);
    case 5: return rng.pick(ENUM_NAMES);
    case 6: return rng.bytes(rng.int(12)).toString('base64');
    case 7: return rng.bytes(rng.int(12)).toString('latin1');
    case 8: return String(rng.int(100));
    case 9: return 'AA==';
    case 10: return b64('fuzz/' + rng.int(50));
    default: return rng.bytes(rng.int(6)).toString('base64url');
  }
}

function randomValue(rng: Rng, depth: number): unknown {
  if (depth > 4 || rng.chance(0.45)) return randomScalar(rng);
  if (rng.chance(0.25)) return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
  const o: Record<string, unknown> = {};
  for (let n = rng.int(5); n > 0; n--) o[rng.pick(NAMES)] = randomValue(rng, depth + 1);
  return o;
}

function mutate(rng: Rng, text: string): string {
  let s = text;
  for (let n = rng.int(4); n > 0; n--) {
    const at = rng.int(s.length + 1);
    switch (rng.int(6)) {
      case 0: s = s.slice(0, at); break;
      case 1: s = s.slice(0, at) + s.slice(at + 1 + rng.int(4)); break;
      case 2: s = s.slice(0, at) + rng.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '\\u', 'null', '-', '.', 'e', '\n', '\u0000', '\u00ff', '\ud800']) + s.slice(at); break;
      case 3: s = s.slice(0, at) + rng.bytes(1 + rng.int(3)).toString('latin1') + s.slice(at); break;
      case 4: s = s + s; break;
      default: s = '[' + s + ']';
    }
  }
  return s;
}

/** One request with a short deadline (streams and lock waits do not end by themselves); resolves with the status. */
function fire(path: string, body: Buffer | string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, timeout: 1500 }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
      res.on('aborted', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

test(`random and mutated JSON bodies on every path never hurt the member (SEED=${SEED})`, async () => {
  const rng = new Rng(SEED);
  const paths = [...ROUTES.keys()].filter((p) => !EXCLUDED.has(p)).concat(['/v3/nope', '/v3beta/kv/range', '/v3/watch']);
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < BODIES) {
      next++;
      const path = rng.pick(paths);
      let body = JSON.stringify(randomValue(rng, 0)) ?? '';
      if (rng.chance(0.6)) body = mutate(rng, body);
      const status = await fire(path, Buffer.from(body, 'latin1'));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      assert.ok(status === -1 || (status >= 200 && status < 600), `SEED=${SEED}: ${path} ${body} gave ${status}`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  assert.ok((statuses.get(400) ?? 0) > 0 && (statuses.get(200) ?? 0) > 0, `SEED=${SEED}: statuses ${JSON.stringify([...statuses])}`);
  assert.equal(member.member.server.failure, null);
  const put = await request(`http://127.0.0.1:${port}`, '/v3/kv/put', JSON.stringify({ key: b64('after-fuzz'), value: b64('ok') }));
  assert.equal(put.status, 200, `SEED=${SEED}: ${put.body}`);
  const got = await request(`http://127.0.0.1:${port}`, '/v3/kv/range', JSON.stringify({ key: b64('after-fuzz') }));
  assert.equal(JSON.parse(got.body).kvs[0].value, b64('ok'));
});

test(`malformed WebSocket messages never hurt the member (SEED=${SEED})`, async () => {
  const rng = new Rng(SEED ^ 0x5a5a5a5a);
  const packr = new Packr({ useRecords: false });
  const streamPaths = ['/v3/watch', '/v3/lease/keepalive', '/v3/election/observe'];
  let sent = 0;
  while (sent < WS_MESSAGES) {
    const msgpack = rng.chance(0.5);
    const ws = new WebSocket(`ws://127.0.0.1:${port}${rng.pick(streamPaths)}`, msgpack ? ['msgpack'] : []);
    ws.on('error', () => {});
    ws.on('message', () => {});
    const opened = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('error', () => resolve(false));
    });
    assert.ok(opened, `SEED=${SEED}: cannot open a WebSocket`);
    for (let n = 1 + rng.int(15); n > 0 && ws.readyState === WebSocket.OPEN; n--, sent++) {
      const value = randomValue(rng, 0);
      if (msgpack) {
        ws.send(rng.chance(0.7) ? packr.pack(value) : rng.bytes(rng.int(20)));
      } else {
        const text = JSON.stringify(value) ?? 'null';
        ws.send(rng.chance(0.5) ? mutate(rng, text) : text);
      }
    }
    await new Promise((r) => setTimeout(r, 5));
    ws.terminate();
  }
  assert.equal(member.member.server.failure, null);
  const put = await request(`http://127.0.0.1:${port}`, '/v3/kv/put', JSON.stringify({ key: b64('after-ws-fuzz'), value: b64('ok') }));
  assert.equal(put.status, 200, `SEED=${SEED}: ${put.body}`);
});
