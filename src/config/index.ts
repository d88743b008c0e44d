export * from './limits.js';
export * from './flags.js';
