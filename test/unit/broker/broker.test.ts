/**
 * The broker's publish path and subscription bookkeeping without sockets: delivery merging,
 * shared groups, No Local, QoS, retained messages, the one place routes change, exclusive
 * subscriptions, the message.publish hook, wills and forwarding to other nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientInfo, makeBroker } from './helpers.js';
import { T } from '../../../broker/src/store/keys.js';
import type { Message } from '../../../broker/src/types.js';

test('one delivery per client for overlapping subscriptions: highest QoS, every subscription id', () => {
  const tb = makeBroker();
  const a = tb.connect('a');
  tb.subscribe(a.session, 't/+', { qos: 1, subscriptionId: 1 });
  tb.subscribe(a.session, 't/#', { qos: 2, subscriptionId: 2 });
  tb.subscribe(a.session, 't/x', { qos: 0 });
  assert.equal(tb.publish('t/x', 'm', { qos: 2 }), 1);
  assert.equal(a.conn.delivered.length, 1);
  const d = a.conn.delivered[0];
  assert.equal(d.qos, 2);
  assert.deepEqual([...d.subIds!].sort(), [1, 2]);
  tb.publish('t/x', 'low', { qos: 1 });
  assert.equal(a.conn.delivered[1].qos, 1, 'never above the published QoS');
});

test('a shared group gets one copy, plain subscribers their own', () => {
  const tb = makeBroker();
  const members = ['m1', 'm2', 'm3'].map((id) => tb.connect(id));
  for (const m of members) tb.subscribe(m.session, '$share/g/s/+', { qos: 1 });
  const plain = tb.connect('p');
  tb.subscribe(plain.session, 's/#', { qos: 1 });
  for (let i = 0; i < 6; i++) assert.equal(tb.publish('s/1', `m${i}`, { qos: 1 }), 2);
  assert.equal(members.reduce((n, m) => n + m.conn.delivered.length, 0), 6);
  assert.ok(members.every((m) => m.conn.delivered.length === 2), 'round robin spreads them');
  assert.equal(plain.conn.delivered.length, 6);
});

test('No Local: a client does not receive its own publishes on that subscription', () => {
  const tb = makeBroker();
  const a = tb.connect('a');
  tb.subscribe(a.session, 'n', { noLocal: true });
  tb.publish('n', 'own', { from: 'a' });
  tb.publish('n', 'other', { from: 'b' });
  assert.deepEqual(a.conn.payloads(), ['other']);
});

test('QoS is the minimum of published and granted, or the maximum with upgrade_qos', () => {
  for (const [upgradeQos, expect] of [[false, 0], [true, 2]] as const) {
    const tb = makeBroker({ broker: { upgradeQos } });
    const a = tb.connect('a');
    tb.subscribe(a.session, 'q', { qos: 2 });
    tb.publish('q', 'm', { qos: 0 });
    assert.equal(a.conn.delivered[0].qos, expect, `upgradeQos=${upgradeQos}`);
  }
});

test('RETAIN is cleared on live deliveries unless Retain As Published', () => {
  const tb = makeBroker();
  const a = tb.connect('a');
  const b = tb.connect('b');
  tb.subscribe(a.session, 'r');
  tb.subscribe(b.session, 'r', { retainAsPublished: true });
  tb.publish('r', 'v', { retain: true });
  assert.equal(a.conn.delivered[0].retain, false);
  assert.equal(b.conn.delivered[0].retain, true);
});

test('retained messages: set, replace, delete by empty payload, getRetained / deleteRetained', () => {
  const tb = makeBroker();
  tb.publish('r/1', 'v1', { retain: true });
  assert.equal(tb.broker.getRetained('r/1')?.payload.toString(), 'v1');
  tb.publish('r/1', 'v2', { retain: true });
  assert.equal(tb.broker.getRetained('r/1')?.payload.toString(), 'v2');
  assert.equal((tb.store.get(T.retained, 'r/1') as Message).payload.toString(), 'v2');
  assert.equal(tb.counters['messages.retained'], 2);
  tb.publish('r/1', '', { retain: true });
  assert.equal(tb.broker.getRetained('r/1'), undefined);
  assert.equal(tb.store.get(T.retained, 'r/1'), undefined);
  assert.equal(tb.counters['messages.retained'], 2, 'an empty retained message is not stored');
  tb.publish('r/2', 'x', { retain: true });
  assert.equal(tb.broker.deleteRetained('r/2'), true);
  assert.equal(tb.broker.deleteRetained('r/2'), false);
  assert.equal(tb.state.retained.size, 0);
});

test('deliverRetained follows Retain Handling 0 / 1 / 2, with RETAIN set; shared subscriptions get none', () => {
  const tb = makeBroker();
  tb.publish('r/1', 'one', { retain: true, qos: 1 });
  tb.publish('r/2', 'two', { retain: true, qos: 1 });
  const h0 = tb.connect('h0');
  tb.subscribe(h0.session, 'r/+', { retainHandling: 0 });
  tb.subscribe(h0.session, 'r/+', { retainHandling: 0 });
  assert.deepEqual(h0.conn.payloads().sort(), ['one', 'one', 'two', 'two'], 'rh 0: on every subscribe');
  assert.ok(h0.conn.delivered.every((d) => d.retain));

  const h1 = tb.connect('h1');
  tb.subscribe(h1.session, 'r/+', { retainHandling: 1 });
  tb.subscribe(h1.session, 'r/+', { retainHandling: 1 });
  assert.deepEqual(h1.conn.payloads().sort(), ['one', 'two'], 'rh 1: only for a new subscription');

  const h2 = tb.connect('h2');
  tb.subscribe(h2.session, 'r/+', { retainHandling: 2 });
  assert.deepEqual(h2.conn.payloads(), [], 'rh 2: never');

  const sh = tb.connect('sh');
  tb.subscribe(sh.session, '$share/g/r/+');
  assert.deepEqual(sh.conn.payloads(), []);
});

test('subscribe / unsubscribe keep the subscriber index, the route table and the session in step', () => {
  const tb = makeBroker();
  const routes = (): string[] => tb.state.routes.list().map((r) => `${r.topic}@${r.node}`).sort();
  const a = tb.connect('a');
  const b = tb.connect('b');
  assert.deepEqual(tb.subscribe(a.session, 'x/+', { qos: 1 }), { code: 1, isNew: true });
  assert.deepEqual(routes(), ['x/+@petrel@test'], 'the first subscriber adds the route');
  assert.deepEqual(tb.subscribe(b.session, 'x/+'), { code: 2, isNew: true });
  assert.deepEqual(tb.subscribe(b.session, 'x/+', { qos: 0 }), { code: 0, isNew: false }, 'replaced');
  assert.equal(tb.state.routes.size, 1, 'one route however many subscribers');
  assert.equal(tb.broker.index.size, 2);
  assert.equal(tb.broker.unsubscribe(a.session, 'x/+'), true);
  assert.equal(tb.broker.unsubscribe(a.session, 'x/+'), false);
  assert.deepEqual(routes(), ['x/+@petrel@test'], 'b still subscribes');
  assert.equal(a.session.subscriptions.size, 0);
  assert.equal(tb.broker.unsubscribe(b.session, 'x/+'), true);
  assert.deepEqual(routes(), [], 'the last subscriber removes it');
  assert.equal(tb.broker.index.size, 0);

  tb.subscribe(a.session, '$share/g/y');
  tb.subscribe(b.session, 'y');
  assert.deepEqual(routes(), ['y@petrel@test'], 'shared subscriptions route on their topic filter');
  assert.deepEqual(tb.state.routes.groupNodes('g', 'y'), ['petrel@test']);
  tb.broker.sessions.terminate(a.session, 'test');
  assert.deepEqual(tb.state.routes.groupNodes('g', 'y'), []);
  assert.deepEqual(routes(), ['y@petrel@test']);
  tb.broker.sessions.terminate(b.session, 'test');
  assert.deepEqual(routes(), [], 'terminate removes the routes');
  assert.equal(tb.broker.index.size, 0);
});

test('an invalid topic filter is refused with 0x8F and changes nothing', () => {
  const tb = makeBroker();
  const a = tb.connect('a');
  const bad = { clientId: 'a', filter: 'a/#/b', topicFilter: 'a/#/b', group: null, exclusive: false, options: { qos: 0 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const, subscriptionId: 0 } };
  assert.equal(tb.broker.subscribe(a.session, bad).code, 0x8f);
  assert.equal(a.session.subscriptions.size, 0);
  assert.equal(tb.state.routes.size, 0);
});

test('$exclusive: a second client gets 0x97 until the holder unsubscribes', () => {
  const tb = makeBroker();
  const a = tb.connect('a');
  const b = tb.connect('b');
  assert.equal(tb.subscribe(a.session, '$exclusive/ex', { qos: 1 }).code, 1);
  assert.equal(tb.subscribe(b.session, '$exclusive/ex').code, 0x97);
  assert.equal(b.session.subscriptions.size, 0);
  assert.equal(tb.subscribe(a.session, '$exclusive/ex', { qos: 2 }).code, 2, 'the holder may subscribe again');
  tb.broker.unsubscribe(a.session, '$exclusive/ex');
  assert.equal(tb.subscribe(b.session, '$exclusive/ex').code, 2);
});

test('message.publish hook: a replacement is delivered (and retained), null drops the message', () => {
  const tb = makeBroker();
  const a = tb.connect('a');
  tb.subscribe(a.session, 'h/#');
  const remove = tb.broker.hooks.add('message.publish', (m) => (m.topic === 'h/drop' ? null : { ...m, payload: Buffer.from('changed') }));
  tb.publish('h/keep', 'orig', { retain: true });
  assert.deepEqual(a.conn.payloads(), ['changed']);
  assert.equal(tb.broker.getRetained('h/keep')?.payload.toString(), 'changed');
  assert.equal(tb.publish('h/drop', 'x', { retain: true }), 0);
  assert.equal(tb.counters['messages.dropped.hook'], 1);
  assert.deepEqual(a.conn.payloads(), ['changed']);
  assert.equal(tb.broker.getRetained('h/drop'), undefined);
  remove();
  tb.publish('h/drop', 'plain');
  assert.deepEqual(a.conn.payloads(), ['changed', 'plain']);
});

test('publishWill is authorized as the will\'s client (sync and async answers)', async () => {
  for (const async of [false, true]) {
    const tb = makeBroker();
    const seen: Array<string | null> = [];
    tb.broker.hooks.add('client.authorize', (req) => {
      seen.push(req.client.username);
      const r = req.client.username === 'alice' ? 'allow' : 'deny';
      return async ? Promise.resolve(r) : r;
    });
    const w = tb.connect('w');
    tb.subscribe(w.session, 'wills/#');
    const base = { topic: 'wills/x', qos: 0 as const, retain: false, properties: null, delaySec: 0 };
    tb.broker.publishWill({ ...base, client: clientInfo('x', 'alice'), payload: Buffer.from('from-alice') });
    tb.broker.publishWill({ ...base, client: clientInfo('y', 'mallory'), payload: Buffer.from('from-mallory') });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, ['alice', 'mallory']);
    assert.deepEqual(w.conn.payloads(), ['from-alice'], `async=${async}`);
  }
});

test('forwarder: once per remote node with a matching route, never without one, never to itself', () => {
  const tb = makeBroker();
  const calls: string[] = [];
  tb.broker.forwarder = (node, m) => { calls.push(`${node}:${m.topic}`); };
  const a = tb.connect('a');
  tb.subscribe(a.session, 't/#');
  tb.publish('t/x', 'local only');
  assert.deepEqual(calls, []);
  // Several matching filters per node, interleaved in the trie walk: still one forward per node.
  for (const f of ['t/#', 't/+']) for (const node of ['other@node', 'third@node']) tb.state.routes.add(f, node);
  tb.publish('t/x', 'm');
  assert.deepEqual(calls.sort(), ['other@node:t/x', 'third@node:t/x']);
  calls.length = 0;
  tb.publish('u/x', 'nobody');
  assert.deepEqual(calls, []);
  assert.deepEqual(a.conn.payloads(), ['local only', 'm']);
});
