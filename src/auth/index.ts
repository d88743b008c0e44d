// The auth subsystem's public face: etcd's v3 auth (users, roles, key permissions, the enabled flag and the auth
// revision), its tokens (simple and JWT), bcrypt passwords, and the permission rules every request is checked by.
// No I/O here except through the ports it is given (persistence, clock, key files).
export { Auth, type AuthPorts, type AuthSettings, type RequestAuth } from './auth.js';
export { JwtTokens, signMethod, type JwtKeys, type JwtSignMethod } from './jwt.js';
export { AuthTokenOptionsError, goReadFileError, JWT_TTL_DEFAULT_MS, parseAuthToken, type AuthTokenConfig, type ReadKeyFile } from './options.js';
export { BCRYPT_COST_DEFAULT, BCRYPT_COST_MAX, BCRYPT_COST_MIN, PasswordHasher, type PasswordLimits } from './password.js';
export { compareAffine, isRangePermitted, IntervalSet, mergePermissions, pointInterval, type AccessType, type MergedPermissions } from './permissions.js';
export * from './rules.js';
export {
  ANONYMOUS,
  AuthStore,
  EMPTY_AUTH,
  ROOT_ROLE,
  ROOT_USER,
  sortedNames,
  type AuthCheckpoint,
  type AuthContents,
  type AuthEffects,
  type AuthInfo,
  type AuthPersistence,
  type AuthStateRecord,
  type RoleRecord,
  type UserRecord,
} from './store.js';
export { NoTokens, SIMPLE_TOKEN_SWEEP_MS, SIMPLE_TOKEN_TTL_DEFAULT_SECONDS, SimpleTokens, type TokenLookup, type TokenProvider } from './tokens.js';
