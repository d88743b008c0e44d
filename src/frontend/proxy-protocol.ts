// The PROXY protocol version 2 header (haproxy's proxy-protocol.txt, section 2.2): what the client port writes first
// on each connection it pipes to uWS, so the HTTP side still knows the client's address. uWS is built with PROXY
// support: a route reads it with res.getProxiedRemoteAddressAsText() (getRemoteAddressAsText() is the pipe's end).

import net from 'node:net';

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** version 2, command PROXY (the connection was relayed on behalf of the addresses below) */
const PROXY = 0x21;
/** version 2, command LOCAL (no addresses: the receiver keeps the connection's own) */
const LOCAL = 0x20;
const TCP_OVER_IPV4 = 0x11;
const TCP_OVER_IPV6 = 0x21;

export interface ProxiedConnection {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
}

/** The 16 bytes of an IPv6 address in text (with `::`, an IPv4 tail, or a zone, which is dropped); null if not one. */
export function ipv6Bytes(text: string): Buffer | null {
  const address = text.replace(/%.*$/, '');
  if (net.isIPv6(address) === false) return null;
  const words: number[] = [];
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(parseInt(group, 16));
    }
    return out;
  };
  const gap = address.indexOf('::');
  if (gap < 0) words.push(...parse(address));
  else {
    const head = parse(address.slice(0, gap));
    const tail = parse(address.slice(gap + 2));
    words.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  }
  const bytes = Buffer.alloc(16);
  words.forEach((w, i) => bytes.writeUInt16BE(w, 2 * i));
  return bytes;
}

function ipv4Bytes(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

/** The header for a connection; a LOCAL header when its addresses are gone (the client already left) or unknown. */
export function proxyV2Header(c: ProxiedConnection): Buffer {
  const { remoteAddress: src, localAddress: dst, remotePort, localPort } = c;
  if (src !== undefined && dst !== undefined && remotePort !== undefined && localPort !== undefined) {
    if (net.isIPv4(src) && net.isIPv4(dst)) {
      const header = Buffer.alloc(16 + 12);
      writeStart(header, PROXY, TCP_OVER_IPV4, 12);
      ipv4Bytes(src).copy(header, 16);
      ipv4Bytes(dst).copy(header, 20);
      header.writeUInt16BE(remotePort, 24);
      header.writeUInt16BE(localPort, 26);
      return header;
    }
    const src6 = ipv6Bytes(src);
    const dst6 = ipv6Bytes(dst);
    if (src6 !== null && dst6 !== null) {
      const header = Buffer.alloc(16 + 36);
      writeStart(header, PROXY, TCP_OVER_IPV6, 36);
      src6.copy(header, 16);
      dst6.copy(header, 32);
      header.writeUInt16BE(remotePort, 48);
      header.writeUInt16BE(localPort, 50);
      return header;
    }
  }
  const header = Buffer.alloc(16);
  writeStart(header, LOCAL, 0x00, 0);
  return header;
}

/**
 * A PROXY header whose source is the given 16-byte IPv6 address (an identity registered with src/tls for a TLS
 * connection with a verified client certificate) and whose destination is the connection's own, as IPv6.
 */
export function proxyV2HeaderWithSource(source: Uint8Array, c: ProxiedConnection): Buffer {
  const dst = c.localAddress === undefined ? null : net.isIPv4(c.localAddress) ? ipv6Bytes(`::ffff:${c.localAddress}`) : ipv6Bytes(c.localAddress);
  const header = Buffer.alloc(16 + 36);
  writeStart(header, PROXY, TCP_OVER_IPV6, 36);
  Buffer.from(source).copy(header, 16);
  (dst ?? Buffer.alloc(16)).copy(header, 32);
  header.writeUInt16BE(c.remotePort ?? 0, 48);
  header.writeUInt16BE(c.localPort ?? 0, 50);
  return header;
}

function writeStart(header: Buffer, command: number, family: number, addressBytes: number): void {
  SIGNATURE.copy(header, 0);
  header[12] = command;
  header[13] = family;
  header.writeUInt16BE(addressBytes, 14);
}
