/**
 * 17 — listeners are independently restartable through the REST API
 * (`PUT /api/v5/listeners/{id}/{stop|start|restart}`), the drain endpoint sends v5 clients
 * DISCONNECT 0x9C and flips /status to 503, and the unsupported-version CONNECT gets the v3 answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, rawSocket, until, sleep } from '../support/broker.js';

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
