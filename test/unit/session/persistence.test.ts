/**
 * Persistent sessions in the store: the 'sessmsg' records a session writes (keys from
 * store/keys.ts) and what SessionRegistry.load() rebuilds from them after a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryStore } from '../../../broker/src/store/index.js';
import { T, deliveryKey, qos2InKey } from '../../../broker/src/store/keys.js';
import { SessionRegistry, type SessionOwner } from '../../../broker/src/session/registry.js';
import type { DeliveryRecord } from '../../../broker/src/session/session.js';
import { FakeOutlet, LIMITS, give, makeSession, recordingEvents } from './helpers.js';

const OWNER: SessionOwner = { dropRoutes: () => {}, terminated: () => {} };

function record(store: ReturnType<typeof memoryStore>, clientId: string, seq: number): DeliveryRecord | undefined {
  return store.get(T.sessmsg, deliveryKey(clientId, seq)) as DeliveryRecord | undefined;
}

test('a persistent session writes one sessmsg record per queued or in-flight delivery, removed on ack', () => {
  const { session, store } = makeSession({ clientId: 'p', expiry: 60 });
  const out = new FakeOutlet();
  session.attach(out, { receiveMaximum: 1, resendOnLive: false });
  give(session, 'a', 1);
  give(session, 'b', 2);
  assert.deepEqual([record(store, 'p', 1)?.p, record(store, 'p', 1)?.q], [1, 1], 'in flight: with its packet id');
  assert.deepEqual([record(store, 'p', 2)?.p, record(store, 'p', 2)?.q], [0, 2], 'queued: no packet id yet');
  session.puback(1);
  assert.equal(record(store, 'p', 1), undefined);
  assert.equal(record(store, 'p', 2)?.p, 2, 'a QoS 2 delivery sent from the queue is rewritten with its id');
  session.pubrec(2, 0);
  assert.equal(record(store, 'p', 2)?.st, 1, 'PUBREC received: the PUBREL state is stored');
  session.pubcomp(2);
  assert.equal([...store.scan(T.sessmsg)].length, 0);
});

test('a clean session (expiry 0) writes nothing', () => {
  const { session, store } = makeSession({ expiry: 0 });
  give(session, 'a', 1);
  session.awaitRel(3, Date.now());
  assert.equal(store.stats.puts, 0);
});

test('detach writes the packet ids of QoS 1 deliveries sent from the queue', () => {
  const { session, store } = makeSession({ clientId: 'p', expiry: 60 });
  session.attach(new FakeOutlet(), { receiveMaximum: 1, resendOnLive: false });
  give(session, 'a', 1); give(session, 'b', 1);
  session.puback(1);
  assert.equal(record(store, 'p', 2)?.p, 0, 'not rewritten while connected');
  session.detach();
  assert.equal(record(store, 'p', 2)?.p, 2);
});

test('registry.load() rebuilds subscriptions, inflight (resent with DUP), queue order and QoS 2 receive state', () => {
  const store = memoryStore();
  const before = new SessionRegistry(store, LIMITS, recordingEvents().events, OWNER);
  const s = before.create('p', 120);
  s.subscriptions.set('a/#', { clientId: 'p', filter: 'a/#', topicFilter: 'a/#', group: null, exclusive: false, options: { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 4 } });
  s.attach(new FakeOutlet(), { receiveMaximum: 2, resendOnLive: false });
  give(s, 'in1', 1);
  give(s, 'in2', 2);
  give(s, 'q1', 1);
  give(s, 'q2', 2);
  s.pubrec(2, 0);
  s.awaitRel(11, Date.now());
  s.detach();
  before.save(s);

  const { events } = recordingEvents();
  const after = new SessionRegistry(store, LIMITS, events, OWNER);
  const loaded = after.load(Date.now());
  assert.equal(loaded.length, 1);
  const r = after.get('p')!;
  assert.equal(r.expiryInterval, 120);
  assert.deepEqual([...r.subscriptions.keys()], ['a/#']);
  assert.equal(r.subscriptions.get('a/#')!.options.subscriptionId, 4);
  assert.equal(r.inflightCount, 2);
  assert.equal(r.queued, 2);
  assert.ok(r.isAwaitingRel(11));
  assert.ok(r.disconnectedAt > 0, 'loaded sessions start offline');

  const out = new FakeOutlet();
  r.attach(out, { receiveMaximum: 10, resendOnLive: false });
  assert.deepEqual(out.delivered.map((d) => [d.payload, d.pid, d.dup]), [['in1', 1, true], ['q1', 3, false], ['q2', 4, false]]);
  assert.deepEqual(out.released, [2], 'the QoS 2 delivery past PUBREC resumes with PUBREL');
  assert.equal(store.get(T.qos2in, qos2InKey('p', 11)), 1);
});

test('registry.load() drops sessmsg records whose session record is gone', () => {
  const store = memoryStore();
  store.put(T.sessmsg, deliveryKey('ghost', 1), { m: { payload: Buffer.from('x') }, q: 1, r: false, s: null, g: null, f: null, p: 0, st: 0 });
  const reg = new SessionRegistry(store, LIMITS, recordingEvents().events, OWNER);
  assert.equal(reg.load(Date.now()).length, 0);
  assert.equal([...store.scan(T.sessmsg)].length, 0);
});

test('registry.terminate() removes every record of the session and only of that session', () => {
  const store = memoryStore();
  const reg = new SessionRegistry(store, LIMITS, recordingEvents().events, OWNER);
  const a = reg.create('a', 60);
  const ab = reg.create('ab', 60);
  give(a, 'x', 1); give(ab, 'y', 1);
  a.awaitRel(1, 0); ab.awaitRel(1, 0);
  reg.terminate(a, 'test');
  assert.equal(store.get(T.session, 'a'), undefined);
  assert.deepEqual([...store.scan(T.sessmsg)].map(([k]) => k), [deliveryKey('ab', 1)]);
  assert.deepEqual([...store.scan(T.qos2in)].map(([k]) => k), [qos2InKey('ab', 1)]);
  assert.ok(store.get(T.session, 'ab') !== undefined);
});
