// Raft's data types, shaped after etcd-io/raft's raftpb. Node IDs are etcd member IDs (uint64, as bigint).

export type NodeId = bigint;
export const NONE: NodeId = 0n;

export const EntryType = { Normal: 0, ConfChange: 1 } as const;
export type EntryTypeNumber = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  term: number;
  index: number;
  type: EntryTypeNumber;
  /** opaque to Raft; empty for the no-op entry a new leader appends */
  data: Uint8Array;
}

export const ConfChangeType = { AddNode: 0, RemoveNode: 1, UpdateNode: 2, AddLearnerNode: 3 } as const;
export type ConfChangeTypeNumber = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** One membership change (changes are applied one at a time, never jointly). */
export interface ConfChange {
  type: ConfChangeTypeNumber;
  nodeId: NodeId;
  /** opaque to Raft (the server stores the member's name and URLs here) */
  context: Uint8Array;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export const MessageType = {
  Hup: 0,
  Beat: 1,
  Prop: 2,
  App: 3,
  AppResp: 4,
  Vote: 5,
  VoteResp: 6,
  Snap: 7,
  Heartbeat: 8,
  HeartbeatResp: 9,
  Unreachable: 10,
  SnapStatus: 11,
  CheckQuorum: 12,
  TransferLeader: 13,
  TimeoutNow: 14,
  ReadIndex: 15,
  ReadIndexResp: 16,
  PreVote: 17,
  PreVoteResp: 18,
} as const;
export type MessageTypeNumber = (typeof MessageType)[keyof typeof MessageType];

export const messageTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(MessageType).map(([k, v]) => [v, 'Msg' + k]),
);

export interface Message {
  type: MessageTypeNumber;
  to: NodeId;
  from: NodeId;
  term: number;
  /** term of the entry at `index` (App), or of the sender's last entry (Vote/PreVote) */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  /** ReadIndex request context, or the campaign type for votes */
  context?: Uint8Array;
}

export function message(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    to: NONE,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...fields,
  };
}

export function isLocalMessage(t: MessageTypeNumber): boolean {
  return (
    t === MessageType.Hup ||
    t === MessageType.Beat ||
    t === MessageType.Unreachable ||
    t === MessageType.SnapStatus ||
    t === MessageType.CheckQuorum
  );
}

export function isResponseMessage(t: MessageTypeNumber): boolean {
  return (
    t === MessageType.AppResp ||
    t === MessageType.VoteResp ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.Unreachable ||
    t === MessageType.PreVoteResp
  );
}

export function voteResponseType(t: MessageTypeNumber): MessageTypeNumber {
  return t === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
}

export const StateType = { Follower: 0, Candidate: 1, Leader: 2, PreCandidate: 3 } as const;
export type StateTypeNumber = (typeof StateType)[keyof typeof StateType];
export const stateName: Record<number, string> = { 0: 'StateFollower', 1: 'StateCandidate', 2: 'StateLeader', 3: 'StatePreCandidate' };

export interface SoftState {
  lead: NodeId;
  raftState: StateTypeNumber;
}

/** A linearizable read point: once applied >= index, reads for `context` may be served. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

export function isHardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: NONE, commit: 0 });
