// One catalogue of the errors a client can see: etcd's exact message and gRPC code (and the HTTP status the JSON
// gateway maps that code to). Every front end renders errors from here, never from ad-hoc strings.

export const GrpcCode = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;
export type GrpcCodeNumber = (typeof GrpcCode)[keyof typeof GrpcCode];

const codeNames = Object.fromEntries(Object.entries(GrpcCode).map(([name, code]) => [code, name])) as Record<
  number,
  string
>;

export function grpcCodeName(code: number): string {
  return codeNames[code] ?? 'Unknown';
}

/** grpc-gateway v1's mapping (FailedPrecondition is 400, not 412). */
export function httpStatusOf(code: number): number {
  switch (code) {
    case 0: return 200;
    case 1: return 408;
    case 2: return 500;
    case 3: return 400;
    case 4: return 504;
    case 5: return 404;
    case 6: return 409;
    case 7: return 403;
    case 8: return 429;
    case 9: return 400;
    case 10: return 409;
    case 11: return 400;
    case 12: return 501;
    case 13: return 500;
    case 14: return 503;
    case 15: return 500;
    case 16: return 401;
    default: return 500;
  }
}

/** An operating error: returned to the caller with etcd's message and code; never a crash. */
export class EtcdError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
    this.name = 'EtcdError';
  }
  get httpStatus(): number {
    return httpStatusOf(this.code);
  }
}

const C = GrpcCode;
function def(code: number, message: string): { code: number; message: string } {
  return Object.freeze({ code, message });
}

/** The catalogue. Keys are stable names; messages are etcd 3.4/3.5's exact strings. */
export const Errors = Object.freeze({
  EmptyKey: def(C.InvalidArgument, 'etcdserver: key is not provided'),
  KeyNotFound: def(C.InvalidArgument, 'etcdserver: key not found'),
  ValueProvided: def(C.InvalidArgument, 'etcdserver: value is provided'),
  LeaseProvided: def(C.InvalidArgument, 'etcdserver: lease is provided'),
  TooManyOps: def(C.InvalidArgument, 'etcdserver: too many operations in txn request'),
  DuplicateKey: def(C.InvalidArgument, 'etcdserver: duplicate key given in txn request'),
  /** etcd-ts only: LMDB bounds key length (see config/limits.ts keyBytesMax); etcd bounds only the request size. */
  KeyTooLarge: def(C.InvalidArgument, 'etcdserver: key is too large'),
  InvalidSortOption: def(C.InvalidArgument, 'etcdserver: invalid sort option'),
  Compacted: def(C.OutOfRange, 'etcdserver: mvcc: required revision has been compacted'),
  FutureRev: def(C.OutOfRange, 'etcdserver: mvcc: required revision is a future revision'),
  NoSpace: def(C.ResourceExhausted, 'etcdserver: mvcc: database space exceeded'),
  RequestTooLarge: def(C.InvalidArgument, 'etcdserver: request is too large'),
  TooManyRequests: def(C.Unknown, 'etcdserver: too many requests'),
  LeaseNotFound: def(C.NotFound, 'etcdserver: requested lease not found'),
  LeaseExist: def(C.FailedPrecondition, 'etcdserver: lease already exists'),
  LeaseTTLTooLarge: def(C.OutOfRange, 'etcdserver: too large lease TTL'),
  MemberExist: def(C.FailedPrecondition, 'etcdserver: member ID already exist'),
  PeerURLExist: def(C.FailedPrecondition, 'etcdserver: Peer URLs already exists'),
  MemberNotEnoughStarted: def(C.Unknown, 'etcdserver: re-configuration failed due to not enough started members'),
  MemberBadURLs: def(C.InvalidArgument, 'etcdserver: given member URLs are invalid'),
  MemberNotFound: def(C.NotFound, 'etcdserver: member not found'),
  MemberNotLearner: def(C.FailedPrecondition, 'etcdserver: can only promote a learner member'),
  LearnerNotReady: def(C.FailedPrecondition, 'etcdserver: can only promote a learner member which is in sync with leader'),
  TooManyLearners: def(C.FailedPrecondition, 'etcdserver: too many learner members in cluster'),
  ClusterIdMismatch: def(C.FailedPrecondition, 'etcdserver: cluster ID mismatch'),
  NoLeader: def(C.Unavailable, 'etcdserver: no leader'),
  NotLeader: def(C.FailedPrecondition, 'etcdserver: not leader'),
  LeaderChanged: def(C.Unavailable, 'etcdserver: leader changed'),
  NotCapable: def(C.Unavailable, 'etcdserver: not capable'),
  Stopped: def(C.Unavailable, 'etcdserver: server stopped'),
  Timeout: def(C.Unavailable, 'etcdserver: request timed out'),
  TimeoutDueToLeaderFail: def(C.Unavailable, 'etcdserver: request timed out, possibly due to previous leader failure'),
  TimeoutDueToConnectionLost: def(C.Unavailable, 'etcdserver: request timed out, possibly due to connection lost'),
  TimeoutWaitAppliedIndex: def(
    C.Unavailable,
    'etcdserver: request timed out, waiting for the applied index took too long',
  ),
  Unhealthy: def(C.Unavailable, 'etcdserver: unhealthy cluster'),
  Corrupt: def(C.DataLoss, 'etcdserver: corrupt cluster'),
  LearnerNotSupported: def(C.Unavailable, 'etcdserver: rpc not supported for learner'),
  BadLeaderTransferee: def(C.FailedPrecondition, 'etcdserver: bad leader transferee'),
  Canceled: def(C.Canceled, 'etcdserver: request canceled'),
  DeadlineExceeded: def(C.DeadlineExceeded, 'etcdserver: context deadline exceeded'),
  WatchCanceled: def(C.Canceled, 'etcdserver: watch canceled'),
  PermissionDenied: def(C.PermissionDenied, 'etcdserver: permission denied'),
  InvalidAuthToken: def(C.Unauthenticated, 'etcdserver: invalid auth token'),
  UserEmpty: def(C.InvalidArgument, 'etcdserver: user name is empty'),
});
export type ErrorName = keyof typeof Errors;

/** A typed operating error from the catalogue. */
export function etcdError(name: ErrorName): EtcdError {
  const entry = Errors[name];
  return new EtcdError(entry.code, entry.message);
}

/** InvalidArgument for malformed input that etcd would reject at the gRPC decoding layer. */
export function invalidArgument(detail: string): EtcdError {
  return new EtcdError(C.InvalidArgument, detail);
}

/** Converts anything thrown inside request handling into an EtcdError a client can be sent. */
export function toEtcdError(err: unknown): EtcdError {
  if (err instanceof EtcdError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EtcdError(C.Internal, message);
}
export * from './assert.js';
