// Snapshot data: the whole key space of a member at its applied index, produced from one LMDB read snapshot and
// installed in one write transaction on a member that fell behind the leader's log.
// Format 2 (storage format etcd-ts/4): msgpack [version, persisted state, members, latest [[key, record]...],
// history [[key, value]...], removed member IDs, keyindex [[key, value]...], leases [[key, lease record]...]], the
// tables' bytes as stored (mvcc/encoding.ts). Format 1 had history keyed by (key, revision) and an events index.
// Installing bumps the storage generation, so a compaction step planned from the replaced data deletes nothing.

import { Packr, Unpackr } from 'msgpackr';
import {
  bumpStorageGenerationSync,
  readMembers,
  readPersistedState,
  readRemovedMembers,
  writeMembersSync,
  writeRemovedMembersSync,
  type Members,
  type PersistedState,
  type Storage,
} from '../storage/index.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false });
const FORMAT = 2;

export function produceSnapshotData(storage: Storage): Uint8Array {
  // One synchronous pass: lmdb-js serves it from a single read transaction.
  const state = readPersistedState(storage.meta);
  const members = readMembers(storage.meta);
  const latest: [Buffer, Buffer][] = [];
  for (const { key, value } of storage.latest.getRange({})) latest.push([Buffer.from(key), Buffer.from(value)]);
  const history: [Buffer, Buffer][] = [];
  for (const { key, value } of storage.history.getRange({})) history.push([Buffer.from(key), Buffer.from(value)]);
  const removed = readRemovedMembers(storage.meta);
  const keyindex: [Buffer, Buffer][] = [];
  for (const { key, value } of storage.keyindex.getRange({})) keyindex.push([Buffer.from(key), Buffer.from(value)]);
  const leases: [Buffer, unknown][] = [];
  for (const { key, value } of storage.leases.getRange({})) leases.push([Buffer.from(key), value]);
  return packr.pack([FORMAT, state, members, latest, history, removed, keyindex, leases]);
}

/** Replaces the key space with the snapshot's (call inside a write transaction). */
export function installSnapshotData(storage: Storage, data: Uint8Array, appliedIndex: number): { state: PersistedState; members: Members } {
  const [format, state, members, latest, history, removed, keyindex, leases] = unpackr.unpack(data) as [
    number, PersistedState, Members, [Uint8Array, Uint8Array][], [Uint8Array, Uint8Array][], string[] | undefined,
    [Uint8Array, Uint8Array][] | undefined, [Uint8Array, unknown][] | undefined,
  ];
  if (format !== FORMAT) throw new Error(`unsupported snapshot format ${format}`);
  for (const key of storage.latest.getKeys({})) storage.latest.removeSync(key);
  for (const key of storage.history.getKeys({})) storage.history.removeSync(key);
  for (const [k, v] of latest) storage.latest.putSync(Buffer.from(k), Buffer.from(v));
  for (const [k, v] of history) storage.history.putSync(Buffer.from(k), Buffer.from(v));
  for (const key of storage.keyindex.getKeys({})) storage.keyindex.removeSync(key);
  for (const [k, v] of keyindex ?? []) storage.keyindex.putSync(Buffer.from(k), Buffer.from(v));
  for (const key of storage.leases.getKeys({})) storage.leases.removeSync(key);
  for (const [k, v] of leases ?? []) storage.leases.putSync(Buffer.from(k), v);
  bumpStorageGenerationSync(storage.meta);
  writeMembersSync(storage.meta, members);
  // the removed IDs travel with the snapshot: a member that caught up this way must refuse them too
  const known = new Set(readRemovedMembers(storage.meta));
  for (const id of removed ?? []) known.add(id);
  writeRemovedMembersSync(storage.meta, [...known]);
  return { state: { ...state, applied: appliedIndex }, members };
}
