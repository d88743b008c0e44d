// `-w fields` (printer_fields.go): one `"Name" : value` line per field, strings quoted as Go's %q does.

import type { DeleteRangeResponse, KeyValue, PutResponse, RangeResponse, ResponseHeader, TxnResponse } from '../../../client/index.js';
import { bytesToByteString, type ByteString, int64String, quote, uint64String, utf8ToByteString } from '../../../gocompat/index.js';
import { stdout } from '../output.js';
import { nilPrinterPanic, unsupported, type EndpointHealth, type EndpointStatus, type Printer, type WatchEvents } from './printer.js';
import { eventTypeName } from './printer-simple.js';
import type {
  AuthHeaderResponse,
  AuthRoleGetResponse,
  AuthRoleListResponse,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  MemberListResponse,
} from '../../../proto/index.js';

const fieldsUnsupported = unsupported('fields');

function hdr(h: ResponseHeader | undefined | null): void {
  stdout(
    `"ClusterID" : ${uint64String(h?.cluster_id ?? 0)}\n` +
      `"MemberID" : ${uint64String(h?.member_id ?? 0)}\n` +
      `"Revision" : ${int64String(h?.revision ?? 0)}\n` +
      `"RaftTerm" : ${uint64String(h?.raft_term ?? 0)}\n`,
  );
}

/** authpb.Permission_Type's String() */
function permTypeName(t: number | undefined): string {
  return ['READ', 'WRITE', 'READWRITE'][t ?? 0] ?? String(t);
}

function kv(pfx: string, kv: KeyValue): void {
  stdout(
    `"${pfx}Key" : ${quote(bytesToByteString(kv.key))}\n` +
      `"${pfx}CreateRevision" : ${int64String(kv.create_revision ?? 0)}\n` +
      `"${pfx}ModRevision" : ${int64String(kv.mod_revision ?? 0)}\n` +
      `"${pfx}Version" : ${int64String(kv.version ?? 0)}\n` +
      `"${pfx}Value" : ${quote(bytesToByteString(kv.value))}\n` +
      `"${pfx}Lease" : ${int64String(kv.lease ?? 0)}\n`,
  );
}

export class FieldsPrinter implements Printer {
  get(r: RangeResponse): void {
    hdr(r.header);
    for (const x of r.kvs ?? []) kv('', x);
    stdout(`"More" : ${String(r.more ?? false)}\n"Count" : ${int64String(r.count ?? 0)}\n`);
  }

  put(r: PutResponse): void {
    hdr(r.header);
    if (r.prev_kv !== undefined && r.prev_kv !== null) kv('Prev', r.prev_kv);
  }

  del(r: DeleteRangeResponse): void {
    hdr(r.header);
    stdout(`"Deleted" : ${int64String(r.deleted ?? 0)}\n`);
    for (const x of r.prev_kvs ?? []) kv('Prev', x);
  }

  txn(r: TxnResponse): void {
    hdr(r.header);
    stdout(`"Succeeded" : ${String(r.succeeded ?? false)}\n`);
    for (const op of r.responses ?? []) {
      if (op.response_delete_range !== undefined) this.del(op.response_delete_range);
      else if (op.response_put !== undefined) this.put(op.response_put);
      else if (op.response_range !== undefined) this.get(op.response_range);
      else stdout(`"Unknown" : ${quote(JSON.stringify(op, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))}\n`);
    }
  }

  endpointHealth(list: EndpointHealth[]): void {
    for (const h of list) {
      stdout(`"Endpoint" : ${quote(h.endpoint)}\n"Health" : ${String(h.health)}\n"Took" : ${h.took}\n"Error" : ${h.error}\n\n`);
    }
  }

  endpointStatus(list: EndpointStatus[]): void {
    for (const { endpoint, status: s } of list) {
      hdr(s.header);
      stdout(
        `"Version" : ${quote(s.version ?? '')}\n` +
          `"DBSize" : ${int64String(s.dbSize ?? 0)}\n` +
          `"Leader" : ${uint64String(s.leader ?? 0)}\n` +
          `"IsLearner" : ${String(s.isLearner ?? false)}\n` +
          `"RaftIndex" : ${uint64String(s.raftIndex ?? 0)}\n` +
          `"RaftTerm" : ${uint64String(s.raftTerm ?? 0)}\n` +
          `"RaftAppliedIndex" : ${uint64String(s.raftAppliedIndex ?? 0)}\n` +
          `"Errors" : [${(s.errors ?? []).join(' ')}]\n` +
          `"Endpoint" : ${quote(endpoint)}\n\n`,
      );
    }
  }

  memberList(r: MemberListResponse): void {
    hdr(r.header);
    for (const m of r.members ?? []) {
      let out = `"ID" : ${uint64String(m.ID ?? 0)}\n"Name" : ${quote(utf8ToByteString(m.name ?? ''))}\n`;
      for (const u of m.peerURLs ?? []) out += `"PeerURL" : ${quote(utf8ToByteString(u))}\n`;
      for (const u of m.clientURLs ?? []) out += `"ClientURL" : ${quote(utf8ToByteString(u))}\n`;
      out += `"IsLearner" : ${String(m.isLearner ?? false)}\n\n`;
      stdout(out);
    }
  }

  watch(r: WatchEvents): void {
    hdr(r.header);
    for (const e of r.events ?? []) {
      stdout(`"Type" : ${eventTypeName(e.type)}\n`);
      if (e.prev_kv !== undefined && e.prev_kv !== null) kv('Prev', e.prev_kv);
      kv('', e.kv);
    }
  }

  grant(r: LeaseGrantResponse): void {
    hdr(r.header);
    stdout(`"ID" : ${int64String(r.ID ?? 0)}\n"TTL" : ${int64String(r.TTL ?? 0)}\n`);
  }

  revoke(_id: bigint, r: LeaseRevokeResponse): void {
    hdr(r.header);
  }

  keepAlive(r: LeaseKeepAliveResponse): void {
    hdr(r.header);
    stdout(`"ID" : ${int64String(r.ID ?? 0)}\n"TTL" : ${int64String(r.TTL ?? 0)}\n`);
  }

  timeToLive(r: LeaseTimeToLiveResponse, _keys: boolean): void {
    hdr(r.header);
    let out = `"ID" : ${int64String(r.ID ?? 0)}\n"TTL" : ${int64String(r.TTL ?? 0)}\n"GrantedTTL" : ${int64String(r.grantedTTL ?? 0)}\n`;
    for (const k of r.keys ?? []) out += `"Key" : ${quote(bytesToByteString(k))}\n`;
    stdout(out);
  }

  leases(r: LeaseLeasesResponse): void {
    hdr(r.header);
    for (const l of r.leases ?? []) stdout(`"ID" : ${int64String(l.ID ?? 0)}\n`);
  }

  roleAdd(_role: ByteString, r: AuthHeaderResponse): void {
    hdr(r.header);
  }

  roleGet(_role: ByteString, r: AuthRoleGetResponse): void {
    hdr(r.header);
    let out = '';
    // fmt.Println(`"PermType" : `, name): Println's separating space makes two
    for (const p of r.perm ?? []) {
      out += `"PermType" :  ${permTypeName(p.permType)}\n"Key" : ${quote(bytesToByteString(p.key))}\n"RangeEnd" : ${quote(bytesToByteString(p.range_end))}\n`;
    }
    stdout(out);
  }

  roleDelete(_role: ByteString, r: AuthHeaderResponse): void {
    hdr(r.header);
  }

  roleList(r: AuthRoleListResponse): void {
    hdr(r.header);
    stdout(`"Roles" :${(r.roles ?? []).map((role) => ' ' + quote(utf8ToByteString(role))).join('')}\n`);
  }

  roleGrantPermission(_role: ByteString, r: AuthHeaderResponse): void {
    hdr(r.header);
  }

  roleRevokePermission(_role: ByteString, _key: ByteString, _end: ByteString, r: AuthHeaderResponse): void {
    hdr(r.header);
  }

  userAdd(_user: ByteString, r: AuthHeaderResponse): void {
    hdr(r.header);
  }

  userChangePassword(r: AuthHeaderResponse): void {
    hdr(r.header);
  }

  userGrantRole(_user: ByteString, _role: ByteString, r: AuthHeaderResponse): void {
    hdr(r.header);
  }

  userRevokeRole(_user: ByteString, _role: ByteString, r: AuthHeaderResponse): void {
    hdr(r.header);
  }

  userDelete(_user: ByteString, r: AuthHeaderResponse): void {
    hdr(r.header);
  }

  // fieldsPrinter has no UserGet or UserList: "fields not supported as output format"
  userGet = fieldsUnsupported.userGet;
  userList = fieldsUnsupported.userList;

  // fieldsPrinter has no member add/remove/update or move-leader printing: "fields not supported as output format"
  memberAdd = fieldsUnsupported.memberAdd;
  memberRemove = fieldsUnsupported.memberRemove;
  memberUpdate = fieldsUnsupported.memberUpdate;
  memberPromote = nilPrinterPanic;
  moveLeader = fieldsUnsupported.moveLeader;
}
