export * from './types.js';
export * from './storage.js';
export * from './log.js';
export * from './progress.js';
export * from './raft.js';
export * from './rawnode.js';
