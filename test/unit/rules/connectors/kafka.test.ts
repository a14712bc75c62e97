/**
 * The kafka_producer connector through the seam (parseConnector → connect → prepare → render →
 * send → health → close): the config and rendering rules on their own, then against a real
 * single-node Kafka (test/support/kafka.ts), reading the records back with a Consumer.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Admin, Consumer, type Message } from '@platformatic/kafka';
import { kafkaProducer } from '../../../../broker/src/rules/connectors/kafka.js';
import { kafkaRenderer, parseKafkaParameters } from '../../../../broker/src/rules/connectors/kafka-message.js';
import { SinkConfigError, SinkError, type Connection } from '../../../../broker/src/rules/connectors/types.js';
import type { KafkaItem, KafkaParameters } from '../../../../broker/src/rules/connectors/kafka-message.js';
import { silentLogger } from '../../../../broker/src/log.js';
import { Pki } from '../../../support/pki.js';
import { kafkaJars, startKafka, KAFKA_PASSWORD, KAFKA_USER, type TestKafka } from '../../../support/kafka.js';

const W = 'actions.kafka_producer.a1.parameters';
const C = 'connectors.kafka_producer.k1';
const ctx = { id: 'kafka_producer:k1', log: silentLogger(), dataDir: '/nonexistent', node: 'petrel@127.0.0.1' };

function configError(fn: () => unknown, where: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof SinkConfigError && where.test(err.message), `expected a SinkConfigError matching ${where}`);
}

describe('kafka_producer config', () => {
  it('takes EMQX defaults', () => {
    const p = parseKafkaParameters({ topic: 't' }, W);
    assert.deepEqual(p.message, { key: '${.clientid}', value: '${.}', timestamp: '${.timestamp}' });
    assert.equal(p.partition_strategy, 'random');
    assert.equal(p.required_acks, 'all_isr');
    assert.equal(p.compression, 'no_compression');
    assert.equal(p.max_batch_bytes, 896 * 1024);
    assert.equal(p.kafka_header_value_encode_mode, 'none');
    const c = kafkaProducer.parseConnector({ bootstrap_hosts: 'k1:9093, k2', enable: true, resource_opts: {} }, C);
    assert.deepEqual(c.bootstrapBrokers, ['k1:9093', 'k2:9092']);
    assert.equal(c.connectTimeout, 5000);
    assert.equal(c.sasl, null);
    assert.equal(c.tls, null);
  });
  it('refuses bad parameters, naming the key', () => {
    configError(() => parseKafkaParameters({}, W), /a1\.parameters\.topic: required/);
    configError(() => parseKafkaParameters({ topic: 't', required_acks: 'all' }, W), /parameters\.required_acks: expected one of all_isr, leader_only, none/);
    configError(() => parseKafkaParameters({ topic: 't', compresion: 'gzip' }, W), /unknown key 'compresion' \(did you mean 'compression'\?\)/);
    configError(() => parseKafkaParameters({ topic: 't', message: { key: '${a' } }, W), /parameters\.message\.key: .*no closing/);
    configError(() => parseKafkaParameters({ topic: 't', partition_strategy: 'key_dispatch', message: { key: '' } }, W), /message\.key: must not be empty/);
    configError(() => parseKafkaParameters({ topic: 't', kafka_headers: 'h-${pub_props}' }, W), /kafka_headers: must be a single placeholder/);
    configError(() => parseKafkaParameters({ topic: 't', kafka_ext_headers: [{ kafka_ext_header_key: 'k' }] }, W), /kafka_ext_headers\[1\]\.kafka_ext_header_value: required/);
    configError(() => parseKafkaParameters({ topic: 't', kafka_ext_headers: [{ kafka_ext_header_key: 'k', kafka_ext_header_value: 'a${b}' }] }, W), /single placeholder .* or a plain string/);
    configError(() => parseKafkaParameters({ topic: 't', max_batch_bytes: '1XB' }, W), /max_batch_bytes: expected a size/);
  });
  it('refuses bad connectors, naming the key', () => {
    configError(() => kafkaProducer.parseConnector({}, C), /k1\.bootstrap_hosts: required/);
    configError(() => kafkaProducer.parseConnector({ bootstrap_hosts: 'h:99999' }, C), /bootstrap_hosts: port 99999/);
    configError(() => kafkaProducer.parseConnector({ bootstrap_hosts: 'h', connect_timeout: 5 }, C), /connect_timeout: a duration needs a unit/);
    configError(() => kafkaProducer.parseConnector({ bootstrap_hosts: 'h', authentication: { mechanism: 'gssapi', username: 'u', password: 'p' } }, C), /authentication\.mechanism: expected one of plain/);
    configError(() => kafkaProducer.parseConnector({ bootstrap_hosts: 'h', authentication: { mechanism: 'plain', username: 'u' } }, C), /authentication\.password: required/);
    configError(() => kafkaProducer.parseConnector({ bootstrap_hosts: 'h', ssl: { enable: true, cacertfile: '/no/such.pem' } }, C), /ssl\.cacertfile: cannot read/);
  });
});

describe('kafka_producer rendering (EMQX semantics)', () => {
  const out = {
    clientid: 'c1', topic: 't/1', timestamp: 1700000000123, payload: '{"n":1}',
    pub_props: { 'User-Property': { a: 'b' }, 'Content-Type': 'json', 'Message-Expiry-Interval': 30 },
    hdrs: '[{"key":"x","value":"1"},{"key":"y","value":"2"}]',
  };
  const render = (p: Record<string, unknown>): KafkaItem => kafkaRenderer(parseKafkaParameters({ topic: 'k.${clientid}', ...p }, W)).render(out);
  it('renders topic, key, value and timestamp with the defaults', () => {
    const r = render({});
    assert.equal(r.topic, 'k.c1');
    assert.equal(r.key, 'c1');
    assert.deepEqual(JSON.parse(r.value as string), out);
    assert.equal(r.timestamp, 1700000000123);
  });
  it('a timestamp that is not a number means now; a binary payload passes byte for byte', () => {
    const t0 = Date.now();
    const r = kafkaRenderer(parseKafkaParameters({ topic: 't', message: { value: '${payload}', timestamp: '${nope}' } }, W)).render({ payload: Buffer.from([0xff, 0, 1]) });
    assert.ok(r.timestamp >= t0);
    assert.deepEqual(r.value, Buffer.from([0xff, 0, 1]));
  });
  it('kafka_headers from a map keeps string values only (mode none), ext headers follow', () => {
    const r = render({ kafka_headers: '${pub_props}', kafka_ext_headers: [
      { kafka_ext_header_key: 'clientid', kafka_ext_header_value: '${clientid}' },
      { kafka_ext_header_key: 'fixed', kafka_ext_header_value: 'v' },
      { kafka_ext_header_key: 'gone', kafka_ext_header_value: '${missing}' },
    ] });
    assert.deepEqual(r.headers, [['Content-Type', 'json'], ['clientid', 'c1'], ['fixed', 'v']]);
  });
  it('json mode encodes every header value; a JSON list of {key, value} is read', () => {
    const r = render({ kafka_headers: '${pub_props}', kafka_header_value_encode_mode: 'json' });
    assert.deepEqual(r.headers, [['User-Property', '{"a":"b"}'], ['Content-Type', '"json"'], ['Message-Expiry-Interval', '30']]);
    assert.deepEqual(render({ kafka_headers: '${hdrs}' }).headers, [['x', '1'], ['y', '2']]);
  });
  it('bad headers and illegal topics are render errors', () => {
    assert.throws(() => render({ kafka_headers: '${payload.n}' }), /kafka_headers: 1 is neither a map nor a list/);
    assert.throws(() => render({ kafka_headers: '${clientid}' }), /kafka_headers: "c1" is neither/);
    assert.throws(() => kafkaRenderer(parseKafkaParameters({ topic: '${topic}' }, W)).render(out), /rendered "t\/1", not a legal Kafka topic name/);
    assert.throws(() => kafkaRenderer(parseKafkaParameters({ topic: '${nope}' }, W)).render(out), /rendered ""/);
  });
});

// ------------------------------------------------------------------ against a real Kafka

const jars = kafkaJars();
const skip = 'skip' in jars ? jars.skip : false;

async function readBack(bootstrap: string, topic: string, n: number): Promise<Message<string, string, string, string>[]> {
  const consumer = new Consumer<string, string, string, string>({
    clientId: 'petrel-test-reader', groupId: `reader-${topic}-${Date.now()}`, bootstrapBrokers: [bootstrap],
    deserializers: { key: (b) => b?.toString() ?? '', value: (b) => b?.toString() ?? '', headerKey: (b) => b?.toString() ?? '', headerValue: (b) => b?.toString() ?? '' },
  });
  const got: Message<string, string, string, string>[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 200 });
    const timer = setTimeout(() => void stream.close(), 30_000);
    for await (const m of stream) {
      got.push(m);
      if (got.length >= n) break;
    }
    clearTimeout(timer);
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return got;
}

describe('kafka_producer against a real Kafka', { skip }, () => {
  let kafka: TestKafka;
  let conn: Connection<KafkaParameters, KafkaItem>;
  let pki: Pki;
  const admin = (k: TestKafka) => new Admin({ clientId: 'petrel-test-admin', bootstrapBrokers: [k.bootstrap] });

  before(async () => {
    pki = new Pki();
    const server = pki.issue('kafka', { kind: 'server' });
    kafka = await startKafka({ tls: { certFile: server.crt, keyFile: server.key } });
    console.log(`# kafka: started in ${kafka.startMs} ms`);
    const a = admin(kafka);
    await a.createTopics({ topics: ['petrel.keys'], partitions: 4, replicas: 1 });
    await a.createTopics({ topics: ['petrel.bench', 'petrel.down', 'petrel.split'], partitions: 1, replicas: 1 });
    await a.close();
    conn = await kafkaProducer.connect(kafkaProducer.parseConnector({ bootstrap_hosts: kafka.bootstrap }, C), ctx);
  });
  after(async () => {
    await conn?.close();
    await kafka?.stop();
    pki?.remove();
  });

  it('records arrive with their keys, values, timestamps and headers; key_dispatch keeps a key on one partition', async () => {
    const action = conn.prepare(kafkaProducer.parseParameters({
      topic: 'petrel.keys', partition_strategy: 'key_dispatch', compression: 'gzip',
      message: { key: '${clientid}', value: '${payload}', timestamp: '${ts}' },
      kafka_headers: '${pub_props.\'User-Property\'}',
      kafka_ext_headers: [{ kafka_ext_header_key: 'mqtt-topic', kafka_ext_header_value: '${topic}' }],
    }, W));
    const items = Array.from({ length: 40 }, (_, i) => action.render({
      clientid: `dev-${i % 8}`, payload: `{"i":${i}}`, ts: 1_700_000_000_000 + i, topic: `t/${i}`,
      pub_props: { 'User-Property': { seq: String(i) } },
    }));
    await action.send(items);
    const got = await readBack(kafka.bootstrap, 'petrel.keys', 40);
    assert.equal(got.length, 40);
    const byI = new Map(got.map((m) => [JSON.parse(m.value).i as number, m]));
    const partitionOf = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const m = byI.get(i)!;
      assert.equal(m.key, `dev-${i % 8}`);
      assert.equal(m.timestamp, BigInt(1_700_000_000_000 + i));
      assert.deepEqual([...m.headers], [['seq', String(i)], ['mqtt-topic', `t/${i}`]]);
      const p = partitionOf.get(m.key);
      if (p !== undefined) assert.equal(m.partition, p, `key ${m.key} moved partition`);
      partitionOf.set(m.key, m.partition);
    }
    assert.ok(new Set(partitionOf.values()).size >= 2, `8 keys all landed on one of 4 partitions: ${[...partitionOf]}`);
  });

  it('a batch over max_batch_bytes goes as several requests, in order; required_acks none and snappy work', async () => {
    const a = conn.prepare(kafkaProducer.parseParameters({ topic: 'petrel.split', max_batch_bytes: '1KB', compression: 'snappy', message: { value: '${n}-${pad}' } }, W));
    await a.send(Array.from({ length: 30 }, (_, n) => a.render({ clientid: 'c', n, pad: 'p'.repeat(200) })));
    const b = conn.prepare(kafkaProducer.parseParameters({ topic: 'petrel.split', required_acks: 'none', message: { value: '${n}-${pad}' } }, W));
    await b.send([b.render({ clientid: 'c', n: 30, pad: '' })]);
    const got = await readBack(kafka.bootstrap, 'petrel.split', 31);
    assert.deepEqual(got.map((m) => Number(m.value.split('-')[0])), Array.from({ length: 31 }, (_, i) => i));
  });

  it('authenticates with SASL PLAIN and SCRAM; a wrong password is refused at connect', async () => {
    for (const mechanism of ['plain', 'scram_sha_256', 'scram_sha_512']) {
      const c = await kafkaProducer.connect(kafkaProducer.parseConnector({
        bootstrap_hosts: `127.0.0.1:${kafka.saslPort}`, authentication: { mechanism, username: KAFKA_USER, password: KAFKA_PASSWORD },
      }, C), ctx);
      const a = c.prepare(kafkaProducer.parseParameters({ topic: 'petrel.down' }, W));
      await a.send([a.render({ clientid: mechanism })]);
      await c.close();
    }
    await assert.rejects(kafkaProducer.connect(kafkaProducer.parseConnector({
      bootstrap_hosts: `127.0.0.1:${kafka.saslPort}`, authentication: { mechanism: 'plain', username: KAFKA_USER, password: 'wrong' },
    }, C), ctx), (err: unknown) => err instanceof SinkError);
  });

  it('connects over TLS checking the server certificate; a certificate from another CA is refused', async () => {
    const c = await kafkaProducer.connect(kafkaProducer.parseConnector({
      bootstrap_hosts: `127.0.0.1:${kafka.sslPort}`, ssl: { enable: true, cacertfile: pki.ca.crt, verify: 'verify_peer' },
    }, C), ctx);
    const a = c.prepare(kafkaProducer.parseParameters({ topic: 'petrel.down' }, W));
    await a.send([a.render({ clientid: 'tls' })]);
    await c.close();
    const other = new Pki('Other CA');
    try {
      await assert.rejects(kafkaProducer.connect(kafkaProducer.parseConnector({
        bootstrap_hosts: `127.0.0.1:${kafka.sslPort}`, connect_timeout: '2s', ssl: { enable: true, cacertfile: other.ca.crt, verify: 'verify_peer' },
      }, C), ctx), (err: unknown) => err instanceof SinkError);
    } finally {
      other.remove();
    }
  });

  it('a topic that does not exist fails the batch without a retry', async () => {
    const a = conn.prepare(kafkaProducer.parseParameters({ topic: 'petrel.nope' }, W));
    await assert.rejects(a.send([a.render({ clientid: 'x' })]), (err: unknown) =>
      err instanceof SinkError && !err.retryable && /topic does not exist/.test(err.message));
  });

  it(`measures msg/s through send() in batches of 100`, async () => {
    const a = conn.prepare(kafkaProducer.parseParameters({ topic: 'petrel.bench', required_acks: 'all_isr' }, W));
    const payload = 'x'.repeat(100);
    const batches = Array.from({ length: 100 }, (_, b) => Array.from({ length: 100 }, (_, i) => a.render({ clientid: `c${i}`, payload, n: b * 100 + i })));
    const t0 = process.hrtime.bigint();
    for (const batch of batches) await a.send(batch);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`# kafka: ${Math.round(10_000 / s)} msg/s through send() (100 batches of 100, acks all_isr, one after another)`);
  });

  it('while Kafka is down send() and health() reject retryable; after up() send() succeeds', async () => {
    const a = conn.prepare(kafkaProducer.parseParameters({ topic: 'petrel.down' }, W));
    await a.send([a.render({ clientid: 'before' })]);
    await kafka.down();
    const t0 = Date.now();
    await assert.rejects(a.send([a.render({ clientid: 'during' })]), (err: unknown) => err instanceof SinkError && err.retryable);
    await assert.rejects(conn.health(), (err: unknown) => err instanceof SinkError && err.retryable);
    console.log(`# kafka: a send to a stopped broker rejected in ${Date.now() - t0} ms (with the health check)`);
    await kafka.up();
    let lastErr: unknown;
    for (let attempt = 0; attempt < 30; attempt++) {
      try { await a.send([a.render({ clientid: 'after' })]); lastErr = undefined; break; } catch (err) {
        lastErr = err;
        assert.ok(err instanceof SinkError && err.retryable, `not retryable after up(): ${String(err)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    assert.equal(lastErr, undefined);
    await conn.health();
    const keys = (await readBack(kafka.bootstrap, 'petrel.down', 6)).map((m) => m.key);
    assert.ok(keys.includes('before') && keys.includes('after') && !keys.includes('during'), String(keys));
  });
});
