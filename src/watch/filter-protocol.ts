// The watch filter's view of the synced watchers and the messages that keep it up to date, shared by the main thread
// (src/watch/filter-pool.ts) and the filter worker (workers/watch-filter-worker.ts). Pure: no I/O, no threads.
//
// Request message (main -> worker): a msgpack array of items, applied in order:
//   [ADD, serial, start, endKind, end, flags, nextRev]   register or replace synced watcher `serial`
//   [REMOVE, serial]                                       forget it (unknown serials are ignored)
//   [BATCH, seq, keys, types, revisions]                   match one applied batch against the view as it is now
//   [CRASH]                                                 tests only: the thread exits at once
// Keys of watchers are latin1 KeyStrings; keys of events are their bytes (no values cross the ring).
//
// Reply message (worker -> main), little-endian: f64 seq, i32 status, i32 watchers matched, then per watcher
// i32 serial, i32 count (-1: every event of the batch) and that many i32 event indices, ascending.

import { RangeIndex, keyString, type KeyString } from './range-index.js';

export const ITEM_ADD = 0;
export const ITEM_REMOVE = 1;
export const ITEM_BATCH = 2;
/** fault hook for tests: the worker thread exits when it reads this, holding the batch that follows unanswered */
export const ITEM_CRASH = 3;

export const END_SINGLE = 0;
export const END_FROM_KEY = 1;
export const END_RANGE = 2;

export const FLAG_NO_PUT = 1;
export const FLAG_NO_DELETE = 2;

export const REPLY_OK = 1;
/** the reply would not fit the ring: the main thread matches the batch itself */
export const REPLY_TOO_LARGE = 2;
export const REPLY_HEADER_BYTES = 16;
export const MATCH_ALL = -1;

const EVENT_DELETE = 1;

/** The long-running piscina task the filter worker runs. */
export interface FilterLoopTask {
  requests: SharedArrayBuffer;
  replies: SharedArrayBuffer;
}

/** What the worker needs to know about one synced watcher. */
export interface FilterWatcher {
  readonly serial: number;
  readonly start: KeyString;
  /** undefined: the single key; null: every key from start */
  readonly end: KeyString | null | undefined;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  /** events below it are not for this watcher (a future start revision) */
  readonly nextRev: number;
}

export type AddItem = [typeof ITEM_ADD, number, string, number, string, number, number];
export type RemoveItem = [typeof ITEM_REMOVE, number];
export type BatchItem = [typeof ITEM_BATCH, number, Uint8Array[], number[], number[]];
export type CrashItem = [typeof ITEM_CRASH];
export type RequestItem = AddItem | RemoveItem | BatchItem | CrashItem;

export function addItem(w: FilterWatcher): AddItem {
  const endKind = w.end === undefined ? END_SINGLE : w.end === null ? END_FROM_KEY : END_RANGE;
  const flags = (w.noPut ? FLAG_NO_PUT : 0) | (w.noDelete ? FLAG_NO_DELETE : 0);
  return [ITEM_ADD, w.serial, w.start, endKind, typeof w.end === 'string' ? w.end : '', flags, w.nextRev];
}

/** Rough encoded size of an ADD, to keep messages of registration changes bounded. */
export function addItemBytes(w: FilterWatcher): number {
  return 32 + 2 * w.start.length + (typeof w.end === 'string' ? 2 * w.end.length : 0);
}

/** One batch as the worker gets it: event keys, types and revisions, in the batch's order. */
export interface BatchEvents {
  keys: Uint8Array[];
  types: number[];
  revisions: number[];
}

export function batchItem(seq: number, events: readonly { type: number; kv: { key: Uint8Array; mod_revision: number } }[]): BatchItem {
  const keys: Uint8Array[] = new Array(events.length);
  const types: number[] = new Array(events.length);
  const revisions: number[] = new Array(events.length);
  events.forEach((ev, i) => {
    keys[i] = ev.kv.key;
    types[i] = ev.type;
    revisions[i] = ev.kv.mod_revision;
  });
  return [ITEM_BATCH, seq, keys, types, revisions];
}

interface Entry {
  start: KeyString;
  end: KeyString | null | undefined;
  flags: number;
  nextRev: number;
}

/** The worker's copy of the synced watchers, by range in a RangeIndex (a stab per event, not a scan per watcher). */
export class FilterView {
  private readonly index = new RangeIndex<number>();
  private readonly entries = new Map<number, Entry>();

  get size(): number {
    return this.entries.size;
  }

  add([, serial, start, endKind, end, flags, nextRev]: AddItem): void {
    this.remove(serial);
    const e: Entry = { start, end: endKind === END_SINGLE ? undefined : endKind === END_FROM_KEY ? null : end, flags, nextRev };
    this.entries.set(serial, e);
    this.index.add(serial, e.start, e.end);
  }

  remove(serial: number): void {
    const e = this.entries.get(serial);
    if (e === undefined) return;
    this.entries.delete(serial);
    this.index.remove(serial, e.start, e.end);
  }

  /** The matching events of each watcher, in the batch's order: serial -> event indices. */
  match(batch: BatchEvents): Map<number, number[]> {
    const matched = new Map<number, number[]>();
    const { keys, types, revisions } = batch;
    for (let i = 0; i < keys.length; i++) {
      const rev = revisions[i]!;
      const skip = types[i] === EVENT_DELETE ? FLAG_NO_DELETE : FLAG_NO_PUT;
      this.index.stab(keyString(keys[i]!), (serial) => {
        const e = this.entries.get(serial)!;
        if (rev < e.nextRev || (e.flags & skip) !== 0) return;
        const list = matched.get(serial);
        if (list === undefined) matched.set(serial, [i]);
        else list.push(i);
      });
    }
    return matched;
  }
}

/** Encodes a batch's matches as a reply; a reply above `maxBytes` becomes REPLY_TOO_LARGE. */
export function encodeReply(seq: number, eventCount: number, matched: Map<number, number[]>, maxBytes: number): Uint8Array {
  let words = 0;
  for (const list of matched.values()) words += 2 + (list.length === eventCount ? 0 : list.length);
  const bytes = REPLY_HEADER_BYTES + 4 * words;
  if (bytes > maxBytes) {
    const out = new Uint8Array(REPLY_HEADER_BYTES);
    const view = new DataView(out.buffer);
    view.setFloat64(0, seq, true);
    view.setInt32(8, REPLY_TOO_LARGE, true);
    return out;
  }
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  view.setFloat64(0, seq, true);
  view.setInt32(8, REPLY_OK, true);
  view.setInt32(12, matched.size, true);
  const ints = new Int32Array(out.buffer, REPLY_HEADER_BYTES, words);
  let at = 0;
  for (const [serial, list] of matched) {
    ints[at++] = serial;
    if (list.length === eventCount) ints[at++] = MATCH_ALL;
    else {
      ints[at++] = list.length;
      ints.set(list, at);
      at += list.length;
    }
  }
  return out;
}

export interface DecodedReply {
  seq: number;
  status: number;
  /** per matched watcher: serial, count (MATCH_ALL or n), n indices */
  words: Int32Array;
}

export function decodeReply(message: Uint8Array): DecodedReply {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const seq = view.getFloat64(0, true);
  const status = view.getInt32(8, true);
  const words =
    status === REPLY_OK && message.byteOffset % 4 === 0
      ? new Int32Array(message.buffer, message.byteOffset + REPLY_HEADER_BYTES, (message.byteLength - REPLY_HEADER_BYTES) >> 2)
      : new Int32Array(message.slice(REPLY_HEADER_BYTES).buffer);
  return { seq, status, words };
}

/** Visits each matched watcher of a reply: indices null means every event of the batch. */
export function forEachMatch(words: Int32Array, visit: (serial: number, indices: Int32Array | null) => void): void {
  for (let at = 0; at < words.length; ) {
    const serial = words[at]!;
    const count = words[at + 1]!;
    at += 2;
    if (count === MATCH_ALL) visit(serial, null);
    else {
      visit(serial, words.subarray(at, at + count));
      at += count;
    }
  }
}
