// Named failpoints for crash tests: a test starts a member with ETCD_TS_FAILPOINTS="name=crash" (or "name=crash@N",
// the Nth time the point is passed; several separated by commas) and the process dies there at once, as with kill -9
// (SIGKILL to itself: no exit handlers, no flush). "name=error[@N]" throws an error there instead, once: what a failed
// disk write does at that step (the member must stop cleanly, exit 1, and recover on restart); meaningful where the
// step's errors are handled, so far apply.beforeCommit (its transaction aborts). Off by default; passing a point then
// costs one null check.
//
// Points placed so far (what a test can name):
//   persist.afterFlush   a Ready's entries and hard state are durable, nothing of it is sent or applied yet
//   apply.beforeCommit   inside an apply transaction, after the batch's writes, before its commit (its waiters are
//                        answered right after the transaction's callback, so some may have been answered: a test of
//                        what is acknowledged, since the log already holds the batch)
//   apply.afterCommit    an apply transaction committed, its state not yet published to readers and watchers
//   compaction.step      inside a physical compaction step's write transaction, after its deletes
//   migration.chunk      after a chunk of a storage-format migration committed

interface Armed {
  action: 'crash' | 'error';
  /** passes left before the action (1: the next one) */
  remaining: number;
}

/** What an `error` failpoint throws. */
class FailpointError extends Error {
  constructor(name: string) {
    super(`failpoint ${name}: injected error`);
    this.name = 'FailpointError';
  }
}

function parse(spec: string | undefined): Map<string, Armed> | null {
  if (spec === undefined || spec.trim() === '') return null;
  const out = new Map<string, Armed>();
  for (const part of spec.split(',')) {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*=\s*(crash|error)(?:@(\d+))?\s*$/.exec(part);
    if (m === null) throw new Error(`ETCD_TS_FAILPOINTS: cannot parse ${JSON.stringify(part)} (expected name=crash, name=error, or either @N)`);
    out.set(m[1]!, { action: m[2] as Armed['action'], remaining: m[3] === undefined ? 1 : Math.max(1, Number(m[3])) });
  }
  return out;
}

const armed = parse(process.env['ETCD_TS_FAILPOINTS']);

/** Passes the named point: dies (or throws) here if a test armed it and this is the pass it asked for. */
export function failpoint(name: string): void {
  if (armed === null) return;
  const a = armed.get(name);
  if (a === undefined) return;
  if (--a.remaining !== 0) return; // an error fires once; later passes go through
  if (a.action === 'error') {
    process.stderr.write(`failpoint ${name}: throwing an error\n`);
    throw new FailpointError(name);
  }
  process.stderr.write(`failpoint ${name}: crashing (SIGKILL)\n`);
  process.kill(process.pid, 'SIGKILL');
}

/** Whether any failpoint is armed in this process (for a start-up log line). */
export function failpointsArmed(): string[] {
  return armed === null ? [] : [...armed.keys()];
}
