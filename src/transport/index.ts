export * from './codec.js';
export * from './transport.js';
export * from './listen.js';
export * from './members-query.js';
export * from './dial.js';
