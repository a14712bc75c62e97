/**
 * The route table: topic filter → nodes. Routes are idempotent pairs, remote ones counted apart,
 * and matchRemote names each other node once per topic whatever number of its filters match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteTable } from '../../../broker/src/router/index.js';

function remotes(rt: RouteTable, topic: string): string[] {
  const out: string[] = [];
  rt.matchRemote(topic, (n) => out.push(n));
  return out;
}

test('add and remove are idempotent; remoteRoutes counts only other nodes\' routes', () => {
  const rt = new RouteTable('self');
  assert.equal(rt.add('a/#', 'self'), true);
  assert.equal(rt.add('a/#', 'self'), false);
  assert.equal(rt.remoteRoutes, 0);
  assert.equal(rt.add('a/#', 'n2'), true);
  assert.equal(rt.add('a/#', 'n2'), false);
  assert.equal(rt.add('b', 'n2'), true);
  assert.equal(rt.remoteRoutes, 2);
  assert.equal(rt.size, 3);
  assert.deepEqual(rt.nodesOf('a/#').sort(), ['n2', 'self']);
  assert.equal(rt.remove('b', 'n2'), true);
  assert.equal(rt.remove('b', 'n2'), false);
  assert.equal(rt.remoteRoutes, 1);
  assert.equal(rt.remove('a/#', 'self'), true);
  assert.equal(rt.remoteRoutes, 1);
  assert.deepEqual(rt.list(), [{ topic: 'a/#', node: 'n2' }]);
});

test('matchRemote never visits this node, and does nothing without remote routes', () => {
  const rt = new RouteTable('self');
  rt.add('a/#', 'self');
  assert.deepEqual(remotes(rt, 'a/b'), []);
  rt.add('a/b', 'n2');
  assert.deepEqual(remotes(rt, 'a/b'), ['n2']);
  assert.deepEqual(remotes(rt, 'c'), []);
});

test('matchRemote visits each remote node once, even with several matching filters interleaved', () => {
  const rt = new RouteTable('self');
  for (const f of ['a/#', 'a/+', '+/b', 'a/b', '#']) for (const n of ['n2', 'self', 'n3', 'n4']) rt.add(f, n);
  const got = remotes(rt, 'a/b');
  assert.deepEqual([...got].sort(), ['n2', 'n3', 'n4']);
});

test('removeNode drops every route of a node and fixes the remote count', () => {
  const rt = new RouteTable('self');
  rt.add('a', 'self'); rt.add('a', 'n2'); rt.add('b/+', 'n2'); rt.add('c', 'n3');
  assert.equal(rt.removeNode('n2'), 2);
  assert.equal(rt.removeNode('n2'), 0);
  assert.equal(rt.remoteRoutes, 1);
  assert.deepEqual(remotes(rt, 'b/x'), []);
  assert.deepEqual(remotes(rt, 'c'), ['n3']);
  assert.equal(rt.removeNode('self'), 1);
  assert.equal(rt.remoteRoutes, 1, 'this node\'s routes were never counted as remote');
});
