// clientv3's lessor keep-alive loop (clientv3/lease.go, 3.4), for `lease keep-alive` and concurrency sessions: a
// renewal goes out at once, then every TTL/3 after each answer (looked at every 500 ms); an answer with TTL 0 (no
// such lease) ends it, and so does having no answer by the deadline: dial timeout + 1 s for the first one, then the
// TTL. A broken stream is opened again after 500 ms.

import type { ClientStream, LeaseKeepAliveRequest, LeaseKeepAliveResponse } from '../../client/index.js';
import type { Connection } from './connection.js';

const RETRY_CONN_WAIT_MS = 500;
const DEADLINE_CHECK_MS = 1000;
/** defaultTTL: the first deadline when the dial timeout is 0 */
const DEFAULT_TTL_MS = 5000;

export interface KeepAlive {
  /** resolves when the keep-alive ends (lease expired or revoked, or no answer in time) */
  readonly done: Promise<void>;
  isDone(): boolean;
  stop(): void;
}

/** KeepAlive(ctx, id): `onResponse` gets each renewal's answer until the lease is gone. */
export function keepAlive(conn: Connection, id: bigint, dialTimeoutMs: number, onResponse: (r: LeaseKeepAliveResponse) => void): KeepAlive {
  let finished = false;
  let stream: ClientStream<LeaseKeepAliveRequest> | null = null;
  const firstTimeout = dialTimeoutMs + 1000 === 1000 ? DEFAULT_TTL_MS : dialTimeoutMs + 1000;
  let deadline = performance.now() + firstTimeout;
  let nextKeepAlive = performance.now();
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearInterval(sendTimer);
    clearInterval(deadlineTimer);
    stream?.close();
    stream = null;
    resolveDone();
  };

  const sendDue = (): void => {
    if (finished || stream === null) return;
    if (nextKeepAlive < performance.now()) stream.send({ ID: id });
  };

  const open = (): void => {
    if (finished) return;
    conn
      .stream(
        'LeaseKeepAlive',
        undefined,
        {
          message: (r) => {
            if (finished || BigInt(r.ID) !== id) return;
            if (Number(r.TTL) <= 0) {
              finish();
              return;
            }
            const now = performance.now();
            nextKeepAlive = now + (Number(r.TTL) * 1000) / 3;
            deadline = now + Number(r.TTL) * 1000;
            onResponse(r);
          },
          end: () => {
            stream = null;
            if (!finished) setTimeout(open, RETRY_CONN_WAIT_MS);
          },
        },
        null,
      )
      .then((s) => {
        if (finished) {
          s.close();
          return;
        }
        stream = s;
        sendDue();
      }, () => {
        if (!finished) setTimeout(open, RETRY_CONN_WAIT_MS);
      });
  };

  const sendTimer = setInterval(sendDue, RETRY_CONN_WAIT_MS);
  const deadlineTimer = setInterval(() => {
    if (deadline < performance.now()) finish();
  }, DEADLINE_CHECK_MS);
  open();
  return { done, isDone: () => finished, stop: finish };
}
