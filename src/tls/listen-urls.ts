// Listen URLs to listeners, as etcd's configureClientListeners groups them: one listener per host:port, serving TLS
// when an https:// URL names it, plaintext when an http:// URL does, both when both do.

export interface UrlListener {
  readonly host: string;
  readonly port: number;
  /** an https:// URL names this host:port */
  readonly secure: boolean;
  /** an http:// URL names it */
  readonly insecure: boolean;
}

/** Throws for a scheme other than http/https (`what` names the flag or listener in the message). */
export function listenersOf(urls: readonly string[], what = 'client URL'): UrlListener[] {
  const byAddress = new Map<string, { host: string; port: number; secure: boolean; insecure: boolean }>();
  for (const url of urls) {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${what} ${url}: scheme must be http or https`);
    const secure = u.protocol === 'https:';
    // URL drops a scheme's default port: http://host:80 has port ''
    const port = u.port === '' ? (secure ? 443 : 80) : Number(u.port);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const key = `${host}|${port}`;
    const l = byAddress.get(key) ?? { host, port, secure: false, insecure: false };
    if (secure) l.secure = true;
    else l.insecure = true;
    byAddress.set(key, l);
  }
  return [...byAddress.values()];
}
