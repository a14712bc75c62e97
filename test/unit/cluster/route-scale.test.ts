/**
 * 100,000 routes replicated between two etcd ClusterStates (real etcd on loopback): how long
 * until the other node routes every one, and what it holds for them. 100 k device filters go into
 * the route summary; 2,000 first-level-wildcard filters are explicit keys. The figures are printed
 * (node --test diagnostics) and asserted only loosely: they are measurements, not timed targets.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEtcdCluster, type EtcdTestCluster } from '../../support/etcd-cluster.js';
import { EtcdClusterState } from '../../../broker/src/cluster/etcd.js';
import { until } from '../../support/broker.js';

let etcd: EtcdTestCluster;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

before(async () => { etcd = await startEtcdCluster(['s0']); });
after(async () => { await etcd.stop(); });

function state(name: string): EtcdClusterState {
  return new EtcdClusterState({
    nodeName: name, role: 'core', region: 'r1', endpoints: etcd.clientURLs.map((u) => u.replace('http://', '')), prefix: '/scale', tls: null,
    leaseTtlSec: 10, dialTimeoutMs: 5000, strategy: 'random', maxDelayed: 100, log: quiet,
  });
}


test('100,000 summarised and 2,000 explicit routes reach the other node', async (t) => {
  const a = state('a@127.0.0.1');
  const b = state('b@127.0.0.1');
  await a.connect();
  await b.connect();
  const routesTo = (topic: string): string[] => { const out: string[] = []; b.routes.match(topic, '', (n) => out.push(n)); return out; };
  const N = 100_000;
  const E = 2_000;
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) a.addRoute(`dev/${i}/cmd`);
  for (let i = 0; i < E; i++) a.addRoute(`+/grp${i}/status`);
  const added = performance.now() - t0;
  await until(() => routesTo(`dev/${N - 1}/cmd`).length === 1 && b.routes.nodesOf(`+/grp${E - 1}/status`).length === 1, 60_000, 'the last routes on b');
  const replicated = performance.now() - t0;
  let missing = 0;
  for (let i = 0; i < N; i++) if (routesTo(`dev/${i}/cmd`).length !== 1) missing++;
  for (let i = 0; i < E; i++) if (b.routes.nodesOf(`+/grp${i}/status`).length !== 1) missing++;
  let fp = 0;
  for (let i = 0; i < 10_000; i++) fp += routesTo(`other/${i}/cmd`).length;
  const s = a.stats();
  const held = b.stats();
  t.diagnostic(`added ${N + E} routes on a in ${added.toFixed(0)} ms; all routed on b after ${replicated.toFixed(0)} ms`);
  t.diagnostic(`a's summary: ${s['cluster.routes.summarized']} filters in ${s['cluster.routes.summary_bytes']} bytes; b holds ${held['cluster.routes.summaries_held_bytes']} bytes of summaries + ${held['cluster.routes.remote'] - 1} explicit routes`);
  t.diagnostic(`etcd writes by a: ${s['cluster.etcd.writes']}; heap growth in this process (both nodes): ${((process.memoryUsage().heapUsed - heap0) / 1048576).toFixed(1)} MiB; false positives: ${fp} of 10000`);
  assert.equal(missing, 0, 'no route missing on b');
  assert.ok(fp < 100, `false positives ${fp} of 10000`);
  assert.ok(s['cluster.etcd.writes'] < E + 1000, `etcd writes ${s['cluster.etcd.writes']}: the summary is a few keys, not one per filter`);
  a.stop(); b.stop();
});

test('a summary over one etcd request (700,000 filters) goes in parts and arrives whole', async (t) => {
  const a = state('big-a@127.0.0.1');
  const b = state('big-b@127.0.0.1');
  await a.connect();
  await b.connect();
  const routesTo = (topic: string): number => { let n = 0; b.routes.match(topic, '', () => { n++; }); return n; };
  const N = 700_000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) a.addRoute(`fleet/${i}/cmd`);
  await until(() => routesTo(`fleet/${N - 1}/cmd`) === 1, 120_000, 'the last route on b');
  const replicated = performance.now() - t0;
  const s = a.stats();
  t.diagnostic(`${N} filters: a's summary is ${s['cluster.routes.summary_bytes']} bytes (etcd's request limit: 1.5 MiB); routed on b after ${replicated.toFixed(0)} ms`);
  assert.ok(s['cluster.routes.summary_bytes'] > 1.5 * 1048576, `summary ${s['cluster.routes.summary_bytes']} bytes: over one request`);
  let missing = 0;
  for (let i = 0; i < N; i += 7) if (routesTo(`fleet/${i}/cmd`) !== 1) missing++;
  assert.equal(missing, 0);
  // A third node joining later loads the parts from etcd in one read.
  const c = state('big-c@127.0.0.1');
  const t1 = performance.now();
  await c.connect();
  let n = 0;
  c.routes.match(`fleet/${N - 1}/cmd`, '', () => { n++; });
  t.diagnostic(`a node joining later holds the split summary after ${(performance.now() - t1).toFixed(0)} ms`);
  assert.equal(n, 1);
  a.stop(); b.stop(); c.stop();
});
