// NewPrinter: the printer for a `-w` value (null for an unknown one).

import {
  encodeDeleteRangeResponse,
  encodeMemberResponse,
  encodeMoveLeaderResponse,
  encodePutResponse,
  encodeRangeResponse,
  encodeTxnResponse,
} from './protobuf.js';
import { stdout } from './output.js';
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
