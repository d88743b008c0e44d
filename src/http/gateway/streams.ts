// Server-side streams for the gateway's HTTP and WebSocket front ends: the same member streams the binary protocol
// opens (watch, lease keep-alive, election observe), plus etcd's require-leader check for clients that send
// `Grpc-Metadata-hasleader: true`.

import { etcdError, type EtcdError } from '../../errors/index.js';
import type { StreamMethodName } from '../../proto/index.js';
import type { EtcdServer } from '../../server/index.js';

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
  let inner: { handle(r: unknown): void; close(): void; drained?(): void };
  switch (method) {
    case 'Watch': {
      const ws = server.openWatchStream({ send: (r) => out.send(r), pendingBytes: () => out.pendingBytes() });
      inner = { handle: (r) => ws.handle(r as never), close: () => ws.close(), drained: () => ws.drained() };
      break;
    }
    case 'LeaseKeepAlive':
      inner = server.openKeepAliveStream(out);
      break;
    case 'Observe':
      inner = server.openObserveStream(out);
      break;
  }
  const monitor = requireLeader ? monitorLeader(server, () => {
    inner.close();
    out.end(etcdError('NoLeader'));
  }) : null;
  return {
    handle: (r) => inner.handle(r),
    close: () => {
      if (monitor !== null) clearInterval(monitor);
      inner.close();
    },
    drained: () => inner.drained?.(),
  };
}

/** etcd's monitorLeader: a require-leader stream fails after three election timeouts in a row without a leader. */
const NO_LEADER_CHECKS_MAX = 3;

function monitorLeader(server: EtcdServer, lost: () => void): NodeJS.Timeout {
  let misses = 0;
  const timer = setInterval(() => {
    misses = server.leader === 0n ? misses + 1 : 0;
    if (misses >= NO_LEADER_CHECKS_MAX) {
      clearInterval(timer);
      lost();
    }
  }, server.config.electionTimeoutMs);
  timer.unref();
  return timer;
}
