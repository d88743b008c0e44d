// NewPrinter: the printer for a `-w` value (null for an unknown one).

import { encodeDeleteRangeResponse, encodePutResponse, encodeRangeResponse, encodeTxnResponse } from './protobuf.js';
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
