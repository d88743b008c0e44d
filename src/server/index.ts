export * from './server.js';
export * from './identity.js';
