// Peer TLS: three members on https:// peer URLs with --peer-client-cert-auth, a peer CA and --peer-cert-allowed-cn
// elect a leader and replicate; a follower cut off long enough to need a snapshot gets it over a TLS connection;
// connections with a certificate of the wrong CN, or none, are refused with etcd's log line and the cluster goes on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseFlags } from '../../src/config/index.js';
import { startMember, type Member } from '../../src/cli/member.js';
import { Client } from '../../src/client/index.js';
import { MessageType, type Message } from '../../src/raft/index.js';
import { freePort } from '../helpers/etcd.js';
import { until } from '../helpers/in-process-cluster.js';
import { tempDir } from '../helpers/member.js';
import { testCerts } from '../helpers/tls-certs.js';
import { TlsLog, tlsProbe } from '../helpers/tls.js';

const certs = testCerts();

test('3 members on peer TLS with an allowed CN: election, replication, a snapshot over TLS; a wrong-CN peer is refused', { timeout: 90_000 }, async (t) => {
  const log = new TlsLog();
  t.after(() => log.close());
  const root = tempDir('etcd-ts-tls-cluster-');
  const peers = [await freePort(), await freePort(), await freePort()];
  const initialCluster = peers.map((p, i) => `t${i + 1}=https://127.0.0.1:${p}`).join(',');
  const members: Member[] = await Promise.all(
    peers.map(async (peer, i) => {
      const { config } = parseFlags(
        [
          '--name', `t${i + 1}`,
          '--data-dir', path.join(root, `t${i + 1}`),
          '--listen-client-binary-urls', 'http://127.0.0.1:0', '--listen-client-urls', 'http://127.0.0.1:0',
          '--listen-peer-urls', `https://127.0.0.1:${peer}`,
          '--initial-advertise-peer-urls', `https://127.0.0.1:${peer}`,
          '--initial-cluster', initialCluster,
          '--heartbeat-interval', '50', '--election-timeout', '500',
          '--peer-cert-file', certs.serverCert, '--peer-key-file', certs.serverKey,
          '--peer-trusted-ca-file', certs.ca, '--peer-client-cert-auth', '--peer-cert-allowed-cn', 'etcd-server',
          '--peer-crl-file', certs.crl,
          '--snapshot-count', '100',
        ],
        {},
      );
      // a short log behind the snapshot, so that a follower cut off for a few hundred writes needs the snapshot
      return startMember({ ...config, limits: { ...config.limits, logEntriesRetained: 20 } });
    }),
  );
  t.after(async () => {
    await Promise.all(members.map((m) => m.close()));
    fs.rmSync(root, { recursive: true, force: true });
  });
  const clients = members.map((m) => new Client({ endpoints: [`127.0.0.1:${m.binaryAddresses[0]!.port}`] }));
  t.after(() => clients.forEach((c) => c.destroy()));
  await until('a leader', () => members.some((m) => m.server.isLeader), 20_000, 50);
  const leaderIndex = members.findIndex((m) => m.server.isLeader);
  const followerIndex = (leaderIndex + 1) % 3;
  const leader = clients[leaderIndex]!;
  await leader.put({ key: Buffer.from('peer/tls'), value: Buffer.from('replicated') });
  // a linearizable read through each member goes through the leader over TLS
  for (const c of clients) assert.equal(Buffer.from((await c.range({ key: Buffer.from('peer/tls') })).kvs[0]!.value).toString(), 'replicated');

  // peers that are not the cluster's: the wrong CN, and no certificate at all
  const peerPort = peers[leaderIndex]!;
  const from = log.lines.length;
  const intruder = await tlsProbe(peerPort, { ca: certs.ca, cert: certs.intruderCert, key: certs.intruderKey });
  const wrongCn = await log.waitFor((m) => m.msg === 'rejected connection' && m.fields['remote-addr'] === `127.0.0.1:${intruder.localPort}`, from);
  assert.equal(wrongCn.fields.error, 'client certificate authentication failed');
  assert.deepEqual(wrongCn.fields['ip-addresses'], ['127.0.0.1']);
  const anonymous = await tlsProbe(peerPort, { ca: certs.ca });
  const noCert = await log.waitFor((m) => m.msg === 'rejected connection' && m.fields['remote-addr'] === `127.0.0.1:${anonymous.localPort}`, from);
  assert.equal(noCert.fields.error, "tls: client didn't provide a certificate");
  const plain = await tlsProbe(peerPort, { plain: true, send: 'hello' });
  const plainLine = await log.waitFor((m) => m.msg === 'rejected connection' && m.fields['remote-addr'] === `127.0.0.1:${plain.localPort}`, from);
  assert.equal(plainLine.fields.error, 'tls: first record does not look like a TLS handshake');

  // cut a follower off, write past the log the leader keeps, heal: the follower gets the snapshot over TLS
  const follower = members[followerIndex]!;
  let snapshots = 0;
  const transport = follower.server.transport!;
  const deliver = transport.options.deliver.bind(transport.options);
  (transport.options as { deliver: (m: Message) => void }).deliver = (m) => {
    if (m.type === MessageType.Snap) snapshots++;
    deliver(m);
  };
  const others = members.filter((m) => m !== follower).map((m) => m.server.memberId);
  transport.faults.isolate(others);
  for (const m of members) if (m !== follower) m.server.transport!.faults.isolate([follower.server.memberId]);
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < 400; i++) writes.push(leader.put({ key: Buffer.from(`peer/snap/${i}`), value: Buffer.from(String(i)) }));
  await Promise.all(writes);
  for (const m of members) m.server.transport!.faults.clear();
  const followerClient = clients[followerIndex]!;
  await until(
    'the follower caught up',
    () => follower.server.revision >= members[leaderIndex]!.server.revision,
    30_000,
    50,
  );
  assert.ok(snapshots >= 1, 'the follower caught up from a snapshot');
  const r = await followerClient.range({ key: Buffer.from('peer/snap/'), range_end: Buffer.from('peer/snap0'), serializable: true, count_only: true });
  assert.equal(Number(r.count), 400);
  // the cluster still replicates after the refusals and the snapshot
  await clients[followerIndex]!.put({ key: Buffer.from('peer/after'), value: Buffer.from('ok') });
  for (const c of clients) assert.equal(Buffer.from((await c.range({ key: Buffer.from('peer/after') })).kvs[0]!.value).toString(), 'ok');
});
