/**
 * The rabbitmq connector through the seam (parseConnector → connect → prepare → render → send →
 * health → close): the config and rendering rules on their own, then against a real RabbitMQ node
 * (test/support/rabbitmq.ts), reading the messages back from a queue bound to the exchange.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import amqp, { type ChannelModel, type GetMessage } from 'amqplib';
import { rabbitmq, rabbitRenderer, parseRabbitParameters, type RabbitItem, type RabbitParameters } from '../../../../broker/src/rules/connectors/rabbitmq.js';
import { SinkConfigError, SinkError, type Connection } from '../../../../broker/src/rules/connectors/types.js';
import { silentLogger } from '../../../../broker/src/log.js';
import { Pki } from '../../../support/pki.js';
import { startRabbitMQ, type TestRabbitMQ } from '../../../support/rabbitmq.js';

const W = 'actions.rabbitmq.a1.parameters';
const C = 'connectors.rabbitmq.r1';
const ctx = { id: 'rabbitmq:r1', log: silentLogger(), dataDir: '/nonexistent', node: 'petrel@127.0.0.1' };

function configError(fn: () => unknown, where: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof SinkConfigError && where.test(err.message), `expected a SinkConfigError matching ${where}`);
}

describe('rabbitmq config', () => {
  it('takes EMQX defaults', () => {
    const c = rabbitmq.parseConnector({ username: 'u', password: 'p', enable: true }, C);
    assert.deepEqual({ ...c }, { host: 'localhost', port: 5672, username: 'u', password: 'p', vhost: '/', heartbeatSec: 30, poolSize: 8, timeout: 5000, tls: null });
    const p = parseRabbitParameters({ routing_key: 'rk' }, W);
    assert.equal(p.exchange, '');
    assert.equal(p.delivery_mode, 'non_persistent');
    assert.equal(p.wait_for_publish_confirmations, true);
    assert.equal(p.publish_confirmation_timeout, 30_000);
    assert.deepEqual(p.headers_template, []);
  });
  it('refuses bad configs, naming the key', () => {
    configError(() => rabbitmq.parseConnector({ password: 'p' }, C), /r1\.username: required/);
    configError(() => rabbitmq.parseConnector({ username: 'u', password: 'p', port: 70000 }, C), /r1\.port: 70000 is above the maximum/);
    configError(() => rabbitmq.parseConnector({ username: 'u', password: 'p', heartbeat: 'often' }, C), /r1\.heartbeat: expected a duration/);
    configError(() => rabbitmq.parseConnector({ username: 'u', password: 'p', poolsize: 2 }, C), /unknown key 'poolsize' \(did you mean 'pool_size'\?\)/);
    configError(() => parseRabbitParameters({}, W), /parameters\.routing_key: required/);
    configError(() => parseRabbitParameters({ routing_key: 'k', delivery_mode: 'durable' }, W), /delivery_mode: expected one of non_persistent, persistent/);
    configError(() => parseRabbitParameters({ routing_key: 'k', payload_template: '${a' }, W), /payload_template: .*no closing/);
    configError(() => parseRabbitParameters({ routing_key: 'k', properties_template: [{ key: 'priority', value: '1' }] }, W), /properties_template\[1\]\.key: expected one of app_id/);
    configError(() => parseRabbitParameters({ routing_key: 'k', headers_template: [{ key: 'h' }] }, W), /headers_template\[1\]\.value: required/);
  });
});

describe('rabbitmq rendering (EMQX semantics)', () => {
  const out = { clientid: 'c1', payload: '{"t":21}', qos: 1, ts: '1700000000' };
  it('an empty payload_template sends the rule output as JSON; templates render', () => {
    const r = rabbitRenderer(parseRabbitParameters({
      exchange: 'x.${clientid}', routing_key: 'rk.${qos}',
      headers_template: [{ key: 'from', value: '${clientid}' }],
      properties_template: [{ key: 'content_type', value: 'application/json' }, { key: 'timestamp', value: '${ts}' }],
    }, W)).render(out);
    assert.deepEqual(r, {
      exchange: 'x.c1', routingKey: 'rk.1', payload: JSON.stringify(out),
      headers: [['from', 'c1']], props: [['content_type', 'application/json'], ['timestamp', '1700000000']],
    } satisfies RabbitItem);
  });
  it('a missing placeholder in exchange or routing key, or a timestamp that is no integer, fails the render', () => {
    assert.throws(() => rabbitRenderer(parseRabbitParameters({ routing_key: 'rk.${nope}' }, W)).render(out), /routing_key template 'rk.\$\{nope\}': \$\{nope\} is not in the rule output/);
    assert.throws(() => rabbitRenderer(parseRabbitParameters({ routing_key: 'k', properties_template: [{ key: 'timestamp', value: 'now' }] }, W)).render(out), /timestamp rendered "now"/);
  });
});

// ------------------------------------------------------------------ against a real RabbitMQ

async function drain(admin: ChannelModel, queue: string, n: number): Promise<GetMessage[]> {
  const ch = await admin.createChannel();
  const got: GetMessage[] = [];
  const deadline = Date.now() + 10_000;
  while (got.length < n && Date.now() < deadline) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) await new Promise((r) => setTimeout(r, 50));
    else got.push(m);
  }
  await ch.close();
  return got;
}

describe('rabbitmq against a real RabbitMQ', () => {
  let rmq: TestRabbitMQ;
  let conn: Connection<RabbitParameters, RabbitItem>;
  let admin: ChannelModel;
  let pki: Pki;
  const url = (r: TestRabbitMQ) => `amqp://${r.username}:${r.password}@127.0.0.1:${r.port}`;
  const connector = (r: TestRabbitMQ, extra: Record<string, unknown> = {}) =>
    rabbitmq.parseConnector({ server: r.host, port: r.port, username: r.username, password: r.password, pool_size: 2, ...extra }, C);

  before(async () => {
    pki = new Pki();
    const server = pki.issue('rabbitmq', { kind: 'server' });
    rmq = await startRabbitMQ({ tls: { certFile: server.crt, keyFile: server.key } });
    console.log(`# rabbitmq: started in ${rmq.startMs} ms`);
    admin = await amqp.connect(url(rmq));
    const ch = await admin.createChannel();
    await ch.assertExchange('petrel.x', 'topic', { durable: true });
    await ch.assertQueue('q.all', { durable: true });
    await ch.bindQueue('q.all', 'petrel.x', 't.#');
    await ch.assertQueue('q.bench', { durable: false });
    await ch.bindQueue('q.bench', 'petrel.x', 'bench');
    await ch.close();
    conn = await rabbitmq.connect(connector(rmq), ctx);
  });
  after(async () => {
    await conn?.close();
    await admin?.close().catch(() => undefined);
    await rmq?.stop();
    pki?.remove();
  });

  it('messages arrive in the bound queue with payload, routing key, headers and properties', async () => {
    const a = conn.prepare(rabbitmq.parseParameters({
      exchange: 'petrel.x', routing_key: 't.${clientid}', payload_template: '${payload}', delivery_mode: 'persistent',
      headers_template: [{ key: 'mqtt-topic', value: '${topic}' }],
      properties_template: [{ key: 'content_type', value: 'application/json' }, { key: 'message_id', value: '${id}' }, { key: 'timestamp', value: '${ts}' }],
    }, W));
    await a.send(Array.from({ length: 10 }, (_, i) => a.render({ clientid: `c${i}`, payload: `{"i":${i}}`, topic: `d/${i}`, id: `m${i}`, ts: 1_700_000_000 + i })));
    const got = await drain(admin, 'q.all', 10);
    assert.equal(got.length, 10);
    got.forEach((m, i) => {
      assert.equal(m.content.toString(), `{"i":${i}}`);
      assert.equal(m.fields.exchange, 'petrel.x');
      assert.equal(m.fields.routingKey, `t.c${i}`);
      assert.equal(m.properties.deliveryMode, 2);
      assert.equal(m.properties.contentType, 'application/json');
      assert.equal(m.properties.messageId, `m${i}`);
      assert.equal(m.properties.timestamp, 1_700_000_000 + i);
      assert.equal(m.properties.headers?.['mqtt-topic'], `d/${i}`);
    });
  });

  it('connects over TLS checking the server certificate; a certificate from another CA is refused', async () => {
    const c = await rabbitmq.connect(connector(rmq, { port: rmq.tlsPort, pool_size: 1, ssl: { enable: true, cacertfile: pki.ca.crt, verify: 'verify_peer' } }), ctx);
    const a = c.prepare(rabbitmq.parseParameters({ exchange: 'petrel.x', routing_key: 't.tls' }, W));
    await a.send([a.render({})]);
    await c.close();
    assert.equal((await drain(admin, 'q.all', 1))[0]?.fields.routingKey, 't.tls');
    const other = new Pki('Other CA');
    try {
      await assert.rejects(rabbitmq.connect(connector(rmq, { port: rmq.tlsPort, pool_size: 1, ssl: { enable: true, cacertfile: other.ca.crt, verify: 'verify_peer' } }), ctx),
        (err: unknown) => err instanceof SinkError && /certificate/i.test(err.message));
    } finally {
      other.remove();
    }
  });

  it('without waiting for confirms (and non_persistent by default) messages still arrive', async () => {
    const a = conn.prepare(rabbitmq.parseParameters({ exchange: 'petrel.x', routing_key: 't.noconfirm', wait_for_publish_confirmations: false }, W));
    await a.send([a.render({ n: 1 }), a.render({ n: 2 })]);
    const got = await drain(admin, 'q.all', 2);
    assert.deepEqual(got.map((m) => JSON.parse(m.content.toString())), [{ n: 1 }, { n: 2 }]);
    assert.notEqual(got[0]!.properties.deliveryMode, 2);
  });

  it('a wrong password is refused at connect', async () => {
    await assert.rejects(rabbitmq.connect(rabbitmq.parseConnector({ server: rmq.host, port: rmq.port, username: rmq.username, password: 'wrong', pool_size: 1 }, C), ctx),
      (err: unknown) => err instanceof SinkError);
  });

  it('a missing exchange fails the batch without a retry, and the connector goes on working', async () => {
    const bad = conn.prepare(rabbitmq.parseParameters({ exchange: 'petrel.none', routing_key: 'k' }, W));
    await assert.rejects(bad.send([bad.render({})]), (err: unknown) => err instanceof SinkError && !err.retryable && /NOT_FOUND/.test(err.message));
    const good = conn.prepare(rabbitmq.parseParameters({ exchange: 'petrel.x', routing_key: 't.after-404' }, W));
    for (let i = 0; i < 2; i++) await good.send([good.render({ n: i })]); // both pool slots, one reopened
    assert.equal((await drain(admin, 'q.all', 2)).length, 2);
  });

  it('measures msg/s through send() in batches of 100', async () => {
    const a = conn.prepare(rabbitmq.parseParameters({ exchange: 'petrel.x', routing_key: 'bench', payload_template: '${payload}' }, W));
    const payload = 'x'.repeat(100);
    const batches = Array.from({ length: 100 }, () => Array.from({ length: 100 }, () => a.render({ payload })));
    const t0 = process.hrtime.bigint();
    for (const batch of batches) await a.send(batch);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`# rabbitmq: ${Math.round(10_000 / s)} msg/s through send() (100 batches of 100, publisher confirms, one after another)`);
    const ch = await admin.createChannel();
    assert.equal((await ch.checkQueue('q.bench')).messageCount, 10_000);
    await ch.close();
  });

  it('while RabbitMQ is down send() and health() reject retryable; after up() send() succeeds', async () => {
    const a = conn.prepare(rabbitmq.parseParameters({ exchange: 'petrel.x', routing_key: 't.${k}', delivery_mode: 'persistent' }, W));
    await a.send([a.render({ k: 'before' })]);
    await admin.close().catch(() => undefined);
    await rmq.down();
    const t0 = Date.now();
    await assert.rejects(a.send([a.render({ k: 'during' })]), (err: unknown) => err instanceof SinkError && err.retryable);
    await assert.rejects(conn.health(), (err: unknown) => err instanceof SinkError && err.retryable);
    console.log(`# rabbitmq: a send to a stopped broker rejected in ${Date.now() - t0} ms (with the health check)`);
    await rmq.up();
    await conn.health();
    await a.send([a.render({ k: 'after' })]);
    admin = await amqp.connect(url(rmq));
    const keys = (await drain(admin, 'q.all', 2)).map((m) => m.fields.routingKey);
    assert.deepEqual(keys, ['t.before', 't.after']);
  });
});
