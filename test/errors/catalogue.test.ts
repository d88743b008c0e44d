// The error catalogue against etcd's reference error table: every message etcd-ts shares with etcd has etcd's exact
// text, gRPC code and HTTP status; every other entry says it is not one of etcd's 3.4/3.5 gRPC errors. Names follow
// etcd's identifiers, and a status received over the wire gets its name back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AssertionError,
  catalogueEntries,
  EtcdError,
  etcdError,
  Errors,
  fromStatus,
  GrpcCode,
  httpStatusOf,
  invariant,
  isFixed,
  nameOfMessage,
  toEtcdError,
  unmapped,
  type ErrorName,
  type FixedEntry,
} from '../../src/errors/index.js';

/**
 * /work/shared/reference/etcd-v3-api.md, section "2.7 Error strings → code (server, 3.4/3.5)": message, gRPC code,
 * HTTP status through grpc-gateway, and the versions whose rpctypes have it ('3.4': 3.4.45 and 3.5.33; '3.5': 3.5 only).
 */
const REFERENCE: readonly (readonly [message: string, code: number, http: number, versions: '3.4' | '3.5'])[] = [
  ['etcdserver: key is not provided', 3, 400, '3.4'],
  ['etcdserver: key not found', 3, 400, '3.4'],
  ['etcdserver: value is provided', 3, 400, '3.4'],
  ['etcdserver: lease is provided', 3, 400, '3.4'],
  ['etcdserver: too many operations in txn request', 3, 400, '3.4'],
  ['etcdserver: duplicate key given in txn request', 3, 400, '3.4'],
  ['etcdserver: mvcc: required revision has been compacted', 11, 400, '3.4'],
  ['etcdserver: mvcc: required revision is a future revision', 11, 400, '3.4'],
  ['etcdserver: mvcc: database space exceeded', 8, 429, '3.4'],
  ['etcdserver: request is too large', 3, 400, '3.4'],
  ['etcdserver: too many requests', 2, 500, '3.4'],
  ['etcdserver: requested lease not found', 5, 404, '3.4'],
  ['etcdserver: lease already exists', 9, 400, '3.4'],
  ['etcdserver: too large lease TTL', 11, 400, '3.4'],
  ['etcdserver: member ID already exist', 9, 400, '3.4'],
  ['etcdserver: Peer URLs already exists', 9, 400, '3.4'],
  ['etcdserver: re-configuration failed due to not enough started members', 2, 500, '3.4'],
  ['etcdserver: given member URLs are invalid', 3, 400, '3.4'],
  ['etcdserver: member not found', 5, 404, '3.4'],
  ['etcdserver: can only promote a learner member', 9, 400, '3.4'],
  ['etcdserver: can only promote a learner member which is in sync with leader', 9, 400, '3.4'],
  ['etcdserver: too many learner members in cluster', 9, 400, '3.4'],
  ['etcdserver: cluster ID mismatch', 9, 400, '3.4'],
  ['etcdserver: no leader', 14, 503, '3.4'],
  ['etcdserver: not leader', 9, 400, '3.4'],
  ['etcdserver: leader changed', 14, 503, '3.4'],
  ['etcdserver: not capable', 14, 503, '3.4'],
  ['etcdserver: server stopped', 14, 503, '3.4'],
  ['etcdserver: request timed out', 14, 503, '3.4'],
  ['etcdserver: request timed out, possibly due to previous leader failure', 14, 503, '3.4'],
  ['etcdserver: request timed out, possibly due to connection lost', 14, 503, '3.4'],
  ['etcdserver: request timed out, waiting for the applied index took too long', 14, 503, '3.4'],
  ['etcdserver: unhealthy cluster', 14, 503, '3.4'],
  ['etcdserver: corrupt cluster', 15, 500, '3.4'],
  ['etcdserver: rpc not supported for learner', 14, 503, '3.4'],
  ['etcdserver: bad leader transferee', 9, 400, '3.4'],
  ['etcdserver: request canceled', 1, 408, '3.5'],
  ['etcdserver: context deadline exceeded', 4, 504, '3.5'],
  ['etcdserver: watch canceled', 1, 408, '3.4'],
  ['etcdserver: root user does not exist', 9, 400, '3.4'],
  ['etcdserver: root user does not have root role', 9, 400, '3.4'],
  ['etcdserver: user name already exists', 9, 400, '3.4'],
  ['etcdserver: user name is empty', 3, 400, '3.4'],
  ['etcdserver: user name not found', 9, 400, '3.4'],
  ['etcdserver: role name already exists', 9, 400, '3.4'],
  ['etcdserver: role name not found', 9, 400, '3.4'],
  ['etcdserver: role name is empty', 3, 400, '3.4'],
  ['etcdserver: authentication failed, invalid user ID or password', 3, 400, '3.4'],
  ['etcdserver: permission not given', 3, 400, '3.4'],
  ['etcdserver: permission denied', 7, 403, '3.4'],
  ['etcdserver: role is not granted to the user', 9, 400, '3.4'],
  ['etcdserver: permission is not granted to the role', 9, 400, '3.4'],
  ['etcdserver: authentication is not enabled', 9, 400, '3.4'],
  ['etcdserver: invalid auth token', 16, 401, '3.4'],
  ['etcdserver: invalid auth management', 3, 400, '3.4'],
  ['etcdserver: revision of auth store is old', 3, 400, '3.4'],
  ['etcdserver: cluster version not found during downgrade', 14, 503, '3.5'],
  ['etcdserver: wrong downgrade target version format', 3, 400, '3.5'],
  ['etcdserver: invalid downgrade target version', 3, 400, '3.5'],
  ['etcdserver: cluster has a downgrade job in progress', 9, 400, '3.5'],
  ['etcdserver: no inflight downgrade job', 9, 400, '3.5'],
];

/** The same section's "any unmapped internal error" row (Unknown 2, 500): etcd's raw texts it names as examples. */
const UNMAPPED_EXAMPLES = ['election: no leader', 'election: not leader'];

/** The same section's "gRPC size limit" row: ResourceExhausted 8, 429, `grpc: received message larger than max (N vs. M)`. */
const SIZE_LIMIT = { code: 8, http: 429, shape: /^grpc: received message larger than max \(\d+ vs\. \d+\)$/ };

/**
 * The texts clientv3 3.4 turns back into typed errors, so that etcdctl prints them alone: the 3.4 rows above except
 * these two (what etcdctl-ts's KNOWN_SERVER_ERRORS list held before the catalogue carried the flag).
 */
const NOT_TYPED_BY_CLIENTV3 = new Set(['etcdserver: cluster ID mismatch', 'etcdserver: permission not given']);

/** Where a name is not ErrGRPC<name>: etcd's own spelling. */
const ETCD_NAME_EXCEPTIONS: Partial<Record<ErrorName, string>> = {
  TooManyRequests: 'ErrGRPCRequestTooManyRequests', // clientv3's rpctypes.ErrTooManyRequests
  NotSupportedForLearner: 'ErrGPRCNotSupportedForLearner', // sic
};

const fixedEntries = (): [ErrorName, FixedEntry][] =>
  catalogueEntries().filter((e): e is [ErrorName, FixedEntry] => isFixed(e[1]));

test('every reference row etcd-ts has carries etcd\'s exact code, HTTP status and version', () => {
  let shared = 0;
  for (const [message, code, http, versions] of REFERENCE) {
    const name = nameOfMessage(message);
    if (name === undefined) continue; // an error etcd-ts does not have (downgrade, permission not given)
    shared++;
    const entry = Errors[name];
    assert.ok(isFixed(entry) && entry.message === message, `${name}: message`);
    assert.equal(entry.code, code, `${name}: code`);
    assert.equal(httpStatusOf(entry.code), http, `${name}: HTTP status`);
    assert.equal(etcdError(name as never).httpStatus, http, `${name}: EtcdError.httpStatus`);
    assert.equal(entry.origin, versions === '3.4' ? 'etcd' : 'etcd-3.5', `${name}: origin`);
  }
  assert.ok(shared >= 50, `${shared} rows shared`);
  for (const message of UNMAPPED_EXAMPLES) {
    const name = nameOfMessage(message);
    assert.ok(name !== undefined, message);
    assert.equal(Errors[name].code, GrpcCode.Unknown, message);
    assert.equal(Errors[name].origin, 'etcd-go', message);
  }
  const sized = etcdError('ReceivedMessageTooLarge', 2_097_152 + 1, 2_097_152 + 524_288);
  assert.match(sized.message, SIZE_LIMIT.shape);
  assert.equal(sized.code, SIZE_LIMIT.code);
  assert.equal(sized.httpStatus, SIZE_LIMIT.http);
});

test('an entry absent from the reference table says it is not one of etcd 3.4/3.5\'s gRPC errors', () => {
  const referenced = new Set(REFERENCE.map(([m]) => m));
  for (const [name, entry] of catalogueEntries()) {
    if (isFixed(entry) && referenced.has(entry.message)) continue;
    assert.ok(entry.origin !== 'etcd' && entry.origin !== 'etcd-3.5', `${name} (${entry.origin}) is not in the reference table`);
  }
});

test('names are etcd\'s identifiers without their prefix; messages are unique', () => {
  const seen = new Map<string, ErrorName>();
  for (const [name, entry] of fixedEntries()) {
    assert.equal(seen.get(entry.message), undefined, `${name} repeats the message of ${seen.get(entry.message)}`);
    seen.set(entry.message, name);
  }
  for (const [name, entry] of catalogueEntries()) {
    assert.match(name, /^[A-Z][A-Za-z]+$/, name);
    if (entry.origin === 'etcd' || entry.origin === 'etcd-3.5' || entry.origin === 'etcd-3.6') {
      assert.equal(entry.etcdName, ETCD_NAME_EXCEPTIONS[name] ?? `ErrGRPC${name}`, name);
    } else if (entry.origin === 'etcd-go') {
      // the auth store's unmapped errors take an AuthStore prefix where the mapped rpctypes error holds the name
      assert.ok(entry.etcdName?.endsWith(`.Err${name.replace(/^AuthStore/, '')}`), `${name}: ${entry.etcdName}`);
      assert.equal(entry.code, GrpcCode.Unknown, `${name}: a plain Go error reaches gRPC clients as Unknown`);
    } else {
      assert.equal(entry.etcdName, undefined, `${name}: etcd has no such error`);
    }
  }
});

test('typedByClientv3 marks exactly the texts clientv3 3.4 turns back into typed errors', () => {
  const expected = REFERENCE.filter(([m, , , v]) => v === '3.4' && !NOT_TYPED_BY_CLIENTV3.has(m)).map(([m]) => m).sort();
  const flagged = fixedEntries().filter(([, e]) => e.typedByClientv3).map(([, e]) => e.message).sort();
  assert.deepEqual(flagged, expected);
  assert.equal(flagged.length, 52);
  for (const [name, entry] of catalogueEntries()) if (!isFixed(entry)) assert.equal(entry.typedByClientv3, false, name);
});

test('etcdError builds an entry by name, with its arguments when the message has a variable part', () => {
  const e = etcdError('NoLeader');
  assert.ok(e instanceof EtcdError && e instanceof Error);
  assert.equal(e.name, 'NoLeader');
  assert.equal(e.code, GrpcCode.Unavailable);
  assert.equal(e.message, 'etcdserver: no leader');
  const r = etcdError('InvalidRequest', 'field "key" must be bytes');
  assert.equal(r.name, 'InvalidRequest');
  assert.equal(r.code, GrpcCode.InvalidArgument);
  assert.equal(r.message, 'etcdserver: invalid request: field "key" must be bytes');
  assert.equal(etcdError('MethodNotImplemented', 'Hash').message, 'method Hash not implemented');
  assert.equal(etcdError('SendMessageTooLarge', 3, 2).message, 'trying to send message larger than max (3 vs. 2)');
  const learner = etcdError('NotSupportedForLearner');
  assert.equal(learner.name, 'NotSupportedForLearner');
  assert.equal(learner.message, 'etcdserver: rpc not supported for learner');
  if (Math.random() > 2) {
    // type checks only (never run): a built message needs its arguments, a fixed one takes none
    // @ts-expect-error missing argument
    etcdError('InvalidRequest');
    // @ts-expect-error no arguments for a fixed message
    etcdError('EmptyKey', 'x');
    // @ts-expect-error not a catalogue name
    etcdError('NoSuchError');
  }
});

test('fromStatus gives a received status its catalogue name and keeps the code received', () => {
  for (const [name, entry] of fixedEntries()) {
    const e = fromStatus(entry.code, entry.message);
    assert.equal(e.name, name);
    assert.equal(e.code, entry.code);
  }
  // an etcd error relayed by v3lock/v3election arrives as Unknown: still named, still Unknown
  const relayed = fromStatus(GrpcCode.Unknown, 'etcdserver: requested lease not found');
  assert.equal(relayed.name, 'LeaseNotFound');
  assert.equal(relayed.code, GrpcCode.Unknown);
  // built messages a member sends are recognised by their shape
  const built: [ErrorName, EtcdError][] = [
    ['InvalidRequest', etcdError('InvalidRequest', 'txn nested too deeply')],
    ['UnknownMethod', etcdError('UnknownMethod', '"Foo"')],
    ['UnknownStreamMethod', etcdError('UnknownStreamMethod', '"Bar"')],
    ['MethodNotImplemented', etcdError('MethodNotImplemented', 'Snapshot')],
    ['ReceivedMessageTooLarge', etcdError('ReceivedMessageTooLarge', 10, 5)],
    ['ResponseEncodeFailed', etcdError('ResponseEncodeFailed', 'x')],
  ];
  for (const [name, e] of built) assert.equal(fromStatus(e.code, e.message).name, name);
  const other = fromStatus(GrpcCode.Internal, 'something else');
  assert.equal(other.name, 'EtcdError');
  assert.equal(other.message, 'something else');
});

test('unmapped sends an etcd error as a plain Go error: Unknown, same message and name', () => {
  const e = unmapped(etcdError('Stopped'));
  assert.equal(e.code, GrpcCode.Unknown);
  assert.equal(e.message, 'etcdserver: server stopped');
  assert.equal(e.name, 'Stopped');
  assert.equal(unmapped(new EtcdError(GrpcCode.Internal, 'x')).name, 'EtcdError');
});

test('toEtcdError answers operating errors and anything else as Internal, but throws a broken invariant on', () => {
  const own = etcdError('Compacted');
  assert.equal(toEtcdError(own), own);
  const other = toEtcdError(new TypeError('boom'));
  assert.equal(other.code, GrpcCode.Internal);
  assert.equal(other.message, 'boom');
  assert.equal(toEtcdError('text').message, 'text');
  const broken = new AssertionError({ message: 'raft: applied(5) is out of range' });
  assert.throws(() => toEtcdError(broken), (err) => err === broken);
});

test('invariant throws AssertionError with its message, and builds a lazy message only on failure', () => {
  let built = 0;
  const message = (): string => {
    built++;
    return 'mvcc: lazy';
  };
  invariant(true, message);
  assert.equal(built, 0);
  assert.throws(() => invariant(false, message), (err) => err instanceof AssertionError && err.message === 'mvcc: lazy');
  assert.equal(built, 1);
  assert.throws(() => invariant(0, 'raft: zero'), { name: 'AssertionError', code: 'ERR_ASSERTION', message: 'raft: zero' });
});
