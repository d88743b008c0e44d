// etcdctl's output formats (ctlv3/command/printer*.go): one printer per `-w` value. A format a command does not
// support fails only when the command prints, i.e. after its request has been served, as in etcdctl.

import type { DeleteRangeResponse, PutResponse, RangeResponse, StatusResponse, TxnResponse } from '../../client/index.js';
import { ExitCode, exitWithError } from './output.js';
import type { ByteString } from './go-text.js';

export interface EndpointHealth {
  endpoint: ByteString;
  health: boolean;
  took: ByteString;
  error: ByteString;
}

export interface EndpointStatus {
  endpoint: ByteString;
  status: StatusResponse;
}

export interface Printer {
  get(r: RangeResponse): void;
  put(r: PutResponse): void;
  del(r: DeleteRangeResponse): void;
  txn(r: TxnResponse): void;
  endpointHealth(list: EndpointHealth[]): void;
  endpointStatus(list: EndpointStatus[]): void;
}

/** The methods of a format that does not support them: "<format> not supported as output format", exit 4. */
export function unsupported(format: string): Printer {
  const fail = (): never => exitWithError(ExitCode.BadFeature, `${format} not supported as output format`);
  return { get: fail, put: fail, del: fail, txn: fail, endpointHealth: fail, endpointStatus: fail };
}
