// The client side of a command, shaped like clientv3 in etcdctl 3.4: creating the client never blocks; a request keeps
// (re)dialling its endpoints until it is served or its deadline passes, and then fails with "context deadline
// exceeded". Errors read as clientv3 prints them: etcd's own error text for the errors clientv3 knows, otherwise
// gRPC's "rpc error: code = ... desc = ...".

import { Client, EtcdError, GrpcCode, type ClientOptions, type ClientStream, type ClientTlsOptions, type StreamHandlers } from '../../client/index.js';
import type { StreamMethodName, StreamMethods } from '../../proto/index.js';
import { Errors, etcdError, grpcCodeName } from '../../errors/index.js';
import { CliExit, ExitCode, exitingFrom, exitWithError } from './output.js';

/** The request's context expired (context.DeadlineExceeded). */
export class DeadlineExceeded extends Error {
  constructor() {
    super('context deadline exceeded');
  }
}

/** How clientv3 renders an error from a request. */
export function clientErrorText(err: unknown): string {
  if (err instanceof DeadlineExceeded) return err.message;
  if (err instanceof EtcdError) {
    if (err.code === GrpcCode.DeadlineExceeded) return 'context deadline exceeded';
    // the errors clientv3 turns back into typed etcd errors (rpctypes) print as their text alone
    if (err.name !== 'EtcdError' && Errors[err.name].typedByClientv3) return err.message;
    return `rpc error: code = ${grpcCodeName(err.code)} desc = ${err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

const REDIAL_DELAY_MS = 100;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Deadline as an absolute time in ms (performance.now() clock), or null for none (context.Background()). */
export type Deadline = number | null;

export function deadlineAfter(timeoutNs: bigint): Deadline {
  return performance.now() + Number(timeoutNs) / 1e6;
}

function remaining(deadline: Deadline): number {
  return deadline === null ? Infinity : deadline - performance.now();
}

function withDeadline<T>(p: Promise<T>, deadline: Deadline, onExpire: () => void): Promise<T> {
  const left = remaining(deadline);
  if (left === Infinity) return p;
  if (left <= 0) {
    p.catch(() => {}); // abandoned
    onExpire();
    return Promise.reject(new DeadlineExceeded());
  }
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onExpire();
      reject(new DeadlineExceeded());
    }, left);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** --user/--password: clientv3 logs in only when both are non-empty. */
export interface Credentials {
  username: string;
  password: string;
}

/** The client could not log in (clientv3.New failed): the error clientv3 returns, as etcdctl prints it. */
export class LoginFailed extends Error {}

/** The client's options: with credentials it logs in on connecting, as clientv3.New does (getToken). */
function clientOptions(endpoints: string[], dialTimeoutMs: number, credentials: Credentials | null, tls: ClientTlsOptions | undefined): ClientOptions {
  return { endpoints, dialTimeoutMs, ...(credentials ?? {}), ...(tls !== undefined ? { tls } : {}) };
}

/** Whether a failure to connect is the server refusing the login (not a dial that may succeed later). */
function refusedLogin(err: unknown): boolean {
  return err instanceof EtcdError && err.name !== 'Unreachable' && err.name !== 'ConnectionClosed' && err.code !== GrpcCode.Unavailable;
}

export class Connection {
  private client: Client | null = null;
  /** clientv3.New logs in before the client is used; a later reconnection logs in again as part of a request */
  private loggedIn = false;
  /** off: a failed login fails requests with LoginFailed instead of ending the command (endpoint health) */
  loginFailureEndsCommand = true;

  /**
   * `tls`: etcdctl's TLS configuration (undefined: none; https:// endpoints are TLS all the same).
   * `credentials`: logged in with when the connection is made (--user). A failed first login ends the command with
   * exit code 2, as clientv3.New's failure does in mustClientFromCmd, unless `loginFailureEndsCommand` is off.
   */
  constructor(
    private readonly endpoints: string[],
    private readonly dialTimeoutMs: number,
    private readonly tls?: ClientTlsOptions,
    private readonly credentials: Credentials | null = null,
  ) {}

  private async connected(deadline: Deadline): Promise<Client> {
    if (this.credentials !== null && !this.loggedIn) {
      // getToken runs under the dial timeout, whatever the command's deadline
      const loginDeadline = deadlineAfter(BigInt(this.dialTimeoutMs) * 1_000_000n);
      try {
        await this.dialed(loginDeadline);
      } catch (err) {
        this.loginFailed(err);
      }
      this.loggedIn = true;
    }
    return this.dialed(deadline);
  }

  /**
   * What clientv3.New does before the client is used: log in when there are credentials (ending the command if that
   * is refused), nothing otherwise (it dials lazily).
   */
  async open(): Promise<void> {
    if (this.credentials !== null) await this.connected(null);
  }

  private loginFailed(err: unknown): never {
    const text = clientErrorText(err);
    if (!this.loginFailureEndsCommand) throw new LoginFailed(text);
    // os.Exit from inside clientv3.New: whoever awaits this connection never sees an error
    exitingFrom(() => exitWithError(ExitCode.BadConnection, text));
    throw new CliExit(ExitCode.BadConnection);
  }

  private async dialed(deadline: Deadline): Promise<Client> {
    for (;;) {
      if (this.client !== null) return this.client;
      if (remaining(deadline) <= 0) throw new DeadlineExceeded();
      const dialTimeoutMs = Math.max(1, Math.min(this.dialTimeoutMs, remaining(deadline)));
      const client = new Client(clientOptions(this.endpoints, dialTimeoutMs, this.credentials, this.tls));
      try {
        await withDeadline(client.connect(), deadline, () => client.destroy());
        this.client = client;
        return client;
      } catch (err) {
        client.destroy();
        if (err instanceof DeadlineExceeded) throw err;
        // refused credentials stay refused: the first login ends the command, a later one fails the request
        if (refusedLogin(err)) throw err;
        await sleep(Math.max(0, Math.min(REDIAL_DELAY_MS, remaining(deadline))));
      }
    }
  }

  /**
   * Runs one request before the deadline. A connection lost before the answer is redialled and the request sent again
   * when `idempotent` (reads), as clientv3's retry interceptor does.
   */
  async request<T>(send: (c: Client) => Promise<T>, deadline: Deadline, idempotent: boolean): Promise<T> {
    for (;;) {
      const client = await this.connected(deadline);
      try {
        return await withDeadline(send(client), deadline, () => this.reset());
      } catch (err) {
        const lost = err instanceof EtcdError && err.name === 'ConnectionClosed';
        if (!lost) throw err;
        this.reset();
        if (!idempotent) throw etcdError('TransportClosing');
      }
    }
  }

  /**
   * Opens a stream (Watch, LeaseKeepAlive), dialling until connected or the deadline passes. The stream ends with an
   * Unavailable error when its connection is lost; the connection is then dialled again by the next caller.
   */
  async stream<M extends StreamMethodName>(
    method: M,
    first: StreamMethods[M][0] | undefined,
    handlers: StreamHandlers<StreamMethods[M][1]>,
    deadline: Deadline,
  ): Promise<ClientStream<StreamMethods[M][0]>> {
    for (;;) {
      const client = await this.connected(deadline);
      try {
        return await client.openStream(method, first, {
          message: handlers.message,
          end: (err) => {
            if (err instanceof EtcdError && err.code === GrpcCode.Unavailable && this.client === client) this.reset();
            handlers.end(err);
          },
        });
      } catch {
        // the connection broke before the stream could be opened: dial again
        if (this.client === client) this.reset();
        await sleep(Math.max(0, Math.min(REDIAL_DELAY_MS, remaining(deadline))));
      }
    }
  }

  private reset(): void {
    this.client?.destroy();
    this.client = null;
  }

  close(): void {
    this.reset();
  }
}

/** grpc-go's default send limit in clientv3 (MaxCallSendMsgSize): 2 MiB of encoded request. */
const SEND_BYTES_MAX = 2 * 1024 * 1024;

/** Fails a request whose protobuf encoding exceeds the client's send limit, with grpc-go's message. */
export function checkSendSize(encodedBytes: number): void {
  if (encodedBytes > SEND_BYTES_MAX) {
    throw etcdError('SendMessageTooLarge', encodedBytes, SEND_BYTES_MAX);
  }
}
