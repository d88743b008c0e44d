// Which protocol a connection to the client port speaks, from its first bytes. Every protocol served there has the
// client speak first (HTTP/1 with its method, HTTP/2 with its connection preface, the binary protocol with its frame
// magic), so the first bytes decide, and a decision never needs more than CLIENT_PORT_SNIFF_BYTES_MAX of them.

import { CLIENT_PORT_SNIFF_BYTES_MAX } from '../config/limits.js';
import { FRAME_MAGIC } from '../proto/index.js';
import { invariant } from '../errors/index.js';

/** RFC 9113 section 3.4: what every HTTP/2 client (so every gRPC client) sends first, prior knowledge over cleartext. */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
invariant(HTTP2_PREFACE.length === CLIENT_PORT_SNIFF_BYTES_MAX, 'CLIENT_PORT_SNIFF_BYTES_MAX is the length of the HTTP/2 preface');

const MAGIC_HIGH = FRAME_MAGIC >>> 8;
const MAGIC_LOW = FRAME_MAGIC & 0xff;

/**
 * `http2`: HTTP/2 with prior knowledge (gRPC); `binary`: etcd-ts's binary protocol (proto/frame.ts); `http`: HTTP/1.x
 * (and WebSocket upgrades), as far as its method shows; `malformed`: bytes that cannot begin an HTTP/1 request.
 */
export type ClientProtocol = 'http2' | 'binary' | 'http' | 'malformed';

const SPACE = 0x20;
/** RFC 9110 tchar: what an HTTP method is made of */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;

/**
 * The protocol `head` (the bytes received so far) announces, or null while they are too few to tell. HTTP/1 is told
 * by its method: a token, then a space, within the first CLIENT_PORT_SNIFF_BYTES_MAX bytes. Anything else is
 * malformed: uWS would wait for more of it until its idle timeout, where etcd (Go's net/http) answers 400 at once.
 */
export function sniffProtocol(head: Uint8Array): ClientProtocol | null {
  if (head.length === 0) return null;
  if (head[0] === MAGIC_HIGH) {
    if (head.length < 2) return null;
    return head[1] === MAGIC_LOW ? 'binary' : 'malformed';
  }
  const n = Math.min(head.length, HTTP2_PREFACE.length);
  let preface = true;
  for (let i = 0; i < n && preface; i++) preface = head[i] === HTTP2_PREFACE[i];
  if (preface) return n === HTTP2_PREFACE.length ? 'http2' : null;
  for (let i = 0; i < Math.min(head.length, CLIENT_PORT_SNIFF_BYTES_MAX); i++) {
    if (head[i] === SPACE) return i > 0 ? 'http' : 'malformed';
    if (TOKEN[head[i]!] !== 1) return 'malformed';
  }
  return head.length >= CLIENT_PORT_SNIFF_BYTES_MAX ? 'malformed' : null;
}

/** What Go's net/http (so etcd's HTTP listener) answers a request it cannot parse, before it closes the connection. */
export const HTTP_BAD_REQUEST = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request', 'latin1');

/**
 * What etcd 3.5 answers a connection that is not HTTP/2 on a port serving gRPC only (--listen-client-http-urls set):
 * its listener is grpc-go's server itself, which writes its SETTINGS frame (SETTINGS_MAX_FRAME_SIZE 16384) as soon as
 * it accepts, then reads 24 bytes, and closes the connection when they are not the preface ("received bogus greeting
 * from client"). An HTTP/1 client so sees a few binary bytes and the end of the connection (curl: "Received HTTP/0.9
 * when not allowed").
 */
export const GRPC_SERVER_SETTINGS_FRAME = Buffer.from([
  // length 6, type SETTINGS (4), no flags, stream 0
  0x00, 0x00, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
  // SETTINGS_MAX_FRAME_SIZE (5) = 16384
  0x00, 0x05, 0x00, 0x00, 0x40, 0x00,
]);
