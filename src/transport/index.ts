export * from './codec.js';
export * from './transport.js';
export * from './listen.js';
