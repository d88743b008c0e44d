// The client port's decisions from a connection's first bytes, and the PROXY v2 header it writes for uWS: pure
// functions, checked byte for byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sniffProtocol, HTTP2_PREFACE, proxyV2Header } from '../../src/frontend/index.js';
import { ipv6Bytes } from '../../src/frontend/proxy-protocol.js';
import { encodeFrame, FrameKind } from '../../src/proto/index.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

test('whole signatures: the HTTP/2 preface, the binary magic, HTTP/1 methods; anything else is malformed', () => {
  assert.equal(sniffProtocol(bytes('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), 'http2');
  assert.equal(sniffProtocol(encodeFrame(FrameKind.Request, 1, { method: 'Range', request: {} })), 'binary');
  // a preface that goes wrong in its last byte is an HTTP/1 request with the method PRI, for uWS to judge
  for (const line of ['GET / HTTP/1.1\r\n', 'POST /v3/kv/put HTTP/1.1\r\n', 'PUT ', 'PATCH ', 'OPTIONS * HTTP/1.1', 'M-SEARCH ', 'PRI * HTTP/1.1\r\n\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\x00']) {
    assert.equal(sniffProtocol(bytes(line)), 'http', JSON.stringify(line));
  }
  for (const junk of ['GARBAGE\r\n\r\n', ' GET / HTTP/1.1', '\x00\x01\x02', 'GET\t/', '{"key":"Zm9v"}', '\xe7\x00', '\xe7\xce', 'A'.repeat(24)]) {
    assert.equal(sniffProtocol(bytes(junk)), 'malformed', JSON.stringify(junk));
  }
  // a 23-byte method is still a method (the space may come with the next byte)
  assert.equal(sniffProtocol(bytes('A'.repeat(23))), null);
  assert.equal(sniffProtocol(bytes('A'.repeat(23) + ' ')), 'http');
});

test('bytes arriving one at a time: undecided until they tell, then the same answer as for the whole', () => {
  const inputs = [
    HTTP2_PREFACE,
    Buffer.concat([HTTP2_PREFACE, bytes('\x00\x00\x00\x04\x00\x00\x00\x00\x00')]),
    encodeFrame(FrameKind.StreamMessage, 7, { method: 'Watch' }),
    bytes('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'),
    bytes('PRI * HTTP/1.1\r\nHost: x\r\n\r\n'),
    bytes('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'),
    bytes('GARBAGE\r\n'),
    bytes('\xe7'),
    bytes(''),
  ];
  for (const input of inputs) {
    const whole = sniffProtocol(input);
    let decided: string | null = null;
    for (let n = 0; n <= input.length; n++) {
      const answer = sniffProtocol(input.subarray(0, n));
      if (decided !== null) assert.equal(answer, decided, `${JSON.stringify(input.toString('latin1'))}: changed its mind at ${n} bytes`);
      else if (answer !== null) {
        decided = answer;
        assert.equal(answer, whole, `${JSON.stringify(input.toString('latin1'))} at ${n} bytes`);
      }
      assert.ok(n <= 24 || answer !== null, 'never more than 24 bytes undecided');
    }
  }
  // a proper prefix of the preface, or the magic's first byte, decides nothing
  for (let n = 0; n < HTTP2_PREFACE.length; n++) assert.equal(sniffProtocol(HTTP2_PREFACE.subarray(0, n)), null, `${n} bytes of the preface`);
  assert.equal(sniffProtocol(bytes('\xe7')), null);
});

test('PROXY v2 header: signature, PROXY command, TCP over IPv4 with both addresses and ports', () => {
  const h = proxyV2Header({ remoteAddress: '10.1.2.3', remotePort: 50000, localAddress: '127.0.0.1', localPort: 2379 });
  assert.deepEqual(
    [...h],
    [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 10, 1, 2, 3, 127, 0, 0, 1, 0xc3, 0x50, 0x09, 0x4b],
  );
});

test('PROXY v2 header: TCP over IPv6 (mapped IPv4 addresses too), and LOCAL when the addresses are gone', () => {
  const h = proxyV2Header({ remoteAddress: '::ffff:10.1.2.3', remotePort: 1, localAddress: '::1', localPort: 2 });
  assert.equal(h.length, 16 + 36);
  assert.deepEqual([...h.subarray(12, 16)], [0x21, 0x21, 0x00, 36]);
  assert.deepEqual([...h.subarray(16, 32)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]);
  assert.deepEqual([...h.subarray(32, 48)], [...Buffer.alloc(15), 1]);
  assert.deepEqual([...h.subarray(48, 52)], [0, 1, 0, 2]);
  const local = proxyV2Header({});
  assert.deepEqual([...local.subarray(12)], [0x20, 0x00, 0x00, 0x00]);
  assert.equal(local.length, 16);
});

test('IPv6 text to bytes: full, compressed at either end or inside, zones dropped; not an address: null', () => {
  assert.equal(ipv6Bytes('1:2:3:4:5:6:7:8')!.toString('hex'), '00010002000300040005000600070008');
  assert.equal(ipv6Bytes('2001:db8::ff00:42:8329')!.toString('hex'), '20010db8000000000000ff0000428329');
  assert.equal(ipv6Bytes('::')!.toString('hex'), '0'.repeat(32));
  assert.equal(ipv6Bytes('fe80::1%eth0')!.toString('hex'), 'fe80' + '0'.repeat(24) + '0001');
  assert.equal(ipv6Bytes('1::')!.toString('hex'), '0001' + '0'.repeat(28));
  assert.equal(ipv6Bytes('10.1.2.3'), null);
  assert.equal(ipv6Bytes('not an address'), null);
});
