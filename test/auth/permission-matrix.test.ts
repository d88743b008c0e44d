// Issue 14, "no bypass": etcd's v3 auth enforced alike on every front end, checked against a real etcd 3.4.
//
// One pair of servers for the whole file: a real etcd (side A, the oracle) and etcd-ts (side B), set up alike (users
// root, alice: READ /a/, bob: READWRITE /b/ and WRITE /w, carol: READ [/p/a, /p/m) only, dave: no roles; keys, leases
// with keys attached, two elections), auth enabled, tokens with a 2 s sliding TTL. Every RPC of every service is sent
// with every identity (no token, forged tokens, an expired token, users with and without the permission, root)
// through every front end, and each answer must be etcd's: gRPC and gateway against etcd's gRPC and gateway, the
// binary protocol and WebSocket streams against etcd's gRPC. AUTH_MATRIX_AGAINST=etcd runs side B as a second real
// etcd (gRPC and gateway), where everything must pass: that validates the harness. AUTH_MATRIX_DUMP=file writes the
// table of answers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Client } from '../../src/client/index.js';
import { EtcdError, nameOfMessage } from '../../src/errors/index.js';
import {
  B,
  gatewayWithHeaders,
  grpcWithMetadata,
  invoke,
  openWatch,
  outcomeText,
  plainCall,
  rootCall,
  sleep,
  startPair,
  type FrontEnd,
  type Outcome,
  type Side,
  type WatchTap,
} from '../helpers/auth-matrix.js';
import {
  AUTH_TOKEN_TTL_S,
  IDENTITIES,
  MATRIX_CASES,
  SERVER_FLAGS,
  cellKey,
  runMatrix,
  setUpSide,
  tableText,
  waitExpired,
  watchDigest,
  type Identity,
  type MatrixCase,
  type MatrixTable,
} from '../helpers/auth-matrix-cases.js';
import { NamePool, fuzzInput, randomToken, sendFuzz, type FuzzInput } from '../helpers/auth-fuzz.js';
import { Rng, seedFromEnv } from '../helpers/rng.js';

let pair: Awaited<ReturnType<typeof startPair>> = null;
let sides: [Side, Side] | null = null;
const table: MatrixTable = { cells: new Map(), retried: [] };

before(async () => {
  pair = await startPair(SERVER_FLAGS);
  if (pair === null) return;
  sides = pair.sides;
  await Promise.all(sides.map(setUpSide));
  await Promise.all(sides.map(waitExpired));
});
after(() => pair?.close());

const withoutHttp = (o: Outcome): Outcome => ({ code: o.code, message: o.message });
const sameOutcome = (a: Outcome, b: Outcome, http: boolean): boolean => a.code === b.code && a.message === b.message && (!http || a.http === b.http);

/** What is wrong in one case's row of the table: etcd's key cells, then every side B answer against etcd's. */
function problemsOf(c: MatrixCase, [a, b]: [Side, Side]): string[] {
  const problems: string[] = [];
  const cell = (identity: Identity, side: Side, fe: string): Outcome | undefined => table.cells.get(cellKey(c.name, identity, side.label, fe as never));
  for (const identity of c.identities ?? IDENTITIES) {
    const etcdGrpc = cell(identity, a, 'grpc');
    const etcdGateway = cell(identity, a, 'gateway');
    if (etcdGrpc === undefined) {
      problems.push(`${identity}: no answer from etcd`);
      continue;
    }
    const want = c.expect?.[identity];
    for (const [fe, o] of [['grpc', etcdGrpc], ['gateway', etcdGateway]] as const) {
      if (want !== undefined && o !== undefined && !outcomeText(withoutHttp(o)).startsWith(want)) {
        problems.push(`${identity} via ${fe}: etcd (side A) answered ${outcomeText(o)}, the case expects ${want}`);
      }
    }
    const later = b.kind === 'etcd-ts' ? c.later : undefined;
    for (const fe of b.frontEnds) {
      const got = cell(identity, b, fe);
      if (got === undefined) continue;
      const reference = fe === 'gateway' ? etcdGateway : etcdGrpc;
      if (reference === undefined) continue;
      const asEtcd = sameOutcome(got, reference, fe === 'gateway');
      const asLater = later !== undefined && outcomeText(withoutHttp(got)).startsWith(later.expected(identity));
      const gap = c.gap !== undefined && b.kind === 'etcd-ts' && c.gap.identities.includes(identity) && outcomeText(withoutHttp(got)) === c.gap.answer;
      const ok = gap || (later === undefined ? asEtcd : later.required ? asLater : asEtcd || asLater);
      const named = fe !== 'binary' || got.code === 0 || got.name === (nameOfMessage(got.message) ?? 'EtcdError');
      if (!ok || !named) {
        const laterText = later === undefined ? '' : ` (etcd ${later.release}: ${later.expected(identity)})`;
        problems.push(`${identity} via ${fe}: etcd ${outcomeText(reference)}${laterText}; ${b.kind} ${outcomeText(got)}${named ? '' : ` named ${String(got.name)}`}`);
      }
    }
  }
  return problems;
}

test('permission matrix: every RPC, identity and front end answers as etcd 3.4 does', { timeout: 300_000 }, async (t) => {
  if (sides === null) return t.skip('etcd is not installed');
  const s = sides;
  await runMatrix(s, MATRIX_CASES, table);
  const dump = process.env.AUTH_MATRIX_DUMP;
  if (dump !== undefined && dump !== '') fs.writeFileSync(dump, tableText(table, MATRIX_CASES, s));
  for (const c of MATRIX_CASES) {
    await t.test(c.name, () => assert.deepEqual(problemsOf(c, s), [], `${c.rpc}: answers that differ`));
  }
  // a retry is only for a live token that may have expired under a stalled machine; many of them mean a bug
  assert.ok(table.retried.length <= 20, `calls retried after a live token expired: ${table.retried.join('; ')}`);
  for (const side of s) assert.ok(await side.alive(), `side ${side.label} (${side.kind}) stopped answering`);
});

/** The front end of side A whose answer a side B front end must give (etcd has no binary protocol or WebSocket). */
const oracleFrontEnd = (fe: FrontEnd): FrontEnd => (fe === 'gateway' ? 'gateway' : 'grpc');

test('where a token may travel: gRPC metadata token or authorization, the gateway\'s Authorization or Grpc-Metadata-Token', async (t) => {
  if (sides === null) return t.skip('etcd is not installed');
  const range = { key: B('/a/1') };
  // [label, etcd's answer, the call]
  const carriers: [string, string, (side: Side, alice: string) => Promise<Outcome>][] = [
    ['gRPC metadata authorization', 'OK', (side, alice) => grpcWithMetadata(side, 'Range', range, { authorization: alice })],
    ['gRPC metadata token (forged) and authorization', '16 etcdserver: invalid auth token', (side, alice) => grpcWithMetadata(side, 'Range', range, { token: 'forged', authorization: alice })],
    ['gRPC metadata token and authorization (forged)', 'OK', (side, alice) => grpcWithMetadata(side, 'Range', range, { token: alice, authorization: 'forged' })],
    ['gRPC metadata Token in capitals', 'OK', (side, alice) => grpcWithMetadata(side, 'Range', range, { Token: alice })],
    ['gateway Authorization: Bearer', '16 etcdserver: invalid auth token', (side, alice) => gatewayWithHeaders(side.endpoint, 'Range', range, { authorization: `Bearer ${alice}` })],
    ['gateway Grpc-Metadata-Token', 'OK', (side, alice) => gatewayWithHeaders(side.endpoint, 'Range', range, { 'grpc-metadata-token': alice })],
    ['gateway token header', '3 etcdserver: user name is empty', (side, alice) => gatewayWithHeaders(side.endpoint, 'Range', range, { token: alice })],
  ];
  const problems: string[] = [];
  for (const [label, etcd, send] of carriers) {
    const [want, got] = await Promise.all(sides.map(async (side) => send(side, (await side.token('alice')).token)));
    if (!outcomeText(want!).startsWith(etcd)) problems.push(`${label}: etcd (side A) answered ${outcomeText(want!)}, expected ${etcd}`);
    if (want!.code !== got!.code || want!.message !== got!.message || want!.http !== got!.http) problems.push(`${label}: etcd ${outcomeText(want!)}; ${sides[1].kind} ${outcomeText(got!)}`);
  }
  assert.deepEqual(problems, []);
});

test('a simple token naming a raft index not applied yet: the request waits for that index, then the token is refused', async (t) => {
  if (sides === null) return t.skip('etcd is not installed');
  const watch = { create_request: { key: B('/a/'), range_end: B('/a0') } };
  const perSide = await Promise.all(
    sides.map(async (side) => {
      const applied = Number((await plainCall(side, 'Status', {}))['raftAppliedIndex']);
      const target = applied + 40;
      const token = `abcdefghijklmnop.${target}`;
      const sends: [string, FrontEnd, Promise<Outcome>][] = [];
      const settled = new Set<string>();
      const send = (label: string, fe: FrontEnd, p: Promise<Outcome>): void => {
        sends.push([label, fe, p.finally(() => settled.add(label))]);
      };
      for (const fe of side.frontEnds) {
        if (fe !== 'websocket') send(`Range via ${fe}`, fe, invoke(side, fe, 'Range', { key: B('/a/1') }, token));
        if (fe === 'grpc' || fe === 'websocket') send(`Watch via ${fe}`, fe, invoke(side, fe, 'Watch', watch, token, watchDigest));
      }
      // etcd answers none of them before it has applied the token's index (a server that does not wait has by now)
      await sleep(500);
      const early = [...settled];
      while (Number((await plainCall(side, 'Status', {}))['raftAppliedIndex']) <= target) {
        await Promise.all(Array.from({ length: 10 }, () => rootCall(side, 'Put', { key: B('/pad'), value: B('y') })));
      }
      const answers = new Map<string, Outcome>();
      for (const [label, , p] of sends) answers.set(label, await p);
      return { side, early, answers };
    }),
  );
  const [a, b] = perSide as [(typeof perSide)[0], (typeof perSide)[0]];
  assert.deepEqual(a.early, [], 'etcd answered before applying the index');
  assert.equal(outcomeText(a.answers.get('Range via grpc')!), '16 etcdserver: invalid auth token');
  const problems: string[] = [];
  if (b.early.length > 0) problems.push(`${b.side.kind} answered before applying the index: ${b.early.join(', ')}`);
  for (const [label, got] of b.answers) {
    const fe = label.split(' via ')[1] as FrontEnd;
    const want = a.answers.get(`${label.split(' via ')[0]} via ${oracleFrontEnd(fe)}`)!;
    if (got.code !== want.code || got.message !== want.message) problems.push(`${label}: etcd ${outcomeText(want)}; ${b.side.kind} ${outcomeText(got)}`);
  }
  assert.deepEqual(problems, []);
});

test('watch revocation: a watch keeps delivering after its permission, role and user are gone, as etcd 3.4 does', async (t) => {
  if (sides === null) return t.skip('etcd is not installed');
  const taps: WatchTap[] = [];
  t.after(() => taps.forEach((tap) => tap.close()));
  const range = { key: B('/r/'), range_end: B('/r0') };
  for (const side of sides) {
    const { token } = await side.token('erin');
    for (const fe of side.frontEnds) taps.push(await openWatch(side, fe, token, { create_request: range }));
  }
  /** every tap sees it, or the failure names each tap that did not */
  const everyTap = async (pred: (tap: WatchTap) => Promise<unknown>): Promise<void> => {
    const results = await Promise.allSettled(taps.map(pred));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    assert.deepEqual(failed, []);
  };
  const putEverywhere = (key: string): Promise<unknown> => Promise.all(sides!.map((side) => rootCall(side, 'Put', { key: B(key), value: B('x') })));
  const sees = (key: string) => (tap: WatchTap) => tap.waitFor((m) => m.keys.includes(key), `the event of ${key}`);

  await everyTap((tap) => tap.waitFor((m) => m.created && !m.canceled, 'the watch created'));
  await putEverywhere('/r/1');
  await everyTap(sees('/r/1'));

  await Promise.all(sides.map((side) => rootCall(side, 'RoleRevokePermission', { role: 'r-watch', ...range })));
  // a new watch on the same stream is refused now (its cancel reason depends on whether erin's token has expired)
  for (const tap of taps) tap.send({ create_request: { key: B('/r/x') } });
  await everyTap((tap) => tap.waitFor((m) => m.created && m.canceled && m.watchId === '-1', 'the second watch refused'));
  await putEverywhere('/r/2');
  await everyTap(sees('/r/2'));

  await Promise.all(sides.map((side) => rootCall(side, 'UserDelete', { name: 'erin' })));
  await putEverywhere('/r/3');
  await everyTap(sees('/r/3'));
});

test('the binary client logs in with username and password, and again once its token expired, as clientv3 does', async (t) => {
  if (sides === null) return t.skip('etcd is not installed');
  const side = sides[1];
  if (side.kind !== 'etcd-ts') return t.skip('side B is a real etcd: no binary protocol');
  const login = (password: string): Client => new Client({ endpoints: [side.endpoint], username: 'alice', password });
  const alice = login(PASSWORD_OF_ALICE);
  t.after(() => alice.destroy());
  const text = async (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'OK',
      (err: unknown) => (err instanceof EtcdError ? `${err.code} ${err.message}` : String(err)),
    );
  assert.equal(await text(alice.get('/a/1')), 'OK');
  assert.equal(await text(alice.get('/b/1')), '7 etcdserver: permission denied');
  const wrong = login('wrong');
  t.after(() => wrong.destroy());
  assert.equal(await text(wrong.get('/a/1')), '3 etcdserver: authentication failed, invalid user ID or password');
  // idle for longer than the token's TTL and the server's one-second sweep: clientv3 logs in again when refused
  await sleep(AUTH_TOKEN_TTL_S * 1000 + 1500);
  assert.equal(await text(alice.get('/a/1')), 'OK');
});
const PASSWORD_OF_ALICE = 'alicepw';

/** The role, key and range_end of a RoleGrantPermission or RoleRevokePermission input. */
function grantKey(input: FuzzInput): string {
  const flat = new Map<string, unknown>();
  const walk = (fs: FuzzInput['fields']): void => fs.forEach((f) => (Array.isArray(f.value) ? walk(f.value) : flat.set(f.name, f.value)));
  walk(input.fields);
  const hex = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('hex') : Buffer.from(String(v ?? '')).toString('hex'));
  return [hex(flat.get('name') ?? flat.get('role')), hex(flat.get('key')), hex(flat.get('range_end'))].join('|');
}

/** A fuzz input as a line of text for a failure message. */
function inputText(input: FuzzInput): string {
  const show = (v: unknown): string => (Buffer.isBuffer(v) ? `<${v.length > 24 ? `${v.subarray(0, 24).toString('hex')}...(${v.length})` : v.toString('hex')}>` : typeof v === 'string' && v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}...(${v.length})` : JSON.stringify(v));
  const fields = (fs: FuzzInput['fields']): string => fs.map((f) => `${f.name}=${Array.isArray(f.value) ? `{${fields(f.value)}}` : show(f.value)}`).join(' ');
  return `${input.rpc} ${fields(input.fields)} as ${input.as === 'root' ? 'root' : `token ${show(input.as.token)}`}`;
}

test('fuzzed auth input (names, passwords, permission types and ranges, tokens) on every front end: etcd\'s answers, members keep serving', { timeout: 240_000 }, async (t) => {
  if (sides === null) return t.skip('etcd is not installed');
  const [a, b] = sides;
  const seed = seedFromEnv();
  const rng = new Rng(seed);
  const pool = new NamePool(rng, 'fz');
  const counts: Partial<Record<FrontEnd, number>> = { grpc: 60, gateway: 40, binary: 40 };
  const inputs: [FrontEnd, FuzzInput][] = [];
  for (const fe of b.frontEnds) for (let i = 0; i < (counts[fe] ?? 0); i++) inputs.push([fe, fuzzInput(rng, pool)]);
  // in the same order on both sides, so that the two auth stores stay alike
  const run = async (side: Side): Promise<Outcome[]> => {
    const out: Outcome[] = [];
    for (const [fe, input] of inputs) out.push(await sendFuzz(side, side === a ? oracleFrontEnd(fe) : fe, input));
    return out;
  };
  const [outA, outB] = await Promise.all([run(a), run(b)]);
  const dump = process.env.AUTH_MATRIX_DUMP;
  if (dump !== undefined && dump !== '') {
    fs.writeFileSync(`${dump}.fuzz`, inputs.map(([fe, input], i) => `#${i} ${fe} ${inputText(input)}\n    A ${outcomeText(outA[i]!)}\n    B ${outcomeText(outB[i]!)}\n`).join(''));
  }
  const problems: string[] = [];
  /** permissions etcd stored and etcd-ts refused as 3.4.25 does: revoking them differs too */
  const refusedGrants = new Set<string>();
  inputs.forEach(([fe, input], i) => {
    const want = outA[i]!;
    const got = outB[i]!;
    const same = got.code === want.code && got.message === want.message && (fe !== 'gateway' || got.http === want.http);
    // etcd 3.4.25 refuses empty and inverted permission ranges (3.4.23 stores them)
    const refusedAsLater = input.invalidPermissionRange === true && b.kind === 'etcd-ts' && want.code === 0 && got.code === 3 && got.message === 'etcdserver: invalid auth management';
    if (refusedAsLater) refusedGrants.add(grantKey(input));
    const revokedRefused = input.rpc === 'RoleRevokePermission' && refusedGrants.has(grantKey(input)) && want.code === 0 && got.message === 'etcdserver: permission is not granted to the role';
    if (!same && !refusedAsLater && !revokedRefused) problems.push(`#${i} via ${fe}: ${inputText(input)}: etcd ${outcomeText(want)}; ${b.kind} ${outcomeText(got)}`);
  });

  // tokens a server might take for no token, or mangle: the same on every run, on every front end
  const crafted = ['', ' ', '\t', '\u00e9\u00ff\u0080', 'a.b.c', '.5', 'x'.repeat(8192), 'abcdefghijklmnop.99999999999999999999'];
  for (const token of crafted) {
    const input: FuzzInput = { rpc: 'Range', fields: [{ no: 1, name: 'key', kind: 'bytes', value: Buffer.from('/a/1') }], as: { token } };
    for (const fe of b.frontEnds) {
      if (fe === 'websocket') continue;
      const [want, got] = await Promise.all([sendFuzz(a, oracleFrontEnd(fe), input), sendFuzz(b, fe, input)]);
      if (got.code !== want.code || got.message !== want.message || (fe === 'gateway' && got.http !== want.http)) {
        problems.push(`Range via ${fe} with token ${JSON.stringify(token.slice(0, 40))}: etcd ${outcomeText(want)}; ${b.kind} ${outcomeText(got)}`);
      }
    }
  }

  // tokens of random bytes on the WebSocket watch, against etcd's gateway watch (the same header, the same answer)
  for (let i = 0; i < 12 + crafted.length && b.frontEnds.includes('websocket'); i++) {
    const token = i < crafted.length ? crafted[i]! : randomToken(rng);
    const watch = { create_request: { key: B('/a/'), range_end: B('/a0') } };
    const [want, got] = await Promise.all([invoke(a, 'gateway', 'Watch', watch, token, watchDigest), invoke(b, 'websocket', 'Watch', watch, token, watchDigest)]);
    if (got.code !== want.code || got.message !== want.message) problems.push(`WebSocket watch with token ${JSON.stringify(token.slice(0, 40))}: etcd ${outcomeText(want)}; ${b.kind} ${outcomeText(got)}`);
  }

  // etcd 3.4.23 dereferences a missing permission and crashes (and again on restart, from its log); 3.4.25 refuses it.
  // The role must exist (the fuzz above may have deleted it): a missing role is `role name not found` first, as 3.4.23
  // answers it (the conformance suite checks that against a real etcd).
  if (b.kind === 'etcd-ts') {
    await sendFuzz(b, 'grpc', { rpc: 'RoleAdd', fields: [{ no: 1, name: 'name', kind: 'string', value: 'victim-role' }], as: 'root' });
    for (const fe of b.frontEnds) {
      if (fe === 'websocket') continue;
      const got = await sendFuzz(b, fe, { rpc: 'RoleGrantPermission', fields: [{ no: 1, name: 'name', kind: 'string', value: 'victim-role' }], as: 'root' });
      if (got.code !== 3 || got.message !== 'etcdserver: permission not given') problems.push(`RoleGrantPermission without a permission via ${fe}: etcd 3.4.25 3 etcdserver: permission not given; ${b.kind} ${outcomeText(got)}`);
    }
  }
  for (const side of sides) assert.ok(await side.alive(), `side ${side.label} (${side.kind}) stopped answering (SEED=${seed})`);
  const alice = await b.token('alice');
  assert.equal(outcomeText(await invoke(b, 'grpc', 'Range', { key: B('/a/1') }, alice.token)), 'OK ok', `alice cannot read after the fuzz (SEED=${seed})`);
  assert.deepEqual(problems, [], `answers that differ from etcd's (SEED=${seed})`);
});

test('root disables auth (tokens are dropped) and anyone enables it again, as etcd does', async (t) => {
  if (sides === null) return t.skip('etcd is not installed');
  const [a, b] = sides;
  const steps: [string, (side: Side) => Promise<Outcome[]>][] = [];
  const everyFrontEnd = (rpc: 'Range' | 'AuthEnable', request: unknown, token: (side: Side) => string | undefined) => (side: Side): Promise<Outcome[]> =>
    Promise.all(b.frontEnds.filter((fe) => fe !== 'websocket').map((fe) => invoke(side, side === a ? oracleFrontEnd(fe) : fe, rpc, request, token(side))));
  const aliceTokens = new Map<Side, string>();
  for (const side of sides) aliceTokens.set(side, (await side.token('alice')).token);
  steps.push(['AuthDisable by root', async (side) => [await invoke(side, 'grpc', 'AuthDisable', {}, (await side.token('root')).token)]]);
  steps.push(['Range without a token', everyFrontEnd('Range', { key: B('/a/1') }, () => undefined)]);
  // etcd 3.4.23 still refuses a token it dropped; 3.4.28 ignores tokens while auth is disabled
  steps.push(['Range with alice\'s dropped token', everyFrontEnd('Range', { key: B('/a/1') }, (side) => aliceTokens.get(side))]);
  steps.push(['AuthEnable without a token', async (side) => [await invoke(side, 'grpc', 'AuthEnable', {}, undefined)]]);
  steps.push(['Range without a token, auth enabled again', everyFrontEnd('Range', { key: B('/a/1') }, () => undefined)]);
  steps.push(['Range with alice\'s dropped token, auth enabled again', everyFrontEnd('Range', { key: B('/a/1') }, (side) => aliceTokens.get(side))]);
  const problems: string[] = [];
  for (const [label, step] of steps) {
    const [want, got] = await Promise.all([step(a), step(b)]);
    const droppedToken = label === 'Range with alice\'s dropped token';
    got.forEach((o, i) => {
      const w = want[i]!;
      const later = droppedToken && b.kind === 'etcd-ts' && o.code === 0;
      if ((o.code !== w.code || o.message !== w.message) && !later) problems.push(`${label} (#${i}): etcd ${outcomeText(w)}; ${b.kind} ${outcomeText(o)}`);
    });
  }
  assert.deepEqual(problems, []);
});
