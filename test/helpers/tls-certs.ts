// Test certificates made with openssl, as the reference's etcd 3.4 recipe makes them (RSA 2048, a test CA, a server
// certificate with SAN IP:127.0.0.1 and DNS:localhost and both key usages, client certificates with clientAuth),
// plus what the refusal tests need: a second CA and a client it signed, an expired client, a revoked client with the
// CA's CRL, a peer certificate with the wrong CN, and a second server certificate for rotation. Made once per test
// run: every test file of one `node --test` shares the parent's process ID, and the set is built in a directory of
// its own and renamed into place, so files running side by side never see half a set.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCerts {
  readonly dir: string;
  /** CN etcd-ts-test-ca */
  readonly ca: string;
  /** CN etcd-server, SAN IP:127.0.0.1 DNS:localhost, serverAuth + clientAuth: servers and peers */
  readonly serverCert: string;
  readonly serverKey: string;
  /** the same CA, CN etcd-server-rotated, same SANs: the rotated server certificate */
  readonly rotatedCert: string;
  readonly rotatedKey: string;
  /** CN alice, clientAuth */
  readonly clientCert: string;
  readonly clientKey: string;
  /** the other CA (CN other-ca) and a client it signed (CN mallory) */
  readonly otherCa: string;
  readonly otherClientCert: string;
  readonly otherClientKey: string;
  /** CN expired: valid in January 2020 only */
  readonly expiredCert: string;
  readonly expiredKey: string;
  /** CN bob, revoked in `crl` */
  readonly revokedCert: string;
  readonly revokedKey: string;
  /** the CA's CRL (PEM), listing bob's serial */
  readonly crl: string;
  /** hex serial of bob's certificate, as etcd prints it */
  readonly revokedSerial: string;
  /** CN intruder, SAN IP:127.0.0.1, both usages: a peer certificate with the wrong CN */
  readonly intruderCert: string;
  readonly intruderKey: string;
  /** CN etcd-server, SAN IP:10.9.9.9 only, both usages: a peer certificate for another address */
  readonly elsewhereCert: string;
  readonly elsewhereKey: string;
}

const CA_CONFIG = `[ ca ]
default_ca = test_ca
[ test_ca ]
dir = ./cadb
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = ./ca.crt
private_key = ./ca.key
default_md = sha256
default_crl_days = 3650
policy = any
copy_extensions = none
unique_subject = no
[ any ]
commonName = supplied
[ client_ext ]
extendedKeyUsage = clientAuth
keyUsage = digitalSignature,keyEncipherment
`;

function make(dir: string): void {
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const write = (name: string, text: string): void => fs.writeFileSync(path.join(dir, name), text);
  write('server.ext', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  write('client.ext', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  write('peer.ext', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  write('elsewhere.ext', 'subjectAltName=IP:10.9.9.9\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  const request = (name: string, cn: string): void => run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  const sign = (name: string, ca: string, ext: string): void =>
    run('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '365', '-extfile', ext);
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365', '-subj', '/CN=etcd-ts-test-ca');
  request('server', 'etcd-server');
  sign('server', 'ca', 'server.ext');
  request('rotated', 'etcd-server-rotated');
  sign('rotated', 'ca', 'server.ext');
  request('alice', 'alice');
  sign('alice', 'ca', 'client.ext');
  request('intruder', 'intruder');
  sign('intruder', 'ca', 'peer.ext');
  request('elsewhere', 'etcd-server');
  sign('elsewhere', 'ca', 'elsewhere.ext');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca2.key', '-out', 'ca2.crt', '-days', '365', '-subj', '/CN=other-ca');
  request('mallory', 'mallory');
  sign('mallory', 'ca2', 'client.ext');
  // expired and revoked certificates come from `openssl ca`, which keeps the index a CRL is made from
  fs.mkdirSync(path.join(dir, 'cadb'));
  write('cadb/index.txt', '');
  write('cadb/serial', '1000\n');
  write('cadb/crlnumber', '1000\n');
  write('ca.cnf', CA_CONFIG);
  request('bob', 'bob');
  run('ca', '-batch', '-config', 'ca.cnf', '-extensions', 'client_ext', '-in', 'bob.csr', '-out', 'bob.crt', '-days', '365');
  run('ca', '-batch', '-config', 'ca.cnf', '-revoke', 'bob.crt');
  run('ca', '-batch', '-config', 'ca.cnf', '-gencrl', '-out', 'ca.crl');
  request('expired', 'expired');
  run('ca', '-batch', '-config', 'ca.cnf', '-extensions', 'client_ext', '-in', 'expired.csr', '-out', 'expired.crt', '-startdate', '20200101000000Z', '-enddate', '20200201000000Z');
}

function describe(dir: string): TestCerts {
  const p = (name: string): string => path.join(dir, name);
  return {
    dir,
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    rotatedCert: p('rotated.crt'),
    rotatedKey: p('rotated.key'),
    clientCert: p('alice.crt'),
    clientKey: p('alice.key'),
    otherCa: p('ca2.crt'),
    otherClientCert: p('mallory.crt'),
    otherClientKey: p('mallory.key'),
    expiredCert: p('expired.crt'),
    expiredKey: p('expired.key'),
    revokedCert: p('bob.crt'),
    revokedKey: p('bob.key'),
    crl: p('ca.crl'),
    // `openssl ca` numbers from cadb/serial: bob is the first
    revokedSerial: '1000',
    intruderCert: p('intruder.crt'),
    intruderKey: p('intruder.key'),
    elsewhereCert: p('elsewhere.crt'),
    elsewhereKey: p('elsewhere.key'),
  };
}

let cached: TestCerts | null = null;

/** Bumped whenever make() changes, so that a set made by older code is never taken for a complete one. */
const SET_VERSION = 2;

/** Sets of runs that are over (their test runner is gone) are removed by the next run. */
function removeStaleSets(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    const m = /^etcd-ts-test-certs-v\d+-(\d+)$/.exec(name);
    if (m === null || Number(m[1]) === process.ppid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
    }
  }
}

/** The certificate set of this test run (made by the first file that asks). */
export function testCerts(): TestCerts {
  if (cached !== null) return cached;
  const dir = path.join(os.tmpdir(), `etcd-ts-test-certs-v${SET_VERSION}-${process.ppid}`);
  if (!fs.existsSync(dir)) {
    removeStaleSets();
    const building = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-ts-test-certs-building-'));
    make(building);
    try {
      fs.renameSync(building, dir);
    } catch {
      // another file of this run got there first: its set is as good
      fs.rmSync(building, { recursive: true, force: true });
    }
  }
  cached = describe(dir);
  return cached;
}

/** PEM contents, for the TypeScript client's and ws's options. */
export function pem(file: string): Buffer {
  return fs.readFileSync(file);
}
