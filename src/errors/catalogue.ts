// The catalogue of the errors a client can see: for each, a stable name, the exact message (or, when part of it
// varies, the function that builds it), the gRPC code it travels with, and where the text comes from.
//
// Names: etcd's own identifier without its prefix. For etcd's gRPC errors that is the rpctypes name
// (api/v3rpc/rpctypes/error.go) less `ErrGRPC`: ErrGRPCEmptyKey -> EmptyKey, ErrGRPCNoLeader -> NoLeader,
// ErrGPRCNotSupportedForLearner (sic) -> NotSupportedForLearner; the one exception is TooManyRequests, clientv3's
// rpctypes.ErrTooManyRequests (server side ErrGRPCRequestTooManyRequests). For etcd's plain Go errors it is the
// variable name less `Err` (concurrency.ErrElectionNotLeader -> ElectionNotLeader). Errors etcd does not have are
// named in the same style and marked origin 'etcd-ts' (or 'grpc-go' for grpc-go's own texts).

import { GrpcCode, type GrpcCodeNumber } from './codes.js';

/** Where an entry's text comes from. */
export type Origin =
  /** an rpctypes gRPC error of etcd 3.4 and 3.5 */
  | 'etcd'
  /** an rpctypes gRPC error of etcd 3.5 only */
  | 'etcd-3.5'
  /** an rpctypes gRPC error of later etcd (3.6), absent from 3.4 and 3.5 */
  | 'etcd-3.6'
  /** etcd's text for a plain Go error, not a gRPC status: gRPC clients receive it as Unknown */
  | 'etcd-go'
  /** grpc-go's own text (client or server side) */
  | 'grpc-go'
  /** etcd-ts's own: etcd has no such error */
  | 'etcd-ts';

interface EntryBase {
  readonly code: GrpcCodeNumber;
  readonly origin: Origin;
  /** etcd's identifier for this error in its Go source, when it has one */
  readonly etcdName?: string;
  /** clientv3 3.4 turns this text back into a typed error (rpctypes.Error), so etcdctl prints the text alone */
  readonly typedByClientv3: boolean;
}

export interface FixedEntry extends EntryBase {
  readonly message: string;
}

export interface TemplateEntry<A extends unknown[]> extends EntryBase {
  readonly format: (...args: A) => string;
  /** recognises a received message built by `format`, for the texts a member sends */
  readonly pattern?: RegExp;
}

export type AnyTemplateEntry = TemplateEntry<never>;
export type CatalogueEntry = FixedEntry | AnyTemplateEntry;

const C = GrpcCode;

/** etcd 3.4/3.5 rpctypes: `etcdName` is ErrGRPC<name> unless given. */
function etcd(code: GrpcCodeNumber, message: string, etcdName: string, typedByClientv3 = true): FixedEntry {
  return Object.freeze({ code, message, origin: 'etcd', etcdName, typedByClientv3 });
}
function etcdOnly(origin: 'etcd-3.5' | 'etcd-3.6', code: GrpcCodeNumber, message: string, etcdName: string): FixedEntry {
  return Object.freeze({ code, message, origin, etcdName, typedByClientv3: false });
}
/** A plain Go error of etcd's: Unknown on the wire. */
function etcdGo(message: string, etcdName: string): FixedEntry {
  return Object.freeze({ code: C.Unknown, message, origin: 'etcd-go', etcdName, typedByClientv3: false });
}
function grpcGo(code: GrpcCodeNumber, message: string): FixedEntry {
  return Object.freeze({ code, message, origin: 'grpc-go', typedByClientv3: false });
}
function own(code: GrpcCodeNumber, message: string): FixedEntry {
  return Object.freeze({ code, message, origin: 'etcd-ts', typedByClientv3: false });
}
function template<A extends unknown[]>(
  origin: 'grpc-go' | 'etcd-ts',
  code: GrpcCodeNumber,
  format: (...args: A) => string,
  pattern?: RegExp,
): TemplateEntry<A> {
  return Object.freeze({ code, format, origin, typedByClientv3: false, ...(pattern === undefined ? {} : { pattern }) });
}

/** The catalogue. Messages are etcd 3.4/3.5's exact strings where etcd has the error. */
export const Errors = Object.freeze({
  // ---- etcd's gRPC errors (rpctypes), 3.4 and 3.5 -------------------------------------------------------------
  EmptyKey: etcd(C.InvalidArgument, 'etcdserver: key is not provided', 'ErrGRPCEmptyKey'),
  KeyNotFound: etcd(C.InvalidArgument, 'etcdserver: key not found', 'ErrGRPCKeyNotFound'),
  ValueProvided: etcd(C.InvalidArgument, 'etcdserver: value is provided', 'ErrGRPCValueProvided'),
  LeaseProvided: etcd(C.InvalidArgument, 'etcdserver: lease is provided', 'ErrGRPCLeaseProvided'),
  TooManyOps: etcd(C.InvalidArgument, 'etcdserver: too many operations in txn request', 'ErrGRPCTooManyOps'),
  DuplicateKey: etcd(C.InvalidArgument, 'etcdserver: duplicate key given in txn request', 'ErrGRPCDuplicateKey'),
  Compacted: etcd(C.OutOfRange, 'etcdserver: mvcc: required revision has been compacted', 'ErrGRPCCompacted'),
  FutureRev: etcd(C.OutOfRange, 'etcdserver: mvcc: required revision is a future revision', 'ErrGRPCFutureRev'),
  NoSpace: etcd(C.ResourceExhausted, 'etcdserver: mvcc: database space exceeded', 'ErrGRPCNoSpace'),
  RequestTooLarge: etcd(C.InvalidArgument, 'etcdserver: request is too large', 'ErrGRPCRequestTooLarge'),
  /**
   * Unknown, not rpctypes' ResourceExhausted: etcd's togRPCError maps it to clientv3's rpctypes.ErrTooManyRequests,
   * which is not a gRPC status, so gRPC sends Unknown.
   */
  TooManyRequests: etcd(C.Unknown, 'etcdserver: too many requests', 'ErrGRPCRequestTooManyRequests'),
  LeaseNotFound: etcd(C.NotFound, 'etcdserver: requested lease not found', 'ErrGRPCLeaseNotFound'),
  LeaseExist: etcd(C.FailedPrecondition, 'etcdserver: lease already exists', 'ErrGRPCLeaseExist'),
  LeaseTTLTooLarge: etcd(C.OutOfRange, 'etcdserver: too large lease TTL', 'ErrGRPCLeaseTTLTooLarge'),
  WatchCanceled: etcd(C.Canceled, 'etcdserver: watch canceled', 'ErrGRPCWatchCanceled'),
  MemberExist: etcd(C.FailedPrecondition, 'etcdserver: member ID already exist', 'ErrGRPCMemberExist'),
  PeerURLExist: etcd(C.FailedPrecondition, 'etcdserver: Peer URLs already exists', 'ErrGRPCPeerURLExist'),
  /** Unknown, not rpctypes' FailedPrecondition: the same mapping quirk as TooManyRequests. */
  MemberNotEnoughStarted: etcd(
    C.Unknown,
    'etcdserver: re-configuration failed due to not enough started members',
    'ErrGRPCMemberNotEnoughStarted',
  ),
  MemberBadURLs: etcd(C.InvalidArgument, 'etcdserver: given member URLs are invalid', 'ErrGRPCMemberBadURLs'),
  MemberNotFound: etcd(C.NotFound, 'etcdserver: member not found', 'ErrGRPCMemberNotFound'),
  MemberNotLearner: etcd(C.FailedPrecondition, 'etcdserver: can only promote a learner member', 'ErrGRPCMemberNotLearner'),
  LearnerNotReady: etcd(
    C.FailedPrecondition,
    'etcdserver: can only promote a learner member which is in sync with leader',
    'ErrGRPCLearnerNotReady',
  ),
  TooManyLearners: etcd(C.FailedPrecondition, 'etcdserver: too many learner members in cluster', 'ErrGRPCTooManyLearners'),
  ClusterIdMismatch: etcd(C.FailedPrecondition, 'etcdserver: cluster ID mismatch', 'ErrGRPCClusterIdMismatch', false),
  NoLeader: etcd(C.Unavailable, 'etcdserver: no leader', 'ErrGRPCNoLeader'),
  NotLeader: etcd(C.FailedPrecondition, 'etcdserver: not leader', 'ErrGRPCNotLeader'),
  LeaderChanged: etcd(C.Unavailable, 'etcdserver: leader changed', 'ErrGRPCLeaderChanged'),
  NotCapable: etcd(C.Unavailable, 'etcdserver: not capable', 'ErrGRPCNotCapable'),
  Stopped: etcd(C.Unavailable, 'etcdserver: server stopped', 'ErrGRPCStopped'),
  Timeout: etcd(C.Unavailable, 'etcdserver: request timed out', 'ErrGRPCTimeout'),
  TimeoutDueToLeaderFail: etcd(
    C.Unavailable,
    'etcdserver: request timed out, possibly due to previous leader failure',
    'ErrGRPCTimeoutDueToLeaderFail',
  ),
  TimeoutDueToConnectionLost: etcd(
    C.Unavailable,
    'etcdserver: request timed out, possibly due to connection lost',
    'ErrGRPCTimeoutDueToConnectionLost',
  ),
  TimeoutWaitAppliedIndex: etcd(
    C.Unavailable,
    'etcdserver: request timed out, waiting for the applied index took too long',
    'ErrGRPCTimeoutWaitAppliedIndex',
  ),
  Unhealthy: etcd(C.Unavailable, 'etcdserver: unhealthy cluster', 'ErrGRPCUnhealthy'),
  Corrupt: etcd(C.DataLoss, 'etcdserver: corrupt cluster', 'ErrGRPCCorrupt'),
  NotSupportedForLearner: etcd(C.Unavailable, 'etcdserver: rpc not supported for learner', 'ErrGPRCNotSupportedForLearner'),
  BadLeaderTransferee: etcd(C.FailedPrecondition, 'etcdserver: bad leader transferee', 'ErrGRPCBadLeaderTransferee'),
  // auth (src/auth)
  RootUserNotExist: etcd(C.FailedPrecondition, 'etcdserver: root user does not exist', 'ErrGRPCRootUserNotExist'),
  RootRoleNotExist: etcd(C.FailedPrecondition, 'etcdserver: root user does not have root role', 'ErrGRPCRootRoleNotExist'),
  UserAlreadyExist: etcd(C.FailedPrecondition, 'etcdserver: user name already exists', 'ErrGRPCUserAlreadyExist'),
  UserEmpty: etcd(C.InvalidArgument, 'etcdserver: user name is empty', 'ErrGRPCUserEmpty'),
  UserNotFound: etcd(C.FailedPrecondition, 'etcdserver: user name not found', 'ErrGRPCUserNotFound'),
  RoleAlreadyExist: etcd(C.FailedPrecondition, 'etcdserver: role name already exists', 'ErrGRPCRoleAlreadyExist'),
  RoleNotFound: etcd(C.FailedPrecondition, 'etcdserver: role name not found', 'ErrGRPCRoleNotFound'),
  RoleEmpty: etcd(C.InvalidArgument, 'etcdserver: role name is empty', 'ErrGRPCRoleEmpty'),
  // etcd 3.4.25+ (3.4.23 dereferences the missing permission and crashes in its apply loop)
  PermissionNotGiven: etcd(C.InvalidArgument, 'etcdserver: permission not given', 'ErrGRPCPermissionNotGiven', false),
  AuthFailed: etcd(C.InvalidArgument, 'etcdserver: authentication failed, invalid user ID or password', 'ErrGRPCAuthFailed'),
  PermissionDenied: etcd(C.PermissionDenied, 'etcdserver: permission denied', 'ErrGRPCPermissionDenied'),
  RoleNotGranted: etcd(C.FailedPrecondition, 'etcdserver: role is not granted to the user', 'ErrGRPCRoleNotGranted'),
  PermissionNotGranted: etcd(
    C.FailedPrecondition,
    'etcdserver: permission is not granted to the role',
    'ErrGRPCPermissionNotGranted',
  ),
  AuthNotEnabled: etcd(C.FailedPrecondition, 'etcdserver: authentication is not enabled', 'ErrGRPCAuthNotEnabled'),
  InvalidAuthToken: etcd(C.Unauthenticated, 'etcdserver: invalid auth token', 'ErrGRPCInvalidAuthToken'),
  InvalidAuthMgmt: etcd(C.InvalidArgument, 'etcdserver: invalid auth management', 'ErrGRPCInvalidAuthMgmt'),
  AuthOldRevision: etcd(C.InvalidArgument, 'etcdserver: revision of auth store is old', 'ErrGRPCAuthOldRevision'),

  // ---- etcd's gRPC errors of later versions -------------------------------------------------------------------
  Canceled: etcdOnly('etcd-3.5', C.Canceled, 'etcdserver: request canceled', 'ErrGRPCCanceled'),
  DeadlineExceeded: etcdOnly('etcd-3.5', C.DeadlineExceeded, 'etcdserver: context deadline exceeded', 'ErrGRPCDeadlineExceeded'),
  InvalidSortOption: etcdOnly('etcd-3.6', C.InvalidArgument, 'etcdserver: invalid sort option', 'ErrGRPCInvalidSortOption'),

  // ---- etcd's plain Go errors (v3lock, v3election, mvcc watch cancel reasons) ------------------------------------
  ElectionNotLeader: etcdGo('election: not leader', 'concurrency.ErrElectionNotLeader'),
  ElectionNoLeader: etcdGo('election: no leader', 'concurrency.ErrElectionNoLeader'),
  SessionExpired: etcdGo('mutex: session is expired', 'concurrency.ErrSessionExpired'),
  MissingLeaderKey: etcdGo('"leader" field must be provided', 'v3election.ErrMissingLeaderKey'),
  /** a watch cancel_reason, never a status */
  WatcherDuplicateID: etcdGo('mvcc: duplicate watch ID provided on the WatchStream', 'mvcc.ErrWatcherDuplicateID'),
  /** a watch cancel_reason, never a status */
  EmptyWatcherRange: etcdGo('mvcc: watcher range is empty', 'mvcc.ErrEmptyWatcherRange'),
  // etcd's auth store errors where etcd sends them unmapped: Defragment, Hash, HashKV and Snapshot check the caller
  // (authMaintenanceServer) without togRPCError. Named AuthStore<name>: the mapped rpctypes errors hold their names.
  AuthStorePermissionDenied: etcdGo('auth: permission denied', 'auth.ErrPermissionDenied'),
  AuthStoreUserEmpty: etcdGo('auth: user name is empty', 'auth.ErrUserEmpty'),
  AuthStoreUserNotFound: etcdGo('auth: user not found', 'auth.ErrUserNotFound'),
  AuthStoreInvalidAuthToken: etcdGo('auth: invalid auth token', 'auth.ErrInvalidAuthToken'),
  /** Authenticate of a user added with --no-password (it logs in by its TLS certificate's CN only) */
  NoPasswordUser: etcdGo('auth: authentication failed, password was given for no password user', 'auth.ErrNoPasswordUser'),
  /** a JWT provider with a public key only cannot issue tokens */
  VerifyOnly: etcdGo('auth: token signing attempted with verify-only key', 'auth.ErrVerifyOnly'),
  /** golang-jwt: an ES key of another curve than the sign-method's */
  InvalidKey: etcdGo('key is invalid', 'jwt.ErrInvalidKey'),

  // ---- grpc-go's texts ------------------------------------------------------------------------------------------
  /** a request above the server's receive limit */
  ReceivedMessageTooLarge: template(
    'grpc-go',
    C.ResourceExhausted,
    (size: number, max: number) => `grpc: received message larger than max (${size} vs. ${max})`,
    /^grpc: received message larger than max \(\d+ vs\. \d+\)$/,
  ),
  /** a request above the client's send limit (clientv3's MaxCallSendMsgSize) */
  SendMessageTooLarge: template(
    'grpc-go',
    C.ResourceExhausted,
    (size: number, max: number) => `trying to send message larger than max (${size} vs. ${max})`,
  ),
  /** a method the server does not implement (the generated Unimplemented stubs) */
  MethodNotImplemented: template(
    'grpc-go',
    C.Unimplemented,
    (rpc: string) => `method ${rpc} not implemented`,
    /^method \S+ not implemented$/,
  ),
  /** the gRPC front end: a method of a service the server does not register */
  UnknownService: template('grpc-go', C.Unimplemented, (service: string) => `unknown service ${service}`, /^unknown service \S*$/),
  /** the gRPC front end: a method a registered service does not have */
  UnknownServiceMethod: template(
    'grpc-go',
    C.Unimplemented,
    (method: string, service: string) => `unknown method ${method} for service ${service}`,
    /^unknown method \S* for service \S*$/,
  ),
  /** the gRPC front end: a :path with no `/` after its first character (grpc-go 1.33 answers ResourceExhausted) */
  MalformedMethodName: template('grpc-go', C.ResourceExhausted, (quotedPath: string) => `malformed method name: ${quotedPath}`),
  /** the gRPC front end: a compressed request (etcd's server registers no decompressor) */
  DecompressorNotInstalled: template(
    'grpc-go',
    C.Unimplemented,
    (quotedEncoding: string) => `grpc: Decompressor is not installed for grpc-encoding ${quotedEncoding}`,
  ),
  /** the gRPC front end: a message marked compressed on a stream without an encoding */
  CompressedWithoutEncoding: grpcGo(C.Internal, 'grpc: compressed flag set with identity or empty encoding'),
  /** the gRPC front end: a request that is not valid protobuf for its method */
  UnmarshalRequestFailed: template(
    'grpc-go',
    C.Internal,
    (detail: string) => `grpc: error unmarshalling request: ${detail}`,
    /^grpc: error unmarshalling request: /,
  ),
  /** the gRPC front end: a unary call (or the request of a server stream) ended before its message began */
  RequestMissing: grpcGo(C.Unknown, 'EOF'),
  /** the gRPC front end: a unary call ended in the middle of its message */
  RequestTruncated: grpcGo(C.Unknown, 'unexpected EOF'),
  /** grpc-go's health service asked about a service other than the server's own ("") */
  HealthUnknownService: grpcGo(C.NotFound, 'unknown service'),
  /** the client's connection broke under a request that is not retried */
  TransportClosing: grpcGo(C.Unavailable, 'transport is closing'),
  /** the client's own deadline passed (context.DeadlineExceeded as a status) */
  ContextDeadlineExceeded: grpcGo(C.DeadlineExceeded, 'context deadline exceeded'),

  // ---- etcd-ts's own ------------------------------------------------------------------------------------------
  /** LMDB bounds key length (see config/limits.ts keyBytesMax); etcd bounds only the request size. */
  KeyTooLarge: own(C.InvalidArgument, 'etcdserver: key is too large'),
  /** input that etcd would reject at gRPC decoding: `detail` says which field and why */
  InvalidRequest: template(
    'etcd-ts',
    C.InvalidArgument,
    (detail: string) => `etcdserver: invalid request: ${detail}`,
    /^etcdserver: invalid request: /,
  ),
  /** `shown`: the method name as the front end quotes it */
  UnknownMethod: template('etcd-ts', C.InvalidArgument, (shown: string) => `etcdserver: unknown method ${shown}`, /^etcdserver: unknown method /),
  UnknownStreamMethod: template(
    'etcd-ts',
    C.InvalidArgument,
    (shown: string) => `etcdserver: unknown stream method ${shown}`,
    /^etcdserver: unknown stream method /,
  ),
  /** a response the front end could not encode */
  ResponseEncodeFailed: template('etcd-ts', C.Internal, (detail: string) => `cannot encode response: ${detail}`, /^cannot encode response: /),
  /** a read given up after its worker thread died under it too many times */
  ReadWorkerDied: own(C.Internal, 'etcdserver: read failed: its worker thread died'),
  /** a watch cancel_reason: the member's watcher limit is reached */
  TooManyWatchers: own(C.ResourceExhausted, 'etcdserver: too many watchers'),
  /**
   * more password checks (Authenticate, UserAdd, UserChangePassword) running or waiting than the member takes
   * (AUTH_PASSWORD_CHECKS_PENDING_MAX): each is a bcrypt computation, and a burst must not queue without bound
   */
  TooManyAuthRequests: own(C.ResourceExhausted, 'etcdserver: too many authentication requests'),
  // client side (src/client, etcdctl-ts)
  /** the connection under a request or stream closed */
  ConnectionClosed: own(C.Unavailable, 'connection closed'),
  /** no endpoint could be connected; `detail` is the last endpoint's failure */
  Unreachable: template('etcd-ts', C.Unavailable, (detail: string) => detail),
  ResponseTooLarge: template('etcd-ts', C.ResourceExhausted, (bytes: number) => `response of ${bytes} bytes is larger than the client accepts`),
  MalformedResponse: template('etcd-ts', C.Internal, (detail: string) => `malformed response: ${detail}`),
  /** etcdctl-ts: a watch stream ended without an error */
  WatchStreamEnded: own(C.Unavailable, 'watch stream ended'),
});

export type ErrorName = keyof typeof Errors;
type Entries = typeof Errors;
export type FixedErrorName = { [N in ErrorName]: Entries[N] extends FixedEntry ? N : never }[ErrorName];
export type TemplateErrorName = Exclude<ErrorName, FixedErrorName>;
/** The arguments an entry's message is built from: none for a fixed message. */
export type ArgsOf<N extends ErrorName> = Entries[N] extends TemplateEntry<infer A> ? A : [];

export function isFixed(entry: CatalogueEntry): entry is FixedEntry {
  return 'message' in entry;
}

/** Every entry by name, for iteration (tests, the name lookup). */
export function catalogueEntries(): [ErrorName, CatalogueEntry][] {
  return Object.entries(Errors) as [ErrorName, CatalogueEntry][];
}

const byMessage = new Map<string, ErrorName>();
const patterns: [RegExp, ErrorName][] = [];
for (const [name, entry] of catalogueEntries()) {
  if (isFixed(entry)) byMessage.set(entry.message, name);
  else if (entry.pattern !== undefined) patterns.push([entry.pattern, name]);
}

/** The catalogue name of a message: exact for fixed texts, by pattern for built ones; undefined if unknown. */
export function nameOfMessage(message: string): ErrorName | undefined {
  const exact = byMessage.get(message);
  if (exact !== undefined) return exact;
  for (const [pattern, name] of patterns) if (pattern.test(message)) return name;
  return undefined;
}
