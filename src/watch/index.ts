export * from './hub.js';
export * from './range-index.js';
export { WatchFilterPool, type WatchFilter, type WatchFilterClient } from './filter-pool.js';
