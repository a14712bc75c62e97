/**
 * 50 — the kafka_producer and rabbitmq sinks through the broker: a rule sends what devices publish
 * to a real single-node Kafka (Maven Central's jars, test/support/kafka.ts) and a real RabbitMQ
 * (Debian's rabbitmq-server, test/support/rabbitmq.ts). Records arrive with the templated key and
 * headers, messages in a bound queue; each target is taken down mid-stream and brought back, and
 * every message accepted meanwhile arrives exactly once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Admin, Consumer, type Message } from '@platformatic/kafka';
import amqp, { type ChannelModel } from 'amqplib';
import { startBroker, client, until, end, type TestBroker } from '../support/broker.js';
import { kafkaJars, startKafka, type TestKafka } from '../support/kafka.js';
import { startRabbitMQ, type TestRabbitMQ } from '../support/rabbitmq.js';
import { actionMetrics, actionStatus } from './50-sinks-support.js';

const jars = kafkaJars();
const skipKafka = 'skip' in jars ? jars.skip : false;

/** Every record of `topic` from the start, until `n` or 30 s. */
async function readKafka(bootstrap: string, topic: string, n: number): Promise<Message<string, string, string, string>[]> {
  const consumer = new Consumer<string, string, string, string>({
    clientId: 'petrel-50-reader', groupId: `r-${topic}-${Date.now()}`, bootstrapBrokers: [bootstrap],
    deserializers: { key: (b) => b?.toString() ?? '', value: (b) => b?.toString() ?? '', headerKey: (b) => b?.toString() ?? '', headerValue: (b) => b?.toString() ?? '' },
  });
  const got: Message<string, string, string, string>[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 200 });
    const timer = setTimeout(() => void stream.close(), 30_000);
    for await (const m of stream) { got.push(m); if (got.length >= n) break; }
    clearTimeout(timer);
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return got;
}

describe('50 kafka sink through the broker', { skip: skipKafka }, () => {
  let kafka: TestKafka;
  let b: TestBroker;
  before(async () => {
    kafka = await startKafka();
    const a = new Admin({ clientId: 'petrel-50-admin', bootstrapBrokers: [kafka.bootstrap] });
    await a.createTopics({ topics: ['telemetry'], partitions: 1, replicas: 1 });
    await a.close();
    b = await startBroker({
      connectors: { kafka_producer: { k1: { bootstrap_hosts: kafka.bootstrap, connect_timeout: '2s', resource_opts: { health_check_interval: '300ms' } } } },
      actions: {
        kafka_producer: {
          tele: {
            connector: 'k1',
            parameters: { topic: 'telemetry', message: { key: '${clientid}', value: '${payload.v}' }, kafka_ext_headers: [{ kafka_ext_header_key: 'topic', kafka_ext_header_value: '${topic}' }] },
            resource_opts: { batch_size: 50, batch_time: '20ms', request_ttl: 'infinity', inflight_window: 1, health_check_interval: '300ms' },
          },
        },
      },
      rule_engine: { rules: { to_kafka: { sql: 'SELECT clientid, topic, payload FROM "dev/#"', actions: ['kafka_producer:tele'] } } },
    });
    await until(async () => (await actionStatus(b, 'kafka_producer:tele')).status === 'connected', 20_000, 'kafka action connected');
  });
  after(async () => { await b?.stop(); await kafka?.stop(); });

  it('records carry the templated key, value and header; an outage loses nothing accepted meanwhile', async () => {
    const pub = await client(b, { clientId: 'meter-1' });
    for (let i = 0; i < 20; i++) await pub.publishAsync('dev/meter-1/up', JSON.stringify({ v: `a${i}` }), { qos: 1 });
    await until(async () => (await actionMetrics(b, 'kafka_producer:tele')).success === 20, 20_000, '20 sent');
    await kafka.down();
    for (let i = 0; i < 40; i++) await pub.publishAsync('dev/meter-1/up', JSON.stringify({ v: `b${i}` }), { qos: 1 });
    await until(async () => (await actionStatus(b, 'kafka_producer:tele')).status !== 'connected', 20_000, 'action not connected while Kafka is down');
    await kafka.up();
    await until(async () => (await actionMetrics(b, 'kafka_producer:tele')).success === 60, 60_000, 'the 40 sent after Kafka came back');
    const recs = await readKafka(kafka.bootstrap, 'telemetry', 60);
    assert.equal(recs.length, 60);
    assert.deepEqual(recs.map((r) => r.value), [...Array.from({ length: 20 }, (_, i) => `a${i}`), ...Array.from({ length: 40 }, (_, i) => `b${i}`)]);
    assert.ok(recs.every((r) => r.key === 'meter-1'));
    assert.deepEqual([...recs[0]!.headers.entries()], [['topic', 'dev/meter-1/up']]);
    const m = await actionMetrics(b, 'kafka_producer:tele');
    assert.equal(m.failed, 0);
    assert.equal(m.dropped, 0);
    await end(pub);
  });
});

describe('50 rabbitmq sink through the broker', () => {
  let rmq: TestRabbitMQ;
  let b: TestBroker;
  let admin: ChannelModel;
  const url = (r: TestRabbitMQ): string => `amqp://${r.username}:${r.password}@127.0.0.1:${r.port}`;
  before(async () => {
    rmq = await startRabbitMQ();
    admin = await amqp.connect(url(rmq));
    admin.on('error', () => {});
    const ch = await admin.createChannel();
    await ch.assertExchange('petrel.x', 'topic', { durable: true });
    await ch.assertQueue('q.dev', { durable: true });
    await ch.bindQueue('q.dev', 'petrel.x', 'dev.#');
    await ch.close();
    b = await startBroker({
      connectors: { rabbitmq: { r1: { server: '127.0.0.1', port: rmq.port, username: rmq.username, password: rmq.password, pool_size: 2, resource_opts: { health_check_interval: '300ms' } } } },
      actions: {
        rabbitmq: {
          q: {
            connector: 'r1',
            parameters: { exchange: 'petrel.x', routing_key: 'dev.${clientid}', payload_template: '${payload.v}', delivery_mode: 'persistent' },
            resource_opts: { batch_size: 20, batch_time: '20ms', request_ttl: 'infinity', inflight_window: 1, health_check_interval: '300ms' },
          },
        },
      },
      rule_engine: { rules: { to_rmq: { sql: 'SELECT clientid, payload FROM "dev/#"', actions: ['rabbitmq:q'] } } },
    });
    await until(async () => (await actionStatus(b, 'rabbitmq:q')).status === 'connected', 20_000, 'rabbitmq action connected');
  });
  after(async () => { await b?.stop(); await admin?.close().catch(() => {}); await rmq?.stop(); });

  it('messages reach the bound queue; an outage loses nothing accepted meanwhile', async () => {
    const pub = await client(b, { clientId: 'valve-7' });
    for (let i = 0; i < 10; i++) await pub.publishAsync('dev/valve-7/up', JSON.stringify({ v: `a${i}` }), { qos: 1 });
    await until(async () => (await actionMetrics(b, 'rabbitmq:q')).success === 10, 20_000, '10 confirmed');
    await admin.close().catch(() => {});
    await rmq.down();
    for (let i = 0; i < 30; i++) await pub.publishAsync('dev/valve-7/up', JSON.stringify({ v: `b${i}` }), { qos: 1 });
    await until(async () => (await actionStatus(b, 'rabbitmq:q')).status !== 'connected', 20_000, 'action not connected while RabbitMQ is down');
    await rmq.up();
    await until(async () => (await actionMetrics(b, 'rabbitmq:q')).success === 40, 60_000, 'the 30 confirmed after RabbitMQ came back');
    admin = await amqp.connect(url(rmq));
    admin.on('error', () => {});
    const ch = await admin.createChannel();
    const got: string[] = [];
    for (let tries = 0; got.length < 40 && tries < 200; tries++) {
      const m = await ch.get('q.dev', { noAck: true });
      if (m === false) await new Promise((r) => setTimeout(r, 50));
      else { got.push(m.content.toString()); assert.equal(m.fields.routingKey, 'dev.valve-7'); }
    }
    await ch.close();
    assert.deepEqual(got, [...Array.from({ length: 10 }, (_, i) => `a${i}`), ...Array.from({ length: 30 }, (_, i) => `b${i}`)]);
    const m = await actionMetrics(b, 'rabbitmq:q');
    assert.equal(m.failed, 0);
    assert.equal(m.dropped, 0);
    await end(pub);
  });
});
