/**
 * 17 — listeners are independently restartable through the REST API
 * (`PUT /api/v5/listeners/{id}/{stop|start|restart}`), the drain endpoint sends v5 clients
 * DISCONNECT 0x9C and flips /status to 503, and the unsupported-version CONNECT gets the v3 answer.
 * `PUT /api/v5/listeners/{id}` changes a listener's config by restarting it: max_connections
 * holds at once, a new bind moves it, a bad body is 400 naming the field and changes nothing, a
 * taken port is 409 and the listener keeps serving where it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { startBroker, client, rawSocket, until, sleep, end } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';

test('stop and start one listener while the other keeps serving', async () => {
  const b = await startBroker();
  try {
    const api = `http://127.0.0.1:${b.apiPort}/api/v5`;
    const list = await (await fetch(`${api}/listeners`)).json() as Array<{ id: string; running: boolean }>;
    assert.deepEqual(list.map((l) => [l.id, l.running]).sort(), [['ssl:default', false], ['tcp:default', true], ['ws:default', true], ['wss:default', false]]);
    assert.equal((await fetch(`${api}/listeners/tcp:default/stop`, { method: 'PUT' })).status, 204);
    await assert.rejects(client(b.port), /ECONNREFUSED/);
    const ws = await client(b.wsPort, { protocol: 'ws', path: '/mqtt' } as never);
    ws.end(true);
    assert.equal((await fetch(`${api}/listeners/tcp:default/start`, { method: 'PUT' })).status, 204);
    const c = await client(b.port);
    c.end(true);
    assert.equal((await fetch(`${api}/listeners/tcp:nope/start`, { method: 'PUT' })).status, 404);
  } finally { await b.stop(); }
});

test('drain: v5 clients get DISCONNECT 0x9C with the server reference; /status turns 503', async () => {
  const b = await startBroker();
  try {
    const c = await client(b, { protocolVersion: 5 });
    let reason = -1; let ref: string | undefined;
    c.on('disconnect', (p) => { reason = p.reasonCode ?? -1; ref = p.properties?.serverReference; });
    const r = await fetch(`http://127.0.0.1:${b.apiPort}/api/v5/node/drain`, { method: 'POST', body: JSON.stringify({ server_reference: 'mqtt-b.example.com' }) });
    assert.equal(r.status, 200);
    await until(() => reason !== -1, 3000, 'DISCONNECT');
    assert.equal(reason, 0x9c);
    assert.equal(ref, 'mqtt-b.example.com');
    assert.equal((await fetch(`http://127.0.0.1:${b.apiPort}/status`)).status, 503);
    await assert.rejects(client(b.port), /ECONNREFUSED/);
  } finally { await b.stop(); }
});

test('CONNECT with an unknown protocol level gets CONNACK 0x01 and is closed', async () => {
  const b = await startBroker();
  try {
    const s = await rawSocket(b.port);
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    const closed = new Promise((r) => s.once('close', r));
    // CONNECT, protocol "MQTT" level 9, clean, keepalive 10, client id "x"
    s.write(Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 9, 0x02, 0, 10, 0, 1, 0x78]));
    await Promise.race([closed, sleep(3000)]);
    assert.deepEqual([...Buffer.concat(chunks)], [0x20, 0x02, 0x00, 0x01]);
  } finally { await b.stop(); }
});

test('PUT /api/v5/listeners/{id}: new config applied by a restart; 400 for a bad one, 404 unknown, 409 when it cannot bind', async () => {
  const b = await startBroker();
  const taken = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => taken.once('listening', r));
  try {
    const api = `http://127.0.0.1:${b.apiPort}/api/v5`;
    const put = (id: string, body: unknown) => fetch(`${api}/listeners/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const row = async (id: string) => ((await (await fetch(`${api}/listeners`)).json()) as Array<Record<string, unknown>>).find((l) => l.id === id)!;

    const before = await client(b.port);
    const r = await put('tcp:default', { max_connections: 3, max_conn_rate: '1000/s' });
    assert.equal(r.status, 200, await r.clone().text());
    const got = await r.json() as Record<string, unknown>;
    assert.deepEqual([got.id, got.running, got.maxConnections, got.port], ['tcp:default', true, 3, b.port], 'same port (bind port 0 is kept)');
    assert.equal((await row('tcp:default')).maxConnections, 3);
    await before.publishAsync('still/here', 'x', { qos: 1 });
    assert.ok(before.connected, 'a client connected before the restart keeps its connection');
    const [c1, c2] = [await client(b.port), await client(b.port)];
    const third = await rawClient(b.port, 5);
    third.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'third' });
    await third.waitClosed(2000);
    assert.equal(third.packets.length, 0, 'a third connection is closed without a CONNACK');
    await end(before, c1, c2);

    const bad = await put('tcp:default', { max_connections: 0, tcp_options: { high_watermark: 'lots' } });
    assert.equal(bad.status, 400);
    const err = await bad.json() as { code: string; message: string };
    assert.equal(err.code, 'BAD_REQUEST');
    assert.match(err.message, /body\.max_connections/);
    assert.match(err.message, /body\.tcp_options\.high_watermark/);
    assert.equal((await put('tcp:default', { max_connectoins: 5 })).status, 400, 'unknown keys are refused');
    assert.equal((await put('tcp:default', { authentication: [] })).status, 400, 'authentication is read at start only');
    assert.equal((await row('tcp:default')).maxConnections, 3, 'a refused body changes nothing');
    assert.equal((await put('tcp:nope', { max_connections: 5 })).status, 404);

    const busy = (taken.address() as AddressInfo).port;
    const conflict = await put('tcp:default', { bind: `127.0.0.1:${busy}` });
    assert.equal(conflict.status, 409);
    assert.equal((await conflict.json() as { code: string }).code, 'LISTENER_ERROR');
    const after = await row('tcp:default');
    assert.deepEqual([after.bind, after.running, after.port], ['127.0.0.1:0', true, b.port], 'back on its old address');
    await end(await client(b.port));

    const moved = await put('tcp:default', { bind: '127.0.0.1:0', max_connections: 'infinity' });
    assert.equal(moved.status, 200);
    assert.equal((await moved.json() as Record<string, unknown>).maxConnections, 'infinity');
    const off = await put('ws:default', { enable: false });
    assert.equal(off.status, 200);
    assert.equal((await off.json() as Record<string, unknown>).running, false, 'enable: false leaves it stopped');
    await assert.rejects(client(b.wsPort, { protocol: 'ws', path: '/mqtt' } as never), /ECONNREFUSED/);
  } finally {
    taken.close();
    await b.stop();
  }
});
