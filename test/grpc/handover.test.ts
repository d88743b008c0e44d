// GrpcServer.handleConnection: a listener of someone else's (the client port's multiplexer) reads the first bytes of a
// connection to see what it speaks, puts them back (socket.unshift) and hands the paused socket over. Calls on it then
// work as on the server's own listener, and close() ends handed-over connections too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { GrpcServer } from '../../src/grpc/index.js';
import { startInProcess } from '../helpers/member.js';
import { etcdClients, unary } from '../helpers/grpc.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

test('a connection sniffed and handed over by another listener is served; close() ends it', async (t) => {
  const m = await startInProcess();
  t.after(() => m.close());
  const grpc = new GrpcServer({ server: m.member.server, limits: m.member.server.config.limits });
  const sniffed: boolean[] = [];
  const mux = net.createServer((socket) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (head.length < PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      sniffed.push(head.subarray(0, PREFACE.length).equals(PREFACE));
      socket.unshift(head);
      grpc.handleConnection(socket);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => mux.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => mux.close(() => resolve())));
  const port = (mux.address() as net.AddressInfo).port;

  const c = etcdClients(`127.0.0.1:${port}`);
  t.after(() => c.close());
  await unary(c.kv, 'Put', { key: Buffer.from('via'), value: Buffer.from('mux') });
  const got = await unary<{ kvs: { value: Buffer }[] }>(c.kv, 'Range', { key: Buffer.from('via') });
  assert.equal(got.kvs[0]!.value.toString(), 'mux');
  assert.ok(sniffed.length >= 1 && sniffed.every((x) => x), 'the client opened with the HTTP/2 preface');

  assert.ok((await new Promise<number>((resolve) => mux.getConnections((_e, n) => resolve(n)))) > 0);
  await grpc.close();
  let open = -1;
  for (let i = 0; i < 100 && open !== 0; i++) {
    open = await new Promise<number>((resolve) => mux.getConnections((_e, n) => resolve(n)));
    if (open !== 0) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(open, 0, 'close() ended the handed-over connection');
});
