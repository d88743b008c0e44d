export * from './hub.js';
export * from './range-index.js';
