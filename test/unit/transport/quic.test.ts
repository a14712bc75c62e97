/**
 * The Connection contract (types.ts) on the quic listener, seen from a real QUIC client on
 * loopback: data in order, write() false above the queue's high-water mark and one drain() once
 * the client reads again, pause() backing the client's writes up, end() flushing before FIN,
 * close() exactly once whether the client closes, resets its stream or we destroy.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { QUICClient, type QUICStream } from '@matrixai/quic';
import QuicLogger, { LogLevel } from '@matrixai/logger';
import { randomBytes } from 'node:crypto';
import { Listeners, type Connection } from '../../../broker/src/transport/index.js';
import { QUEUE_HWM } from '../../../broker/src/transport/quic-connection.js';
import { Accepted, listenersCfg, log, serverSsl, tlsRead, waitFor } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = new QuicLogger('t', LogLevel.ERROR, []);
const crypto = { ops: { randomBytes: async (d: ArrayBuffer) => { randomBytes(d.byteLength).copy(Buffer.from(d)); } } };

let acc: Accepted;
let ls: Listeners;
let port: number;
before(async () => {
  acc = new Accepted();
  ls = new Listeners(listenersCfg({ quic: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: serverSsl() } } }), acc.onConnection, log);
  await ls.start();
  port = ls.boundPort('quic:default');
});
after(async () => { await ls.stop(); });

interface Peer { client: QUICClient; stream: QUICStream; w: WritableStreamDefaultWriter<Uint8Array>; r: ReadableStreamDefaultReader<Uint8Array>; conn: Connection; index: number }

/** A client with its stream open and the server side accepted (its first byte sent to make the stream exist). */
async function peer(): Promise<Peer> {
  const client = await QUICClient.createQUICClient({
    host: '127.0.0.1', port, localHost: '127.0.0.1', serverName: 'localhost', crypto, logger: quiet,
    config: { verifyPeer: true, ca: tlsRead('ca.crt').toString(), applicationProtos: ['mqtt'] },
  });
  const stream = client.connection.newStream('bidi');
  const w = stream.writable.getWriter();
  w.closed.catch(() => {});
  const r = stream.readable.getReader();
  r.closed.catch(() => {});
  const index = acc.conns.length;
  await w.write(Buffer.from('!'));
  await acc.count(index + 1);
  await acc.recs[index]!.until(() => acc.recs[index]!.chunks.length > 0, 'first byte');
  acc.recs[index]!.chunks.length = 0;
  return { client, stream, w, r, conn: acc.conns[index]!, index };
}

async function readAll(r: ReadableStreamDefaultReader<Uint8Array>, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const { value, done } = await r.read();
    if (done) break;
    parts.push(Buffer.from(value));
    got += value.byteLength;
  }
  return Buffer.concat(parts);
}

const pattern = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

test('bytes both ways in order; the client closing fires close() once and releases the count', async () => {
  const p = await peer();
  const rec = acc.recs[p.index]!;
  const data = pattern(300_000, 1);
  await p.w.write(data);
  await rec.until(() => Buffer.concat(rec.chunks).length === data.length, 'all bytes');
  assert.ok(Buffer.concat(rec.chunks).equals(data));
  p.conn.write(Buffer.from('pong'));
  assert.equal((await readAll(p.r, 4)).toString(), 'pong');
  assert.equal(p.conn.info.transport, 'quic');
  assert.equal(p.conn.info.listener, 'quic:default');
  await p.w.close();
  await p.client.destroy({ isApp: true, errorCode: 0, force: true });
  await rec.until(() => rec.closes.length === 1, 'close');
  await sleep(200);
  assert.equal(rec.closes.length, 1);
  assert.equal(rec.closes[0], undefined, 'orderly close carries no error');
  assert.equal(p.conn.closed, true);
  await waitFor(() => ls.list().find((l) => l.id === 'quic:default')!.currentConnections === 0, 'count released');
});

test('write() says false above the high-water mark while the client does not read; one drain() after it reads', async () => {
  const p = await peer();
  const rec = acc.recs[p.index]!;
  const chunk = 64 * 1024;
  const total = 4 * 1024 * 1024;
  let ok = true;
  let written = 0;
  for (let i = 0; written < total; i++) { ok = p.conn.write(pattern(chunk, i)); written += chunk; }
  assert.equal(ok, false, 'write() false with megabytes queued');
  await sleep(400);
  // The client reads nothing: its flow-control window caps what the stream takes.
  assert.ok(p.conn.bufferedAmount >= QUEUE_HWM, `still queued: ${p.conn.bufferedAmount}`);
  assert.equal(rec.drains, 0);
  const got = await readAll(p.r, total);
  assert.equal(got.length, total);
  for (let i = 0; i < total / chunk; i++) assert.ok(got.subarray(i * chunk, (i + 1) * chunk).equals(pattern(chunk, i)), `chunk ${i} in order`);
  await rec.until(() => rec.drains === 1, 'drain');
  assert.equal(p.conn.bufferedAmount, 0);
  await p.client.destroy({ force: true });
});

test('pause() stops reading (the client backs up); resume() delivers everything in order', async () => {
  const p = await peer();
  const rec = acc.recs[p.index]!;
  p.conn.pause();
  const total = 6 * 1024 * 1024;
  const data = pattern(total, 3);
  let accepted = false;
  const writing = p.w.write(data).then(() => { accepted = true; });
  await sleep(500);
  const whilePaused = Buffer.concat(rec.chunks).length;
  assert.ok(whilePaused <= 64 * 1024, `delivered while paused: ${whilePaused}`);
  assert.equal(accepted, false, 'the client still holds most of its write');
  p.conn.resume();
  await writing;
  await rec.until(() => Buffer.concat(rec.chunks).length === total, 'everything after resume', 10_000);
  assert.ok(Buffer.concat(rec.chunks).equals(data));
  await p.client.destroy({ force: true });
});

test('end() flushes what was written, then FIN; close() once when the client closes', async () => {
  const p = await peer();
  const rec = acc.recs[p.index]!;
  const data = pattern(1_500_000, 5);
  p.conn.write(data);
  p.conn.end();
  assert.equal(p.conn.closed, true);
  assert.equal(p.conn.write(Buffer.from('late')), false, 'no writes after end()');
  const got = await readAll(p.r, data.length + 10);
  assert.ok(got.equals(data), `got ${got.length} bytes`);
  const { done } = await p.r.read();
  assert.equal(done, true, 'FIN after the data');
  await p.client.destroy({ isApp: true, errorCode: 0, force: true });
  await rec.until(() => rec.closes.length === 1, 'close');
  await sleep(100);
  assert.equal(rec.closes.length, 1);
});

test('end() while corked still sends what was written, then FIN', async () => {
  const p = await peer();
  p.conn.cork();
  p.conn.write(Buffer.from('last words'));
  p.conn.end();
  assert.equal((await readAll(p.r, 10)).toString(), 'last words');
  assert.equal((await p.r.read()).done, true);
  await p.client.destroy({ force: true });
});

test('a stream reset by the client fires close(err) once', async () => {
  const p = await peer();
  const rec = acc.recs[p.index]!;
  await p.w.abort(new Error('client gives up'));
  await rec.until(() => rec.closes.length === 1, 'close after reset');
  await sleep(100);
  assert.equal(rec.closes.length, 1);
  assert.ok(rec.closes[0] instanceof Error);
  assert.match(rec.closes[0].message, /reset by the client/);
  await p.client.destroy({ force: true }).catch(() => {});
});

test('destroy() closes the QUIC connection: the client sees it end, close() fires once', async () => {
  const p = await peer();
  const rec = acc.recs[p.index]!;
  p.conn.destroy();
  await p.client.closedP;
  await rec.until(() => rec.closes.length === 1, 'close after destroy');
  await sleep(100);
  assert.equal(rec.closes.length, 1);
});
