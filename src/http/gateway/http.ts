// The JSON gateway's HTTP side: etcd 3.4's grpc-gateway on the client URLs. POST /v3/<service>/<rpc> with a JSON
// request; a JSON response, or for streams newline-delimited {"result": ...} chunks. Answers, headers, status codes
// and error texts follow what a real etcd 3.4 sends (test/http/conformance.test.ts compares them side by side).
// A request's auth token is its `Authorization` header, the raw token (no "Bearer"), as etcd's gateway forwards it.

import type uWS from 'uWebSockets.js';
import {
  GRPC_RECEIVE_SLACK_BYTES,
  HTTP_STREAM_PENDING_BYTES_MAX,
  gatewayBodyBytesMax,
  type Limits,
} from '../../config/index.js';
import { EtcdError, GrpcCode, etcdError, isAssertionError, toEtcdError } from '../../errors/index.js';
import { decodeStreamRequest } from '../../proto/index.js';
import { withToken, type EtcdServer, type RequestAuth } from '../../server/index.js';
import { ChunkedWriter } from './chunked-writer.js';
import { decodeNext, GoJsonError, jsonQuoteText, type JsonNode } from '../../gocompat/index.js';
import { marshalJson, protoSize, unmarshalMessage } from './jsonpb.js';
import { ROUTES, type StreamRoute, type UnaryRoute } from './routes.js';
import { openServerStream, type ServerStream } from './streams.js';
import { connectionAuth } from '../client-identity.js';
import type { MessageDesc } from '../../proto/index.js';

/** grpc-gateway 1.9's code-to-status mapping, as linked into etcd 3.4 (FailedPrecondition is 412 there; 3.5 says 400). */
export function gatewayHttpStatus(code: number): number {
  const table = [200, 408, 500, 400, 504, 404, 409, 403, 429, 412, 409, 400, 501, 500, 503, 500, 401];
  return table[code] ?? 500;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 409: 'Conflict', 412: 'Precondition Failed', 429: 'Too Many Requests', 500: 'Internal Server Error',
  501: 'Not Implemented', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Unknown'}`;
}

/** etcd's --cors default ('*') adds these to every client-URL response. */
export function writeCorsHeaders(res: uWS.HttpResponse): void {
  res
    .writeHeader('Access-Control-Allow-Headers', 'accept, content-type, authorization')
    .writeHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE')
    .writeHeader('Access-Control-Allow-Origin', '*');
}

/** grpc-gateway renders its error bodies with Go's encoding/json: <, > and & come out as \u003c, \u003e, \u0026. */
function quote(s: string): string {
  return jsonQuoteText(s);
}

/** grpc-gateway's unary error body; etcd 3.4 writes the keys in this order. */
export function unaryErrorBody(err: EtcdError): string {
  return `{"error":${quote(err.message)},"message":${quote(err.message)},"code":${err.code}}`;
}

/** grpc-gateway's last chunk when a stream fails. */
export function streamErrorBody(err: EtcdError): string {
  const status = gatewayHttpStatus(err.code);
  return `{"error":{"grpc_code":${err.code},"http_code":${status},"message":${quote(err.message)},"http_status":${quote(STATUS_TEXT[status] ?? '')}}}`;
}

function sendPlain(res: uWS.HttpResponse, status: number, text: string, close = false): void {
  res.cork(() => {
    res.writeStatus(statusLine(status));
    writeCorsHeaders(res);
    res.writeHeader('Content-Type', 'text/plain; charset=utf-8').writeHeader('X-Content-Type-Options', 'nosniff').end(text, close);
  });
}

function sendError(res: uWS.HttpResponse, err: EtcdError, close = false): void {
  res.cork(() => {
    res.writeStatus(statusLine(gatewayHttpStatus(err.code)));
    writeCorsHeaders(res);
    res.writeHeader('Content-Type', 'application/json').end(unaryErrorBody(err), close);
  });
}

/** A stream that failed before its first message: grpc-gateway's error chunk, with the code's status. */
function sendStreamRefusal(res: uWS.HttpResponse, err: EtcdError): void {
  res.cork(() => {
    res.writeStatus(statusLine(gatewayHttpStatus(err.code)));
    writeCorsHeaders(res);
    res.writeHeader('Content-Type', 'application/json').end(streamErrorBody(err));
  });
}

function sendJson(res: uWS.HttpResponse, body: string): void {
  res.cork(() => {
    res.writeStatus('200 OK');
    writeCorsHeaders(res);
    res.writeHeader('Content-Type', 'application/json').writeHeader('Grpc-Metadata-Content-Type', 'application/grpc').end(body);
  });
}

/** A request body grpc-gateway could not decode: InvalidArgument with Go's text. */
export function decodeError(err: unknown, code: number = GrpcCode.InvalidArgument): EtcdError {
  if (err instanceof GoJsonError) return new EtcdError(code, err.message);
  if (err instanceof EtcdError) return err;
  if (isAssertionError(err)) throw err; // a broken invariant is not the client's mistake: it stops the member
  return new EtcdError(code, err instanceof Error ? err.message : String(err));
}

/** grpc-go's refusal of a message above its receive limit (--max-request-bytes + 512 KiB in etcd). */
export function receiveTooLarge(size: number, limits: Limits): EtcdError {
  return etcdError('ReceivedMessageTooLarge', size, limits.requestBytesMax + GRPC_RECEIVE_SLACK_BYTES);
}

/** Decodes one request message and applies etcd's size limits to its protobuf form. */
export function decodeMessage(node: JsonNode | null, desc: MessageDesc, limits: Limits, proposal: boolean): Record<string, unknown> {
  const request = node === null ? {} : unmarshalMessage(node, desc);
  const size = protoSize(request, desc);
  if (size > limits.requestBytesMax + GRPC_RECEIVE_SLACK_BYTES) throw receiveTooLarge(size, limits);
  if (proposal && size > limits.requestBytesMax) throw etcdError('RequestTooLarge');
  return request;
}

interface Aborted {
  aborted: boolean;
}

/**
 * Reads a whole body, refusing it from Content-Length or as soon as it passes `max` bytes. The too-large answer
 * is etcd's gRPC receive error; the size it names is the body's (the protobuf size is not known before decoding).
 */
function readBody(res: uWS.HttpResponse, contentLength: string, limits: Limits, state: Aborted, done: (body: Buffer) => void): void {
  const max = gatewayBodyBytesMax(limits);
  const declared = contentLength === '' ? NaN : Number(contentLength);
  if (declared > max) {
    sendError(res, receiveTooLarge(declared, limits), true);
    state.aborted = true;
    return;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  res.onData((chunk, isLast) => {
    if (state.aborted) return;
    total += chunk.byteLength;
    if (total > max) {
      state.aborted = true;
      sendError(res, receiveTooLarge(total, limits), true);
      return;
    }
    chunks.push(Buffer.from(chunk.slice(0))); // uWS neuters the chunk after this callback
    if (isLast) done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  });
}

/**
 * The credentials of a gateway request (read before any await, as uWS requires): its token joined to the connection's
 * verified TLS client CN. etcd's gateway forwards headers as gRPC metadata and etcd reads metadata `token` first, then
 * `authorization`: so `Grpc-Metadata-Token` wins over `Authorization` (and `Grpc-Metadata-Authorization`), each the
 * raw token.
 */
export function gatewayCredentials(req: uWS.HttpRequest, res: uWS.HttpResponse): RequestAuth | undefined {
  const token = req.getHeader('grpc-metadata-token') || req.getHeader('authorization') || req.getHeader('grpc-metadata-authorization');
  if (token !== '') return withToken(connectionAuth(res), token);
  // a token header that is there but empty or blank is a token all the same (etcd: `invalid auth token`), not its
  // absence (uWS answers '' for both)
  let present = false;
  req.forEach((name) => {
    if (name === 'authorization' || name === 'grpc-metadata-token' || name === 'grpc-metadata-authorization') present = true;
  });
  return withToken(connectionAuth(res), present ? '' : undefined);
}

/** etcd's refusal of a client certificate CN on the gateway while auth is enabled (embed/serve.go). */
const GATEWAY_CN_REFUSAL = 'CommonName of client sending a request against gateway will be ignored and not used as expected';

/**
 * etcd 3.4 answers a /v3/ request whose verified client certificate has a CN with HTTP 400 while auth is enabled
 * (its gateway would otherwise run the request as its own certificate's user). Go's http.Error: plain text, before
 * the CORS headers. Returns whether it refused.
 */
export function refuseGatewayCommonName(server: EtcdServer, path: string, auth: RequestAuth | undefined, res: uWS.HttpResponse): boolean {
  if (auth?.commonName === undefined || auth.commonName === '' || !server.auth.enabled || !path.startsWith('/v3/')) return false;
  res.cork(() => {
    res.writeStatus(statusLine(400)).writeHeader('Content-Type', 'text/plain; charset=utf-8').writeHeader('X-Content-Type-Options', 'nosniff').end(`${GATEWAY_CN_REFUSAL}\n`);
  });
  return true;
}

function handleUnary(server: EtcdServer, limits: Limits, route: UnaryRoute, res: uWS.HttpResponse, req: uWS.HttpRequest): void {
  const auth = gatewayCredentials(req, res);
  if (refuseGatewayCommonName(server, req.getUrl(), auth, res)) return;
  const state: Aborted = { aborted: false };
  const gone = new AbortController();
  res.onAborted(() => {
    state.aborted = true;
    gone.abort();
  });
  const fail = (err: EtcdError): void => (route.serverStream === true ? sendStreamRefusal(res, err) : sendError(res, err));
  readBody(res, req.getHeader('content-length'), limits, state, (body) => {
    let result: unknown;
    try {
      const first = decodeNext(body, 0, true);
      const node = first.kind === 'value' ? first.node : null; // an empty body is the default request
      const request = decodeMessage(node, route.request, limits, route.proposal);
      result = route.call(server, request, gone.signal, auth);
    } catch (err) {
      if (!state.aborted) fail(decodeError(err));
      return;
    }
    const reply = (value: unknown): void => {
      if (state.aborted) return;
      let body: string;
      try {
        body = marshalJson(value as Record<string, unknown>, route.response);
      } catch (err) {
        sendError(res, etcdError('ResponseEncodeFailed', (err as Error).message));
        return;
      }
      sendJson(res, body);
    };
    if (result instanceof Promise) {
      result.then(reply, (err: unknown) => {
        if (!state.aborted) fail(toEtcdError(err));
      });
    } else reply(result);
  });
}

/**
 * Reads a sequence of JSON messages from a streamed body (grpc-gateway's json.Decoder over the request body):
 * each complete value is handed on as it arrives; a syntax error ends the reading.
 */
export class JsonSequenceReader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  failed = false;

  constructor(private readonly maxMessageBytes: number) {}

  /** Feeds bytes; returns the complete values, or throws (GoJsonError, or too large) at the first bad one. */
  push(chunk: Buffer, final: boolean, deliver: (node: JsonNode) => void): 'more' | 'eof' {
    if (this.failed) return 'eof';
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
    for (;;) {
      let r;
      try {
        r = decodeNext(this.buf, this.pos, final);
      } catch (err) {
        this.failed = true;
        throw err;
      }
      if (r.kind === 'eof') {
        this.buf = Buffer.alloc(0);
        this.pos = 0;
        return final ? 'eof' : 'more';
      }
      if (r.kind === 'more') {
        if (this.buf.length - this.pos > this.maxMessageBytes) {
          this.failed = true;
          throw new GoJsonError(`message larger than ${this.maxMessageBytes} bytes`);
        }
        return 'more';
      }
      this.pos = r.next;
      deliver(r.node);
      if (this.failed) return 'eof'; // the consumer refused that message: read no further
    }
  }
}

function handleStream(server: EtcdServer, limits: Limits, route: StreamRoute, res: uWS.HttpResponse, req: uWS.HttpRequest): void {
  const auth = gatewayCredentials(req, res);
  if (refuseGatewayCommonName(server, req.getUrl(), auth, res)) return;
  const requireLeader = req.getHeader('grpc-metadata-hasleader') === 'true';
  const contentLength = req.getHeader('content-length');
  let stream: ServerStream | null = null;
  let finished = false;
  let bodyEnded = false;
  let handled = 0;
  let answered = 0;

  const writer = new ChunkedWriter(
    res,
    (r) => {
      r.writeStatus('200 OK');
      writeCorsHeaders(r);
      r.writeHeader('Content-Type', 'application/json').writeHeader('Grpc-Metadata-Content-Type', 'application/grpc');
    },
    () => stream?.drained(),
  );

  const finish = (err?: EtcdError): void => {
    if (finished) return;
    finished = true;
    stream?.close();
    writer.end(err === undefined ? undefined : streamErrorBody(err));
  };

  res.onAborted(() => {
    finished = true;
    writer.abort();
    stream?.close();
  });

  const output = {
    send: (response: unknown): void => {
      if (finished) return;
      answered++;
      // Judged on what is already waiting, not on this message: one response larger than the bound (a huge revision)
      // still reaches a client that reads. The request body is never paused: a paused uWS response gets no writable
      // events either, so the stream would never drain; what the client's further requests produce counts here too.
      if (writer.pendingBytes() > HTTP_STREAM_PENDING_BYTES_MAX) {
        // a client that stopped reading: give up on it rather than hold more
        finished = true;
        stream?.close();
        writer.abort();
        res.close();
        return;
      }
      writer.writeLine(`{"result":${marshalJson(response as Record<string, unknown>, route.response)}}`);
      maybeEndKeepAlive();
    },
    end: (err?: EtcdError): void => finish(err),
    pendingBytes: (): number => writer.pendingBytes(),
  };

  // etcd's keep-alive stream ends once the client half-closed and every renewal got its answer
  const maybeEndKeepAlive = (): void => {
    if (route.method === 'LeaseKeepAlive' && bodyEnded && answered >= handled) finish();
  };

  /**
   * Opens the member stream. A refusal (no leader for a require-leader stream, ...) is the stream's error chunk with
   * the code's HTTP status, as etcd 3.4 answers: grpc-gateway gets it from the stream's first Recv, not as a call error.
   */
  const open = (): boolean => {
    try {
      stream = openServerStream(server, route.method, output, requireLeader, auth);
      return true;
    } catch (err) {
      finished = true;
      sendStreamRefusal(res, toEtcdError(err));
      return false;
    }
  };

  const deliver = (request: Record<string, unknown>): void => {
    if (finished || stream === null) return;
    let decoded: unknown;
    try {
      decoded = decodeStreamRequest(route.method, request);
    } catch (err) {
      finish(toEtcdError(err));
      return;
    }
    handled++;
    stream.handle(decoded);
  };

  const max = gatewayBodyBytesMax(limits);
  if (!route.bidi) {
    // Observe: one request, then the server's stream
    const state: Aborted = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
      finished = true;
      writer.abort();
      stream?.close();
    });
    readBody(res, contentLength, limits, state, (body) => {
      let request: Record<string, unknown>;
      try {
        const first = decodeNext(body, 0, true);
        request = decodeMessage(first.kind === 'value' ? first.node : null, route.request, limits, false);
      } catch (err) {
        finished = true;
        sendError(res, decodeError(err));
        return;
      }
      bodyEnded = true;
      if (open()) deliver(request);
    });
    return;
  }

  if (Number(contentLength) > max) {
    finished = true;
    sendError(res, receiveTooLarge(Number(contentLength), limits), true);
    return;
  }
  const reader = new JsonSequenceReader(max);
  let first = true;
  res.onData((chunk, isLast) => {
    if (finished || reader.failed) return;
    const bytes = Buffer.from(chunk.slice(0));
    try {
      const state = reader.push(bytes, isLast, (node) => {
        // grpc-gateway decodes the first message before it opens the stream: a bad one is an error response with
        // code Unknown (it is not a gRPC status); later bad messages just stop the sending side
        let request: Record<string, unknown>;
        try {
          request = decodeMessage(node, route.request, limits, false);
        } catch (err) {
          if (first) {
            finished = true;
            sendError(res, decodeError(err, err instanceof EtcdError ? err.code : GrpcCode.Unknown));
          } else if (err instanceof EtcdError && err.code === GrpcCode.ResourceExhausted) finish(err);
          reader.failed = true;
          return;
        }
        if (first) {
          first = false;
          if (!open()) return;
        }
        deliver(request);
      });
      if (finished) return;
      if (state === 'eof') {
        bodyEnded = true;
        if (first) {
          // an empty body: the stream opens with nothing sent (a watch then waits; a keep-alive ends)
          first = false;
          if (!open()) return;
        }
        maybeEndKeepAlive();
      }
    } catch (err) {
      if (finished) return;
      if (first) {
        finished = true;
        sendError(res, decodeError(err, GrpcCode.Unknown));
      } else if (isLast) {
        bodyEnded = true;
        maybeEndKeepAlive();
      }
    }
  });
}

/** Registers every /v3/ path (and etcd's deprecated /v3beta/ spelling) with its 405 for other methods. */
export function registerGateway(app: uWS.TemplatedApp, server: EtcdServer, limits: Limits): void {
  for (const [path, route] of ROUTES) {
    for (const p of [path, path.replace('/v3/', '/v3beta/')]) {
      app.post(p, (res, req) => {
        if (route.kind === 'unary') handleUnary(server, limits, route, res, req);
        else handleStream(server, limits, route, res, req);
      });
      app.options(p, (res) => {
        res.cork(() => {
          res.writeStatus('200 OK');
          writeCorsHeaders(res);
          res.end();
        });
      });
      app.any(p, (res) => sendPlain(res, 405, 'Method Not Allowed\n'));
    }
  }
  // grpc-gateway's own 404 for an unknown /v3/ path (other paths get Go's "404 page not found")
  for (const prefix of ['/v3/*', '/v3beta/*']) app.any(prefix, (res) => sendPlain(res, 404, 'Not Found\n'));
}

