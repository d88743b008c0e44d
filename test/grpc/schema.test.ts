// The message table (src/proto/schema.ts) and the gRPC service table (src/grpc/services.ts) against etcd 3.4's protos
// (our copy in src/grpc/protos, read by @grpc/proto-loader): every service and method of etcd's protos is served, with
// its streaming shape; every field the table knows has the proto's name, number, type and cardinality, recursively;
// a request's table has every field of the proto's message (a field it lacked would be dropped silently), a
// response's may have fewer (those etcd-ts never sets).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import protoLoader from '@grpc/proto-loader';
import type { MessageDesc } from '../../src/proto/index.js';
import { SERVICES } from '../../src/grpc/services.js';
import { PROTO_DIR } from '../helpers/grpc.js';

interface FieldProto {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}
interface MessageProto {
  format: string;
  type: { name: string; field: FieldProto[] };
}
interface MethodProto {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestType: MessageProto;
  responseType: MessageProto;
}

const definitions = protoLoader.loadSync(['rpc.proto', 'v3lock.proto', 'v3election.proto'], { includeDirs: [PROTO_DIR], keepCase: true }) as unknown as Record<
  string,
  MessageProto | Record<string, MethodProto>
>;

const KIND: Record<string, string> = {
  TYPE_INT64: 'int64',
  TYPE_UINT64: 'uint64',
  TYPE_INT32: 'int32',
  TYPE_UINT32: 'uint32',
  TYPE_BOOL: 'bool',
  TYPE_STRING: 'string',
  TYPE_BYTES: 'bytes',
  TYPE_ENUM: 'enum',
  TYPE_MESSAGE: 'message',
};

/** The message a field's typeName names, seen from package `inPackage`: its full name and its descriptor. */
function resolve(typeName: string, inPackage: string): [string, MessageProto] {
  for (const c of [`${inPackage}.${typeName}`, typeName]) {
    const d = definitions[c] as MessageProto | undefined;
    if (d?.format !== undefined) return [c, d];
  }
  const bySuffix = Object.keys(definitions).filter((k) => k.endsWith(`.${typeName}`) && (definitions[k] as MessageProto).format !== undefined);
  assert.equal(bySuffix.length, 1, `message ${typeName} (from ${inPackage}): ${bySuffix.join(', ')}`);
  return [bySuffix[0]!, definitions[bySuffix[0]!] as MessageProto];
}

function check(desc: MessageDesc, proto: MessageProto, pkg: string, where: string, complete: boolean, seen = new Set<string>()): void {
  const key = `${desc.goName}=${proto.type.name}:${complete}`;
  if (seen.has(key)) return;
  seen.add(key);
  const byNumber = new Map(proto.type.field.map((f) => [f.number, f]));
  for (const f of desc.fields) {
    const p = byNumber.get(f.num);
    assert.ok(p !== undefined, `${where}: field ${f.name} = ${f.num} is not in ${proto.type.name}`);
    assert.equal(f.name, p.name, `${where}: field ${f.num}'s name`);
    assert.equal(f.kind, KIND[p.type], `${where}: ${f.name}'s type`);
    assert.equal(f.repeated, p.label === 'LABEL_REPEATED', `${where}: ${f.name} repeated`);
    if (f.kind === 'message') {
      const [full, nested] = resolve(p.typeName, pkg);
      check(f.message!(), nested, full.slice(0, full.lastIndexOf('.')), `${where}.${f.name}`, complete, seen);
    }
  }
  if (complete) {
    const known = new Set(desc.fields.map((f) => f.num));
    const missing = proto.type.field.filter((f) => !known.has(f.number)).map((f) => f.name);
    assert.deepEqual(missing, [], `${where}: fields of ${proto.type.name} the table lacks`);
  }
}

test('every service and method of etcd 3.4 is served with its shape, and its messages match the protos', () => {
  const protoServices = Object.entries(definitions).filter(([, d]) => (d as MessageProto).format === undefined) as [string, Record<string, MethodProto>][];
  assert.deepEqual(protoServices.map(([name]) => name).sort(), [...SERVICES.keys()].filter((s) => s !== 'grpc.health.v1.Health').sort());
  let methods = 0;
  for (const [service, protoMethods] of protoServices) {
    const served = SERVICES.get(service)!;
    assert.deepEqual([...served.keys()].sort(), Object.keys(protoMethods).sort(), `${service}'s methods`);
    for (const [name, m] of Object.entries(protoMethods)) {
      const route = served.get(name)!;
      const where = `${service}/${name}`;
      // Snapshot is refused before any message is sent, so it is answered as a unary call
      if (where !== 'etcdserverpb.Maintenance/Snapshot') {
        assert.equal(route.kind === 'stream', m.responseStream, `${where} streams responses`);
        assert.equal(route.kind === 'stream' && route.bidi, m.requestStream, `${where} streams requests`);
      }
      const pkg = service.slice(0, service.lastIndexOf('.'));
      check(route.request, m.requestType, pkg, `${where} request`, true);
      check(route.response, m.responseType, pkg, `${where} response`, false);
      methods++;
    }
  }
  assert.equal(methods, 5 + 1 + 5 + 5 + 7 + 17 + 2 + 5); // Auth: etcd 3.4's 16 and 3.5's AuthStatus
});

test('the check above can fail: a wrong number, name or type is caught', () => {
  const range = (definitions['etcdserverpb.KV'] as Record<string, MethodProto>)['Range']!;
  const field = (name: string, num: number, kind: MessageDesc['fields'][number]['kind']): MessageDesc['fields'][number] => ({ name, camel: name, num, kind, repeated: false, oneof: false });
  assert.throws(() => check({ goName: 'x', fields: [field('key', 2, 'bytes')] }, range.requestType, 'etcdserverpb', 'wrong number', false), /name/);
  assert.throws(() => check({ goName: 'x', fields: [field('key', 1, 'string')] }, range.requestType, 'etcdserverpb', 'wrong type', false), /type/);
  assert.throws(() => check({ goName: 'x', fields: [field('key', 1, 'bytes')] }, range.requestType, 'etcdserverpb', 'incomplete', true), /lacks/);
});
