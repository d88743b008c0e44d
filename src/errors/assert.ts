// Invariants: conditions the code relies on and no input can break. A broken one is a bug or damaged storage, never
// an operating error: it throws node:assert's AssertionError, which stays on in production and is never turned into
// an answer to a client; the member stops and Raft recovers it from disk.

import { AssertionError } from 'node:assert';

export { AssertionError };

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError({ message: `assertion failed: ${message}` });
}
