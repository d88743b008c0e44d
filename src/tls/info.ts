// One side's TLS settings (etcd's transport.TLSInfo) as the member uses them, and how the member's two sides are
// made from the flags at start-up, as etcd's embed package does: auto TLS generates a certificate when none is given
// (and then replaces the side's whole TLSInfo, so the CA, client-cert-auth and CRL flags no longer apply to it, as in
// etcd 3.4), --cipher-suites and the TLS versions apply to both sides.

import path from 'node:path';
import type tls from 'node:tls';
import type { Config, TlsFlags } from '../config/index.js';
import { CipherSuiteError, selectCipherSuites } from './cipher-suites.js';
import { tlsLog } from './log.js';
import { selfCert } from './self-cert.js';

/** One side's TLS as it runs: the flags (auto TLS resolved into files) plus what they select. */
export interface TlsInfo extends Omit<TlsFlags, 'autoTls'> {
  /** the certificate is auto TLS's own: a dialer skips verifying the server, as etcd's selfCert client does */
  readonly selfCert: boolean;
  /** auto TLS: the listen hosts its certificate names (it is written by writeSelfCert once the data directory exists) */
  readonly selfCertHosts?: readonly string[];
  /** Go names, for the start-up log */
  readonly cipherSuites: readonly string[];
  /** Node's `ciphers` string */
  readonly ciphers: string;
  readonly minVersion: tls.SecureVersion;
  readonly maxVersion: tls.SecureVersion;
}

/** TLSInfo.Empty(): neither certificate nor key given. */
export function isEmpty(info: Pick<TlsInfo, 'certFile' | 'keyFile'>): boolean {
  return info.certFile === '' && info.keyFile === '';
}

/** TLSInfo.String(), as etcd logs it at start-up. */
export function describeTlsInfo(info: TlsInfo): string {
  return `cert = ${info.certFile}, key = ${info.keyFile}, trusted-ca = ${info.trustedCaFile}, client-cert-auth = ${info.clientCertAuth}, crl-file = ${info.crlFile}`;
}

/** The TLS settings of a member: the client side serves the client URLs, the peer side the peer URLs and dialer. */
export interface MemberTlsInfo {
  readonly client: TlsInfo;
  readonly peer: TlsInfo;
}

/** A start-up failure, with etcd's message. */
export class TlsConfigError extends Error {}

function versionOf(flag: string, fallback: tls.SecureVersion): tls.SecureVersion {
  return flag === 'TLS1.3' ? 'TLSv1.3' : flag === 'TLS1.2' ? 'TLSv1.2' : fallback;
}

function selectCipherSuitesOrRefuse(names: readonly string[]): ReturnType<typeof selectCipherSuites> {
  try {
    return selectCipherSuites(names);
  } catch (err) {
    if (err instanceof CipherSuiteError) throw new TlsConfigError(err.message);
    throw err;
  }
}

function infoFrom(flags: TlsFlags, config: Config): TlsInfo {
  const selection = selectCipherSuitesOrRefuse(config.cipherSuites);
  return Object.freeze({
    certFile: flags.certFile,
    keyFile: flags.keyFile,
    trustedCaFile: flags.trustedCaFile,
    clientCertAuth: flags.clientCertAuth,
    crlFile: flags.crlFile,
    allowedCn: flags.allowedCn,
    allowedHostname: flags.allowedHostname,
    skipClientSanVerify: flags.skipClientSanVerify,
    selfCert: false,
    cipherSuites: config.cipherSuites,
    ciphers: selection.ciphers,
    minVersion: versionOf(config.tlsMinVersion, 'TLSv1.2'),
    maxVersion: versionOf(config.tlsMaxVersion, 'TLSv1.3'),
  });
}

function hostsOf(urls: readonly string[]): string[] {
  return urls.map((u) => new URL(u).host);
}

/**
 * ClientSelfCert / PeerSelfCert: the side's settings once auto TLS has had its say. The certificate itself is written
 * by writeSelfCert, after the data directory was opened (a fresh one must be empty when the storage creates it).
 */
function withSelfCert(info: TlsInfo, flags: TlsFlags, side: 'client' | 'peer', dir: string, hosts: string[]): TlsInfo {
  if (!flags.autoTls) return info;
  if (!isEmpty(info)) {
    tlsLog('warn', `ignoring ${side} auto TLS since certs given`);
    return info;
  }
  // transport.SelfCert returns a fresh TLSInfo: only the files (and the cipher suites etcd applies again) remain
  return Object.freeze({
    ...info,
    certFile: path.join(dir, 'cert.pem'),
    keyFile: path.join(dir, 'key.pem'),
    selfCertHosts: Object.freeze([...hosts]),
    trustedCaFile: '',
    clientCertAuth: false,
    crlFile: '',
    allowedCn: '',
    allowedHostname: '',
    skipClientSanVerify: false,
    selfCert: true,
  });
}

/** Writes an auto TLS side's certificate unless it exists (transport.SelfCert); etcd's message when it cannot. */
export function writeSelfCert(info: TlsInfo, side: 'client' | 'peer'): void {
  if (info.selfCertHosts === undefined) return;
  try {
    selfCert(path.dirname(info.certFile), info.selfCertHosts);
  } catch (err) {
    throw new TlsConfigError(`failed to get ${side} self-signed certs: ${(err as Error).message}`);
  }
}

/**
 * Both sides' settings from the configuration (auto TLS's certificate paths included). Throws TlsConfigError with
 * etcd's message for an unknown cipher suite.
 */
export function memberTlsInfo(config: Config): MemberTlsInfo {
  const unavailable = selectCipherSuitesOrRefuse(config.cipherSuites).unavailable;
  if (unavailable.length > 0) tlsLog('warn', 'cipher suites this build of OpenSSL does not offer are left out', { 'cipher-suites': unavailable });
  const peer = withSelfCert(infoFrom(config.peerTls, config), config.peerTls, 'peer', path.join(config.dataDir, 'fixtures', 'peer'), hostsOf(config.listenPeerUrls));
  if (!isEmpty(peer)) tlsLog('info', 'starting with peer TLS', { 'tls-info': describeTlsInfo(peer), 'cipher-suites': peer.cipherSuites });
  // etcd names the client and HTTP URLs; the binary protocol's URLs are etcd-ts's and share the client certificate
  const clientHosts = hostsOf([...config.listenClientUrls, ...config.listenClientHttpUrls, ...config.listenClientBinaryUrls]);
  const client = withSelfCert(infoFrom(config.clientTls, config), config.clientTls, 'client', path.join(config.dataDir, 'fixtures', 'client'), clientHosts);
  if (!isEmpty(client)) tlsLog('info', 'starting with client TLS', { 'tls-info': describeTlsInfo(client), 'cipher-suites': client.cipherSuites });
  return Object.freeze({ client, peer });
}
