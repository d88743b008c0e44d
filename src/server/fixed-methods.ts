// etcd RPCs that etcd-ts answers without a service behind them, for the front ends that speak etcd's whole API (the
// JSON gateway and gRPC): the maintenance calls it has nothing to do for. Where etcd would do something etcd-ts cannot
// (raise an alarm, hash or snapshot the store), the answer is grpc-go's Unimplemented for the method. Requests arrive
// decoded (proto names, enums as numbers), not validated: these answers read at most one field. etcd's auth checks in
// front of them are in methods.ts (callFixed).

import { etcdError, type EtcdError } from '../errors/index.js';
import type { EtcdServer } from './server.js';

export type FixedMethodName = 'Alarm' | 'Defragment' | 'Hash' | 'HashKV' | 'Snapshot';

export type FixedMethod = (server: EtcdServer, request: Record<string, unknown>) => unknown;

/** What grpc-go answers for a method the server does not implement. */
export function unimplemented(rpc: string): EtcdError {
  return etcdError('MethodNotImplemented', rpc);
}

const refuse = (rpc: string): FixedMethod => () => {
  throw unimplemented(rpc);
};

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
});
