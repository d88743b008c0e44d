// Invariants: checks that stay on in production. A broken invariant is a bug, not an operating error: it throws
// node:assert's AssertionError, which no handler may answer as a request error or ignore (toEtcdError throws it
// on), so it stops the member; Raft recovers the member from disk.

import { AssertionError } from 'node:assert';

export { AssertionError };

/**
 * Throws AssertionError with `message` when `condition` is false. Pass a function for a message that costs
 * something to build: it is called only on failure.
 */
export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (condition) return;
  throw new AssertionError({ message: typeof message === 'string' ? message : message(), stackStartFn: invariant });
}

export function isAssertionError(err: unknown): err is AssertionError {
  return err instanceof AssertionError;
}
