import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validTopicName, validTopicFilter, parseFilter, topicMatches } from '../../../broker/src/router/index.js';

const VALID_FILTERS = ['#', '+', '+/+', '/+', 'a/#', 'a/+/c', '+/b/#', 'a//b', '$SYS/#', '/', 'a/b/', 'sport/tennis/player1', '+/#', 'ü/+/日本'];
const INVALID_FILTERS = ['', 'a#', 'a/#/b', 'a/b#', '+a', 'a/+b', '##', 'a/++', '#/a', 'a+/b', 'a\u0000b', '#/'];

test('valid topic filters', () => {
  for (const f of VALID_FILTERS) assert.equal(validTopicFilter(f, 128), true, f);
});

test('invalid topic filters', () => {
  for (const f of INVALID_FILTERS) assert.equal(validTopicFilter(f, 128), false, JSON.stringify(f));
});

test('filter level limit', () => {
  assert.equal(validTopicFilter('a/b/c', 3), true);
  assert.equal(validTopicFilter('a/b/c/d', 3), false);
  assert.equal(validTopicFilter('a/b/#', 3), true);
  assert.equal(validTopicFilter('///', 3), false);
});

test('topic names', () => {
  for (const t of ['a', '/', 'a/b', 'a//b', '$SYS/x', ' ', 'a/b/']) assert.equal(validTopicName(t, 128), true, t);
  for (const t of ['', 'a/+', '#', 'a/#', 'a+', 'x\u0000']) assert.equal(validTopicName(t, 128), false, JSON.stringify(t));
  assert.equal(validTopicName('a/b/c', 3), true);
  assert.equal(validTopicName('a/b/c/d', 3), false);
});

// [filter, topic, matches]
const CASES: Array<[string, string, boolean]> = [
  ['a/b', 'a/b', true],
  ['a/+', 'a/b', true],
  ['a/+', 'a', false],
  ['a/+', 'a/b/c', false],
  ['a/+', 'a/', true],
  ['a/#', 'a', true],
  ['a/#', 'a/b/c', true],
  ['a/#', 'ab', false],
  ['#', 'a', true],
  ['#', '/', true],
  ['+', '/a', false],
  ['+/a', '/a', true],
  ['+/+', '/', true],
  ['a/+/b', 'a//b', true],
  ['a/b', 'a/b/', false],
  ['A/b', 'a/b', false],
  ['#', '$SYS/x', false],
  ['+/x', '$SYS/x', false],
  ['+', '$a', false],
  ['$SYS/#', '$SYS', true],
  ['$SYS/#', '$SYS/broker/uptime', true],
  ['$SYS/+', '$SYS/x', true],
  ['a/$x/#', 'a/$x/y', true],
  ['+/$x', 'a/$x', true],
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+/player1', 'sport/tennis/player1', true],
  ['/#', '/', true],
  ['/#', 'a', false],
];

test('reference matcher', () => {
  for (const [f, t, m] of CASES) assert.equal(topicMatches(f, t), m, `${f} vs ${t}`);
});

test('parseFilter: normal, shared, queue, exclusive', () => {
  assert.deepEqual(parseFilter('a/+'), { topicFilter: 'a/+', group: null, exclusive: false, kind: 'normal' });
  assert.deepEqual(parseFilter('$share/g1/a/#'), { topicFilter: 'a/#', group: 'g1', exclusive: false, kind: 'share' });
  assert.deepEqual(parseFilter('$queue/a/b'), { topicFilter: 'a/b', group: '$queue', exclusive: false, kind: 'queue' });
  assert.deepEqual(parseFilter('$exclusive/x/y'), { topicFilter: 'x/y', group: null, exclusive: true, kind: 'exclusive' });
  assert.deepEqual(parseFilter('$SYS/#'), { topicFilter: '$SYS/#', group: null, exclusive: false, kind: 'normal' });
  assert.equal(parseFilter('$share/g/$SYS/x').topicFilter, '$SYS/x');
  assert.equal(parseFilter('$share').kind, 'normal');
});

test('parseFilter: invalid forms', () => {
  for (const raw of ['$share/g', '$share/g/', '$share//a', '$share/g+/a', '$share/g#/a', '$share/g/a#', '$queue/', '$exclusive/', '$queue/a/#/b', '', 'a/#/b']) {
    assert.equal(parseFilter(raw).kind, 'invalid', JSON.stringify(raw));
  }
});
