// `-w simple` (printer_simple.go): raw keys and values one per line, or hex-escaped with --hex.

import { prefixRangeEnd, type DeleteRangeResponse, type KeyValue, type PutResponse, type RangeResponse, type TxnResponse } from '../../../client/index.js';
import { bytesToByteString, type ByteString, int64String, utf8ToByteString } from '../../../gocompat/index.js';
import { stderr, stdout } from '../output.js';
import type { EndpointHealth, EndpointStatus, Printer, WatchEvents } from './printer.js';
import { endpointStatusRows, memberListRows } from './printer-table.js';
import {
  PermissionType,
  type AuthHeaderResponse,
  type AuthRoleGetResponse,
  type AuthRoleListResponse,
  type AuthUserGetResponse,
  type AuthUserListResponse,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MemberUpdateResponse,
  type MoveLeaderResponse,
  type Permission,
} from '../../../proto/index.js';

/** fmt's %16x of a uint64 */
export function hex16(v: bigint | number | undefined): string {
  return BigInt.asUintN(64, BigInt(v ?? 0)).toString(16).padStart(16, ' ');
}

/** types.ID's String(): the uint64 in hex, unpadded */
export function idString(v: bigint | number | undefined): string {
  return BigInt.asUintN(64, BigInt(v ?? 0)).toString(16);
}

/** fmt's %016x of an int64 (a lease ID): zero-padded to 16 characters, a minus sign included */
export function leaseHex(v: bigint | number | undefined): string {
  const n = BigInt.asIntN(64, BigInt(v ?? 0));
  return n < 0n ? '-' + (-n).toString(16).padStart(15, '0') : n.toString(16).padStart(16, '0');
}

/** mvccpb.Event_EventType's String() */
export function eventTypeName(t: number | undefined): string {
  switch (t ?? 0) {
    case 0:
      return 'PUT';
    case 1:
      return 'DELETE';
    default:
      return String(t);
  }
}

function hexEscaped(bytes: Uint8Array | undefined): ByteString {
  if (bytes === undefined) return '';
  let out = '';
  for (const b of bytes) out += '\\x' + b.toString(16).padStart(2, '0');
  return out;
}

export class SimplePrinter implements Printer {
  valueOnly = false;
  constructor(private readonly isHex: boolean) {}

  private kv(kv: KeyValue): void {
    const k = this.isHex ? hexEscaped(kv.key) : bytesToByteString(kv.key);
    const v = this.isHex ? hexEscaped(kv.value) : bytesToByteString(kv.value);
    if (!this.valueOnly) stdout(k + '\n');
    stdout(v + '\n');
  }

  get(r: RangeResponse): void {
    for (const kv of r.kvs ?? []) this.kv(kv);
  }

  put(r: PutResponse): void {
    stdout('OK\n');
    if (r.prev_kv !== undefined && r.prev_kv !== null) this.kv(r.prev_kv);
  }

  del(r: DeleteRangeResponse): void {
    stdout(`${r.deleted ?? 0}\n`);
    for (const kv of r.prev_kvs ?? []) this.kv(kv);
  }

  txn(r: TxnResponse): void {
    stdout(r.succeeded ? 'SUCCESS\n' : 'FAILURE\n');
    for (const op of r.responses ?? []) {
      stdout('\n');
      if (op.response_delete_range !== undefined) this.del(op.response_delete_range);
      else if (op.response_put !== undefined) this.put(op.response_put);
      else if (op.response_range !== undefined) this.get(op.response_range);
      else stdout(`unexpected response ${JSON.stringify(op, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    }
  }

  endpointHealth(list: EndpointHealth[]): void {
    for (const h of list) {
      if (h.error === '') stderr(`${h.endpoint} is healthy: successfully committed proposal: took = ${h.took}\n`);
      else stderr(`${h.endpoint} is unhealthy: failed to commit proposal: ${h.error}\n`);
    }
  }

  endpointStatus(list: EndpointStatus[]): void {
    for (const row of endpointStatusRows(list)) stdout(row.join(', ') + '\n');
  }

  memberAdd(r: MemberAddResponse): void {
    stdout(`Member ${hex16(r.member?.ID)} added to cluster ${hex16(r.header?.cluster_id)}\n`);
  }

  memberRemove(id: bigint, r: MemberRemoveResponse): void {
    stdout(`Member ${hex16(id)} removed from cluster ${hex16(r.header?.cluster_id)}\n`);
  }

  memberUpdate(id: bigint, r: MemberUpdateResponse): void {
    stdout(`Member ${hex16(id)} updated in cluster ${hex16(r.header?.cluster_id)}\n`);
  }

  memberPromote(id: bigint, r: MemberPromoteResponse): void {
    stdout(`Member ${hex16(id)} promoted in cluster ${hex16(r.header?.cluster_id)}\n`);
  }

  memberList(r: MemberListResponse): void {
    for (const row of memberListRows(r)) stdout(row.join(', ') + '\n');
  }

  moveLeader(leader: bigint, target: bigint, _r: MoveLeaderResponse): void {
    stdout(`Leadership transferred from ${idString(leader)} to ${idString(target)}\n`);
  }

  watch(r: WatchEvents): void {
    for (const e of r.events ?? []) {
      stdout(eventTypeName(e.type) + '\n');
      if (e.prev_kv !== undefined && e.prev_kv !== null) this.kv(e.prev_kv);
      this.kv(e.kv);
    }
  }

  grant(r: LeaseGrantResponse): void {
    stdout(`lease ${leaseHex(r.ID)} granted with TTL(${int64(r.TTL)}s)\n`);
  }

  revoke(id: bigint, _r: LeaseRevokeResponse): void {
    stdout(`lease ${leaseHex(id)} revoked\n`);
  }

  keepAlive(r: LeaseKeepAliveResponse): void {
    stdout(`lease ${leaseHex(r.ID)} keepalived with TTL(${int64(r.TTL)})\n`);
  }

  timeToLive(r: LeaseTimeToLiveResponse, keys: boolean): void {
    if (BigInt(r.grantedTTL ?? 0) === 0n && BigInt(r.TTL ?? 0) === -1n) {
      stdout(`lease ${leaseHex(r.ID)} already expired\n`);
      return;
    }
    let txt = `lease ${leaseHex(r.ID)} granted with TTL(${int64(r.grantedTTL)}s), remaining(${int64(r.TTL)}s)`;
    if (keys) txt += `, attached keys([${(r.keys ?? []).map((k) => bytesToByteString(k)).join(' ')}])`;
    stdout(txt + '\n');
  }

  leases(r: LeaseLeasesResponse): void {
    const list = r.leases ?? [];
    stdout(`found ${list.length} leases\n`);
    for (const l of list) stdout(`${leaseHex(l.ID)}\n`);
  }

  roleAdd(role: ByteString, _r: AuthHeaderResponse): void {
    stdout(`Role ${role} created\n`);
  }

  roleGet(role: ByteString, r: AuthRoleGetResponse): void {
    const perms = r.perm ?? [];
    const granted = (p: Permission, type: number): boolean => (p.permType ?? 0) === type || (p.permType ?? 0) === PermissionType.READWRITE;
    let out = `Role ${role}\nKV Read:\n`;
    for (const p of perms) if (granted(p, PermissionType.READ)) out += permissionLine(p);
    out += 'KV Write:\n';
    for (const p of perms) if (granted(p, PermissionType.WRITE)) out += permissionLine(p);
    stdout(out);
  }

  roleList(r: AuthRoleListResponse): void {
    for (const role of r.roles ?? []) stdout(`${utf8ToByteString(role)}\n`);
  }

  roleDelete(role: ByteString, _r: AuthHeaderResponse): void {
    stdout(`Role ${role} deleted\n`);
  }

  roleGrantPermission(role: ByteString, _r: AuthHeaderResponse): void {
    stdout(`Role ${role} updated\n`);
  }

  roleRevokePermission(role: ByteString, key: ByteString, end: ByteString, _r: AuthHeaderResponse): void {
    if (end === '') stdout(`Permission of key ${key} is revoked from role ${role}\n`);
    else if (end !== '\x00') stdout(`Permission of range [${key}, ${end}) is revoked from role ${role}\n`);
    else stdout(`Permission of range [${key}, <open ended> is revoked from role ${role}\n`);
  }

  userAdd(user: ByteString, _r: AuthHeaderResponse): void {
    stdout(`User ${user} created\n`);
  }

  userGet(user: ByteString, r: AuthUserGetResponse): void {
    stdout(`User: ${user}\nRoles:${(r.roles ?? []).map((role) => ' ' + utf8ToByteString(role)).join('')}\n`);
  }

  userChangePassword(_r: AuthHeaderResponse): void {
    stdout('Password updated\n');
  }

  userGrantRole(user: ByteString, role: ByteString, _r: AuthHeaderResponse): void {
    stdout(`Role ${role} is granted to user ${user}\n`);
  }

  userRevokeRole(user: ByteString, role: ByteString, _r: AuthHeaderResponse): void {
    stdout(`Role ${role} is revoked from user ${user}\n`);
  }

  userDelete(user: ByteString, _r: AuthHeaderResponse): void {
    stdout(`User ${user} deleted\n`);
  }

  userList(r: AuthUserListResponse): void {
    for (const user of r.users ?? []) stdout(`${utf8ToByteString(user)}\n`);
  }
}

/** One permission line of `role get`: the key alone, or its range ("<open ended>" for "\x00", the prefix it is). */
function permissionLine(p: Permission): ByteString {
  const key = bytesToByteString(p.key);
  const end = bytesToByteString(p.range_end);
  if (end === '') return `\t${key}\n`;
  let line = end !== '\x00' ? `\t[${key}, ${end})` : `\t[${key}, <open ended>`;
  if (bytesToByteString(prefixRangeEnd(p.key ?? new Uint8Array())) === end) line += ` (prefix ${key})`;
  return line + '\n';
}

function int64(v: bigint | number | undefined): string {
  return int64String(v ?? 0);
}
