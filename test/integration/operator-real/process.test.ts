/**
 * The operator's process pieces in this process against a REAL control plane, each authenticated
 * as a ServiceAccount so the real authorizer judges it: leader election over a real Lease (hand-over
 * on release, takeover of an expired Lease, a leader whose renewals are refused stops leading),
 * runOperator with /metrics and /healthz, WATCH_NAMESPACE scoping, an apply refused by admission
 * (a real ValidatingAdmissionPolicy) retried with backoff until the cluster converges, and
 * external-dns's CRD installed while the operator runs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { LeaderElector } from '../../../operator/src/controller/leader-election.js';
import { KubeClient } from '../../../operator/src/controller/kube-client.js';
import { silentOperatorLogger } from '../../../operator/src/controller/logger.js';
import { parseRunOptions, runOperator } from '../../../operator/src/main.js';
import { startKubeControlPlane, type KubeControlPlane } from '../../support/kube-control-plane.js';
import {
  MQC_PATH, RELEASE, RELEASE_NS, condition, installChart, installThirdPartyCrds, loadExample, must, serviceAccountKubeconfig, sleep, waitFor,
} from './harness.js';
import { assignLoadBalancers, realController } from './in-process.js';

const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${RELEASE_NS}/leases`;
let cp: KubeControlPlane;
let operatorKubeconfig: string;

before(async () => {
  cp = await startKubeControlPlane({ regions: { 'eu-west-1': ['eu-west-1a'] } });
  console.log(`# control plane ready in ${cp.startupMs} ms`);
  await installChart(cp);
  for (const ns of ['iot', 'edge']) await must(cp, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  operatorKubeconfig = await serviceAccountKubeconfig(cp, RELEASE);
});

after(async () => {
  await cp?.stop();
});

function kubeConfig(file = operatorKubeconfig): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

function elector(name: string, identity: string, events: string[], durationMs: number, kubeconfig?: string): LeaderElector {
  const client = new KubeClient(kubeConfig(kubeconfig), 'petrel-operator');
  return new LeaderElector(client, { namespace: RELEASE_NS, name, identity, leaseDurationMs: durationMs, renewDeadlineMs: durationMs * 0.7, retryPeriodMs: 100 }, silentOperatorLogger(), {
    onStartedLeading: () => events.push(`${identity} leads`),
    onStoppedLeading: () => events.push(`${identity} stopped`),
  });
}

const lease = (name: string): Promise<any> => must(cp, 'GET', `${LEASES}/${name}`);
const mqc = (ns: string, name: string): Promise<any> => must(cp, 'GET', `${MQC_PATH}/namespaces/${ns}/mqttclusters/${name}`);

test('leader election: one of two candidates leads; the other takes over after release', async () => {
  const events: string[] = [];
  // a long lease so that a loaded machine delaying a's renewals cannot hand b the lease early
  const a = elector('le-test', 'a', events, 3000);
  const b = elector('le-test', 'b', events, 3000);
  a.start();
  await waitFor(() => a.isLeader, 'a leads', 10_000);
  b.start();
  await sleep(500);
  assert.equal(b.isLeader, false, 'b waits while a renews');
  assert.equal((await lease('le-test')).spec.holderIdentity, 'a');
  await a.stop(); // releases the Lease
  await waitFor(() => b.isLeader, 'b leads after release', 3000);
  const after = await lease('le-test');
  assert.equal(after.spec.holderIdentity, 'b');
  assert.equal(after.spec.leaseTransitions, 1);
  await b.stop();
  assert.deepEqual(events, ['a leads', 'b leads']);
});

test('leader election: an expired Lease of a crashed holder is taken over', async () => {
  const old = new Date(Date.now() - 60_000).toISOString().replace('Z', '000Z');
  await must(cp, 'POST', LEASES, {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'le-crash' },
    spec: { holderIdentity: 'ghost', leaseDurationSeconds: 15, renewTime: old, acquireTime: old, leaseTransitions: 4 },
  });
  const events: string[] = [];
  const c = elector('le-crash', 'c', events, 15_000);
  c.start();
  await waitFor(() => c.isLeader, 'c takes over', 10_000);
  const taken = await lease('le-crash');
  assert.equal(taken.spec.holderIdentity, 'c');
  assert.equal(taken.spec.leaseTransitions, 5);
  await c.stop();
});

test('leader election: a leader whose renewals the authorizer starts refusing stops leading within the deadline', async () => {
  // its own ServiceAccount and Role, so taking the RoleBinding away touches nothing else
  await must(cp, 'POST', `/api/v1/namespaces/${RELEASE_NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'le-probe' } });
  await must(cp, 'POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${RELEASE_NS}/roles`, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'le-probe' },
    rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }],
  });
  const binding = `/apis/rbac.authorization.k8s.io/v1/namespaces/${RELEASE_NS}/rolebindings/le-probe`;
  await must(cp, 'POST', binding.slice(0, binding.lastIndexOf('/')), {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'le-probe' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'le-probe' },
    subjects: [{ kind: 'ServiceAccount', name: 'le-probe', namespace: RELEASE_NS }],
  });
  const events: string[] = [];
  const solo = elector('le-solo', 'solo', events, 2000, await serviceAccountKubeconfig(cp, 'le-probe'));
  solo.start();
  await waitFor(() => solo.isLeader, 'solo leads', 10_000);
  const t0 = Date.now();
  await must(cp, 'DELETE', binding);
  await waitFor(() => events.includes('solo stopped'), 'stopped leading', 10_000);
  console.log(`# renewals refused (403) → stopped leading after ${Date.now() - t0} ms (renew deadline 1400 ms)`);
  await solo.stop();
  assert.deepEqual(events.slice(0, 2), ['solo leads', 'solo stopped']);
  assert.equal((await lease('le-solo')).spec.holderIdentity, 'solo', 'it could not release either: the Lease just expires');
});

test('runOperator: takes the Lease, reconciles, serves /metrics and /healthz', async () => {
  const opts = parseRunOptions(['--namespace', 'edge', '--metrics-addr', '127.0.0.1:0', '--lease-namespace', RELEASE_NS, '--lease-name', 'op-lease', '--log-level', 'silent', '--identity', 'op-0'], {});
  const op = await runOperator(opts, kubeConfig());
  try {
    const cr = loadExample('single-region.yaml');
    cr.metadata.namespace = 'edge';
    await must(cp, 'POST', `${MQC_PATH}/namespaces/edge/mqttclusters`, cr);
    await waitFor(async () => condition(await mqc('edge', 'petrel'), 'Ready'), 'a first reconcile completes with status', 30_000);
    await must(cp, 'GET', '/apis/apps/v1/namespaces/edge/statefulsets/petrel-core');
    assert.equal((await fetch(`http://127.0.0.1:${op.port}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${op.port}/readyz`)).status, 200);
    const metrics = await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
    assert.match(metrics, /^petrel_operator_leader 1$/m);
    assert.match(metrics, /petrel_operator_reconcile_total\{result="[a-z]+"\} [1-9]/);
    assert.match(metrics, /petrel_operator_applies_total\{kind="StatefulSet",reason="created"\} 1/);
    assert.match(metrics, /petrel_operator_reconcile_time_seconds_bucket/);
    assert.match(metrics, /petrel_operator_process_cpu_seconds_total/);
    assert.equal((await fetch(`http://127.0.0.1:${op.port}/nope`)).status, 404);
    assert.equal((await lease('op-lease')).spec.holderIdentity, 'op-0');
  } finally {
    await op.stop();
  }
  assert.equal((await lease('op-lease')).spec.holderIdentity, undefined, 'released on stop');
});

test('WATCH_NAMESPACE scoping: a controller for "iot" ignores clusters elsewhere', async () => {
  const c = realController(cp, operatorKubeconfig, { namespaces: ['iot'] });
  await c.start();
  try {
    const other = loadExample('single-region.yaml');
    other.metadata = { name: 'elsewhere', namespace: 'default' };
    await must(cp, 'POST', `${MQC_PATH}/namespaces/default/mqttclusters`, other);
    const mine = loadExample('single-region.yaml');
    mine.metadata = { name: 'mine', namespace: 'iot' };
    await must(cp, 'POST', `${MQC_PATH}/namespaces/iot/mqttclusters`, mine);
    await waitFor(async () => (await cp.request('GET', '/apis/apps/v1/namespaces/iot/statefulsets/mine-core')).status === 200, 'iot cluster reconciled', 30_000);
    await c.drain(5000);
    assert.equal((await cp.request('GET', '/apis/apps/v1/namespaces/default/statefulsets/elsewhere-core')).status, 404);
    assert.equal((await mqc('default', 'elsewhere')).status, undefined);
  } finally {
    await c.stop();
  }
});

test('an apply refused by admission (a ValidatingAdmissionPolicy) is retried with backoff and the cluster converges once allowed', async () => {
  const REFUSE = 'petrel-test/refuse-deployments';
  await must(cp, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: 'refuse-conf' },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] },
      validations: [{ expression: `object.metadata.name != 'conf-eu-west-1' || !('${REFUSE}' in namespaceObject.metadata.labels)`, message: 'refused by the test\'s admission policy' }],
    },
  });
  await must(cp, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings', {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: 'refuse-conf' },
    spec: { policyName: 'refuse-conf', validationActions: ['Deny'] },
  });
  await must(cp, 'PATCH', '/api/v1/namespaces/iot', { metadata: { labels: { [REFUSE]: 'true' } } }, [200], 'application/merge-patch+json');
  // the policy is compiled asynchronously: wait until it refuses a dry run
  const probe = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'conf-eu-west-1' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } };
  await waitFor(async () => (await cp.request('POST', '/apis/apps/v1/namespaces/iot/deployments?dryRun=All', probe)).status >= 400, 'the policy in force', 30_000);

  const c = realController(cp, operatorKubeconfig, { namespaces: ['iot'] });
  await c.start();
  try {
    const cr = loadExample('single-region.yaml');
    cr.metadata = { name: 'conf', namespace: 'iot' };
    await must(cp, 'POST', `${MQC_PATH}/namespaces/iot/mqttclusters`, cr);
    const refused = await waitFor(async () => {
      const events = await must(cp, 'GET', `/api/v1/namespaces/iot/events?fieldSelector=${encodeURIComponent('involvedObject.name=conf')}`);
      return events.items.find((e: any) => e.reason === 'ApplyFailed');
    }, 'an ApplyFailed Event while admission refuses', 30_000);
    assert.match(refused.message, /Deployment conf-eu-west-1: .*refused by the test's admission policy/);
    const degraded = await waitFor(async () => condition(await mqc('iot', 'conf'), 'Degraded')?.status === 'True' ? condition(await mqc('iot', 'conf'), 'Degraded') : undefined, 'Degraded=True', 30_000);
    assert.match(degraded.message, /refused by the test's admission policy/);
    await must(cp, 'PATCH', '/api/v1/namespaces/iot', { metadata: { labels: { [REFUSE]: null } } }, [200], 'application/merge-patch+json');
    await waitFor(async () => (await cp.request('GET', '/apis/apps/v1/namespaces/iot/deployments/conf-eu-west-1')).status === 200, 'the Deployment applied after retries', 30_000);
    await waitFor(async () => condition(await mqc('iot', 'conf'), 'Degraded')?.status === 'False', 'Degraded=False again', 30_000);
  } finally {
    await c.stop();
  }
});

test('external-dns installed after the operator started: DNSReady goes from DNSEndpointUnavailable to Published', async () => {
  const c = realController(cp, operatorKubeconfig, { namespaces: ['default'], retryMissingKindsMs: 200 });
  await c.start();
  try {
    const cr = loadExample('single-region.yaml');
    cr.metadata.name = 'dns';
    cr.spec.regions[0].dns = { hostname: 'eu.example.com' };
    cr.spec.dns = { provider: 'ExternalDNS', routing: 'None' };
    await must(cp, 'POST', `${MQC_PATH}/namespaces/default/mqttclusters`, cr);
    const unavailable = await waitFor(async () => {
      const d = condition(await mqc('default', 'dns'), 'DNSReady');
      return d?.reason === 'DNSEndpointUnavailable' ? d : undefined;
    }, 'DNSEndpointUnavailable', 30_000);
    assert.match(unavailable.message, /install external-dns/);
    await assignLoadBalancers(cp, 'default');
    await installThirdPartyCrds(cp);
    const dns = await waitFor(async () => {
      const r = await cp.request('GET', '/apis/externaldns.k8s.io/v1alpha1/namespaces/default/dnsendpoints/dns-eu-west-1');
      return r.status === 200 ? r.body : undefined;
    }, 'the DNSEndpoint once the CRD exists', 30_000);
    assert.equal(dns.spec.endpoints[0].dnsName, 'eu.example.com');
    await waitFor(async () => condition(await mqc('default', 'dns'), 'DNSReady')?.reason === 'Published', 'DNSReady Published', 30_000);
  } finally {
    await c.stop();
  }
});
