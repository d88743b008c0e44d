// A linearizability checker for histories of single-key operations on a key-value store (put, get, compare-and-set
// as a txn, delete), after Porcupine: the history is split by key, since linearizability is local (a history is
// linearizable iff each object's sub-history is), and each key's operations are searched for an order that respects
// real time and the register model, depth first with backtracking (Wing & Gong) and with every visited pair of
// (set of operations already ordered, register value) remembered so no configuration is explored twice (Lowe).
//
// An operation that failed or timed out has an unknown outcome: it is given return = Infinity, so it may take effect
// anywhere after its call, or never (ordered last, it changes nothing anyone saw). Reads with an unknown outcome
// constrain nothing and are dropped. Such operations stay possible to the end, so a search that must refute a
// history would explore every configuration before the violation once per way of using them; it does not tell apart
// values no later operation can see, nor lost writes that do the same, and when it has not decided soon, a relaxed
// search that lets lost writes take effect more than once (refuting that refutes the history) usually settles it.
//
// On a violation the report names the key and, for a human, the shortest prefix of that key's history (in time)
// that already admits no order, the end of the partial order that got furthest in it, and why none of the
// operations that could come next fits. Revisions, where given, are also checked against real time and the values.

/** When and by whom; times in any unit (the report assumes milliseconds). */
export interface OperationTiming {
  clientId: number;
  key: string;
  /** when the request was sent */
  call: number;
  /** when its answer arrived; Infinity when it failed or timed out (it may or may not have taken effect) */
  return: number;
  /**
   * Optional etcd revision, checked against real time and against the values read: a put's or successful cas's
   * header.revision (the revision it wrote), or a get's mod_revision of the value it read. Ignored on reads of an
   * absent key, failed cas and deletes (none of them shows a revision of this key).
   */
  revision?: number;
}

/** Outputs are ignored when the outcome is unknown (return = Infinity). */
export type KvOperation = OperationTiming &
  (
    | { kind: 'put'; input: string; output: null }
    | { kind: 'get'; input: null; output: string | null }
    /** txn: if value == expected (null: the key is absent) then put value; output: succeeded */
    | { kind: 'cas'; input: { expected: string | null; value: string }; output: boolean }
    /** output: whether a key was deleted */
    | { kind: 'delete'; input: null; output: boolean }
  );

export interface CheckOptions {
  /** budget for the whole check, after which it gives up with timedOut; default 20 s */
  timeoutMs?: number;
  /** every key's value before the history; default absent */
  initial?: string | null;
  /** also check revisions where operations carry them; default true */
  revisions?: boolean;
  /**
   * steps per operation the exact search of a key's history may take before a relaxed one, much faster at refuting
   * histories with operations of unknown outcome, is tried (see search); default 128. For tests: 0 tries the relaxed
   * search first, Infinity never.
   */
  exactStepsPerOperation?: number;
}

export interface CheckResult {
  ok: boolean;
  /** the key whose history is not linearizable */
  key?: string;
  /** a readable account of the violation, or a summary */
  explanation: string;
  /** the search ran out of time: the history was neither proven linearizable nor refuted */
  timedOut?: boolean;
  stats: { operations: number; keys: number; maxPerKey: number; elapsedMs: number };
}

export function checkHistory(history: readonly KvOperation[], options: CheckOptions = {}): CheckResult {
  const started = performance.now();
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  const initial = options.initial ?? null;
  const exactSteps = options.exactStepsPerOperation ?? EXACT_STEPS_PER_OPERATION;
  const byKey = partitionByKey(history);
  const stats = { operations: history.length, keys: byKey.size, maxPerKey: Math.max(0, ...[...byKey.values()].map((ops) => ops.length)), elapsedMs: 0 };
  const done = (r: Omit<CheckResult, 'stats'>): CheckResult => ({ ...r, stats: { ...stats, elapsedMs: performance.now() - started } });
  for (const [key, ops] of byKey) {
    const compiled = compile(ops, initial);
    const result = search(compiled, deadline, exactSteps);
    if (result.timedOut) return done({ ok: false, key, timedOut: true, explanation: `key ${show(key)}: the search for an order of ${ops.length} operations ran out of time` });
    if (!result.ok) return done({ ok: false, key, explanation: explainViolation(key, ops, initial, deadline, exactSteps, { compiled, result }) });
  }
  if (options.revisions !== false) {
    for (const [key, ops] of byKey) {
      const problem = checkRevisions(ops);
      if (problem !== null) return done({ ok: false, key, explanation: `key ${show(key)}: ${problem}` });
    }
  }
  return done({ ok: true, explanation: `linearizable: ${history.length} operations on ${byKey.size} keys (at most ${stats.maxPerKey} on one key)` });
}

/** Operations by key, each remembering its position in the whole history (for reports). */
function partitionByKey(history: readonly KvOperation[]): Map<string, Indexed[]> {
  const byKey = new Map<string, Indexed[]>();
  history.forEach((op, index) => {
    let ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, (ops = []));
    ops.push({ op, index });
  });
  return byKey;
}

interface Indexed {
  op: KvOperation;
  /** position in the history given to checkHistory */
  index: number;
  /** in a prefix of the history: when the answer, not yet there at the cut, came */
  answeredLater?: number;
}

// ---- compiled form: integers and a doubly linked list of call and return events -------------------------------

const PUT = 0;
const GET = 1;
const CAS = 2;
const DELETE = 3;
const KIND_CODES = { put: PUT, get: GET, cas: CAS, delete: DELETE } as const;
/** the register value "absent" */
const ABSENT = 0;
/** output of an operation whose outcome is unknown */
const UNKNOWN = -1;

interface Compiled {
  /** operations with a known outcome first (0..known-1), then those without */
  ops: Indexed[];
  known: number;
  /** interned register values: values[id], id 0 = absent */
  values: (string | null)[];
  initial: number;
  kind: Uint8Array;
  /** put, cas: value written */
  written: Int32Array;
  /** cas: value expected */
  expected: Int32Array;
  /** get: value read; cas, delete: 1 or 0; UNKNOWN */
  output: Int32Array;
  /** 1 for operations that change nothing whenever they fit: reads, and a cas or delete known to have failed */
  readOnly: Uint8Array;
  /**
   * Events: op i's call is 2i, its return 2i+1 (only for a known outcome: one without may simply never be ordered,
   * which is the same as ordering it last); 2n is the list head; -1 ends the list.
   */
  next: Int32Array;
  prev: Int32Array;
}

function compile(all: readonly Indexed[], initialValue: string | null): Compiled {
  // a read whose answer was lost changed nothing and showed nothing
  const kept = all.filter(({ op }) => !(op.kind === 'get' && op.return === Infinity));
  const ops = [...kept.filter(({ op }) => op.return !== Infinity), ...kept.filter(({ op }) => op.return === Infinity)];
  const n = ops.length;
  const ids = new Map<string, number>();
  const values: (string | null)[] = [null];
  const intern = (v: string | null): number => {
    if (v === null) return ABSENT;
    let id = ids.get(v);
    if (id === undefined) {
      id = values.length;
      ids.set(v, id);
      values.push(v);
    }
    return id;
  };
  const c: Compiled = {
    ops,
    known: ops.filter(({ op }) => op.return !== Infinity).length,
    values,
    initial: intern(initialValue),
    kind: new Uint8Array(n),
    written: new Int32Array(n),
    expected: new Int32Array(n),
    output: new Int32Array(n),
    readOnly: new Uint8Array(n),
    next: new Int32Array(2 * n + 1),
    prev: new Int32Array(2 * n + 1),
  };
  ops.forEach(({ op }, i) => {
    c.kind[i] = KIND_CODES[op.kind];
    const known = op.return !== Infinity;
    if (op.kind === 'put') c.written[i] = intern(op.input);
    if (op.kind === 'cas') {
      c.written[i] = intern(op.input.value);
      c.expected[i] = intern(op.input.expected);
    }
    if (op.kind === 'get') c.output[i] = intern(op.output);
    else if (op.kind === 'cas' || op.kind === 'delete') c.output[i] = known ? Number(op.output) : UNKNOWN;
    else c.output[i] = UNKNOWN;
    c.readOnly[i] = op.kind === 'get' || (op.kind !== 'put' && c.output[i] === 0) ? 1 : 0;
  });
  linkEvents(c);
  return c;
}

/**
 * Orders the events by time into the list. At equal times calls come first: an operation that returned at the
 * instant another was called counts as concurrent with it, the weaker (never falsely failing) reading.
 */
function linkEvents(c: Compiled): void {
  const time = (e: number): number => (e % 2 === 0 ? c.ops[e >> 1]!.op.call : c.ops[e >> 1]!.op.return);
  const events = Array.from({ length: c.ops.length + c.known }, (_, k) => (k < c.ops.length ? 2 * k : 2 * (k - c.ops.length) + 1));
  events.sort((a, b) => time(a) - time(b) || (a % 2) - (b % 2) || a - b);
  let last = 2 * c.ops.length;
  c.prev[last] = -1;
  for (const e of events) {
    c.next[last] = e;
    c.prev[e] = last;
    last = e;
  }
  c.next[last] = -1;
}

/** The register after op i from `state`, or -1 if op i's output contradicts `state`. */
function step(c: Compiled, i: number, state: number): number {
  const out = c.output[i]!;
  switch (c.kind[i]) {
    case PUT:
      return c.written[i]!;
    case GET:
      return out === UNKNOWN || out === state ? state : -1;
    case CAS: {
      const hit = state === c.expected[i];
      if (out !== UNKNOWN && (out === 1) !== hit) return -1;
      return hit ? c.written[i]! : state;
    }
    default:
      if (out !== UNKNOWN && (out === 1) !== (state !== ABSENT)) return -1;
      return ABSENT;
  }
}

// ---- the search ---------------------------------------------------------------------------------------------

interface SearchResult {
  ok: boolean;
  timedOut: boolean;
  /** ok, but only with an operation with unknown outcome taking effect more than once (a relaxed search) */
  reusing?: boolean;
  /** neither: the search stopped at its budget of steps and can go on */
  paused?: boolean;
  /** for a violation: the deepest dead end */
  deadEnd: DeadEnd | null;
}

interface DeadEnd {
  /** the partial order found that places the most operations with known outcome (op numbers in Compiled.ops) */
  order: number[];
  /** the operation that had to be ordered next (its return came before anything else could be) */
  blocker: number;
  /** the operations that could have come next, none of which led anywhere */
  candidates: number[];
}

/** Where the search is: the known operations ordered, the value. */
interface Current {
  known: Uint32Array;
  state: number;
  /** the value had the last operation with unknown outcome been left out, while nothing told the two apart; or -1 */
  shadow: number;
}

/** A configuration of the search, remembered: also the operations with unknown outcome ordered. */
interface Config extends Current {
  /** as what each does (Search.signature), sorted */
  unknown: number[];
}

const NO_SHADOW = -1;
const NONE: number[] = [];
/** not a value: what an operation that observes no value observes */
const NOTHING = -2;

/** Steps, per operation, the exact search gets before a relaxed one is tried (see search). */
const EXACT_STEPS_PER_OPERATION = 128;

/**
 * With operations of unknown outcome, the exact search may take long to refute a history: every configuration up to
 * the violation is explored, times the ways of using those operations. So when it has not decided within a budget
 * (about what it needs to find an order for a linearizable history), a relaxed search runs, in which each operation
 * with unknown outcome may take effect any number of times: that only admits more orders, so if none works, none
 * works for the history either, and it is much cheaper (its configurations do not tell which of them were used). An
 * order it finds that uses each at most once is one for the history; otherwise the exact search goes on.
 */
function search(c: Compiled, deadline: number, exactStepsPerOperation: number): SearchResult {
  const exact = new Search(c, false);
  if (c.known === c.ops.length) return exact.run(deadline);
  const first = exact.run(deadline, exactStepsPerOperation * c.ops.length);
  if (first.paused !== true) return first;
  const relaxed = new Search(c, true).run(deadline);
  if (relaxed.reusing === true) return exact.run(deadline);
  // a dead end of the exact search, if as deep, reads better: the relaxed one may use a lost write twice
  if (!relaxed.ok && first.deadEnd !== null && (relaxed.deadEnd === null || knownIn(c, first.deadEnd) >= knownIn(c, relaxed.deadEnd))) return { ...relaxed, deadEnd: first.deadEnd };
  return relaxed;
}

function knownIn(c: Compiled, { order }: DeadEnd): number {
  return order.filter((i) => i < c.known).length;
}

/**
 * Porcupine's checkSingle. Walking the event list from its head, a call whose operation fits the current register
 * is tentatively ordered next (its events leave the list) unless that configuration was seen before; reaching a
 * return event means its operation should have been ordered already, so the last choice is undone and the walk goes
 * on after it. Done when every operation with a known outcome is ordered (the others can all go last).
 *
 * The register holds values as the operations not yet ordered can see them: a value that none of them reads or
 * expects (a cas with unknown outcome counts as expecting forever) is "unread", one for all such values, since from
 * here on nothing tells them apart (nor from the value they stand for: orders work alike either way). So a
 * configuration is: the known operations ordered, the value, and the operations with unknown outcome ordered, as
 * what each does now (put unread, cas from absent to unread, delete): which of several that do the same was ordered
 * does not matter, as the one not ordered can take the other's part in what follows.
 *
 * Reductions that keep this fast, each only skipping orders for which an equivalent one is still searched:
 *  - a read-only operation that fits is taken first and never undone for an alternative (see firstChoice);
 *  - operations with unknown outcome are tried after the known ones, never where they would change nothing, and
 *    never where their effect would be overwritten before anything could tell (the "shadow": the value had the
 *    operation been left out, carried until an operation behaves differently on it, which justifies the placing,
 *    or overwrites both, which does not: leaving the operation out, or ordering it last, is then as good);
 *  - a configuration is dead if one with the same known operations and value but only part of its unknown ones
 *    (as what they do) was found dead (whatever completes the larger one completes the smaller, the extra operations
 *    going last).
 * Without the last two, k lost writes make a failing search explore up to 2^k subsets of them; without merging
 * unread values and operations that do the same, the orders that differ only in which of several lost writes
 * explains an answer (a failed cas, a delete that found a value) multiply as such answers accumulate.
 */
class Search {
  private readonly n: number;
  /** operations 0..m-1 have a known outcome */
  private readonly m: number;
  private readonly head: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly zobrist: Int32Array;
  private readonly cur: Current;
  private knownLo = 0;
  private knownHi = 0;
  /** the value id standing for every value no operation not yet ordered can see */
  private readonly unread: number;
  /** per value: the operations not yet ordered that can see it (plus one forever if a lost cas expects it) */
  private readonly observers: Int32Array;
  /** per known operation: the value it observes (a read's answer, a cas's expected value), or NOTHING */
  private readonly observes: Int32Array;
  /** the operations with unknown outcome ordered, in order */
  private readonly orderedUnknown: number[] = [];
  private readonly seen = new Map<number, Config[]>();
  /** dead configurations without a shadow, by known operations and value */
  private readonly dead = new Map<number, Config[]>();
  /** the choices made (events), with the value and shadow before each; they grow in a relaxed search */
  private stackEntry: Int32Array;
  private stackState: Int32Array;
  private stackShadow: Int32Array;
  private depth = 0;
  /** known operations not yet ordered */
  private remaining: number;
  private entry = -1;
  /**
   * the walk looks at operations with a known outcome first (phase 0), then at the others (phase 1); a relaxed
   * search looks at those already in the order last (phase 2), so that the order it finds likelier uses each once
   */
  private phase = 0;
  /** relaxed: how many times each operation with unknown outcome is in the order */
  private readonly uses: Int32Array;
  private deepest = -1;
  /** steps of the walk so far */
  private iterations = 0;
  private deadEnd: DeadEnd | null = null;
  /** results of admit() */
  private afterState = 0;
  private afterShadow = NO_SHADOW;

  /**
   * @param relaxed operations with unknown outcome may take effect any number of times: they stay in the event list
   * once ordered, and configurations do not tell which were used
   */
  constructor(
    private readonly c: Compiled,
    private readonly relaxed: boolean,
  ) {
    this.n = c.ops.length;
    this.m = c.known;
    this.head = 2 * this.n;
    this.next = c.next.slice(); // the list is changed while searching, and a search that succeeds leaves it so
    this.prev = c.prev.slice();
    this.zobrist = zobristKeys(this.m);
    this.unread = c.values.length;
    this.observers = new Int32Array(c.values.length + 1);
    this.observes = new Int32Array(this.m).fill(NOTHING);
    this.uses = new Int32Array(this.n - this.m);
    for (let i = 0; i < this.n; i++) {
      const seen = c.kind[i] === GET ? c.output[i]! : c.kind[i] === CAS ? c.expected[i]! : NOTHING;
      if (seen === NOTHING) continue;
      if (i < this.m) this.observes[i] = seen;
      this.observers[seen]!++;
    }
    this.cur = { known: new Uint32Array((this.m + 31) >>> 5), state: this.visible(c.initial, NOTHING), shadow: NO_SHADOW };
    this.stackEntry = new Int32Array(Math.max(1, this.n));
    this.stackState = new Int32Array(Math.max(1, this.n));
    this.stackShadow = new Int32Array(Math.max(1, this.n));
    this.remaining = this.m;
  }

  /** Searches until done, out of time, or (paused, to be run again) after `budget` more steps. */
  run(deadline: number, budget = Infinity): SearchResult {
    const { c, next, head, m } = this;
    if (this.iterations === 0) this.entry = this.firstChoice();
    const stop = this.iterations + budget;
    while (this.remaining > 0) {
      const iterations = ++this.iterations;
      if ((iterations & 0xfff) === 0 && Date.now() > deadline) return { ok: false, timedOut: true, deadEnd: this.deadEnd };
      if (iterations > stop) return { ok: false, timedOut: false, paused: true, deadEnd: this.deadEnd };
      const entry = this.entry;
      if (entry !== -1 && entry % 2 === 0) {
        const i = entry >> 1;
        if (this.phase === this.phaseOf(i) && !this.repeats(i) && this.admit(i)) {
          this.toggle(i);
          if (this.remember(i)) {
            this.push(entry);
            continue;
          }
          this.toggle(i);
          // a read-only operation fits but its configuration was explored already: so was this one
          if (c.readOnly[i] === 1) {
            if (!this.backtrack()) return { ok: false, timedOut: false, deadEnd: this.deadEnd };
            continue;
          }
        }
        this.entry = next[entry]!;
        continue;
      }
      // A return event (the end of the list cannot come first while a known operation is left): its operation had
      // to be ordered before here. Unless operations with unknown outcome are still to be tried, undo the last
      // choice. They come last because leaving them out is the likelier way on, and explored first, the smaller
      // sets make the larger ones dead by dominance.
      if (this.phase < (this.relaxed ? 2 : 1) && this.n > m) {
        this.phase++;
        this.entry = next[head]!;
        continue;
      }
      // the most telling dead end orders the most operations with known outcomes
      if (this.m - this.remaining > this.deepest && entry !== -1) {
        this.deepest = this.m - this.remaining;
        this.deadEnd = describeDeadEnd(c, next, this.stackEntry, this.depth, entry);
      }
      if (!this.backtrack()) return { ok: false, timedOut: false, deadEnd: this.deadEnd };
    }
    return { ok: true, timedOut: false, deadEnd: null, reusing: this.relaxed && this.reuses() };
  }

  /** Whether the order found has an operation twice. */
  private reuses(): boolean {
    const used = new Set<number>();
    for (let k = 0; k < this.depth; k++) {
      if (used.has(this.stackEntry[k]!)) return true;
      used.add(this.stackEntry[k]!);
    }
    return false;
  }

  /**
   * Value v as the operations not yet ordered see it, once op `ordering` is ordered too (the value it observes is
   * passed, or NOTHING): itself while one of them can see it, else unread.
   */
  private visible(v: number, ordering: number): number {
    if (v < 0 || v === ABSENT || v === this.unread) return v;
    return this.observers[v]! - (v === ordering ? 1 : 0) > 0 ? v : this.unread;
  }

  /** Whether op i may come next; if so sets afterState and afterShadow. */
  private admit(i: number): boolean {
    const { c, cur } = this;
    const unknown = i >= this.m;
    const ordering = unknown ? NOTHING : this.observes[i]!;
    const a = this.visible(step(c, i, cur.state), ordering);
    if (a < 0) return false;
    const before = this.visible(cur.state, ordering);
    if (unknown && a === before) return false;
    let shadow = unknown ? before : NO_SHADOW;
    if (cur.shadow !== NO_SHADOW) {
      const b = this.visible(step(c, i, cur.shadow), ordering);
      if (b === a) return false; // overwrites the last unknown operation's effect before anything saw it
      const shadowBefore = this.visible(cur.shadow, ordering);
      if (a === before && b === shadowBefore) shadow = shadowBefore; // behaves alike on both: still unseen
    }
    this.afterState = a;
    this.afterShadow = shadow;
    return true;
  }

  private push(entry: number): void {
    const { cur } = this;
    const i = entry >> 1;
    if (this.depth === this.stackEntry.length) this.growStack();
    this.stackEntry[this.depth] = entry;
    this.stackState[this.depth] = cur.state;
    this.stackShadow[this.depth] = cur.shadow;
    this.depth++;
    if (i < this.m) {
      this.remaining--;
      if (this.observes[i] !== NOTHING) this.observers[this.observes[i]!]!--;
    } else {
      this.orderedUnknown.push(i);
      this.uses[i - this.m]!++;
    }
    cur.state = this.afterState;
    cur.shadow = this.afterShadow;
    this.lift(entry);
    this.entry = this.firstChoice();
    this.phase = 0;
  }

  private growStack(): void {
    const grown = (a: Int32Array): Int32Array => {
      const b = new Int32Array(2 * a.length);
      b.set(a);
      return b;
    };
    this.stackEntry = grown(this.stackEntry);
    this.stackState = grown(this.stackState);
    this.stackShadow = grown(this.stackShadow);
  }

  /** Undoes choices back to the last one worth an alternative; false when there is none. */
  private backtrack(): boolean {
    const { c, cur } = this;
    let entry: number;
    do {
      this.markDead();
      if (this.depth === 0) return false;
      this.depth--;
      entry = this.stackEntry[this.depth]!;
      const i = entry >> 1;
      cur.state = this.stackState[this.depth]!;
      cur.shadow = this.stackShadow[this.depth]!;
      this.toggle(i);
      this.unlift(entry);
      if (i < this.m) {
        this.remaining++;
        if (this.observes[i] !== NOTHING) this.observers[this.observes[i]!]!++;
      } else {
        this.orderedUnknown.pop();
        this.uses[i - this.m]!--;
      }
    } while (c.readOnly[entry >> 1] === 1);
    this.phase = this.phaseOf(entry >> 1);
    this.entry = this.next[entry]!;
    return true;
  }

  /**
   * Where to start at a new configuration: a read-only operation that fits, if there is one. Such an operation can
   * always be moved to the front of any order that works from here (it changes nothing, and everything that had to
   * precede it already has), so once it fits, trying the alternatives to it is wasted work.
   */
  private firstChoice(): number {
    const { c, next } = this;
    for (let e = next[this.head]!; e !== -1 && e % 2 === 0; e = next[e]!) if (c.readOnly[e >> 1] === 1 && this.admit(e >> 1)) return e;
    return next[this.head]!;
  }

  private lift(e: number): void {
    const { next, prev } = this;
    if (this.relaxed && e >> 1 >= this.m) return;
    next[prev[e]!] = next[e]!;
    if (next[e]! !== -1) prev[next[e]!] = prev[e]!;
    if (e >> 1 >= this.m) return;
    const r = e + 1;
    next[prev[r]!] = next[r]!;
    if (next[r]! !== -1) prev[next[r]!] = prev[r]!;
  }

  private unlift(e: number): void {
    const { next, prev } = this;
    if (this.relaxed && e >> 1 >= this.m) return;
    if (e >> 1 < this.m) {
      const r = e + 1;
      next[prev[r]!] = r;
      if (next[r]! !== -1) prev[next[r]!] = r;
    }
    next[prev[e]!] = e;
    if (next[e]! !== -1) prev[next[e]!] = e;
  }

  /** Adds a known operation to, or removes it from, the ordered ones. */
  private toggle(i: number): void {
    if (i >= this.m) return;
    const { cur, zobrist } = this;
    cur.known[i >>> 5]! ^= 1 << (i & 31);
    this.knownLo ^= zobrist[2 * i]!;
    this.knownHi ^= zobrist[2 * i + 1]!;
  }

  /**
   * What op i (with unknown outcome) does, as the operations not yet ordered see it, once op `ordering` is ordered
   * too: its kind and the values it expects and writes, as one number.
   */
  private signature(i: number, ordering: number): number {
    const { c } = this;
    const values = this.unread + 1;
    const written = c.kind[i] === DELETE ? 0 : this.visible(c.written[i]!, ordering);
    return (written * values + (c.kind[i] === CAS ? c.expected[i]! : 0)) * 4 + c.kind[i]!;
  }

  /**
   * The ordered operations with unknown outcome as what they do (signature), sorted; with op `pending`, about to be
   * ordered, if not -1.
   */
  private unknownOrdered(pending: number): number[] {
    if (this.relaxed) return this.sinceKnown(pending);
    if (this.orderedUnknown.length === 0 && pending < this.m) return NONE;
    const ordering = pending >= 0 && pending < this.m ? this.observes[pending]! : NOTHING;
    const signatures = this.orderedUnknown.map((u) => this.signature(u, ordering));
    if (pending >= this.m) signatures.push(this.signature(pending, ordering));
    return signatures.sort((a, b) => a - b);
  }

  /**
   * In a relaxed search: the operations with unknown outcome ordered since the last known one, with op `pending`,
   * sorted. Keeping them apart keeps the search from going round in circles (the same value, shadow and known
   * operations reached again by ordering lost writes), which would break the rule that a configuration seen before
   * has no way on; and none of them needs ordering twice in a row of them.
   */
  private sinceKnown(pending: number): number[] {
    if ((pending >= 0 && pending < this.m) || (pending < 0 && this.depth > 0 && this.stackEntry[this.depth - 1]! >> 1 < this.m)) return NONE;
    const ops: number[] = pending >= this.m ? [pending] : [];
    for (let k = this.depth - 1; k >= 0 && this.stackEntry[k]! >> 1 >= this.m; k--) ops.push(this.stackEntry[k]! >> 1);
    return ops.sort((a, b) => a - b);
  }

  /** The phase of the walk in which op i is tried. */
  private phaseOf(i: number): number {
    return i < this.m ? 0 : this.relaxed && this.uses[i - this.m]! > 0 ? 2 : 1;
  }

  /** In a relaxed search, whether op i was ordered since the last known operation. */
  private repeats(i: number): boolean {
    if (!this.relaxed || i < this.m) return false;
    for (let k = this.depth - 1; k >= 0 && this.stackEntry[k]! >> 1 >= this.m; k--) if (this.stackEntry[k]! >> 1 === i) return true;
    return false;
  }

  /** Remembers the configuration ordering op i leads to; false if seen before or dominated by a dead one. */
  private remember(i: number): boolean {
    const { cur } = this;
    const state = this.afterState;
    const shadow = this.afterShadow;
    const unknown = this.unknownOrdered(i);
    const [lo, hi] = multisetHash(unknown);
    const key = hashOf(this.knownLo ^ lo, this.knownHi ^ hi, state, shadow);
    let bucket = this.seen.get(key);
    if (bucket === undefined) this.seen.set(key, (bucket = []));
    else if (bucket.some((x) => x.state === state && x.shadow === shadow && sameBits(x.known, cur.known) && sameNumbers(x.unknown, unknown))) return false;
    bucket.push({ known: cur.known.slice(), unknown, state, shadow });
    if (this.n === this.m || this.relaxed) return true;
    const sameKnown = this.dead.get(hashOf(this.knownLo, this.knownHi, state, NO_SHADOW));
    return sameKnown === undefined || !sameKnown.some((x) => x.state === state && sameBits(x.known, cur.known) && isSubMultiset(x.unknown, unknown));
  }

  /** Records the current configuration as dead, for dominance (only without a shadow: see the class comment). */
  private markDead(): void {
    const { cur } = this;
    if (this.n === this.m || this.relaxed || cur.shadow !== NO_SHADOW) return;
    const key = hashOf(this.knownLo, this.knownHi, cur.state, NO_SHADOW);
    let bucket = this.dead.get(key);
    if (bucket === undefined) this.dead.set(key, (bucket = []));
    bucket.push({ known: cur.known.slice(), unknown: this.unknownOrdered(-1), state: cur.state, shadow: NO_SHADOW });
  }
}

/** A 53-bit key from a set's 64-bit hash and the register (and shadow) values. */
function hashOf(lo: number, hi: number, state: number, shadow: number): number {
  const s = Math.imul(state, 0x9e3779b1) ^ Math.imul(shadow + 2, 0x27d4eb2f);
  return ((hi ^ Math.imul(s, 0x85ebca6b)) & 0x1fffff) * 0x1_0000_0000 + ((lo ^ s) >>> 0);
}

/** The dead end the search is at: its order, and in its event list the calls before the return event reached. */
function describeDeadEnd(c: Compiled, next: Int32Array, stackEntry: Int32Array, depth: number, returnEvent: number): DeadEnd {
  const order = Array.from(stackEntry.subarray(0, depth), (e) => e >> 1);
  const candidates: number[] = [];
  for (let e = next[2 * c.ops.length]!; e !== returnEvent && e !== -1; e = next[e]!) if (e % 2 === 0) candidates.push(e >> 1);
  return { order, blocker: returnEvent >> 1, candidates };
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether sorted a is part of sorted b, counting repeats. */
function isSubMultiset(a: readonly number[], b: readonly number[]): boolean {
  let j = 0;
  for (const x of a) {
    while (j < b.length && b[j]! < x) j++;
    if (j === b.length || b[j] !== x) return false;
    j++;
  }
  return true;
}

/** A 64-bit hash of a multiset of numbers below 2^53, as two 32-bit halves. */
function multisetHash(xs: readonly number[]): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const x of xs) {
    const l = x % 0x1_0000_0000 | 0;
    const h = Math.floor(x / 0x1_0000_0000) | 0;
    lo = (lo + mix(l ^ Math.imul(h, 0x85ebca6b), 0x9e3779b1)) | 0;
    hi = (hi + mix(h ^ Math.imul(l, 0xc2b2ae35), 0x27d4eb2f)) | 0;
  }
  return [lo, hi];
}

function mix(x: number, k: number): number {
  x = Math.imul(x ^ (x >>> 16), k);
  x = Math.imul(x ^ (x >>> 13), 0x165667b1);
  return x ^ (x >>> 16);
}

/** Two random 32-bit words per operation (fixed seed: runs are reproducible), XORed into the set's hash. */
function zobristKeys(n: number): Int32Array {
  const keys = new Int32Array(2 * n);
  let s = 0x2545f491;
  for (let i = 0; i < keys.length; i++) {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    keys[i] = t ^ (t >>> 14);
  }
  return keys;
}

// ---- reports --------------------------------------------------------------------------------------------------

/** How long a report may spend looking for the shortest failing prefix. */
const EXPLAIN_BUDGET_MS = 5000;

interface Failing {
  /** the prefix cut (null: the whole history) */
  cut: number | null;
  compiled: Compiled;
  result: SearchResult;
}

/**
 * Cuts the key's history at the return of an operation and looks for the earliest cut that already admits no order
 * (a cut keeps what was called by then; what had not returned by then becomes unknown, so a failing cut proves the
 * whole history fails, and every later cut fails too). The operation returning at that cut is the first one whose
 * answer cannot be explained. The search starts at the return of the operation the whole history's search got
 * stuck on, which is usually at or just after that cut, gallops to bracket it, then bisects.
 */
function explainViolation(key: string, ops: readonly Indexed[], initial: string | null, deadline: number, exactSteps: number, whole: Omit<Failing, 'cut'>): string {
  const cuts = [...new Set(ops.map(({ op }) => op.return).filter((t) => t !== Infinity))].sort((a, b) => a - b);
  const budget = Math.min(deadline, Date.now() + EXPLAIN_BUDGET_MS);
  let lo = -1; // the latest cut known to pass (before the first, nothing fails)
  let hi = cuts.length - 1; // the earliest cut known to fail
  let failing: Failing = { cut: null, ...whole };
  /** Whether cut k fails; null when out of time. */
  const probe = (k: number): boolean | null => {
    const compiled = compile(truncate(ops, cuts[k]!), initial);
    const result = search(compiled, budget, exactSteps);
    if (result.timedOut) return null;
    if (result.ok) lo = k;
    else [hi, failing] = [k, { cut: cuts[k]!, compiled, result }];
    return !result.ok;
  };
  const stuck = whole.result.deadEnd === null ? -1 : cuts.indexOf(whole.compiled.ops[whole.result.deadEnd.blocker]!.op.return);
  let verdict = stuck >= 0 && stuck < hi ? probe(stuck) : true;
  for (let d = 1; verdict !== null; d *= 2) {
    const k = verdict ? hi - d : lo + d;
    if (k <= lo || k >= hi) break;
    const v = probe(k);
    if (v !== verdict) break;
  }
  while (verdict !== null && hi - lo > 1) verdict = probe((lo + hi) >> 1);
  return render(key, ops.length, failing, hi - lo === 1);
}

/** The history as known at time `cut`. */
function truncate(ops: readonly Indexed[], cut: number): Indexed[] {
  return ops
    .filter(({ op }) => op.call <= cut)
    .map((x) => (x.op.return <= cut ? x : { index: x.index, op: { ...x.op, return: Infinity }, ...(x.op.return !== Infinity ? { answeredLater: x.op.return } : {}) }));
}

const SHOWN_STEPS = 8;
const SHOWN_CANDIDATES = 12;

function render(key: string, total: number, { cut, compiled: c, result }: Failing, shortest: boolean): string {
  const lines = [`key ${show(key)}: not linearizable (${total} operations on it).`];
  if (cut !== null) {
    lines.push(`${shortest ? 'The shortest' : 'A'} failing prefix is the ${c.ops.length} operations called by ${time(cut)}, when this returned:`);
    for (const x of c.ops.filter(({ op }) => op.return === cut)) lines.push(`  ${describe(x)}`);
  }
  if (result.deadEnd !== null) lines.push(...renderDeadEnd(c, result.deadEnd));
  return lines.join('\n');
}

/** The end of the partial order that got furthest, and why each operation that could come next does not. */
function renderDeadEnd(c: Compiled, { order, blocker, candidates }: DeadEnd): string[] {
  const value = (id: number): string => show(c.values[id] ?? null);
  const states = replay(c, order);
  const state = states[order.length - 1] ?? c.initial;
  const lines = [`The partial order found that places the most operations with known outcome (${order.length} in all) ends:`];
  if (order.length > SHOWN_STEPS) lines.push('  ...');
  for (let k = Math.max(0, order.length - SHOWN_STEPS); k < order.length; k++) lines.push(`  ${describe(c.ops[order[k]!]!)}   => ${value(states[k]!)}`);
  lines.push(`Then the value is ${value(state)}, and none of the operations that may come next leads anywhere:`);
  // operations with unknown outcome that would change nothing here are not worth a line each
  const idle = candidates.filter((i) => i >= c.known && step(c, i, state) === state);
  // the one that cannot wait first, then those with known outcome
  const rest = candidates.filter((i) => i !== blocker && !idle.includes(i)).sort((a, b) => Number(a >= c.known) - Number(b >= c.known));
  const shown = [blocker, ...rest];
  for (const i of shown.slice(0, SHOWN_CANDIDATES)) {
    const verdict = step(c, i, state) < 0 ? 'contradicts it' : 'fits, but leads only to dead ends';
    lines.push(`  ${describe(c.ops[i]!)}   ${verdict}${i === blocker ? ' (and cannot wait: the rest was called after it returned)' : ''}`);
  }
  if (shown.length > SHOWN_CANDIDATES) lines.push(`  ... and ${shown.length - SHOWN_CANDIDATES} more`);
  if (idle.length > 0) lines.push(`  (and ${idle.length} operations with unknown outcome that would change nothing here)`);
  return lines;
}

/**
 * The register after each operation of an order the search found, with the values as written, not as the search
 * saw them (Search.visible: it tells apart only the values operations still to come can see).
 */
function replay(c: Compiled, order: readonly number[]): number[] {
  let state = c.initial;
  return order.map((i) => (state = step(c, i, state)));
}

function describe({ op, index, answeredLater }: Indexed): string {
  const unknown = op.return === Infinity;
  let what: string;
  switch (op.kind) {
    case 'put':
      what = `put ${show(op.input)}`;
      break;
    case 'get':
      what = `get${unknown ? '' : ` -> ${show(op.output)}`}`;
      break;
    case 'cas':
      what = `cas ${show(op.input.expected)} -> ${show(op.input.value)}${unknown ? '' : op.output ? ': succeeded' : ': failed'}`;
      break;
    case 'delete':
      what = `delete${unknown ? '' : op.output ? ': deleted' : ': nothing to delete'}`;
      break;
  }
  const rev = op.revision === undefined || unknown ? '' : ` @rev ${op.revision}`;
  const pending = answeredLater !== undefined ? ` (no answer yet: it came at ${time(answeredLater)})` : unknown ? ' (no answer: outcome unknown)' : '';
  return `#${index} client ${op.clientId} ${what}${pending}${rev} [${time(op.call)} .. ${unknown ? '?' : time(op.return)}]`;
}

function time(t: number): string {
  return `${t.toFixed(3)} ms`;
}

function show(v: string | null): string {
  return v === null ? '(absent)' : JSON.stringify(v);
}

// ---- revisions ----------------------------------------------------------------------------------------------

/**
 * etcd's revisions are a total order of writes that must agree with real time: whatever an operation saw or wrote
 * is at least as new as what any operation that returned before it began saw or wrote (strictly newer for a
 * write), and a read at mod_revision r returns what the write at r wrote. Returns a description of the first
 * contradiction, or null.
 */
function checkRevisions(ops: readonly Indexed[]): string | null {
  // failed cas, deletes and reads of an absent key show no revision of this key
  const withRevision = ops.filter(
    ({ op }) => op.revision !== undefined && op.return !== Infinity && op.kind !== 'delete' && !(op.kind === 'cas' && !op.output) && !(op.kind === 'get' && op.output === null),
  );
  const isWrite = (op: KvOperation): boolean => op.kind !== 'get';
  const writes = new Map<number, Indexed>();
  for (const x of withRevision) {
    if (!isWrite(x.op)) continue;
    const other = writes.get(x.op.revision!);
    if (other !== undefined) return `${describe(other)} and ${describe(x)} both claim revision ${x.op.revision}`;
    writes.set(x.op.revision!, x);
  }
  for (const x of withRevision) {
    if (x.op.kind !== 'get') continue;
    const w = writes.get(x.op.revision!);
    if (w !== undefined && writtenValue(w.op) !== x.op.output) return `${describe(x)} read mod_revision ${x.op.revision}, which ${describe(w)} wrote`;
  }
  const byCall = [...withRevision].sort((a, b) => a.op.call - b.op.call);
  const byReturn = [...withRevision].sort((a, b) => a.op.return - b.op.return);
  let newest: Indexed | null = null;
  let r = 0;
  for (const x of byCall) {
    while (r < byReturn.length && byReturn[r]!.op.return < x.op.call) {
      const y = byReturn[r++]!;
      if (newest === null || y.op.revision! > newest.op.revision!) newest = y;
    }
    if (newest === null) continue;
    const floor = newest.op.revision!;
    if (x.op.revision! < floor || (isWrite(x.op) && x.op.revision === floor)) {
      return `revisions contradict real time: ${describe(newest)} returned before ${describe(x)} was called`;
    }
  }
  return null;
}

function writtenValue(op: KvOperation): string | null {
  if (op.kind === 'put') return op.input;
  if (op.kind === 'cas') return op.input.value;
  return null;
}
