/**
 * The REST API's HTTP layer against a fake AdminApi: routing (404 vs 405), access, body and
 * query validation, paging, the error shape, and the publish mapping to broker properties.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { API_ERRORS } from '../../../broker/src/api/errors.js';
import { isLoopback, checkBasic } from '../../../broker/src/api/auth.js';
import { Router } from '../../../broker/src/api/router.js';
import { ROUTES } from '../../../broker/src/api/routes/index.js';
import { call, clientRow, startApi, NODE, type TestApi } from './helpers.js';

/** Asserts the `{code, message}` error shape, the status the catalog gives the code, and nothing else in the body. */
function assertError(r: { status: number; json: any }, code: keyof typeof API_ERRORS, message?: RegExp): void {
  assert.equal(r.json?.code, code, JSON.stringify(r.json));
  assert.equal(r.status, API_ERRORS[code].status);
  assert.deepEqual(Object.keys(r.json).sort(), ['code', 'message']);
  assert.equal(typeof r.json.message, 'string');
  if (message) assert.match(r.json.message, message);
}

describe('routing', () => {
  let t: TestApi;
  before(async () => { t = await startApi(); });
  after(() => t.close());

  it('an unknown path is 404 NOT_FOUND', async () => {
    assertError(await call(t, 'GET', '/api/v5/nope'), 'NOT_FOUND', /GET \/api\/v5\/nope/);
    assertError(await call(t, 'DELETE', '/nowhere'), 'NOT_FOUND');
  });

  it('a known path with another method is 405 with an Allow header', async () => {
    const r = await call(t, 'POST', '/api/v5/clients');
    assertError(r, 'METHOD_NOT_ALLOWED');
    assert.equal(r.headers.get('allow'), 'GET');
    const r2 = await call(t, 'PUT', '/api/v5/clients/c1');
    assertError(r2, 'METHOD_NOT_ALLOWED');
    assert.deepEqual(r2.headers.get('allow')!.split(', ').sort(), ['DELETE', 'GET']);
    assert.equal((await call(t, 'GET', '/api/v5/publish')).headers.get('allow'), 'POST');
  });

  it('a trailing slash is ignored', async () => {
    assert.equal((await call(t, 'GET', '/api/v5/stats/')).status, 200);
  });

  it('path parameters are percent-decoded; bad encoding is 400', async () => {
    t.admin.retained = [{ topic: 'a/b', qos: 1, from_clientid: 'x', publish_at: new Date(0).toISOString(), msgid: '9', payload: Buffer.from([1, 2]) }];
    const r = await call(t, 'GET', `/api/v5/retainer/message/${encodeURIComponent('a/b')}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.payload, Buffer.from([1, 2]).toString('base64'));
    assert.equal(r.json.topic, 'a/b');
    assertError(await call(t, 'GET', '/api/v5/retainer/message/%E0%A4%A'), 'BAD_REQUEST', /path\.topic/);
    assertError(await call(t, 'GET', '/api/v5/retainer/message/none'), 'NOT_FOUND');
    assert.equal((await call(t, 'DELETE', '/api/v5/retainer/message/a%2Fb')).status, 204);
    assert.equal(t.admin.retained.length, 0);
  });

  it('a handler that throws is 500 INTERNAL_ERROR, and is logged', async () => {
    t.admin.statsThrow = true;
    try {
      assertError(await call(t, 'GET', '/api/v5/stats'), 'INTERNAL_ERROR', /stats exploded/);
      assert.equal(t.logged.length, 1);
    } finally { t.admin.statsThrow = false; }
  });

  it('every route schema compiles; the table rejects a duplicate route', () => {
    assert.doesNotThrow(() => new Router(ROUTES).compileAll());
    assert.throws(() => new Router([ROUTES[0], ROUTES[0]]), /duplicate API route/);
  });
});

describe('bodies', () => {
  let t: TestApi;
  before(async () => { t = await startApi({ maxBodyBytes: 4096 }); });
  after(() => t.close());

  it('schema violations are 400 BAD_REQUEST naming the field', async () => {
    assertError(await call(t, 'POST', '/api/v5/publish', { payload: 'x' }), 'BAD_REQUEST', /^body\.topic is required$/);
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 'a', qos: 3 }), 'BAD_REQUEST', /^body\.qos must be <= 2$/);
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 'a', qos: '1' }), 'BAD_REQUEST', /^body\.qos must be integer$/);
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 'a', payld: 'x' }), 'BAD_REQUEST', /^body\.payld is not a known field$/);
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 'a', payload_encoding: 'hex' }), 'BAD_REQUEST', /^body\.payload_encoding must be one of "plain", "base64"$/);
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 'a', properties: { message_expiry_interval: -1 } }), 'BAD_REQUEST', /^body\.properties\.message_expiry_interval must be >= 0$/);
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 'a', properties: { user_properties: { k: 1 } } }), 'BAD_REQUEST', /^body\.properties\.user_properties\.k /);
    assertError(await call(t, 'POST', '/api/v5/publish', [{ topic: 'a' }]), 'BAD_REQUEST', /^body must be object$/);
    assertError(await call(t, 'POST', '/api/v5/publish'), 'BAD_REQUEST', /^body\.topic is required$/);
    assertError(await call(t, 'POST', '/api/v5/node/drain', { server_reference: 5 }), 'BAD_REQUEST', /^body\.server_reference must be string$/);
    assert.equal(t.admin.published.length, 0);
  });

  it('checks beyond the schema also name the field: topic names, base64', async () => {
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 'a/+/b' }), 'BAD_REQUEST', /^body\.topic must be a valid topic name/);
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 'a/b/c/d/e/f/g/h/i' }), 'BAD_REQUEST', /at most 8 levels/);
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 'a', payload: 'not base64!', payload_encoding: 'base64' }), 'BAD_REQUEST', /^body\.payload is not valid base64$/);
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 'a', properties: { response_topic: 'r/#' } }), 'BAD_REQUEST', /^body\.properties\.response_topic/);
    assert.equal(t.admin.published.length, 0);
  });

  it('invalid JSON is 400; a non-JSON content type is 415; a large body is 413', async () => {
    assertError(await call(t, 'POST', '/api/v5/publish', '{not json'), 'BAD_REQUEST', /not valid JSON/);
    assertError(await call(t, 'POST', '/api/v5/publish', '<a/>', { 'content-type': 'application/xml' }), 'UNSUPPORTED_MEDIA_TYPE');
    // What fetch and curl -d send by default is read as JSON.
    assert.equal((await call(t, 'POST', '/api/v5/publish', '{"topic":"t"}', { 'content-type': 'text/plain;charset=UTF-8' })).status, 202);
    assert.equal((await call(t, 'POST', '/api/v5/publish', '{"topic":"t"}', { 'content-type': 'application/x-www-form-urlencoded' })).status, 202);
    assertError(await call(t, 'POST', '/api/v5/publish', { topic: 't', payload: 'x'.repeat(5000) }), 'PAYLOAD_TOO_LARGE');
  });

  it('a body over the limit without Content-Length (chunked) is 413 too', async () => {
    const port = t.server.port;
    const res = await new Promise<{ status: number; body: string }>((ok, bad) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v5/publish', headers: { 'content-type': 'application/json' } }, (r) => {
        let s = ''; r.on('data', (c) => { s += c; }); r.on('end', () => ok({ status: r.statusCode!, body: s }));
      });
      req.on('error', bad);
      req.write('{"topic":"t","payload":"');
      req.write('y'.repeat(8000));
      req.end('"}');
    });
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).code, 'PAYLOAD_TOO_LARGE');
  });
});

describe('publish', () => {
  let t: TestApi;
  before(async () => { t = await startApi(); t.admin.subscribers.set('s/1', 1); });
  after(() => t.close());

  it('200 {id} when delivered, 202 with reason_code 16 when no subscriber matched; defaults filled in', async () => {
    const r1 = await call(t, 'POST', '/api/v5/publish', { topic: 's/1', payload: 'hi' });
    assert.equal(r1.status, 200);
    assert.deepEqual(Object.keys(r1.json), ['id']);
    const r2 = await call(t, 'POST', '/api/v5/publish', { topic: 'nobody', payload: 'AAEC', payload_encoding: 'base64', qos: 2, retain: true });
    assert.equal(r2.status, 202);
    assert.equal(r2.json.reason_code, 16);
    assert.equal(typeof r2.json.id, 'string');
    const [a, b] = t.admin.published.slice(-2);
    assert.deepEqual({ ...a, payload: a.payload.toString() }, { topic: 's/1', payload: 'hi', qos: 0, retain: false, properties: null });
    assert.deepEqual([...b.payload], [0, 1, 2]);
    assert.equal(b.qos, 2);
    assert.equal(b.retain, true);
  });

  it("EMQX's property names map to the broker's", async () => {
    const r = await call(t, 'POST', '/api/v5/publish', {
      topic: 's/1', payload: '{}', properties: {
        payload_format_indicator: 1, message_expiry_interval: 30, response_topic: 'reply/to', correlation_data: 'corr-1',
        user_properties: { a: '1', b: ['x', 'y'] }, content_type: 'application/json',
      },
    });
    assert.equal(r.status, 200);
    const p = t.admin.published.at(-1)!.properties!;
    assert.deepEqual({ ...p, correlationData: (p.correlationData as Buffer).toString() }, {
      payloadFormatIndicator: true, messageExpiryInterval: 30, responseTopic: 'reply/to', correlationData: 'corr-1',
      userProperties: { a: '1', b: ['x', 'y'] }, contentType: 'application/json',
    });
    assert.ok(Buffer.isBuffer(p.correlationData));
  });

  it('bulk: one result per message; 200 when all delivered, else 202; one bad message publishes none', async () => {
    const all = await call(t, 'POST', '/api/v5/publish/bulk', [{ topic: 's/1' }, { topic: 's/1', qos: 1 }]);
    assert.equal(all.status, 200);
    assert.equal(all.json.length, 2);
    assert.ok(all.json.every((x: { id?: string; reason_code?: number }) => typeof x.id === 'string' && x.reason_code === undefined));
    const some = await call(t, 'POST', '/api/v5/publish/bulk', [{ topic: 's/1' }, { topic: 'nobody' }]);
    assert.equal(some.status, 202);
    assert.equal(some.json[0].reason_code, undefined);
    assert.equal(some.json[1].reason_code, 16);
    const before = t.admin.published.length;
    assertError(await call(t, 'POST', '/api/v5/publish/bulk', [{ topic: 's/1' }, { topic: 's/1', qos: 5 }]), 'BAD_REQUEST', /^body\[1\]\.qos must be <= 2$/);
    assertError(await call(t, 'POST', '/api/v5/publish/bulk', [{ topic: 's/1' }, { topic: 'bad/#' }]), 'BAD_REQUEST', /^body\[1\]\.topic/);
    assertError(await call(t, 'POST', '/api/v5/publish/bulk', []), 'BAD_REQUEST', /^body must NOT have fewer than 1 items$/);
    assertError(await call(t, 'POST', '/api/v5/publish/bulk', { topic: 's/1' }), 'BAD_REQUEST', /^body must be array$/);
    assert.equal(t.admin.published.length, before);
  });
});

describe('paging', () => {
  let t: TestApi;
  before(async () => {
    t = await startApi();
    for (let i = 0; i < 25; i++) t.admin.clients.push(clientRow(`c${String(i).padStart(2, '0')}`));
  });
  after(() => t.close());

  it('defaults page=1 limit=100; meta has page, limit, count, hasnext', async () => {
    const r = await call(t, 'GET', '/api/v5/clients');
    assert.equal(r.status, 200);
    assert.equal(r.json.data.length, 25);
    assert.deepEqual(r.json.meta, { page: 1, limit: 100, count: 25, hasnext: false });
  });

  it('pages through with page and limit', async () => {
    const p1 = await call(t, 'GET', '/api/v5/clients?page=1&limit=10');
    assert.deepEqual(p1.json.meta, { page: 1, limit: 10, count: 25, hasnext: true });
    assert.deepEqual(p1.json.data.map((c: { clientid: string }) => c.clientid), Array.from({ length: 10 }, (_, i) => `c${String(i).padStart(2, '0')}`));
    const p3 = await call(t, 'GET', '/api/v5/clients?page=3&limit=10');
    assert.deepEqual(p3.json.meta, { page: 3, limit: 10, count: 25, hasnext: false });
    assert.equal(p3.json.data.length, 5);
    const p9 = await call(t, 'GET', '/api/v5/clients?page=9&limit=10');
    assert.equal(p9.json.data.length, 0);
    assert.equal(p9.json.meta.hasnext, false);
  });

  it('out-of-range or non-numeric page and limit are 400, not clamped', async () => {
    assertError(await call(t, 'GET', '/api/v5/clients?limit=0'), 'BAD_REQUEST', /^query\.limit must be >= 1$/);
    assertError(await call(t, 'GET', '/api/v5/clients?limit=10001'), 'BAD_REQUEST', /^query\.limit must be <= 10000$/);
    assertError(await call(t, 'GET', '/api/v5/subscriptions?page=abc'), 'BAD_REQUEST', /^query\.page must be integer$/);
    assertError(await call(t, 'GET', '/api/v5/topics?page=1.5'), 'BAD_REQUEST', /^query\.page/);
  });

  it('every list endpoint pages the same way', async () => {
    for (const p of ['/api/v5/subscriptions', '/api/v5/topics', '/api/v5/retainer/messages']) {
      const r = await call(t, 'GET', `${p}?limit=5`);
      assert.deepEqual(r.json.meta, { page: 1, limit: 5, count: 0, hasnext: false }, p);
    }
  });
});

describe('clients, listeners, drain, status', () => {
  let t: TestApi;
  before(async () => { t = await startApi(); t.admin.clients.push(clientRow('c1')); });
  after(() => t.close());

  it('client not found is 404 CLIENTID_NOT_FOUND on get, kick and subscriptions', async () => {
    assertError(await call(t, 'GET', '/api/v5/clients/zz'), 'CLIENTID_NOT_FOUND');
    assertError(await call(t, 'DELETE', '/api/v5/clients/zz'), 'CLIENTID_NOT_FOUND');
    assertError(await call(t, 'GET', '/api/v5/clients/zz/subscriptions'), 'CLIENTID_NOT_FOUND');
    assert.equal((await call(t, 'GET', '/api/v5/clients/c1')).json.clientid, 'c1');
    assert.deepEqual((await call(t, 'GET', '/api/v5/clients/c1/subscriptions')).json, []);
  });

  it('nodes: the list has this node; another name is 404 RESOURCE_NOT_FOUND', async () => {
    const [row] = (await call(t, 'GET', '/api/v5/nodes')).json;
    assert.deepEqual([row.node, row.node_status, row.link_state, row.role], [NODE, 'running', 'self', 'core']);
    assert.equal((await call(t, 'GET', `/api/v5/nodes/${encodeURIComponent(NODE)}`)).json.node, NODE);
    assertError(await call(t, 'GET', '/api/v5/nodes/other@host'), 'RESOURCE_NOT_FOUND');
  });

  it('cluster answers: meta.unreachable on a partial client list, named in a 404; an unknown node filter is 400', async () => {
    const own = t.admin.cluster;
    t.admin.cluster = {
      ...own,
      clients: async () => ({ rows: [clientRow('c1')], unreachable: ['n3@host'] }),
      client: async () => ({ row: null, unreachable: ['n3@host'] }),
    };
    try {
      assert.deepEqual((await call(t, 'GET', '/api/v5/clients')).json.meta, { page: 1, limit: 100, count: 1, hasnext: false, unreachable: ['n3@host'] });
      assertError(await call(t, 'GET', '/api/v5/clients/zz'), 'CLIENTID_NOT_FOUND', /n3@host did not answer/);
    } finally { t.admin.cluster = own; }
    assert.equal('unreachable' in (await call(t, 'GET', '/api/v5/clients')).json.meta, false);
    assertError(await call(t, 'GET', '/api/v5/clients?node=other@host'), 'BAD_REQUEST', /^query\.node: no node other@host/);
    assert.equal((await call(t, 'GET', `/api/v5/clients?node=${encodeURIComponent(NODE)}`)).json.meta.count, 1);
  });

  it('stats and metrics: aggregate=true sums, false lists per node, anything else is 400', async () => {
    assert.deepEqual((await call(t, 'GET', '/api/v5/stats?aggregate=true')).json, { 'connections.count': 1 });
    assert.deepEqual((await call(t, 'GET', '/api/v5/stats?aggregate=false')).json, [{ node: NODE, 'connections.count': 1 }]);
    assert.deepEqual((await call(t, 'GET', '/api/v5/stats')).json, { 'connections.count': 1 });
    assert.deepEqual((await call(t, 'GET', '/api/v5/metrics?aggregate=true')).json, { 'messages.received': 7 });
    assert.deepEqual((await call(t, 'GET', '/api/v5/metrics?aggregate=false')).json, [{ node: NODE, 'messages.received': 7 }]);
    assert.deepEqual((await call(t, 'GET', '/api/v5/metrics')).json, { node: NODE, 'messages.received': 7 });
    assertError(await call(t, 'GET', '/api/v5/stats?aggregate=yes'), 'BAD_REQUEST', /query\.aggregate/);
  });

  it('listener actions: 204; unknown id 404; bad action 400; failure 409 LISTENER_ERROR', async () => {
    assert.equal((await call(t, 'PUT', '/api/v5/listeners/tcp:default/restart')).status, 204);
    assert.deepEqual(t.admin.listenerCalls, ['restart tcp:default']);
    assertError(await call(t, 'PUT', '/api/v5/listeners/tcp:nope/stop'), 'NOT_FOUND', /tcp:nope/);
    assertError(await call(t, 'PUT', '/api/v5/listeners/tcp:default/pause'), 'BAD_REQUEST', /^path\.action must be one of "start", "stop", "restart"$/);
    t.admin.listenerFailure = new Error('cannot bind 0.0.0.0:1883: address already in use');
    try {
      assertError(await call(t, 'PUT', '/api/v5/listeners/tcp:default/start'), 'LISTENER_ERROR', /address already in use/);
    } finally { t.admin.listenerFailure = null; }
  });

  it('Prometheus text: stats as gauges, metrics as counters', async () => {
    const r = await call(t, 'GET', '/metrics');
    assert.match(r.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    assert.match(r.text, /^# TYPE petrel_connections_count gauge\npetrel_connections_count\{node="fake@127\.0\.0\.1"\} 1$/m);
    assert.match(r.text, /^# TYPE petrel_messages_received counter\npetrel_messages_received\{node="fake@127\.0\.0\.1"\} 7$/m);
  });

  it('drain takes server_reference and an empty body; then status is 503 and listener start is 503', async () => {
    const r = await call(t, 'POST', '/api/v5/node/drain?timeout=45s', { server_reference: 'other:1883' });
    assert.deepEqual(r.json, { drained: 1 });
    assert.equal((await call(t, 'POST', '/api/v5/node/drain')).status, 200);
    assert.deepEqual(t.admin.drained, ['other:1883', undefined]);
    const s = await call(t, 'GET', '/status');
    assert.equal(s.status, 503);
    assert.match(s.text, /is stopping/);
    const j = await call(t, 'GET', '/api/v5/status');
    assert.equal(j.status, 503);
    assert.equal(j.json.status, 'draining');
    assertError(await call(t, 'PUT', '/api/v5/listeners/tcp:default/start'), 'SERVICE_UNAVAILABLE');
    assert.equal((await call(t, 'PUT', '/api/v5/listeners/tcp:default/stop')).status, 204);
  });
});

describe('access', () => {
  let t: TestApi;
  before(async () => { t = await startApi({ keys: '# keys\nops:s3cret\nci:a:b:c\n' }); });
  after(() => t.close());
  const basic = (kv: string): Record<string, string> => ({ authorization: 'Basic ' + Buffer.from(kv).toString('base64') });

  it('with keys: no credentials 401 UNAUTHORIZED, a wrong key or secret 401 BAD_API_KEY_OR_SECRET, both with WWW-Authenticate', async () => {
    const none = await call(t, 'GET', '/api/v5/clients');
    assertError(none, 'UNAUTHORIZED');
    assert.equal(none.headers.get('www-authenticate'), 'Basic realm="petrel"');
    for (const h of [basic('ops:wrong'), basic('nobody:s3cret'), basic('ops')]) {
      const r = await call(t, 'GET', '/api/v5/clients', undefined, h);
      assertError(r, 'BAD_API_KEY_OR_SECRET');
      assert.equal(r.headers.get('www-authenticate'), 'Basic realm="petrel"');
    }
    assertError(await call(t, 'GET', '/api/v5/clients', undefined, { authorization: 'Bearer x' }), 'BAD_TOKEN');
    assert.equal((await call(t, 'GET', '/api/v5/clients', undefined, basic('ops:s3cret'))).status, 200);
    assert.equal((await call(t, 'GET', '/api/v5/clients', undefined, basic('ci:a:b:c'))).status, 200, 'a secret may contain colons');
  });

  it('open endpoints need nothing; the drain hook needs no key from loopback', async () => {
    for (const p of ['/status', '/api/v5/status', '/metrics', '/api/v5/prometheus/stats']) assert.equal((await call(t, 'GET', p)).status, 200, p);
    assert.equal((await call(t, 'POST', '/api/v5/node/drain')).status, 200);
  });

  it('auth comes after routing: unknown paths are 404 and wrong methods 405 without a key', async () => {
    assertError(await call(t, 'GET', '/api/v5/nope'), 'NOT_FOUND');
    assertError(await call(t, 'DELETE', '/api/v5/stats'), 'METHOD_NOT_ALLOWED');
  });

  it('loopback addresses and Basic credentials', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '::2', undefined]) assert.equal(isLoopback(a), false, String(a));
    const keys = new Map([['k', 's']]);
    assert.equal(checkBasic(keys, undefined), 'missing');
    assert.equal(checkBasic(keys, 'Basic ' + Buffer.from('k:s').toString('base64')), 'ok');
    assert.equal(checkBasic(keys, 'Basic ' + Buffer.from('k:ss').toString('base64')), 'bad');
  });
});

// Off-loopback access is decided by isLoopback() (tested above); tests send traffic to loopback only.
describe('access without keys', () => {
  let t: TestApi;
  before(async () => { t = await startApi({}); });
  after(() => t.close());

  it('loopback clients need no key', async () => {
    assert.equal((await call(t, 'GET', '/api/v5/clients')).status, 200);
  });
});
