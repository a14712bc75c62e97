/**
 * 43 — Redis, PostgreSQL and MariaDB as authentication and authorization backends, against the
 * real servers (test/support/services.ts), wired into a broker through its hook points the way
 * the chains do: `ignore` / `nomatch` pass on; a last hook refuses with 0x87 whatever nobody
 * decided, so "ignored" and "denied" (0x86) tell apart over MQTT.
 *
 * Each backend: allow, wrong password, unknown user, superuser, ACL rows; usernames that try
 * SQL injection or split a Redis command; the server stopped mid-test (clients get the
 * fallback, the log has one line for the outage, nothing crashes) and started again (the
 * backend answers again with no more connections than its pool); close() leaves no connection.
 * The median cost of one authentication is reported as a test diagnostic.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, startBroker, until, type TestBroker } from '../support/broker.js';
import { startMariadb, startPostgres, startRedis, type TestService } from '../support/services.js';
import { redisAuthnKind, redisAuthzKind, postgresqlAuthnKind, postgresqlAuthzKind, mysqlAuthnKind, mysqlAuthzKind } from '../../broker/src/access/backends/index.js';
import { hashPassword, type HashAlgorithm } from '../../broker/src/access/authn/password-hash.js';
import type { AccessContext, Authenticator, AuthenticatorKind, AuthzAnswer, AuthzSource, AuthzSourceKind } from '../../broker/src/access/types.js';
import type { AuthRequest, ClientInfo } from '../../broker/src/hooks.js';

const ALG: HashAlgorithm = { name: 'sha256', salt_position: 'prefix' };
const POOL = 2;
const USERS: Array<[string, string, boolean]> = [['alice', 'alice-pw', false], ['root', 'root-pw', true], ['a b', 'space-pw', false]];
const INJECTIONS = ["' OR '1'='1", "x' ; DROP TABLE mqtt_user; --", 'alice password_hash', '*'];

/** What a test needs of one backend: its kinds, their config, and an admin connection. */
interface Backend {
  name: string;
  authnKind: AuthenticatorKind; authzKind: AuthzSourceKind;
  authnRaw: Record<string, unknown>; authzRaw: Record<string, unknown>;
  /** Redis keeps allow rules only: the denied topic is allowed there. */
  secret: AuthzAnswer;
  svc: TestService;
  /** Connections the backend under test holds on the server. */
  connections(): Promise<number>;
  /** Users left in the user table (proof that no injected statement ran). */
  userCount(): Promise<number>;
  close(): Promise<void>;
}

async function redisBackend(): Promise<Backend> {
  const svc = await startRedis();
  const admin = new Redis({ port: svc.port, password: svc.password, lazyConnect: true, retryStrategy: () => 200, maxRetriesPerRequest: 0 });
  await admin.connect();
  for (const [u, pw, su] of USERS) {
    const h = await hashPassword(ALG, pw);
    await admin.hset(`mqtt_user:${u}`, { password_hash: h.password_hash, salt: h.salt, is_superuser: su ? '1' : '0' });
  }
  await admin.hset('mqtt_acl:alice', { 'devices/${username}/#': 'publish', 'cmd/${clientid}': '{"action":"subscribe","qos":[1]}', 'broken/rule': 'write' });
  const conn = { server: `127.0.0.1:${svc.port}`, password: svc.password, pool_size: POOL };
  return {
    name: 'redis', authnKind: redisAuthnKind, authzKind: redisAuthzKind, secret: 'allow', svc,
    authnRaw: { mechanism: 'password_based', backend: 'redis', redis_type: 'single', ...conn, cmd: 'HMGET mqtt_user:${username} password_hash salt is_superuser', password_hash_algorithm: ALG },
    authzRaw: { type: 'redis', ...conn, cmd: 'HGETALL mqtt_acl:${username}' },
    async connections() { return String(await admin.call('CLIENT', 'LIST')).split('\n').filter((l) => l.includes('name=petrel-access')).length; },
    async userCount() { return (await admin.keys('mqtt_user:*')).length; },
    async close() { admin.disconnect(); await svc.stop(); },
  };
}

const USER_TABLE = (text: string, bool: string) => `CREATE TABLE mqtt_user (id SERIAL PRIMARY KEY, username ${text} UNIQUE, password_hash ${text}, salt ${text}, is_superuser ${bool})`;
const ACL_TABLE = (text: string) => `CREATE TABLE mqtt_acl (id SERIAL PRIMARY KEY, username ${text}, permission ${text}, action ${text}, topic ${text}, qos ${text}, retain ${text})`;
const ACL_ROWS: Array<[string, string, string, string | null, string | null]> = [
  ['deny', 'publish', 'devices/alice/secret', null, null],
  ['allow', 'publish', 'devices/${username}/#', null, null],
  ['allow', 'subscribe', 'cmd/${clientid}', '1', null],
  ['maybe', 'publish', 'broken/rule', null, null],
];
const AUTHN_QUERY = 'SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = ${username} LIMIT 1';
const AUTHZ_QUERY = 'SELECT permission, action, topic, qos, retain FROM mqtt_acl WHERE username = ${username} ORDER BY id';

async function postgresBackend(): Promise<Backend> {
  const svc = await startPostgres();
  const admin = new pg.Client({ host: svc.host, port: svc.port, user: svc.username, password: svc.password, database: svc.database });
  admin.on('error', () => {}); // the server is stopped mid-test; this client is reopened after
  await admin.connect();
  await admin.query(USER_TABLE('TEXT', 'BOOLEAN'));
  await admin.query(ACL_TABLE('TEXT'));
  for (const [u, pw, su] of USERS) {
    const h = await hashPassword(ALG, pw);
    await admin.query('INSERT INTO mqtt_user (username, password_hash, salt, is_superuser) VALUES ($1, $2, $3, $4)', [u, h.password_hash, h.salt, su]);
  }
  for (const row of ACL_ROWS) await admin.query('INSERT INTO mqtt_acl (username, permission, action, topic, qos, retain) VALUES ($1, $2, $3, $4, $5, $6)', ['alice', ...row]);
  const conn = { server: `127.0.0.1:${svc.port}`, database: svc.database, username: svc.username, password: svc.password, pool_size: POOL };
  const ask = async (sql: string): Promise<number> => {
    const c = new pg.Client({ host: svc.host, port: svc.port, user: svc.username, password: svc.password, database: svc.database });
    await c.connect();
    try { return Number((await c.query(sql)).rows[0].n); } finally { await c.end(); }
  };
  await admin.end();
  return {
    name: 'postgresql', authnKind: postgresqlAuthnKind, authzKind: postgresqlAuthzKind, secret: 'deny', svc,
    authnRaw: { mechanism: 'password_based', backend: 'postgresql', ...conn, query: AUTHN_QUERY, password_hash_algorithm: ALG },
    authzRaw: { type: 'postgresql', ...conn, query: AUTHZ_QUERY },
    connections: () => ask("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'petrel-access'"),
    userCount: () => ask('SELECT count(*) AS n FROM mqtt_user'),
    close: () => svc.stop(),
  };
}

async function mariadbBackend(): Promise<Backend> {
  const svc = await startMariadb();
  const opts = { host: svc.host, port: svc.port, user: svc.username, password: svc.password, database: svc.database };
  const admin = await mysql.createConnection(opts);
  await admin.query(USER_TABLE('VARCHAR(100)', 'TINYINT(1)').replace('SERIAL', 'INT AUTO_INCREMENT'));
  await admin.query(ACL_TABLE('VARCHAR(100)').replace('SERIAL', 'INT AUTO_INCREMENT'));
  for (const [u, pw, su] of USERS) {
    const h = await hashPassword(ALG, pw);
    await admin.execute('INSERT INTO mqtt_user (username, password_hash, salt, is_superuser) VALUES (?, ?, ?, ?)', [u, h.password_hash, h.salt, su ? 1 : 0]);
  }
  for (const row of ACL_ROWS) await admin.execute('INSERT INTO mqtt_acl (username, permission, action, topic, qos, retain) VALUES (?, ?, ?, ?, ?, ?)', ['alice', ...row]);
  await admin.end();
  const conn = { server: `127.0.0.1:${svc.port}`, database: svc.database, username: svc.username, password: svc.password, pool_size: POOL };
  const ask = async (sql: string): Promise<number> => {
    const c = await mysql.createConnection(opts);
    try { const [rows] = await c.query(sql); return Number((rows as Array<{ n: number }>)[0].n); } finally { await c.end(); }
  };
  return {
    name: 'mysql (MariaDB)', authnKind: mysqlAuthnKind, authzKind: mysqlAuthzKind, secret: 'deny', svc,
    authnRaw: { mechanism: 'password_based', backend: 'mysql', ...conn, query: AUTHN_QUERY, password_hash_algorithm: ALG },
    authzRaw: { type: 'mysql', ...conn, query: AUTHZ_QUERY },
    connections: () => ask(`SELECT count(*) AS n FROM information_schema.processlist WHERE user = '${svc.username}' AND id <> CONNECTION_ID()`),
    userCount: () => ask('SELECT count(*) AS n FROM mqtt_user'),
    close: () => svc.stop(),
  };
}

// ---------------------------------------------------------------- helpers

function parsed<T>(r: { ok: true; value: T } | { ok: false; error: string }): T { if (!r.ok) throw new Error(r.error); return r.value; }

/** A logger whose lines the test reads. */
function captureLog(): { ctx: AccessContext; lines: Array<{ level: string; msg: string; backend?: string }> } {
  const lines: Array<{ level: string; msg: string; backend?: string }> = [];
  const log = pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, { write: (s: string) => { lines.push(JSON.parse(s)); } });
  // The external backends keep nothing in the node's store.
  return { ctx: { store: null as never, log, configDir: '.', clientAcl: new WeakMap() }, lines };
}

/** Plugs an authenticator and a source into the broker as the chains will; a last hook refuses what nobody decided. */
function wire(b: TestBroker, authn: Authenticator, authz: AuthzSource): void {
  b.node.hooks.add('client.authenticate', async (req) => {
    const o = await authn.authenticate(req);
    if (o.result === 'ignore') return undefined;
    if (o.result === 'allow') return { result: 'allow', isSuperuser: o.isSuperuser };
    return o;
  }, 10);
  b.node.hooks.add('client.authenticate', () => ({ result: 'deny', reason: 'NOT_AUTHORIZED' }), 0);
  b.node.hooks.add('client.authorize', async (req) => { const a = await authz.authorize(req); return a === 'nomatch' ? undefined : a; });
}

/** CONNACK reason code of a v5 connect (0 = accepted); the client is closed. */
async function connack(b: TestBroker, username: string, password: string, clientId = 'c1'): Promise<number> {
  const c = mqtt.connect({ host: '127.0.0.1', port: b.port, username, password, clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000 });
  const code = await new Promise<number>((ok) => { c.once('connect', () => ok(0)); c.once('error', (e: Error & { code?: number }) => ok(e.code ?? -1)); });
  await c.endAsync();
  return code;
}

function request(username: string, password: string | null): AuthRequest {
  return { client: clientInfo(username), password: password === null ? null : Buffer.from(password), method: null, data: null, phase: 'connect', state: {} };
}

function clientInfo(username: string, clientId = 'c1'): ClientInfo {
  return { clientId, username, peerHost: '127.0.0.1', peerPort: 1, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// ---------------------------------------------------------------- the suite, once per backend

for (const make of [redisBackend, postgresBackend, mariadbBackend]) {
  describe(`access backend: ${make.name.replace(/Backend$/, '')}`, () => {
    let be: Backend;
    let broker: TestBroker;
    let authn: Authenticator;
    let authz: AuthzSource;
    const { ctx, lines } = captureLog();

    before(async () => {
      be = await make();
      authn = be.authnKind.create(parsed(be.authnKind.parse(be.authnRaw)), ctx);
      authz = be.authzKind.create(parsed(be.authzKind.parse(be.authzRaw)), ctx);
      broker = await startBroker({ authorization: { no_match: 'deny', cache: { enable: false } } });
      wire(broker, authn, authz);
    });
    after(async () => {
      await broker?.stop();
      await authn?.close();
      await authz?.close();
      await be?.close();
    });

    test('authentication over MQTT: allow, wrong password 0x86, unknown user ignored (0x87 from the fallback)', async () => {
      assert.equal(await connack(broker, 'alice', 'alice-pw'), 0);
      assert.equal(await connack(broker, 'alice', 'wrong'), 0x86);
      assert.equal(await connack(broker, 'nobody', 'x'), 0x87);
      assert.equal(await connack(broker, 'a b', 'space-pw'), 0, 'a username with a space is one key');
      assert.deepEqual(await authn.authenticate(request('alice', null)), { result: 'ignore' }, 'no password: not for this authenticator');
    });

    test('authorization rows: allow, deny, nomatch; qos conditions; placeholders in row topics; a bad row skipped', async () => {
      const ask = (action: 'publish' | 'subscribe', topic: string, qos: 0 | 1 | 2 = 0, username = 'alice') =>
        authz.authorize({ client: clientInfo(username), action, topic, qos, retain: false });
      assert.equal(await ask('publish', 'devices/alice/temp'), 'allow');
      assert.equal(await ask('publish', 'devices/alice/secret'), be.secret);
      assert.equal(await ask('publish', 'devices/bob/temp'), 'nomatch');
      assert.equal(await ask('subscribe', 'cmd/c1', 1), 'allow');
      assert.equal(await ask('subscribe', 'cmd/c1', 2), 'nomatch', 'the rule covers QoS 1 only');
      assert.equal(await ask('publish', 'broken/rule'), 'nomatch', 'the broken row is skipped');
      assert.equal(await ask('publish', 'devices/bob/temp', 0, 'bob'), 'nomatch', 'no rows');
      assert.ok(lines.some((l) => /rule (row )?skipped/.test(l.msg)), 'the bad row is logged');
    });

    test('over MQTT: rows decide publishes; a superuser skips authorization', async () => {
      const alice = await mqtt.connectAsync({ host: '127.0.0.1', port: broker.port, username: 'alice', password: 'alice-pw', protocolVersion: 5, reconnectPeriod: 0 });
      await alice.publishAsync('devices/alice/temp', '21', { qos: 1 });
      await assert.rejects(alice.publishAsync('elsewhere/x', '1', { qos: 1 }), (e: Error & { code?: number }) => e.code === 0x87, 'nomatch → no_match: deny');
      await alice.endAsync();
      const root = await mqtt.connectAsync({ host: '127.0.0.1', port: broker.port, username: 'root', password: 'root-pw', protocolVersion: 5, reconnectPeriod: 0 });
      await root.publishAsync('elsewhere/x', '1', { qos: 1 });
      await root.endAsync();
    });

    test('placeholder injection is harmless: such usernames are simply not found', async () => {
      for (const u of INJECTIONS) {
        assert.deepEqual(await authn.authenticate(request(u, 'alice-pw')), { result: 'ignore' }, u);
        assert.equal(await authz.authorize({ client: clientInfo(u), action: 'publish', topic: 'devices/alice/temp', qos: 0, retain: false }), 'nomatch', u);
      }
      assert.equal(await be.userCount(), USERS.length, 'the user table is intact');
    });

    test('the server stopped: ignore/nomatch, one log line for the outage, no crash; it comes back with no leaked connection', async () => {
      const before = lines.length;
      await be.svc.down();
      for (let i = 0; i < 5; i++) assert.equal(await connack(broker, 'alice', 'alice-pw', `down-${i}`), 0x87, 'authentication passed on to the fallback');
      const o = await authn.authenticate(request('alice', 'alice-pw'));
      assert.equal(o.result, 'ignore');
      assert.ok(o.result === 'ignore' && typeof o.error === 'string' && o.error.length > 0, 'the outcome says why');
      assert.equal(await authz.authorize({ client: clientInfo('alice'), action: 'publish', topic: 'devices/alice/temp', qos: 0, retain: false }), 'nomatch');
      const errors = lines.slice(before).filter((l) => l.level === 'error');
      assert.equal(errors.filter((l) => l.backend?.startsWith('password_based')).length, 1, `one authentication line: ${JSON.stringify(errors)}`);
      assert.equal(errors.filter((l) => l.backend?.startsWith('authorization')).length, 1, 'one authorization line');
      assert.match(errors[0].msg, /backend failing \(.+\)/);

      await be.svc.up();
      await until(async () => (await connack(broker, 'alice', 'alice-pw', 'back')) === 0, 20_000, `${be.name} answering again`);
      await until(async () => (await authz.authorize({ client: clientInfo('alice'), action: 'publish', topic: 'devices/alice/temp', qos: 0, retain: false })) === 'allow', 20_000, 'authorization again');
      assert.ok(lines.some((l) => l.level === 'warn' && /answering again/.test(l.msg)), 'recovery logged');
      // A burst of concurrent clients cannot push either pool past pool_size.
      await Promise.all(Array.from({ length: 20 }, (_, i) => Promise.resolve(authn.authenticate(request('alice', 'alice-pw'))).then((r) => assert.equal(r.result, 'allow', `burst ${i}`))));
      const n = await be.connections();
      assert.ok(n >= 1 && n <= 2 * POOL, `${n} server connections for two pools of ${POOL}`);
    });

    test('cost of one authentication (median), and close() leaves no connection on the server', async (t) => {
      const ms: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = process.hrtime.bigint();
        const r = await authn.authenticate(request('alice', 'alice-pw'));
        ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
        assert.equal(r.result, 'allow');
      }
      const conn: number[] = [];
      for (let i = 0; i < 20; i++) { const t0 = Date.now(); assert.equal(await connack(broker, 'alice', 'alice-pw', `m${i}`), 0); conn.push(Date.now() - t0); }
      t.diagnostic(`${be.name}: authentication median ${median(ms).toFixed(2)} ms (200 sequential, sha256), MQTT connect with it median ${median(conn)} ms`);
      await authn.close();
      await authz.close();
      await until(async () => (await be.connections()) === 0, 10_000, 'connections closed');
    });
  });
}

test('TLS: Redis and PostgreSQL with ssl.enable, verify_peer and a CA file; the wrong CA is a failure, not a crash', async () => {
  const dir = join(repoRoot(), 'test', 'fixtures', 'tls');
  const tls = { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
  const { ctx } = captureLog();
  const ssl = (ca: string) => ({ enable: true, verify: 'verify_peer', cacertfile: join(dir, ca) });
  const redis = await startRedis({ tls });
  const pgs = await startPostgres({ tls });
  const made: Authenticator[] = [];
  const make = (kind: AuthenticatorKind, raw: Record<string, unknown>) => { const a = kind.create(parsed(kind.parse(raw)), ctx); made.push(a); return a; };
  try {
    const admin = new Redis({ port: redis.port, password: redis.password, tls: { ca: readFileSync(join(dir, 'ca.crt')) }, maxRetriesPerRequest: 0 });
    const h = await hashPassword(ALG, 'pw');
    await admin.hset('mqtt_user:alice', { password_hash: h.password_hash, salt: h.salt });
    admin.disconnect();
    const rcfg = { server: `127.0.0.1:${redis.port}`, password: redis.password, pool_size: 1, cmd: 'HMGET mqtt_user:${username} password_hash salt', password_hash_algorithm: ALG };
    assert.deepEqual(await make(redisAuthnKind, { ...rcfg, ssl: ssl('ca.crt') }).authenticate(request('alice', 'pw')), { result: 'allow', isSuperuser: false });
    const bad = await make(redisAuthnKind, { ...rcfg, ssl: ssl('rogue-ca.crt') }).authenticate(request('alice', 'pw'));
    assert.equal(bad.result, 'ignore');

    const db = new pg.Client({ host: pgs.host, port: pgs.port, user: pgs.username, password: pgs.password, database: pgs.database });
    await db.connect();
    await db.query(USER_TABLE('TEXT', 'BOOLEAN'));
    await db.query('INSERT INTO mqtt_user (username, password_hash, salt) VALUES ($1, $2, $3)', ['alice', h.password_hash, h.salt]);
    const pcfg = { server: `127.0.0.1:${pgs.port}`, database: pgs.database, username: pgs.username, password: pgs.password, pool_size: 1, query: AUTHN_QUERY, password_hash_algorithm: ALG };
    assert.deepEqual(await make(postgresqlAuthnKind, { ...pcfg, ssl: ssl('ca.crt') }).authenticate(request('alice', 'pw')), { result: 'allow', isSuperuser: false });
    const viaTls = await db.query("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'petrel-access'");
    assert.deepEqual(viaTls.rows, [{ ssl: true }], 'the backend connection is encrypted');
    const badPg = await make(postgresqlAuthnKind, { ...pcfg, ssl: ssl('rogue-ca.crt') }).authenticate(request('alice', 'pw'));
    assert.ok(badPg.result === 'ignore' && /certificate/i.test(badPg.error ?? ''), JSON.stringify(badPg));
    await db.end();
  } finally {
    for (const a of made) await a.close();
    await redis.stop();
    await pgs.stop();
  }
});
