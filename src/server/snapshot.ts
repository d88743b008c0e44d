// Snapshot data: the whole key space of a member at its applied index, produced from one LMDB read snapshot and
// installed in one write transaction on a member that fell behind the leader's log.
// Format: msgpack [version, persisted state, members, latest [[key, record]...], history [[key, record]...],
// removed member IDs].

import { Packr, Unpackr } from 'msgpackr';
import { readPersistedState, type PersistedState, type Storage } from '../storage/index.js';
import { readMembers, type Members } from './membership.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false });
const FORMAT = 1;

export function produceSnapshotData(storage: Storage): Uint8Array {
  // One synchronous pass: lmdb-js serves it from a single read transaction.
  const state = readPersistedState(storage.meta);
  const members = readMembers(storage);
  const latest: [Buffer, Buffer][] = [];
  for (const { key, value } of storage.latest.getRange({})) latest.push([Buffer.from(key), Buffer.from(value)]);
  const history: [Buffer, Buffer][] = [];
  for (const { key, value } of storage.history.getRange({})) history.push([Buffer.from(key), Buffer.from(value)]);
  const removed = (storage.meta.get('removed') as string[] | undefined) ?? [];
  return packr.pack([FORMAT, state, members, latest, history, removed]);
}

/** Replaces the key space with the snapshot's (call inside a write transaction). */
export function installSnapshotData(storage: Storage, data: Uint8Array, appliedIndex: number): { state: PersistedState; members: Members } {
  const [format, state, members, latest, history, removed] = unpackr.unpack(data) as [number, PersistedState, Members, [Uint8Array, Uint8Array][], [Uint8Array, Uint8Array][], string[] | undefined];
  if (format !== FORMAT) throw new Error(`unsupported snapshot format ${format}`);
  for (const key of storage.latest.getKeys({})) storage.latest.removeSync(key);
  for (const key of storage.history.getKeys({})) storage.history.removeSync(key);
  for (const [k, v] of latest) storage.latest.putSync(Buffer.from(k), Buffer.from(v));
  for (const [k, v] of history) storage.history.putSync(Buffer.from(k), Buffer.from(v));
  storage.meta.putSync('members', members);
  // the removed IDs travel with the snapshot: a member that caught up this way must refuse them too
  const known = new Set((storage.meta.get('removed') as string[] | undefined) ?? []);
  for (const id of removed ?? []) known.add(id);
  storage.meta.putSync('removed', [...known]);
  return { state: { ...state, applied: appliedIndex }, members };
}
