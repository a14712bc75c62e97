/**
 * 58 — MQTT over QUIC (`listeners.quic.<name>`): a QUIC client on @matrixai/quic speaking MQTT
 * on one bidirectional stream (EMQX's single-stream mode), beside MQTT.js clients over TCP.
 *
 * v3 vs v5: the channel above the stream is the TCP one; v4 is the default here, v5 is checked
 * once (CONNACK properties arrive over QUIC).
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { startBroker, client, collect, until, end, sleep, repoRoot, type TestBroker } from '../support/broker.js';
import mqttPacket from 'mqtt-packet';
import { api, getJson } from '../support/api.js';
import { QuicMqttClient, udpRelay, type QuicMqttOptions } from '../support/quic-client.js';

const tls = (f: string): string => join(repoRoot(), 'test', 'fixtures', 'tls', f);
const ssl = { certfile: tls('server.crt'), keyfile: tls('server.key'), cacertfile: tls('ca.crt') };

let b: TestBroker;
let quicPort: number;
const opts = (o: Partial<QuicMqttOptions> = {}): QuicMqttOptions => ({ port: quicPort, ca: tls('ca.crt'), ...o });
const open: QuicMqttClient[] = [];
async function quicClient(clientId: string, o: Partial<QuicMqttOptions> = {}, fields: Record<string, unknown> = {}): Promise<QuicMqttClient> {
  const c = await QuicMqttClient.connect(opts(o));
  open.push(c);
  const ack = await c.mqttConnect({ clientId, ...fields });
  assert.equal((ack as { returnCode?: number }).returnCode, 0, `CONNACK for ${clientId}`);
  return c;
}

interface ListenerRow { id: string; transport: string; running: boolean; currentConnections: number; accepted: number; handshakeErrors: number; port: number }
interface ClientRow { clientid: string; listener?: string; ip_address?: string; port?: number; connected: boolean }

before(async () => {
  b = await startBroker({
    listeners: { quic: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: ssl, idle_timeout: '3s' } } },
  });
  quicPort = b.node.port('quic:default');
});
after(async () => {
  await Promise.all(open.map((c) => c.abort(0)));
  await b.stop();
});

describe('MQTT over QUIC', () => {
  it('CONNECT/CONNACK over the first stream; the client shows in the API on listener quic:default', async () => {
    const c = await quicClient('quic-api');
    const rows = await getJson<{ data: ClientRow[] }>(b, '/api/v5/clients?clientid=quic-api');
    const row = rows.data.find((r) => r.clientid === 'quic-api');
    assert.ok(row, 'client listed');
    assert.equal(row.listener, 'quic:default');
    assert.equal(row.ip_address, '127.0.0.1');
    const listeners = await getJson<ListenerRow[]>(b, '/api/v5/listeners');
    const q = listeners.find((l) => l.id === 'quic:default');
    assert.ok(q, 'quic listener listed');
    assert.equal(q.transport, 'quic');
    assert.equal(q.running, true);
    assert.equal(q.port, quicPort);
    assert.ok(q.currentConnections >= 1);
    await c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
    await c.send({ cmd: 'disconnect' });
    await c.ended();
  });

  it('v5 CONNACK with properties over QUIC', async () => {
    const c = await QuicMqttClient.connect(opts(), 5);
    open.push(c);
    const ack = await c.mqttConnect({ clientId: 'quic-v5', protocolVersion: 5, properties: { sessionExpiryInterval: 0 } }) as { reasonCode?: number; properties?: Record<string, unknown> };
    assert.equal(ack.reasonCode, 0);
    assert.ok(ack.properties && typeof ack.properties['maximumPacketSize'] === 'number', 'v5 properties present');
    await c.close();
  });

  it('a QUIC subscriber receives what MQTT.js publishes over TCP, and the other way (QoS 0, 1, 2)', async () => {
    const q = await quicClient('quic-sub');
    await q.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q/down/#', qos: 2 }] });
    const suback = await q.next('suback') as { granted: number[] };
    assert.deepEqual(suback.granted, [2]);
    const tcp = await client(b);
    const got = collect(tcp);
    await tcp.subscribeAsync('q/up/#', { qos: 2 });

    await tcp.publishAsync('q/down/0', 'zero', { qos: 0 });
    assert.equal(String((await q.next('publish')).payload), 'zero');

    await tcp.publishAsync('q/down/1', 'one', { qos: 1 });
    const p1 = await q.next('publish') as { qos: number; messageId: number; payload: Buffer };
    assert.equal(p1.qos, 1);
    assert.equal(String(p1.payload), 'one');
    await q.send({ cmd: 'puback', messageId: p1.messageId });

    await tcp.publishAsync('q/down/2', Buffer.alloc(200_000, 7), { qos: 2 });
    const p2 = await q.next('publish') as { qos: number; messageId: number; payload: Buffer };
    assert.equal(p2.qos, 2);
    assert.equal(p2.payload.length, 200_000);
    await q.send({ cmd: 'pubrec', messageId: p2.messageId });
    await q.next('pubrel');
    await q.send({ cmd: 'pubcomp', messageId: p2.messageId });

    await q.send({ cmd: 'publish', topic: 'q/up/1', payload: Buffer.from('from quic 1'), qos: 1, messageId: 10, retain: false, dup: false });
    assert.equal((await q.next('puback') as { messageId: number }).messageId, 10);
    await q.send({ cmd: 'publish', topic: 'q/up/2', payload: Buffer.from('from quic 2'), qos: 2, messageId: 11, retain: false, dup: false });
    await q.next('pubrec');
    await q.send({ cmd: 'pubrel', messageId: 11 });
    await q.next('pubcomp');
    await until(() => got.length === 2, 5000, 'TCP subscriber got both');
    assert.deepEqual(got.map((m) => [m.topic, m.payload, m.packet.qos]), [['q/up/1', 'from quic 1', 1], ['q/up/2', 'from quic 2', 2]]);
    await end(tcp);
    await q.close();
  });

  it('an abrupt QUIC close (CONNECTION_CLOSE with an error, no DISCONNECT) publishes the will', async () => {
    const tcp = await client(b);
    const got = collect(tcp);
    await tcp.subscribeAsync('q/will', { qos: 1 });
    const q = await quicClient('quic-will', {}, { will: { topic: 'q/will', payload: Buffer.from('gone'), qos: 1, retain: false } });
    await q.abort(7);
    await until(() => got.length === 1, 5000, 'will delivered');
    assert.equal(got[0]!.payload, 'gone');
    await end(tcp);
  });

  it('a client that vanishes (no packets at all) is closed by idle_timeout and its will published', async () => {
    const tcp = await client(b);
    const got = collect(tcp);
    await tcp.subscribeAsync('q/vanish', { qos: 1 });
    const relay = await udpRelay(quicPort);
    try {
      const q = await quicClient('quic-vanish', { port: relay.port }, { will: { topic: 'q/vanish', payload: Buffer.from('timed out'), qos: 1, retain: false } });
      relay.blackhole(true);
      const t0 = Date.now();
      await until(() => got.length === 1, 10_000, 'will after idle timeout');
      const waited = Date.now() - t0;
      assert.ok(waited >= 2000 && waited < 9000, `closed after ${waited} ms (idle_timeout 3s)`);
      void q;
    } finally {
      relay.close();
      await end(tcp);
    }
  });

  it('a client whose address changes (NAT rebinding) keeps its connection and session', async () => {
    const tcp = await client(b);
    const got = collect(tcp);
    await tcp.subscribeAsync('q/mig/up', { qos: 1 });
    const relay = await udpRelay(quicPort);
    try {
      const q = await quicClient('quic-mig', { port: relay.port });
      await q.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q/mig/down', qos: 1 }] });
      await q.next('suback');
      const before = relay.upstreamPort();
      await relay.rebind();
      assert.notEqual(relay.upstreamPort(), before);
      await q.send({ cmd: 'publish', topic: 'q/mig/up', payload: Buffer.from('after move'), qos: 1, messageId: 2, retain: false, dup: false });
      await q.next('puback');
      await tcp.publishAsync('q/mig/down', 'to new address', { qos: 1 });
      const p = await q.next('publish') as { payload: Buffer; messageId: number };
      assert.equal(String(p.payload), 'to new address');
      await q.send({ cmd: 'puback', messageId: p.messageId });
      await until(() => got.length === 1, 5000, 'publish after the move');
      const rows = await getJson<{ data: ClientRow[] }>(b, '/api/v5/clients?clientid=quic-mig');
      assert.equal(rows.data.filter((r) => r.clientid === 'quic-mig' && r.connected).length, 1, 'still one connection');
      await q.close();
    } finally {
      relay.close();
      await end(tcp);
    }
  });

  it('a client offering another ALPN is refused in the handshake and counted', async () => {
    const before = (await getJson<ListenerRow[]>(b, '/api/v5/listeners')).find((l) => l.id === 'quic:default')!.handshakeErrors;
    await assert.rejects(QuicMqttClient.connect(opts({ alpn: 'h3' })));
    await until(async () => (await getJson<ListenerRow[]>(b, '/api/v5/listeners')).find((l) => l.id === 'quic:default')!.handshakeErrors > before, 5000, 'handshake error counted');
  });

  it('garbage datagrams to the QUIC port do not harm connected clients or new ones', async () => {
    const q = await quicClient('quic-garbage-victim');
    const u = createSocket('udp4');
    const shapes = [Buffer.alloc(0), Buffer.from([0xc0]), Buffer.alloc(1200, 0xff), Buffer.from('GET / HTTP/1.1\r\n\r\n')];
    for (let i = 0; i < 300; i++) {
      const buf = i < shapes.length ? shapes[i]! : Buffer.from(Array.from({ length: 1 + (i * 37) % 1400 }, (_, k) => (k * 131 + i) & 0xff));
      u.send(buf, quicPort, '127.0.0.1');
    }
    // Forged packets carrying the live connection's id: long headers (as if Initial) and short
    // headers with random ciphertext. quiche must drop them without touching the connection.
    const dcid = Buffer.from(q.quic.connection.connectionIdPeer);
    for (let i = 0; i < 400; i++) {
      const noise = Buffer.from(Array.from({ length: 1 + (i * 53) % 1200 }, (_, k) => (k * 29 + i * 7) & 0xff));
      const pkt = i % 2 === 0
        ? Buffer.concat([Buffer.from([0xc0 | (i & 0x3f), 0, 0, 0, 1, dcid.length]), dcid, Buffer.from([0]), noise])
        : Buffer.concat([Buffer.from([0x40 | (i & 0x3f)]), dcid, noise]);
      u.send(pkt, quicPort, '127.0.0.1');
      if (i % 100 === 99) await sleep(5);
    }
    await sleep(300);
    u.close();
    await q.send({ cmd: 'pingreq' });
    await q.next('pingresp');
    const fresh = await quicClient('quic-garbage-new');
    await fresh.close();
    await q.close();
  });

  it('garbage bytes on the MQTT stream close that connection only', async () => {
    const other = await quicClient('quic-bystander');
    const bad = await QuicMqttClient.connect(opts());
    open.push(bad);
    await bad.sendRaw(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
    await bad.ended();
    await other.send({ cmd: 'pingreq' });
    await other.next('pingresp');
    await other.close();
  });

  it('a second bidirectional stream is refused; the MQTT stream carries on', async () => {
    const q = await quicClient('quic-two-streams');
    const extra = q.quic.connection.newStream('bidi');
    const w = extra.writable.getWriter();
    await w.write(Buffer.from([0x10, 0x00])).catch(() => {});
    const r = extra.readable.getReader();
    await assert.rejects(r.read(), 'extra stream reset');
    await q.send({ cmd: 'pingreq' });
    await q.next('pingresp');
    await q.close();
  });
});

describe('MQTT over QUIC listener through the API', () => {
  it('PUT /api/v5/listeners/quic:default/restart closes its clients (will published) and serves again on the same port', async () => {
    const tcp = await client(b);
    const got = collect(tcp);
    await tcp.subscribeAsync('q/restart', { qos: 1 });
    const q = await quicClient('quic-restart', {}, { will: { topic: 'q/restart', payload: Buffer.from('listener restarted'), qos: 1, retain: false } });
    const r = await api(b, '/api/v5/listeners/quic:default/restart', { method: 'PUT' });
    assert.ok(r.status === 200 || r.status === 204, `HTTP ${r.status}`);
    await r.body?.cancel();
    await q.ended();
    await until(() => got.length === 1, 5000, 'will after restart');
    assert.equal(b.node.port('quic:default'), quicPort);
    const again = await quicClient('quic-after-restart');
    await again.close();
    await end(tcp);
  });
});

describe('MQTT over QUIC figures (printed as diagnostics)', () => {
  it('handshake and CONNECT→CONNACK times (median of 15) beside MQTT.js over TCP', async (t) => {
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const hs: number[] = [];
    const toAck: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.now();
      const c = await QuicMqttClient.connect(opts());
      hs.push(performance.now() - t0);
      await c.mqttConnect({ clientId: `fig-${i}` });
      toAck.push(performance.now() - t0);
      await c.close();
    }
    const tcp: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.now();
      const c = await client(b, { clientId: `fig-tcp-${i}` });
      tcp.push(performance.now() - t0);
      await end(c);
    }
    t.diagnostic(`QUIC handshake median ${median(hs).toFixed(1)} ms; QUIC to CONNACK median ${median(toAck).toFixed(1)} ms; TCP to CONNACK median ${median(tcp).toFixed(1)} ms`);
    assert.equal(hs.length, 15);
  });

  it('QoS 0 msg/s from a QUIC publisher to a TCP subscriber', async (t) => {
    const sub = await client(b, { clientId: 'fig-sub' });
    let n = 0;
    sub.on('message', () => { n++; });
    await sub.subscribeAsync('fig/q0', { qos: 0 });
    const q = await quicClient('fig-pub');
    const total = 20_000;
    const one = mqttPacket.generate({ cmd: 'publish', topic: 'fig/q0', payload: Buffer.alloc(64, 1), qos: 0, retain: false, dup: false });
    const batch = Buffer.concat(Array.from({ length: 100 }, () => one));
    const t0 = performance.now();
    for (let i = 0; i < total / 100; i++) await q.sendRaw(batch);
    await until(() => n >= total, 60_000, `${total} messages (got ${n})`);
    const secs = (performance.now() - t0) / 1000;
    t.diagnostic(`QoS 0, 64-byte payloads, QUIC → TCP: ${Math.round(total / secs)} msg/s (${total} in ${secs.toFixed(2)} s)`);
    await end(sub);
    await q.close();
  });
});

describe('MQTT over QUIC with verify_peer', () => {
  let m: TestBroker;
  let port: number;
  before(async () => {
    m = await startBroker({
      listeners: { quic: { default: { enable: true, bind: '127.0.0.1:0', ssl_options: { ...ssl, verify: 'verify_peer', fail_if_no_peer_cert: true } } } },
      mqtt: { peer_cert_as_clientid: 'cn' },
    });
    port = m.node.port('quic:default');
  });
  after(async () => { await m.stop(); });

  it('a client certificate from the CA is accepted and its CN becomes the client id', async () => {
    const c = await QuicMqttClient.connect({ port, ca: tls('ca.crt'), cert: tls('client.crt'), key: tls('client.key') });
    const ack = await c.mqttConnect({ clientId: 'ignored' }) as { returnCode: number };
    assert.equal(ack.returnCode, 0);
    const rows = await getJson<{ data: ClientRow[] }>(m, '/api/v5/clients');
    assert.ok(rows.data.some((r) => r.clientid === 'device-1' && r.listener === 'quic:default'), JSON.stringify(rows.data));
    await c.close();
  });

  it('a client without a certificate is refused', async () => {
    const attempt = async () => {
      const c = await QuicMqttClient.connect({ port, ca: tls('ca.crt') });
      try { await c.mqttConnect({ clientId: 'no-cert' }); } finally { await c.abort(0); }
    };
    await assert.rejects(attempt());
  });

  it('a certificate from another CA is refused', async () => {
    const attempt = async () => {
      const c = await QuicMqttClient.connect({ port, ca: tls('ca.crt'), cert: tls('rogue-client.crt'), key: tls('rogue-client.key') });
      try { await c.mqttConnect({ clientId: 'rogue' }); } finally { await c.abort(0); }
    };
    await assert.rejects(attempt());
  });
});
