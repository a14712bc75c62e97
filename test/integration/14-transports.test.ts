/**
 * 14 — transports with MQTT.js: WebSocket (ws://127.0.0.1:PORT/mqtt), TLS, mutual TLS and
 * secure WebSocket, each talking to clients on the other transports through one broker.
 *
 * v3 vs v5: identical over every transport; both are exercised over WebSocket.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { startBroker, client, collect, until, end, repoRoot, type TestBroker } from '../support/broker.js';

const tls = (f: string): string => join(repoRoot(), 'test', 'fixtures', 'tls', f);
const read = (f: string): Buffer => readFileSync(tls(f));

let b: TestBroker;
let mtls: TestBroker;
before(async () => {
  const ssl = { certfile: tls('server.crt'), keyfile: tls('server.key'), cacertfile: tls('ca.crt') };
  b = await startBroker({
    listeners: {
      ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: ssl } },
      wss: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: ssl } },
    },
  });
  mtls = await startBroker({
    listeners: { ssl: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: { ...ssl, verify: 'verify_peer', fail_if_no_peer_cert: true } } } },
  });
});
after(async () => { await Promise.all([b.stop(), mtls.stop()]); });

function connectUrl(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => { c.end(true); reject(e); });
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

const cases: Array<[string, () => Promise<void>]> = [];
const test = (name: string, fn: () => Promise<void>): void => { cases.push([name, fn]); };

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: WebSocket client and TCP client exchange messages both ways`, async () => {
    const ws = await connectUrl(`ws://127.0.0.1:${b.wsPort}/mqtt`, { protocolVersion });
    const tcp = await client(b, { protocolVersion });
    const gotWs = collect(ws);
    const gotTcp = collect(tcp);
    await ws.subscribeAsync(`v${protocolVersion}/ws/to-ws`, { qos: 2 });
    await tcp.subscribeAsync(`v${protocolVersion}/ws/to-tcp`, { qos: 2 });
    await tcp.publishAsync(`v${protocolVersion}/ws/to-ws`, Buffer.alloc(70000, 1), { qos: 2 });
    await ws.publishAsync(`v${protocolVersion}/ws/to-tcp`, 'hi tcp', { qos: 1 });
    await until(() => gotWs.length === 1 && gotTcp.length === 1);
    assert.equal(gotWs[0].packet.payload.length, 70000);
    assert.equal(gotTcp[0].payload, 'hi tcp');
    await end(ws, tcp);
  });
}

/** What Node's TLS says when the server's chain does not lead to a trusted CA. */
const CERT_ERROR = /self[- ]signed certificate|unable to (get local issuer|verify)/i;

/** The outcome of a WebSocket upgrade: the HTTP status of a refusal, 'open', or the error message. */
function upgrade(url: string, protocol: string): Promise<number | string> {
  return new Promise((ok) => {
    const s = new WebSocket(url, protocol);
    s.on('unexpected-response', (_req, res) => { ok(res.statusCode ?? 0); s.terminate(); });
    s.on('open', () => { ok('open'); s.close(); });
    s.on('error', (e) => ok(`error: ${e.message}`));
  });
}

test('WebSocket on a path other than /mqtt is refused with HTTP 404; /mqtt upgrades', async () => {
  assert.equal(await upgrade(`ws://127.0.0.1:${b.wsPort}/other`, 'mqtt'), 404);
  assert.equal(await upgrade(`ws://127.0.0.1:${b.wsPort}/mqtt`, 'mqtt'), 'open');
});

test('WebSocket subprotocol mqttv3.1 is accepted (MQTT 3.1 client)', async () => {
  const proto = await new Promise<string>((ok, bad) => {
    const s = new WebSocket(`ws://127.0.0.1:${b.wsPort}/mqtt`, 'mqttv3.1');
    s.on('open', () => { ok(s.protocol); s.close(); });
    s.on('error', bad);
  });
  assert.equal(proto, 'mqttv3.1');
});

test('TLS (mqtts) client verified against the test CA talks to a TCP client', async () => {
  const port = b.node.port('ssl:default');
  const s = await connectUrl(`mqtts://127.0.0.1:${port}`, { protocolVersion: 5, ca: read('ca.crt'), servername: 'localhost' });
  const tcp = await client(b, { protocolVersion: 5 });
  const got = collect(s);
  await s.subscribeAsync('v5/tls', { qos: 1 });
  await tcp.publishAsync('v5/tls', 'secret', { qos: 1 });
  await until(() => got.length === 1);
  assert.equal(got[0].payload, 'secret');
  await end(s, tcp);
});

test('secure WebSocket (wss) client verified against the test CA exchanges messages with a TCP client', async () => {
  const port = b.node.port('wss:default');
  const s = await connectUrl(`wss://127.0.0.1:${port}/mqtt`, { protocolVersion: 4, ca: read('ca.crt'), servername: 'localhost' } as IClientOptions);
  const tcp = await client(b, { protocolVersion: 5 });
  const got = collect(s);
  const gotTcp = collect(tcp);
  await s.subscribeAsync('v4/wss/to-wss', { qos: 1 });
  await tcp.subscribeAsync('v4/wss/to-tcp', { qos: 1 });
  await tcp.publishAsync('v4/wss/to-wss', 'over tls', { qos: 1 });
  await s.publishAsync('v4/wss/to-tcp', 'back', { qos: 1 });
  await until(() => got.length === 1 && gotTcp.length === 1, 3000, 'one message each way');
  assert.deepEqual([got[0].topic, got[0].payload, got[0].packet.qos], ['v4/wss/to-wss', 'over tls', 1]);
  assert.deepEqual([gotTcp[0].topic, gotTcp[0].payload], ['v4/wss/to-tcp', 'back']);
  await end(s, tcp);
  // The same URL without the test CA fails certificate verification: the round trip above was TLS.
  await assert.rejects(connectUrl(`wss://127.0.0.1:${port}/mqtt`, { protocolVersion: 4, servername: 'localhost' } as IClientOptions), CERT_ERROR);
});

test('mutual TLS: client certificate from the CA accepted; none or a rogue one refused', async () => {
  const port = mtls.node.port('ssl:default');
  const good = await connectUrl(`mqtts://127.0.0.1:${port}`, { ca: read('ca.crt'), cert: read('client.crt'), key: read('client.key'), servername: 'localhost' });
  await end(good);
  await assert.rejects(connectUrl(`mqtts://127.0.0.1:${port}`, { ca: read('ca.crt'), servername: 'localhost' }), /alert certificate required|alert handshake failure/);
  // TLS 1.3: the client's handshake is done before the server checks its certificate, so
  // the refusal shows as an alert or as the connection closing with no CONNACK.
  await assert.rejects(connectUrl(`mqtts://127.0.0.1:${port}`, { ca: read('ca.crt'), cert: read('rogue-client.crt'), key: read('rogue-client.key'), servername: 'localhost' }),
    /alert unknown ca|alert bad certificate|closed before CONNACK/);
});

describe('14 transports', { concurrency: true }, () => { for (const [n, f] of cases) it(n, f); });
