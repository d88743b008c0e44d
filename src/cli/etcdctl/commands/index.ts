// etcdctl's commands (the cobra tree's leaves under the root command), one module per command group.

export { authCommand, roleCommand, userCommand } from './cmd-auth.js';
export { endpointCommand } from './cmd-endpoint.js';
export { compactionCommand, delCommand, getCommand, putCommand } from './cmd-kv.js';
export { leaseCommand } from './cmd-lease.js';
export { electCommand, lockCommand } from './cmd-lock.js';
export { memberCommand, moveLeaderCommand } from './cmd-member.js';
export { txnCommand } from './cmd-txn.js';
export { watchCommand } from './cmd-watch.js';
