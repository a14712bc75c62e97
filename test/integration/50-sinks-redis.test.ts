/**
 * 50 — the redis sink against a real redis-server: command_template arguments rendered per
 * message, batches as MULTI/EXEC, a command Redis refuses (WRONGTYPE) counted failed, Redis
 * taken down and brought back with every command applied once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startBroker, client, until, end, type TestBroker } from '../support/broker.js';
import { startRedis, type TestService } from '../support/services.js';
import { actionMetrics, actionStatus } from './50-sinks-support.js';

let rs: TestService;
let b: TestBroker;
let r: Redis;

before(async () => {
  rs = await startRedis();
  r = new Redis({ host: '127.0.0.1', port: rs.port, password: rs.password, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  r.on('error', () => {});
  await r.connect();
  b = await startBroker({
    connectors: { redis: { r1: { server: `127.0.0.1:${rs.port}`, redis_type: 'single', database: 0, password: rs.password, resource_opts: { health_check_interval: '300ms' } } } },
    actions: {
      redis: {
        hset: { connector: 'r1', parameters: { command_template: ['HSET', 'dev:${clientid}', 'temp', '${payload.temp}'] }, resource_opts: { batch_size: 10, batch_time: '20ms', request_ttl: 'infinity', inflight_window: 1, health_check_interval: '300ms' } },
        push: { connector: 'r1', parameters: { command_template: ['RPUSH', '${payload.key}', '${payload.n}'] }, resource_opts: { request_ttl: 'infinity', inflight_window: 1, health_check_interval: '300ms' } },
      },
    },
    rule_engine: { rules: { h: { sql: 'SELECT * FROM "r/h/#"', actions: ['redis:hset'] }, p: { sql: 'SELECT * FROM "r/p/#"', actions: ['redis:push'] } } },
  });
  await until(async () => (await actionStatus(b, 'redis:hset')).status === 'connected', 10_000, 'connected');
});
after(async () => { await b?.stop(); r?.disconnect(); await rs?.stop(); });

describe('50 redis sink', () => {
  it('HSET with templated key and value, many clients in batches', async () => {
    const pubs = await Promise.all([1, 2, 3].map((i) => client(b, { clientId: `dev${i}` })));
    await Promise.all(pubs.map((p, i) => p.publishAsync('r/h/x', JSON.stringify({ temp: 20 + i }), { qos: 1 })));
    await until(async () => (await actionMetrics(b, 'redis:hset')).success === 3, 5000, 'three HSETs');
    assert.equal(await r.hget('dev:dev1', 'temp'), '20');
    assert.equal(await r.hget('dev:dev3', 'temp'), '22');
    await end(...pubs);
  });

  it('a command Redis refuses (WRONGTYPE) is counted failed and not retried', async () => {
    await r.set('str', 'x');
    const pub = await client(b);
    await pub.publishAsync('r/p/x', JSON.stringify({ key: 'str', n: 1 }), { qos: 1 });
    await until(async () => (await actionMetrics(b, 'redis:push')).failed === 1, 5000, 'failed');
    assert.equal((await actionMetrics(b, 'redis:push')).retried, 0);
    await end(pub);
  });

  it('Redis down mid-stream: every command applied exactly once, in order, when it is back', async () => {
    const pub = await client(b);
    await rs.down();
    await until(async () => (await actionStatus(b, 'redis:push')).status === 'disconnected', 5000, 'disconnected');
    const N = 40;
    for (let i = 0; i < N; i++) await pub.publishAsync('r/p/x', JSON.stringify({ key: 'list', n: i }), { qos: 1 });
    await rs.up();
    await until(async () => { try { return (await r.llen('list')) >= N; } catch { return false; } }, 20_000, 'all pushed');
    assert.deepEqual(await r.lrange('list', 0, -1), Array.from({ length: N }, (_, i) => String(i)));
    await end(pub);
  });

  it('Redis away when the broker starts: the connector keeps trying, outputs wait unrendered, and are sent once it answers', async () => {
    await rs.down();
    const b2 = await startBroker({
      connectors: { redis: { r2: { server: `127.0.0.1:${rs.port}`, password: rs.password, resource_opts: { health_check_interval: '300ms' } } } },
      actions: { redis: { set: { connector: 'r2', parameters: { command_template: ['SET', 'late:${payload.n}', '${clientid}'] }, resource_opts: { request_ttl: 'infinity' } } } },
      rule_engine: { rules: { late: { sql: 'SELECT * FROM "late/#"', actions: ['redis:set'] } } },
    });
    try {
      const st = await actionStatus(b2, 'redis:set');
      assert.notEqual(st.status, 'connected');
      const pub = await client(b2, { clientId: 'early' });
      for (let i = 0; i < 5; i++) await pub.publishAsync('late/x', JSON.stringify({ n: i }), { qos: 1 });
      await until(async () => (await actionMetrics(b2, 'redis:set')).queuing === 5, 5000, 'queued');
      await rs.up();
      await until(async () => (await actionMetrics(b2, 'redis:set')).success === 5, 20_000, 'sent after Redis came up');
      assert.equal(await r.get('late:4'), 'early');
      await end(pub);
    } finally { await b2.stop(); }
  });
});
