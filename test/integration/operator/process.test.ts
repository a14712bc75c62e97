/**
 * The operator process pieces against the FAKE API server: leader election over a Lease (one
 * leader, takeover of an expired Lease, hand-over on release), runOperator with /metrics and
 * /healthz, WATCH_NAMESPACE scoping, and retry with backoff after a 409 conflict.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderElector } from '../../../operator/src/controller/leader-election.js';
import { KubeClient } from '../../../operator/src/controller/kube-client.js';
import { silentOperatorLogger } from '../../../operator/src/controller/logger.js';
import { parseRunOptions, runOperator } from '../../../operator/src/main.js';
import { KubeError, startFakeKubeApiServer, type FakeKubeApiServer } from '../../support/fake-kube-apiserver.js';
import { DNSENDPOINT_CRD } from '../../support/fake-kube/third-party-crds.js';
import { MQC, condition, fakeKubelet, kubeConfigFor, loadExample, newController, repoRoot, sleep, startFake, waitFor } from './harness.js';
import path from 'node:path';

let fake: FakeKubeApiServer;
before(async () => { fake = await startFake(['default', 'iot', 'edge', 'ops']); });
after(async () => { await fake.close(); });

function elector(identity: string, events: string[], durationMs = 600): LeaderElector {
  const client = new KubeClient(kubeConfigFor(fake), 'petrel-operator');
  return new LeaderElector(client, { namespace: 'ops', name: 'le-test', identity, leaseDurationMs: durationMs, renewDeadlineMs: durationMs * 0.7, retryPeriodMs: 50 }, silentOperatorLogger(), {
    onStartedLeading: () => events.push(`${identity} leads`),
    onStoppedLeading: () => events.push(`${identity} stopped`),
  });
}

test('leader election: one of two candidates leads; the other takes over after release', async () => {
  const events: string[] = [];
  // a long lease so that a loaded machine delaying a's renewals cannot hand b the lease early
  const a = elector('a', events, 3000);
  const b = elector('b', events, 3000);
  a.start();
  await waitFor(() => a.isLeader, 'a leads');
  b.start();
  await sleep(300);
  assert.equal(b.isLeader, false, 'b waits while a renews');
  const lease = fake.find('coordination.k8s.io/v1', 'Lease', 'ops', 'le-test');
  assert.equal(lease.spec.holderIdentity, 'a');
  await a.stop(); // releases the Lease
  await waitFor(() => b.isLeader, 'b leads after release', 3000);
  const after = fake.find('coordination.k8s.io/v1', 'Lease', 'ops', 'le-test');
  assert.equal(after.spec.holderIdentity, 'b');
  assert.equal(after.spec.leaseTransitions, 1);
  await b.stop();
  assert.deepEqual(events, ['a leads', 'b leads']);
});

test('leader election: an expired Lease of a crashed holder is taken over', async () => {
  const t = fake.store.registry.byKind('coordination.k8s.io', 'v1', 'Lease')!;
  const old = new Date(Date.now() - 60_000).toISOString();
  fake.store.create(t, 'ops', { metadata: { name: 'le-crash' }, spec: { holderIdentity: 'ghost', leaseDurationSeconds: 15, renewTime: old, acquireTime: old, leaseTransitions: 4 } }, { manager: 'test' });
  const events: string[] = [];
  const client = new KubeClient(kubeConfigFor(fake), 'petrel-operator');
  const c = new LeaderElector(client, { namespace: 'ops', name: 'le-crash', identity: 'c', retryPeriodMs: 50 }, silentOperatorLogger(), {
    onStartedLeading: () => events.push('c leads'), onStoppedLeading: () => events.push('c stopped'),
  });
  c.start();
  await waitFor(() => c.isLeader, 'c takes over');
  const lease = fake.find('coordination.k8s.io/v1', 'Lease', 'ops', 'le-crash');
  assert.equal(lease.spec.holderIdentity, 'c');
  assert.equal(lease.spec.leaseTransitions, 5);
  await c.stop();
});

test('leader election: a leader that cannot renew within the deadline stops leading', async () => {
  const events: string[] = [];
  const a = elector('solo', events, 400);
  a.start();
  await waitFor(() => a.isLeader, 'solo leads');
  fake.store.injectFault((w) => w.resource === 'leases', new KubeError(500, 'InternalError', 'etcd is down'), 1000);
  await waitFor(() => events.includes('solo stopped'), 'stopped leading', 3000);
  fake.store.clearFaults();
  await a.stop();
  assert.deepEqual(events.slice(0, 2), ['solo leads', 'solo stopped']);
});

test('runOperator: takes the Lease, reconciles, serves /metrics and /healthz', async () => {
  const kc = kubeConfigFor(fake);
  const opts = parseRunOptions(['--namespace', 'edge', '--metrics-addr', '127.0.0.1:0', '--lease-namespace', 'edge', '--lease-name', 'op-lease', '--log-level', 'silent', '--identity', 'op-0'], {});
  const op = await runOperator(opts, kc);
  try {
    const cr = loadExample('single-region.yaml');
    cr.metadata.namespace = 'edge';
    fake.put(cr);
    await waitFor(() => fake.find('apps/v1', 'StatefulSet', 'edge', 'petrel-core'), 'the leader reconciles', 8000);
    await waitFor(() => condition(fake.find(MQC, 'MqttCluster', 'edge', 'petrel'), 'Ready'), 'a first reconcile completes with status');
    const health = await fetch(`http://127.0.0.1:${op.port}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${op.port}/readyz`)).status, 200);
    const metrics = await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
    assert.match(metrics, /^petrel_operator_leader 1$/m);
    assert.match(metrics, /petrel_operator_reconcile_total\{result="[a-z]+"\} [1-9]/);
    assert.match(metrics, /petrel_operator_applies_total\{kind="StatefulSet",reason="created"\} 1/);
    assert.match(metrics, /petrel_operator_reconcile_time_seconds_bucket/);
    assert.match(metrics, /petrel_operator_process_cpu_seconds_total/);
    assert.equal((await fetch(`http://127.0.0.1:${op.port}/nope`)).status, 404);
    assert.equal(fake.find('coordination.k8s.io/v1', 'Lease', 'edge', 'op-lease').spec.holderIdentity, 'op-0');
  } finally {
    await op.stop();
  }
  assert.equal(fake.find('coordination.k8s.io/v1', 'Lease', 'edge', 'op-lease').spec.holderIdentity, undefined, 'released on stop');
});

test('WATCH_NAMESPACE scoping: a controller for "iot" ignores clusters elsewhere', async () => {
  const c = newController(fake, { namespaces: ['iot'] });
  await c.start();
  try {
    const other = loadExample('single-region.yaml');
    other.metadata = { name: 'elsewhere', namespace: 'default' };
    fake.put(other);
    const mine = loadExample('single-region.yaml');
    mine.metadata = { name: 'mine', namespace: 'iot' };
    fake.put(mine);
    await waitFor(() => fake.find('apps/v1', 'StatefulSet', 'iot', 'mine-core'), 'iot cluster reconciled');
    await c.drain(5000);
    assert.equal(fake.find('apps/v1', 'StatefulSet', 'default', 'elsewhere-core'), undefined);
    assert.equal(fake.find(MQC, 'MqttCluster', 'default', 'elsewhere').status, undefined);
  } finally {
    await c.stop();
  }
});

test('a 409 conflict on apply is retried with backoff and the cluster converges', async () => {
  const c = newController(fake, { namespaces: ['iot'] });
  fake.store.injectFault((w) => w.verb === 'apply' && w.resource === 'deployments' && w.name === 'conf-eu-west-1',
    new KubeError(409, 'Conflict', 'Operation cannot be fulfilled: the object has been modified'), 2);
  await c.start();
  try {
    const cr = loadExample('single-region.yaml');
    cr.metadata = { name: 'conf', namespace: 'iot' };
    fake.put(cr);
    // The Warning Event stays; the Degraded condition may already be back to False by the time a
    // poll looks (two conflicts are retried within a second), so the Event is what is waited for.
    await waitFor(() => fake.listKind('v1', 'Event', 'iot').find((e) => e.involvedObject.name === 'conf' && e.reason === 'ApplyFailed'), 'ApplyFailed Event while the conflict lasts');
    await waitFor(() => fake.find('apps/v1', 'Deployment', 'iot', 'conf-eu-west-1'), 'Deployment applied after retries');
    await waitFor(() => { fakeKubelet(fake, 'iot'); return condition(fake.find(MQC, 'MqttCluster', 'iot', 'conf'), 'Ready')?.status === 'True'; }, 'Ready after the conflict');
    assert.equal(condition(fake.find(MQC, 'MqttCluster', 'iot', 'conf'), 'Degraded').status, 'False');
    const warn = fake.listKind('v1', 'Event', 'iot').find((e) => e.involvedObject.name === 'conf' && e.reason === 'ApplyFailed');
    assert.match(warn.message, /Deployment conf-eu-west-1: .*modified/);
  } finally {
    await c.stop();
  }
});

test('external-dns installed after the operator started: DNSReady goes from DNSEndpointUnavailable to True', async () => {
  const bare = await startFakeKubeApiServer({ namespaces: ['default'] });
  bare.installCrd(path.join(repoRoot(), 'crds', 'mqtt.petrel.dev_mqttclusters.yaml'));
  const c = newController(bare, { namespaces: ['default'], retryMissingKindsMs: 100 });
  await c.start();
  try {
    const cr = loadExample('single-region.yaml');
    cr.spec.regions[0].dns = { hostname: 'eu.example.com' };
    cr.spec.dns = { provider: 'ExternalDNS', routing: 'None' };
    bare.put(cr);
    await waitFor(() => { fakeKubelet(bare, 'default'); return condition(bare.find(MQC, 'MqttCluster', 'default', 'petrel'), 'DNSReady')?.reason === 'DNSEndpointUnavailable'; }, 'DNSEndpointUnavailable');
    assert.match(condition(bare.find(MQC, 'MqttCluster', 'default', 'petrel'), 'DNSReady').message, /install external-dns/);
    bare.installCrd(DNSENDPOINT_CRD);
    const dns = await waitFor(() => bare.find('externaldns.k8s.io/v1alpha1', 'DNSEndpoint', 'default', 'petrel-eu-west-1'), 'DNSEndpoint once the CRD exists');
    assert.equal(dns.spec.endpoints[0].dnsName, 'eu.example.com');
    await waitFor(() => condition(bare.find(MQC, 'MqttCluster', 'default', 'petrel'), 'Ready')?.status === 'True', 'Ready with DNS');
  } finally {
    await c.stop();
    await bare.close();
  }
});
