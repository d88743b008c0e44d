// The TypeScript client for the binary protocol: the Client (client.ts), resumable watchers (watch.ts) and the
// clientv3/concurrency-shaped recipes (recipes.ts), with the request/response schema and the error type they use.

export * from '../proto/types.js';
export { prefixRangeEnd } from '../proto/index.js';
export { EtcdError, GrpcCode } from '../errors/index.js';
export { Client, endpointUsesTls, parseEndpoint, toBytes, type ClientOptions, type ClientTlsOptions } from './client.js';
export type { ClientStream, StreamHandlers, StreamOpener } from './stream.js';
export { Session, Mutex, Election, type SessionOptions } from './recipes.js';
export { watch, type WatchHandlers, type Watcher, type WatchOptions } from './watch.js';
