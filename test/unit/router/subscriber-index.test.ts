import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubscriberIndex } from '../../../broker/src/router/index.js';
import { MqttError } from '../../../broker/src/errors.js';
import type { Subscription } from '../../../broker/src/types.js';
import { sub } from './helpers.js';

function collect(r: SubscriberIndex, topic: string, publisher = 'pub', eligible?: (c: string) => boolean): string[] {
  const out: string[] = [];
  r.match(topic, publisher, (s: Subscription) => out.push(`${s.clientId}:${s.filter}`), eligible);
  return out.sort();
}

function assertEmpty(r: SubscriberIndex): void {
  assert.equal(r.size, 0);
  assert.deepEqual(r.topics(), []);
  const s = r.stats();
  assert.equal(s.subscriptions, 0);
  assert.equal(s.filters, 0);
  assert.equal(s.trieNodes, 0);
  assert.equal(s.clients, 0);
  assert.equal(s.groups, 0);
  assert.equal(s.exclusive, 0);
}

test('exact and wildcard filters match', () => {
  const r = new SubscriberIndex();
  r.add(sub('c1', 'a/b'));
  r.add(sub('c2', 'a/+'));
  r.add(sub('c3', 'a/#'));
  r.add(sub('c4', '#'));
  r.add(sub('c5', '+/+/c'));
  r.add(sub('c6', 'x/y'));
  assert.deepEqual(collect(r, 'a/b'), ['c1:a/b', 'c2:a/+', 'c3:a/#', 'c4:#']);
  assert.deepEqual(collect(r, 'a'), ['c3:a/#', 'c4:#']);
  assert.deepEqual(collect(r, 'a/b/c'), ['c3:a/#', 'c4:#', 'c5:+/+/c']);
  assert.deepEqual(collect(r, 'a//c'), ['c3:a/#', 'c4:#', 'c5:+/+/c']);
  assert.deepEqual(collect(r, 'q'), ['c4:#']);
  assert.equal(r.size, 6);
  assert.deepEqual(r.topics().sort(), ['#', '+/+/c', 'a/#', 'a/+', 'a/b', 'x/y']);
});

test('$-topics are not matched by leading wildcards [MQTT-4.7.2-1]', () => {
  const r = new SubscriberIndex();
  r.add(sub('c1', '#'));
  r.add(sub('c2', '+/x'));
  r.add(sub('c3', '$SYS/#'));
  r.add(sub('c4', '$SYS/+'));
  r.add(sub('c5', '$SYS/x'));
  r.add(sub('c6', '+'));
  assert.deepEqual(collect(r, '$SYS/x'), ['c3:$SYS/#', 'c4:$SYS/+', 'c5:$SYS/x']);
  assert.deepEqual(collect(r, '$SYS'), ['c3:$SYS/#']);
  assert.deepEqual(collect(r, '$a'), []);
  assert.deepEqual(collect(r, 'a/x'), ['c1:#', 'c2:+/x']);
  assert.deepEqual(collect(r, 'a'), ['c1:#', 'c6:+']);
});

test('overlapping subscriptions of one client are each visited', () => {
  const r = new SubscriberIndex();
  r.add(sub('c1', 'a/+', { qos: 1, subscriptionId: 1 }));
  r.add(sub('c1', 'a/#', { qos: 2, subscriptionId: 2 }));
  r.add(sub('c1', 'a/b', { qos: 0, subscriptionId: 3 }));
  const ids: number[] = [];
  r.match('a/b', 'p', (s) => ids.push(s.options.subscriptionId));
  assert.deepEqual(ids.sort(), [1, 2, 3]);
});

test('add replaces options for the same (client, filter)', () => {
  const r = new SubscriberIndex();
  assert.deepEqual(r.add(sub('c1', 'a/+', { qos: 0 })), { replaced: false });
  assert.deepEqual(r.add(sub('c1', 'a/+', { qos: 2 })), { replaced: true });
  assert.equal(r.size, 1);
  const seen: number[] = [];
  r.match('a/x', 'p', (s) => seen.push(s.options.qos));
  assert.deepEqual(seen, [2]);
  assert.equal(r.subscriptionsOf('c1')[0]!.options.qos, 2);
  assert.deepEqual(r.add(sub('c1', '$share/g/a/+', { qos: 1 })), { replaced: false });
  assert.deepEqual(r.add(sub('c1', '$share/g/a/+', { qos: 2 })), { replaced: true });
  assert.equal(r.size, 2);
  assert.equal(r.groupMembers('g', 'a/+')[0]!.options.qos, 2);
});

test('No Local: a plain subscription skips its own client publications [MQTT-3.8.3-3]', () => {
  const r = new SubscriberIndex();
  r.add(sub('c1', 'a', { noLocal: true }));
  r.add(sub('c2', 'a', { noLocal: true }));
  assert.deepEqual(collect(r, 'a', 'c1'), ['c2:a']);
  assert.deepEqual(collect(r, 'a', 'c3'), ['c1:a', 'c2:a']);
});

test('remove and removeClient clean up every structure', () => {
  const r = new SubscriberIndex();
  const filters = ['a/b', 'a/+', 'a/#', '#', '+/+/c', 'x/y/z/#', '$share/g/a/+', '$queue/q/#', '$exclusive/e/+', '+', '/+/'];
  for (const c of ['c1', 'c2', 'c3']) for (const f of filters) {
    if (c !== 'c1' && f.startsWith('$exclusive')) continue;
    r.add(sub(c, f));
  }
  assert.equal(r.size, filters.length * 3 - 2);
  assert.ok(r.stats().trieNodes > 0);
  assert.equal(r.remove('c1', 'a/+'), true);
  assert.equal(r.remove('c1', 'a/+'), false);
  assert.equal(r.remove('nobody', 'a/+'), false);
  assert.deepEqual(collect(r, 'a/b').filter((s) => s.startsWith('c1:') && !s.includes('$share')), ['c1:#', 'c1:a/#', 'c1:a/b']);
  assert.equal(r.removeClient('c1'), filters.length - 1);
  assert.equal(r.removeClient('c1'), 0);
  assert.equal(r.exclusiveOwner('e/+'), null);
  assert.equal(r.subscriptionsOf('c1').length, 0);
  assert.equal(r.removeClient('c2'), filters.length - 1);
  for (const f of filters) r.remove('c3', f);
  assertEmpty(r);
  assert.deepEqual(collect(r, 'a/b'), []);
  // Usable again after emptying.
  r.add(sub('c9', 'a/+'));
  assert.deepEqual(collect(r, 'a/b'), ['c9:a/+']);
  r.removeClient('c9');
  assertEmpty(r);
});

test('removing one of two filters sharing a trie path keeps the other', () => {
  const r = new SubscriberIndex();
  r.add(sub('c1', 'a/b/+'));
  r.add(sub('c1', 'a/b/#'));
  r.add(sub('c1', 'a/+/c'));
  const nodes = r.stats().trieNodes;
  r.remove('c1', 'a/b/#');
  assert.deepEqual(collect(r, 'a/b/c'), ['c1:a/+/c', 'c1:a/b/+']);
  assert.equal(r.stats().trieNodes, nodes); // a/b node still carries a/b/+
  r.remove('c1', 'a/b/+');
  assert.deepEqual(collect(r, 'a/b/c'), ['c1:a/+/c']);
  r.remove('c1', 'a/+/c');
  assertEmpty(r);
});

test('$exclusive: one owner per filter, released on remove', () => {
  const r = new SubscriberIndex();
  r.add(sub('c1', '$exclusive/t/1'));
  assert.equal(r.exclusiveOwner('t/1'), 'c1');
  assert.throws(() => r.add(sub('c2', '$exclusive/t/1')), (e: unknown) => e instanceof MqttError && e.reason === 0x97);
  // The same client may re-subscribe (options replaced); plain subscriptions of others are allowed.
  assert.deepEqual(r.add(sub('c1', '$exclusive/t/1', { qos: 1 })), { replaced: true });
  r.add(sub('c2', 't/1'));
  assert.deepEqual(collect(r, 't/1'), ['c1:$exclusive/t/1', 'c2:t/1']);
  assert.equal(r.size, 2);
  r.removeClient('c1');
  assert.equal(r.exclusiveOwner('t/1'), null);
  r.add(sub('c2', '$exclusive/t/1'));
  assert.equal(r.exclusiveOwner('t/1'), 'c2');
});

test('invalid topic filter is refused with 0x8F', () => {
  const r = new SubscriberIndex();
  const bad = { ...sub('c1', 'a'), filter: 'a/#/b', topicFilter: 'a/#/b' };
  assert.throws(() => r.add(bad), (e: unknown) => e instanceof MqttError && e.reason === 0x8f);
  assertEmpty(r);
});

test('shared groups: one member per group, groups independent of plain subscriptions', () => {
  const r = new SubscriberIndex({ strategy: 'round_robin' });
  r.add(sub('c1', '$share/g1/a/+'));
  r.add(sub('c2', '$share/g1/a/+'));
  r.add(sub('c3', '$share/g2/a/+'));
  r.add(sub('c4', '$queue/a/+'));
  r.add(sub('c1', 'a/+'));
  const got = collect(r, 'a/b');
  assert.equal(got.length, 4);
  assert.ok(got.includes('c1:a/+'));
  assert.ok(got.includes('c3:$share/g2/a/+'));
  assert.ok(got.includes('c4:$queue/a/+'));
  assert.equal(got.filter((s) => s.includes('$share/g1/')).length, 1);
  // Same group name on another filter is another group.
  r.add(sub('c5', '$share/g1/a/#'));
  assert.equal(collect(r, 'a/b').length, 5);
  assert.deepEqual(r.topics().sort(), ['a/#', 'a/+']);
});

test('shared groups: eligibility prefers eligible members and falls back to any member when none is', () => {
  const r = new SubscriberIndex({ strategy: 'random' });
  r.add(sub('c1', '$share/g/t'));
  r.add(sub('c2', '$share/g/t'));
  r.add(sub('c3', '$share/g/t'));
  for (let i = 0; i < 50; i++) assert.deepEqual(collect(r, 't', 'p', (c) => c === 'c2'), ['c2:$share/g/t']);
  // Nobody eligible (all offline): still one member, so a persistent session can queue it.
  assert.equal(collect(r, 't', 'p', () => false).length, 1);
});

test('pickShared re-dispatches to a member not excluded', () => {
  const r = new SubscriberIndex({ strategy: 'sticky' });
  for (const c of ['c1', 'c2', 'c3']) r.add(sub(c, '$share/g/a/#'));
  const first = r.pickShared('g', 'a/#', 'a/b', 'p', new Set())!;
  assert.ok(first);
  const second = r.pickShared('g', 'a/#', 'a/b', 'p', new Set([first.clientId]))!;
  assert.notEqual(second.clientId, first.clientId);
  const third = r.pickShared('g', 'a/#', 'a/b', 'p', new Set([first.clientId, second.clientId]))!;
  assert.equal(new Set([first.clientId, second.clientId, third.clientId]).size, 3);
  assert.equal(r.pickShared('g', 'a/#', 'a/b', 'p', new Set(['c1', 'c2', 'c3'])), null);
  assert.equal(r.pickShared('nope', 'a/#', 'a/b', 'p', new Set()), null);
  assert.equal(r.pickShared('g', 'x', 'x', 'p', new Set()), null);
  assert.equal(r.pickShared('g', 'a/#', 'a/b', 'p', new Set(), (c) => c === 'c3')!.clientId, 'c3');
});

test('unknown strategy is rejected', () => {
  assert.throws(() => new SubscriberIndex({ strategy: 'nope' as never }), TypeError);
});

test('100k distinct exact subscriptions: match touches only the topic bucket', () => {
  const r = new SubscriberIndex();
  for (let i = 0; i < 100_000; i++) r.add(sub(`c${i}`, `dev/${i}/temp`));
  assert.equal(r.stats().trieNodes, 0);
  assert.deepEqual(collect(r, 'dev/77777/temp'), ['c77777:dev/77777/temp']);
  assert.deepEqual(collect(r, 'dev/77777/hum'), []);
  r.add(sub('w', 'dev/+/temp'));
  assert.deepEqual(collect(r, 'dev/5/temp'), ['c5:dev/5/temp', 'w:dev/+/temp']);
  assert.equal(r.stats().trieNodes, 3);
});

test('level cache stays bounded while matching many distinct topics', () => {
  const r = new SubscriberIndex({ levelCacheSize: 8 });
  r.add(sub('c1', 'd/+'));
  let n = 0;
  for (let i = 0; i < 1000; i++) r.match(`d/${i}`, 'p', () => { n++; });
  assert.equal(n, 1000);
  assert.ok(r.stats().levelCache <= 16, `cache holds ${r.stats().levelCache}`);
});

test('$share group named like $queue on the same filter stays consistent', () => {
  const r = new SubscriberIndex({ strategy: 'round_robin' });
  r.add(sub('c1', '$queue/t'));
  r.add(sub('c1', '$share/$queue/t'));
  assert.equal(r.size, 2);
  assert.equal(r.groupMembers('$queue', 't').length, 2);
  assert.equal(collect(r, 't').length, 1);
  r.remove('c1', '$queue/t');
  assert.deepEqual(collect(r, 't'), ['c1:$share/$queue/t']);
  r.removeClient('c1');
  assertEmpty(r);
});
