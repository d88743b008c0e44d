export * from './lessor.js';
