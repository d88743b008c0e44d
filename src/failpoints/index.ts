// Named failpoints for crash tests: a test starts a member with ETCD_TS_FAILPOINTS="name=crash" (or "name=crash@N",
// the Nth time the point is passed; several separated by commas) and the process dies there at once, as with kill -9
// (SIGKILL to itself: no exit handlers, no flush). Off by default; passing a point then costs one null check.
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
  /** passes left before the crash (1: the next one) */
  remaining: number;
}

function parse(spec: string | undefined): Map<string, Armed> | null {
  if (spec === undefined || spec.trim() === '') return null;
  const out = new Map<string, Armed>();
  for (const part of spec.split(',')) {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*=\s*crash(?:@(\d+))?\s*$/.exec(part);
    if (m === null) throw new Error(`ETCD_TS_FAILPOINTS: cannot parse ${JSON.stringify(part)} (expected name=crash or name=crash@N)`);
    out.set(m[1]!, { remaining: m[2] === undefined ? 1 : Math.max(1, Number(m[2])) });
  }
  return out;
}

const armed = parse(process.env['ETCD_TS_FAILPOINTS']);

/** Passes the named point: dies here if a test armed it and this is the pass it asked for. */
export function failpoint(name: string): void {
  if (armed === null) return;
  const a = armed.get(name);
  if (a === undefined) return;
  if (--a.remaining > 0) return;
  process.stderr.write(`failpoint ${name}: crashing (SIGKILL)\n`);
  process.kill(process.pid, 'SIGKILL');
}

/** Whether any failpoint is armed in this process (for a start-up log line). */
export function failpointsArmed(): string[] {
  return armed === null ? [] : [...armed.keys()];
}
