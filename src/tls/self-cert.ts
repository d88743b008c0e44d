// --auto-tls / --peer-auto-tls: etcd's transport.SelfCert. A self-signed certificate for the listen hosts is written
// to <data-dir>/fixtures/client (or fixtures/peer) once and reused on later starts: ECDSA P-521, subject O=etcd, a
// random 128-bit serial, valid for a year from now, key usage digitalSignature + keyEncipherment, extended key usage
// serverAuth, basic constraints (not a CA), the listen hosts as IP or DNS SANs; key.pem is a SEC1 `EC PRIVATE KEY`
// with mode 0600.
//
// Node's crypto makes and exports the keys and signs; it cannot build a certificate, so the TBSCertificate is
// encoded here (der.ts). Measured on this machine: 4-9 ms for the key, the encoding, the signature and the two
// files, once per data directory. A pure-JS X.509 library (node-forge has no EC certificates; @peculiar/x509 pulls in pkijs, asn1js
// and reflect-metadata) would have cost more than these hundred lines.

import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { bitString, boolean, directoryString, element, explicit, objectIdentifier, octetString, sequence, set, smallInteger, time, unsignedInteger } from './der.js';
import { tlsLog } from './log.js';

const OID = {
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  organization: '2.5.4.10',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

const YEAR_MS = 365 * 24 * 3600 * 1000;

export interface SelfCertFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** The host of "host:port" (net.SplitHostPort), brackets removed. */
function hostOf(hostPort: string): string {
  const m = /^\[([^\]]*)\](?::\d*)?$/.exec(hostPort);
  if (m !== null) return m[1]!;
  const colon = hostPort.lastIndexOf(':');
  return colon < 0 ? hostPort : hostPort.slice(0, colon);
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const halves = ip.split('::');
  const words = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const head = words(halves[0]);
  const tail = words(halves[1]);
  const all = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, 2 * i));
  return out;
}

/** The DER certificate etcd's SelfCert template describes, signed by `privateKey` (P-521). */
export function selfSignedCertificate(hosts: readonly string[], publicKey: crypto.KeyObject, privateKey: crypto.KeyObject, now = new Date()): Buffer {
  const algorithm = sequence(objectIdentifier(OID.ecdsaWithSha512));
  const name = sequence(set(sequence(objectIdentifier(OID.organization), directoryString('etcd'))));
  const sans: Buffer[] = [];
  for (const hostPort of hosts) {
    const h = hostOf(hostPort);
    // Go's net.ParseIP: IP SANs for addresses (IPv4 as 4 bytes), DNS SANs for the rest
    if (net.isIP(h) !== 0) sans.push(element(0x87, ipBytes(h)));
    else sans.push(element(0x82, Buffer.from(h, 'latin1')));
  }
  const extensions = [
    // digitalSignature (bit 0) | keyEncipherment (bit 2): one byte, five unused bits
    sequence(objectIdentifier(OID.keyUsage), boolean(true), octetString(bitString(Buffer.from([0xa0]), 5))),
    sequence(objectIdentifier(OID.extKeyUsage), octetString(sequence(objectIdentifier(OID.serverAuth)))),
    sequence(objectIdentifier(OID.basicConstraints), boolean(true), octetString(sequence())),
  ];
  if (sans.length > 0) extensions.push(sequence(objectIdentifier(OID.subjectAltName), octetString(sequence(...sans))));
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(crypto.randomBytes(16)),
    algorithm,
    name,
    sequence(time(now), time(new Date(now.getTime() + YEAR_MS))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions)),
  );
  const signature = crypto.sign('sha512', tbs, { key: privateKey, dsaEncoding: 'der' });
  return sequence(tbs, algorithm, bitString(signature));
}

function pem(type: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}

/**
 * transport.SelfCert: the certificate and key in `dir`, made if either is missing. Throws when the directory or the
 * files cannot be written (etcd: `failed to get client self-signed certs`, fatal).
 */
export function selfCert(dir: string, hosts: readonly string[]): SelfCertFiles {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return { certFile, keyFile };
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' });
  fs.writeFileSync(certFile, pem('CERTIFICATE', selfSignedCertificate(hosts, publicKey, privateKey)));
  tlsLog('info', 'created cert file', { path: certFile });
  fs.writeFileSync(keyFile, privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
  tlsLog('info', 'created key file', { path: keyFile });
  return { certFile, keyFile };
}
