// Small reply helpers shared by the health, metrics and dashboard routes. etcd's HTTP mux answers every path with
// permissive CORS headers (--cors defaults to '*'), which is also what lets the dashboard of one member read the
// /health of another.

import type uWS from 'uWebSockets.js';

export function writeCors(res: uWS.HttpResponse): void {
  res.writeHeader('Access-Control-Allow-Origin', '*');
  res.writeHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE');
  res.writeHeader('Access-Control-Allow-Headers', 'accept, content-type, authorization');
}

/** A complete reply; `status` as "200 OK". */
export function reply(res: uWS.HttpResponse, status: string, contentType: string, body: string | Uint8Array, extra: Record<string, string> = {}): void {
  res.cork(() => {
    res.writeStatus(status);
    writeCors(res);
    res.writeHeader('Content-Type', contentType);
    for (const [k, v] of Object.entries(extra)) res.writeHeader(k, v);
    res.end(body);
  });
}

/** Go's http.Error for a method other than GET, as etcd's handlers answer it. */
export function methodNotAllowed(res: uWS.HttpResponse): void {
  reply(res, '405 Method Not Allowed', 'text/plain; charset=utf-8', 'Method Not Allowed\n', { Allow: 'GET', 'X-Content-Type-Options': 'nosniff' });
}

/**
 * Runs an asynchronous handler: the request's details must be read before calling this (uWS invalidates the request
 * object when the handler returns), and the reply is skipped if the client went away meanwhile.
 */
export function respondAsync(res: uWS.HttpResponse, produce: () => Promise<(res: uWS.HttpResponse) => void>): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  produce().then(
    (write) => {
      if (!aborted) write(res);
    },
    (err: unknown) => {
      if (!aborted) reply(res, '500 Internal Server Error', 'text/plain; charset=utf-8', `${err instanceof Error ? err.message : String(err)}\n`);
    },
  );
}
