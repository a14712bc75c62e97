/**
 * The CoAP gateway in connectionless mode (EMQX's default), over real UDP: libcoap's
 * coap-client (Debian libcoap3-bin) and the spec-built client of test/support/coap-client.ts
 * on one side, MQTT.js and the REST API on the other. Publish (short query names, QoS,
 * retain, Block1), Observe (NON and CON notifications, ACK, retransmission, Reset, Block2),
 * ACLs, rules, malformed datagrams and a flood, and a throughput figure.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { getJson, clientInfo, clientSubscriptions } from '../support/api.js';
import { RawCoap, coapClient, optionValue } from '../support/coap-client.js';

const dir = mkdtempSync(join(tmpdir(), 'petrel-coap-'));
writeFileSync(join(dir, 'acl.conf'), '{deny, all, publish, ["denied/#"]}.\n{deny, all, subscribe, ["secret/#"]}.\n{allow, all, all, ["#"]}.\n');
let b: TestBroker;
let port: number;
let url: string;
const raws: RawCoap[] = [];
const raw = async (): Promise<RawCoap> => { const c = await RawCoap.open(port); raws.push(c); return c; };
const gw = (): Promise<{ status: string; metrics: Record<string, number> }> => getJson(b, '/api/v5/gateways/coap');

before(async () => {
  b = await startBroker({
    authorization: { sources: [{ type: 'file', enable: true, path: join(dir, 'acl.conf') }], no_match: 'allow' },
    rule_engine: {
      rules: {
        coap_events: { sql: 'SELECT clientid, proto_name FROM "$events/client_connected"', actions: [{ function: 'republish', args: { topic: 'ev/${clientid}', payload: '${proto_name}' } }] },
        coap_hot: { sql: 'SELECT payload.t as t, clientid FROM "rule/#" WHERE payload.t > 30', actions: [{ function: 'republish', args: { topic: 'alert/hot', payload: '${clientid} ${t}' } }] },
      },
    },
    gateway: { coap: { blockwise: { max_block_size: 256 }, listeners: { udp: { default: { bind: '127.0.0.1:0' } } } } },
  });
  port = (await getJson<Array<{ port: number }>>(b, '/api/v5/gateways/coap/listeners'))[0].port;
  url = `coap://127.0.0.1:${port}`;
});
after(async () => {
  for (const c of raws) c.close();
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('CoAP publish → MQTT (coap-client)', () => {
  it('POST /ps/{topic} with short query names reaches an MQTT subscriber at the QoS asked; the client is a CoAP client in /api/v5/clients', async () => {
    const sub = await client(b);
    const got = collect(sub);
    await sub.subscribeAsync('cc/#', { qos: 2 });
    await sub.subscribeAsync('ev/cc-dev');
    const r = await coapClient(['-m', 'post', '-e', 'hello from libcoap', `${url}/ps/cc/temp?c=cc-dev&q=1`]);
    assert.equal(r.code, 0, r.stderr);
    await until(() => got.some((m) => m.topic === 'cc/temp'), 3000, 'the message');
    const m = got.find((x) => x.topic === 'cc/temp')!;
    assert.equal(m.payload, 'hello from libcoap');
    assert.equal(m.packet.qos, 1);
    const row = await getJson<Record<string, unknown>>(b, '/api/v5/clients/cc-dev');
    assert.equal(row.proto_name, 'CoAP');
    await until(() => got.some((x) => x.topic === 'ev/cc-dev'), 3000, 'the client_connected rule');
    assert.equal(got.find((x) => x.topic === 'ev/cc-dev')!.payload, 'CoAP');
    const gws = await getJson<Array<{ name: string; status: string }>>(b, '/api/v5/gateways');
    assert.equal(gws.find((g) => g.name === 'coap')?.status, 'running');
    await end(sub);
  });

  it('retain=true (r) keeps the message; a NON request without qos publishes at QoS 0 (publish_qos coap)', async () => {
    const r = await coapClient(['-m', 'put', '-N', '-e', 'kept', `${url}/ps/cc/retained?r=true&c=cc-ret`]);
    assert.equal(r.code, 0, r.stderr);
    const sub = await client(b);
    const got = collect(sub);
    await sub.subscribeAsync('cc/retained', { qos: 1 });
    await until(() => got.length === 1, 3000, 'the retained message');
    assert.equal(got[0].payload, 'kept');
    assert.equal(got[0].packet.retain, true);
    assert.equal(got[0].packet.qos, 0);
    await end(sub);
  });

  it('a large publish goes block-wise (Block1, 64-byte blocks) and arrives whole', async () => {
    const sub = await client(b);
    const got = collect(sub);
    await sub.subscribeAsync('cc/big');
    const body = 'abcdefghij'.repeat(300);
    const r = await coapClient(['-m', 'post', '-b', '64', '-e', body, `${url}/ps/cc/big?c=cc-big`]);
    assert.equal(r.code, 0, r.stderr);
    await until(() => got.length === 1, 5000, 'the large message');
    assert.equal(got[0].payload, body);
    await end(sub);
  });

  it('an ACL-denied publish is answered 4.01 (EMQX\'s code) and reaches nobody', async () => {
    const sub = await client(b);
    const got = collect(sub);
    await sub.subscribeAsync('denied/#');
    const c = await raw();
    const r = await c.request('POST', '/ps/denied/x', { query: { c: 'cc-denied' }, payload: 'nope' });
    assert.equal(r.code, '4.01');
    await sleep(200);
    assert.equal(got.length, 0);
    assert.ok((await gw()).metrics['authorization.deny'] >= 1);
    await end(sub);
  });
});

describe('CoAP and the rule engine', () => {
  it('a CoAP publish goes through rule SQL like any client\'s', async () => {
    const sub = await client(b);
    const got = collect(sub);
    await sub.subscribeAsync('alert/hot');
    const c = await raw();
    assert.equal((await c.request('POST', '/ps/rule/room1', { query: { c: 'raw-rule' }, payload: JSON.stringify({ t: 20 }) })).code, '2.04');
    assert.equal((await c.request('POST', '/ps/rule/room1', { query: { c: 'raw-rule' }, payload: JSON.stringify({ t: 35 }) })).code, '2.04');
    await until(() => got.length === 1, 3000, 'the rule output');
    assert.equal(got[0].payload, 'raw-rule 35');
    await end(sub);
  });
});

describe('MQTT → CoAP observers', () => {
  it('QoS 2 to an observer that asked ?qos=2: a CON notification whose ACK completes the whole exchange', async () => {
    const c = await raw();
    const token = Buffer.from('t-q2');
    assert.equal((await c.request('GET', '/ps/q2/t', { observe: 0, token, query: { c: 'raw-q2', q: 2 } })).code, '2.05');
    assert.equal((await clientSubscriptions(b, 'raw-q2'))?.[0]?.qos, 2);
    const pub = await client(b);
    await pub.publishAsync('q2/t', 'exactly once', { qos: 2 });
    await until(() => c.notifications(token).length === 1, 3000, 'the notification');
    assert.equal(c.notifications(token)[0].type, 'con');
    await until(async () => (await clientInfo(b, 'raw-q2'))?.inflight_cnt === 0, 3000, 'the QoS 2 delivery completed');
    await end(pub);
  });

  it('coap-client -s observes a wildcard: QoS 0 arrives NON, QoS 1 CON, and a large one in Block2 blocks', async () => {
    const args = ['-s', '6', '-B', '8', '-v', '6', '-m', 'get', `${url}/ps/obs/%2B?c=cc-obs`];
    const p = spawn('coap-client-notls', args);
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    const exited = new Promise((r) => p.on('exit', r));
    try {
      await until(async () => (await clientSubscriptions(b, 'cc-obs'))?.length === 1, 5000, 'the observe subscription');
      const pub = await client(b);
      await pub.publishAsync('obs/a', 'zero', { qos: 0 });
      await pub.publishAsync('obs/b', 'one', { qos: 1 });
      const large = 'L'.repeat(1000);
      await pub.publishAsync('obs/c', large, { qos: 1 });
      await until(() => /Block2:3\/_\/256/.test(out), 5000, 'the last block of the large notification');
      await end(pub);
      // coap-client -v 6 prints each PDU, and the payload after it without a newline.
      assert.match(out, /t:NON c:2\.05 [^\n]*Observe:\d+[^\n]*'zero'/);
      assert.match(out, /t:CON c:2\.05 [^\n]*Observe:\d+[^\n]*'one'/);
      assert.match(out, /t:CON c:2\.05 [^\n]*Observe:\d+, Block2:0\/M\/256, Size2:1000/);
      const info = await clientInfo(b, 'cc-obs');
      assert.equal(info?.inflight_cnt, 0, 'the ACKs completed the QoS 1 deliveries');
    } finally {
      p.kill();
      await exited;
    }
  });

  it('a CON notification that is not acknowledged is resent with the same message id; ACK completes it', async () => {
    const c = await raw();
    const token = Buffer.from('t-retx');
    const r = await c.request('GET', '/ps/retx/t', { observe: 0, token, query: { c: 'raw-retx' } });
    assert.equal(r.code, '2.05');
    assert.ok(optionValue(r, 'Observe') !== undefined);
    c.autoAck = false;
    const pub = await client(b);
    await pub.publishAsync('retx/t', 'again', { qos: 1 });
    await until(() => c.notifications(token).length >= 2, 8000, 'a retransmission');
    const [first, second] = c.notifications(token);
    assert.equal(first.messageId, second.messageId);
    assert.equal(second.type, 'con');
    assert.equal((await clientInfo(b, 'raw-retx'))?.inflight_cnt, 1);
    c.autoAck = true;
    c.send(Buffer.from([0x60, 0x00, second.messageId >> 8, second.messageId & 0xff]));
    await until(async () => (await clientInfo(b, 'raw-retx'))?.inflight_cnt === 0, 3000, 'the delivery completed');
    await end(pub);
  });

  it('Reset to a notification ends the observation and its subscription; Observe 1 unsubscribes', async () => {
    const c = await raw();
    const t1 = Buffer.from('t-rst');
    assert.equal((await c.request('GET', '/ps/rst/a', { observe: 0, token: t1, query: { c: 'raw-rst' } })).code, '2.05');
    const t2 = Buffer.from('t-uns');
    assert.equal((await c.request('GET', '/ps/rst/b', { observe: 0, token: t2 })).code, '2.05');
    assert.equal((await clientSubscriptions(b, 'raw-rst'))?.length, 2);
    c.resetNotifications = true;
    const pub = await client(b);
    await pub.publishAsync('rst/a', 'bye', { qos: 1 });
    await until(async () => (await clientSubscriptions(b, 'raw-rst'))?.length === 1, 3000, 'the observation ended by Reset');
    const un = await c.request('GET', '/ps/rst/b', { observe: 1, token: t2 });
    assert.equal(un.code, '2.05');
    assert.equal((await clientSubscriptions(b, 'raw-rst'))?.length, 0);
    await end(pub);
  });

  it('a retained message is the first notification after the registration\'s 2.05', async () => {
    const pub = await client(b);
    await pub.publishAsync('ret/obs', 'was here', { qos: 1, retain: true });
    const c = await raw();
    const token = Buffer.from('t-ret');
    const r = await c.request('GET', '/ps/ret/obs', { observe: 0, token, query: { c: 'raw-ret' } });
    assert.equal(r.code, '2.05');
    await until(() => c.notifications(token).length === 1, 3000, 'the retained message');
    const n = c.notifications(token)[0];
    assert.equal(n.payload.toString(), 'was here');
    assert.ok(c.received.indexOf(r) < c.received.indexOf(n), 'after the 2.05');
    assert.ok(optionValue(n, 'Observe')!.readUIntBE(0, optionValue(n, 'Observe')!.length) > optionValue(r, 'Observe')!.readUIntBE(0, optionValue(r, 'Observe')!.length));
    await end(pub);
  });

  it('observing a topic the ACL denies is 4.01; without a token 4.00; a plain GET 4.00, as in EMQX 5', async () => {
    const c = await raw();
    assert.equal((await c.request('GET', '/ps/secret/x', { observe: 0, query: { c: 'raw-deny' } })).code, '4.01');
    assert.equal((await c.request('GET', '/ps/open/x', { observe: 0, token: Buffer.alloc(0) })).code, '4.00');
    assert.equal((await c.request('GET', '/ps/open/x')).code, '4.00');
    assert.equal((await c.request('DELETE', '/ps/open/x')).code, '4.05');
    assert.equal((await c.request('GET', '/nowhere')).code, '4.04');
  });
});

describe('notify_type non', () => {
  it('every notification is NON, and QoS 1/2 deliveries complete when sent', async () => {
    const nb = await startBroker({ gateway: { coap: { notify_type: 'non', subscribe_qos: 'qos2', listeners: { udp: { default: { bind: '127.0.0.1:0' } } } } } });
    try {
      const p = (await getJson<Array<{ port: number }>>(nb, '/api/v5/gateways/coap/listeners'))[0].port;
      const c = await RawCoap.open(p);
      raws.push(c);
      const token = Buffer.from('t-non');
      assert.equal((await c.request('GET', '/ps/n/#', { observe: 0, token, query: { c: 'raw-non' } })).code, '2.05');
      assert.equal((await clientSubscriptions(nb, 'raw-non'))?.[0]?.qos, 2);
      const pub = await client(nb);
      for (const qos of [0, 1, 2] as const) await pub.publishAsync(`n/${qos}`, `q${qos}`, { qos });
      await until(() => c.notifications(token).length === 3, 3000, 'three notifications');
      assert.deepEqual(c.notifications(token).map((n) => [n.type, n.payload.toString()]), [['non', 'q0'], ['non', 'q1'], ['non', 'q2']]);
      await until(async () => (await clientInfo(nb, 'raw-non'))?.inflight_cnt === 0, 3000, 'deliveries completed');
      await end(pub);
    } finally {
      await nb.stop();
    }
  });
});

describe('Listener limits', () => {
  it('max_connections: a third peer is not answered and counted as dropped; max_conn_rate refuses new peers beyond the rate', async () => {
    const lb = await startBroker({ gateway: { coap: { listeners: { udp: { default: { bind: '127.0.0.1:0', max_connections: 2 }, slow: { bind: '127.0.0.1:0', max_conn_rate: 1 } } } } } });
    try {
      const ls = await getJson<Array<{ name: string; port: number; dropped: number }>>(lb, '/api/v5/gateways/coap/listeners');
      const [main, slow] = [ls.find((l) => l.name === 'default')!, ls.find((l) => l.name === 'slow')!];
      const cs = await Promise.all([0, 1, 2].map(() => RawCoap.open(main.port)));
      raws.push(...cs);
      assert.equal((await cs[0].request('POST', '/ps/lim', { payload: '1' })).code, '2.04');
      assert.equal((await cs[1].request('POST', '/ps/lim', { payload: '2' })).code, '2.04');
      await assert.rejects(cs[2].request('POST', '/ps/lim', { payload: '3', timeoutMs: 500 }));
      const after = await getJson<Array<{ name: string; dropped: number }>>(lb, '/api/v5/gateways/coap/listeners');
      assert.ok(after.find((l) => l.name === 'default')!.dropped >= 1);
      const ss = await Promise.all([0, 1].map(() => RawCoap.open(slow.port)));
      raws.push(...ss);
      // Both new peers in the same instant: one is admitted, the other refused with its datagram.
      const both = await Promise.allSettled(ss.map((c) => c.request('POST', '/ps/lim', { payload: 'a', timeoutMs: 500 })));
      assert.equal(both.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok((await getJson<{ metrics: Record<string, number> }>(lb, '/api/v5/gateways/coap')).metrics['peers.refused'] >= 1);
    } finally {
      await lb.stop();
    }
  });
});

describe('Malformed datagrams', () => {
  it('random bytes, truncated, bad version and bad options are dropped and counted; a CON one gets Reset; a flood from one address costs one peer', async () => {
    const before = (await gw()).metrics['frames.malformed'];
    const bad = await raw();
    bad.send(Buffer.from([0x01, 0x02])); // shorter than the header
    bad.send(Buffer.from([0x81, 0x01, 0x00, 0x01, 0xaa])); // version 2
    bad.send(Buffer.from([0x40, 0x01, 0x12, 0x34, 0xf0])); // CON with option delta 15 (reserved)
    bad.send(Buffer.from([0x40, 0x01, 0x12, 0x35, 0xff])); // payload marker with no payload
    await until(() => bad.received.filter((r) => r.type === 'rst').length >= 2, 3000, 'Resets for the CON ones');
    assert.deepEqual(bad.received.filter((r) => r.type === 'rst').map((r) => r.messageId).sort(), [0x1234, 0x1235]);
    const good = await raw();
    assert.equal((await good.request('POST', '/ps/before/flood', { query: { c: 'raw-good' }, payload: 'here' })).code, '2.04');
    const peers = async (): Promise<number> => (await getJson<Array<{ current_connections: number }>>(b, '/api/v5/gateways/coap/listeners'))[0].current_connections;
    const peersBefore = await peers();
    // 3000 datagrams in batches of 100: a burst of them all at once overflows the kernel's socket buffer.
    for (let i = 0; i < 3000; i++) {
      bad.send(Buffer.from(Array.from({ length: 1 + (i % 40) }, (_, j) => (i * 31 + j * 7 + 0x80) & 0xff)));
      if (i % 100 === 99) await sleep(10);
    }
    await until(async () => (await gw()).metrics['frames.malformed'] >= before + 1000, 5000, 'the malformed counter to rise');
    const r = await good.request('POST', '/ps/after/flood', { query: { c: 'raw-good' }, payload: 'still here' });
    assert.equal(r.code, '2.04');
    assert.ok(await clientInfo(b, 'raw-good'), 'the good client kept its session');
    assert.equal(await peers(), peersBefore, 'the flood made no new peer');
    const critical = await good.request('GET', '/ps/x', { observe: 0, options: [{ name: 9, value: Buffer.from('x') }] });
    assert.equal(critical.code, '4.02');
  });
});

describe('Throughput', () => {
  it('CON publishes (16 outstanding) into an MQTT subscriber: a rough msg/s figure', async () => {
    const sub = await client(b);
    let n = 0;
    sub.on('message', () => { n++; });
    await sub.subscribeAsync('tp/#');
    const c = await raw();
    const total = 3000;
    const t0 = Date.now();
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < total) { sent++; await c.request('POST', '/ps/tp/x', { query: { c: 'raw-tp', q: 0 }, payload: 'm' }); }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await until(() => n === total, 10000, `all ${total} messages (got ${n})`);
    const rate = Math.round(total / ((Date.now() - t0) / 1000));
    console.log(`# CoAP → MQTT: ${total} CON publishes in ${Date.now() - t0} ms, ${rate} msg/s`);
    assert.ok(rate > 200, `rate ${rate}`);
    await end(sub);
  });
});
