// Who is at the other end of a verified TLS connection, for authorisation (RequestAuth.commonName): the Subject CN of
// the client certificate, recorded at the handshake when --client-cert-auth is on (etcd uses the CN as the user only
// then), and looked up by the front end that serves the connection.
//
// The HTTP side cannot be handed a socket: the client port pipes HTTP connections to uWS's private listener behind a
// PROXY v2 header, and uWS exposes only the header's source address (no TLVs, no port). A connection with a verified
// CN is therefore announced with a source address of its own, drawn from a unique-local IPv6 block that no client of
// the pipe can send (the private listener is this process's own), and registered here with the CN and the client's
// real address until the connection closes.

import type net from 'node:net';

export interface ClientIdentity {
  /** the verified client certificate's Subject CN (with --client-cert-auth) */
  readonly commonName?: string;
}

const identities = new WeakMap<net.Socket, ClientIdentity>();

export function setClientIdentity(socket: net.Socket, identity: ClientIdentity): void {
  identities.set(socket, identity);
}

/** The CN to hand to authorisation for requests on this connection, if its TLS handshake verified one. */
export function clientCommonName(socket: net.Socket): string | undefined {
  return identities.get(socket)?.commonName;
}

// ---- identities behind the PROXY header ------------------------------------------------------------------------

/** fd65:7463:6474:7473::/64 ("etcdts"): the block the announced source addresses come from. */
const PROXIED_PREFIX = Buffer.from([0xfd, 0x65, 0x74, 0x63, 0x64, 0x74, 0x74, 0x73]);

export interface ProxiedIdentity extends ClientIdentity {
  /** the client's own address and port */
  readonly remoteAddress: string;
  readonly remotePort: number;
}

const proxied = new Map<string, ProxiedIdentity>();
let nextProxiedId = 1n;

/** Whether a 16-byte address lies in the block (a real client there is announced as unknown: a LOCAL header). */
export function isProxiedIdentityAddress(address16: Uint8Array): boolean {
  return address16.length === 16 && PROXIED_PREFIX.equals(address16.subarray(0, 8));
}

/**
 * Registers an identity for one piped connection: returns the IPv6 source address (16 bytes) to put in its PROXY
 * header, and a release to call when the connection closes.
 */
export function registerProxiedIdentity(identity: ProxiedIdentity): { address: Buffer; release(): void } {
  const address = Buffer.alloc(16);
  PROXIED_PREFIX.copy(address, 0);
  address.writeBigUInt64BE(nextProxiedId++, 8);
  const key = address.toString('hex');
  proxied.set(key, identity);
  return { address, release: () => proxied.delete(key) };
}

/** The identity behind a PROXY source address as uWS hands it over (16 raw bytes), if one was registered. */
export function proxiedIdentity(address: ArrayBuffer | Uint8Array): ProxiedIdentity | undefined {
  const bytes = address instanceof Uint8Array ? address : new Uint8Array(address);
  if (!isProxiedIdentityAddress(bytes)) return undefined;
  return proxied.get(Buffer.from(bytes).toString('hex'));
}
