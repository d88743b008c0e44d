// The client side of the peer transport's TLS (etcd's TLSInfo.ClientConfig for https:// peer URLs): the member's peer
// certificate is its client certificate (reloaded as the server side's is), the peer CA verifies the server, whose
// certificate must name the host of the URL dialled; auto TLS skips verification (etcd's selfCert), and the allowed
// CN / hostname apply to the server's certificate too, as etcd's shared baseConfig makes them.

import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { TLS_HANDSHAKE_TIMEOUT_MS } from '../config/limits.js';
import { x509ErrorText } from './go-errors.js';
import type { TlsInfo } from './info.js';
import type { CertificateFiles } from './material.js';
import { commonNameOf, verifyHostname } from './verify.js';

export class TlsDialer {
  /** without a certificate of its own: the peer CA alone (etcd's RootCAs apply with or without a certificate), or none */
  private readonly caOnly: tls.SecureContext | undefined;

  constructor(
    readonly info: TlsInfo,
    /** null: no peer certificate (an https:// peer URL without --peer-cert-file): no client certificate is presented */
    private readonly files: CertificateFiles | null,
  ) {
    this.caOnly =
      files === null && info.trustedCaFile !== ''
        ? tls.createSecureContext({ ca: fs.readFileSync(info.trustedCaFile), minVersion: info.minVersion, maxVersion: info.maxVersion, ciphers: info.ciphers })
        : undefined;
  }

  /** A TLS connection to host:port, handshaken and checked; rejects with Go's words for the failure. */
  connect(host: string, port: number, timeoutMs = TLS_HANDSHAKE_TIMEOUT_MS): Promise<tls.TLSSocket> {
    const info = this.info;
    return new Promise((resolve, reject) => {
      let secureContext: tls.SecureContext | undefined = this.caOnly;
      try {
        if (this.files !== null) secureContext = this.files.current();
      } catch (err) {
        reject(err as Error);
        return;
      }
      const socket = tls.connect({
        host,
        port,
        ...(secureContext !== undefined ? { secureContext } : { minVersion: info.minVersion, maxVersion: info.maxVersion }),
        ...(net.isIP(host) === 0 ? { servername: host } : {}),
        rejectUnauthorized: !info.selfCert,
      });
      socket.setNoDelay(true);
      const timer = setTimeout(() => fail(new Error('i/o timeout')), timeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        const code = (err as NodeJS.ErrnoException).code;
        const cert = socket.getPeerX509Certificate();
        if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' && cert !== undefined) reject(new Error(verifyHostname(cert, host) ?? err.message));
        else if (code !== undefined && !code.startsWith('ERR_') && !/^E[A-Z]+$/.test(code)) reject(new Error(x509ErrorText(code, err.message, cert !== undefined ? [cert] : [])));
        else reject(err);
      };
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        const leaf = socket.getPeerX509Certificate();
        // VerifyPeerCertificate sees no verified chain when verification is skipped: it then refuses, as etcd's does
        const restricted = info.allowedCn !== '' || info.allowedHostname !== '';
        const allowed = !restricted || (!info.selfCert && leaf !== undefined && (info.allowedCn !== '' ? commonNameOf(leaf) === info.allowedCn : verifyHostname(leaf, info.allowedHostname) === null));
        if (!allowed) {
          socket.destroy();
          reject(new Error('client certificate authentication failed'));
          return;
        }
        socket.removeListener('error', fail);
        resolve(socket);
      });
    });
  }
}
