import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { Listeners, ListenerError } from '../../../broker/src/transport/index.js';
import { Accepted, listenersCfg, log, serverSsl, tlsRead, waitFor } from './helpers.js';

const signal = () => AbortSignal.timeout(3000);

/** Connect; resolves 'ok' once a byte round-trips, or 'refused' if the server drops us. */
async function tryClient(port: number, opts: ConnectionOptions): Promise<{ result: 'ok' | 'refused'; socket: TLSSocket }> {
  const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: tlsRead('ca.crt'), ...opts });
  socket.on('error', () => {});
  const result = await new Promise<'ok' | 'refused'>((resolve) => {
    const timer = setTimeout(() => resolve('refused'), 3000);
    socket.once('secureConnect', () => socket.write('ping'));
    socket.once('data', () => { clearTimeout(timer); resolve('ok'); });
    socket.once('close', () => { clearTimeout(timer); resolve('refused'); });
  });
  return { result, socket };
}

async function withSsl(sslOptions: object, fn: (port: number, acc: Accepted, ls: Listeners) => Promise<void>): Promise<void> {
  const acc = new Accepted(true);
  const ls = new Listeners(listenersCfg({ ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: serverSsl(sslOptions) } } }), acc.onConnection, log);
  await ls.start();
  try {
    await fn(ls.boundPort('ssl:default'), acc, ls);
  } finally {
    for (const c of acc.conns) c.destroy();
    await ls.stop();
  }
}

test('ssl: server-only TLS, bytes round-trip, no peer cert', async () => {
  await withSsl({}, async (port, acc) => {
    const { result, socket } = await tryClient(port, {});
    assert.equal(result, 'ok');
    assert.equal(acc.conns[0]!.info.transport, 'ssl');
    assert.equal(acc.conns[0]!.info.listener, 'ssl:default');
    assert.equal(acc.conns[0]!.info.peerCert, null);
    socket.destroy();
  });
});

test('ssl: mutual TLS accepts a client certificate from the CA and reports it', async () => {
  await withSsl({ verify: 'verify_peer', fail_if_no_peer_cert: true }, async (port, acc) => {
    const { result, socket } = await tryClient(port, { cert: tlsRead('client.crt'), key: tlsRead('client.key') });
    assert.equal(result, 'ok');
    const pc = acc.conns[0]!.info.peerCert!;
    assert.equal(pc.cn, 'device-1');
    assert.equal(pc.subject['O'], 'Petrel');
    assert.match(pc.fingerprint256!, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    socket.destroy();
  });
});

test('ssl: mutual TLS refuses no certificate and a certificate from another CA', async (t) => {
  await withSsl({ verify: 'verify_peer', fail_if_no_peer_cert: true }, async (port, acc, ls) => {
    const none = await tryClient(port, {});
    assert.equal(none.result, 'refused');
    const rogue = await tryClient(port, { cert: tlsRead('rogue-client.crt'), key: tlsRead('rogue-client.key') });
    assert.equal(rogue.result, 'refused');
    assert.equal(acc.conns.length, 0, 'no Connection was handed out');
    await waitFor(() => ls.list()[1]!.handshakeErrors >= 2, 'handshake errors counted');
    t.diagnostic(`handshakeErrors=${ls.list()[1]!.handshakeErrors}`);
  });
});

test('ssl: verify_peer without fail_if_no_peer_cert: no cert is fine, an unverified cert is not', async () => {
  await withSsl({ verify: 'verify_peer' }, async (port, acc) => {
    const none = await tryClient(port, {});
    assert.equal(none.result, 'ok');
    assert.equal(acc.conns[0]!.info.peerCert, null);
    none.socket.destroy();
    const rogue = await tryClient(port, { cert: tlsRead('rogue-client.crt'), key: tlsRead('rogue-client.key') });
    assert.equal(rogue.result, 'refused');
    assert.equal(acc.conns.length, 1);
  });
});

test('ssl: versions limit the protocol', async () => {
  await withSsl({ versions: ['tlsv1.3'] }, async (port) => {
    const old = await tryClient(port, { maxVersion: 'TLSv1.2' });
    assert.equal(old.result, 'refused');
    const ok = await tryClient(port, {});
    assert.equal(ok.result, 'ok');
    assert.equal(ok.socket.getProtocol(), 'TLSv1.3');
    ok.socket.destroy();
  });
});

test('ssl: a missing certificate file is a clear ListenerError', async () => {
  const ls = new Listeners(listenersCfg({ ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: serverSsl({ certfile: '/nonexistent/cert.pem' }) } } }), () => {}, log);
  await assert.rejects(ls.start(), (err: unknown) => {
    assert.ok(err instanceof ListenerError);
    assert.equal(err.message, 'listener ssl:default cannot load certfile /nonexistent/cert.pem: no such file');
    return true;
  });
});

test('ssl: garbage instead of a TLS handshake is counted, never crashes', async () => {
  await withSsl({}, async (port, _acc, ls) => {
    const { connect: tcpConnect } = await import('node:net');
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    await once(s, 'connect', { signal: signal() });
    s.write('GET / HTTP/1.1\r\n\r\n');
    await once(s, 'close', { signal: signal() });
    await waitFor(() => ls.list()[1]!.handshakeErrors === 1, 'handshake error counted');
    const ok = await tryClient(port, {});
    assert.equal(ok.result, 'ok', 'still serving');
    ok.socket.destroy();
  });
});
