// Every bound the member enforces, named, documented and validated in one place. Units come last in each name.
// Limits that operators set come from flags (etcd's names); the rest are fixed here with the reason for the value.

export interface Limits {
  /** --max-request-bytes: largest request frame body; larger frames are refused from their header. etcd: 1.5 MiB. */
  readonly requestBytesMax: number;
  /** --max-txn-ops: most operations in one txn branch or compare list. etcd: 128. */
  readonly txnOpsMax: number;
  /** --quota-backend-bytes: writes fail with NOSPACE once the database uses more. 0 means etcd's 2 GiB default. */
  readonly backendQuotaBytes: number;
  /** Open client connections per member; further connections are closed at accept. */
  readonly connectionsMax: number;
  /** Requests one connection may have in flight; past it the member stops reading that socket (backpressure). */
  readonly connectionRequestsInflightMax: number;
  /**
   * Response bytes one connection may have outstanding: queued for its socket, plus those expected from its requests
   * in flight (each counted at the size of the largest recent response on that connection). Past it the member stops
   * reading the socket (backpressure), so a client that does not read cannot make the member buffer without bound.
   */
  readonly connectionWriteBufferBytesMax: number;
  /**
   * Requests a new connection may have in flight before the sizes of its responses are known (its first estimate is
   * connectionWriteBufferBytesMax / this); afterwards the window follows the response sizes, up to
   * connectionRequestsInflightMax. Bounds what one burst of requests for large values can materialise at once.
   */
  readonly connectionRequestsInflightInitial: number;
  /** Proposals waiting for the log across all clients; past it writes fail with `too many requests` (etcd: 5000 backlog). */
  readonly proposalsPendingMax: number;
  /**
   * Committed entries Raft hands the member in one Ready (RaftConfig.maxCommittedEntriesPerReady), which the member
   * applies as one batch, in one LMDB write transaction. Bounds how long one apply holds LMDB's write lock and how many
   * events one batch gives the watch hub when the entries are small; a longer backlog (a restart replaying its log, a
   * follower catching up) is applied in several batches. It does not bound the entries a Ready gives to persist.
   */
  readonly proposalBatchEntriesMax: number;
  /**
   * Bytes of committed entries in one Ready, counted as Raft counts them (payload + 24 per entry), at least one entry
   * however large (RaftConfig.maxCommittedSizePerReady, etcd-io/raft's MaxCommittedSizePerReady): the same apply batch's
   * bound in bytes, so a backlog of large values is applied in several transactions.
   */
  readonly proposalBatchBytesMax: number;
  /** Log entries kept behind the applied index (for slow followers, as etcd's snapshot catch-up entries). */
  readonly logEntriesRetained: number;
  /**
   * --experimental-compaction-batch-limit: keys deleted per write transaction during physical compaction, so an apply
   * waiting for the write lock waits for at most one such batch (etcd: 1000).
   */
  readonly compactionBatchKeysMax: number;
  /** A proposal not applied within this time fails with `request timed out` (etcd: 5 s + 2 x election timeout). */
  readonly requestTimeoutMs: number;
}

/**
 * Longest key (after escaping each 0x00 byte as two bytes) the store accepts, in key, range_end and compare fields.
 * LMDB bounds keys at 1978 bytes with 4 KiB pages; a history key adds a 2-byte terminator and an 8-byte revision.
 * etcd has no key limit of its own beyond the request size: this is a documented difference.
 */
export const KEY_ENCODED_BYTES_MAX = 1978 - 10;

/** Nesting depth of txns inside txns: protobuf's own recursion limit is 100; deeper is refused before it hurts. */
export const TXN_NESTING_DEPTH_MAX = 64;

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export const DEFAULT_LIMITS: Limits = Object.freeze({
  requestBytesMax: 1.5 * MiB,
  txnOpsMax: 128,
  backendQuotaBytes: 2 * GiB,
  connectionsMax: 10_000,
  connectionRequestsInflightMax: 4096,
  connectionWriteBufferBytesMax: 16 * MiB,
  connectionRequestsInflightInitial: 64,
  proposalsPendingMax: 65_536,
  proposalBatchEntriesMax: 4096,
  proposalBatchBytesMax: 64 * MiB,
  logEntriesRetained: 5000,
  compactionBatchKeysMax: 1000,
  requestTimeoutMs: 7000,
});

/** Largest values accepted for operator-set limits, so a typo cannot ask for absurd allocations. */
const REQUEST_BYTES_CEILING = 512 * MiB;
const TXN_OPS_CEILING = 1_000_000;
const QUOTA_CEILING = 64 * GiB;

export function validateLimits(limits: Limits): Limits {
  const problems: string[] = [];
  const positiveInt = (name: keyof Limits, max: number): void => {
    const v = limits[name];
    if (!Number.isSafeInteger(v) || v <= 0 || v > max) problems.push(`${name} must be an integer in [1, ${max}], got ${v}`);
  };
  positiveInt('requestBytesMax', REQUEST_BYTES_CEILING);
  positiveInt('txnOpsMax', TXN_OPS_CEILING);
  positiveInt('backendQuotaBytes', QUOTA_CEILING);
  positiveInt('connectionsMax', 1_000_000);
  positiveInt('connectionRequestsInflightMax', 1_000_000);
  positiveInt('connectionWriteBufferBytesMax', GiB);
  positiveInt('connectionRequestsInflightInitial', limits.connectionRequestsInflightMax);
  positiveInt('proposalsPendingMax', 10_000_000);
  positiveInt('proposalBatchEntriesMax', 1_000_000);
  positiveInt('proposalBatchBytesMax', GiB);
  positiveInt('logEntriesRetained', 100_000_000);
  positiveInt('compactionBatchKeysMax', 1_000_000);
  positiveInt('requestTimeoutMs', 3_600_000);
  if (problems.length > 0) throw new Error(`invalid limits: ${problems.join('; ')}`);
  return Object.freeze({ ...limits });
}

// ---- Member: proposals and reads ----------------------------------------------------------------------------

/**
 * Linearizable reads waiting for a ReadIndex round (queued or in the round in flight); past it a read fails at once
 * with `too many requests`. Each connection already bounds its own requests in flight; this bounds them all together,
 * so a member that lost its leader holds at most this many reads until they time out.
 */
export const READS_PENDING_MAX = 1 << 20;
/** etcd's readIndexRetryTime: how long a ReadIndex request may go unanswered before it is sent again. */
export const READ_INDEX_RETRY_MS = 500;
/** How often the member fails proposals and reads past their deadline and resends an unanswered ReadIndex. */
export const REQUEST_SWEEP_INTERVAL_MS = 250;

// ---- Storage -----------------------------------------------------------------------------------------------

/**
 * Bytes of address space LMDB maps for the database file at open (lmdb-js's `mapSize`; virtual only: the file grows as
 * data is written, not to this size). Left to lmdb-js, the map starts at 128 KiB and is remapped larger as the file
 * grows, and lmdb-js keeps every earlier map alive (buffers may point into it), so the clean file pages touched through
 * each count again in the member's RSS: 11 maps and 297 MiB of RSS for a 109 MiB file at 100,000 keys (BENCHMARKS.md,
 * "Memory"). One map of this size from the start counts each page once. etcd maps 10 GiB for bbolt the same way
 * (backend's initialMmapSize); past it lmdb-js still grows the map as before.
 */
export const LMDB_MAP_BYTES = 10 * GiB;

// ---- Raft and peers ----------------------------------------------------------------------------------------

/** Bytes of entries in one Raft append message. */
export const RAFT_MESSAGE_BYTES_MAX = 1024 * 1024;
/** Append messages in flight to one follower before the leader waits for acknowledgements. */
export const RAFT_INFLIGHT_MESSAGES_MAX = 256;
/**
 * Payload bytes of the uncommitted tail of a leader's log (RaftConfig.maxUncommittedEntriesSize, etcd-io/raft's
 * MaxUncommittedEntriesSize). Past it the leader drops new proposals (ProposalDroppedError) until commits shrink the
 * tail, so a leader whose followers cannot keep up (or that has lost its quorum but not yet noticed) stops growing its
 * log in memory. Counted as etcd-io/raft counts: only entries this leader appended in its term, by payload length,
 * so empty entries (a new leader's first one) are never refused; and a proposal is always accepted when the tail is
 * empty, however large. etcd's server leaves it unbounded and refuses proposals once the applied index trails the
 * committed one by 5000 (our proposalsPendingMax plays that part); 1 GiB is what etcd's raftexample sets.
 */
export const RAFT_UNCOMMITTED_BYTES_MAX = GiB;

export interface TransportLimits {
  /** messages queued for one peer while its connection is down or slow */
  peerQueueMessagesMax: number;
  /** bytes queued for one peer */
  peerQueueBytesMax: number;
  /** largest peer frame accepted (an append message or one snapshot chunk) */
  peerFrameBytesMax: number;
  /** bytes of snapshot data per chunk frame */
  snapshotChunkBytes: number;
  /** largest snapshot a member accepts */
  snapshotBytesMax: number;
  reconnectBackoffMinMs: number;
  reconnectBackoffMaxMs: number;
}

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = Object.freeze({
  peerQueueMessagesMax: 4096,
  peerQueueBytesMax: 64 * 1024 * 1024,
  peerFrameBytesMax: 64 * 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
  snapshotBytesMax: 8 * 1024 * 1024 * 1024,
  reconnectBackoffMinMs: 50,
  reconnectBackoffMaxMs: 2000,
});


// ---- Watch -------------------------------------------------------------------------------------------------

/**
 * Bytes a watch stream's connection may hold unsent. Past it the stream's watchers stop taking live events (nothing
 * more is buffered for them) and are caught up from the history in LMDB once the client reads again, so a consumer
 * that stops reading costs the member a bounded amount of memory and delays no one else (etcd issue 17529).
 */
export const WATCH_PENDING_BYTES_MAX = 8 * MiB;
/** Watchers caught up from history per sync round (etcd: 512). */
export const WATCH_SYNC_WATCHERS_MAX = 512;
/** Revisions read from history per catch-up round (etcd: 1000). */
export const WATCH_CATCHUP_REVISIONS_MAX = 1000;
/** Events read from history per catch-up round; a revision is never split, so one huge revision can exceed it. */
export const WATCH_CATCHUP_EVENTS_MAX = 10_000;
/**
 * Bytes of keys and values read from history per catch-up round (whole revisions: one huge revision can exceed it).
 * Below the stream congestion bound (WATCH_PENDING_BYTES_MAX), so one round cannot push a stream far past it.
 */
export const WATCH_CATCHUP_BYTES_MAX = 4 * MiB;
/** How often unsynced watchers are caught up when nothing else prompts it (etcd: 100 ms). */
export const WATCH_SYNC_INTERVAL_MS = 100;
/** Watchers one member holds across all its streams; past it a create is refused with a cancel. */
export const WATCHERS_MAX = 1_000_000;
/** A watch response is fragmented (when asked) above --max-request-bytes plus this, as etcd does. */
export const WATCH_FRAGMENT_SLACK_BYTES = 512 * 1024;

// ---- Lease -------------------------------------------------------------------------------------------------

/** How often the leader looks for expired leases (etcd: 500 ms). */
export const LEASE_EXPIRY_CHECK_MS = 500;
/** Revocations of expired leases in flight at once (etcd: 16 pending, 1000/s). */
export const LEASE_REVOKES_INFLIGHT_MAX = 16;
/** Remaining-TTL checkpoints per Raft entry (etcd: 1000 per batch). */
export const LEASE_CHECKPOINTS_PER_ENTRY = 1000;
/** Keep-alives per Raft entry: one event-loop turn's renewals share entries of this size. */
export const LEASE_KEEPALIVES_PER_ENTRY = 10_000;

// ---- Worker threads ------------------------------------------------------------------------------------------

/** Bytes of one worker's request ring (requests are small; a full ring makes the main thread wait: backpressure). */
export const READ_REQUEST_RING_BYTES = 1 << 20;
/**
 * Bytes of one worker's reply ring. A response larger than it is evaluated on the main thread instead (the worker
 * says so), so a huge range never needs a huge ring.
 */
export const READ_REPLY_RING_BYTES = 16 << 20;
/**
 * Consecutive failed attempts at one physical-compaction step (its worker died or the step threw) before the member
 * gives up as on any storage failure. A step is idempotent, so each attempt simply runs it again on a fresh thread.
 */
export const COMPACTION_STEP_ATTEMPTS_MAX = 5;
/**
 * Records written per transaction when a data directory is migrated to a newer storage format on open: each chunk is
 * one bounded write transaction (a few MiB at most with 256-byte values), so a kill -9 loses at most one chunk's work
 * and memory stays flat however large the store is.
 */
export const MIGRATION_CHUNK_RECORDS = 4096;
/** Records migrated between two progress lines on stderr. */
export const MIGRATION_PROGRESS_RECORDS = 100_000;
/**
 * How long the compaction thread stays after its last step before it ends (the next step starts a new one). A
 * compaction's steps follow each other within milliseconds, so this only ends the thread between compactions: an idle
 * member does not keep a Node isolate (about 14 MiB) waiting for the next one; starting a thread costs ~50-100 ms
 * once per compaction.
 */
export const COMPACTION_WORKER_IDLE_MS = 30_000;
/** Reads sent to a worker in one ring message (one socket chunk's reads travel together, in messages of this many). */
export const READ_BATCH_REQUESTS_MAX = 64;
/**
 * Single-key ranges are evaluated on the main thread even when there are worker threads: such a read costs about
 * 2 µs, less than the two cross-thread wake-ups of a trip through a worker (measured in BENCHMARKS.md, "Worker
 * threads"). Scans and read-only txns go to the workers.
 */
export const WORKER_POINT_READS_INLINE = true;

// ---- The client port: gRPC, HTTP and the binary protocol on one listener -------------------------------------

/**
 * How long a new connection on a --listen-client-urls port may take to send the bytes that say which protocol it
 * speaks (see CLIENT_PORT_SNIFF_BYTES_MAX); one that has not by then is closed. A deadline from accept, not an idle
 * timer, so a client trickling one byte at a time cannot stretch it. As long as the HTTP side's own idle timeout
 * (HTTP_IDLE_TIMEOUT_MS): a silent client is closed no sooner than uWS would have closed it. etcd's cmux waits without
 * a deadline.
 */
export const CLIENT_PORT_SNIFF_TIMEOUT_MS = 10_000;
/**
 * Bytes the client port reads at most before it routes a connection: the length of HTTP/2's connection preface
 * (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`), the longest signature it compares. The binary protocol's magic is 2 bytes, and an
 * HTTP/1 request's method must end (with a space) within these bytes, or the request is answered 400. What arrived in
 * the same read beyond them is handed on with them, never buffered further.
 */
export const CLIENT_PORT_SNIFF_BYTES_MAX = 24;
/**
 * How long a connection the client port refuses (a malformed request answered 400, HTTP on a gRPC-only port) stays
 * open after the answer, for the client to read it and close first; Go's server waits the same (rstAvoidanceDelay).
 */
export const CLIENT_PORT_CLOSE_GRACE_MS = 500;

// ---- HTTP: health, metrics, dashboard ------------------------------------------------------------------------

/**
 * How long /health, /livez and /readyz wait for their read before reporting it failed. etcd 3.4's health read waits
 * one second: a probe must answer quickly, and a member that cannot serve a read in a second is not healthy.
 */
export const HEALTH_READ_TIMEOUT_MS = 1000;
/** Health and readiness reads waiting at once; past it a probe fails at once instead of queueing another read. */
export const HEALTH_READS_INFLIGHT_MAX = 64;
/** Largest file the dashboard route serves (files are read once at start-up and kept in memory). */
export const DASHBOARD_FILE_BYTES_MAX = 4 * MiB;
/** Files the dashboard route loads from dashboard/ (it is a handful; anything more is a packaging mistake). */
export const DASHBOARD_FILES_MAX = 64;

// ---- HTTP/JSON gateway and WebSocket -------------------------------------------------------------------------

/**
 * etcd's gRPC server takes messages up to --max-request-bytes plus this (grpc.MaxRecvMsgSize); a larger request
 * fails with ResourceExhausted `grpc: received message larger than max (N vs. M)` before the server sees it.
 */
export const GRPC_RECEIVE_SLACK_BYTES = 512 * 1024;

/** Largest gRPC message the member reads: etcd's grpc.MaxRecvMsgSize (--max-request-bytes + 512 KiB). */
export function grpcReceiveBytesMax(limits: Pick<Limits, 'requestBytesMax'>): number {
  return limits.requestBytesMax + GRPC_RECEIVE_SLACK_BYTES;
}

/**
 * Largest JSON request body (or one JSON message on a stream) the gateway buffers. JSON carries bytes as base64 (4/3)
 * plus names and quoting, so twice the largest gRPC message etcd accepts leaves room for any request etcd would
 * take; anything longer is refused from its Content-Length, or as soon as the streamed body passes it.
 */
export function gatewayBodyBytesMax(limits: Pick<Limits, 'requestBytesMax'>): number {
  return 2 * (limits.requestBytesMax + GRPC_RECEIVE_SLACK_BYTES);
}

/**
 * Bytes an HTTP stream response (watch, keep-alive, observe) may hold unsent for a client that does not read. Watch
 * streams stop taking live events earlier (WATCH_PENDING_BYTES_MAX) and catch up from history later; past this
 * bound the stream is ended and the connection closed, so a stalled client holds a bounded amount of memory.
 */
export const HTTP_STREAM_PENDING_BYTES_MAX = 16 * MiB;
/**
 * Idle HTTP connections: uWS closes a connection that sends no request (or no body bytes) for 10 s, and one whose
 * response cannot be written for 10 s. This is compiled into uWS; named here so the bound is documented.
 */
export const HTTP_IDLE_TIMEOUT_MS = 10_000;

/**
 * Bytes a WebSocket stream may have buffered towards a slow client. A send that would pass it closes the socket
 * with code 1008 and a reason instead: an event is never dropped silently. Watch streams stop taking live events at
 * WATCH_PENDING_BYTES_MAX first (and catch up from history once the client reads), so this bound is hit by a client
 * that stalls for good or by non-watch streams.
 */
export const WEBSOCKET_BUFFERED_BYTES_MAX = 16 * MiB;
/** Seconds without any frame (uWS sends pings to keep live clients) before a WebSocket is closed. */
export const WEBSOCKET_IDLE_TIMEOUT_S = 120;

// ---- gRPC (HTTP/2) -------------------------------------------------------------------------------------------

/**
 * HTTP/2 stream window the member grants a gRPC client (SETTINGS_INITIAL_WINDOW_SIZE): one whole message of the
 * largest size it reads, with its 5-byte gRPC prefix, so a unary request never waits for a window update. A stream
 * gets more only as the member consumes what was sent.
 */
export function grpcStreamWindowBytes(limits: Pick<Limits, 'requestBytesMax'>): number {
  return grpcReceiveBytesMax(limits) + 5;
}

/**
 * HTTP/2 connection window: bytes one gRPC client may have sent that the member has not yet dispatched. Two of the
 * largest messages; requests held back by backpressure keep their bytes here, so a client that sends faster than
 * the member answers is stopped by its window, and what one connection buffers on the way in is bounded by this.
 */
export function grpcConnectionWindowBytes(limits: Pick<Limits, 'requestBytesMax'>): number {
  return 2 * grpcStreamWindowBytes(limits);
}

/**
 * Largest HTTP/2 header block (a HEADERS frame and its CONTINUATION frames) the member reads, also advertised as
 * SETTINGS_MAX_HEADER_LIST_SIZE. gRPC metadata from etcd's clients is a few hundred bytes (an auth token at most);
 * a larger block ends the connection (its HPACK state cannot be kept otherwise). grpc-go allows 16 MiB.
 */
export const GRPC_HEADER_BLOCK_BYTES_MAX = 64 * 1024;

/**
 * Nesting depth of protobuf messages the gRPC decoder follows (a txn nests two messages per level), checked before
 * recursing so that a deeply nested message is an error, not a stack overflow. Above TXN_NESTING_DEPTH_MAX's needs,
 * so the txn bound answers first with its own message.
 */
export const GRPC_MESSAGE_DEPTH_MAX = 2 * TXN_NESTING_DEPTH_MAX + 8;

/**
 * HTTP/2 frames of one connection written to its socket in one write when together at most this (one copy into one
 * buffer, one syscall for a turn's responses); a larger turn goes out as a corked series of writes without the copy.
 */
export const GRPC_WRITE_COALESCE_BYTES_MAX = 256 * 1024;

/** After a GOAWAY, how long a client has to read it and close before the member destroys the socket. */
export const GRPC_GOAWAY_LINGER_MS = 5000;

/**
 * Bytes a gRPC stream other than Watch (LeaseKeepAlive, Observe) may hold for a client that does not read it (its
 * HTTP/2 window is closed). Past it the stream is reset (RST_STREAM CANCEL). Watch streams stop taking live events
 * at WATCH_PENDING_BYTES_MAX first and are caught up from history once the client reads again.
 */
export const GRPC_STREAM_PENDING_BYTES_MAX = 16 * MiB;

// ---- Watch filtering in a worker thread (issue 5) -------------------------------------------------------------

/**
 * Synced watchers from which applied batches are matched in the watch filter worker rather than on the main thread
 * (with --worker-threads > 0). Below it the main thread's own RangeIndex stab costs less than a ring round trip.
 */
export const WATCH_FILTER_WORKER_MIN_WATCHERS = 1000;
/**
 * ... and distinct watched ranges among them. 10,000 watchers on one prefix matched faster on the main thread (371-415k
 * events/s) than through the worker (240-254k): a stab is cheap when the ranges are few, and the sends stay here.
 */
export const WATCH_FILTER_WORKER_MIN_RANGES = 256;
/** Bytes of the filter worker's request ring (registration changes and event batches; keys only, no values). */
export const WATCH_FILTER_REQUEST_RING_BYTES = 4 << 20;
/** Bytes of the filter worker's reply ring ((watcher, event indices) per batch; a reply above half of it is refused). */
export const WATCH_FILTER_REPLY_RING_BYTES = 8 << 20;
/**
 * Applied batches waiting for delivery (matched by the worker, or queued behind one that is). Past it the oldest is
 * matched on the main thread at once, so a slow worker holds back a bounded number of batches and no queue grows.
 */
export const WATCH_FILTER_BATCHES_PENDING_MAX = 64;
/** A batch the worker has not answered within this is matched on the main thread (a stuck worker delays events by at most this). */
export const WATCH_FILTER_RESULT_WAIT_MS = 1000;
/** Bytes of registration changes (estimated) carried by one request-ring message. */
export const WATCH_FILTER_CHANGES_MESSAGE_BYTES_MAX = 256 * 1024;

/**
 * etcd's HealthInterval: a member is added only if this member has been connected to every voting member for this
 * long (etcd's isConnectedFullySince; "etcdserver: unhealthy cluster" otherwise).
 */
export const MEMBERSHIP_HEALTH_INTERVAL_MS = 5000;

// ---- auth (src/auth) ----------------------------------------------------------------------------------------------

/**
 * bcrypt computations (password checks of Authenticate, hashes of UserAdd and UserChangePassword) running at once on
 * libuv's thread pool. One at cost 10 takes ~50 ms of a core; libuv's pool has 4 threads (UV_THREADPOOL_SIZE), which
 * lmdb-js's writes and file system calls share: two leave them room, and two cores are what this machine class has.
 */
export const AUTH_PASSWORD_CHECKS_PARALLEL = 2;
/**
 * bcrypt computations running or waiting for a slot; past it a login fails at once with `too many authentication
 * requests` instead of queueing without bound (a burst of wrong passwords must not hold the member's memory or make
 * every later login wait for seconds). 64 waiting at ~40 checks/s is under two seconds of queue.
 */
export const AUTH_PASSWORD_CHECKS_PENDING_MAX = 64;
/**
 * JWTs whose signature was verified, kept (oldest dropped first) so a client's token is verified once rather than on
 * every request (an RS256 verification costs ~40 µs); expiry is still checked on every use.
 */
export const AUTH_JWT_VERIFIED_CACHE_MAX = 10_000;
/**
 * Times Authenticate checks the password again when the auth store changed between its check and the token's apply
 * (etcd retries without bound); after these it fails with `revision of auth store is old`.
 */
export const AUTH_AUTHENTICATE_ATTEMPTS_MAX = 5;
