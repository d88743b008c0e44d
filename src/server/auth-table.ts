// The auth store's records in the member's LMDB environment (the `auth` table, storage format etcd-ts/5): the
// persistence port the store writes through inside apply transactions, and the reader that loads it at start-up and
// after a snapshot install.
//
// Keys: [0x00] -> {enabled, revision}; [0x01, sha256(name)] -> user; [0x02, sha256(name)] -> role. Names are hashed
// into the key because LMDB bounds keys (1978 bytes) and etcd does not bound user or role names; every record
// carries its name, and the store keeps its own order in memory.

import { createHash } from 'node:crypto';
import type { Database } from 'lmdb';
import { EMPTY_AUTH, type AuthContents, type AuthPersistence, type AuthStateRecord, type RoleRecord, type UserRecord } from '../auth/index.js';
import type { Permission } from '../proto/index.js';

type AuthTable = Database<any, Buffer>;

const STATE_KEY = Buffer.from([0x00]);
const USER = 0x01;
const ROLE = 0x02;

function recordKey(kind: number, name: string): Buffer {
  return Buffer.concat([Buffer.from([kind]), createHash('sha256').update(name, 'utf8').digest()]);
}

interface StoredUser {
  name: string;
  password: string;
  roles: string[];
  noPassword: boolean;
}

interface StoredRole {
  name: string;
  /** [type, key, range_end] */
  permissions: [number, Uint8Array, Uint8Array][];
}

function bytes(v: Uint8Array | undefined): Uint8Array {
  return v === undefined ? new Uint8Array(0) : new Uint8Array(v);
}

/** Writes through to the table; call only inside a write transaction (the apply's, or a snapshot install's). */
export function authPersistence(table: AuthTable): AuthPersistence {
  return {
    putState: (state) => table.putSync(STATE_KEY, { enabled: state.enabled, revision: state.revision }),
    putUser: (u) => table.putSync(recordKey(USER, u.name), { name: u.name, password: u.password, roles: [...u.roles], noPassword: u.noPassword } satisfies StoredUser),
    deleteUser: (name) => table.removeSync(recordKey(USER, name)),
    putRole: (r) =>
      table.putSync(recordKey(ROLE, r.name), { name: r.name, permissions: r.permissions.map((p) => [p.permType, p.key, p.range_end]) } satisfies StoredRole),
    deleteRole: (name) => table.removeSync(recordKey(ROLE, name)),
  };
}

/** The whole store as the table holds it (one read snapshot). */
export function readAuthContents(table: AuthTable): AuthContents {
  let state: AuthStateRecord = EMPTY_AUTH.state;
  const users: UserRecord[] = [];
  const roles: RoleRecord[] = [];
  for (const { key, value } of table.getRange({})) {
    const kind = (key as Buffer)[0];
    if (kind === 0x00) state = { enabled: (value as AuthStateRecord).enabled === true, revision: Number((value as AuthStateRecord).revision) };
    else if (kind === USER) {
      const u = value as StoredUser;
      users.push({ name: u.name, password: u.password, roles: [...u.roles], noPassword: u.noPassword === true });
    } else if (kind === ROLE) {
      const r = value as StoredRole;
      const permissions: Permission[] = r.permissions.map(([permType, key, rangeEnd]) => ({ permType, key: bytes(key), range_end: bytes(rangeEnd) }));
      roles.push({ name: r.name, permissions });
    }
  }
  return { state, users, roles };
}
