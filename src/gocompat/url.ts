// etcd's types.NewURLs (pkg/types/urls.go), which etcd runs on its URL flags and clientv3 on member add/update peer
// URLs before sending them, and the parts of Go's net/url.Parse and net.SplitHostPort it depends on, with their error
// texts.

import { isIP } from 'node:net';
import { quote } from './strconv.js';
import { trimSpace } from './unicode.js';
import type { ByteString } from './utf8.js';

class UrlError extends Error {}

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

/** url.unescape's validity checks (encodePath or encodeHost mode). */
function checkEscapes(s: ByteString, host: boolean): void {
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      if (!isHex(s[i + 1]) || !isHex(s[i + 2])) throw new UrlError(`invalid URL escape ${quote(s.slice(i, i + 3))}`);
      i += 2;
      continue;
    }
    if (host && c.charCodeAt(0) < 0x80 && !/[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"]/.test(c)) {
      throw new UrlError(`invalid character ${quote(c)} in host name`);
    }
  }
}

function validOptionalPort(port: ByteString): boolean {
  return port === '' || /^:[0-9]*$/.test(port);
}

/** url.parseHost */
function parseHost(host: ByteString): ByteString {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) throw new UrlError("missing ']' in host");
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port ${quote(colonPort)} after host`);
  } else {
    const i = host.lastIndexOf(':');
    if (i !== -1) {
      const colonPort = host.slice(i);
      if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port ${quote(colonPort)} after host`);
    }
  }
  checkEscapes(host, true);
  return host;
}

interface ParsedUrl {
  scheme: ByteString;
  host: ByteString;
  path: ByteString;
}

/** url.Parse, reduced to scheme, host and path; throws UrlError with the whole `parse "...": ...` text. */
function parseUrl(raw: ByteString): ParsedUrl {
  const fail = (msg: string): never => {
    throw new UrlError(`parse ${quote(raw)}: ${msg}`);
  };
  try {
    const hash = raw.indexOf('#');
    let rest = hash >= 0 ? raw.slice(0, hash) : raw;
    if (/[\x00-\x1f\x7f]/.test(rest)) fail('net/url: invalid control character in URL');
    const out: ParsedUrl = { scheme: '', host: '', path: '' };
    if (rest === '*') return { ...out, path: '*' };
    for (let i = 0; i < rest.length; i++) {
      const c = rest[i]!;
      if (/[A-Za-z]/.test(c)) continue;
      if (/[0-9+\-.]/.test(c)) {
        if (i === 0) break;
        continue;
      }
      if (c === ':') {
        if (i === 0) fail('missing protocol scheme');
        out.scheme = rest.slice(0, i).toLowerCase();
        rest = rest.slice(i + 1);
      }
      break;
    }
    const q = rest.indexOf('?');
    if (q >= 0) rest = rest.slice(0, q);
    if (!rest.startsWith('/')) {
      if (out.scheme !== '') return out; // opaque
      const slash = rest.indexOf('/');
      const segment = slash >= 0 ? rest.slice(0, slash) : rest;
      if (segment.includes(':')) fail('first path segment in URL cannot contain colon');
    }
    if ((out.scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
      let authority = rest.slice(2);
      const slash = authority.indexOf('/');
      rest = slash >= 0 ? authority.slice(slash) : '';
      if (slash >= 0) authority = authority.slice(0, slash);
      const at = authority.lastIndexOf('@');
      out.host = parseHost(at < 0 ? authority : authority.slice(at + 1));
    }
    checkEscapes(rest, false);
    out.path = rest;
    return out;
  } catch (err) {
    if (err instanceof UrlError && !err.message.startsWith('parse ')) fail(err.message);
    throw err;
  }
}

/** whether net.SplitHostPort accepts the host */
function splitHostPortOk(hostport: ByteString): boolean {
  const i = hostport.lastIndexOf(':');
  if (i < 0) return false;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return false;
    if (end + 1 === hostport.length) return false;
    if (end + 1 !== i) return false;
    j = 1;
    k = end + 1;
  } else if (hostport.slice(0, i).includes(':')) {
    return false;
  }
  return !hostport.slice(j).includes('[') && !hostport.slice(k).includes(']');
}

/** The schemes etcd's types.NewURLs accepts. */
export const ETCD_URL_SCHEMES: readonly string[] = ['http', 'https', 'unix', 'unixs'];

/** "a or b", "a, b, or c": how etcd's error texts list the schemes. */
function schemeList(schemes: readonly string[]): string {
  if (schemes.length <= 2) return schemes.join(' or ');
  return `${schemes.slice(0, -1).join(', ')}, or ${schemes[schemes.length - 1]!}`;
}

/**
 * types.NewURLs' checks: the error text, or null when every URL is valid. `schemes` narrows the accepted schemes
 * (etcd-ts's own listeners take no unix sockets); the error text lists them as etcd's does.
 */
export function newUrlsError(strs: readonly ByteString[], schemes: readonly string[] = ETCD_URL_SCHEMES): string | null {
  if (strs.length === 0) return 'no valid URLs given';
  for (const s of strs) {
    const input = trimSpace(s);
    let u: ParsedUrl;
    try {
      u = parseUrl(input);
    } catch (err) {
      if (err instanceof UrlError) return err.message;
      throw err;
    }
    if (!schemes.includes(u.scheme)) return `URL scheme must be ${schemeList(schemes)}: ${input}`;
    if (!splitHostPortOk(u.host)) return `URL address does not have the form "host:port": ${input}`;
    if (u.path !== '') return `URL must not contain a path: ${input}`;
  }
  return null;
}

/**
 * etcd's embed.checkBindURLs (run by Config.Validate on the listen URLs): a URL to listen on names an IP address or
 * `localhost`, not another host name. The error text, or null. Run after newUrlsError has accepted the URLs.
 */
export function checkBindUrlsError(strs: readonly ByteString[]): string | null {
  for (const s of strs) {
    const input = trimSpace(s);
    const u = parseUrl(input);
    if (u.scheme === 'unix' || u.scheme === 'unixs') continue;
    const host = u.host.startsWith('[') ? u.host.slice(1, u.host.indexOf(']')) : u.host.slice(0, u.host.lastIndexOf(':'));
    if (host === 'localhost') continue;
    // Go's net.ParseIP: dotted IPv4 or IPv6 text, no zone
    if (host.includes('%') || isIP(host) === 0) return `expected IP in URL for binding (${input})`;
  }
  return null;
}
