// etcd RPCs that etcd-ts answers without a service behind them, for the front ends that speak etcd's whole API (the
// JSON gateway and gRPC): the maintenance calls it has nothing to do for, and etcd's auth service as etcd 3.4 answers
// with auth disabled and no users or roles (checked against etcd 3.4.23 with its etcdctl). Where etcd would do
// something etcd-ts cannot (raise an alarm, add a user or role, hash or snapshot the store), the answer is grpc-go's
// Unimplemented for the method. Requests arrive decoded (proto names, enums as numbers), not validated: these
// answers read at most one field.

import { etcdError, type EtcdError } from '../errors/index.js';
import type { EtcdServer } from './server.js';

export type FixedMethodName =
  | 'Alarm'
  | 'Defragment'
  | 'Hash'
  | 'HashKV'
  | 'Snapshot'
  | 'AuthEnable'
  | 'AuthDisable'
  | 'Authenticate'
  | 'UserAdd'
  | 'UserGet'
  | 'UserList'
  | 'UserDelete'
  | 'UserChangePassword'
  | 'UserGrantRole'
  | 'UserRevokeRole'
  | 'RoleAdd'
  | 'RoleGet'
  | 'RoleList'
  | 'RoleDelete'
  | 'RoleGrantPermission'
  | 'RoleRevokePermission';

export type FixedMethod = (server: EtcdServer, request: Record<string, unknown>) => unknown;

/** What grpc-go answers for a method the server does not implement. */
export function unimplemented(rpc: string): EtcdError {
  return etcdError('MethodNotImplemented', rpc);
}

const refuse = (rpc: string): FixedMethod => () => {
  throw unimplemented(rpc);
};
const userNotFound: FixedMethod = () => {
  throw etcdError('UserNotFound');
};
const roleNotFound: FixedMethod = () => {
  throw etcdError('RoleNotFound');
};
const headerOnly: FixedMethod = (server) => ({ header: server.header() });

/** AlarmRequest.action */
const ALARM_ACTIVATE = 1;

export const FIXED_METHODS: { readonly [M in FixedMethodName]: FixedMethod } = Object.freeze({
  // No alarm is ever raised here (the quota refuses writes directly), so GET and DEACTIVATE find none. etcd 3.4
  // leaves the header of Alarm and Defragment responses empty.
  Alarm: (_server, r) => {
    if (r['action'] === ALARM_ACTIVATE) throw unimplemented('Alarm');
    return {};
  },
  // LMDB reuses freed pages itself; there is nothing to rewrite
  Defragment: () => ({}),
  Hash: refuse('Hash'),
  HashKV: refuse('HashKV'),
  Snapshot: refuse('Snapshot'),

  AuthEnable: () => {
    throw etcdError('RootUserNotExist');
  },
  AuthDisable: headerOnly,
  Authenticate: () => {
    throw etcdError('AuthNotEnabled');
  },
  // adding a user or role would succeed in etcd; etcd-ts has no auth store
  UserAdd: (_server, r) => {
    if (!r['name']) throw etcdError('UserEmpty');
    throw unimplemented('UserAdd');
  },
  UserGet: userNotFound,
  UserList: headerOnly,
  UserDelete: userNotFound,
  UserChangePassword: userNotFound,
  UserGrantRole: userNotFound,
  UserRevokeRole: userNotFound,
  RoleAdd: (_server, r) => {
    if (!r['name']) throw etcdError('RoleEmpty');
    throw unimplemented('RoleAdd');
  },
  RoleGet: roleNotFound,
  RoleList: headerOnly,
  RoleDelete: roleNotFound,
  RoleGrantPermission: roleNotFound,
  RoleRevokePermission: roleNotFound,
});
