// etcdctl's output formats (-w simple, fields, json, protobuf, table) behind one Printer interface, plus what the
// commands take from them: the printer for a -w value, the simple printer's number spellings, watch-response
// predicates, and protobuf request sizes for the client-side size check.

export { newPrinter } from './display.js';
export {
  isProgressNotify,
  watchErr,
  type EndpointHealth,
  type EndpointStatus,
  type Printer,
  type WatchEvents,
} from './printer.js';
export { eventTypeName, leaseHex, SimplePrinter } from './printer-simple.js';
export { requestSize } from './protobuf.js';
