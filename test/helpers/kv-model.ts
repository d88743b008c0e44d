// A reference model of etcd's key space for the operations the crash tests generate: put, delete (key or range) and
// single-level txns with compares on version, mod revision and value. Applying the same operations in the same order
// to the model and to a member must give the same revisions, responses and final key space.

import type { Rng } from './rng.js';

export interface ModelKv {
  value: string;
  create_revision: number;
  mod_revision: number;
  version: number;
}

export type ModelWrite =
  | { op: 'put'; key: string; value: string }
  | { op: 'delete'; key: string; rangeEnd?: string };

export interface ModelCompare {
  key: string;
  target: 'VERSION' | 'MOD' | 'VALUE';
  result: 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
  version?: number;
  mod_revision?: number;
  value?: string;
}

export type ModelOp = ModelWrite | { op: 'txn'; compare: ModelCompare[]; success: ModelWrite[]; failure: ModelWrite[] };

/** What the member must answer for an op: the header revision, and per kind the deleted count or txn outcome. */
export interface ModelOutcome {
  revision: number;
  deleted?: number;
  succeeded?: boolean;
}

export class KvModel {
  revision = 1;
  readonly keys = new Map<string, ModelKv>();

  clone(): KvModel {
    const m = new KvModel();
    m.revision = this.revision;
    for (const [k, v] of this.keys) m.keys.set(k, { ...v });
    return m;
  }

  private inRange(key: string, start: string, end: string | undefined): boolean {
    if (end === undefined) return key === start;
    return Buffer.compare(Buffer.from(key), Buffer.from(start)) >= 0 && Buffer.compare(Buffer.from(key), Buffer.from(end)) < 0;
  }

  /** Applies writes at revision `rev`; returns how many keys each changed (puts count 1). */
  private write(w: ModelWrite, rev: number): number {
    if (w.op === 'put') {
      const prev = this.keys.get(w.key);
      this.keys.set(w.key, {
        value: w.value,
        create_revision: prev ? prev.create_revision : rev,
        mod_revision: rev,
        version: prev ? prev.version + 1 : 1,
      });
      return 1;
    }
    let n = 0;
    for (const k of [...this.keys.keys()]) {
      if (this.inRange(k, w.key, w.rangeEnd)) {
        this.keys.delete(k);
        n++;
      }
    }
    return n;
  }

  private holds(c: ModelCompare): boolean {
    const kv = this.keys.get(c.key);
    if (kv === undefined && c.target === 'VALUE') return false;
    let cmp: number;
    if (c.target === 'VALUE') cmp = Buffer.compare(Buffer.from(kv!.value), Buffer.from(c.value ?? ''));
    else if (c.target === 'VERSION') cmp = Math.sign((kv?.version ?? 0) - (c.version ?? 0));
    else cmp = Math.sign((kv?.mod_revision ?? 0) - (c.mod_revision ?? 0));
    switch (c.result) {
      case 'EQUAL': return cmp === 0;
      case 'NOT_EQUAL': return cmp !== 0;
      case 'GREATER': return cmp > 0;
      case 'LESS': return cmp < 0;
    }
  }

  apply(op: ModelOp): ModelOutcome {
    const rev = this.revision + 1;
    if (op.op === 'put') {
      this.write(op, rev);
      this.revision = rev;
      return { revision: rev };
    }
    if (op.op === 'delete') {
      const deleted = this.write(op, rev);
      if (deleted > 0) this.revision = rev;
      return { revision: this.revision, deleted };
    }
    const succeeded = op.compare.every((c) => this.holds(c));
    let changed = 0;
    for (const w of succeeded ? op.success : op.failure) changed += this.write(w, rev);
    if (changed > 0) this.revision = rev;
    return { revision: this.revision, succeeded };
  }

  /** Sorted [key, kv] pairs: the whole key space. */
  entries(): [string, ModelKv][] {
    return [...this.keys.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }
}

/**
 * Random valid operations over a small key set, so that they interact (overwrites, deletes of live keys, txns whose
 * compares go both ways). Values name the op that wrote them. Within a txn branch every key is written at most once
 * and never inside a range the branch deletes, so etcd accepts every op and none fails at apply time.
 */
export function randomOps(rng: Rng, count: number, prefix: string, keySpace = 40): ModelOp[] {
  const key = (i: number): string => `${prefix}${String(i).padStart(3, '0')}`;
  const ops: ModelOp[] = [];
  const write = (i: number, used: Set<number>): ModelWrite | null => {
    const k = rng.int(keySpace);
    if (used.has(k)) return null;
    used.add(k);
    return rng.next() < 0.75 ? { op: 'put', key: key(k), value: `v${i}-${k}` } : { op: 'delete', key: key(k) };
  };
  for (let i = 0; i < count; i++) {
    const r = rng.int(100);
    if (r < 55) ops.push({ op: 'put', key: key(rng.int(keySpace)), value: `v${i}` });
    else if (r < 65) ops.push({ op: 'delete', key: key(rng.int(keySpace)) });
    else if (r < 70) {
      const a = rng.int(keySpace);
      const b = Math.min(keySpace, a + 1 + rng.int(6));
      ops.push({ op: 'delete', key: key(a), rangeEnd: key(b) });
    } else {
      const compare: ModelCompare[] = [];
      for (let c = rng.int(3); c > 0; c--) {
        const target = rng.pick(['VERSION', 'MOD', 'VALUE'] as const);
        const result = rng.pick(['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'] as const);
        const k = key(rng.int(keySpace));
        if (target === 'VERSION') compare.push({ key: k, target, result, version: rng.int(3) });
        else if (target === 'MOD') compare.push({ key: k, target, result, mod_revision: rng.int(i + 2) });
        else compare.push({ key: k, target, result, value: `v${rng.int(i + 1)}` });
      }
      const branch = (): ModelWrite[] => {
        const used = new Set<number>();
        const out: ModelWrite[] = [];
        for (let n = rng.int(4); n > 0; n--) {
          const w = write(i, used);
          if (w !== null) out.push(w);
        }
        return out;
      };
      const success = branch();
      const failure = branch();
      // A txn without writes is read-only: etcd answers it without going through the log, out of order with the
      // writes in flight, so the generator never makes one.
      if (success.length + failure.length === 0) success.push({ op: 'put', key: key(rng.int(keySpace)), value: `v${i}` });
      ops.push({ op: 'txn', compare, success, failure });
    }
  }
  return ops;
}
