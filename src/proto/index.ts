export * from './types.js';
export * from './frame.js';
export * from './validate.js';
export * from './keys.js';
