// One catalogue of the errors a client can see (stable name, etcd's exact message, gRPC code, HTTP status through
// the gateway's mapping), the EtcdError type every front end renders, and the invariant check for broken invariants.

export { GrpcCode, grpcCodeName, httpStatusOf, type GrpcCodeNumber } from './codes.js';
export {
  Errors,
  catalogueEntries,
  isFixed,
  nameOfMessage,
  type ArgsOf,
  type CatalogueEntry,
  type ErrorName,
  type FixedEntry,
  type FixedErrorName,
  type Origin,
  type TemplateEntry,
  type TemplateErrorName,
} from './catalogue.js';
export { EtcdError, etcdError, fromStatus, toEtcdError, unmapped } from './etcd-error.js';
export { AssertionError, invariant, isAssertionError } from './assert.js';
