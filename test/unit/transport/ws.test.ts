import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import WebSocket from 'ws';
import { Listeners } from '../../../broker/src/transport/index.js';
import { Accepted, listenersCfg, log, serverSsl, tlsRead, waitFor } from './helpers.js';

const signal = () => AbortSignal.timeout(3000);

async function withWs(type: 'ws' | 'wss', entry: object, fn: (port: number, acc: Accepted, ls: Listeners) => Promise<void>, echo = true): Promise<void> {
  const acc = new Accepted(echo);
  const base = type === 'wss' ? { enable: true, bind: '127.0.0.1:0', ssl_options: serverSsl() } : { enable: true, bind: '127.0.0.1:0' };
  const ls = new Listeners(listenersCfg({ [type]: { default: { ...base, ...entry } } }), acc.onConnection, log);
  await ls.start();
  try {
    await fn(ls.boundPort(`${type}:default`), acc, ls);
  } finally {
    for (const c of acc.conns) c.destroy();
    await ls.stop();
  }
}

/** Open a client; resolves with the socket once open, or with the HTTP status of a refused upgrade. */
async function open(url: string, protocols?: string | string[], opts: WebSocket.ClientOptions = {}): Promise<WebSocket | number> {
  const ws = new WebSocket(url, protocols, opts);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('websocket open timed out')), 3000);
    ws.once('open', () => { clearTimeout(timer); resolve(ws); });
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); resolve(res.statusCode ?? 0); res.resume(); });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

const status = (ls: Listeners, id: string) => ls.list().find((l) => l.id === id)!;

test('ws: binary frames both ways, subprotocol mqtt, connection info', async () => {
  await withWs('ws', {}, async (port, acc) => {
    const ws = await open(`ws://127.0.0.1:${port}/mqtt`, 'mqtt');
    assert.ok(ws instanceof WebSocket);
    assert.equal(ws.protocol, 'mqtt');
    ws.send(Buffer.from([0x10, 0x00]));
    const [data, isBinary] = await once(ws, 'message', { signal: signal() });
    assert.equal(isBinary, true);
    assert.deepEqual([...(data as Buffer)], [0x10, 0x00]);
    const info = acc.conns[0]!.info;
    assert.equal(info.listener, 'ws:default');
    assert.equal(info.transport, 'ws');
    assert.equal(info.remoteAddress, '127.0.0.1');
    assert.equal(info.localPort, port);
    assert.equal(info.subprotocol, 'mqtt');
    ws.close();
    await acc.recs[0]!.until(() => acc.recs[0]!.closes.length === 1, 'close');
  });
});

test('ws: subprotocol negotiation: mqttv5 and mqttv3.1 chosen, none offered accepted, only foreign refused', async () => {
  await withWs('ws', {}, async (port) => {
    const v5 = await open(`ws://127.0.0.1:${port}/mqtt`, ['chat', 'mqttv5']);
    assert.ok(v5 instanceof WebSocket);
    assert.equal(v5.protocol, 'mqttv5');
    v5.terminate();
    const v31 = await open(`ws://127.0.0.1:${port}/mqtt`, ['mqttv3.1']);
    assert.equal((v31 as WebSocket).protocol, 'mqttv3.1');
    (v31 as WebSocket).terminate();
    const none = await open(`ws://127.0.0.1:${port}/mqtt`);
    assert.ok(none instanceof WebSocket);
    assert.equal(none.protocol, '');
    none.terminate();
    assert.equal(await open(`ws://127.0.0.1:${port}/mqtt`, ['chat']), 400);
  });
});

test('ws: only the configured path upgrades; plain HTTP gets 426 / 404; query strings are fine', async () => {
  await withWs('ws', { websocket: { mqtt_path: '/broker' } }, async (port, _acc, ls) => {
    assert.equal(await open(`ws://127.0.0.1:${port}/mqtt`, 'mqtt'), 404);
    const ok = await open(`ws://127.0.0.1:${port}/broker?x=1`, 'mqtt');
    assert.ok(ok instanceof WebSocket);
    ok.terminate();
    for (const [path, code] of [['/broker', 426], ['/other', 404]] as const) {
      const req = request({ host: '127.0.0.1', port, path });
      req.end();
      const [res] = await once(req, 'response', { signal: signal() });
      assert.equal(res.statusCode, code, path);
      res.resume();
    }
    assert.ok(status(ls, 'ws:default').handshakeErrors >= 1);
  });
});

test('ws: a text frame closes the connection with 1003', async () => {
  await withWs('ws', {}, async (port, acc) => {
    const ws = await open(`ws://127.0.0.1:${port}/mqtt`, 'mqtt') as WebSocket;
    ws.send('not binary');
    const [code] = await once(ws, 'close', { signal: signal() });
    assert.equal(code, 1003);
    await acc.recs[0]!.until(() => acc.recs[0]!.closes.length === 1, 'close');
    assert.match(String(acc.recs[0]!.closes[0]?.message), /text frame/);
    assert.equal(acc.recs[0]!.chunks.length, 0);
  });
});

test('ws: cork/uncork sends one frame; end() closes normally after flushing', async () => {
  await withWs('ws', {}, async (port, acc) => {
    const ws = await open(`ws://127.0.0.1:${port}/mqtt`, 'mqtt') as WebSocket;
    await acc.count(1);
    const msgs: Buffer[] = [];
    ws.on('message', (d: Buffer) => msgs.push(d));
    const conn = acc.conns[0]!;
    conn.cork();
    conn.write(Buffer.from('ab'));
    conn.write(Buffer.from('cd'));
    assert.equal(conn.bufferedAmount >= 4, true);
    conn.uncork();
    conn.write(Buffer.from('ef'));
    conn.end();
    const [code] = await once(ws, 'close', { signal: signal() });
    assert.equal(code, 1000);
    assert.deepEqual(msgs.map((m) => m.toString()), ['abcd', 'ef']);
  }, false);
});

test('ws: back-pressure on a slow reader, then drain', async () => {
  await withWs('ws', {}, async (port, acc) => {
    const ws = await open(`ws://127.0.0.1:${port}/mqtt`, 'mqtt') as WebSocket;
    try {
      await acc.count(1);
      ws.pause();
      const conn = acc.conns[0]!;
      // Small frames: write() only says "stop" once the kernel buffers are full and bytes queue up.
      const chunk = Buffer.alloc(4096, 2);
      let writes = 0;
      while (conn.write(chunk)) {
        writes++;
        assert.ok(writes < 20_000, 'write() never signalled back-pressure (80 MB written)');
      }
      assert.ok(writes > 0);
      assert.ok(conn.bufferedAmount > 0, 'bytes are queued');
      ws.on('message', () => {});
      ws.resume();
      await acc.recs[0]!.until(() => acc.recs[0]!.drains >= 1, 'drain');
    } finally {
      ws.terminate();
    }
  }, false);
});

test('ws: max_connections', async () => {
  await withWs('ws', { max_connections: 1 }, async (port, acc, ls) => {
    const a = await open(`ws://127.0.0.1:${port}/mqtt`, 'mqtt') as WebSocket;
    await acc.count(1);
    await assert.rejects(open(`ws://127.0.0.1:${port}/mqtt`, 'mqtt'));
    await waitFor(() => status(ls, 'ws:default').rejected === 1, 'rejected counted');
    assert.equal(status(ls, 'ws:default').currentConnections, 1);
    a.terminate();
  });
});

test('wss: TLS + mutual TLS, peer certificate reported; refused without a certificate', async () => {
  await withWs('wss', { ssl_options: serverSsl({ verify: 'verify_peer', fail_if_no_peer_cert: true }) }, async (port, acc, ls) => {
    const url = `wss://localhost:${port}/mqtt`;
    const ws = await open(url, 'mqtt', { ca: tlsRead('ca.crt'), cert: tlsRead('client.crt'), key: tlsRead('client.key') }) as WebSocket;
    ws.send(Buffer.from('x'));
    await once(ws, 'message', { signal: signal() });
    const info = acc.conns[0]!.info;
    assert.equal(info.transport, 'wss');
    assert.equal(info.peerCert?.cn, 'device-1');
    ws.terminate();
    await assert.rejects(open(url, 'mqtt', { ca: tlsRead('ca.crt') }));
    await waitFor(() => status(ls, 'wss:default').handshakeErrors >= 1, 'handshake error counted');
    assert.equal(acc.conns.length, 1);
  });
});

test('ws: a message above websocket.max_frame_size closes with 1009; stop() keeps open sockets', async () => {
  await withWs('ws', { websocket: { max_frame_size: '1KB' } }, async (port, acc, ls) => {
    const small = await open(`ws://127.0.0.1:${port}/mqtt`, 'mqtt') as WebSocket;
    const big = await open(`ws://127.0.0.1:${port}/mqtt`, 'mqtt') as WebSocket;
    try {
      big.send(Buffer.alloc(2048));
      const [code] = await once(big, 'close', { signal: signal() });
      assert.equal(code, 1009);
      await ls.stopOne('ws:default');
      small.send(Buffer.alloc(1024, 1));
      const [data] = await once(small, 'message', { signal: signal() });
      assert.equal((data as Buffer).length, 1024, 'established connection still served after stop');
      await assert.rejects(open(`ws://127.0.0.1:${port}/mqtt`, 'mqtt'), /ECONNREFUSED/);
      assert.equal(acc.conns.length, 2);
    } finally {
      small.terminate();
      big.terminate();
    }
  });
});

test('ws: a listener with its own websocket.supported_subprotocols accepts those and refuses others, MQTT ones included', async () => {
  await withWs('ws', { websocket: { supported_subprotocols: ['mqttv5', 'x-custom'] } }, async (port, acc, ls) => {
    const url = `ws://127.0.0.1:${port}/mqtt`;
    const custom = await open(url, ['mqtt', 'x-custom']);
    assert.ok(custom instanceof WebSocket);
    assert.equal(custom.protocol, 'x-custom', 'the first offered that the listener supports');
    const v5 = await open(url, 'mqttv5');
    assert.equal((v5 as WebSocket).protocol, 'mqttv5');
    assert.equal(await open(url, 'mqtt'), 400);
    assert.equal(await open(url, ['mqttv3.1', 'chat']), 400);
    const none = await open(url);
    assert.ok(none instanceof WebSocket, 'no subprotocol offered: accepted (fail_if_no_subprotocol defaults to false)');
    await acc.count(3);
    assert.deepEqual(acc.conns.map((c) => c.info.subprotocol), ['x-custom', 'mqttv5', '']);
    assert.equal(status(ls, 'ws:default').handshakeErrors, 2);
    custom.terminate();
    (v5 as WebSocket).terminate();
    none.terminate();
  });
});

test('ws: websocket.fail_if_no_subprotocol refuses a client that offers none', async () => {
  await withWs('ws', { websocket: { fail_if_no_subprotocol: true } }, async (port, acc, ls) => {
    const url = `ws://127.0.0.1:${port}/mqtt`;
    assert.equal(await open(url), 400);
    assert.equal(status(ls, 'ws:default').handshakeErrors, 1);
    const ok = await open(url, 'mqtt');
    assert.ok(ok instanceof WebSocket);
    ok.terminate();
    assert.equal(acc.conns.length, 1);
  });
});

test('wss: supported_subprotocols is per listener on secure WebSocket too', async () => {
  await withWs('wss', { websocket: { supported_subprotocols: ['x-only'], fail_if_no_subprotocol: true } }, async (port) => {
    const url = `wss://localhost:${port}/mqtt`;
    const opts = { ca: tlsRead('ca.crt') };
    const ok = await open(url, 'x-only', opts);
    assert.equal((ok as WebSocket).protocol, 'x-only');
    (ok as WebSocket).terminate();
    assert.equal(await open(url, 'mqtt', opts), 400);
    assert.equal(await open(url, undefined, opts), 400);
  });
});
