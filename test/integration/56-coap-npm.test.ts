/**
 * The CoAP gateway against the `coap` npm package's client (node-coap): a publish, a large
 * publish (sent block-wise, Block1), and an observation whose notifications come
 * from MQTT publishes — the large one reassembled by node-coap from Block2 blocks.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request, type IncomingMessage, type ObserveReadStream } from 'coap';
import { startBroker, client, collect, until, end, type TestBroker } from '../support/broker.js';
import { getJson } from '../support/api.js';

let b: TestBroker;
let port: number;
let agent: Agent;

before(async () => {
  b = await startBroker({ gateway: { coap: { listeners: { udp: { default: { bind: '127.0.0.1:0' } } } } } });
  port = (await getJson<Array<{ port: number }>>(b, '/api/v5/gateways/coap/listeners'))[0].port;
  agent = new Agent({ type: 'udp4' });
});
after(async () => {
  agent.close();
  await b.stop();
});

const send = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', pathname: string, query: string, payload: Buffer | string | null): Promise<IncomingMessage> =>
  new Promise((resolve, reject) => {
    // node-coap sends block-wise when asked: a Block1 option holding the size exponent (6: 1024 bytes).
    const options = payload !== null && payload.length > 1024 ? { Block1: Buffer.of(6) } : {};
    const req = request({ hostname: '127.0.0.1', port, method, pathname, query, agent, options });
    req.on('response', resolve);
    req.on('error', reject);
    req.end(payload ?? undefined);
  });

describe('CoAP gateway with the coap npm client', () => {
  it('publishes, small and large (block-wise), to an MQTT subscriber', async () => {
    const sub = await client(b);
    const got = collect(sub);
    await sub.subscribeAsync('npm/#', { qos: 1 });
    const r = await send('POST', '/ps/npm/small', 'clientid=npm-dev&qos=1', 'tiny');
    assert.equal(r.code, '2.04');
    const big = Buffer.alloc(5000, 'q');
    const r2 = await send('POST', '/ps/npm/large', 'clientid=npm-dev', big);
    assert.equal(r2.code, '2.04');
    await until(() => got.length === 2, 5000, 'two messages');
    assert.equal(got.find((m) => m.topic === 'npm/small')!.payload, 'tiny');
    assert.equal(got.find((m) => m.topic === 'npm/large')!.payload.length, 5000);
    await end(sub);
  });

  it('observes: MQTT publishes arrive as notifications, a large one reassembled from Block2', async () => {
    const req = request({ hostname: '127.0.0.1', port, method: 'GET', pathname: '/ps/npm/down', query: 'clientid=npm-obs', observe: true, agent });
    const stream = await new Promise<ObserveReadStream>((resolve, reject) => {
      req.on('response', (res) => resolve(res as ObserveReadStream));
      req.on('error', reject);
      req.end();
    });
    const seen: Buffer[] = [];
    stream.on('data', (d: Buffer) => { seen.push(d); });
    assert.equal(stream.code, '2.05');
    const pub = await client(b);
    await pub.publishAsync('npm/down', 'first', { qos: 0 });
    await until(() => seen.some((d) => d.toString() === 'first'), 3000, 'the first notification');
    await pub.publishAsync('npm/down', Buffer.alloc(3000, 'z'), { qos: 1 });
    await until(() => seen.some((d) => d.length === 3000), 5000, 'the large notification, reassembled');
    stream.close();
    await end(pub);
  });
});
