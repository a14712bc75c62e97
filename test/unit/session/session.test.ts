/**
 * Session without a socket: an attached FakeOutlet stands for the client. Covers delivery at
 * each QoS, the inflight window and the queue behind it, the acknowledgement flows, offline
 * queueing and its drop policies, message expiry, resend on attach, the session's own timers
 * and the QoS 2 receive state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeOutlet, give, makeSession, msg } from './helpers.js';
import { T, deliveryKey, qos2InKey } from '../../../broker/src/store/keys.js';

const LIVE = { receiveMaximum: 65535, resendOnLive: false };

test('QoS 0 to an attached outlet: written at once with packet id 0, never in flight', () => {
  const { session, log } = makeSession();
  const out = new FakeOutlet();
  session.attach(out, LIVE);
  give(session, 'a', 0);
  assert.deepEqual(out.delivered, [{ topic: 't/1', payload: 'a', qos: 0, pid: 0, dup: false, retain: false, subIds: null }]);
  assert.equal(session.inflightCount, 0);
  assert.deepEqual(log.delivered, ['a']);
});

test('QoS 0 is dropped as busy when the outlet is not writable, as too_large when it refuses', () => {
  const { session, log } = makeSession();
  const out = new FakeOutlet();
  session.attach(out, LIVE);
  out.canWrite = false;
  give(session, 'busy', 0);
  out.canWrite = true;
  out.accept = false;
  give(session, 'big', 0);
  assert.deepEqual(log.dropped, [{ payload: 'busy', reason: 'busy' }, { payload: 'big', reason: 'too_large' }]);
  assert.equal(session.queued, 0);
});

test('QoS 1 and 2 go in flight with increasing packet ids, retain flag and subscription ids as given', () => {
  const { session, log } = makeSession();
  const out = new FakeOutlet();
  session.attach(out, LIVE);
  give(session, 'one', 1);
  session.deliver(msg('two'), 2, true, [7, 9], null, null);
  assert.deepEqual(out.delivered.map((d) => [d.payload, d.qos, d.pid, d.dup, d.retain, d.subIds]), [
    ['one', 1, 1, false, false, null],
    ['two', 2, 2, false, true, [7, 9]],
  ]);
  assert.equal(session.inflightCount, 2);
  assert.deepEqual(log.delivered, ['one', 'two']);
});

test('a QoS 1 the outlet refuses (too large) leaves the window and is reported dropped', () => {
  const { session, log } = makeSession();
  const out = new FakeOutlet();
  session.attach(out, LIVE);
  out.accept = false;
  give(session, 'huge', 1);
  assert.equal(session.inflightCount, 0);
  assert.deepEqual(log.dropped, [{ payload: 'huge', reason: 'too_large' }]);
});

test('inflight window is min(receiveMaximum, maxInflight); the rest waits in the queue', () => {
  for (const [rm, maxInflight, expect] of [[2, 3, 2], [10, 3, 3]] as const) {
    const { session } = makeSession({ limits: { maxInflight } });
    const out = new FakeOutlet();
    session.attach(out, { receiveMaximum: rm, resendOnLive: false });
    for (let i = 1; i <= 5; i++) give(session, `m${i}`, 1);
    assert.equal(session.inflightCount, expect, `rm=${rm} maxInflight=${maxInflight}`);
    assert.equal(session.queued, 5 - expect);
    assert.deepEqual(out.payloads(), ['m1', 'm2', 'm3'].slice(0, expect));
  }
});

test('PUBACK frees the window and the queue drains in order; unknown or wrong-QoS acks are refused', () => {
  const { session, log } = makeSession();
  const out = new FakeOutlet();
  session.attach(out, { receiveMaximum: 1, resendOnLive: false });
  give(session, 'a', 1); give(session, 'b', 1); give(session, 'c', 1);
  assert.deepEqual(out.payloads(), ['a']);
  assert.equal(session.puback(99), false);
  assert.equal(session.puback(1), true);
  assert.deepEqual(out.payloads(), ['a', 'b']);
  assert.equal(session.puback(1), false, 'already acked');
  assert.equal(session.puback(2), true);
  assert.equal(session.puback(3), true);
  assert.deepEqual(out.payloads(), ['a', 'b', 'c']);
  assert.deepEqual(log.acked, ['a', 'b', 'c']);
  assert.equal(session.inflightCount + session.queued, 0);

  give(session, 'q2', 2);
  const pid = out.delivered.at(-1)!.pid;
  assert.equal(session.puback(pid), false, 'PUBACK for a QoS 2 delivery');
});

test('QoS 2: PUBREC → PUBREL written, PUBCOMP completes and drains the next one', () => {
  const { session, log } = makeSession();
  const out = new FakeOutlet();
  session.attach(out, { receiveMaximum: 1, resendOnLive: false });
  give(session, 'x', 2); give(session, 'y', 2);
  assert.equal(session.pubcomp(1), false, 'PUBCOMP before PUBREC');
  assert.equal(session.pubrec(1, 0), true);
  assert.deepEqual(out.released, [1]);
  assert.deepEqual(out.payloads(), ['x'], 'still in flight until PUBCOMP');
  assert.equal(session.pubrec(1, 0), true, 'a repeated PUBREC answers PUBREL again');
  assert.deepEqual(out.released, [1, 1]);
  assert.equal(session.pubcomp(1), true);
  assert.deepEqual(log.acked, ['x']);
  assert.deepEqual(out.payloads(), ['x', 'y']);
  assert.equal(session.pubrec(99, 0), false);
});

test('QoS 2: a PUBREC with an error reason code ends the delivery without PUBREL', () => {
  const { session, log } = makeSession();
  const out = new FakeOutlet();
  session.attach(out, { receiveMaximum: 1, resendOnLive: false });
  give(session, 'x', 2); give(session, 'y', 2);
  assert.equal(session.pubrec(1, 0x80), true);
  assert.deepEqual(out.released, []);
  assert.deepEqual(log.acked, ['x']);
  assert.deepEqual(out.payloads(), ['x', 'y']);
});

test('offline: QoS 1/2 queued; QoS 0 only for a persistent session with storeQos0', () => {
  const clean = makeSession();
  give(clean.session, 'q1', 1); give(clean.session, 'q0', 0);
  assert.equal(clean.session.queued, 1);
  assert.deepEqual(clean.log.dropped, [{ payload: 'q0', reason: 'offline' }]);

  const keep = makeSession({ expiry: 60, limits: { storeQos0: true } });
  give(keep.session, 'q0', 0);
  assert.equal(keep.session.queued, 1);
  const out = new FakeOutlet();
  keep.session.attach(out, LIVE);
  assert.deepEqual(out.delivered.map((d) => [d.payload, d.qos, d.pid]), [['q0', 0, 0]]);

  const noQos0 = makeSession({ expiry: 60, limits: { storeQos0: false } });
  give(noQos0.session, 'q0', 0);
  assert.equal(noQos0.session.queued, 0);
  assert.deepEqual(noQos0.log.dropped, [{ payload: 'q0', reason: 'offline' }]);
});

test('queue full: drop_oldest drops the head, drop_new the newcomer, each reported as queue_full', () => {
  const oldest = makeSession({ limits: { maxQueue: 2, dropPolicy: 'drop_oldest' } });
  for (const p of ['1', '2', '3', '4']) give(oldest.session, p, 1);
  assert.deepEqual(oldest.log.dropped, [{ payload: '1', reason: 'queue_full' }, { payload: '2', reason: 'queue_full' }]);
  const o1 = new FakeOutlet();
  oldest.session.attach(o1, LIVE);
  assert.deepEqual(o1.payloads(), ['3', '4']);

  const newest = makeSession({ limits: { maxQueue: 2, dropPolicy: 'drop_new' } });
  for (const p of ['1', '2', '3', '4']) give(newest.session, p, 1);
  assert.deepEqual(newest.log.dropped, [{ payload: '3', reason: 'queue_full' }, { payload: '4', reason: 'queue_full' }]);
  const o2 = new FakeOutlet();
  newest.session.attach(o2, LIVE);
  assert.deepEqual(o2.payloads(), ['1', '2']);
});

test('drop_oldest on a persistent session removes the dropped record from the store', () => {
  const { session, store } = makeSession({ clientId: 'p', expiry: 60, limits: { maxQueue: 1, dropPolicy: 'drop_oldest' } });
  give(session, 'a', 1); give(session, 'b', 1);
  assert.equal(store.get(T.sessmsg, deliveryKey('p', 1)), undefined);
  assert.ok(store.get(T.sessmsg, deliveryKey('p', 2)) !== undefined);
});

test('expiry: an expired message is dropped on delivery, a queued one that expires is dropped at drain', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const { session, log, store } = makeSession({ clientId: 'e', expiry: 60 });
  session.deliver(msg('late', { expiresAt: 999_000 }), 1, false, null, null, null);
  assert.deepEqual(log.dropped, [{ payload: 'late', reason: 'expired' }]);
  give(session, 'short', 1, { expiresAt: 1_001_000 });
  give(session, 'long', 1, { expiresAt: 1_100_000 });
  assert.equal(session.queued, 2);
  t.mock.timers.tick(5_000);
  const out = new FakeOutlet();
  session.attach(out, LIVE);
  assert.deepEqual(out.payloads(), ['long']);
  assert.deepEqual(log.dropped.map((d) => [d.payload, d.reason]), [['late', 'expired'], ['short', 'expired']]);
  assert.equal(store.get(T.sessmsg, deliveryKey('e', 1)), undefined, 'the expired record left the store');
});

test('expiry: an unacknowledged PUBLISH that expired while offline is not resent; a PUBREL still is', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const { session, log } = makeSession({ expiry: 60 });
  const first = new FakeOutlet();
  session.attach(first, LIVE);
  give(session, 'pub', 1, { expiresAt: 1_001_000 });
  give(session, 'rel', 2, { expiresAt: 1_001_000 });
  session.pubrec(2, 0);
  session.detach();
  t.mock.timers.tick(5_000);
  const second = new FakeOutlet();
  session.attach(second, LIVE);
  assert.deepEqual(second.delivered, []);
  assert.deepEqual(second.released, [2]);
  assert.deepEqual(log.dropped, [{ payload: 'pub', reason: 'expired' }]);
});

test('attach resends in-flight deliveries with DUP in order, holding back beyond receiveMaximum', () => {
  const { session } = makeSession({ expiry: 60 });
  const first = new FakeOutlet();
  session.attach(first, LIVE);
  for (const p of ['a', 'b', 'c', 'd']) give(session, p, 1);
  session.detach();
  give(session, 'queued', 1);

  const second = new FakeOutlet();
  session.attach(second, { receiveMaximum: 2, resendOnLive: false });
  assert.deepEqual(second.delivered.map((d) => [d.payload, d.pid, d.dup]), [['a', 1, true], ['b', 2, true]]);
  session.puback(1);
  assert.deepEqual(second.delivered.map((d) => [d.payload, d.pid, d.dup]).slice(2), [['c', 3, true]]);
  session.puback(2);
  session.puback(3);
  // the deferred resend goes before anything from the queue
  assert.deepEqual(second.delivered.map((d) => [d.payload, d.pid, d.dup]).slice(3), [['d', 4, true], ['queued', 5, false]]);
});

test('tick: resend after retryIntervalMs only when attached with resendOnLive', () => {
  for (const resendOnLive of [true, false]) {
    const { session } = makeSession({ limits: { retryIntervalMs: 1_000 } });
    const out = new FakeOutlet();
    session.attach(out, { receiveMaximum: 10, resendOnLive });
    const t0 = Date.now();
    give(session, 'r', 1);
    session.tick(t0 + 500);
    assert.equal(out.delivered.length, 1, 'not before the interval');
    session.tick(t0 + 5_000);
    if (resendOnLive) assert.deepEqual(out.delivered.map((d) => [d.pid, d.dup]), [[1, false], [1, true]]);
    else assert.equal(out.delivered.length, 1, 'MQTT 5: never resent on a live connection');
  }
});

test('awaitRel / isAwaitingRel / releaseRel; persistent sessions keep the id in the store', () => {
  const { session, store } = makeSession({ clientId: 'q', expiry: 60 });
  assert.equal(session.isAwaitingRel(5), false);
  session.awaitRel(5, Date.now());
  assert.equal(session.isAwaitingRel(5), true);
  assert.equal(store.get(T.qos2in, qos2InKey('q', 5)), 1);
  assert.equal(session.releaseRel(5), true);
  assert.equal(session.releaseRel(5), false);
  assert.equal(session.isAwaitingRel(5), false);
  assert.equal(store.get(T.qos2in, qos2InKey('q', 5)), undefined);
});

test('tick: an await-PUBREL id past awaitRelTimeoutMs is forgotten, reported, and its store key removed', () => {
  const { session, store, log } = makeSession({ clientId: 'q', expiry: 60, limits: { awaitRelTimeoutMs: 1_000 } });
  session.attach(new FakeOutlet(), LIVE);
  session.awaitRel(7, 10_000);
  session.awaitRel(8, 10_500);
  session.tick(11_000);
  assert.deepEqual(log.awaitRelExpired, [], 'exactly at the timeout it is kept');
  session.tick(11_001);
  assert.deepEqual(log.awaitRelExpired, [7]);
  assert.equal(session.isAwaitingRel(7), false);
  assert.equal(session.isAwaitingRel(8), true);
  assert.equal(store.get(T.qos2in, qos2InKey('q', 7)), undefined);
  assert.equal(store.get(T.qos2in, qos2InKey('q', 8)), 1);
});

test('takeShared hands back shared deliveries (in flight and queued), keeps plain ones and those past PUBREC', () => {
  const { session, store } = makeSession({ clientId: 's', expiry: 60 });
  const out = new FakeOutlet();
  session.attach(out, { receiveMaximum: 3, resendOnLive: false });
  session.deliver(msg('g-inflight'), 1, false, null, 'g', 'a/+');
  session.deliver(msg('g-released'), 2, false, null, 'g', 'a/+');
  session.deliver(msg('plain-inflight'), 1, false, null, null, null);
  session.deliver(msg('g-queued'), 1, false, null, 'g', 'a/+');
  session.deliver(msg('plain-queued'), 1, false, null, null, null);
  session.pubrec(2, 0);
  session.detach();
  const taken = session.takeShared();
  assert.deepEqual(taken.map((d) => [d.msg.payload.toString(), d.group, d.topicFilter, d.packetId, d.seq]),
    [['g-inflight', 'g', 'a/+', 0, 0], ['g-queued', 'g', 'a/+', 0, 0]]);
  assert.deepEqual(session.pending().map((d) => d.msg.payload.toString()).sort(), ['g-released', 'plain-inflight', 'plain-queued']);
  const left = [...store.scan(T.sessmsg)].map(([, v]) => (v as { m: { payload: Buffer } }).m.payload.toString()).sort();
  assert.deepEqual(left, ['g-released', 'plain-inflight', 'plain-queued']);
});
