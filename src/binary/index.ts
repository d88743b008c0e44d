export * from './binary-server.js';
