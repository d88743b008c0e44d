export * from './types.js';
export * from './frame.js';
export * from './validate.js';
export * from './keys.js';
export * as Schema from './schema.js';
export type { EnumDesc, FieldDesc, MessageDesc, ScalarKind } from './schema.js';
