// The meta table's records, typed: one reader and one writer per record, so no other module spells a meta key or
// guesses a record's shape. Keys: 'state' (the applied state, written with every apply transaction), 'identity',
// 'members', 'removed', 'confstate', 'generation' (bumped when a snapshot install replaces the key space); Raft's own records ('raft-hardstate', 'raft-snapshot') belong to raft-storage.ts
// and the format marker to env.ts.
//
// Writers named ...Sync run inside a write transaction (transactionSync) or write synchronously; writeIdentity is an
// asynchronous put whose durability the caller awaits with `meta.flushed`.

import type { ConfState } from '../raft/index.js';
import type { Storage } from './env.js';

type Meta = Storage['meta'];

// ---- applied state ------------------------------------------------------------------------------------------------

/** What the apply transaction records with every batch (meta key 'state'). */
export interface PersistedState {
  /** last applied log index */
  applied: number;
  /** store revision */
  revision: number;
  /** compacted revision (-1 before any compaction, as etcd's compactMainRev) */
  compactRevision: number;
  /** compaction revision whose physical removal finished */
  compactedPhysically: number;
}

export const INITIAL_STATE: PersistedState = Object.freeze({ applied: 0, revision: 1, compactRevision: -1, compactedPhysically: -1 });

/** The state as of the caller's read snapshot: consistent with the key-space tables read in the same turn. */
export function readPersistedState(meta: Meta): PersistedState {
  return (meta.get('state') as PersistedState | undefined) ?? INITIAL_STATE;
}

export function writePersistedStateSync(meta: Meta, state: PersistedState): void {
  meta.putSync('state', {
    applied: state.applied,
    revision: state.revision,
    compactRevision: state.compactRevision,
    compactedPhysically: state.compactedPhysically,
  } satisfies PersistedState);
}

// ---- identity -----------------------------------------------------------------------------------------------------

/** Who this member is, fixed when its data directory is first used (IDs as decimal strings of uint64). */
export interface MemberIdentity {
  cluster_id: string;
  member_id: string;
  name: string;
}

export function readIdentity(meta: Meta): MemberIdentity | undefined {
  return meta.get('identity') as MemberIdentity | undefined;
}

export function writeIdentity(meta: Meta, identity: MemberIdentity): Promise<boolean> {
  return meta.put('identity', { cluster_id: identity.cluster_id, member_id: identity.member_id, name: identity.name } satisfies MemberIdentity);
}

// ---- membership ---------------------------------------------------------------------------------------------------

export interface MemberRecord {
  /** member ID as a decimal string (uint64) */
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  /** where this member serves the binary client protocol (etcd-ts only) */
  binaryURLs: string[];
  isLearner: boolean;
}

/** The cluster's members by ID, changed only by applying committed conf changes (and members' attributes). */
export type Members = Record<string, MemberRecord>;

export function readMembers(meta: Meta): Members {
  return (meta.get('members') as Members | undefined) ?? {};
}

export function writeMembersSync(meta: Meta, members: Members): void {
  meta.putSync('members', members);
}

/** IDs removed from the cluster (decimal strings): etcd keeps them too, and they may never come back. */
export function readRemovedMembers(meta: Meta): string[] {
  return (meta.get('removed') as string[] | undefined) ?? [];
}

export function writeRemovedMembersSync(meta: Meta, ids: readonly string[]): void {
  meta.putSync('removed', [...ids]);
}

// ---- Raft configuration ---------------------------------------------------------------------------------------------

/** A configuration as stored: IDs as decimal strings (msgpack would narrow bigints). */
export interface StoredConfState {
  voters: string[];
  learners: string[];
}

export function confStateToStored(cs: ConfState): StoredConfState {
  return { voters: cs.voters.map(String), learners: cs.learners.map(String) };
}

export function confStateFromStored(s: StoredConfState | undefined): ConfState {
  return { voters: (s?.voters ?? []).map((v) => BigInt(v)), learners: (s?.learners ?? []).map((v) => BigInt(v)) };
}

/** The configuration as of the last applied conf change or snapshot. */
export function readConfState(meta: Meta): ConfState {
  return confStateFromStored(meta.get('confstate') as StoredConfState | undefined);
}

export function writeConfStateSync(meta: Meta, cs: ConfState): void {
  meta.putSync('confstate', confStateToStored(cs));
}

// ---- storage generation --------------------------------------------------------------------------------------------

/**
 * The generation of the key space: bumped by every snapshot install, inside its transaction, so work planned from the
 * data before it (a physical compaction step) can tell, inside its own write transaction, that the data changed under it.
 */
export function readStorageGeneration(meta: Meta): number {
  return (meta.get('generation') as number | undefined) ?? 0;
}

/** Call inside the write transaction that replaces the key space. */
export function bumpStorageGenerationSync(meta: Meta): number {
  const next = readStorageGeneration(meta) + 1;
  meta.putSync('generation', next);
  return next;
}
