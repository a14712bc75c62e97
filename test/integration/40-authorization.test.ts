/**
 * 40 — authorization seen from the wire: an acl.conf file source and the built-in database,
 * configured as EMQX users write them, changed through the REST API while clients stay
 * connected.
 *
 * v3 vs v5: a refused SUBSCRIBE is SUBACK 0x80 in v3 and 0x87 in v5; a refused QoS 1/2 PUBLISH
 * is PUBACK/PUBREC 0x87 in v5 (v3 has no code: a plain acknowledgement, message dropped); a
 * refused QoS 0 PUBLISH is dropped silently in both. With deny_action disconnect the client is
 * disconnected instead (v5: DISCONNECT 0x87).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { api, getJson } from '../support/api.js';

const ACL = `%% EMQX's defaults first, then this deployment's rules
{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
{deny, all, subscribe, ["$SYS/#", {eq, "#"}, {eq, "+/#"}]}.
{deny, all, all, ["secret/#"]}.
{deny, all, publish, ["nopub/#"]}.
{allow, {username, "alice"}, publish, ["users/\${username}/#"]}.
{deny, all, publish, ["users/#"]}.
{allow, all, publish, ["order/#"]}.
`;

const dir = mkdtempSync(join(tmpdir(), 'petrel-authz-'));
const aclFile = join(dir, 'acl.conf');
writeFileSync(aclFile, ACL);
let b: TestBroker;

before(async () => {
  b = await startBroker({ authorization: { sources: [{ type: 'file', enable: true, path: aclFile }, { type: 'built_in_database', enable: true, max_rules: 5 }] } });
});
after(async () => { await b.stop(); rmSync(dir, { recursive: true, force: true }); });

const json = (method: string, body: unknown) => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** SUBACK's codes (MQTT.js rejects a SUBACK holding a failure; the packet comes with the error). */
async function granted(c: MqttClient, topics: string | Record<string, { qos: 0 | 1 }>, qos: 0 | 1 = 1): Promise<number[]> {
  try {
    return (await c.subscribeAsync(topics as never, { qos })).map((g) => g.qos);
  } catch (err) {
    const p = (err as { packet?: { granted?: number[] } }).packet;
    if (p?.granted === undefined) throw err;
    return p.granted;
  }
}
/** The reason code a QoS 1/2 publish came back with (0 = accepted). */
async function pubCode(c: MqttClient, topic: string, qos: 1 | 2): Promise<number> {
  try { await c.publishAsync(topic, 'x', { qos }); return 0; } catch (err) { return (err as { code?: number }).code ?? -1; }
}

describe('subscribe', () => {
  for (const protocolVersion of [4, 5] as const) {
    const no = protocolVersion === 5 ? 0x87 : 0x80;
    it(`v${protocolVersion}: # , +/#, $SYS/# and a filter reaching secret/… are refused with 0x${no.toString(16)}; others granted`, async () => {
      const c = await client(b, { protocolVersion, clientId: `sub-v${protocolVersion}` });
      for (const f of ['#', '+/#', '$SYS/#', '$SYS/brokers/+', 'secret/a', '+/a', 'secret/#']) assert.deepEqual(await granted(c, f), [no], f);
      assert.deepEqual(await granted(c, 'sensors/+/temp'), [1]);
      // one refused filter does not fail the others of the same SUBSCRIBE
      assert.deepEqual(await granted(c, { 'a/b': { qos: 0 }, 'secret/x': { qos: 0 } }), [0, no]);
      await end(c);
    });
  }

  it('a shared or exclusive subscription is checked against its real filter', async () => {
    const c = await client(b, { protocolVersion: 5 });
    assert.deepEqual(await granted(c, '$share/g/#'), [0x87]);
    assert.deepEqual(await granted(c, '$share/g/secret/+'), [0x87]);
    assert.deepEqual(await granted(c, '$exclusive/secret/x'), [0x87]);
    assert.deepEqual(await granted(c, '$share/g/plain/+'), [1]);
    await end(c);
  });

  it('dashboard may subscribe $SYS/#', async () => {
    const c = await client(b, { protocolVersion: 5, username: 'dashboard' });
    assert.deepEqual(await granted(c, '$SYS/#'), [1]);
    await end(c);
  });
});

describe('publish', () => {
  it('v5: QoS 1 → PUBACK 0x87, QoS 2 → PUBREC 0x87; QoS 0 is dropped; nothing reaches a subscriber', async () => {
    const watcher = await client(b, { protocolVersion: 5 });
    const seen = collect(watcher);
    assert.deepEqual(await granted(watcher, 'nopub/#', 0), [0]);
    assert.deepEqual(await granted(watcher, 'ok/#', 0), [0]);
    const c = await client(b, { protocolVersion: 5 });
    assert.equal(await pubCode(c, 'nopub/1', 1), 0x87);
    assert.equal(await pubCode(c, 'nopub/2', 2), 0x87);
    await c.publishAsync('nopub/0', 'x', { qos: 0 });
    await c.publishAsync('ok/after', 'x', { qos: 0 });
    await until(() => seen.some((m) => m.topic === 'ok/after'), 5000, 'the allowed message');
    assert.deepEqual(seen.map((m) => m.topic), ['ok/after']);
    await end(c, watcher);
  });

  it('v3: a refused QoS 1 publish is acknowledged without a code and dropped', async () => {
    const r = await rawClient(b.port, 4);
    await r.connect();
    r.send({ cmd: 'publish', topic: 'nopub/v3', payload: Buffer.from('x'), qos: 1, messageId: 7 });
    assert.equal((await r.next('puback')).messageId, 7);
    r.destroy();
  });

  it('placeholders: alice publishes under users/alice/…, not bob, and not alice elsewhere', async () => {
    const alice = await client(b, { protocolVersion: 5, username: 'alice' });
    const bob = await client(b, { protocolVersion: 5, username: 'bob' });
    const hash = await client(b, { protocolVersion: 5, username: '#' });
    assert.equal(await pubCode(alice, 'users/alice/x', 1), 0);
    assert.equal(await pubCode(alice, 'users/bob/x', 1), 0x87);
    assert.equal(await pubCode(bob, 'users/alice/x', 1), 0x87);
    assert.equal(await pubCode(hash, 'users/alice/x', 1), 0x87);
    await end(alice, bob, hash);
  });
});

describe('REST', () => {
  it('lists the sources in order, with their settings', async () => {
    const r = await getJson<{ sources: Array<Record<string, unknown>> }>(b, '/api/v5/authorization/sources');
    assert.deepEqual(r.sources.map((s) => s.type), ['file', 'built_in_database']);
    assert.equal(r.sources[0].path, aclFile);
    assert.deepEqual(await getJson(b, '/api/v5/authorization/settings'), { no_match: 'allow', deny_action: 'ignore', cache: { enable: true, max_size: 32, ttl: '1m' } });
  });

  it('a built-in rule added by REST is obeyed by the next check (the cached answer is dropped)', async () => {
    const carol = await client(b, { protocolVersion: 5, username: 'carol' });
    assert.equal(await pubCode(carol, 'bi/x', 1), 0); // cached: allow
    let res = await api(b, '/api/v5/authorization/sources/built_in_database/rules/users', json('POST', [
      { username: 'carol', rules: [{ topic: 'bi/#', permission: 'deny', action: 'publish' }] },
    ]));
    assert.equal(res.status, 204, await res.text());
    assert.equal(await pubCode(carol, 'bi/x', 1), 0x87);
    assert.deepEqual(await getJson(b, '/api/v5/authorization/sources/built_in_database/rules/users/carol'),
      { username: 'carol', rules: [{ topic: 'bi/#', permission: 'deny', action: 'publish', qos: [0, 1, 2], retain: 'all' }] });
    const page = await getJson<{ data: unknown[]; meta: { count: number } }>(b, '/api/v5/authorization/sources/built_in_database/rules/users');
    assert.equal(page.meta.count, 1);
    res = await api(b, '/api/v5/authorization/sources/built_in_database/rules/users/carol', { method: 'DELETE' });
    assert.equal(res.status, 204);
    assert.equal(await pubCode(carol, 'bi/x', 1), 0);
    await end(carol);
  });

  it('source order via /move changes the answer', async () => {
    const c = await client(b, { protocolVersion: 5 });
    let res = await api(b, '/api/v5/authorization/sources/built_in_database/rules/all', json('POST', { rules: [{ topic: 'order/#', permission: 'deny', action: 'all' }] }));
    assert.equal(res.status, 204, await res.text());
    assert.equal(await pubCode(c, 'order/1', 1), 0, 'file first: its allow wins');
    res = await api(b, '/api/v5/authorization/sources/built_in_database/move', json('POST', { position: 'front' }));
    assert.equal(res.status, 204, await res.text());
    assert.equal(await pubCode(c, 'order/1', 1), 0x87, 'built-in first: its deny wins');
    res = await api(b, '/api/v5/authorization/sources/file/move', json('POST', { position: 'before:built_in_database' }));
    assert.equal(res.status, 204);
    assert.equal(await pubCode(c, 'order/1', 1), 0);
    const st = await getJson<{ metrics: Record<string, number> }>(b, '/api/v5/authorization/sources/built_in_database/status');
    assert.ok(st.metrics.deny >= 1 && st.metrics.total >= st.metrics.deny, JSON.stringify(st));
    const prom = await (await api(b, '/metrics')).text();
    const line = /^petrel_authz_deny\{node="[^"]+",type="built_in_database"\} (\d+)$/m.exec(prom);
    assert.ok(line, 'Prometheus has the per-source counters');
    assert.equal(Number(line[1]), st.metrics.deny);
    assert.equal((await api(b, '/api/v5/authorization/sources/built_in_database/rules/all', { method: 'DELETE' })).status, 204);
    await end(c);
  });

  it('bad input: 400 naming what is wrong, 404, 409; the broker keeps serving', async () => {
    const bad = async (path: string, init: RequestInit, status: number, re: RegExp) => {
      const res = await api(b, path, init);
      const body = await res.json() as { message: string };
      assert.equal(res.status, status, JSON.stringify(body));
      assert.match(body.message, re);
    };
    await bad('/api/v5/authorization/sources/file', json('PUT', { enable: true, rules: '{allow, all}.\n{deny, all' }), 400, /rules:2:11/);
    await bad('/api/v5/authorization/sources', json('POST', { type: 'redisx' }), 400, /unknown source type 'redisx' \(known: file, built_in_database/);
    await bad('/api/v5/authorization/sources', json('POST', { type: 'file', path: aclFile }), 409, /exists/);
    await bad('/api/v5/authorization/sources/nope/status', { method: 'GET' }, 404, /no authorization source/);
    await bad('/api/v5/authorization/sources/file/move', json('POST', { position: 'middle' }), 400, /position/);
    await bad('/api/v5/authorization/sources/built_in_database/rules/users', json('POST', [{ username: 'u', rules: [{ topic: 'a/#/b', permission: 'allow', action: 'all' }] }]), 400, /rules\[0\].*not a valid topic filter/);
    await bad('/api/v5/authorization/sources/built_in_database/rules/all', json('POST', { rules: Array.from({ length: 6 }, () => ({ topic: 't', permission: 'allow', action: 'all' })) }), 400, /max_rules \(5\)/);
    // the file source still answers as before
    const c = await client(b, { protocolVersion: 5 });
    assert.deepEqual(await granted(c, '#'), [0x87]);
    await end(c);
  });

  it('a source replaced by PUT takes effect at once; deleting it removes its rules', async () => {
    const c = await client(b, { protocolVersion: 5 });
    assert.equal(await pubCode(c, 'swap/1', 1), 0);
    let res = await api(b, '/api/v5/authorization/sources/file', json('PUT', { enable: true, rules: [{ permission: 'deny', action: 'publish', topics: ['swap/#'] }] }));
    assert.equal(res.status, 204, await res.text());
    assert.equal(await pubCode(c, 'swap/1', 1), 0x87);
    res = await api(b, '/api/v5/authorization/sources/file', { method: 'DELETE' });
    assert.equal(res.status, 204);
    assert.equal(await pubCode(c, 'swap/1', 1), 0);
    res = await api(b, '/api/v5/authorization/sources', json('POST', { type: 'file', enable: true, path: aclFile }));
    assert.equal(res.status, 204, await res.text());
    res = await api(b, '/api/v5/authorization/sources/file/move', json('POST', { position: 'front' }));
    assert.deepEqual(await granted(c, '#'), [0x87]);
    await end(c);
  });
});

describe('deny_action disconnect', () => {
  let d: TestBroker;
  before(async () => {
    d = await startBroker({ authorization: { deny_action: 'disconnect', sources: [{ type: 'file', rules: [{ permission: 'deny', topics: ['no/#'] }] }] } });
  });
  after(async () => { await d.stop(); });

  it('v5: a denied publish gets DISCONNECT 0x87 (no PUBACK)', async () => {
    const r = await rawClient(d.port, 5);
    await r.connect();
    r.send({ cmd: 'publish', topic: 'no/x', payload: Buffer.from('x'), qos: 1, messageId: 1 });
    assert.equal((await r.next('disconnect')).reasonCode, 0x87);
    await r.waitClosed();
    assert.equal(r.packets.some((p) => p.cmd === 'puback'), false);
  });

  it('v3: a denied QoS 0 publish closes the connection; a denied subscribe too', async () => {
    const r = await rawClient(d.port, 4);
    await r.connect();
    r.send({ cmd: 'publish', topic: 'no/x', payload: Buffer.from('x'), qos: 0 });
    await r.waitClosed();
    const s = await client(d, { protocolVersion: 5 });
    const gone = new Promise<number>((res) => s.once('disconnect', (p) => res(p.reasonCode ?? -1)));
    s.subscribe('no/+');
    assert.equal(await gone, 0x87);
    await end(s);
  });

  it('switched back to ignore by REST, the client stays', async () => {
    const res = await api(d, '/api/v5/authorization/settings', json('PUT', { deny_action: 'ignore' }));
    assert.equal(res.status, 204);
    const c = await client(d, { protocolVersion: 5 });
    assert.equal(await pubCode(c, 'no/x', 1), 0x87);
    assert.equal(c.connected, true);
    await end(c);
  });
});

describe('built-in rules persist', () => {
  it('rules added by REST hold after a restart on the same data directory', async () => {
    const data = mkdtempSync(join(tmpdir(), 'petrel-authz-data-'));
    const cfg = { authorization: { sources: [{ type: 'built_in_database' }] } };
    let n = await startBroker(cfg, { dataDir: data, keepData: true });
    try {
      const res = await api(n, '/api/v5/authorization/sources/built_in_database/rules/clients', json('POST', [
        { clientid: 'dev-1', rules: [{ topic: 'cmd/#', permission: 'deny', action: 'subscribe' }] },
      ]));
      assert.equal(res.status, 204, await res.text());
    } finally { await n.stop(); }
    n = await startBroker(cfg, { dataDir: data });
    try {
      const dev = await client(n, { protocolVersion: 5, clientId: 'dev-1' });
      const other = await client(n, { protocolVersion: 5, clientId: 'dev-2' });
      assert.deepEqual(await granted(dev, 'cmd/+'), [0x87]);
      assert.deepEqual(await granted(other, 'cmd/+'), [1]);
      await end(dev, other);
    } finally { await n.stop(); }
  });
});

describe('config errors', () => {
  it('an unreadable acl.conf, a bad rule, an unknown type: the node refuses to start and says why', async () => {
    await assert.rejects(startBroker({ authorization: { sources: [{ type: 'file', path: join(dir, 'missing.conf') }] } }), /cannot read .*missing\.conf: ENOENT/);
    const broken = join(dir, 'broken.conf');
    writeFileSync(broken, '{allow, all}.\n{allow, {ipaddr, "10.0.0.0/40"}, all, ["#"]}.\n');
    await assert.rejects(startBroker({ authorization: { sources: [{ type: 'file', path: broken }] } }), /broken\.conf:2:1: .*bad prefix length/);
    await assert.rejects(startBroker({ authorization: { sources: [{ type: 'ldap' }] } }), /unknown source type 'ldap' \(known: file, built_in_database/);
    await assert.rejects(startBroker({ authorization: { sources: [{ type: 'file', path: 'a', rules: [] }] } }), /exactly one of path/);
  });
});

void sleep;
