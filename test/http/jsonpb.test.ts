// jsonpb as etcd 3.4's gateway runs it, on the points where it leans on Go's strconv and encoding/json (checked
// against a real etcd 3.4: the texts are the ones it sends back).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goUnmarshal, GoJsonError } from '../../src/gocompat/index.js';
import { marshalJson, unmarshalMessage } from '../../src/http/gateway/jsonpb.js';
import * as S from '../../src/proto/schema.js';

function decodeError(desc: S.MessageDesc, body: Buffer | string): string {
  try {
    unmarshalMessage(goUnmarshal(Buffer.from(body)), desc);
  } catch (err) {
    assert.ok(err instanceof GoJsonError, String(err));
    return err.message;
  }
  assert.fail('expected the body to be refused');
}

test('string fields are written as json.Marshal writes them, backslashes included', () => {
  const member = { ID: 1n, name: 'a\\bc\\f <&>', peerURLs: ['http://h\\b:1'] };
  assert.equal(marshalJson(member, S.Member), '{"ID":"1","name":"a\\\\bc\\\\f \\u003c\\u0026\\u003e","peerURLs":["http://h\\\\b:1"]}');
});

test('an unknown enum name is quoted as %q quotes it (UTF-8 kept, DEL escaped)', () => {
  const body = Buffer.concat([Buffer.from('{"key":"YQ==","sort_order":"'), Buffer.from('é\x7f', 'utf8'), Buffer.from('"}')]);
  assert.equal(decodeError(S.RangeRequest, body), 'unknown value "é\\x7f" for enum etcdserverpb.RangeRequest_SortOrder');
});

test('integers parse as strconv does: -0 fits an int64 but not a uint64', () => {
  assert.equal(decodeError(S.MemberIdRequest, '{"ID":"-0"}'), 'json: cannot unmarshal number -0 into Go value of type uint64');
  assert.equal(decodeError(S.MemberIdRequest, '{"ID":-0}'), 'json: cannot unmarshal number -0 into Go value of type uint64');
  assert.deepEqual(unmarshalMessage(goUnmarshal(Buffer.from('{"key":"YQ==","limit":"-0"}')), S.RangeRequest), { key: Buffer.from('a'), limit: 0n });
  assert.equal(decodeError(S.RangeRequest, '{"limit":"1e3"}'), 'json: cannot unmarshal number 1e3 into Go value of type int64');
});

test("a bad base64 value is refused with base64's own text", () => {
  assert.equal(decodeError(S.PutRequest, '{"key":"YQ=","value":"YQ=="}'), 'illegal base64 data at input byte 3');
});
