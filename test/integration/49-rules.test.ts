/**
 * 49 — the rule engine: rules from the config file and /api/v5/rules run on published messages
 * and $events, off the publish path; republish with templates; metrics; rule_test; bad rules
 * refused with line:column; a failing function counted, not fatal; disable; no republish loop.
 *
 * v3 vs v5: rules see both alike; republished user properties reach v5 subscribers only.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { api, getJson } from '../support/api.js';
import { loadConfig } from '../../broker/src/config/index.js';

let b: TestBroker;
before(async () => {
  b = await startBroker({
    rule_engine: {
      rules: {
        hot: {
          sql: `SELECT payload.temp as t, clientid, topic, pub_props FROM "sensors/+/temp" WHERE payload.temp > 30`,
          actions: [{ function: 'republish', args: { topic: 'alerts/${clientid}', qos: 1, payload: 'hot ${t} from ${topic}', user_properties: '${pub_props.\'User-Property\'}' } }, { function: 'console' }],
        },
        connected: {
          sql: `SELECT clientid FROM "$events/client_connected" WHERE clientid =~ 'ev/#' or clientid = 'watched'`,
          actions: [{ function: 'republish', args: { topic: 'connected/${clientid}', qos: 0, payload: '${clientid}' } }],
        },
      },
    },
  });
});
after(async () => { await b.stop(); });

const json = (method: string, path: string, body?: unknown) =>
  api(b, path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
const metricsOf = async (id: string) => (await getJson<{ metrics: Record<string, number> }>(b, `/api/v5/rules/${id}/metrics`)).metrics;

describe('a rule from the config file', () => {
  it('republishes matching messages to another topic with a template payload, QoS and user properties', async () => {
    const sub = await client(b, { protocolVersion: 5 });
    await sub.subscribeAsync('alerts/#', { qos: 1 });
    const pub = await client(b, { clientId: 'dev1', protocolVersion: 5 });
    await pub.publishAsync('sensors/a/temp', JSON.stringify({ temp: 31.5 }), { qos: 1, properties: { userProperties: { site: 'north' } } });
    await pub.publishAsync('sensors/a/temp', JSON.stringify({ temp: 12 }), { qos: 1 }); // WHERE false
    await pub.publishAsync('sensors/a/humidity', JSON.stringify({ temp: 99 }), { qos: 1 }); // FROM does not match
    const got = collect(sub);
    await until(() => got.length >= 1, 3000, 'republished alert');
    await sleep(150);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.topic, 'alerts/dev1');
    assert.equal(got[0]!.payload, 'hot 31.5 from sensors/a/temp');
    assert.equal(got[0]!.packet.qos, 1);
    assert.deepEqual({ ...got[0]!.packet.properties?.userProperties }, { site: 'north' });
    const m = await metricsOf('hot');
    assert.equal(m.matched, 2);
    assert.equal(m.passed, 1);
    assert.equal(m['failed.no_result'], 1);
    assert.equal(m.failed, 1);
    assert.equal(m['actions.total'], 2); // republish + console
    assert.equal(m['actions.success'], 2);
    await end(sub, pub);
  });

  it('a rule on $events/client_connected republishes the client id (v3.1.1 client)', async () => {
    const sub = await client(b);
    await sub.subscribeAsync('connected/#');
    const c = await client(b, { clientId: 'ev/one', protocolVersion: 4 });
    const got = collect(sub);
    await until(() => got.length >= 1, 3000, 'connected event');
    assert.equal(got[0]!.topic, 'connected/ev/one');
    assert.equal(got[0]!.payload, 'ev/one');
    const m = await metricsOf('connected');
    assert.ok(m.matched >= 2, `matched ${m.matched}`); // the subscriber's connect too (WHERE false)
    assert.equal(m.passed, 1);
    await end(sub, c);
  });

  it('GET /api/v5/rules lists them in EMQX\'s shape, and Prometheus has petrel_rule_*', async () => {
    const page = await getJson<{ data: Array<Record<string, unknown>>; meta: { count: number } }>(b, '/api/v5/rules');
    const hot = page.data.find((r) => r.id === 'hot')!;
    assert.deepEqual(hot.from, ['sensors/+/temp']);
    assert.equal(hot.enable, true);
    assert.equal(typeof hot.created_at, 'string');
    const prom = await (await api(b, '/metrics')).text();
    assert.match(prom, /petrel_rule_matched\{node="[^"]+",id="hot"\} \d+/);
    assert.match(prom, /petrel_rule_actions_success\{node="[^"]+",id="hot"\} \d+/);
  });
});

describe('rules through REST', () => {
  it('a rule created by POST applies at once; PUT enable:false stops it; DELETE removes it', async () => {
    const sub = await client(b);
    await sub.subscribeAsync('out/#');
    const got = collect(sub);
    const r = await json('POST', '/api/v5/rules', {
      id: 'rest1', sql: `SELECT upper(payload) as p, topic FROM "in/#"`,
      actions: [{ function: 'republish', args: { topic: 'out/${topic}', payload: '${p}', qos: 0 } }],
    });
    assert.equal(r.status, 201, await r.clone().text());
    assert.equal((await r.json() as { id: string }).id, 'rest1');
    const pub = await client(b);
    await pub.publishAsync('in/x', 'abc');
    await until(() => got.length >= 1, 3000, 'republish of the REST rule');
    assert.equal(got[0]!.topic, 'out/in/x');
    assert.equal(got[0]!.payload, 'ABC');

    const off = await json('PUT', '/api/v5/rules/rest1', { enable: false });
    assert.equal(off.status, 200);
    assert.equal((await off.json() as { enable: boolean }).enable, false);
    await pub.publishAsync('in/y', 'def');
    await sleep(200);
    assert.equal(got.length, 1, 'a disabled rule republishes nothing');
    assert.equal((await metricsOf('rest1')).matched, 1);

    assert.equal((await json('POST', '/api/v5/rules', { id: 'rest1', sql: 'SELECT * FROM "a"' })).status, 409);
    assert.equal((await json('DELETE', '/api/v5/rules/rest1')).status, 204);
    assert.equal((await api(b, '/api/v5/rules/rest1')).status, 404);
    await end(sub, pub);
  });

  it('a bad SQL is a 400 naming line:column, from REST and from the config file', async () => {
    const r = await json('POST', '/api/v5/rules', { id: 'bad', sql: 'SELECT a,\n  b FROM "t/#" WHERE (x = 1' });
    assert.equal(r.status, 400);
    const body = await r.json() as { code: string; message: string };
    assert.equal(body.code, 'BAD_REQUEST');
    assert.match(body.message, /rule SQL 2:\d+/);
    const unknownFn = await json('POST', '/api/v5/rules', { id: 'bad2', sql: 'SELECT nosuchfn(payload) FROM "t"' });
    assert.equal(unknownFn.status, 400);
    assert.match((await unknownFn.json() as { message: string }).message, /1:8/);
    const sink = await json('POST', '/api/v5/rules', { id: 'bad3', sql: 'SELECT * FROM "t"', actions: ['kafka:k1'] });
    assert.equal(sink.status, 400);
    assert.match((await sink.json() as { message: string }).message, /no action 'kafka:k1'/);
    assert.throws(() => loadConfig({ overrides: { rule_engine: { rules: { r1: { sql: 'SELECT * FROM' } } } } }), /rule_engine\.rules.*rule 'r1'\.sql: rule SQL 1:\d+/s);
  });

  it('a function given the wrong types counts failed.exception and the broker keeps serving', async () => {
    const r = await json('POST', '/api/v5/rules', {
      id: 'typed', sql: `SELECT abs(payload.v) as a FROM "typed/#"`,
      actions: [{ function: 'republish', args: { topic: 'typed-out', payload: '${a}' } }],
    });
    assert.equal(r.status, 201);
    const sub = await client(b);
    await sub.subscribeAsync('typed/#');
    await sub.subscribeAsync('typed-out');
    const got = collect(sub);
    const pub = await client(b);
    await pub.publishAsync('typed/1', JSON.stringify({ v: 'not a number' }));
    await pub.publishAsync('typed/2', JSON.stringify({ v: -4 }));
    await until(() => got.some((m) => m.topic === 'typed-out'), 3000, 'the good message republished');
    assert.equal(got.filter((m) => m.topic.startsWith('typed/')).length, 2, 'both messages delivered as usual');
    assert.equal(got.find((m) => m.topic === 'typed-out')!.payload, '4');
    const m = await metricsOf('typed');
    assert.equal(m['failed.exception'], 1);
    assert.equal(m.passed, 1);
    await end(sub, pub);
    await json('DELETE', '/api/v5/rules/typed');
  });

  it('a republish to a topic the same rule listens to does not loop', async () => {
    const r = await json('POST', '/api/v5/rules', {
      id: 'loop', sql: `SELECT payload FROM "loop/#"`,
      actions: [{ function: 'republish', args: { topic: 'loop/again', payload: '${payload}!' } }],
    });
    assert.equal(r.status, 201);
    const sub = await client(b);
    await sub.subscribeAsync('loop/#');
    const got = collect(sub);
    const pub = await client(b);
    await pub.publishAsync('loop/start', 'x');
    await until(() => got.length >= 2, 3000, 'the original and one republish');
    await sleep(300);
    assert.deepEqual(got.map((m) => [m.topic, m.payload]), [['loop/start', 'x'], ['loop/again', 'x!']]);
    const m = await metricsOf('loop');
    assert.equal(m.matched, 2);
    assert.equal(m['actions.success'], 1);
    assert.equal(m['actions.failed'], 1, 'the recursive republish is refused and counted');
    await end(sub, pub);
    await json('DELETE', '/api/v5/rules/loop');
  });
});

describe('more $events sources', () => {
  it('session_subscribed and message_delivered feed rules with EMQX\'s fields', async () => {
    for (const [id, sql, topic] of [
      ['subs', `SELECT clientid, topic, qos FROM "$events/session_subscribed" WHERE topic = 'watch/me'`, 'seen/sub'],
      ['deliv', `SELECT clientid, from_clientid, topic FROM "$events/message_delivered" WHERE topic = 'watch/me'`, 'seen/deliv'],
    ] as const) {
      const r = await json('POST', '/api/v5/rules', { id, sql, actions: [{ function: 'republish', args: { topic, payload: '${clientid} ${topic} ${from_clientid}', qos: 0 } }] });
      assert.equal(r.status, 201, await r.clone().text());
    }
    const watcher = await client(b);
    await watcher.subscribeAsync('seen/#');
    const seen = collect(watcher);
    const s = await client(b, { clientId: 'subber', protocolVersion: 5 });
    await s.subscribeAsync('watch/me', { qos: 1 });
    const p = await client(b, { clientId: 'pubber' });
    await p.publishAsync('watch/me', 'x', { qos: 1 });
    await until(() => seen.length >= 2, 3000, 'both events republished');
    const byTopic = Object.fromEntries(seen.map((m) => [m.topic, m.payload]));
    assert.equal(byTopic['seen/sub'], 'subber watch/me ');
    assert.equal(byTopic['seen/deliv'], 'subber watch/me pubber');
    await end(watcher, s, p);
    await json('DELETE', '/api/v5/rules/subs');
    await json('DELETE', '/api/v5/rules/deliv');
  });

  it('a malformed body is a 400 naming the field; the node keeps serving', async () => {
    const r = await json('POST', '/api/v5/rules', { id: 'x1', sql: 'SELECT * FROM "t"', actions: 'console' });
    assert.equal(r.status, 400);
    assert.match((await r.json() as { message: string }).message, /actions/);
    const r2 = await json('PUT', '/api/v5/rules/hot', { actions: [{ function: 'republish', args: { topic: 'x', qos: 7 } }] });
    assert.equal(r2.status, 400);
    assert.match((await r2.json() as { message: string }).message, /args\.qos/);
    assert.equal((await getJson<{ sql: string }>(b, '/api/v5/rules/hot')).sql.includes('payload.temp'), true, 'the rule is unchanged');
  });
});

describe('rules created through REST survive a restart', () => {
  it('kept in the node\'s store; a config rule with the same id wins', async () => {
    const cfg = { rule_engine: { rules: { both: { sql: 'SELECT \'from config\' as src FROM "both"', actions: [{ function: 'republish', args: { topic: 'both-out', payload: '${src}' } }] } } } };
    const first = await startBroker(cfg, { keepData: true });
    const dataDir = first.dataDir;
    try {
      const post = (body: unknown) => api(first, '/api/v5/rules', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal((await post({ id: 'kept', sql: 'SELECT payload FROM "keep/in"', actions: [{ function: 'republish', args: { topic: 'keep/out' } }] })).status, 201);
      const put = await api(first, '/api/v5/rules/both', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ description: 'changed by REST' }) });
      assert.equal(put.status, 200);
    } finally { await first.stop(); }
    const second = await startBroker(cfg, { dataDir });
    try {
      const kept = await getJson<{ sql: string; enable: boolean }>(second, '/api/v5/rules/kept');
      assert.equal(kept.sql, 'SELECT payload FROM "keep/in"');
      assert.equal((await getJson<{ description: string }>(second, '/api/v5/rules/both')).description, '', 'the config file wins at start');
      const sub = await client(second);
      await sub.subscribeAsync('keep/out');
      const got = collect(sub);
      const pub = await client(second);
      await pub.publishAsync('keep/in', 'again');
      await until(() => got.length >= 1, 3000, 'the saved rule runs after the restart');
      assert.equal(got[0]!.payload, 'again');
      await end(sub, pub);
    } finally { await second.stop(); }
  });
});

describe('POST /api/v5/rule_test', () => {
  it('runs the SQL over a sample context without publishing', async () => {
    const r = await json('POST', '/api/v5/rule_test', {
      sql: `SELECT payload.msg as m, clientid FROM "t/#" WHERE qos = 1`,
      context: { topic: 't/a', clientid: 'c1', payload: '{"msg":"hi"}', qos: 1 },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { m: 'hi', clientid: 'c1' });
    const ev = await json('POST', '/api/v5/rule_test', { sql: `SELECT clientid, event FROM "$events/client_connected"`, context: { event_type: 'client_connected', clientid: 'x' } });
    assert.deepEqual(await ev.json(), { clientid: 'x', event: 'client.connected' });
    const nomatch = await json('POST', '/api/v5/rule_test', { sql: `SELECT * FROM "t/#" WHERE qos = 2`, context: { topic: 't/a', qos: 1 } });
    assert.equal(nomatch.status, 412);
    assert.equal((await nomatch.json() as { code: string }).code, 'SQL_NOT_MATCH');
    const bad = await json('POST', '/api/v5/rule_test', { sql: `SELECT FROM "t"`, context: {} });
    assert.equal(bad.status, 400);
    assert.match((await bad.json() as { message: string }).message, /1:\d+/);
  });
});
