/**
 * Hooks: the message.publish transform chain, notification callbacks behind a bounded queue
 * (addAsync), the client.connect decision chain, and what a failing callback does to each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hooks, type ClientInfo, type HookName } from '../../broker/src/hooks.js';
import type { Message } from '../../broker/src/types.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function message(payload: string): Message {
  return { id: 1, topic: 't', payload: Buffer.from(payload), qos: 0, retain: false, properties: null, from: 'c', timestamp: 0, expiresAt: 0 };
}

const CLIENT: ClientInfo = { clientId: 'c', username: null, peerHost: '', peerPort: 0, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };

test('transform: callbacks run by priority, each sees the previous replacement; undefined keeps it', () => {
  const hooks = new Hooks();
  hooks.add('message.publish', (m) => ({ ...m, payload: Buffer.concat([m.payload, Buffer.from('-low')]) }), 0);
  hooks.add('message.publish', (m) => ({ ...m, payload: Buffer.concat([m.payload, Buffer.from('-high')]) }), 10);
  hooks.add('message.publish', () => undefined, 5);
  assert.equal(hooks.transform(message('m'))!.payload.toString(), 'm-high-low');
});

test('transform: null drops the message and later callbacks do not run; a throwing one is skipped', () => {
  const errors: HookName[] = [];
  const hooks = new Hooks((name) => { errors.push(name); });
  let later = 0;
  hooks.add('message.publish', () => { throw new Error('bad'); }, 20);
  hooks.add('message.publish', (m) => (m.payload.toString() === 'drop' ? null : m), 10);
  hooks.add('message.publish', (m) => { later++; return m; }, 0);
  assert.equal(hooks.transform(message('drop')), null);
  assert.equal(later, 0);
  assert.equal(hooks.transform(message('keep'))!.payload.toString(), 'keep');
  assert.equal(later, 1);
  assert.deepEqual(errors, ['message.publish', 'message.publish']);
});

test('run: a throwing notification callback is reported and the others still run', () => {
  const errors: HookName[] = [];
  const hooks = new Hooks((name) => { errors.push(name); });
  const seen: string[] = [];
  hooks.add('session.created', () => { throw new Error('x'); }, 1);
  hooks.add('session.created', (id) => { seen.push(id); }, 0);
  hooks.run('session.created', 'c1');
  assert.deepEqual(seen, ['c1']);
  assert.deepEqual(errors, ['session.created']);
});

test('add: an unknown hook name is refused; remove() takes the callback out and bumps the generation', () => {
  const hooks = new Hooks();
  assert.throws(() => hooks.add('no.such.hook' as HookName, () => {}), /unknown hook point/);
  const g0 = hooks.generation;
  const remove = hooks.add('client.connected', () => {});
  assert.equal(hooks.active('client.connected'), true);
  remove();
  assert.equal(hooks.active('client.connected'), false);
  assert.equal(hooks.generation, g0 + 2);
});

test('addAsync: the callback runs on a later turn, never inside the call, in order', async () => {
  const hooks = new Hooks();
  const seen: string[] = [];
  const { dispatch } = hooks.addAsync('session.created', (id) => { seen.push(id); }, { maxQueue: 10 });
  hooks.run('session.created', 'a');
  hooks.run('session.created', 'b');
  assert.deepEqual(seen, []);
  assert.equal(dispatch.size, 2);
  await turn();
  assert.deepEqual(seen, ['a', 'b']);
  assert.equal(dispatch.handled, 2);
});

test('addAsync: past maxQueue waiting calls are dropped and counted; remove() stops it', async () => {
  const hooks = new Hooks();
  const seen: string[] = [];
  const { dispatch, remove } = hooks.addAsync('session.created', (id) => { seen.push(id); }, { maxQueue: 2 });
  for (const id of ['a', 'b', 'c', 'd']) hooks.run('session.created', id);
  assert.equal(dispatch.dropped, 2);
  await turn();
  assert.deepEqual(seen, ['a', 'b']);
  remove();
  hooks.run('session.created', 'e');
  await turn();
  assert.deepEqual(seen, ['a', 'b']);
  assert.equal(hooks.active('session.created'), false);
});

test('addAsync: a failing callback is reported through the hooks\' error handler', async () => {
  const errors: HookName[] = [];
  const hooks = new Hooks((name) => { errors.push(name); });
  hooks.addAsync('client.connected', () => { throw new Error('x'); }, { maxQueue: 4 });
  hooks.run('client.connected', CLIENT);
  await turn();
  assert.deepEqual(errors, ['client.connected']);
});

test('connect: the first defined verdict wins; none → undefined; a failing callback refuses', async () => {
  const hooks = new Hooks();
  assert.equal(await hooks.connect(CLIENT), undefined);
  const asked: string[] = [];
  hooks.add('client.connect', () => { asked.push('high'); return undefined; }, 10);
  hooks.add('client.connect', async () => { asked.push('mid'); return { result: 'deny', reason: 'BANNED' }; }, 5);
  hooks.add('client.connect', () => { asked.push('low'); return { result: 'deny', reason: 'SERVER_BUSY' }; }, 0);
  assert.deepEqual(await hooks.connect(CLIENT), { result: 'deny', reason: 'BANNED' });
  assert.deepEqual(asked, ['high', 'mid']);

  const errors: HookName[] = [];
  const failing = new Hooks((name) => { errors.push(name); });
  failing.add('client.connect', () => Promise.reject(new Error('db down')));
  assert.deepEqual(await failing.connect(CLIENT), { result: 'deny', reason: 'NOT_AUTHORIZED' });
  assert.deepEqual(errors, ['client.connect']);
});
