// etcdctl's output formats (ctlv3/command/printer*.go): one printer per `-w` value. A format a command does not
// support fails only when the command prints, i.e. after its request has been served, as in etcdctl.

import { Errors } from '../../../errors/index.js';
import type { DeleteRangeResponse, PutResponse, RangeResponse, StatusResponse, TxnResponse } from '../../../client/index.js';
import type {
  AuthHeaderResponse,
  AuthRoleGetResponse,
  AuthRoleListResponse,
  AuthUserGetResponse,
  AuthUserListResponse,
  Event,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteResponse,
  MemberRemoveResponse,
  MemberUpdateResponse,
  MoveLeaderResponse,
  ResponseHeader,
} from '../../../proto/index.js';
import { ExitCode, exitWithError, goPanic } from '../output.js';
import type { ByteString } from '../../../gocompat/index.js';

export interface EndpointHealth {
  endpoint: ByteString;
  health: boolean;
  took: ByteString;
  error: ByteString;
}

export interface EndpointStatus {
  endpoint: ByteString;
  status: StatusResponse;
}

/**
 * clientv3's WatchResponse, what etcdctl prints for a watch: the server's response without its watch ID, or one the
 * client makes up when a watch fails (no header, events null, the error in closeErr).
 */
export interface WatchEvents {
  header: ResponseHeader | null;
  /** null: the Go slice is nil (a made-up response); [] when the server sent none */
  events: Event[] | null;
  compactRevision: number;
  canceled: boolean;
  created: boolean;
  closeErr: string | null;
  cancelReason: string;
}

/** WatchResponse.Err()'s text, or null. */
export function watchErr(r: WatchEvents): string | null {
  if (r.closeErr !== null) return r.closeErr;
  if (r.compactRevision !== 0) return Errors.Compacted.message;
  if (r.canceled) return r.cancelReason !== '' ? r.cancelReason : Errors.FutureRev.message;
  return null;
}

/** WatchResponse.IsProgressNotify() */
export function isProgressNotify(r: WatchEvents): boolean {
  return (r.events ?? []).length === 0 && !r.canceled && !r.created && r.compactRevision === 0 && Number(r.header?.revision ?? 0) !== 0;
}

export interface Printer {
  get(r: RangeResponse): void;
  put(r: PutResponse): void;
  del(r: DeleteRangeResponse): void;
  txn(r: TxnResponse): void;
  endpointHealth(list: EndpointHealth[]): void;
  endpointStatus(list: EndpointStatus[]): void;
  memberAdd(r: MemberAddResponse): void;
  memberRemove(id: bigint, r: MemberRemoveResponse): void;
  memberUpdate(id: bigint, r: MemberUpdateResponse): void;
  memberPromote(id: bigint, r: MemberPromoteResponse): void;
  memberList(r: MemberListResponse): void;
  moveLeader(leader: bigint, target: bigint, r: MoveLeaderResponse): void;
  watch(r: WatchEvents): void;
  grant(r: LeaseGrantResponse): void;
  revoke(id: bigint, r: LeaseRevokeResponse): void;
  keepAlive(r: LeaseKeepAliveResponse): void;
  timeToLive(r: LeaseTimeToLiveResponse, keys: boolean): void;
  leases(r: LeaseLeasesResponse): void;
  // user, role and auth commands: names as the command line gave them (bytes), responses as the server sent them
  roleAdd(role: ByteString, r: AuthHeaderResponse): void;
  roleGet(role: ByteString, r: AuthRoleGetResponse): void;
  roleDelete(role: ByteString, r: AuthHeaderResponse): void;
  roleList(r: AuthRoleListResponse): void;
  roleGrantPermission(role: ByteString, r: AuthHeaderResponse): void;
  /** `key` as given on the command line, `end` the range end sent ('' for a single key, "\x00" open-ended) */
  roleRevokePermission(role: ByteString, key: ByteString, end: ByteString, r: AuthHeaderResponse): void;
  userAdd(user: ByteString, r: AuthHeaderResponse): void;
  userGet(user: ByteString, r: AuthUserGetResponse): void;
  userList(r: AuthUserListResponse): void;
  userChangePassword(r: AuthHeaderResponse): void;
  userGrantRole(user: ByteString, role: ByteString, r: AuthHeaderResponse): void;
  userRevokeRole(user: ByteString, role: ByteString, r: AuthHeaderResponse): void;
  userDelete(user: ByteString, r: AuthHeaderResponse): void;
}

/**
 * etcdctl 3.4's printerRPC has no MemberPromote, so every format but simple reaches a nil printer there: Go panics with
 * a nil pointer dereference (exit 2) after the promotion has been applied. The signal line's addresses are the Go
 * binary's and are not reproduced.
 */
export function nilPrinterPanic(): never {
  return goPanic(
    'runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x0]',
  );
}

/** The methods of a format that does not support them: "<format> not supported as output format", exit 4. */
export function unsupported(format: string): Printer {
  const fail = (): never => exitWithError(ExitCode.BadFeature, `${format} not supported as output format`);
  return {
    get: fail,
    put: fail,
    del: fail,
    txn: fail,
    endpointHealth: fail,
    endpointStatus: fail,
    memberAdd: fail,
    memberRemove: fail,
    memberUpdate: fail,
    memberPromote: nilPrinterPanic,
    memberList: fail,
    moveLeader: fail,
    watch: fail,
    grant: fail,
    revoke: fail,
    keepAlive: fail,
    timeToLive: fail,
    leases: fail,
    roleAdd: fail,
    roleGet: fail,
    roleDelete: fail,
    roleList: fail,
    roleGrantPermission: fail,
    roleRevokePermission: fail,
    userAdd: fail,
    userGet: fail,
    userList: fail,
    userChangePassword: fail,
    userGrantRole: fail,
    userRevokeRole: fail,
    userDelete: fail,
  };
}
