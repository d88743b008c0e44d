// The shape of a client stream (Watch, LeaseKeepAlive, Observe), shared by the Client and the helpers built on its
// streams (watch.ts) without tying them to the Client class.

import type { StreamMethodName, StreamMethods } from '../proto/index.js';

export interface StreamHandlers<Resp> {
  message(response: Resp): void;
  end(err: Error | null): void;
}

export interface ClientStream<Req> {
  /** false when the stream has already ended */
  send(request: Req): boolean;
  close(): void;
}

/** What opens streams: the Client (see Client.openStream). */
export interface StreamOpener {
  /** close() or destroy() was called */
  readonly isClosed: boolean;
  openStream<M extends StreamMethodName>(
    method: M,
    first: StreamMethods[M][0] | undefined,
    handlers: StreamHandlers<StreamMethods[M][1]>,
  ): Promise<ClientStream<StreamMethods[M][0]>>;
}
