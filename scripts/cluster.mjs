#!/usr/bin/env node
// `npm run cluster`: a local 3-member etcd-ts cluster on loopback, as etcd's Procfile does (infra1..3).
// Binary client ports 2378/22378/32378, peers 2380/22380/32380, data in ./cluster-data/. Ctrl-C stops all three.
import { spawn } from 'node:child_process';
import path from 'node:path';

const bin = path.resolve('dist/src/cli/etcd-ts.js');
const members = [1, 2, 3].map((i) => ({
  name: `infra${i}`,
  port: i === 1 ? 2378 : i * 10000 + 2378,
  peer: i === 1 ? 2380 : i * 10000 + 2380,
}));
const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
const children = members.map((m) => {
  const args = [
    bin,
    '--name', m.name,
    '--data-dir', path.join('cluster-data', m.name),
    '--listen-client-binary-urls', `http://127.0.0.1:${m.port}`,
    '--listen-client-urls', `http://127.0.0.1:${m.port + 1}`,
    '--advertise-client-urls', `http://127.0.0.1:${m.port + 1}`,
    '--listen-peer-urls', `http://127.0.0.1:${m.peer}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
    '--initial-cluster', initialCluster,
    '--initial-cluster-token', 'etcd-ts-local-cluster',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  child.stderr.on('data', (c) => process.stderr.write(c.toString().split('\n').filter(Boolean).map((l) => `${m.name} | ${l}\n`).join('')));
  return child;
});
console.log(`etcd-ts cluster: endpoints ${members.map((m) => `127.0.0.1:${m.port}`).join(',')}`);
console.log(`try: node dist/src/cli/etcdctl-ts.js --endpoints ${members.map((m) => `127.0.0.1:${m.port}`).join(',')} endpoint status -w table`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const c of children) c.on('exit', (code) => { if (!stopping) { console.error(`a member exited (${code}); stopping the cluster`); stop(); } });
