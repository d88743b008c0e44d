// WebSocket streams on the gateway's stream paths (/v3/watch, /v3/lease/keepalive, /v3/election/observe), as etcd's
// grpc-websocket-proxy offers them: each client message is one request (so a watch can be created, cancelled and
// asked for progress on one open stream), each server message is one {"result": ...}. With the `msgpack`
// subprotocol the same objects travel as MessagePack binary messages, bytes as bin and integers as integers.
//
// Credentials are fixed at connect: the upgrade request's `Authorization` header (the raw token, as on the gateway),
// or, for a browser (whose WebSocket API sets no headers), a `token` query parameter (/v3/watch?token=...); the
// header wins. Every request of the stream runs with them (a watch create is checked for READ when it arrives).
//
// A malformed message gets {"error": {...}} and the socket closes (etcd's proxy would silently stop forwarding).
// A client that does not read is buffered up to a bound, then closed with code 1008 and a reason: uWS drops a
// message past maxBackpressure, so every send checks the buffered amount first and nothing is lost silently.

import uWS from 'uWebSockets.js';
import { Packr } from 'msgpackr';
import {
  WEBSOCKET_BUFFERED_BYTES_MAX,
  WEBSOCKET_IDLE_TIMEOUT_S,
  gatewayBodyBytesMax,
  type Limits,
} from '../config/index.js';
import { EtcdError, etcdError, toEtcdError } from '../errors/index.js';
import { decodeStreamRequest, unpackr } from '../proto/index.js';
import { withToken, type EtcdServer, type RequestAuth } from '../server/index.js';
import { decodeNext } from '../gocompat/index.js';
import { decodeError, decodeMessage, gatewayCredentials, gatewayHttpStatus, refuseGatewayCommonName, streamErrorBody } from './gateway/http.js';
import { marshalJson, marshalNative } from './gateway/jsonpb.js';
import { ROUTES, type StreamRoute } from './gateway/routes.js';
import { openServerStream, type ServerStream } from './gateway/streams.js';

export interface WebSocketOptions {
  /** bytes buffered towards one client before it is closed as too slow */
  bufferedBytesMax?: number;
}

/** Close code for a consumer that fell too far behind (RFC 6455 1008: policy violation). */
export const CLOSE_SLOW_CONSUMER = 1008;
/** Close code after a malformed request message (RFC 6455 1007: invalid payload data). */
export const CLOSE_BAD_MESSAGE = 1007;
/** Close code after the member ended the stream with an error (RFC 6455 1011: unexpected condition). */
export const CLOSE_STREAM_ERROR = 1011;

interface Connection {
  readonly route: StreamRoute;
  readonly msgpack: boolean;
  readonly requireLeader: boolean;
  /** the credentials at the upgrade: its token and the connection's verified TLS client CN */
  readonly auth: RequestAuth | undefined;
  stream: ServerStream | null;
  closed: boolean;
  /** Observe takes one request; later ones are ignored */
  requests: number;
}

const packr = new Packr({ useRecords: false, variableMapSize: true });

function errorObject(err: EtcdError): Record<string, unknown> {
  const status = gatewayHttpStatus(err.code);
  return { error: { grpc_code: err.code, http_code: status, message: err.message } };
}

export function registerWebSockets(app: uWS.TemplatedApp, server: EtcdServer, limits: Limits, options: WebSocketOptions = {}): void {
  const bufferedMax = options.bufferedBytesMax ?? WEBSOCKET_BUFFERED_BYTES_MAX;
  const messageMax = gatewayBodyBytesMax(limits);
  for (const [path, route] of ROUTES) {
    if (route.kind !== 'stream') continue;
    for (const p of [path, path.replace('/v3/', '/v3beta/')]) {
      app.ws<Connection>(p, {
        maxPayloadLength: messageMax,
        idleTimeout: WEBSOCKET_IDLE_TIMEOUT_S,
        sendPingsAutomatically: true,
        // never let uWS drop a message: our own bound (checked before every send) closes the socket first
        // room for one message of any size on top of the bound, so uWS itself never drops one (send() answering 2)
        maxBackpressure: 0x7fff_ffff,
        closeOnBackpressureLimit: 0,
        upgrade: (res, req, context) => {
          const auth = webSocketCredentials(req, res);
          if (refuseGatewayCommonName(server, req.getUrl(), auth, res)) return;
          const protocols = req.getHeader('sec-websocket-protocol').split(',').map((s) => s.trim());
          const msgpack = protocols.includes('msgpack');
          res.upgrade<Connection>(
            { route, msgpack, requireLeader: req.getHeader('grpc-metadata-hasleader') === 'true', auth, stream: null, closed: false, requests: 0 },
            req.getHeader('sec-websocket-key'),
            msgpack ? 'msgpack' : '',
            req.getHeader('sec-websocket-extensions'),
            context,
          );
        },
        open: (ws) => {
          const c = ws.getUserData();
          const out = {
            send: (response: unknown): void => send(ws, c, { result: response }),
            end: (err?: EtcdError): void => {
              if (c.closed) return;
              if (err !== undefined) sendError(ws, c, err, CLOSE_STREAM_ERROR);
              else closeWith(ws, c, 1000, '');
            },
            pendingBytes: (): number => (c.closed ? 0 : ws.getBufferedAmount()),
          };
          try {
            c.stream = openServerStream(server, c.route.method, out, c.requireLeader, c.auth);
          } catch (err) {
            sendError(ws, c, toEtcdError(err), CLOSE_STREAM_ERROR);
          }
        },
        message: (ws, message, isBinary) => {
          const c = ws.getUserData();
          if (c.closed || c.stream === null) return;
          let request: unknown;
          try {
            request = c.msgpack && isBinary ? decodeMsgpack(c.route, message) : decodeJson(c.route, message, limits);
          } catch (err) {
            sendError(ws, c, decodeError(err), CLOSE_BAD_MESSAGE);
            return;
          }
          if (c.route.method === 'Observe' && c.requests > 0) return;
          c.requests++;
          c.stream.handle(request);
        },
        drain: (ws) => {
          const c = ws.getUserData();
          if (!c.closed) c.stream?.drained();
        },
        close: (ws) => {
          const c = ws.getUserData();
          c.closed = true;
          c.stream?.close();
        },
      });
    }
  }

  function send(ws: uWS.WebSocket<Connection>, c: Connection, message: { result: unknown }): void {
    if (c.closed) return;
    let data: string | Uint8Array;
    try {
      data = c.msgpack
        ? packr.pack({ result: marshalNative(message.result as Record<string, unknown>, c.route.response) })
        : `{"result":${marshalJson(message.result as Record<string, unknown>, c.route.response)}}`;
    } catch (err) {
      sendError(ws, c, etcdError('ResponseEncodeFailed', (err as Error).message), CLOSE_STREAM_ERROR);
      return;
    }
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    // judged on what is already buffered: one message larger than the bound (a huge revision) still reaches a reader
    const buffered = ws.getBufferedAmount();
    if (buffered > 0 && buffered + size > bufferedMax) {
      closeWith(ws, c, CLOSE_SLOW_CONSUMER, `etcd-ts: slow consumer: more than ${bufferedMax} bytes buffered, stream closed`);
      return;
    }
    if (ws.send(data, c.msgpack, false) === 2) {
      // cannot happen with maxBackpressure above our bound; never drop silently if it does
      closeWith(ws, c, CLOSE_SLOW_CONSUMER, 'etcd-ts: slow consumer: message dropped, stream closed');
    }
  }

  function sendError(ws: uWS.WebSocket<Connection>, c: Connection, err: EtcdError, code: number): void {
    if (c.closed) return;
    if (c.msgpack) ws.send(packr.pack(errorObject(err)), true, false);
    else ws.send(streamErrorBody(err), false, false);
    closeWith(ws, c, code, err.message.slice(0, 120));
  }

  function closeWith(ws: uWS.WebSocket<Connection>, c: Connection, code: number, reason: string): void {
    if (c.closed) return;
    c.closed = true;
    c.stream?.close();
    ws.end(code, reason);
  }
}

/** A WebSocket's credentials: the upgrade's Authorization header, else its `token` query parameter. */
function webSocketCredentials(req: uWS.HttpRequest, res: uWS.HttpResponse): RequestAuth | undefined {
  const fromHeader = gatewayCredentials(req, res);
  if (fromHeader?.token !== undefined) return fromHeader;
  const token = req.getQuery('token');
  return withToken(fromHeader, token === undefined || token === '' ? undefined : token);
}

function decodeJson(route: StreamRoute, message: ArrayBuffer, limits: Limits): unknown {
  const r = decodeNext(Buffer.from(message), 0, true);
  const request = decodeMessage(r.kind === 'value' ? r.node : null, route.request, limits, false);
  return decodeStreamRequest(route.method, request);
}

function decodeMsgpack(route: StreamRoute, message: ArrayBuffer): unknown {
  let value: unknown;
  try {
    value = unpackr.unpack(Buffer.from(message.slice(0)));
  } catch {
    throw etcdError('InvalidRequest', 'malformed msgpack message');
  }
  // msgpackr decodes some bytes (0xc1, extensions) to objects of its own: only a plain map is a request
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
    throw etcdError('InvalidRequest', 'a message must be a map');
  }
  return decodeStreamRequest(route.method, value);
}
