import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetainedIndex } from '../../../broker/src/router/index.js';
import type { Message } from '../../../broker/src/types.js';
import { msg } from './helpers.js';

/** The topics match() visits, sorted; matching() (the generator the broker sends from) must yield the same, in the same order. */
function topics(ri: RetainedIndex, filter: string, now = 1000): string[] {
  const out: string[] = [];
  ri.match(filter, now, (m: Message) => out.push(m.topic));
  assert.deepEqual([...ri.matching(filter, now)].map((m) => m.topic), out, `matching(${filter}) as match()`);
  return out.sort();
}

test('set, replace, get, delete', () => {
  const ri = new RetainedIndex();
  assert.equal(ri.set(msg('a/b', 'one')), true);
  assert.equal(ri.get('a/b')!.payload.toString(), 'one');
  assert.equal(ri.set(msg('a/b', 'two')), true);
  assert.equal(ri.size, 1);
  assert.equal(ri.get('a/b')!.payload.toString(), 'two');
  assert.equal(ri.delete('a/b'), true);
  assert.equal(ri.delete('a/b'), false);
  assert.equal(ri.get('a/b'), undefined);
  assert.equal(ri.size, 0);
  assert.equal(ri.nodeCount, 0);
});

test('empty payload deletes and is not stored [MQTT-3.3.1-10]', () => {
  const ri = new RetainedIndex();
  ri.set(msg('a/b', 'x'));
  ri.set(msg('a/b/c', 'y'));
  assert.equal(ri.set(msg('a/b', '')), false);
  assert.equal(ri.get('a/b'), undefined);
  assert.deepEqual(topics(ri, '#'), ['a/b/c']);
  assert.equal(ri.set(msg('zz', '')), false);
  assert.equal(ri.size, 1);
  ri.set(msg('a/b/c', ''));
  assert.equal(ri.size, 0);
  assert.equal(ri.nodeCount, 0);
});

test('messages without retain are not stored', () => {
  const ri = new RetainedIndex();
  assert.equal(ri.set(msg('a', 'x', { retain: false })), false);
  assert.equal(ri.size, 0);
});

test('match with wildcards, empty levels and $-topics', () => {
  const ri = new RetainedIndex();
  for (const t of ['a', 'a/b', 'a/b/c', 'a//c', '/x', 'b', '$SYS/up', '$SYS', 'a/$x']) ri.set(msg(t, t));
  assert.deepEqual(topics(ri, '#'), ['/x', 'a', 'a//c', 'a/$x', 'a/b', 'a/b/c', 'b'].sort());
  assert.deepEqual(topics(ri, 'a/#'), ['a', 'a//c', 'a/$x', 'a/b', 'a/b/c'].sort());
  assert.deepEqual(topics(ri, 'a/+'), ['a/$x', 'a/b']);
  assert.deepEqual(topics(ri, 'a/+/c'), ['a//c', 'a/b/c'].sort());
  assert.deepEqual(topics(ri, '+'), ['a', 'b']);
  assert.deepEqual(topics(ri, '+/x'), ['/x']);
  assert.deepEqual(topics(ri, '$SYS/#'), ['$SYS', '$SYS/up']);
  assert.deepEqual(topics(ri, '$SYS/+'), ['$SYS/up']);
  assert.deepEqual(topics(ri, 'a/b'), ['a/b']);
  assert.deepEqual(topics(ri, 'nope/#'), []);
  assert.deepEqual([...ri.values()].map((m) => m.topic).sort(), ['$SYS', '$SYS/up', '/x', 'a', 'a//c', 'a/$x', 'a/b', 'a/b/c', 'b'].sort());
});

test('expired messages are skipped and deleted lazily [MQTT-3.3.2-5]', () => {
  const ri = new RetainedIndex();
  ri.set(msg('t/1', 'keep'));
  ri.set(msg('t/2', 'old', { expiresAt: 500 }));
  ri.set(msg('t/3', 'later', { expiresAt: 5000 }));
  ri.set(msg('u', 'old', { expiresAt: 500 }));
  assert.deepEqual(topics(ri, 't/#', 1000), ['t/1', 't/3']);
  assert.equal(ri.size, 3);
  assert.equal(ri.get('u', 400)!.topic, 'u');
  assert.deepEqual(topics(ri, 'u', 1000), []);
  assert.equal(ri.size, 2);
  assert.deepEqual(topics(ri, '#', 5000), ['t/1']);
  assert.equal(ri.size, 1);
  ri.delete('t/1');
  assert.equal(ri.nodeCount, 0);
});

test('maxCount refuses new topics but allows replacing', () => {
  const ri = new RetainedIndex({ maxCount: 2 });
  assert.equal(ri.set(msg('a', '1')), true);
  assert.equal(ri.set(msg('b', '1')), true);
  assert.equal(ri.set(msg('c', '1')), false);
  assert.equal(ri.set(msg('a', '2')), true);
  assert.equal(ri.size, 2);
  ri.delete('b');
  assert.equal(ri.set(msg('c', '1')), true);
});

test('deleting keeps shared tree paths of other topics', () => {
  const ri = new RetainedIndex();
  ri.set(msg('a/b/c', '1'));
  ri.set(msg('a/b', '2'));
  ri.set(msg('a/b/d', '3'));
  ri.delete('a/b/c');
  assert.deepEqual(topics(ri, 'a/#'), ['a/b', 'a/b/d']);
  ri.delete('a/b');
  assert.deepEqual(topics(ri, 'a/#'), ['a/b/d']);
  assert.equal(ri.nodeCount, 3);
  ri.delete('a/b/d');
  assert.equal(ri.nodeCount, 0);
});

test('10k topics: # returns them all', () => {
  const ri = new RetainedIndex();
  for (let i = 0; i < 10_000; i++) ri.set(msg(`site/${i % 100}/dev/${i}`, 'v'));
  let n = 0;
  ri.match('#', 0, () => { n++; });
  assert.equal(n, 10_000);
  n = 0;
  ri.match('site/42/dev/+', 0, () => { n++; });
  assert.equal(n, 100);
});

test('matching(): yields lazily, survives changes between next() calls, deletes the expired when done or returned', () => {
  const ri = new RetainedIndex();
  for (let i = 0; i < 10; i++) ri.set(msg(`m/${i}`, 'v'));
  ri.set(msg('m/old', 'v', { expiresAt: 500 }));
  const it = ri.matching('m/#', 1000);
  const first = [it.next().value!.topic, it.next().value!.topic];
  assert.deepEqual(first, ['m/0', 'm/1']);
  ri.delete('m/5'); // deleted before the walk reached it: not yielded
  ri.set(msg('m/new', 'v'));
  const rest = [...it].map((m) => m.topic);
  assert.ok(!rest.includes('m/5'));
  assert.ok(!rest.includes('m/old'), 'expired not yielded');
  assert.deepEqual(rest.filter((t) => /^m\/\d$/.test(t)), ['m/2', 'm/3', 'm/4', 'm/6', 'm/7', 'm/8', 'm/9']);
  assert.equal(ri.get('m/old', 400), undefined, 'the expired one was deleted when the walk ended');
  ri.set(msg('m/old2', 'v', { expiresAt: 500 }));
  const early = ri.matching('#', 1000);
  for (let i = 0; i < 3; i++) early.next();
  early.return(undefined);
  assert.equal(ri.get('m/old2', 400)?.topic, 'm/old2', 'not reached before return(): still there');
});
