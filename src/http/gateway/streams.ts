// Server-side streams for the gateway's HTTP and WebSocket front ends: the same member streams the binary protocol
// opens (watch, lease keep-alive, election observe), plus etcd's require-leader check for clients that send
// `Grpc-Metadata-hasleader: true`.

import type { ClockTimer } from '../../clock/index.js';
import { etcdError, type EtcdError } from '../../errors/index.js';
import type { StreamMethodName } from '../../proto/index.js';
import { openMethodStream, type EtcdServer, type StreamHandle } from '../../server/index.js';

/** Where a stream's responses go (a chunked HTTP response or a WebSocket). */
export interface StreamOutput {
  send(response: unknown): void;
  end(err?: EtcdError): void;
  pendingBytes(): number;
}

export interface ServerStream {
  handle(request: unknown): void;
  close(): void;
  drained(): void;
}

/** Opens a member stream; throws an EtcdError when the member refuses it (stopped, learner, no leader). */
export function openServerStream(server: EtcdServer, method: StreamMethodName, out: StreamOutput, requireLeader: boolean): ServerStream {
  // etcd refuses a require-leader stream at once when the member has no leader
  if (requireLeader && server.leader === 0n) throw etcdError('NoLeader');
  const inner: StreamHandle = openMethodStream(server, method, out);
  const monitor = requireLeader ? monitorLeader(server, () => {
    inner.close();
    out.end(etcdError('NoLeader'));
  }) : null;
  return {
    handle: (r) => inner.handle(r),
    close: () => {
      server.clock.clear(monitor);
      inner.close();
    },
    drained: () => inner.drained?.(),
  };
}

/** etcd's monitorLeader: a require-leader stream fails after three election timeouts in a row without a leader. */
const NO_LEADER_CHECKS_MAX = 3;

function monitorLeader(server: EtcdServer, lost: () => void): ClockTimer {
  let misses = 0;
  const timer = server.clock.setInterval(() => {
    misses = server.leader === 0n ? misses + 1 : 0;
    if (misses >= NO_LEADER_CHECKS_MAX) {
      server.clock.clear(timer);
      lost();
    }
  }, server.config.electionTimeoutMs);
  return timer;
}
