// A model of the MVCC key space at every revision, for tests of the tables: each revision's key space, its events in
// order (with the version each replaced), and every write with its sub (index within its revision).

import { EventType, type Event, type KeyValue } from '../../src/proto/index.js';

export const buf = (s: string): Buffer => Buffer.from(s, 'latin1');
export const str = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
export const byBytes = (x: string, y: string): number => Buffer.compare(buf(x), buf(y));

export interface MKv {
  key: string;
  value: string;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease: bigint;
}
export interface MEvent {
  type: 'PUT' | 'DELETE';
  key: string;
  kv: MKv | null;
  prev: MKv | undefined;
}
export interface MWrite {
  key: string;
  revision: number;
  sub: number;
  tombstone: boolean;
}

/** Every revision of the key space, its events, and every write ever made. */
export class Model {
  /** states[r] = the key space at revision r */
  readonly states: Map<string, MKv>[] = [new Map(), new Map()];
  readonly events = new Map<number, MEvent[]>();
  readonly writes: MWrite[] = [];
  constructor(readonly keys: readonly string[]) {}

  get revision(): number {
    return this.states.length - 1;
  }

  /** Applies one revision's writes (puts and deletes of distinct keys, in order); no write, no revision. */
  apply(writes: ({ put: string; value: string; lease?: bigint } | { del: string })[]): void {
    const before = this.states[this.revision]!;
    const next = new Map(before);
    const rev = this.revision + 1;
    const evs: MEvent[] = [];
    for (const w of writes) {
      if ('put' in w) {
        const prev = next.get(w.put);
        const kv: MKv = { key: w.put, value: w.value, create_revision: prev?.create_revision ?? rev, mod_revision: rev, version: (prev?.version ?? 0) + 1, lease: w.lease ?? 0n };
        next.set(w.put, kv);
        this.writes.push({ key: w.put, revision: rev, sub: evs.length, tombstone: false });
        evs.push({ type: 'PUT', key: w.put, kv, prev });
      } else {
        const prev = next.get(w.del);
        if (prev === undefined) continue;
        next.delete(w.del);
        this.writes.push({ key: w.del, revision: rev, sub: evs.length, tombstone: true });
        evs.push({ type: 'DELETE', key: w.del, kv: null, prev });
      }
    }
    if (evs.length === 0) return;
    this.states.push(next);
    this.events.set(rev, evs);
  }

  keysIn(start: string, end: string | undefined | null): string[] {
    return this.keys.filter((k) => (end === undefined ? k === start : byBytes(k, start) >= 0 && (end === null || byBytes(k, end) < 0))).sort(byBytes);
  }
}

export function kvText(kv: KeyValue | MKv | undefined, keysOnly = false): string {
  if (kv === undefined) return '-';
  const value = keysOnly ? '' : typeof kv.value === 'string' ? kv.value : str(kv.value);
  const key = typeof kv.key === 'string' ? kv.key : str(kv.key);
  return JSON.stringify([key, value, kv.create_revision, kv.mod_revision, kv.version, String(kv.lease)]);
}

export function eventText(ev: Event): string {
  const kv = ev.type === EventType.DELETE ? `del ${JSON.stringify(str(ev.kv.key))}@${ev.kv.mod_revision}` : `put ${kvText(ev.kv)}`;
  return `${kv} prev ${kvText(ev.prev_kv)}`;
}

export function modelEventText(rev: number, ev: MEvent, prev: MKv | undefined): string {
  const kv = ev.type === 'DELETE' ? `del ${JSON.stringify(ev.key)}@${rev}` : `put ${kvText(ev.kv!)}`;
  return `${kv} prev ${kvText(prev)}`;
}

