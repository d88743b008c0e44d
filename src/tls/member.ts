// A member's TLS, built once at start-up from its configuration, as etcd's embed.StartEtcd sets it up: both sides'
// settings (auto TLS included), the start-up checks of the listen URLs with etcd's messages and warnings, and the
// pieces the listeners and the peer transport use. A side's files are read at start-up when a listener or the peer
// dialer will need them (etcd reads them when it wraps a listener), so a certificate given with only http:// URLs is
// ignored with a warning, as etcd ignores it, even if the file does not exist.
//
// Two steps, around the opening of the data directory: the constructor checks everything it can without writing
// (a refused start leaves no data directory behind, as etcd's does not), then start() writes auto TLS's certificates
// into <data-dir>/fixtures and reads the files.

import type net from 'node:net';
import type { Config } from '../config/index.js';
import { TlsServer, type Alpn } from './accept.js';
import { TlsDialer } from './dial.js';
import { isEmpty, memberTlsInfo, TlsConfigError, writeSelfCert, type MemberTlsInfo, type TlsInfo } from './info.js';
import { fileErrorText } from './go-errors.js';
import { tlsLog } from './log.js';
import { CertificateFiles, RevocationList, TlsFileError } from './material.js';

/** One side's files, read on first use. */
class Side {
  private files: CertificateFiles | null = null;
  private crl: RevocationList | null | undefined;
  private readonly servers = new Map<string, TlsServer>();

  constructor(readonly info: TlsInfo) {}

  certificateFiles(): CertificateFiles {
    this.files ??= new CertificateFiles(this.info);
    return this.files;
  }

  server(alpn: Alpn, peer: boolean): TlsServer {
    const key = `${alpn}:${peer}`;
    let s = this.servers.get(key);
    if (s === undefined) {
      this.crl ??= this.info.crlFile === '' ? null : new RevocationList(this.info.crlFile);
      s = new TlsServer(this.info, { files: this.certificateFiles(), crl: this.crl, alpn, peer });
      this.servers.set(key, s);
    }
    return s;
  }
}

/** What the peer transport needs for https:// peer URLs (src/transport's PeerTlsHooks). */
export interface PeerTls {
  accept(raw: net.Socket, secure: (socket: net.Socket) => void): void;
  dial(host: string, port: number): Promise<net.Socket>;
}

export class MemberTls {
  readonly info: MemberTlsInfo;
  private readonly client: Side;
  private readonly peerSide: Side;
  private peerDialer: TlsDialer | null = null;

  /**
   * Builds both sides and checks the listen URLs; throws an Error with etcd's message for what etcd refuses to start
   * with (an https:// URL without a certificate, an unknown cipher suite, a file that does not load, ...).
   */
  constructor(readonly config: Config) {
    this.info = memberTlsInfo(config);
    this.client = new Side(this.info.client);
    this.peerSide = new Side(this.info.peer);
    this.checkPeerUrls();
    this.checkClientUrls();
    this.load(false);
  }

  /** Once the data directory exists: auto TLS's certificates, then their files. */
  start(): void {
    writeSelfCert(this.info.peer, 'peer');
    writeSelfCert(this.info.client, 'client');
    this.load(true);
    try {
      this.peerDialer = new TlsDialer(this.info.peer, isEmpty(this.info.peer) ? null : this.peerSide.certificateFiles());
    } catch (err) {
      throw new TlsConfigError(fileErrorText(this.info.peer.trustedCaFile, err));
    }
  }

  private load(selfCerts: boolean): void {
    const needed = (info: TlsInfo, used: boolean): boolean => used && !isEmpty(info) && info.selfCert === selfCerts;
    const clientUrls = [...this.config.listenClientUrls, ...this.config.listenClientHttpUrls, ...this.config.listenClientBinaryUrls];
    try {
      if (needed(this.info.peer, true)) this.peerSide.certificateFiles();
      if (needed(this.info.client, clientUrls.some((u) => MemberTls.isSecure(u)))) this.client.certificateFiles();
    } catch (err) {
      if (err instanceof TlsFileError) throw new TlsConfigError(err.message);
      throw err;
    }
  }

  /** configurePeerListeners' checks and warnings. */
  private checkPeerUrls(): void {
    const peer = this.info.peer;
    const seen = new Set<string>();
    for (const url of this.config.listenPeerUrls) {
      const u = new URL(url);
      if (u.protocol === 'http:') {
        if (!isEmpty(peer)) tlsLog('warn', 'scheme is HTTP while key and cert files are present; ignoring key and cert files', { 'peer-url': url });
        if (peer.clientCertAuth) tlsLog('warn', 'scheme is HTTP while --peer-client-cert-auth is enabled; ignoring client cert auth for this URL', { 'peer-url': url });
      }
      // each peer URL is a listener of its own in etcd: the second on one host:port fails to bind
      if (seen.has(u.host)) throw new TlsConfigError(`listen tcp ${u.host}: bind: address already in use`);
      seen.add(u.host);
      if (u.protocol === 'https:' && isEmpty(peer)) throw new TlsConfigError(`cannot listen on TLS for ${u.host}: KeyFile and CertFile are not presented`);
    }
  }

  /** configureClientListeners' checks and warnings, for every URL the client certificate serves. */
  private checkClientUrls(): void {
    const client = this.info.client;
    for (const url of [...this.config.listenClientUrls, ...this.config.listenClientHttpUrls, ...this.config.listenClientBinaryUrls]) {
      const scheme = new URL(url).protocol;
      if (scheme === 'http:') {
        if (!isEmpty(client)) tlsLog('warn', 'scheme is HTTP while key and cert files are present; ignoring key and cert files', { 'client-url': url });
        if (client.clientCertAuth) tlsLog('warn', 'scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL', { 'client-url': url });
      }
      if (scheme === 'https:' && isEmpty(client)) {
        throw new TlsConfigError(`TLS key/cert (--cert-file, --key-file) must be provided for client url ${url} with HTTPS scheme`);
      }
    }
  }

  /** The TLS server for client listeners: `client-port` offers h2 and http/1.1 by ALPN, `http1` only http/1.1. */
  clientServer(alpn: Alpn): TlsServer {
    return this.client.server(alpn, false);
  }

  /** Whether a listen URL is served with TLS. */
  static isSecure(url: string): boolean {
    return url.startsWith('https://');
  }

  /** The peer transport's TLS: its listener side (https:// listen URLs) and its dialer (https:// peer URLs). */
  get peer(): PeerTls {
    return {
      accept: (raw, secure) => this.peerSide.server(null, true).accept(raw, secure),
      dial: (host, port) => {
        if (this.peerDialer === null) return Promise.reject(new Error('TLS is not started'));
        return this.peerDialer.connect(host, port);
      },
    };
  }
}
