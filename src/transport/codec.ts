// Wire encoding of Raft messages between members: the client protocol's 12-byte frame header with peer frame kinds,
// and a msgpack body. Every frame carries the cluster id; a member refuses traffic from another cluster.

import { Packr, Unpackr } from 'msgpackr';
import type { Entry, Message, MessageTypeNumber, Snapshot } from '../raft/index.js';

export const PeerFrameKind = {
  /** body [clusterId, fromId, toId]: first frame on an outbound connection */
  Hello: 10,
  /** body [clusterId, encoded message] */
  Raft: 11,
  /** body [clusterId, snapshotId, seq, last, bytes]: one piece of a snapshot's data */
  SnapshotChunk: 12,
  /** body [clusterId, reason]: the receiver refuses this connection */
  Refuse: 13,
  /** body [0]: a member about to join asks for the cluster's ID and member list (etcd's GET /members on peers) */
  MembersQuery: 14,
  /** body [clusterId, members]: the answer to MembersQuery */
  MembersReply: 15,
} as const;

export function isPeerFrameKind(kind: number): boolean {
  return kind >= 10 && kind <= 15;
}

/** One member as a peer describes the cluster to a member about to start. */
export interface PeerMemberInfo {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

export const peerPackr = new Packr({ useRecords: false, variableMapSize: true });
export const peerUnpackr = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'number', mapsAsObjects: true });

function big(v: unknown): bigint {
  return typeof v === 'bigint' ? v : BigInt(v as number);
}

type EncodedEntry = [number, number, number, Uint8Array];

function encodeEntries(entries: Entry[]): EncodedEntry[] {
  return entries.map((e) => [e.term, e.index, e.type, e.data]);
}

function decodeEntries(raw: EncodedEntry[]): Entry[] {
  return raw.map(([term, index, type, data]) => ({ term, index, type: type as Entry['type'], data: data ?? new Uint8Array() }));
}

/** A message without its snapshot data (snapshot data travels in chunks). */
export function encodeMessage(m: Message): unknown[] {
  const snap = m.snapshot
    ? [m.snapshot.metadata.index, m.snapshot.metadata.term, m.snapshot.metadata.confState.voters, m.snapshot.metadata.confState.learners]
    : null;
  return [m.type, m.to, m.from, m.term, m.logTerm, m.index, encodeEntries(m.entries), m.commit, m.reject, m.rejectHint, m.context ?? null, snap];
}

export function decodeMessage(raw: unknown[], snapshotData?: Uint8Array): Message {
  const [type, to, from, term, logTerm, index, entries, commit, reject, rejectHint, context, snap] = raw as [
    number, unknown, unknown, number, number, number, EncodedEntry[], number, boolean, number, Uint8Array | null,
    [number, number, unknown[], unknown[]] | null,
  ];
  let snapshot: Snapshot | undefined;
  if (snap) {
    snapshot = {
      metadata: { index: snap[0], term: snap[1], confState: { voters: snap[2].map(big), learners: snap[3].map(big) } },
      data: snapshotData ?? new Uint8Array(),
    };
  }
  return {
    type: type as MessageTypeNumber,
    to: big(to),
    from: big(from),
    term,
    logTerm,
    index,
    entries: decodeEntries(entries ?? []),
    commit,
    reject,
    rejectHint,
    context: context ?? undefined,
    snapshot,
  };
}
