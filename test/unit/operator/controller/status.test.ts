/** Status conditions from observed objects: readiness, cluster membership, rollout, DNS, transitions, invalid and paused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDefaults, type MqttCluster } from '../../../../operator/src/api/types.js';
import { ANNOTATION_CONFIG_HASH } from '../../../../operator/src/desired/meta.js';
import { computeStatus, invalidStatus, pausedStatus, type StatusInput } from '../../../../operator/src/controller/status.js';
import { evaluateJoin } from '../../../../operator/src/controller/cluster-join.js';
import { joinTargets, type NodeRow } from '../../../../operator/src/controller/broker-api.js';

const cr = withDefaults({
  apiVersion: 'mqtt.petrel.dev/v1alpha1', kind: 'MqttCluster', metadata: { name: 'mc', namespace: 'ns', generation: 4 },
  spec: {
    core: { replicas: 3 },
    regions: [{ name: 'eu', replicas: 2, dns: { hostname: 'eu.example.com' } }],
    dns: { provider: 'ExternalDNS', globalHostname: 'g.example.com', routing: 'Latency' },
  },
} as MqttCluster);

function workload(kind: string, name: string, replicas: number, ready: number, hash = 'h1', gen = 1, observed = 1): any {
  return {
    apiVersion: 'apps/v1', kind, metadata: { name, namespace: 'ns', generation: gen },
    spec: { replicas, template: { metadata: { annotations: { [ANNOTATION_CONFIG_HASH]: hash } } } },
    status: { observedGeneration: observed, replicas, readyReplicas: ready, updatedReplicas: replicas },
  };
}

const ROWS: NodeRow[] = [
  ...[0, 1, 2].map((i) => ({ node: `mc-core-${i}@mc-core-${i}.mc-core-headless.ns.svc`, node_status: 'running', role: 'core', region: '' })),
  ...['10.0.0.1', '10.0.0.2'].map((ip, i) => ({ node: `mc-eu-x${i}@${ip}`, node_status: 'running', role: 'replica', region: 'eu' })),
];

/** Every target answers with `rows`. */
function joined(rows: NodeRow[] = ROWS) {
  return evaluateJoin(cr, { core: 3, regions: { eu: 2 } }, joinTargets(cr).map((target) => ({ target, answer: { rows } })));
}

function input(over: Partial<StatusInput> = {}): StatusInput {
  return {
    cr, generation: 4, now: '2026-01-01T00:00:00Z',
    sts: workload('StatefulSet', 'mc-core', 3, 3),
    deployments: { eu: workload('Deployment', 'mc-eu', 2, 2) },
    services: { eu: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'mc-eu' }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } } },
    configMap: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'mc-config' } },
    configHash: 'h1', dnsServed: true, dnsEndpoints: [{ name: 'mc-eu', exists: true }], problems: [],
    join: joined(),
    ...over,
  };
}

const cond = (s: any, t: string): any => s.conditions.find((c: any) => c.type === t);

test('everything ready → Ready=True, Progressing=False, counts and summary', () => {
  const s = computeStatus(input());
  assert.equal(cond(s, 'Ready').status, 'True');
  assert.equal(cond(s, 'Progressing').status, 'False');
  assert.equal(cond(s, 'Ready').observedGeneration, 4);
  assert.equal(s.observedGeneration, 4);
  assert.deepEqual(s.summary, { cores: '3/3', regions: '1/1', replicas: '2/2' });
  assert.deepEqual(s.regions![0].endpoints, ['192.0.2.1']);
  assert.deepEqual(s.regions![0].dns, ['eu.example.com', 'g.example.com']);
  assert.deepEqual(s.conditions!.map((c) => c.type), ['Ready', 'Progressing', 'Degraded', 'CoreReady', 'ReplicasReady', 'ClusterJoined', 'DNSReady', 'ConfigApplied']);
  assert.equal(cond(s, 'ClusterJoined').reason, 'Joined');
  assert.equal(s.core!.joinedNodes, 3);
  assert.equal(s.regions![0].joinedNodes, 2);
});

test('ClusterJoined: pods ready but one broker missing → ClusterJoined=False, Ready=False, Progressing=True (Joining)', () => {
  const s = computeStatus(input({ join: joined(ROWS.filter((r) => !r.node.startsWith('mc-core-2@'))) }));
  assert.deepEqual([cond(s, 'ClusterJoined').status, cond(s, 'ClusterJoined').reason], ['False', 'NotJoined']);
  assert.equal(cond(s, 'ClusterJoined').message, 'not running cluster members: mc-core-2');
  assert.equal(cond(s, 'Ready').status, 'False');
  assert.match(cond(s, 'Ready').message, /ClusterJoined/);
  assert.deepEqual([cond(s, 'Progressing').status, cond(s, 'Progressing').reason], ['True', 'Joining'], 'requeued while not joined');
  assert.equal(s.core!.joinedNodes, 2);
});

test('ClusterJoined: not asked yet (pods not ready) → WaitingForPods and no joinedNodes', () => {
  const s = computeStatus(input({ join: undefined, sts: workload('StatefulSet', 'mc-core', 3, 2) }));
  assert.deepEqual([cond(s, 'ClusterJoined').status, cond(s, 'ClusterJoined').reason], ['False', 'WaitingForPods']);
  assert.equal(s.core!.joinedNodes, undefined);
  assert.equal(s.regions![0].joinedNodes, undefined);
  assert.equal(cond(s, 'Progressing').reason, 'WaitingForPods');
});

test('ClusterJoined: a target that cannot be asked → MembersUnavailable with the URL and the error', () => {
  const targets = joinTargets(cr);
  const join = evaluateJoin(cr, { core: 3, regions: { eu: 2 } }, [
    { target: targets[0]!, answer: { rows: ROWS } },
    { target: targets[1]!, answer: { error: `GET ${targets[1]!.url}: connect ECONNREFUSED 10.96.0.10:18083` } },
  ]);
  const s = computeStatus(input({ join }));
  assert.deepEqual([cond(s, 'ClusterJoined').status, cond(s, 'ClusterJoined').reason], ['False', 'MembersUnavailable']);
  assert.equal(cond(s, 'ClusterJoined').message, 'eu: GET http://mc-eu-api.ns.svc:18083/api/v5/nodes: connect ECONNREFUSED 10.96.0.10:18083');
  assert.equal(s.core!.joinedNodes, 3);
  assert.equal(s.regions![0].joinedNodes, undefined, 'unknown, not 0');
});

test('a core pod not ready → CoreReady=False, Ready=False, Progressing=True', () => {
  const s = computeStatus(input({ sts: workload('StatefulSet', 'mc-core', 3, 2) }));
  assert.equal(cond(s, 'CoreReady').status, 'False');
  assert.match(cond(s, 'CoreReady').message, /2\/3 core pods ready/);
  assert.equal(cond(s, 'Ready').status, 'False');
  assert.match(cond(s, 'Ready').message, /CoreReady/);
  assert.equal(cond(s, 'Progressing').status, 'True');
});

test('a new config hash not yet rolled out → ConfigApplied=False (stale status counts as rolling)', () => {
  const s = computeStatus(input({ configHash: 'h2', sts: workload('StatefulSet', 'mc-core', 3, 3, 'h2', 2, 1), deployments: { eu: workload('Deployment', 'mc-eu', 2, 2, 'h2', 2, 1) } }));
  assert.equal(cond(s, 'ConfigApplied').status, 'False');
  assert.equal(cond(s, 'ConfigApplied').reason, 'RollingOut');
  assert.equal(cond(s, 'Progressing').reason, 'RollingOut');
  const stale = computeStatus(input({ configHash: 'h3' }));
  assert.equal(cond(stale, 'ConfigApplied').reason, 'TemplatesStale');
});

test('DNS: no load balancer yet, CRD missing, provider None', () => {
  assert.equal(cond(computeStatus(input({ services: { eu: undefined } })), 'DNSReady').reason, 'WaitingForLoadBalancer');
  assert.equal(cond(computeStatus(input({ dnsServed: false })), 'DNSReady').reason, 'DNSEndpointUnavailable');
  const none = withDefaults({ ...cr, spec: { ...cr.spec, dns: { provider: 'None' } } } as any);
  assert.equal(cond(computeStatus(input({ cr: none })), 'DNSReady').status, 'True');
});

test('problems → Degraded=True and Ready=False with the message', () => {
  const s = computeStatus(input({ problems: ['apply Deployment mc-eu: forbidden'] }));
  assert.equal(cond(s, 'Degraded').status, 'True');
  assert.equal(cond(s, 'Ready').reason, 'Degraded');
  assert.match(cond(s, 'Ready').message, /forbidden/);
});

test('lastTransitionTime moves only when a condition flips', () => {
  const first = computeStatus(input());
  const same = computeStatus(input({ previous: first, now: '2026-01-02T00:00:00Z' }));
  assert.equal(cond(same, 'Ready').lastTransitionTime, '2026-01-01T00:00:00Z');
  const flipped = computeStatus(input({ previous: first, now: '2026-01-03T00:00:00Z', sts: workload('StatefulSet', 'mc-core', 3, 1) }));
  assert.equal(cond(flipped, 'Ready').lastTransitionTime, '2026-01-03T00:00:00Z');
  assert.equal(cond(flipped, 'DNSReady').lastTransitionTime, '2026-01-01T00:00:00Z');
});

test('invalid and paused statuses keep what was observed', () => {
  const ok = computeStatus(input());
  const bad = invalidStatus(ok, 5, ['spec.core.replicas: must be odd'], '2026-01-05T00:00:00Z');
  assert.equal(cond(bad, 'Degraded').reason, 'InvalidSpec');
  assert.match(cond(bad, 'Ready').message, /must be odd/);
  assert.equal(cond(bad, 'CoreReady').status, 'True', 'other conditions kept');
  assert.equal(bad.observedGeneration, 5);
  const paused = pausedStatus(ok, 6, '2026-01-06T00:00:00Z');
  assert.equal(cond(paused, 'Progressing').reason, 'Paused');
  assert.equal(paused.observedGeneration, 4, 'a paused cluster has not been reconciled at the new generation');
});
