// src/tls on its own: cipher suites by Go's names, the TLS flags and their ETCD_* forms, CRLs, auto TLS's
// certificate, Go's hostname and SAN checks, and certificate files that follow rotation on disk.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { ConfigError, parseFlags } from '../../src/config/index.js';
import {
  CertificateFiles,
  certificateSerial,
  checkCertSan,
  revokedSerials,
  selectCipherSuites,
  selfCert,
  TlsFileError,
  TlsServer,
  verifyHostname,
  type TlsInfo,
} from '../../src/tls/index.js';
import { tempDir } from '../helpers/member.js';
import { testCerts } from '../helpers/tls-certs.js';
import { TlsLog, tlsProbe } from '../helpers/tls.js';

const certs = testCerts();

function info(overrides: Partial<TlsInfo>): TlsInfo {
  return {
    certFile: '',
    keyFile: '',
    trustedCaFile: '',
    clientCertAuth: false,
    crlFile: '',
    allowedCn: '',
    allowedHostname: '',
    skipClientSanVerify: false,
    selfCert: false,
    cipherSuites: [],
    ciphers: selectCipherSuites([]).ciphers,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ...overrides,
  };
}

/** One handshake against a server using `context`: the CN of the certificate it served, or the client's error. */
async function servedCommonName(context: tls.SecureContext, clientOptions: tls.ConnectionOptions = {}): Promise<string> {
  const server = net.createServer((raw) => {
    const s = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    s.on('error', () => {});
    s.on('secure', () => s.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await new Promise<string>((resolve) => {
      const c = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', ca: fs.readFileSync(certs.ca), ...clientOptions });
      c.once('secureConnect', () => {
        resolve(c.getPeerCertificate().subject.CN as string);
        c.destroy();
      });
      c.once('error', (err) => resolve(`error: ${err.message}`));
    });
  } finally {
    server.close();
  }
}

test('--cipher-suites: Go names map to OpenSSL suites for TLS 1.2, TLS 1.3 stays whole, an unknown name is refused with etcd\'s message', async () => {
  assert.throws(() => selectCipherSuites(['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'FOO']), { message: 'unexpected TLS cipher suite "FOO"' });
  const one = selectCipherSuites(['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256']);
  assert.ok(one.ciphers.split(':').includes('ECDHE-RSA-AES128-GCM-SHA256'));
  assert.ok(!one.ciphers.includes('ECDHE-RSA-AES256-GCM-SHA384'));
  assert.ok(one.ciphers.includes('TLS_AES_128_GCM_SHA256'), 'TLS 1.3 suites are not configurable in Go: all stay');
  assert.ok(selectCipherSuites(['TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305']).ciphers.includes('ECDHE-RSA-CHACHA20-POLY1305'), "etcd's alias");
  assert.deepEqual(selectCipherSuites(['TLS_RSA_WITH_RC4_128_SHA']).unavailable, ['TLS_RSA_WITH_RC4_128_SHA']);
  // the selection decides a TLS 1.2 handshake: a client offering only another suite gets none
  const files = new CertificateFiles(info({ certFile: certs.serverCert, keyFile: certs.serverKey, ciphers: one.ciphers }));
  assert.equal(await servedCommonName(files.current(), { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }), 'etcd-server');
  assert.match(await servedCommonName(files.current(), { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }), /^error: .*handshake failure/);
  assert.equal(await servedCommonName(files.current(), { minVersion: 'TLSv1.3' }), 'etcd-server');
});

test('TLS flags: etcd\'s names and defaults, each also from ETCD_*; versions and cipher suites checked as etcd 3.4.25 checks them', () => {
  const { config } = parseFlags(['--cert-file', 'c.crt', '--peer-cert-allowed-cn', 'm1', '--cipher-suites', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'], {
    ETCD_KEY_FILE: 'c.key',
    ETCD_CLIENT_CERT_AUTH: 'true',
    ETCD_TRUSTED_CA_FILE: 'ca.crt',
    ETCD_CLIENT_CRL_FILE: 'c.crl',
    ETCD_CLIENT_CERT_ALLOWED_HOSTNAME: 'client.example',
    ETCD_AUTO_TLS: 'true',
    ETCD_PEER_CERT_FILE: 'p.crt',
    ETCD_PEER_KEY_FILE: 'p.key',
    ETCD_PEER_CLIENT_CERT_AUTH: 'true',
    ETCD_PEER_TRUSTED_CA_FILE: 'pca.crt',
    ETCD_PEER_AUTO_TLS: 'true',
    ETCD_PEER_CRL_FILE: 'p.crl',
    ETCD_PEER_CERT_ALLOWED_HOSTNAME: 'peer.example',
    ETCD_EXPERIMENTAL_PEER_SKIP_CLIENT_SAN_VERIFICATION: 'true',
    ETCD_TLS_MAX_VERSION: 'TLS1.3',
  });
  assert.deepEqual(config.clientTls, {
    certFile: 'c.crt', keyFile: 'c.key', trustedCaFile: 'ca.crt', clientCertAuth: true, crlFile: 'c.crl', allowedCn: '', allowedHostname: 'client.example', skipClientSanVerify: false, autoTls: true,
  });
  assert.deepEqual(config.peerTls, {
    certFile: 'p.crt', keyFile: 'p.key', trustedCaFile: 'pca.crt', clientCertAuth: true, crlFile: 'p.crl', allowedCn: 'm1', allowedHostname: 'peer.example', skipClientSanVerify: true, autoTls: true,
  });
  assert.deepEqual(config.cipherSuites, ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384']);
  assert.equal(config.tlsMinVersion, 'TLS1.2');
  assert.equal(config.tlsMaxVersion, 'TLS1.3');
  const refused = (args: string[]): string => {
    try {
      parseFlags(args, {});
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    return 'accepted';
  };
  assert.equal(refused(['--tls-min-version', 'TLS1.1']), 'unexpected TLS version "TLS1.1" (must be one of: TLS1.2, TLS1.3)');
  assert.equal(refused(['--tls-min-version', 'TLS1.3', '--tls-max-version', 'TLS1.2']), 'min version (TLS1.3) is greater than max version (TLS1.2)');
  assert.equal(refused(['--tls-min-version', 'TLS1.3', '--cipher-suites', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256']), 'cipher suites cannot be configured when only TLS1.3 is enabled');
  assert.equal(refused(['--tls-min-version', 'TLS1.3']), 'accepted');
});

test('CRL: the revoked serials of a PEM or DER CRL, in the hex etcd prints; a certificate\'s serial the same way', () => {
  assert.deepEqual([...revokedSerials(fs.readFileSync(certs.crl))], [certs.revokedSerial]);
  const der = execFileSync('openssl', ['crl', '-in', certs.crl, '-outform', 'DER']);
  assert.deepEqual([...revokedSerials(der)], [certs.revokedSerial]);
  const bob = new crypto.X509Certificate(fs.readFileSync(certs.revokedCert));
  assert.equal(Buffer.from(certificateSerial(bob.raw)).toString('hex'), certs.revokedSerial);
  assert.throws(() => revokedSerials(Buffer.from('not a crl')), /^Error: x509: malformed crl/);
});

test('auto TLS: a self-signed P-521 certificate for the listen hosts (O=etcd, serverAuth, one year), key mode 0600, reused on the next start', async () => {
  const dir = path.join(tempDir(), 'fixtures', 'client');
  const files = selfCert(dir, ['127.0.0.1:2379', 'localhost:2379', '[::1]:2379']);
  assert.deepEqual(files, { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') });
  const pemText = fs.readFileSync(files.certFile, 'utf8');
  const cert = new crypto.X509Certificate(pemText);
  assert.equal(cert.subject, 'O=etcd');
  assert.equal(cert.issuer, 'O=etcd');
  assert.equal(cert.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(cert.ca, false);
  assert.ok(cert.verify(cert.publicKey), 'self-signed');
  assert.equal((cert.publicKey.asymmetricKeyDetails as { namedCurve?: string }).namedCurve, 'secp521r1');
  const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
  assert.equal(Math.round(days), 365);
  assert.equal(fs.statSync(files.keyFile).mode & 0o777, 0o600);
  assert.match(fs.readFileSync(files.keyFile, 'utf8'), /^-----BEGIN EC PRIVATE KEY-----/);
  // openssl reads it as etcd's: critical key usage and basic constraints
  const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', files.certFile]).toString();
  assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
  assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA512/);
  // usable by Node's TLS, and kept on the next start
  const served = await servedCommonName(tls.createSecureContext({ cert: pemText, key: fs.readFileSync(files.keyFile) }), { rejectUnauthorized: false });
  assert.equal(served, undefined);
  selfCert(dir, ['10.0.0.1:2379']);
  assert.equal(fs.readFileSync(files.certFile, 'utf8'), pemText);
});

test("Go's hostname check and etcd's peer SAN check, with Go's messages", async () => {
  const server = new crypto.X509Certificate(fs.readFileSync(certs.serverCert));
  const intruder = new crypto.X509Certificate(fs.readFileSync(certs.intruderCert));
  const client = new crypto.X509Certificate(fs.readFileSync(certs.clientCert));
  assert.equal(verifyHostname(server, '127.0.0.1'), null);
  assert.equal(verifyHostname(server, 'LOCALHOST'), null);
  assert.equal(verifyHostname(server, '::ffff:127.0.0.1'), null);
  assert.equal(verifyHostname(server, '10.0.0.1'), 'x509: certificate is valid for 127.0.0.1, not 10.0.0.1');
  assert.equal(verifyHostname(server, 'example.com'), 'x509: certificate is valid for localhost, not example.com');
  assert.equal(verifyHostname(client, '127.0.0.1'), "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs");
  assert.equal(verifyHostname(client, 'example.com'), 'x509: certificate is not valid for any names, but wanted to match example.com');
  assert.equal(await checkCertSan(intruder, '127.0.0.1'), null);
  assert.equal(await checkCertSan(intruder, '10.1.2.3'), 'x509: certificate is valid for 127.0.0.1, not 10.1.2.3');
  assert.equal(await checkCertSan(client, '10.1.2.3'), null, 'a certificate without SANs passes, as in etcd');
});

test('certificate files: a rotation on disk is served from the next check on; files that do not load fail handshakes until fixed', async () => {
  const dir = tempDir();
  const certFile = path.join(dir, 'server.crt');
  const keyFile = path.join(dir, 'server.key');
  fs.copyFileSync(certs.serverCert, certFile);
  fs.copyFileSync(certs.serverKey, keyFile);
  let now = 0;
  const files = new CertificateFiles(info({ certFile, keyFile }), () => now);
  const first = files.current();
  assert.equal(await servedCommonName(first), 'etcd-server');
  fs.copyFileSync(certs.rotatedCert, certFile);
  fs.copyFileSync(certs.rotatedKey, keyFile);
  assert.equal(files.current(), first, 'files are looked at once per check interval');
  now += 1000;
  const second = files.current();
  assert.notEqual(second, first);
  assert.equal(await servedCommonName(second), 'etcd-server-rotated');
  now += 1000;
  assert.equal(files.current(), second, 'unchanged files are not reloaded');
  // half a rotation: the key does not match the certificate, then the key is not PEM: refused until fixed
  fs.copyFileSync(certs.serverCert, certFile);
  now += 1000;
  assert.throws(() => files.current(), { message: 'tls: private key does not match public key' });
  fs.writeFileSync(keyFile, 'garbage');
  assert.throws(() => files.current(), (err: unknown) => err instanceof TlsFileError && err.message === 'tls: failed to find any PEM data in key input');
  fs.copyFileSync(certs.serverKey, keyFile);
  assert.equal(await servedCommonName(files.current()), 'etcd-server', 'fixed files are picked up at the next handshake');
  // what etcd refuses when it first reads the files
  assert.throws(() => new CertificateFiles(info({ certFile })), { message: `KeyFile and CertFile must both be present[key: , cert: ${certFile}]` });
  assert.throws(() => new CertificateFiles(info({ certFile, keyFile: path.join(dir, 'nosuch.key') })), { message: `open ${path.join(dir, 'nosuch.key')}: no such file or directory` });
  assert.throws(() => new CertificateFiles(info({ certFile, keyFile, allowedCn: 'a', allowedHostname: 'b' })), { message: 'AllowedCN and AllowedHostname are mutually exclusive (cn="a", hostname="b")' });
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A TlsServer on a plain listener, as the member's listeners use it; resolves with its port and the TLS log. */
async function tlsServer(t: { after(fn: () => unknown): void }, overrides: Partial<TlsInfo>, handshakeTimeoutMs?: number, peer = false): Promise<{ port: number; log: TlsLog }> {
  const i = info({ certFile: certs.serverCert, keyFile: certs.serverKey, ...overrides });
  const server = new TlsServer(i, { files: new CertificateFiles(i), crl: null, alpn: null, peer, ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}) });
  const log = new TlsLog();
  const listener = net.createServer((raw) => server.accept(raw, (s) => s.end('ok')));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    log.close();
    listener.close();
  });
  return { port: (listener.address() as net.AddressInfo).port, log };
}

test('--client-cert-allowed-hostname: a client certificate that does not name it is refused after the handshake', async (t) => {
  const { port, log } = await tlsServer(t, { trustedCaFile: certs.ca, clientCertAuth: true, allowedHostname: 'localhost' });
  // the server certificate names localhost and has clientAuth: it may connect; alice's names nothing
  assert.equal((await tlsProbe(port, { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey })).outcome, 'data');
  const alice = await tlsProbe(port, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
  assert.notEqual(alice.outcome, 'data');
  const line = await log.waitFor((m) => m.fields['remote-addr'] === `127.0.0.1:${alice.localPort}`);
  assert.equal(line.fields.error, 'client certificate authentication failed');
});

test('--tls-min-version TLS1.3 refuses a TLS 1.2 client; a handshake that never comes is given up after its deadline', async (t) => {
  const { port, log } = await tlsServer(t, { minVersion: 'TLSv1.3' }, 300);
  assert.equal((await tlsProbe(port, { ca: certs.ca })).outcome, 'data');
  const old = await tlsProbe(port, { ca: certs.ca, maxVersion: 'TLSv1.2' });
  assert.equal(old.handshake, false);
  const versionLine = await log.waitFor((m) => m.fields['remote-addr'] === `127.0.0.1:${old.localPort}`);
  assert.equal(versionLine.fields.error, 'tls: client offered only unsupported versions');
  const silent = await new Promise<number>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      const local = s.localPort!;
      s.on('close', () => resolve(local));
    });
    s.on('error', () => {});
  });
  const timeoutLine = await log.waitFor((m) => m.fields['remote-addr'] === `127.0.0.1:${silent}`);
  assert.equal(timeoutLine.fields.error, 'i/o timeout');
});

test('peer listeners: the client certificate must name the address it connects from, unless --experimental-peer-skip-client-san-verification', async (t) => {
  const peerInfo = { trustedCaFile: certs.ca, clientCertAuth: true };
  const strict = await tlsServer(t, peerInfo, undefined, true);
  const lenient = await tlsServer(t, { ...peerInfo, skipClientSanVerify: true }, undefined, true);
  const elsewhere = { ca: certs.ca, cert: certs.elsewhereCert, key: certs.elsewhereKey };
  assert.equal((await tlsProbe(strict.port, { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey })).outcome, 'data');
  const refused = await tlsProbe(strict.port, elsewhere);
  assert.notEqual(refused.outcome, 'data');
  const line = await strict.log.waitFor((m) => m.fields['remote-addr'] === `127.0.0.1:${refused.localPort}`);
  assert.equal(line.fields.error, 'x509: certificate is valid for 10.9.9.9, not 127.0.0.1');
  assert.deepEqual(line.fields['ip-addresses'], ['10.9.9.9']);
  assert.equal((await tlsProbe(lenient.port, elsewhere)).outcome, 'data');
  // client listeners never check it (etcd's NewTLSListener)
  const client = await tlsServer(t, peerInfo);
  assert.equal((await tlsProbe(client.port, elsewhere)).outcome, 'data');
});
