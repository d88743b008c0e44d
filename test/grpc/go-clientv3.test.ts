// etcd's own Go client (clientv3 3.4, built from Debian's sources) runs one scripted scenario against a real etcd and
// against etcd-ts's client port, and the two outputs must agree step by step: KV with every range option, txns (every
// compare target, both branches, nested), deletes, compaction, leases with keep-alive, a watch that follows ~300
// concurrent writes, member list, status, the error texts, mutex, election and STM. See test/helpers/clientv3check.ts
// for what the comparison normalises and how to run the program by hand.
//
// The first test runs the program against two real etcds: it validates the program and the normalisation (a
// normalisation too weak fails there, one too strong would hide nothing there either, so the normalisation is listed
// and argued in the helper). The second is the comparison with etcd-ts, which needs the gRPC front end on the client
// port (issue 13); until it is merged, that test fails at the program's first step (connect).

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { etcdInstalled, freePort, startRealEtcd } from '../helpers/etcd.js';
import { startChild } from '../helpers/member.js';
import { Client } from '../../src/client/index.js';
import { History, checkWatch } from '../helpers/watch-checker.js';
import {
  MAX_REQUEST_BYTES,
  buildClientv3Check,
  checkRun,
  compareHistories,
  compareRuns,
  goMissing,
  historyFromRun,
  loadWatch,
  report,
  runClientv3Check,
  type Clientv3Run,
} from '../helpers/clientv3check.js';

const skip = goMissing() ?? (etcdInstalled() ? null : 'etcd is not installed (apt-get install etcd-server; .ci/run does)');
const FLAGS = ['--max-request-bytes', String(MAX_REQUEST_BYTES)];

let bin = '';
before(async () => {
  if (skip === null) bin = await buildClientv3Check();
}, { timeout: 300_000 });

/** The program's run against a fresh real etcd. */
async function runAgainstEtcd(label: string): Promise<Clientv3Run> {
  const etcd = await startRealEtcd(FLAGS);
  try {
    return await runClientv3Check(bin, etcd.endpoint, label);
  } finally {
    await etcd.stop();
  }
}

let oracle: Promise<Clientv3Run> | undefined;
/** One run against a real etcd, shared by both tests (either can run alone). */
const oracleRun = (): Promise<Clientv3Run> => (oracle ??= runAgainstEtcd('etcd'));

/** Waits until the member has a leader and serves linearizable reads (the real etcd's start waits for /health). */
async function waitUntilServing(client: Client): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const status = await client.status();
      if (status.leader !== 0n) {
        await client.range({ key: Buffer.from('health') });
        return;
      }
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error('etcd-ts has no leader after 20 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('clientv3 program: two real etcds give the same normalised output, and each run checks out', { skip: skip ?? false, timeout: 240_000 }, async () => {
  const a = await oracleRun();
  const b = await runAgainstEtcd('etcd (second)');
  const problems = [
    ...(await checkRun(a)).map((p) => `${a.label}: ${p}`),
    ...(await checkRun(b)).map((p) => `${b.label}: ${p}`),
    ...compareRuns(a, b),
  ];
  assert.equal(problems.length, 0, problems.length > 0 ? report('the program or its normalisation is not sound', problems, [a, b]) : '');
});

test('clientv3 program: etcd-ts answers etcd\'s Go client as etcd does', { skip: skip ?? false, timeout: 240_000 }, async () => {
  // the client URL is advertised as it is listened on, as the real etcd's is (member list shows it)
  const clientEndpoint = `127.0.0.1:${await freePort()}`;
  const member = await startChild([...FLAGS, '--listen-client-urls', `http://${clientEndpoint}`, '--advertise-client-urls', `http://${clientEndpoint}`]);
  // etcd-ts's own client, on the binary port: for waiting until the member serves, and for reading the history back
  const client = new Client({ endpoints: [member.endpoint], requestTimeoutMs: 10_000 });
  let run: Clientv3Run;
  const problems: string[] = [];
  try {
    await waitUntilServing(client);
    run = await runClientv3Check(bin, clientEndpoint, 'etcd-ts');
    // the main assertion: the same answers as etcd, step by step
    problems.push(...compareRuns(await oracleRun(), run));
    problems.push(...(await checkRun(run)).map((p) => `etcd-ts: ${p}`));
    // the watch once more, against the history read back through etcd-ts's own client on the binary port, which does
    // not depend on the gRPC front end being right about ranges
    const watch = loadWatch(run);
    const fromGo = await historyFromRun(run).catch(() => null);
    if (watch !== null) {
      // read from the revision before the watch's start on: its state is where the watched events begin
      const history = new History();
      history.last = watch.spec.from - 2;
      await history.readTo(client, watch.end);
      problems.push(...checkWatch(history, watch.spec, watch.responses, { through: watch.end }).problems.map((p) => `etcd-ts watch against the binary-protocol history: ${p}`));
      if (fromGo !== null) problems.push(...compareHistories(history, fromGo, watch.spec.from, watch.end).map((p) => `etcd-ts history, binary protocol vs gRPC: ${p}`));
    }
  } finally {
    client.destroy();
    await member.kill();
    fs.rmSync(path.dirname(member.dataDir), { recursive: true, force: true });
  }
  assert.equal(problems.length, 0, problems.length > 0 ? report('etcd-ts differs from etcd for clientv3', problems, [await oracleRun(), run]) : '');
});
