// Snapshot data: the whole key space of a member at its applied index, produced from one LMDB read snapshot and
// installed in one write transaction on a member that fell behind the leader's log.
// Format 3 (storage format etcd-ts/5): msgpack [version, persisted state, members, latest [[key, record]...],
// history [[key, value]...], removed member IDs, keyindex [[key, value]...], leases [[key, lease record]...],
// auth [[key, record]...]], the tables' bytes or records as stored (mvcc/encoding.ts, server/auth-table.ts). Format 2
// (etcd-ts/4) lacked the auth table: installing one leaves auth empty and disabled, as its sender had it. Format 1 had
// history keyed by (key, revision) and an events index.
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
const FORMAT = 3;
/** the format before the auth table, still installed (a leader not yet upgraded sends it) */
const FORMAT_WITHOUT_AUTH = 2;

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
  const auth: [Buffer, unknown][] = [];
  for (const { key, value } of storage.auth.getRange({})) auth.push([Buffer.from(key), value]);
  return packr.pack([FORMAT, state, members, latest, history, removed, keyindex, leases, auth]);
}

/** Replaces the key space with the snapshot's (call inside a write transaction). */
export function installSnapshotData(storage: Storage, data: Uint8Array, appliedIndex: number): { state: PersistedState; members: Members } {
  const [format, state, members, latest, history, removed, keyindex, leases, auth] = unpackr.unpack(data) as [
    number, PersistedState, Members, [Uint8Array, Uint8Array][], [Uint8Array, Uint8Array][], string[] | undefined,
    [Uint8Array, Uint8Array][] | undefined, [Uint8Array, unknown][] | undefined, [Uint8Array, unknown][] | undefined,
  ];
  if (format !== FORMAT && format !== FORMAT_WITHOUT_AUTH) throw new Error(`unsupported snapshot format ${format}`);
  for (const key of storage.latest.getKeys({})) storage.latest.removeSync(key);
  for (const key of storage.history.getKeys({})) storage.history.removeSync(key);
  for (const [k, v] of latest) storage.latest.putSync(Buffer.from(k), Buffer.from(v));
  for (const [k, v] of history) storage.history.putSync(Buffer.from(k), Buffer.from(v));
  for (const key of storage.keyindex.getKeys({})) storage.keyindex.removeSync(key);
  for (const [k, v] of keyindex ?? []) storage.keyindex.putSync(Buffer.from(k), Buffer.from(v));
  for (const key of storage.leases.getKeys({})) storage.leases.removeSync(key);
  for (const [k, v] of leases ?? []) storage.leases.putSync(Buffer.from(k), v);
  for (const key of storage.auth.getKeys({})) storage.auth.removeSync(key);
  for (const [k, v] of auth ?? []) storage.auth.putSync(Buffer.from(k), v);
  bumpStorageGenerationSync(storage.meta);
  writeMembersSync(storage.meta, members);
  // the removed IDs travel with the snapshot: a member that caught up this way must refuse them too
  const known = new Set(readRemovedMembers(storage.meta));
  for (const id of removed ?? []) known.add(id);
  writeRemovedMembersSync(storage.meta, [...known]);
  return { state: { ...state, applied: appliedIndex }, members };
}
