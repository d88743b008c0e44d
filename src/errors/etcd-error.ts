// The operating error type and the ways to make one: from the catalogue by name, from a status received over the
// wire, or from whatever a request handler threw (a broken invariant excepted).

import { isAssertionError } from './assert.js';
import { Errors, isFixed, nameOfMessage, type ArgsOf, type CatalogueEntry, type ErrorName } from './catalogue.js';
import { GrpcCode, httpStatusOf } from './codes.js';

/**
 * An operating error: returned to the caller with etcd's message and code; never a crash. `name` is its catalogue
 * name, which code matches on instead of the message text; 'EtcdError' for a text outside the catalogue.
 */
export class EtcdError extends Error {
  readonly code: number;
  override readonly name: ErrorName | 'EtcdError';
  constructor(code: number, message: string, name?: ErrorName) {
    super(message);
    this.code = code;
    this.name = name ?? 'EtcdError';
  }
  get httpStatus(): number {
    return httpStatusOf(this.code);
  }
}

/** A typed operating error from the catalogue; an entry whose message has a variable part takes its arguments. */
export function etcdError<N extends ErrorName>(name: N, ...args: ArgsOf<N>): EtcdError {
  const entry: CatalogueEntry = Errors[name];
  const message = isFixed(entry) ? entry.message : (entry.format as (...a: unknown[]) => string)(...args);
  return new EtcdError(entry.code, message, name);
}

/**
 * Turns a gRPC status received over the wire ({code, message}) back into an EtcdError, named when the message is in
 * the catalogue, as clientv3's rpctypes.Error does. The code stays the one received: an etcd error relayed by
 * v3lock or v3election arrives as Unknown, and callers (retries, etcdctl's rendering) go by what was received.
 */
export function fromStatus(code: number, message: string): EtcdError {
  return new EtcdError(code, message, nameOfMessage(message));
}

/**
 * How etcd's gRPC layer sends an error that is not a gRPC status (v3lock and v3election run on etcd's own client,
 * whose errors are plain Go errors): Unknown, with the same message and name.
 */
export function unmapped(err: EtcdError): EtcdError {
  return new EtcdError(GrpcCode.Unknown, err.message, err.name === 'EtcdError' ? undefined : err.name);
}

/**
 * Converts anything thrown inside request handling into an EtcdError a client can be sent (Internal for what is not
 * an EtcdError). A broken invariant (AssertionError) is not an operating error: it is thrown on, never turned into a
 * reply, so that it stops the member instead of being answered and forgotten.
 */
export function toEtcdError(err: unknown): EtcdError {
  if (err instanceof EtcdError) return err;
  if (isAssertionError(err)) throw err;
  const message = err instanceof Error ? err.message : String(err);
  return new EtcdError(GrpcCode.Internal, message);
}
