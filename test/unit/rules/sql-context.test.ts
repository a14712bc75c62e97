/**
 * The columns built from Petrel's Message and ClientInfo, read through rule SQL the way EMQX users
 * write it, and the FROM list: topic filters, `$events/…` and `matches(topic)`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileRule, messageColumns, deliveryColumns, clientColumns, pubProps, EVENT_TOPICS, type MessageColumns,
} from '../../../broker/src/rules/sql/index.js';
import type { ClientInfo } from '../../../broker/src/hooks.js';
import type { Message } from '../../../broker/src/types.js';
import { FNS, one, passes } from './sql-helpers.js';

const client: ClientInfo = {
  clientId: 'c_emqx', username: 'u_emqx', peerHost: '192.168.0.10', peerPort: 32781, listener: 'tcp:default',
  protocol: 'mqtt', protocolVersion: 5, isSuperuser: false,
};

function message(o: Partial<Message> = {}): Message {
  return {
    id: 0x1234, topic: 't/a', payload: Buffer.from('{"msg": "hello", "n": [1, 2]}'), qos: 1, retain: true,
    properties: { messageExpiryInterval: 30, payloadFormatIndicator: false, contentType: 'json', userProperties: { foo: 'bar', rep: ['a', 'b'] } },
    from: 'c_emqx', timestamp: 1700000000123, expiresAt: 0, ...o,
  };
}

test('message columns carry EMQX field names and shapes', () => {
  const cols = messageColumns(message(), client, 'petrel@127.0.0.1', 1700000000200);
  assert.deepEqual(cols, {
    event: 'message.publish',
    id: '00000000000000000000000000001234',
    topic: 't/a',
    payload: '{"msg": "hello", "n": [1, 2]}',
    qos: 1,
    flags: { retain: true, dup: false },
    pub_props: {
      'Payload-Format-Indicator': 0, 'Message-Expiry-Interval': 30, 'Content-Type': 'json',
      'User-Property': { foo: 'bar', rep: 'b' },
      'User-Property-Pairs': [{ key: 'foo', value: 'bar' }, { key: 'rep', value: 'a' }, { key: 'rep', value: 'b' }],
    },
    publish_received_at: 1700000000123,
    clientid: 'c_emqx', username: 'u_emqx', peerhost: '192.168.0.10', peername: '192.168.0.10:32781',
    timestamp: 1700000000200, node: 'petrel@127.0.0.1',
  } satisfies MessageColumns);
});

test('SELECT * returns the whole context; fields read through SQL as EMQX users write them', () => {
  const cols = messageColumns(message(), client, 'n1');
  assert.deepEqual(one('SELECT * FROM "t/#"', cols), cols);
  const out = one(`SELECT id, clientid, username, payload.msg as msg, payload.n[2] as n2, peerhost, topic, qos, flags.retain as retain,
      pub_props.'User-Property'.foo as foo, pub_props.'Message-Expiry-Interval' as mei, timestamp, publish_received_at, node
    FROM "t/#" WHERE qos = 1 and flags.retain = true and username = 'u_emqx'`, cols);
  assert.deepEqual(out, {
    id: cols.id, clientid: 'c_emqx', username: 'u_emqx', msg: 'hello', n2: 2, peerhost: '192.168.0.10', topic: 't/a', qos: 1,
    retain: true, foo: 'bar', mei: 30, timestamp: cols.timestamp, publish_received_at: 1700000000123, node: 'n1',
  });
});

test('no properties, no username, broker-made messages, binary payloads', () => {
  const cols = messageColumns(message({ properties: null, payload: Buffer.from([0xff, 0x00, 0xfe]), from: '' }), null, 'n1');
  assert.deepEqual(cols.pub_props, {});
  assert.equal(cols.username, undefined);
  assert.equal(cols.clientid, '');
  assert.ok(Buffer.isBuffer(cols.payload));
  assert.equal(passes("SELECT * FROM \"t/#\" WHERE pub_props.'User-Property'.foo = 'bar'", cols), false);
  assert.equal(passes('SELECT * FROM "t/#" WHERE username = x', cols), true); // both missing: equal, as EMQX
  const anon = clientColumns({ ...client, username: null, peerHost: '::1', peerPort: 5 });
  assert.deepEqual(anon, { clientid: 'c_emqx', username: undefined, peerhost: '::1', peername: '[::1]:5' });
  assert.deepEqual(pubProps({ correlationData: Buffer.from('abc') }), { 'Correlation-Data': 'abc' });
});

test('delivery events: receiver as clientid, publisher as from_clientid', () => {
  const receiver: ClientInfo = { ...client, clientId: 'c_emqx_2', username: 'u2' };
  const d = deliveryColumns('message.delivered', message(), receiver, 'n1', { fromUsername: 'u_emqx' }, 5);
  assert.equal(d.event, 'message.delivered');
  assert.deepEqual([d.clientid, d.username, d.from_clientid, d.from_username, d.timestamp], ['c_emqx_2', 'u2', 'c_emqx', 'u_emqx', 5]);
  const a = deliveryColumns('message.acked', message(), receiver, 'n1', { pubackProps: { 'Reason-String': 'OK' } });
  assert.deepEqual(a.puback_props, { 'Reason-String': 'OK' });
  const x = deliveryColumns('delivery.dropped', message(), receiver, 'n1', { reason: 'queue_full' });
  assert.equal(x.reason, 'queue_full');
  assert.deepEqual(one(`SELECT from_clientid, clientid, reason FROM "$events/delivery_dropped" WHERE reason = 'queue_full'`, x),
    { from_clientid: 'c_emqx', clientid: 'c_emqx_2', reason: 'queue_full' });
});

test('FROM: topic filters go to matches(), events and bridges are listed apart', () => {
  const r = compileRule(`SELECT * FROM "t/#", "a/+/c", "exact/one", "$events/client_connected", "$events/message_dropped", "$bridges/mqtt:in"`, FNS);
  assert.deepEqual(r.topics, ['t/#', 'a/+/c', 'exact/one']);
  assert.deepEqual(r.events, ['client_connected', 'message_dropped']);
  assert.deepEqual(r.bridges, ['$bridges/mqtt:in']);
  for (const t of ['t', 't/x', 't/x/y', 'a/b/c', 'exact/one']) assert.equal(r.matches(t), true, t);
  for (const t of ['u', 'a/b', 'a/b/c/d', 'exact/one/two', 'exact', '$SYS/x', 'tt']) assert.equal(r.matches(t), false, t);
  assert.equal(compileRule('SELECT * FROM "#"', FNS).matches('$SYS/brokers'), false);
  assert.equal(compileRule('SELECT * FROM "$events/session_subscribed"', FNS).matches('t'), false);
});

test('every event the issue lists is accepted in FROM', () => {
  const names = Object.keys(EVENT_TOPICS);
  assert.deepEqual(names.sort(), [
    'client_check_authn_complete', 'client_check_authz_complete', 'client_connack', 'client_connected', 'client_disconnected',
    'delivery_dropped', 'message_acked', 'message_delivered', 'message_dropped', 'session_subscribed', 'session_unsubscribed',
  ]);
  const r = compileRule(`SELECT * FROM ${names.map((n) => `"$events/${n}"`).join(', ')}`, FNS);
  assert.equal(r.events.length, 11);
});

test('=~ and matches() agree with the router reference matcher on every pair of a grid', async () => {
  const { topicMatches } = await import('../../../broker/src/router/topic.js');
  const filters = ['#', '+', 'a', 'a/#', 'a/+', 'a/+/b', '+/+', '+/#', 'a/b/#', '$SYS/#', '+/b', 'a//b', 'a/+/+', '/#', '/+'];
  const topics = ['a', 'a/b', 'a/b/c', 'a//b', 'a/', '/a', 'b', '$SYS/x', '$SYS', 'a/x/b', 'ab', 'a/bc', '/', '//'];
  for (const f of filters) {
    const rule = compileRule(`SELECT * FROM "${f}"`, FNS);
    for (const t of topics) {
      const want = topicMatches(f, t);
      assert.equal(rule.matches(t), want, `matches ${f} ${t}`);
      assert.equal(passes(`SELECT * FROM "x" WHERE topic =~ '${f}'`, { topic: t }), want, `=~ ${f} ${t}`);
      assert.equal(passes(`SELECT * FROM "x" WHERE topic =~ f`, { topic: t, f }), want, `=~ column ${f} ${t}`);
    }
  }
});
