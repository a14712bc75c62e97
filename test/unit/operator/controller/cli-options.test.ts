/** petrel-operator flags and environment: WATCH_NAMESPACE forms, defaults, errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRunOptions } from '../../../../operator/src/main.js';
import { parseWatchNamespace } from '../../../../operator/src/controller/controller.js';

test('WATCH_NAMESPACE: empty = all, one, several (comma-separated, trimmed, de-duplicated)', () => {
  assert.equal(parseWatchNamespace(undefined), 'all');
  assert.equal(parseWatchNamespace(''), 'all');
  assert.deepEqual(parseWatchNamespace('iot'), ['iot']);
  assert.deepEqual(parseWatchNamespace(' iot, edge ,iot'), ['iot', 'edge']);
});

test('defaults', () => {
  const o = parseRunOptions([], {});
  assert.equal(o.namespaces, 'all');
  assert.equal(o.metricsPort, 8080);
  assert.equal(o.leaderElect, true);
  assert.equal(o.leaseName, 'petrel-operator-leader');
  assert.equal(o.leaseNamespace, 'default');
  assert.equal(o.workers, 2);
  assert.equal(o.etcdEndpoints, undefined);
});

test('flags override the environment', () => {
  const o = parseRunOptions(['--namespace', 'a,b', '--metrics-addr=127.0.0.1:0', '--leader-elect', 'false', '--etcd-endpoints', 'http://127.0.0.1:2379'],
    { WATCH_NAMESPACE: 'c', POD_NAMESPACE: 'ops', POD_NAME: 'op-1', WORKERS: '4' });
  assert.deepEqual(o.namespaces, ['a', 'b']);
  assert.equal(o.metricsHost, '127.0.0.1');
  assert.equal(o.metricsPort, 0);
  assert.equal(o.leaderElect, false);
  assert.equal(o.leaseNamespace, 'ops');
  assert.equal(o.identity, 'op-1');
  assert.equal(o.workers, 4);
  assert.deepEqual(o.etcdEndpoints, ['http://127.0.0.1:2379']);
});

test('bad values are rejected with the variable name', () => {
  assert.throws(() => parseRunOptions(['--bogus'], {}), /unknown argument: --bogus/);
  assert.throws(() => parseRunOptions([], { METRICS_ADDR: 'nope' }), /METRICS_ADDR/);
  assert.throws(() => parseRunOptions([], { LEADER_ELECT: 'maybe' }), /LEADER_ELECT/);
  assert.throws(() => parseRunOptions([], { WORKERS: '0' }), /WORKERS/);
  assert.throws(() => parseRunOptions(['--namespace'], {}), /needs a value/);
});
