// The narrow interfaces the member's services reach each other through. A service takes the port it needs (a
// proposer, a linearizable reader, the KV API) instead of the whole EtcdServer, so no service imports server.ts and
// each can be read, and tested, on its own.

import type { AuthInfo } from '../auth/index.js';
import type { EtcdError } from '../errors/index.js';
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  TxnRequest,
  TxnResponse,
} from '../proto/index.js';
import type { WatchSink, WatchStream } from '../watch/index.js';

/** How a stream handler answers its client (a binary protocol stream, an HTTP or WebSocket stream). */
export interface StreamSinkLike {
  send(response: unknown): void;
  end(err?: EtcdError): void;
  pendingBytes(): number;
}

/** A stream opened on the member: the client's messages go in, `close` when the client or its connection ends it. */
export interface StreamHandle {
  handle(request: unknown): void;
  close(): void;
  /** the client's connection drained: a stream that held back may send again */
  drained?(): void;
}

/** Writes that go through Raft as entries of the member's own log (the lease service's requests). */
export type InternalWriteMethod = 'LeaseGrant' | 'LeaseRevoke' | 'LeaseKeepAlive' | 'LeaseCheckpoint';

/** Proposes one entry and resolves with what applying it answered; `caller` for a client's request (see Proposals). */
export interface Proposer {
  propose(method: InternalWriteMethod, request: unknown, caller?: AuthInfo): Promise<unknown>;
}

/** Runs a read after a ReadIndex round (linearizable), or at once from local state when `serializable`. */
export interface Reader {
  read<T>(read: () => T, serializable?: boolean): Promise<T>;
}

/**
 * The client a request of the Lock and Election services runs as: its credentials, resolved again for each request
 * those services make (etcd's v3lock and v3election call the KV API with the client's token, read at each call: a
 * simple token's auth revision is the store's at that moment). Throws, or rejects, when they do not resolve.
 */
export type Caller = () => AuthInfo | null | Promise<AuthInfo | null>;

/**
 * The KV, lease and watch API of the member as a client of it sees it (what etcd's v3lock and v3election use), each
 * call made as `caller` and checked as that client's own request would be.
 */
export interface KvPort {
  range(req: RangeRequest, caller: Caller): Promise<RangeResponse>;
  txn(req: TxnRequest, caller: Caller): Promise<TxnResponse>;
  deleteRange(req: DeleteRangeRequest, caller: Caller): Promise<DeleteRangeResponse>;
  leaseGrant(req: LeaseGrantRequest, caller: Caller): Promise<LeaseGrantResponse>;
  leaseRevoke(req: LeaseRevokeRequest, caller: Caller): Promise<LeaseRevokeResponse>;
  /** a watch stream straight on the member's watch hub; its creates are checked for READ as `caller` */
  watch(sink: WatchSink, caller: Caller): Pick<WatchStream, 'handle' | 'close'>;
}

/** The header every response carries, at the member's current revision unless one is given. */
export type HeaderSource = (revision?: number) => ResponseHeader;
