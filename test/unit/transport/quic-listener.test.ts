/**
 * The quic listener's own duties: refusing a config it cannot serve with an error naming the
 * listener and the key, max_connections, the wait for the MQTT stream, stop/start on a kept port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { QUICClient } from '@matrixai/quic';
import QuicLogger, { LogLevel } from '@matrixai/logger';
import { Listeners, ListenerError } from '../../../broker/src/transport/index.js';
import { QUIC_REFUSED } from '../../../broker/src/transport/quic.js';
import { Accepted, listenersCfg, log, serverSsl, tlsRead, waitFor } from './helpers.js';

const quiet = new QuicLogger('t', LogLevel.ERROR, []);
const crypto = { ops: { randomBytes: async (d: ArrayBuffer) => { randomBytes(d.byteLength).copy(Buffer.from(d)); } } };

function connect(port: number): Promise<QUICClient> {
  return QUICClient.createQUICClient({
    host: '127.0.0.1', port, localHost: '127.0.0.1', serverName: 'localhost', crypto, logger: quiet,
    config: { verifyPeer: true, ca: tlsRead('ca.crt').toString(), applicationProtos: ['mqtt'] },
  }, { timer: 5000 });
}

/** The application code of the CONNECTION_CLOSE the client received, once it closed. */
async function closedWith(c: QUICClient, ms = 5000): Promise<number | undefined> {
  await Promise.race([c.closedP, new Promise((_, rej) => setTimeout(() => rej(new Error('client still open')), ms))]);
  const e = c.connection.getConnectionError() as { errorCode?: number } | undefined;
  return e?.errorCode;
}

test('an enabled quic listener without certfile fails to start, naming the listener and the key', async () => {
  const ls = new Listeners(listenersCfg({ quic: { default: { enable: true, bind: '127.0.0.1:0' } } }), () => {}, log);
  await assert.rejects(ls.start(), (err: unknown) => {
    assert.ok(err instanceof ListenerError);
    assert.equal(err.listener, 'quic:default');
    assert.match(err.message, /quic:default needs ssl_options\.keyfile/);
    return true;
  });
});

test('an unreadable keyfile is named with its path', async () => {
  const ls = new Listeners(listenersCfg({ quic: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: serverSsl({ keyfile: '/nonexistent/q.key' }) } } }), () => {}, log);
  await assert.rejects(ls.start(), /listener quic:default cannot load ssl_options\.keyfile \/nonexistent\/q\.key: no such file/);
});

test('TLS files with the wrong content are refused at start, naming key and file', async () => {
  const cases: Array<[object, RegExp]> = [
    [{ keyfile: serverSsl().certfile }, /ssl_options\.keyfile: .*server\.crt holds no usable unencrypted PEM key/],
    [{ certfile: serverSsl().keyfile }, /ssl_options\.certfile: .*server\.key holds no PEM certificate/],
    [{ keyfile: serverSsl().keyfile.replace('server.key', 'client.key') }, /ssl_options\.keyfile: .*client\.key is not the key of .*server\.crt/],
    [{ verify: 'verify_peer', cacertfile: serverSsl().keyfile }, /ssl_options\.cacertfile: .*server\.key holds no PEM certificate/],
  ];
  for (const [extra, re] of cases) {
    const ls = new Listeners(listenersCfg({ quic: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: serverSsl(extra) } } }), () => {}, log);
    await assert.rejects(ls.start(), (err: unknown) => err instanceof ListenerError && err.code === 'TLS_CONFIG' && re.test(err.message));
    assert.equal(ls.list()[0]?.running ?? false, false);
  }
});

test('a UDP port already taken is a bind error', async () => {
  const { createSocket } = await import('node:dgram');
  const u = createSocket('udp4');
  await new Promise<void>((r) => u.bind(0, '127.0.0.1', () => r()));
  const ls = new Listeners(listenersCfg({ quic: { default: { enable: true, bind: `127.0.0.1:${u.address().port}`, ssl_options: serverSsl() } } }), () => {}, log);
  await assert.rejects(ls.start(), /listener quic:default cannot bind 127\.0\.0\.1:\d+: address already in use/);
  u.close();
});

test('a bad bind and a bad *_ms value are config errors', () => {
  assert.throws(() => listenersCfg({ quic: { default: { idle_timeout_ms: -5 } } }), /idle_timeout_ms.*whole number of milliseconds/s);
  assert.throws(() => listenersCfg({ quic: { default: { certfile: 'x' } } }), /certfile/);
});

test('max_connections: one over is closed with the refusal code and counted', async () => {
  const acc = new Accepted();
  const ls = new Listeners(listenersCfg({ quic: { default: { enable: true, bind: '127.0.0.1:0', max_connections: 1, ssl_options: serverSsl() } } }), acc.onConnection, log);
  await ls.start();
  const port = ls.boundPort('quic:default');
  const a = await connect(port);
  const s = a.connection.newStream('bidi');
  await s.writable.getWriter().write(Buffer.from('x'));
  await acc.count(1);
  const b = await connect(port);
  assert.equal(await closedWith(b), QUIC_REFUSED.maxConnections);
  const st = ls.list().find((l) => l.id === 'quic:default')!;
  assert.equal(st.rejected, 1);
  assert.equal(st.currentConnections, 1);
  await a.destroy({ force: true });
  await waitFor(() => ls.list().find((l) => l.id === 'quic:default')!.currentConnections === 0, 'released');
  await ls.stop();
});

test('max_conn_rate: a connection over the rate is closed with its own code and counted', async () => {
  const ls = new Listeners(listenersCfg({ quic: { default: { enable: true, bind: '127.0.0.1:0', max_conn_rate: '1/10s', ssl_options: serverSsl() } } }), () => {}, log);
  await ls.start();
  const port = ls.boundPort('quic:default');
  const a = await connect(port);
  const b = await connect(port);
  assert.equal(await closedWith(b), QUIC_REFUSED.rate);
  assert.equal(ls.list().find((l) => l.id === 'quic:default')!.rejectedRate, 1);
  await a.destroy({ force: true });
  await ls.stop();
});

test('an EMQX-style quic block loads: *_ms keys, "port"-only bind, listener defaults', () => {
  const l = listenersCfg({ quic: { default: { enable: true, bind: '14567', idle_timeout_ms: 60000, keep_alive_interval_ms: 20000, handshake_idle_timeout_ms: 5000, ssl_options: serverSsl({ verify: 'verify_peer' }) } } }).quic['default']!;
  assert.equal(l.idle_timeout_ms, 60000);
  assert.equal(l.handshake_idle_timeout, 10_000, 'the duration twin keeps its default; the _ms key wins at start');
  assert.equal(l.peer_bidi_stream_count, 10);
  assert.equal(l.migration_enabled, true);
  assert.deepEqual(Object.keys(listenersCfg({}).quic), [], 'no quic listener unless configured, as in EMQX');
  assert.equal(listenersCfg({ quic: { edge: {} } }).quic['edge']!.bind, '0.0.0.0:14567');
});

test('a QUIC connection that opens no stream is closed after handshake_idle_timeout', async () => {
  const ls = new Listeners(listenersCfg({ quic: { default: { enable: true, bind: '127.0.0.1:0', handshake_idle_timeout: '400ms', ssl_options: serverSsl() } } }), () => {}, log);
  await ls.start();
  const c = await connect(ls.boundPort('quic:default'));
  const t0 = Date.now();
  assert.equal(await closedWith(c), QUIC_REFUSED.noStream);
  assert.ok(Date.now() - t0 < 3000);
  await waitFor(() => ls.list().find((l) => l.id === 'quic:default')!.currentConnections === 0, 'released');
  await ls.stop();
});

test('stop closes the UDP socket; start again binds the same port (configured port 0)', async () => {
  const acc = new Accepted();
  const ls = new Listeners(listenersCfg({ quic: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: serverSsl() } } }), acc.onConnection, log);
  await ls.start();
  const port = ls.boundPort('quic:default');
  await ls.stopOne('quic:default');
  assert.equal(ls.list().find((l) => l.id === 'quic:default')!.running, false);
  await ls.startOne('quic:default');
  assert.equal(ls.boundPort('quic:default'), port);
  const c = await connect(port);
  await c.destroy({ force: true });
  await ls.stop();
});
