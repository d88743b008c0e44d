// The gRPC front end's own wire pieces: HPACK against RFC 7541's worked examples (Appendix C: plain and Huffman
// literals, the dynamic table, eviction), and the protobuf codec on what grpc-js does not exercise (64-bit edges,
// packed and unpacked lists, unknown fields, malformed input, nesting bounds).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRPC_MESSAGE_DEPTH_MAX } from '../../src/config/index.js';
import { decodeMessage, encodeMessage, encodedSize, ProtobufError } from '../../src/grpc/codec.js';
import { encodeHeaderBlock, HpackDecoder, HpackError } from '../../src/grpc/hpack.js';
import { Schema as S } from '../../src/proto/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

test('HPACK: RFC 7541 C.3 and C.4, three requests on one table, plain and Huffman-coded', () => {
  const want = [
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
    [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
  ];
  const plain = new HpackDecoder();
  assert.deepEqual(plain.decode(hex('828684410f7777772e6578616d706c652e636f6d')), want[0]);
  assert.deepEqual(plain.decode(hex('828684be58086e6f2d6361636865')), want[1]);
  assert.deepEqual(plain.decode(hex('828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565')), want[2]);
  const huffman = new HpackDecoder();
  assert.deepEqual(huffman.decode(hex('828684418cf1e3c2e5f23a6ba0ab90f4ff')), want[0]);
  assert.deepEqual(huffman.decode(hex('828684be5886a8eb10649cbf')), want[1]);
  assert.deepEqual(huffman.decode(hex('828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf')), want[2]);
});

test('HPACK: RFC 7541 C.6, responses with a 256-byte table: entries evicted as the examples say', () => {
  const d = new HpackDecoder(256);
  const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
  assert.deepEqual(d.decode(hex('488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3')), [
    [':status', '302'], ['cache-control', 'private'], ['date', date1], ['location', 'https://www.example.com'],
  ]);
  assert.deepEqual(d.decode(hex('4883640effc1c0bf')), [[':status', '307'], ['cache-control', 'private'], ['date', date1], ['location', 'https://www.example.com']]);
  assert.deepEqual(
    d.decode(hex('88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007')),
    [
      [':status', '200'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'], ['location', 'https://www.example.com'],
      ['content-encoding', 'gzip'], ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ],
  );
});

test('HPACK: what the server encodes decodes back; malformed blocks are COMPRESSION_ERRORs', () => {
  const fields: [string, string][] = [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-message', 'x'.repeat(300)]];
  assert.deepEqual(new HpackDecoder().decode(encodeHeaderBlock(fields)), fields);
  for (const bad of ['ff', 'be', '7f', '4185', '41ff0f', '3fe21f', '82 20 82', '418100', '4181ff']) {
    // truncated integers, an index beyond the table, truncated strings, a table size above the limit or after a
    // field, Huffman padding that is not all ones or longer than seven bits
    assert.throws(() => new HpackDecoder().decode(hex(bad)), HpackError, bad);
  }
});

test('protobuf: 64-bit edges keep their exact value; negative int64 takes ten bytes', () => {
  const cases: [bigint | number, string][] = [
    [-5, 'negative'],
    [-(2n ** 63n), 'int64 min'],
    [2n ** 63n - 1n, 'int64 max'],
    [2 ** 53, 'past the safe range'],
    [2 ** 31, '2^31'],
    [0x7f, 'one byte'],
  ];
  for (const [lease, what] of cases) {
    const bytes = encodeMessage({ key: Buffer.from('k'), lease }, S.PutRequest);
    const back = decodeMessage(bytes, S.PutRequest)['lease'];
    assert.equal(BigInt(back as bigint | number), BigInt(lease), what);
    assert.equal(typeof back, Number.isSafeInteger(Number(lease)) && BigInt(Number(lease)) === BigInt(lease) ? 'number' : 'bigint', what);
  }
  assert.equal(encodeMessage({ lease: -1 }, S.PutRequest).length, 1 + 10);
  const member = encodeMessage({ ID: 2n ** 64n - 1n }, S.MemberIdRequest);
  assert.equal(decodeMessage(member, S.MemberIdRequest)['ID'], 2n ** 64n - 1n);
  assert.equal(encodedSize({ ID: 2n ** 64n - 1n }, S.MemberIdRequest), member.length);
});

test('protobuf: proto3 zero values are left out except in a oneof; lists are packed and read either way', () => {
  assert.equal(encodeMessage({ key: Buffer.alloc(0), limit: 0, serializable: false }, S.RangeRequest).length, 0);
  // Compare{target VERSION, version 0}: the oneof member is written even when zero
  assert.deepEqual([...encodeMessage({ key: Buffer.from('k'), target: 0, result: 0, version: 0 }, S.Compare)], [0x1a, 0x01, 0x6b, 0x20, 0x00]);
  const packed = encodeMessage({ key: Buffer.from('k'), filters: [0, 1] }, S.WatchCreateRequest);
  assert.deepEqual([...packed], [0x0a, 0x01, 0x6b, 0x2a, 0x02, 0x00, 0x01]);
  assert.deepEqual(decodeMessage(packed, S.WatchCreateRequest)['filters'], [0, 1]);
  assert.deepEqual(decodeMessage(hex('28 01 28 00'), S.WatchCreateRequest)['filters'], [1, 0], 'unpacked');
  // the last member of a oneof wins
  const both = Buffer.concat([encodeMessage({ request_range: { key: Buffer.from('a') } }, S.RequestOp), encodeMessage({ request_put: { key: Buffer.from('b') } }, S.RequestOp)]);
  assert.deepEqual(Object.keys(decodeMessage(both, S.RequestOp)), ['request_put']);
});

test('protobuf: unknown fields of every wire type are skipped; malformed input is a ProtobufError', () => {
  // field 387 varint, field 98 fixed64, field 97 bytes, field 96 fixed32, then key "k"
  const unknown = hex('981801 9106 0000000000000000 8a0602ffff 8506 00000000 0a016b');
  assert.deepEqual(decodeMessage(unknown, S.RangeRequest), { key: Buffer.from('k') });
  for (const [bad, what] of [
    ['0a05 6b', 'a length past the end'],
    ['18ff', 'a truncated varint'],
    ['18ffffffffffffffffffff01', 'an 11-byte varint'],
    ['00', 'field 0'],
    ['9b06', 'an unknown group (wire type 3)'],
    ['08 01', 'a varint for a bytes field'],
    ['1a 01 00', 'bytes for a varint field'],
  ] as const) {
    assert.throws(() => decodeMessage(hex(bad), S.RangeRequest), ProtobufError, what);
  }
});

test('protobuf: nesting deeper than GRPC_MESSAGE_DEPTH_MAX is refused before it recurses', () => {
  // RequestOp{request_txn: TxnRequest{success: [RequestOp{...}]}}: two messages per level
  let inner = Buffer.alloc(0);
  for (let depth = 0; depth < GRPC_MESSAGE_DEPTH_MAX; depth++) {
    const txn = Buffer.concat([Buffer.from([0x12]), varint(inner.length), inner]);
    inner = Buffer.concat([Buffer.from([0x22]), varint(txn.length), txn]);
  }
  assert.throws(() => decodeMessage(inner, S.RequestOp), /nested too deeply/);
  let shallow = Buffer.alloc(0);
  for (let depth = 0; depth < 10; depth++) {
    const txn = Buffer.concat([Buffer.from([0x12]), varint(shallow.length), shallow]);
    shallow = Buffer.concat([Buffer.from([0x22]), varint(txn.length), txn]);
  }
  assert.ok(decodeMessage(shallow, S.RequestOp)['request_txn'] !== undefined);
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
