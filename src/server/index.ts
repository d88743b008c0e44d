export * from './server.js';
export * from './identity.js';
export * from './methods.js';
export type { StreamHandle, StreamSinkLike } from './ports.js';
export { EncodedResponse } from './read-pool.js';
export { FIXED_METHODS, unimplemented, type FixedMethod, type FixedMethodName } from './fixed-methods.js';
