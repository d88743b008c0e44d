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
import { nameOfMessage } from '../../src/errors/index.js';
import { outcomeText, startPair, type Outcome, type Side } from '../helpers/auth-matrix.js';
import {
  IDENTITIES,
  MATRIX_CASES,
  SERVER_FLAGS,
  cellKey,
  runMatrix,
  setUpSide,
  tableText,
  waitExpired,
  type Identity,
  type MatrixCase,
  type MatrixTable,
} from '../helpers/auth-matrix-cases.js';

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
      const ok = later === undefined ? asEtcd : later.required ? asLater : asEtcd || asLater;
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
