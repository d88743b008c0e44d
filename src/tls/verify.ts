// The certificate checks etcd makes beyond the chain: Go's x509 VerifyHostname (for --peer-cert-allowed-hostname,
// --client-cert-allowed-hostname and the peer SAN check) and etcd's checkCertSAN, which requires a peer's client
// certificate to name the address it connects from (pkg/transport/listener_tls.go).

import { X509Certificate } from 'node:crypto';
import dns from 'node:dns';
import net from 'node:net';

export interface Sans {
  readonly dnsNames: string[];
  /** in Go's String() form (IPv4 dotted, IPv6 compressed) */
  readonly ipAddresses: string[];
}

/** The 8 words of an IPv6 address (an IPv4 tail allowed, a zone dropped). */
function ipv6Words(address: string): number[] {
  const a = address.replace(/%.*$/, '');
  const [head = '', tail] = a.split('::');
  const part = (s: string): number[] => {
    if (s === '') return [];
    const out: number[] = [];
    for (const group of s.split(':')) {
      if (group.includes('.')) {
        const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = group.split('.').map(Number);
        out.push((b0 << 8) | b1, (b2 << 8) | b3);
      } else out.push(parseInt(group, 16));
    }
    return out;
  };
  const h = part(head);
  const t = tail === undefined ? [] : part(tail);
  return tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/** One key per address whatever its text form (IPv4 as ::ffff:a.b.c.d, as Go's net.IP holds it); null if not an IP. */
function ipKey(text: string): string | null {
  const bare = text.replace(/%.*$/, '');
  const kind = net.isIP(bare);
  if (kind === 0) return null;
  return ipv6Words(kind === 4 ? `::ffff:${bare}` : bare).join(':');
}

/** The DNS and IP SANs of a certificate. */
export function sansOf(cert: X509Certificate): Sans {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (entry.startsWith('DNS:')) dnsNames.push(entry.slice(4));
    else if (entry.startsWith('IP Address:')) {
      const ip = entry.slice(11);
      ipAddresses.push(net.isIPv6(ip) ? shortIpv6(ip) : ip);
    }
  }
  return { dnsNames, ipAddresses };
}

/** Go's IP String(): IPv4-mapped addresses as IPv4, else the longest run of zero words as `::`. */
function shortIpv6(ip: string): string {
  const words = ipv6Words(ip);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}.${words[7]! & 0xff}`;
  }
  const w = words.map((x) => x.toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < w.length; ) {
    if (w[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < w.length && w[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return w.join(':');
  return `${w.slice(0, best).join(':')}::${w.slice(best + bestLen).join(':')}`;
}

/** Go's matchHostnames: one leftmost wildcard label, case-insensitive, trailing dots ignored. */
function matchHostname(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (p === '' || h === '') return false;
  const pl = p.split('.');
  const hl = h.split('.');
  if (pl.length !== hl.length) return false;
  return pl.every((label, i) => (i === 0 && label === '*' ? true : label === hl[i]));
}

/** x509.Certificate.VerifyHostname: null when `host` matches, else Go's error text. */
export function verifyHostname(cert: X509Certificate, host: string): string | null {
  const { dnsNames, ipAddresses } = sansOf(cert);
  const candidate = host.replace(/^\[|\]$/g, '');
  const key = ipKey(candidate);
  if (key !== null) {
    for (const ip of ipAddresses) if (ipKey(ip) === key) return null;
    if (ipAddresses.length === 0) return `x509: cannot validate certificate for ${candidate} because it doesn't contain any IP SANs`;
    return `x509: certificate is valid for ${ipAddresses.join(', ')}, not ${candidate}`;
  }
  for (const name of dnsNames) if (matchHostname(name, candidate)) return null;
  if (dnsNames.length === 0) return `x509: certificate is not valid for any names, but wanted to match ${candidate}`;
  return `x509: certificate is valid for ${dnsNames.join(', ')}, not ${candidate}`;
}

/** Go's %q of a []string: ["a" "b"]. */
function quoteList(items: readonly string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(' ')}]`;
}

/**
 * etcd's checkCertSAN: a certificate naming IPs or DNS names must name the remote address, by IP, or by a DNS name
 * that the address's reverse lookup gives or that resolves to the address. Null when it does, else the error.
 */
export async function checkCertSan(cert: X509Certificate, remoteHost: string): Promise<string | null> {
  const { dnsNames, ipAddresses } = sansOf(cert);
  if (ipAddresses.length === 0 && dnsNames.length === 0) return null;
  let ipError: string | null = null;
  if (ipAddresses.length > 0) {
    ipError = verifyHostname(cert, remoteHost);
    if (ipError === null) return null;
    if (dnsNames.length === 0) return ipError;
  }
  let lookupError: string | null = null;
  const wildcards = dnsNames.filter((n) => n.startsWith('*.')).map((n) => n.slice(1));
  const names = dnsNames.filter((n) => !n.startsWith('*.'));
  try {
    for (let name of await dns.promises.reverse(remoteHost)) {
      name = name.replace(/\.$/, '');
      if (wildcards.some((w) => name.endsWith(w)) || names.includes(name)) return null;
    }
  } catch (err) {
    lookupError = `lookup ${remoteHost}: ${(err as NodeJS.ErrnoException).code === 'ENOTFOUND' ? 'no such host' : (err as Error).message}`;
  }
  for (const name of names) {
    try {
      const addresses = await dns.promises.lookup(name, { all: true });
      if (addresses.some((a) => ipKey(a.address) === ipKey(remoteHost))) return null;
    } catch (err) {
      lookupError = `lookup ${name}: ${(err as NodeJS.ErrnoException).code === 'ENOTFOUND' ? 'no such host' : (err as Error).message}`;
    }
  }
  return `tls: ${JSON.stringify(remoteHost)} does not match any of DNSNames ${quoteList(dnsNames)}${lookupError !== null ? ` (${lookupError})` : ''}`;
}

/** The Subject CN of a certificate (the last CN attribute, as Go's pkix.Name keeps it), or ''. */
export function commonNameOf(cert: X509Certificate): string {
  let cn = '';
  for (const line of cert.subject.split('\n')) if (line.startsWith('CN=')) cn = line.slice(3);
  return cn;
}
