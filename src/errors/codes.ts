// gRPC status codes, their names as grpc-go prints them, and the HTTP status grpc-gateway v1 maps each to.

export const GrpcCode = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;
export type GrpcCodeNumber = (typeof GrpcCode)[keyof typeof GrpcCode];

const codeNames = Object.fromEntries(Object.entries(GrpcCode).map(([name, code]) => [code, name])) as Record<
  number,
  string
>;

export function grpcCodeName(code: number): string {
  return codeNames[code] ?? 'Unknown';
}

/** grpc-gateway v1's mapping (FailedPrecondition is 400, not 412). */
export function httpStatusOf(code: number): number {
  switch (code) {
    case 0: return 200;
    case 1: return 408;
    case 2: return 500;
    case 3: return 400;
    case 4: return 504;
    case 5: return 404;
    case 6: return 409;
    case 7: return 403;
    case 8: return 429;
    case 9: return 400;
    case 10: return 409;
    case 11: return 400;
    case 12: return 501;
    case 13: return 500;
    case 14: return 503;
    case 15: return 500;
    case 16: return 401;
    default: return 500;
  }
}
