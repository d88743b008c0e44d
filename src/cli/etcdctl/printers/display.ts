// NewPrinter: the printer for a `-w` value (null for an unknown one).

import {
  encodeAuthHeaderResponse,
  encodeDeleteRangeResponse,
  encodeNamesResponse,
  encodeRoleGetResponse,
  encodeMemberResponse,
  encodeMoveLeaderResponse,
  encodePutResponse,
  encodeRangeResponse,
  encodeResponseHeader,
  encodeTxnResponse,
  encodeWatchResponse,
  responseHeaderText,
} from './protobuf.js';
import { ExitCode, exitWithError, stdout } from '../output.js';
import { unsupported, type Printer } from './printer.js';
import { FieldsPrinter } from './printer-fields.js';
import { JsonPrinter } from './printer-json.js';
import { SimplePrinter } from './printer-simple.js';
import { tablePrinter } from './printer-table.js';

function protobufPrinter(): Printer {
  return {
    ...unsupported('protobuf'),
    get: (r) => stdout(encodeRangeResponse(r)),
    put: (r) => stdout(encodePutResponse(r)),
    del: (r) => stdout(encodeDeleteRangeResponse(r)),
    txn: (r) => stdout(encodeTxnResponse(r)),
    memberAdd: (r) => stdout(encodeMemberResponse(r, true)),
    memberRemove: (_id, r) => stdout(encodeMemberResponse(r, false)),
    memberUpdate: (_id, r) => stdout(encodeMemberResponse(r, false)),
    memberList: (r) => stdout(encodeMemberResponse(r, false)),
    moveLeader: (_leader, _target, r) => stdout(encodeMoveLeaderResponse(r)),
    watch: (r) => stdout(encodeWatchResponse(r)),
    grant: (r) => stdout(encodeResponseHeader(r.header)),
    keepAlive: (r) => stdout(encodeResponseHeader(r.header)),
    timeToLive: (r) => stdout(encodeResponseHeader(r.header)),
    leases: (r) => stdout(encodeResponseHeader(r.header)),
    // clientv3.LeaseRevokeResponse is a defined type without pb's Marshal; %v shows its *ResponseHeader's String()
    revoke: (_id, r) =>
      exitWithError(ExitCode.BadFeature, `marshal unsupported for type clientv3.LeaseRevokeResponse ({${responseHeaderText(r.header)}})`),
    roleAdd: (_role, r) => stdout(encodeAuthHeaderResponse(r)),
    roleGet: (_role, r) => stdout(encodeRoleGetResponse(r)),
    roleDelete: (_role, r) => stdout(encodeAuthHeaderResponse(r)),
    roleList: (r) => stdout(encodeNamesResponse(r)),
    roleGrantPermission: (_role, r) => stdout(encodeAuthHeaderResponse(r)),
    roleRevokePermission: (_role, _key, _end, r) => stdout(encodeAuthHeaderResponse(r)),
    userAdd: (_user, r) => stdout(encodeAuthHeaderResponse(r)),
    userGet: (_user, r) => stdout(encodeNamesResponse(r)),
    userList: (r) => stdout(encodeNamesResponse(r)),
    userChangePassword: (r) => stdout(encodeAuthHeaderResponse(r)),
    userGrantRole: (_user, _role, r) => stdout(encodeAuthHeaderResponse(r)),
    userRevokeRole: (_user, _role, r) => stdout(encodeAuthHeaderResponse(r)),
    userDelete: (_user, r) => stdout(encodeAuthHeaderResponse(r)),
  };
}

export function newPrinter(format: string, isHex: boolean): Printer | null {
  switch (format) {
    case 'simple':
      return new SimplePrinter(isHex);
    case 'fields':
      return new FieldsPrinter();
    case 'json':
      return new JsonPrinter();
    case 'protobuf':
      return protobufPrinter();
    case 'table':
      return tablePrinter();
    default:
      return null;
  }
}
