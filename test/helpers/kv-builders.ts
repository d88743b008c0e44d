// Terse builders for txn requests in tests: put/get/del/nested ops and compares, keys and values as latin1 strings.

import {
  CompareResult,
  CompareTarget,
  type Compare,
  type DeleteRangeRequest,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
} from '../../src/client/index.js';
import { b } from './kv-differential.js';

export function putOp(key: string, value = '', extra: Partial<PutRequest> = {}): RequestOp {
  return { request_put: { key: b(key), value: b(value), ...extra } };
}

export function getOp(key: string, rangeEnd?: string, extra: Partial<RangeRequest> = {}): RequestOp {
  return { request_range: { key: b(key), ...(rangeEnd === undefined ? {} : { range_end: b(rangeEnd) }), ...extra } };
}

export function delOp(key: string, rangeEnd?: string, extra: Partial<DeleteRangeRequest> = {}): RequestOp {
  return { request_delete_range: { key: b(key), ...(rangeEnd === undefined ? {} : { range_end: b(rangeEnd) }), ...extra } };
}

export function txnOp(t: TxnRequest): RequestOp {
  return { request_txn: t };
}

export type TargetName = keyof typeof CompareTarget;
export type ResultName = keyof typeof CompareResult;

/** A compare with its operand in the union member the target names (VALUE: a string; LEASE: a bigint). */
export function cmp(key: string, target: TargetName, result: ResultName, operand: number | bigint | string, rangeEnd?: string): Compare {
  const c: Compare = { key: b(key), target: CompareTarget[target], result: CompareResult[result] };
  if (rangeEnd !== undefined) c.range_end = b(rangeEnd);
  switch (target) {
    case 'VERSION': c.version = Number(operand); break;
    case 'CREATE': c.create_revision = Number(operand); break;
    case 'MOD': c.mod_revision = Number(operand); break;
    case 'VALUE': c.value = b(String(operand)); break;
    case 'LEASE': c.lease = BigInt(operand); break;
  }
  return c;
}
