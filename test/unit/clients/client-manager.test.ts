/**
 * The client manager without sockets: FakeConnections open, activate and close sessions as a
 * protocol channel would. Covers create vs resume, clean start, takeover, expiry, wills (now,
 * delayed, cancelled, flushed), session end on close, shared-group redispatch, kicks and the
 * once-a-second tick.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeBroker, will } from '../broker/helpers.js';
import { T } from '../../../broker/src/store/keys.js';
import type { SessionRecord } from '../../../broker/src/session/registry.js';

test('open() creates a session, then resumes it (present) when clean start is off', () => {
  const tb = makeBroker();
  const first = tb.connect('a', { cleanStart: false, expiry: 60 });
  assert.equal(first.present, false);
  first.conn.close('normal', false);
  const second = tb.connect('a', { cleanStart: false, expiry: 60 });
  assert.equal(second.present, true);
  assert.equal(second.session, first.session);
  assert.equal(tb.counters['session.created'], 1);
  assert.equal(tb.counters['session.resumed'], 1);
});

test('clean start discards the old session, its subscriptions and routes', () => {
  const tb = makeBroker();
  const first = tb.connect('a', { cleanStart: false, expiry: 60 });
  tb.subscribe(first.session, 'x/#');
  first.conn.close('normal', false);
  const second = tb.connect('a', { cleanStart: true, expiry: 60 });
  assert.equal(second.present, false);
  assert.notEqual(second.session, first.session);
  assert.equal(second.session.subscriptions.size, 0);
  assert.equal(tb.counters['session.discarded'], 1);
  assert.deepEqual(tb.state.routes.list(), []);
  assert.equal(tb.broker.index.size, 0);
});

test('takeover kicks the old connection with SESSION_TAKEN_OVER; unacked messages go to the new one with DUP', () => {
  const tb = makeBroker();
  const old = tb.connect('a', { cleanStart: false, expiry: 60 });
  tb.subscribe(old.session, 't', { qos: 1 });
  tb.publish('t', 'm1', { qos: 1 });
  assert.deepEqual(old.conn.delivered.map((d) => [d.payload, d.dup]), [['m1', false]]);
  const next = tb.connect('a', { cleanStart: false, expiry: 60 });
  assert.deepEqual(old.conn.kicks, ['SESSION_TAKEN_OVER']);
  assert.equal(tb.counters['session.takenover'], 1);
  assert.equal(tb.clients.get('a'), next.conn);
  assert.equal(tb.clients.size, 1);
  assert.equal(next.present, true);
  assert.deepEqual(next.conn.delivered.map((d) => [d.payload, d.pid, d.dup]), [['m1', 1, true]]);
});

test('an expired offline session is not resumed', () => {
  const tb = makeBroker();
  const ended: string[] = [];
  tb.broker.hooks.add('session.terminated', (id, reason) => { ended.push(`${id}:${reason}`); });
  const first = tb.connect('a', { cleanStart: false, expiry: 1 });
  tb.subscribe(first.session, 'x');
  first.conn.close('normal', false);
  first.session.disconnectedAt = Date.now() - 5_000;
  const second = tb.connect('a', { cleanStart: false, expiry: 1 });
  assert.equal(second.present, false);
  assert.equal(second.session.subscriptions.size, 0);
  assert.deepEqual(ended, ['a:expired']);
});

test('activate() attaches: what was queued while away is delivered to the new connection', () => {
  const tb = makeBroker();
  const first = tb.connect('a', { cleanStart: false, expiry: 60 });
  tb.subscribe(first.session, 't', { qos: 1 });
  first.conn.close('normal', false);
  tb.publish('t', 'm1', { qos: 1 });
  tb.publish('t', 'm2', { qos: 1 });
  assert.equal(first.session.queued, 2);
  const second = tb.connect('a', { cleanStart: false, expiry: 60 });
  assert.deepEqual(second.conn.payloads(), ['m1', 'm2']);
});

test('closed() with publishWill: a will without delay is published at once; a normal disconnect sends none', () => {
  for (const publishWill of [true, false]) {
    const tb = makeBroker();
    const watcher = tb.connect('w');
    tb.subscribe(watcher.session, 'wills/#');
    const c = tb.connect('a', { will: will('wills/a', 'gone') });
    c.conn.close(publishWill ? 'keepalive_timeout' : 'normal', publishWill);
    assert.deepEqual(watcher.conn.payloads(), publishWill ? ['gone'] : []);
  }
});

test('a delayed will goes out after its delay', (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 1_000_000 });
  const tb = makeBroker();
  const watcher = tb.connect('w');
  tb.subscribe(watcher.session, 'wills/#');
  const c = tb.connect('a', { expiry: 60, cleanStart: false, will: will('wills/a', 'late', 5) });
  c.conn.close('network_error', true);
  assert.deepEqual(watcher.conn.payloads(), []);
  assert.equal(tb.clients.wills.size, 1);
  assert.ok(tb.store.get(T.will, 'a') !== undefined, 'a pending delayed will is stored');
  t.mock.timers.tick(4_999);
  assert.deepEqual(watcher.conn.payloads(), []);
  t.mock.timers.tick(1);
  assert.deepEqual(watcher.conn.payloads(), ['late']);
  assert.equal(tb.store.get(T.will, 'a'), undefined);
});

test('a delayed will is cancelled by a reconnect within the delay', (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 1_000_000 });
  const tb = makeBroker();
  const watcher = tb.connect('w');
  tb.subscribe(watcher.session, 'wills/#');
  const c = tb.connect('a', { expiry: 60, cleanStart: false, will: will('wills/a', 'late', 5) });
  c.conn.close('network_error', true);
  t.mock.timers.tick(2_000);
  tb.connect('a', { expiry: 60, cleanStart: false });
  t.mock.timers.tick(10_000);
  assert.deepEqual(watcher.conn.payloads(), []);
  assert.equal(tb.store.get(T.will, 'a'), undefined);
});

test('a delayed will is published at once when the session ends before the delay', (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 1_000_000 });
  const tb = makeBroker();
  const watcher = tb.connect('w');
  tb.subscribe(watcher.session, 'wills/#');
  const c = tb.connect('a', { expiry: 600, cleanStart: false, will: will('wills/a', 'ended', 300) });
  c.conn.close('network_error', true);
  assert.deepEqual(watcher.conn.payloads(), []);
  assert.equal(tb.clients.discard('a'), true);
  assert.deepEqual(watcher.conn.payloads(), ['ended']);
  t.mock.timers.tick(400_000);
  assert.deepEqual(watcher.conn.payloads(), ['ended'], 'not a second time');
});

test('the will delay is capped by the session expiry', (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 1_000_000 });
  const tb = makeBroker();
  const watcher = tb.connect('w');
  tb.subscribe(watcher.session, 'wills/#');
  const c = tb.connect('a', { expiry: 2, cleanStart: false, will: will('wills/a', 'capped', 300) });
  c.conn.close('network_error', true);
  t.mock.timers.tick(2_000);
  assert.deepEqual(watcher.conn.payloads(), ['capped']);
});

test('on close a session with expiry 0 ends (routes gone); a persistent one is kept and saved', () => {
  const tb = makeBroker();
  const clean = tb.connect('clean');
  tb.subscribe(clean.session, 'c/#');
  const kept = tb.connect('kept', { expiry: 60, cleanStart: false });
  tb.subscribe(kept.session, 'k/#');
  clean.conn.close('normal', false);
  kept.conn.close('normal', false);
  assert.equal(tb.broker.sessions.get('clean'), undefined);
  assert.equal(tb.broker.sessions.get('kept'), kept.session);
  assert.deepEqual(tb.state.routes.list().map((r) => r.topic), ['k/#']);
  const rec = tb.store.get(T.session, 'kept') as SessionRecord;
  assert.deepEqual(rec.subs.map((s) => s.filter), ['k/#']);
  assert.ok(rec.disconnectedAt > 0, 'saved after the disconnect');
  assert.equal(tb.clients.size, 0);
});

test('a connection that ends between open() and activate() still ends its session and sends its will', () => {
  // A protocol whose acknowledgement goes out later (activate() after it) may lose the client first.
  const tb = makeBroker();
  const watcher = tb.connect('w');
  tb.subscribe(watcher.session, 'wills/#');
  const c = tb.open('a', { will: will('wills/a', 'gone') });
  c.conn.close('network_error', true);
  assert.equal(tb.broker.sessions.get('a'), undefined, 'the expiry-0 session ended');
  assert.deepEqual(watcher.conn.payloads(), ['gone']);

  const p = tb.open('p', { expiry: 60, cleanStart: false });
  p.conn.close('network_error', true);
  assert.ok(p.session.disconnectedAt > 0, 'a persistent session is offline, so its expiry runs');
  p.session.disconnectedAt -= 61_000;
  tb.clients.tick(Date.now());
  assert.equal(tb.broker.sessions.get('p'), undefined);
});

test('a leaving shared-group member\'s unacked deliveries go to another member', () => {
  const tb = makeBroker();
  const m1 = tb.connect('m1');
  const m2 = tb.connect('m2');
  tb.subscribe(m1.session, '$share/g/jobs', { qos: 1 });
  tb.subscribe(m2.session, '$share/g/jobs', { qos: 1 });
  tb.publish('jobs', 'j1', { qos: 1 });
  const [got, other] = m1.conn.delivered.length === 1 ? [m1, m2] : [m2, m1];
  assert.deepEqual(got.conn.payloads(), ['j1']);
  assert.deepEqual(other.conn.payloads(), []);
  got.conn.close('network_error', true);
  assert.deepEqual(other.conn.payloads(), ['j1']);
});

test('a redispatched delivery carries the new member\'s subscription id and QoS, not the leaver\'s', () => {
  const tb = makeBroker();
  const m1 = tb.connect('m1');
  const m2 = tb.connect('m2');
  tb.subscribe(m1.session, '$share/g/jobs', { qos: 2, subscriptionId: 11 });
  tb.subscribe(m2.session, '$share/g/jobs', { qos: 1, subscriptionId: 22 });
  tb.publish('jobs', 'j1', { qos: 2 });
  const [got, other] = m1.conn.delivered.length === 1 ? [m1, m2] : [m2, m1];
  got.conn.close('network_error', true);
  const d = other.conn.delivered[0];
  const mine = other === m1 ? { id: 11, qos: 2 } : { id: 22, qos: 1 };
  assert.deepEqual([d.payload, d.subIds, d.qos], ['j1', [mine.id], mine.qos]);
});

test('a persistent member alone in its group keeps its unacked shared delivery for next time', () => {
  const tb = makeBroker();
  const m = tb.connect('m', { expiry: 60, cleanStart: false });
  tb.subscribe(m.session, '$share/g/jobs', { qos: 1 });
  tb.publish('jobs', 'j1', { qos: 1 });
  m.conn.close('network_error', true);
  const again = tb.connect('m', { expiry: 60, cleanStart: false });
  assert.deepEqual(again.conn.delivered.map((d) => d.payload), ['j1']);
});

test('kick / discard / kickAll', () => {
  const tb = makeBroker();
  const a = tb.connect('a', { expiry: 60, cleanStart: false });
  const b = tb.connect('b', { expiry: 60, cleanStart: false });
  const c = tb.connect('c');
  assert.equal(tb.clients.kick('nobody', 'ADMINISTRATIVE_ACTION'), false);
  assert.equal(tb.clients.kick('a', 'ADMINISTRATIVE_ACTION'), true);
  assert.deepEqual(a.conn.kicks, ['ADMINISTRATIVE_ACTION']);
  assert.equal(tb.broker.sessions.get('a'), a.session, 'kick keeps a persistent session');

  assert.equal(tb.clients.discard('a'), true, 'offline session');
  assert.equal(tb.broker.sessions.get('a'), undefined);
  assert.equal(tb.clients.discard('a'), false);

  assert.equal(tb.clients.kickAll('SERVER_SHUTTING_DOWN'), 2);
  assert.deepEqual(b.conn.kicks, ['SERVER_SHUTTING_DOWN']);
  assert.deepEqual(c.conn.kicks, ['SERVER_SHUTTING_DOWN']);
  assert.equal(tb.clients.size, 0);
  assert.equal(tb.broker.sessions.get('b'), b.session);
  assert.equal(tb.broker.sessions.get('c'), undefined);
});

test('tick() ends offline sessions whose expiry has passed, and runs online sessions\' timers', () => {
  const tb = makeBroker({ limits: { awaitRelTimeoutMs: 1_000 } });
  const gone = tb.connect('gone', { expiry: 10, cleanStart: false });
  tb.subscribe(gone.session, 'g');
  gone.conn.close('normal', false);
  const online = tb.connect('online', { expiry: 10, cleanStart: false });
  online.session.awaitRel(3, Date.now());
  const now = Date.now();
  tb.clients.tick(now + 5_000);
  assert.equal(tb.broker.sessions.get('gone'), gone.session, 'not yet');
  assert.equal(online.session.isAwaitingRel(3), false, 'await-PUBREL timeout ran');
  assert.equal(tb.counters['messages.dropped.await_pubrel_timeout'], 1);
  tb.clients.tick(now + 10_001);
  assert.equal(tb.broker.sessions.get('gone'), undefined);
  assert.equal(tb.broker.sessions.get('online'), online.session, 'an online session never expires');
  assert.deepEqual(tb.state.routes.list(), []);
  assert.equal(tb.store.get(T.session, 'gone'), undefined);
});
