/**
 * 10 — MQTT 5 enhanced authentication (AUTH packets) through the `client.authenticate`
 * hook: a two-step challenge/response at CONNECT, re-authentication on a live connection,
 * a wrong answer refused, an unknown method refused with 0x8C, and password checks for
 * v3.1.1 clients (CONNACK return code 4/5).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { startBroker, rawSocket, client, type TestBroker } from '../support/broker.js';
import mqttPacket from 'mqtt-packet';
import type { Pkt as Packet } from '../support/raw-client.js';
import type { AuthRequest, AuthResult } from '../../broker/src/hooks.js';

/** A toy challenge/response: the server sends a nonce, the client must answer "nonce:secret". */
function installAuth(b: TestBroker): void {
  b.node.broker.hooks.add('client.authenticate', (req: AuthRequest): AuthResult | undefined => {
    if (req.method === null) {
      if (req.client.username === 'alice') return req.password?.toString() === 'wonderland' ? { result: 'allow' } : { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' };
      return { result: 'deny', reason: 'NOT_AUTHORIZED' };
    }
    if (req.method !== 'NONCE-1') return undefined; // not ours: the broker answers 0x8C
    if (req.phase === 'connect' || req.phase === 'reauth') {
      const nonce = `n${Math.floor(Math.random() * 1e6)}`;
      req.state.nonce = nonce;
      return { result: 'continue', data: Buffer.from(nonce) };
    }
    const ok = req.data?.toString() === `${req.state.nonce}:s3cret`;
    return ok ? { result: 'allow', data: Buffer.from('welcome') } : { result: 'deny', reason: 'NOT_AUTHORIZED' };
  });
}

/** A raw v5 client that yields parsed packets one by one. */
async function raw(port: number): Promise<{ s: Socket; next: () => Promise<Packet>; send: (p: object) => void; closed: Promise<void> }> {
  const s = await rawSocket(port);
  const queue: Packet[] = [];
  const waiters: Array<(p: Packet) => void> = [];
  // mqtt-packet, not the broker's own codec: the wire format is checked by an independent parser.
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  parser.on('packet', (p: Packet) => { const w = waiters.shift(); if (w) w(p); else queue.push(p); });
  parser.on('error', () => { s.destroy(); });
  s.on('data', (d) => parser.parse(d));
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  return {
    s, closed,
    send: (p) => s.write(mqttPacket.generate(p as never, { protocolVersion: 5 })),
    next: () => new Promise((resolve, reject) => {
      const q = queue.shift();
      if (q) return resolve(q);
      const t = setTimeout(() => reject(new Error('no packet within 3 s')), 3000);
      waiters.push((p) => { clearTimeout(t); resolve(p); });
    }),
  };
}

const connect = (method: string, data: string) => ({
  cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'enh-1', keepalive: 30,
  properties: { authenticationMethod: method, authenticationData: Buffer.from(data) },
});

test('challenge/response at CONNECT, then re-authentication', async () => {
  const b = await startBroker();
  installAuth(b);
  try {
    const c = await raw(b.port);
    c.send(connect('NONCE-1', 'hello'));
    const challenge = await c.next() as Packet & { reasonCode: number; properties: { authenticationData: Buffer } };
    assert.equal(challenge.cmd, 'auth');
    assert.equal(challenge.reasonCode, 0x18);
    const nonce = challenge.properties.authenticationData.toString();
    c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'NONCE-1', authenticationData: Buffer.from(`${nonce}:s3cret`) } });
    const connack = await c.next() as Packet & { reasonCode: number; properties: { authenticationMethod: string; authenticationData: Buffer } };
    assert.equal(connack.cmd, 'connack');
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties.authenticationMethod, 'NONCE-1');
    assert.equal(connack.properties.authenticationData.toString(), 'welcome');
    // re-authentication on the live connection
    c.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'NONCE-1' } });
    const ch2 = await c.next() as Packet & { reasonCode: number; properties: { authenticationData: Buffer } };
    assert.equal(ch2.reasonCode, 0x18);
    c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'NONCE-1', authenticationData: Buffer.from(`${ch2.properties.authenticationData}:s3cret`) } });
    const done = await c.next() as Packet & { reasonCode: number };
    assert.equal(done.cmd, 'auth');
    assert.equal(done.reasonCode, 0);
    // a failed re-authentication disconnects [MQTT-4.12.1-2]
    c.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'NONCE-1' } });
    await c.next();
    c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'NONCE-1', authenticationData: Buffer.from('wrong') } });
    const disc = await c.next() as Packet & { reasonCode: number };
    assert.equal(disc.cmd, 'disconnect');
    assert.equal(disc.reasonCode, 0x87);
    await c.closed;
  } finally { await b.stop(); }
});

test('wrong response → CONNACK 0x87; unknown method → CONNACK 0x8C', async () => {
  const b = await startBroker();
  installAuth(b);
  try {
    const c = await raw(b.port);
    c.send(connect('NONCE-1', 'hello'));
    await c.next();
    c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'NONCE-1', authenticationData: Buffer.from('guess') } });
    const ack = await c.next() as Packet & { reasonCode: number };
    assert.equal(ack.cmd, 'connack');
    assert.equal(ack.reasonCode, 0x87);
    await c.closed;
    const d = await raw(b.port);
    d.send(connect('KERBEROS', 'x'));
    const ack2 = await d.next() as Packet & { reasonCode: number };
    assert.equal(ack2.reasonCode, 0x8c);
    await d.closed;
  } finally { await b.stop(); }
});

test('v3.1.1 username/password through the same hook: return codes 4 and 5', async () => {
  const b = await startBroker();
  installAuth(b);
  try {
    const ok = await client(b, { username: 'alice', password: 'wonderland' });
    ok.end(true);
    await assert.rejects(client(b, { username: 'alice', password: 'nope' }), (e: Error & { code?: number }) => e.code === 4);
    await assert.rejects(client(b, { username: 'bob', password: 'x' }), (e: Error & { code?: number }) => e.code === 5);
  } finally { await b.stop(); }
});
