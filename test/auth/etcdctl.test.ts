// The real etcdctl 3.4 with --user against etcd-ts's gRPC port and against a real etcd 3.4, side by side: the same
// users, roles and permissions set up on both with etcdctl, then the same commands as different users; stdout,
// stderr and the exit code must agree (test/helpers/etcdctl.ts normalises ids). A smoke test of the gRPC front end's
// token carrier and of the refusals etcdctl shows; the full permission matrix is test/auth/permission-matrix*.

import { test } from 'node:test';
import { etcdctlSides } from '../helpers/etcdctl-sides.js';

/** bcrypt at its lowest cost on both sides: the outputs do not depend on it and each --user login is a bcrypt. */
const FLAGS = ['--bcrypt-cost', '4'];

test('etcdctl --user against etcd-ts answers as against etcd: logins, permitted and refused commands, admin calls', { timeout: 120_000 }, async (t) => {
  const s = await etcdctlSides(t, FLAGS);
  if (s === null) return;
  // set up with etcdctl, auth still off
  for (const args of [
    ['user', 'add', 'root:rootpw'],
    ['user', 'add', 'alice:alicepw'],
    ['role', 'add', 'r1'],
    ['role', 'grant-permission', 'r1', 'readwrite', '/a/', '--prefix'],
    ['role', 'grant-permission', 'r1', 'read', '/r'],
    ['user', 'grant-role', 'alice', 'r1'],
    ['auth', 'enable'],
  ]) await s.same(args);
  const root = ['--user', 'root:rootpw'];
  const alice = ['--user', 'alice:alicepw'];
  await s.same([...alice, 'put', '/a/1', 'v1']);
  await s.same([...alice, 'get', '/a/1']);
  await s.same([...alice, 'get', '/a/', '--prefix']);
  await s.same([...alice, 'get', '/a', '--prefix']); // not fully covered: refused, no partial answer
  await s.same([...alice, 'get', '/b']);
  await s.same([...alice, 'put', '/r', 'x']);
  await s.same([...alice, 'put', '/a/1', 'v2', '--prev-kv']);
  await s.same([...alice, 'del', '/a/1', '--prev-kv']);
  await s.same(['get', '/a/1']); // no user: user name is empty
  await s.same(['--user', 'alice:wrong', 'get', '/a/1']); // exit code 2
  await s.same(['--user', 'nobody:x', 'get', '/a/1']);
  await s.same([...alice, 'txn'], {}, { stdin: 'value("/a/1") = "v1"\n\nget /a/1\n\nget /b\n\n' }); // the else branch is checked too
  await s.same([...alice, 'watch', '/b']); // refused at create: "watch was canceled (...)"
  await s.same([...alice, 'user', 'get', 'alice']);
  await s.same([...alice, 'user', 'get', 'root']);
  await s.same([...alice, 'role', 'get', 'r1']);
  await s.same([...alice, 'user', 'list']);
  await s.same([...alice, 'defrag']); // auth: permission denied, code Unknown
  await s.same([...alice, 'member', 'list'], { ids: true });
  await s.same([...alice, 'endpoint', 'status'], { status: true, ids: true });
  await s.same([...alice, 'lock', '/b/lk']);
  await s.same([...root, 'user', 'list']);
  await s.same([...root, 'role', 'get', 'r1']);
  await s.same([...root, 'user', 'delete', 'root']); // protected while auth is on
  await s.same([...root, 'role', 'revoke-permission', 'r1', '/r']);
  await s.same([...alice, 'get', '/r']);
  await s.same([...root, 'auth', 'disable']);
  await s.same(['get', '/r']);
});
