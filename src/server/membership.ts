// The cluster's membership as the applier keeps it (the meta table's 'members' record, src/storage/meta.ts), changed
// only by applying committed conf changes, so every member holds the same list at the same applied index; here are
// the conf change context that carries a member's record through the log, and etcd's Member shape.

import { Packr, Unpackr } from 'msgpackr';
import type { MemberRecord, Members } from '../storage/index.js';

export type { MemberRecord, Members };

/** What a conf change entry carries besides Raft's own fields. */
export interface ConfChangeContext {
  member?: Omit<MemberRecord, 'id'>;
  /** proposer member ID, run, proposal id: who to answer when it is applied */
  proposer?: [string, number, number];
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

export function encodeConfContext(ctx: ConfChangeContext): Uint8Array {
  return packr.pack(ctx);
}

export function decodeConfContext(data: Uint8Array): ConfChangeContext {
  if (data.length === 0) return {};
  try {
    return unpackr.unpack(data) as ConfChangeContext;
  } catch {
    return {};
  }
}

/** etcd's Member message shape (MemberList and friends). */
export function toApiMember(m: MemberRecord): { ID: bigint; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean } {
  return { ID: BigInt(m.id), name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs], isLearner: m.isLearner };
}

export function sortedMembers(members: Members): MemberRecord[] {
  return Object.values(members).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
}
