import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { Listeners, ListenerError, type Connection } from '../../../broker/src/transport/index.js';
import { Accepted, listenersCfg, log, Recorder, waitFor } from './helpers.js';

const signal = () => AbortSignal.timeout(3000);

async function client(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  await once(s, 'connect', { signal: signal() });
  return s;
}

// Every case runs on both implementations: bare libuv handles (raw-tcp.ts, the default) and net.Socket.
for (const raw of [true, false]) {
const mode = raw ? 'raw handles' : 'net.Socket';

  test(`tcp (${mode}): bytes both ways, connection info, close reported once`, async () => {
    const acc = new Accepted(true);
    const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0', raw_sockets: raw } } }), acc.onConnection, log);
    await ls.start();
    try {
      const port = ls.boundPort('tcp:default');
      assert.ok(port > 0);
      const c = await client(port);
      await acc.count(1);
      const conn = acc.conns[0]!;
      assert.equal(conn.info.listener, 'tcp:default');
      assert.equal(conn.info.transport, 'tcp');
      assert.equal(conn.info.remoteAddress, '127.0.0.1');
      assert.equal(conn.info.remotePort, c.localPort);
      assert.equal(conn.info.localPort, port);
      c.write('hello');
      const [echo] = await once(c, 'data', { signal: signal() });
      assert.equal(echo.toString(), 'hello');
      assert.equal(acc.recs[0]!.text, 'hello');
      assert.deepEqual(ls.list().find((l) => l.id === 'tcp:default')!.currentConnections, 1);
      c.end();
      await acc.recs[0]!.until(() => acc.recs[0]!.closes.length === 1, 'close');
      assert.equal(acc.recs[0]!.closes[0], undefined);
      assert.equal(conn.closed, true);
      await waitFor(() => ls.list().find((l) => l.id === 'tcp:default')!.currentConnections === 0, 'count back to 0');
    } finally {
      await ls.stop();
    }
  });

  test(`tcp (${mode}): data sent before setHandler is held, not lost; end() flushes then closes`, async () => {
    const pending: Connection[] = [];
    const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0', raw_sockets: raw } } }), (c) => pending.push(c), log);
    await ls.start();
    try {
      const c = await client(ls.boundPort('tcp:default'));
      c.write('early-bytes');
      await waitFor(() => pending.length === 1, 'connection');
      await new Promise((r) => setTimeout(r, 50));
      const conn = pending[0]!;
      const rec = new Recorder(conn);
      conn.setHandler(rec);
      await rec.until(() => rec.text === 'early-bytes', 'held bytes');
      const got: Buffer[] = [];
      c.on('data', (b: Buffer) => got.push(b));
      const big = Buffer.alloc(256 * 1024, 7);
      conn.write(big);
      conn.end();
      assert.equal(conn.closed, true);
      assert.equal(conn.write(Buffer.from('late')), false, 'no writes after end()');
      await once(c, 'end', { signal: signal() });
      assert.equal(Buffer.concat(got).length, big.length, 'everything written before end() arrives');
      c.end();
      await rec.until(() => rec.closes.length === 1, 'close');
    } finally {
      await ls.stop();
    }
  });

  test(`tcp (${mode}): back-pressure: write() returns false on a slow reader, drain() follows`, async () => {
    const acc = new Accepted();
    const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0', raw_sockets: raw } } }), acc.onConnection, log);
    await ls.start();
    try {
      const c = await client(ls.boundPort('tcp:default'));
      c.pause();
      await acc.count(1);
      const conn = acc.conns[0]!;
      // Small writes: write() only says "stop" once the kernel buffers are full and bytes queue up.
      const chunk = Buffer.alloc(4096, 1);
      let writes = 0;
      while (conn.write(chunk)) {
        writes++;
        assert.ok(writes < 20_000, 'write() never signalled back-pressure (80 MB written)');
      }
      assert.ok(writes > 0);
      assert.ok(conn.bufferedAmount > 0, 'bytes are queued');
      assert.equal(acc.recs[0]!.drains, 0);
      c.resume();
      c.on('data', () => {});
      await acc.recs[0]!.until(() => acc.recs[0]!.drains === 1, 'drain');
      c.destroy();
    } finally {
      await ls.stop();
    }
  });

  test(`tcp (${mode}): a reset by the peer closes the connection once, with the error; others keep working`, async () => {
    const acc = new Accepted(true);
    const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0', raw_sockets: raw } } }), acc.onConnection, log);
    await ls.start();
    try {
      const port = ls.boundPort('tcp:default');
      const a = await client(port);
      const b = await client(port);
      await acc.count(2);
      a.resetAndDestroy(); // RST instead of FIN
      await acc.recs[0]!.until(() => acc.recs[0]!.closes.length === 1, 'close after reset');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(acc.recs[0]!.closes.length, 1, 'close reported exactly once');
      assert.equal(acc.conns[0]!.closed, true);
      // a write after the peer is gone is refused, not thrown
      assert.equal(acc.conns[0]!.write(Buffer.from('late')), false);
      b.write('still here');
      const [echo] = await once(b, 'data', { signal: signal() });
      assert.equal(echo.toString(), 'still here');
      b.destroy();
    } finally {
      await ls.stop();
    }
  });

  test(`tcp (${mode}): a host name in bind is resolved`, async () => {
    const acc = new Accepted(true);
    const ls = new Listeners(listenersCfg({ tcp: { default: { bind: 'localhost:0', raw_sockets: raw } } }), acc.onConnection, log);
    await ls.start();
    try {
      const port = ls.boundPort('tcp:default');
      assert.ok(port > 0);
      const c = connect({ host: 'localhost', port });
      await once(c, 'connect', { signal: signal() });
      await acc.count(1);
      c.write('hi');
      const [echo] = await once(c, 'data', { signal: signal() });
      assert.equal(echo.toString(), 'hi');
      c.destroy();
    } finally {
      await ls.stop();
    }
  });

  test(`tcp (${mode}): max_connections closes the excess at once and counts it`, async () => {
    const acc = new Accepted();
    const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0', raw_sockets: raw, max_connections: 2 } } }), acc.onConnection, log);
    await ls.start();
    const socks: Socket[] = [];
    try {
      const port = ls.boundPort('tcp:default');
      socks.push(await client(port), await client(port));
      await acc.count(2);
      const third = await client(port);
      socks.push(third);
      await once(third, 'close', { signal: signal() });
      const st = ls.list().find((l) => l.id === 'tcp:default')!;
      assert.equal(st.rejected, 1);
      assert.equal(st.currentConnections, 2);
      assert.equal(st.maxConnections, 2);
      assert.equal(acc.conns.length, 2);
    } finally {
      for (const s of socks) s.destroy();
      await ls.stop();
    }
  });

  test(`tcp (${mode}): port in use gives a clear ListenerError; start() is all or nothing`, async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0', raw_sockets: raw }, second: { bind: `127.0.0.1:${port}`, raw_sockets: raw } } }), () => {}, log);
    try {
      await assert.rejects(ls.start(), (err: unknown) => {
        assert.ok(err instanceof ListenerError);
        assert.equal(err.message, `listener tcp:second cannot bind 127.0.0.1:${port}: address already in use`);
        assert.equal(err.listener, 'tcp:second');
        assert.equal(err.code, 'EADDRINUSE');
        return true;
      });
      assert.ok(ls.list().every((l) => !l.running), 'the listener that did bind was closed again');
    } finally {
      blocker.close();
      await ls.stop();
    }
  });

  test(`tcp (${mode}): stop keeps established connections; restartOne keeps the port; unknown id`, async () => {
    const acc = new Accepted(true);
    const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0', raw_sockets: raw } } }), acc.onConnection, log);
    await ls.start();
    const socks: Socket[] = [];
    try {
      const port = ls.boundPort('tcp:default');
      const a = await client(port);
      socks.push(a);
      await acc.count(1);
      await ls.stopOne('tcp:default');
      assert.equal(ls.list()[0]!.running, false);
      assert.throws(() => ls.boundPort('tcp:default'), /not running/);
      const refused = connect({ host: '127.0.0.1', port });
      const [err] = await once(refused, 'error', { signal: signal() });
      assert.equal((err as NodeJS.ErrnoException).code, 'ECONNREFUSED');
      a.write('still here');
      assert.equal((await once(a, 'data', { signal: signal() }))[0].toString(), 'still here');
      await ls.startOne('tcp:default');
      await ls.restartOne('tcp:default');
      assert.equal(ls.boundPort('tcp:default'), port, 'port kept across stop/start and restart');
      socks.push(await client(port));
      await acc.count(2);
      await assert.rejects(ls.startOne('tcp:nope'), /no listener tcp:nope/);
    } finally {
      for (const s of socks) s.destroy();
      await ls.stop();
    }
  });

  test(`tcp (${mode}): cork/uncork and writev batch writes`, async () => {
    const acc = new Accepted();
    const ls = new Listeners(listenersCfg({ tcp: { default: { bind: '127.0.0.1:0', raw_sockets: raw } } }), acc.onConnection, log);
    await ls.start();
    try {
      const c = await client(ls.boundPort('tcp:default'));
      await acc.count(1);
      const conn = acc.conns[0]!;
      const got: Buffer[] = [];
      c.on('data', (b: Buffer) => got.push(b));
      conn.cork();
      conn.write(Buffer.from('a'));
      conn.write(Buffer.from('b'));
      conn.uncork();
      assert.equal(conn.writev!([Buffer.from('c'), Buffer.from('d')]), true);
      await waitFor(() => Buffer.concat(got).toString() === 'abcd', 'abcd');
      c.destroy();
    } finally {
      await ls.stop();
    }
  });
}
