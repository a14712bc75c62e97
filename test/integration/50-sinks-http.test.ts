/**
 * 50 — the http sink against a node:http server in the test: method, path, headers and body
 * templates; a 500 retried and delivered once; a 4xx counted failed; the server taken away
 * mid-stream and brought back on the same port (every message arrives exactly once, in order;
 * status goes disconnected and back); a small max_buffer_bytes drops exactly the overflow (the
 * oldest); the buffer survives a broker restart; REST create/delete and clear 400s; a bad
 * reference in the config file stops the start naming the key.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, client, until, end, sleep, type TestBroker } from '../support/broker.js';
import { api, getJson } from '../support/api.js';
import { freePort } from '../support/etcd-cluster.js';
import { actionMetrics, actionStatus, call, ruleMetrics } from './50-sinks-support.js';

interface Req { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

/** An HTTP target that records requests, answers `statuses` first (then 200), and can go away. */
class Target {
  reqs: Req[] = [];
  statuses: number[] = [];
  port = 0;
  private server: http.Server | null = null;
  async up(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const s = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        this.reqs.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.statusCode = this.statuses.shift() ?? 200;
        res.end('ok');
      });
    });
    await new Promise<void>((r) => s.listen(this.port, '127.0.0.1', r));
    this.server = s;
  }
  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s === null) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  on(prefix: string): Req[] { return this.reqs.filter((r) => r.url.startsWith(prefix)); }
}

const t = new Target();
let b: TestBroker;
let dataDir: string;

const config = () => ({
  connectors: { http: { hook: { url: `http://127.0.0.1:${t.port}/base`, headers: { 'x-conn': 'c' }, resource_opts: { health_check_interval: '300ms' } } } },
  actions: {
    http: {
      main: {
        connector: 'hook',
        parameters: { method: 'put', path: '/m/${clientid}', headers: { 'x-topic': '${topic}' }, body: '{"t": ${payload.t}, "n": ${payload.n}, "c": "${clientid}"}', max_retries: 1 },
        resource_opts: { request_ttl: 'infinity', inflight_window: 1, health_check_interval: '300ms' },
      },
      small: { connector: 'hook', parameters: { path: '/small' }, resource_opts: { request_ttl: 'infinity', max_buffer_bytes: '4KB' } },
    },
  },
  rule_engine: {
    rules: {
      to_http: { sql: 'SELECT payload, clientid, topic FROM "h/#"', actions: ['http:main'] },
      to_small: { sql: 'SELECT payload.n as n FROM "s/#"', actions: ['http:small'] },
    },
  },
});

before(async () => {
  await t.up();
  dataDir = mkdtempSync(join(tmpdir(), 'petrel-sinks-http-'));
  b = await startBroker(config(), { dataDir, keepData: true });
  await until(async () => (await actionStatus(b, 'http:main')).status === 'connected', 10_000, 'action connected');
});
after(async () => { await b.stop(); await t.down(); rmSync(dataDir, { recursive: true, force: true }); });

describe('50 http sink', () => {
  it('sends the templated method, path, headers and body; the rule counts actions.success once delivered', async () => {
    const pub = await client(b, { clientId: 'pub1' });
    await pub.publishAsync('h/a', JSON.stringify({ t: 5, n: 0 }), { qos: 1 });
    await until(() => t.on('/base/m/').length >= 1, 5000, 'request');
    const r = t.on('/base/m/')[0]!;
    assert.equal(r.method, 'PUT');
    assert.equal(r.url, '/base/m/pub1');
    assert.equal(r.headers['x-conn'], 'c');
    assert.equal(r.headers['x-topic'], 'h/a');
    assert.deepEqual(JSON.parse(r.body), { t: 5, n: 0, c: 'pub1' });
    await until(async () => (await ruleMetrics(b, 'to_http'))['actions.success'] === 1, 3000, 'rule actions.success');
    const m = await actionMetrics(b, 'http:main');
    assert.equal(m.matched, 1);
    assert.equal(m.success, 1);
    assert.equal(m.queuing, 0);
    const prom = await (await api(b, '/metrics')).text();
    assert.match(prom, /petrel_action_success\{node="[^"]+",id="http:main"\} 1/);
    await end(pub);
  });

  it('a 500 is retried and the message delivered once; a 400 is counted failed and not retried', async () => {
    t.reqs = [];
    t.statuses = [500];
    const pub = await client(b, { clientId: 'pub2' });
    await pub.publishAsync('h/b', JSON.stringify({ t: 1, n: 1 }), { qos: 1 });
    await until(() => t.on('/base/m/').length >= 2, 5000, 'two attempts');
    await sleep(300);
    assert.deepEqual(t.on('/base/m/').map((r) => JSON.parse(r.body).n), [1, 1]);
    t.statuses = [400];
    const before = await ruleMetrics(b, 'to_http');
    await pub.publishAsync('h/b', JSON.stringify({ t: 1, n: 2 }), { qos: 1 });
    await until(async () => (await actionMetrics(b, 'http:main')).failed === 1, 5000, 'failed counted');
    await sleep(300);
    assert.equal(t.on('/base/m/').length, 3, 'a 400 is not retried');
    const after = await ruleMetrics(b, 'to_http');
    assert.equal(after['actions.failed'] - before['actions.failed'], 1);
    await end(pub);
  });

  it('target down mid-stream: status goes disconnected, N messages wait, all arrive exactly once and in order when it returns', async () => {
    t.reqs = [];
    const pub = await client(b, { clientId: 'pub3' });
    await pub.publishAsync('h/c', JSON.stringify({ t: 0, n: 0 }), { qos: 1 });
    await until(() => t.on('/base/m/').length === 1, 5000, 'first before the outage');
    await t.down();
    const N = 60;
    for (let i = 1; i <= N; i++) await pub.publishAsync('h/c', JSON.stringify({ t: 0, n: i }), { qos: 1 });
    await until(async () => (await actionStatus(b, 'http:main')).status === 'disconnected', 5000, 'status disconnected');
    const st = await actionStatus(b, 'http:main');
    assert.match(st.status_reason ?? '', /ECONNREFUSED|connect/);
    assert.ok((await actionMetrics(b, 'http:main')).queuing > 0);
    await t.up();
    await until(() => t.on('/base/m/').length >= N + 1, 20_000, `all ${N} after the target returned`);
    await sleep(500);
    const ns = t.on('/base/m/').map((r) => JSON.parse(r.body).n as number);
    assert.deepEqual(ns, Array.from({ length: N + 1 }, (_, i) => i), 'each exactly once, in order');
    await until(async () => (await actionStatus(b, 'http:main')).status === 'connected', 5000, 'status connected');
    const m = await actionMetrics(b, 'http:main');
    assert.equal(m.queuing, 0);
    assert.equal(m.dropped, 0);
    await end(pub);
  });

  it('with a small max_buffer_bytes exactly the overflow (the oldest) is dropped and counted; the rest arrive', async () => {
    t.reqs = [];
    await t.down();
    await until(async () => (await actionStatus(b, 'http:small')).status === 'disconnected', 5000, 'disconnected');
    const pub = await client(b, { clientId: 'pub4' });
    const N = 200;
    for (let i = 0; i < N; i++) await pub.publishAsync('s/x', JSON.stringify({ n: i }), { qos: 1 });
    await until(async () => (await actionMetrics(b, 'http:small')).matched === N, 5000, 'all matched');
    const m1 = await actionMetrics(b, 'http:small');
    assert.ok(m1['dropped.queue_full'] > 0 && m1['dropped.queue_full'] < N, `dropped ${m1['dropped.queue_full']}`);
    await t.up();
    await until(async () => (await actionMetrics(b, 'http:small')).queuing === 0 && t.on('/base/small').length === N - m1['dropped.queue_full'], 20_000, 'the rest delivered');
    const m2 = await actionMetrics(b, 'http:small');
    assert.equal(m2.success + m2['dropped.queue_full'], N);
    assert.equal(m2.dropped, m2['dropped.queue_full']);
    // inflight_window 100: requests run side by side, so arrival order is not asserted here.
    const got = t.on('/base/small').map((r) => JSON.parse(r.body).n as number).sort((x, y) => x - y);
    assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => N - got.length + i), 'the newest kept, the oldest dropped');
    const rm = await ruleMetrics(b, 'to_small');
    assert.equal(rm['actions.success'], got.length);
    assert.equal(rm['actions.failed'], N - got.length);
    await end(pub);
  });

  it('the buffer survives a broker restart: messages queued while the target was down are sent after it', async () => {
    t.reqs = [];
    await t.down();
    await until(async () => (await actionStatus(b, 'http:main')).status === 'disconnected', 5000, 'disconnected');
    const pub = await client(b, { clientId: 'pub5' });
    for (let i = 0; i < 10; i++) await pub.publishAsync('h/r', JSON.stringify({ t: 0, n: i }), { qos: 1 });
    await until(async () => (await actionMetrics(b, 'http:main')).queuing === 10, 5000, 'queued');
    await end(pub);
    await b.stop();
    b = await startBroker(config(), { dataDir, keepData: true });
    await t.up();
    await until(() => t.on('/base/m/pub5').length >= 10, 15_000, 'delivered after the restart');
    await sleep(300);
    assert.deepEqual(t.on('/base/m/pub5').map((r) => JSON.parse(r.body).n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('REST: create a connector and an action, name it in a rule, see it deliver; bad bodies are 400s naming the key', async () => {
    t.reqs = [];
    const c = await call(b, 'POST', '/api/v5/connectors', { type: 'http', name: 'rest_c', url: `http://127.0.0.1:${t.port}`, resource_opts: { health_check_interval: '300ms' } });
    assert.equal(c.status, 201, await c.clone().text());
    const a = await call(b, 'POST', '/api/v5/actions', { type: 'http', name: 'rest_a', connector: 'rest_c', parameters: { path: '/rest', body: '${payload}' } });
    assert.equal(a.status, 201, await a.clone().text());
    const r = await call(b, 'POST', '/api/v5/rules', { id: 'rest_rule', sql: 'SELECT payload FROM "rest/#"', actions: ['http:rest_a'] });
    assert.equal(r.status, 201, await r.clone().text());
    assert.deepEqual((await r.json() as { actions: unknown[] }).actions, ['http:rest_a']);
    const pub = await client(b);
    await pub.publishAsync('rest/1', 'hello', { qos: 1 });
    await until(() => t.on('/rest').length === 1, 5000, 'REST-made action delivers');
    assert.equal(t.on('/rest')[0]!.body, 'hello');
    await end(pub);

    const list = await getJson<Array<{ type: string; name: string; status: string }>>(b, '/api/v5/connectors');
    assert.ok(list.some((x) => x.name === 'rest_c' && x.type === 'http'));
    const bad1 = await call(b, 'POST', '/api/v5/actions', { type: 'http', name: 'bad', connector: 'rest_c', parameters: { method: 'fetch' } });
    assert.equal(bad1.status, 400);
    assert.match((await bad1.json() as { message: string }).message, /actions\.http\.bad\.parameters\.method: expected one of post, put, get, delete/);
    const bad2 = await call(b, 'POST', '/api/v5/actions', { type: 'http', name: 'bad', connector: 'nope' });
    assert.match((await bad2.json() as { message: string }).message, /no http connector 'nope'/);
    const bad3 = await call(b, 'POST', '/api/v5/connectors', { type: 'http', name: 'bad', url: 'not a url' });
    assert.equal(bad3.status, 400);
    assert.match((await bad3.json() as { message: string }).message, /connectors\.http\.bad\.url: expected an http/);
    const bad4 = await call(b, 'POST', '/api/v5/rules', { sql: 'SELECT * FROM "x"', actions: ['http:missing'] });
    assert.equal(bad4.status, 400);
    assert.match((await bad4.json() as { message: string }).message, /no action 'http:missing'/);
    const probe = await call(b, 'POST', '/api/v5/connectors_probe', { type: 'http', url: `http://127.0.0.1:${await freePort()}` });
    assert.equal(probe.status, 400);
    assert.match((await probe.json() as { message: string }).message, /cannot reach the target/);
    assert.equal((await call(b, 'POST', '/api/v5/connectors_probe', { type: 'http', url: `http://127.0.0.1:${t.port}` })).status, 204);

    const inUse = await call(b, 'DELETE', '/api/v5/actions/http:rest_a');
    assert.equal(inUse.status, 400);
    assert.match((await inUse.json() as { message: string }).message, /used by rule rest_rule/);
    assert.equal((await call(b, 'DELETE', '/api/v5/rules/rest_rule')).status, 204);
    assert.equal((await call(b, 'POST', '/api/v5/actions/http:rest_a/enable/false')).status, 204);
    assert.equal((await actionStatus(b, 'http:rest_a')).status, 'stopped');
    assert.equal((await call(b, 'DELETE', '/api/v5/actions/http:rest_a')).status, 204);
    assert.equal((await call(b, 'DELETE', '/api/v5/connectors/http:rest_c')).status, 204);
    assert.equal((await api(b, '/api/v5/connectors/http:rest_c')).status, 404);
  });

  it('a config file action naming a missing connector stops the start with the key', async () => {
    await assert.rejects(startBroker({ actions: { http: { x: { connector: 'ghost' } } } }), /actions\.http\.x\.connector: no http connector 'ghost'/);
    await assert.rejects(startBroker({ rule_engine: { rules: { r: { sql: 'SELECT * FROM "t"', actions: ['http:ghost'] } } } }), /rule_engine\.rules\.r\.actions\[0\]: no action 'http:ghost'/);
  });
});
