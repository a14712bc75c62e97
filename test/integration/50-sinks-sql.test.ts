/**
 * 50 — the pgsql and mysql sinks against real PostgreSQL and MariaDB (test/support/services.ts):
 * placeholders bound as parameters with their types (numbers stay numbers, booleans booleans,
 * maps as JSON text, a quote in a value harmless); batches as multi-row INSERTs; a constraint
 * violation counted failed and not retried; PostgreSQL taken down mid-stream and brought back —
 * every message ends up as exactly one row.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { startBroker, client, until, end, sleep, type TestBroker } from '../support/broker.js';
import { startMariadb, startPostgres, type TestService } from '../support/services.js';
import { actionMetrics, actionStatus, ruleMetrics } from './50-sinks-support.js';

let pgs: TestService;
let maria: TestService;
let b: TestBroker;
let pgc: pg.Client;
let my: mysql.Connection;

const pgConnect = async (): Promise<pg.Client> => {
  const c = new pg.Client({ host: '127.0.0.1', port: pgs.port, user: pgs.username, password: pgs.password, database: pgs.database });
  c.on('error', () => {});
  await c.connect();
  return c;
};

before(async () => {
  [pgs, maria] = await Promise.all([startPostgres(), startMariadb()]);
  pgc = await pgConnect();
  await pgc.query('CREATE TABLE t_msg (id serial PRIMARY KEY, clientid text NOT NULL, temp double precision, cnt integer, ok boolean, meta text, n integer)');
  my = await mysql.createConnection({ host: '127.0.0.1', port: maria.port, user: maria.username, password: maria.password, database: maria.database });
  await my.query('CREATE TABLE t_msg (id INT AUTO_INCREMENT PRIMARY KEY, clientid VARCHAR(64) NOT NULL, temp DOUBLE, cnt INT, meta TEXT, n INT)');
  const db = (s: TestService) => ({ server: `127.0.0.1:${s.port}`, database: s.database, username: s.username, password: s.password, pool_size: 4, resource_opts: { health_check_interval: '300ms' } });
  const sql = 'INSERT INTO t_msg(clientid, temp, cnt, ok, meta, n) VALUES(${clientid}, ${payload.temp}, ${payload.cnt}, ${payload.ok}, ${payload.meta}, ${payload.n})';
  b = await startBroker({
    connectors: { pgsql: { pg1: db(pgs) }, mysql: { my1: db(maria) } },
    actions: {
      pgsql: { ins: { connector: 'pg1', parameters: { sql }, resource_opts: { batch_size: 20, batch_time: '50ms', request_ttl: 'infinity', inflight_window: 1, health_check_interval: '300ms' } } },
      mysql: { ins: { connector: 'my1', parameters: { sql: "INSERT INTO t_msg(clientid, temp, cnt, meta, n) VALUES('${clientid}', ${payload.temp}, ${payload.cnt}, ${payload.meta}, ${payload.n})" }, resource_opts: { batch_size: 20, batch_time: '50ms', request_ttl: 'infinity' } } },
    },
    rule_engine: {
      rules: {
        to_pg: { sql: 'SELECT * FROM "db/#"', actions: ['pgsql:ins'] },
        to_my: { sql: 'SELECT * FROM "db/#"', actions: ['mysql:ins'] },
      },
    },
  });
  await until(async () => (await actionStatus(b, 'pgsql:ins')).status === 'connected' && (await actionStatus(b, 'mysql:ins')).status === 'connected', 15_000, 'connected');
});

after(async () => {
  await b?.stop();
  await pgc?.end().catch(() => {});
  await my?.end().catch(() => {});
  await Promise.all([pgs?.stop(), maria?.stop()]);
});

describe('50 sql sinks', () => {
  it('rows land in PostgreSQL and MariaDB with their types; a quote in a value is data, not SQL', async () => {
    const pub = await client(b, { clientId: "o'brien" });
    await pub.publishAsync('db/a', JSON.stringify({ temp: 21.5, cnt: 7, ok: true, meta: { a: [1, 2] }, n: 1 }), { qos: 1 });
    await until(async () => (await actionMetrics(b, 'pgsql:ins')).success === 1 && (await actionMetrics(b, 'mysql:ins')).success === 1, 10_000, 'both inserted');
    const p = (await pgc.query('SELECT clientid, temp, cnt, ok, meta, n FROM t_msg')).rows;
    assert.deepEqual(p, [{ clientid: "o'brien", temp: 21.5, cnt: 7, ok: true, meta: '{"a":[1,2]}', n: 1 }]);
    const types = (await pgc.query("SELECT pg_typeof(temp)::text AS t, pg_typeof(cnt)::text AS c FROM t_msg")).rows[0];
    assert.deepEqual(types, { t: 'double precision', c: 'integer' });
    const [rows] = await my.query('SELECT clientid, temp, cnt, meta, n FROM t_msg') as [Array<Record<string, unknown>>, unknown];
    assert.deepEqual(rows.map((r) => ({ ...r })), [{ clientid: "o'brien", temp: 21.5, cnt: 7, meta: '{"a":[1,2]}', n: 1 }]);
    assert.equal(typeof rows[0]!.cnt, 'number');
    await until(async () => (await ruleMetrics(b, 'to_pg'))['actions.success'] === 1, 3000, 'rule success');
    await end(pub);
  });

  it('a batch of messages becomes rows, one each, in both databases', async () => {
    const pub = await client(b, { clientId: 'batcher' });
    for (let i = 0; i < 45; i++) pub.publish('db/b', JSON.stringify({ temp: i / 2, cnt: i, n: 100 + i }), { qos: 0 });
    await until(async () => Number((await pgc.query("SELECT count(*) FROM t_msg WHERE clientid = 'batcher'")).rows[0].count) === 45, 10_000, 'pg rows');
    await until(async () => { const [r] = await my.query("SELECT count(*) AS c FROM t_msg WHERE clientid = 'batcher'") as [Array<{ c: number }>, unknown]; return Number(r[0]!.c) === 45; }, 10_000, 'mysql rows');
    const s = (await pgc.query("SELECT sum(cnt)::int AS s FROM t_msg WHERE clientid = 'batcher'")).rows[0];
    assert.equal(s.s, (44 * 45) / 2);
    await end(pub);
  });

  it('a row the database refuses (a CHECK constraint) is counted failed and not retried', async () => {
    await pgc.query('ALTER TABLE t_msg ADD CONSTRAINT n_small CHECK (n < 100000)');
    const before = await actionMetrics(b, 'pgsql:ins');
    const pub = await client(b, { clientId: 'refused' });
    await pub.publishAsync('db/c', JSON.stringify({ n: 200000 }), { qos: 1 });
    await until(async () => (await actionMetrics(b, 'pgsql:ins')).failed === before.failed + 1, 5000, 'failed');
    await sleep(300);
    const m = await actionMetrics(b, 'pgsql:ins');
    assert.equal(m.retried, before.retried);
    assert.equal(m.queuing, 0);
    await pgc.query('ALTER TABLE t_msg DROP CONSTRAINT n_small');
    await end(pub);
  });

  it('PostgreSQL down mid-stream: status disconnected; N messages wait and each becomes exactly one row when it is back', async () => {
    const pub = await client(b, { clientId: 'outage' });
    await pub.publishAsync('db/d', JSON.stringify({ n: 0 }), { qos: 1 });
    await until(async () => Number((await pgc.query("SELECT count(*) FROM t_msg WHERE clientid = 'outage'")).rows[0].count) === 1, 5000, 'first row');
    await pgc.end().catch(() => {});
    await pgs.down();
    const N = 50;
    for (let i = 1; i <= N; i++) await pub.publishAsync('db/d', JSON.stringify({ n: i }), { qos: 1 });
    await until(async () => (await actionStatus(b, 'pgsql:ins')).status === 'disconnected', 10_000, 'disconnected');
    await pgs.up();
    pgc = await pgConnect();
    await until(async () => Number((await pgc.query("SELECT count(*) FROM t_msg WHERE clientid = 'outage'")).rows[0].count) >= N + 1, 30_000, 'all rows');
    await sleep(500);
    const rows = (await pgc.query("SELECT n FROM t_msg WHERE clientid = 'outage' ORDER BY id")).rows.map((r) => r.n as number);
    assert.deepEqual(rows, Array.from({ length: N + 1 }, (_, i) => i), 'each exactly once, in order');
    await until(async () => (await actionStatus(b, 'pgsql:ins')).status === 'connected', 10_000, 'connected again');
    assert.equal((await actionMetrics(b, 'pgsql:ins')).dropped, 0);
    await end(pub);
  });
});
