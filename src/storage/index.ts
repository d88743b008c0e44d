// The storage subsystem's public face: the LMDB environment and its durability contract (env.ts), the meta table's
// typed records (meta.ts) and Raft's stable storage (raft-storage.ts).
export * from './env.js';
export * from './meta.js';
export * from './raft-storage.js';
export * from './raft-persist.js';
export { formatV3, PREVIOUS_FORMAT } from './migrate-v3.js';
