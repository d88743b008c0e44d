// etcdctl-ts renders a request's error as clientv3 does (src/cli/etcdctl/connection.ts): the text alone for the
// errors clientv3 turns back into typed ones, otherwise gRPC's "rpc error: code = ... desc = ...". The choice now
// goes by the catalogue name of the error received; these are the outputs it gave when it went by the text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientErrorText, DeadlineExceeded } from '../../src/cli/etcdctl/connection.js';
import { catalogueEntries, etcdError, fromStatus, GrpcCode, grpcCodeName, isFixed } from '../../src/errors/index.js';

test('a received error prints alone when clientv3 types it, else as a gRPC status', () => {
  let typed = 0;
  for (const [name, entry] of catalogueEntries()) {
    if (!isFixed(entry)) continue;
    const text = clientErrorText(fromStatus(entry.code, entry.message));
    if (entry.code === GrpcCode.DeadlineExceeded) assert.equal(text, 'context deadline exceeded', name);
    else if (entry.typedByClientv3) {
      typed++;
      assert.equal(text, entry.message, name);
    } else assert.equal(text, `rpc error: code = ${grpcCodeName(entry.code)} desc = ${entry.message}`, name);
  }
  assert.equal(typed, 52);
  // relayed through v3lock/v3election as Unknown: still etcd's text alone, as clientv3 matches on the text
  assert.equal(clientErrorText(fromStatus(GrpcCode.Unknown, 'etcdserver: requested lease not found')), 'etcdserver: requested lease not found');
  assert.equal(clientErrorText(fromStatus(GrpcCode.Unknown, 'election: not leader')), 'rpc error: code = Unknown desc = election: not leader');
  assert.equal(clientErrorText(fromStatus(GrpcCode.Internal, 'boom')), 'rpc error: code = Internal desc = boom');
});

test('client-side errors print as before', () => {
  assert.equal(clientErrorText(new DeadlineExceeded()), 'context deadline exceeded');
  assert.equal(clientErrorText(etcdError('TransportClosing')), 'rpc error: code = Unavailable desc = transport is closing');
  assert.equal(clientErrorText(etcdError('ConnectionClosed')), 'rpc error: code = Unavailable desc = connection closed');
  assert.equal(
    clientErrorText(etcdError('SendMessageTooLarge', 2097153, 2097152)),
    'rpc error: code = ResourceExhausted desc = trying to send message larger than max (2097153 vs. 2097152)',
  );
  assert.equal(clientErrorText(etcdError('ContextDeadlineExceeded')), 'context deadline exceeded');
  assert.equal(clientErrorText(new Error('plain')), 'plain');
  assert.equal(clientErrorText('text'), 'text');
});
