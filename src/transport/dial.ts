// Reaching a peer URL: plain TCP for http://, TLS for https:// through the hooks src/tls provides (the member's peer
// certificate, the peer CA, etcd's checks), and TLS on the peer listener's https:// URLs through the same hooks.

import net from 'node:net';
import { PEER_CONNECT_TIMEOUT_MS } from '../config/limits.js';

/** The peer side's TLS, as src/tls's MemberTls.peer provides it. */
export interface PeerTlsHooks {
  /** serves TLS on a connection accepted on an https:// listen URL; `secure` gets it once every check passed */
  accept(raw: net.Socket, secure: (socket: net.Socket) => void): void;
  /** a TLS connection to host:port, handshaken and checked */
  dial(host: string, port: number): Promise<net.Socket>;
}

export interface PeerAddress {
  host: string;
  port: number;
  secure: boolean;
}

export function peerAddress(url: string): PeerAddress {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? (secure ? 443 : 80) : Number(u.port), secure };
}

/** A connection to a peer URL, ready for frames; rejects when it cannot be made (an https:// URL without hooks too). */
export function dialPeer(url: string, tls: PeerTlsHooks | null): Promise<net.Socket> {
  const { host, port, secure } = peerAddress(url);
  if (secure) {
    if (tls === null) return Promise.reject(new Error(`peer URL ${url}: no TLS configuration`));
    return tls.dial(host, port);
  }
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => socket.destroy(new Error(`dial tcp ${host}:${port}: i/o timeout`)), PEER_CONNECT_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
  });
}
