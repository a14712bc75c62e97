/**
 * 52 — topic rewrite (EMQX 5 `rewrite`) and auto-subscribe (`auto_subscribe.topics`) over real
 * MQTT clients: a publish to a rewritten topic reaches subscribers of the destination; a
 * SUBSCRIBE (plain and `$share/…`) and its UNSUBSCRIBE are rewritten alike; rules are tried last
 * to first and a regex miss stops the search, as EMQX; authorization checks the topic the client
 * sent; an auto-subscribed client receives (retained too) without subscribing; bad entries refuse
 * the configuration with their position.
 *
 * v3 vs v5: both rewritten alike (one v3.1.1 publisher); the SUBACK of a rewritten filter is the
 * client's own QoS grant.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, client, collect, until, end, sleep, type TestBroker } from '../support/broker.js';
import { clientSubscriptions } from '../support/api.js';
import { loadConfig } from '../../broker/src/config/index.js';

let b: TestBroker;
before(async () => {
  b = await startBroker({
    rewrite: [
      { action: 'publish', source_topic: 'old/#', re: '^old/(.+)$', dest_topic: 'new/$1' },
      { action: 'subscribe', source_topic: 'legacy/#', re: '^legacy/(.+)$', dest_topic: 'modern/$1' },
      { action: 'all', source_topic: 'dev/#', re: '^dev/(.+)$', dest_topic: 'devices/${clientid}/$1' },
      // Both match x/…: EMQX tries the last rule first, so 'second' wins.
      { action: 'publish', source_topic: 'x/#', re: '^x/(.+)$', dest_topic: 'first/$1' },
      { action: 'publish', source_topic: 'x/#', re: '^x/(.+)$', dest_topic: 'second/$1' },
      // Tried first for miss/a: its filter matches, its re does not → the topic stays (no fallback to the rule above).
      { action: 'publish', source_topic: 'miss/#', re: '^miss/(a)$', dest_topic: 'caught/$1' },
      { action: 'publish', source_topic: 'miss/+', re: '^never$', dest_topic: 'nowhere' },
    ],
    auto_subscribe: {
      topics: [
        { topic: 'c/${clientid}', qos: 1 },
        { topic: 'u/${username}/in', qos: 0 },
        { topic: 'h/${host}', qos: 0, rh: 2 },
      ],
    },
    authorization: {
      no_match: 'allow',
      sources: [{ type: 'file', enable: true, rules: '{deny, all, publish, ["old/secret"]}.\n{deny, all, publish, ["new/#"]}.\n{deny, all, subscribe, ["c/#"]}.\n' }],
    },
  });
});
after(async () => { await b.stop(); });

describe('52 topic rewrite', () => {
  it('a publish to old/… reaches subscribers of new/…; authorization checked old/…, not new/…', async () => {
    const sub = await client(b, { clientId: 's1', protocolVersion: 5 });
    await sub.subscribeAsync('new/#', { qos: 1 });
    await sub.subscribeAsync('old/#', { qos: 1 });
    const got = collect(sub);
    const pub = await client(b, { clientId: 'p1', protocolVersion: 4 });
    await pub.publishAsync('old/a/b', 'hello', { qos: 1 }); // new/# is denied to publishers, old/a/b is not
    await until(() => got.length >= 1, 3000, 'rewritten message');
    // old/secret is denied as sent: refused before any rewrite (v3.1.1: no PUBACK code, nothing delivered).
    await pub.publishAsync('old/secret', 'no', { qos: 1 });
    await sleep(200);
    assert.deepEqual(got.map((m) => [m.topic, m.payload]), [['new/a/b', 'hello']]);
    await end(sub, pub);
  });

  it('rules are tried last to first; a regex miss keeps the topic', async () => {
    const sub = await client(b, { clientId: 's2' });
    await sub.subscribeAsync(['first/#', 'second/#', 'miss/#', 'caught/#', 'nowhere'], { qos: 1 });
    const got = collect(sub);
    const pub = await client(b, { clientId: 'p2' });
    await pub.publishAsync('x/1', 'x', { qos: 1 });
    await pub.publishAsync('miss/a', 'm', { qos: 1 });
    await until(() => got.length >= 2, 3000, 'two messages');
    await sleep(150);
    assert.deepEqual(got.map((m) => m.topic).sort(), ['miss/a', 'second/1']);
    await end(sub, pub);
  });

  it('SUBSCRIBE legacy/… subscribes modern/… (plain and $share), UNSUBSCRIBE legacy/… removes it', async () => {
    const sub = await client(b, { clientId: 's3', protocolVersion: 5 });
    const granted = await sub.subscribeAsync(['legacy/a', '$share/g/legacy/b'], { qos: 1 });
    assert.deepEqual(granted.map((g) => g.qos), [1, 1]);
    // Minus the auto_subscribe topics every client gets (c/…, h/…).
    const own = async () => (await clientSubscriptions(b, 's3'))!.map((r) => r.topic).filter((t) => !/^(c|h)\//.test(t)).sort();
    const rows = await own();
    assert.deepEqual(rows, ['$share/g/modern/b', 'modern/a']);
    const got = collect(sub);
    const pub = await client(b, { clientId: 'p3' });
    await pub.publishAsync('modern/a', '1', { qos: 1 });
    await pub.publishAsync('modern/b', '2', { qos: 1 });
    await pub.publishAsync('legacy/a', 'not rewritten for publish', { qos: 1 });
    await until(() => got.length >= 2, 3000, 'two messages');
    await sleep(150);
    assert.deepEqual(got.map((m) => m.topic).sort(), ['modern/a', 'modern/b']);
    await sub.unsubscribeAsync('legacy/a');
    assert.deepEqual(await own(), ['$share/g/modern/b']);
    await end(sub, pub);
  });

  it('action all with ${clientid}: publish and subscribe both rewritten per client', async () => {
    const a = await client(b, { clientId: 'devA' });
    await a.subscribeAsync('dev/status', { qos: 1 }); // → devices/devA/status
    const got = collect(a);
    await a.publishAsync('dev/status', 'mine', { qos: 1 }); // → devices/devA/status
    const other = await client(b, { clientId: 'devB' });
    await other.publishAsync('dev/status', 'theirs', { qos: 1 }); // → devices/devB/status
    await until(() => got.length >= 1, 3000, 'own status');
    await sleep(150);
    assert.deepEqual(got.map((m) => [m.topic, m.payload]), [['devices/devA/status', 'mine']]);
    await end(a, other);
  });

  it('bad rules refuse the configuration, naming the rule and field', () => {
    assert.throws(() => loadConfig({ overrides: { rewrite: [{ action: 'publish', source_topic: 'a/#', re: '(', dest_topic: 'b' }] } }), /rewrite\[0\]\.re/);
    assert.throws(() => loadConfig({ overrides: { rewrite: [{ action: 'all', source_topic: 'a/#', re: 'a', dest_topic: 'b/#' }] } }), /rewrite\[0\]\.dest_topic.*wildcard/);
    assert.throws(() => loadConfig({ overrides: { rewrite: [{ action: 'both', source_topic: 'a/#', re: 'a', dest_topic: 'b' }] } }), /rewrite\[0\]\.action/);
    assert.throws(() => loadConfig({ overrides: { rewrite: [{ action: 'publish', source_topic: 'a/#', re: 'a' }] } }), /rewrite\[0\]\.dest_topic: required/);
  });
});

describe('52 auto_subscribe', () => {
  it('a connecting client receives on c/${clientid} (retained too) without subscribing; no ACL check', async () => {
    const pre = await client(b, { clientId: 'pre' });
    await pre.publishAsync('c/auto1', 'kept', { qos: 1, retain: true });
    const a = await client(b, { clientId: 'auto1', protocolVersion: 5 });
    const got = collect(a);
    await pre.publishAsync('c/auto1', 'live', { qos: 1 });
    await until(() => got.length >= 2, 3000, 'retained and live');
    assert.deepEqual(got.map((m) => m.payload), ['kept', 'live']);
    assert.equal(got[1]!.packet.qos, 1);
    const rows = (await clientSubscriptions(b, 'auto1'))!;
    // No username: u/${username}/in is skipped; ${host} is the client's address.
    assert.deepEqual(rows.map((r) => [r.topic, r.qos, r.rh]).sort(), [['c/auto1', 1, 0], ['h/127.0.0.1', 0, 2]]);
    await pre.publishAsync('c/auto1', '', { qos: 1, retain: true });
    await end(pre, a);
  });

  it('${username} is filled for a client with one', async () => {
    const a = await client(b, { clientId: 'auto2', username: 'zed' });
    const rows = (await clientSubscriptions(b, 'auto2'))!;
    assert.ok(rows.some((r) => r.topic === 'u/zed/in'), JSON.stringify(rows));
    await end(a);
  });

  it('bad entries refuse the configuration, naming the entry', () => {
    assert.throws(() => loadConfig({ overrides: { auto_subscribe: { topics: [{ topic: 'a/${nope}' }] } } }), /auto_subscribe\.topics\[0\]\.topic: unknown placeholder/);
    assert.throws(() => loadConfig({ overrides: { auto_subscribe: { topics: [{ topic: 'a', qos: 3 }] } } }), /auto_subscribe\.topics\[0\]\.qos/);
    assert.throws(() => loadConfig({ overrides: { auto_subscribe: { topics: [{ topic: 'a/#/b' }] } } }), /not a valid topic filter/);
  });
});
