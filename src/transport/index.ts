export * from './codec.js';
export * from './transport.js';
