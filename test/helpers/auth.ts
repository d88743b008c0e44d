// Auth helpers for tests: an Auth over a member's storage (for tests that build an Applier by hand), and a quick
// way to set users, roles and auth up on a running member through the client.

import { Auth, type AuthContents } from '../../src/auth/index.js';
import { systemClock, type Clock } from '../../src/clock/index.js';
import { AUTH_JWT_VERIFIED_CACHE_MAX } from '../../src/config/index.js';
import { authPersistence, readAuthContents } from '../../src/server/auth-table.js';
import type { Storage } from '../../src/storage/index.js';
import assert from 'node:assert/strict';
import { EtcdError, type Client } from '../../src/client/index.js';
import { PermissionType } from '../../src/proto/index.js';

/** An Auth on `storage`'s auth table, simple tokens, bcrypt at the lowest cost (tests need no strength). */
export function testAuth(storage: Storage, clock: Clock = systemClock, contents?: AuthContents): Auth {
  return new Auth(
    contents ?? readAuthContents(storage.auth),
    { clock, persistence: authPersistence(storage.auth), appliedIndex: () => Number.MAX_SAFE_INTEGER, waitApplied: async () => true },
    { token: { type: 'simple' }, tokenTtlSeconds: 300, bcryptCost: 4, passwordChecks: { parallel: 2, pendingMax: 64 }, jwtVerifiedCacheMax: AUTH_JWT_VERIFIED_CACHE_MAX },
  );
}

export interface UserSpec {
  name: string;
  password: string;
  /** role name -> permissions [type, key, range_end?] ('prefix' range_end: the prefix end of key) */
  roles?: Record<string, [type: 'read' | 'write' | 'readwrite', key: string, rangeEnd?: string][]>;
}

const TYPES = { read: PermissionType.READ, write: PermissionType.WRITE, readwrite: PermissionType.READWRITE };

/** Adds root (password `rootPassword`) with role root, the given users and roles, then enables auth. */
export async function setUpAuth(client: Client, rootPassword: string, users: UserSpec[] = []): Promise<void> {
  await client.call('UserAdd', { name: 'root', password: rootPassword });
  await client.call('UserGrantRole', { user: 'root', role: 'root' });
  for (const u of users) {
    await client.call('UserAdd', { name: u.name, password: u.password });
    for (const [role, perms] of Object.entries(u.roles ?? {})) {
      await client.call('RoleAdd', { name: role }).catch((err: Error) => {
        if (!/already exists/.test(err.message)) throw err;
      });
      for (const [type, key, rangeEnd] of perms) {
        const end = rangeEnd === 'prefix' ? prefixEnd(key) : rangeEnd === undefined ? new Uint8Array(0) : Buffer.from(rangeEnd);
        await client.call('RoleGrantPermission', { name: role, perm: { permType: TYPES[type], key: Buffer.from(key), range_end: end } });
      }
      await client.call('UserGrantRole', { user: u.name, role });
    }
  }
  await client.call('AuthEnable', {});
}

/** clientv3's GetPrefixRangeEnd. */
function prefixEnd(prefix: string): Uint8Array {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) return Uint8Array.from([...b.subarray(0, i), b[i]! + 1]);
  }
  return Uint8Array.from([0]);
}

/** The refusal of `p`: [gRPC code, message] of the EtcdError it fails with (fails the test if it succeeds). */
export async function refusal(p: Promise<unknown>): Promise<[number, string]> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EtcdError, String(err));
    return [err.code, err.message];
  }
  assert.fail('expected a refusal');
}
