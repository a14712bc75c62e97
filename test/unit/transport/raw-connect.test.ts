// rawConnect: outbound connections on raw libuv handles (used by the cluster link).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { rawConnect, type RawConnection } from '../../../broker/src/transport/raw-tcp.js';

function dial(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => rawConnect('127.0.0.1', port, 'test', (err, conn) => (err ? reject(err) : resolve(conn!))));
}

test('connects, carries bytes both ways, closes when the peer does', async () => {
  let peer: Socket | null = null;
  const server = createServer((s) => { peer = s; s.on('data', (d) => s.write(Buffer.concat([Buffer.from('echo:'), d]))); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const conn = await dial(port);
  assert.equal(conn.info.remotePort, port);
  assert.ok(conn.info.localPort > 0);
  const got: Buffer[] = [];
  let closed = false;
  conn.setHandler({ data: (b) => got.push(b), drain() {}, close: () => { closed = true; } });
  conn.write(Buffer.from('hi'));
  while (Buffer.concat(got).toString() !== 'echo:hi') await new Promise((r) => setTimeout(r, 5));
  peer!.end();
  while (!closed) await new Promise((r) => setTimeout(r, 5));
  server.close();
});

test('a refused dial reports ECONNREFUSED once; an abandoned one reports nothing', async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  await assert.rejects(dial(port), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED' && e.syscall === 'connect');
  let called = 0;
  const abandon = rawConnect('127.0.0.1', port, 'test', () => { called++; });
  abandon();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(called, 0);
});
