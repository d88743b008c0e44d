export * from './encoding.js';
export * from './read.js';
export * from './apply.js';
export * from './compact.js';
export * from './events.js';
