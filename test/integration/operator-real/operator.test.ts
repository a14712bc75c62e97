/**
 * The operator process on a REAL control plane, as the chart's ServiceAccount (a TokenRequest
 * token, the chart's ClusterRole and leader-election Role): a three-region MqttCluster becomes a
 * StatefulSet, Deployments, Services, PDBs and an HPA that the real controllers act on — the
 * scheduler places each region's Pods on that region's fake Nodes, kwok makes them Ready, the HPA
 * controller raises the autoscaled region to minReplicas, the PV controller binds the core's
 * claims — and the status the operator reports follows. No broker runs (kwok starts no container),
 * so ClusterJoined stays False and so does Ready; the test asserts exactly that.
 * Deleting the MqttCluster lets the real garbage collector remove what it owned. A last test takes
 * a rule out of the chart's ClusterRole and sees the real authorizer refuse the operator.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKubeControlPlane, type KubeControlPlane } from '../../support/kube-control-plane.js';
import {
  MQC_PATH, RELEASE, RELEASE_NS, condition, installChart, loadExample, metric, must, owned,
  serviceAccountKubeconfig, startOperator, waitFor, type OperatorProcess,
} from './harness.js';

const REGIONS: Record<string, string[]> = {
  'eu-west-1': ['eu-west-1a', 'eu-west-1b'],
  'us-east-1': ['us-east-1a', 'us-east-1b'],
  'ap-southeast-1': ['ap-southeast-1a'],
};
const NS = 'iot';
const APPS = '/apis/apps/v1';

let cp: KubeControlPlane;
let op: OperatorProcess | undefined;

/**
 * examples/three-regions.yaml without what needs third-party CRDs (cert-manager's Certificate for
 * spec.tls, external-dns's DNSEndpoint for spec.dns) and with fewer replicas, so the 2-core machine
 * runs 8 fake pods instead of 12.
 */
function fleet(): any {
  const cr = loadExample('three-regions.yaml');
  delete cr.spec.tls;
  delete cr.spec.dns;
  cr.spec.listeners = cr.spec.listeners.filter((l: any) => !l.tls);
  for (const r of cr.spec.regions) delete r.dns;
  cr.spec.regions.find((r: any) => r.name === 'eu-west-1').replicas = 2;
  cr.spec.regions.find((r: any) => r.name === 'ap-southeast-1').replicas = 1;
  return cr;
}

const EXPECTED_PODS: Record<string, number> = { core: 3, 'eu-west-1': 2, 'us-east-1': 2, 'ap-southeast-1': 1 };

before(async () => {
  cp = await startKubeControlPlane({ regions: REGIONS, auditWritesOf: [`system:serviceaccounts:${RELEASE_NS}`] });
  console.log(`# control plane ready in ${cp.startupMs} ms (${cp.nodes.length} fake Nodes)`);
  await installChart(cp);
  await must(cp, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  // The core's claims need volumes; no provisioner runs here, so three PVs wait for them (never mounted).
  for (let i = 0; i < 3; i++) {
    await must(cp, 'POST', '/api/v1/persistentvolumes', {
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `pv-${i}` },
      spec: { capacity: { storage: '20Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', hostPath: { path: `/tmp/petrel-kwok-pv-${i}` } },
    });
  }
  const kubeconfig = await serviceAccountKubeconfig(cp, RELEASE);
  op = await startOperator(cp, kubeconfig);
});

after(async () => {
  await op?.stop();
  await cp?.stop();
});

const mqc = (name: string): Promise<any> => must(cp, 'GET', `${MQC_PATH}/namespaces/${NS}/mqttclusters/${name}`);
const why = (): string => `\n--- operator:\n${op!.output().split('\n').slice(-25).join('\n')}`;

test('the operator, with the chart\'s ServiceAccount and RBAC, takes the Lease and creates every object of a three-region cluster', async () => {
  await waitFor(async () => {
    const lease = await must(cp, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${RELEASE_NS}/leases/petrel-operator-leader`, undefined, [200, 404]);
    return lease.spec?.holderIdentity === 'operator-under-test';
  }, `the leader Lease${why()}`, 60_000);
  await must(cp, 'POST', `${MQC_PATH}/namespaces/${NS}/mqttclusters`, fleet());

  // the status is written after a reconcile's last apply: from then on every object exists
  await waitFor(async () => (await mqc('fleet')).status?.observedGeneration === 1, `the first status${why()}`, 60_000);
  assert.equal((await owned(cp, APPS, NS, 'deployments', 'fleet')).length, 3);
  const sts = await owned(cp, APPS, NS, 'statefulsets', 'fleet');
  assert.deepEqual(sts.map((s) => s.metadata.name), ['fleet-core']);
  assert.equal(sts[0].metadata.ownerReferences[0].kind, 'MqttCluster');
  assert.equal(sts[0].metadata.ownerReferences[0].controller, true);
  const services = (await owned(cp, '/api/v1', NS, 'services', 'fleet')).map((s) => s.metadata.name).sort();
  for (const r of Object.keys(REGIONS)) {
    assert.ok(services.includes(`fleet-${r}`), `client Service of ${r} in ${services}`);
    assert.ok(services.includes(`fleet-${r}-api`), `API Service of ${r}`);
  }
  const lb = (await must(cp, 'GET', `/api/v1/namespaces/${NS}/services/fleet-eu-west-1`));
  assert.equal(lb.spec.type, 'LoadBalancer');
  assert.ok(lb.spec.healthCheckNodePort > 0, 'the real API server allocated a health-check node port (externalTrafficPolicy: Local)');
  const pdbs = await owned(cp, '/apis/policy/v1', NS, 'poddisruptionbudgets', 'fleet');
  assert.deepEqual(pdbs.map((p) => p.metadata.name).sort(), ['fleet-ap-southeast-1', 'fleet-core', 'fleet-eu-west-1', 'fleet-us-east-1']);
  const hpas = await owned(cp, '/apis/autoscaling/v2', NS, 'horizontalpodautoscalers', 'fleet');
  assert.deepEqual(hpas.map((h) => h.metadata.name), ['fleet-us-east-1']);
  await waitFor(async () => {
    const events = await must(cp, 'GET', `/api/v1/namespaces/${NS}/events?fieldSelector=${encodeURIComponent('involvedObject.name=fleet')}`);
    return events.items.some((e: any) => e.reason === 'Created' && e.involvedObject.kind === 'MqttCluster');
  }, `a Created Event on the MqttCluster${why()}`, 30_000);
});

test('the scheduler puts each region\'s pods only on that region\'s nodes, kwok makes them Ready, the HPA raises us-east-1 to minReplicas', async () => {
  const nodes = new Map<string, any>();
  for (const n of (await must(cp, 'GET', '/api/v1/nodes')).items) nodes.set(n.metadata.name, n);
  const pods = await waitFor(async () => {
    const list = await owned(cp, '/api/v1', NS, 'pods', 'fleet');
    const ready = list.filter((p) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    const count = (group: string): number => ready.filter((p) => (p.metadata.labels['mqtt.petrel.dev/region'] ?? 'core') === group).length;
    return Object.entries(EXPECTED_PODS).every(([g, n]) => count(g) === n) && ready.length === list.length ? ready : undefined;
  }, `${Object.values(EXPECTED_PODS).reduce((a, b) => a + b)} Ready pods${why()}\n--- kube-scheduler:\n${cp.logTail('kube-scheduler', 10)}`, 120_000);

  for (const p of pods) {
    const region = p.metadata.labels['mqtt.petrel.dev/region'];
    const node = nodes.get(p.spec.nodeName);
    assert.ok(node, `pod ${p.metadata.name} is on a known node (${p.spec.nodeName})`);
    if (region) assert.equal(node.metadata.labels['topology.kubernetes.io/region'], region, `${p.metadata.name} on ${p.spec.nodeName}`);
    assert.equal(p.status.phase, 'Running');
  }
  for (const region of ['eu-west-1', 'us-east-1']) {
    const zones = new Set(pods.filter((p) => p.metadata.labels['mqtt.petrel.dev/region'] === region).map((p) => nodes.get(p.spec.nodeName).metadata.labels['topology.kubernetes.io/zone']));
    assert.equal(zones.size, 2, `${region}'s two pods spread over its two zones: ${[...zones]}`);
  }
  const us = await must(cp, 'GET', `${APPS}/namespaces/${NS}/deployments/fleet-us-east-1`);
  assert.equal(us.spec.replicas, 2, 'the real HPA controller set minReplicas on the Deployment the operator left unsized');
  const claims = await must(cp, 'GET', `/api/v1/namespaces/${NS}/persistentvolumeclaims`);
  assert.equal(claims.items.filter((c: any) => c.status.phase === 'Bound').length, 3, 'the core\'s claims are bound');
});

test('the status follows what the real controllers report: core and replicas ready, brokers not joined, Ready False', async () => {
  const cr = await waitFor(async () => {
    const c = await mqc('fleet');
    return condition(c, 'ClusterJoined')?.reason === 'MembersUnavailable' ? c : undefined;
  }, `ClusterJoined=False MembersUnavailable${why()}`, 90_000);
  assert.equal(condition(cr, 'CoreReady').status, 'True', JSON.stringify(cr.status.conditions));
  assert.equal(condition(cr, 'ReplicasReady').status, 'True');
  assert.equal(condition(cr, 'ConfigApplied').status, 'True');
  assert.equal(condition(cr, 'DNSReady').status, 'True', 'dns.provider None');
  assert.equal(condition(cr, 'Degraded').status, 'False', `nothing refused (a missing RBAC verb would be here): ${condition(cr, 'Degraded').message}`);
  const joined = condition(cr, 'ClusterJoined');
  assert.equal(joined.status, 'False');
  // the operator runs outside the cluster: the brokers' Service names do not resolve here
  assert.match(joined.message, /fleet-core-headless\.iot\.svc:18083\/api\/v5\/nodes/);
  console.log(`# ClusterJoined: ${joined.message}`);
  assert.equal(condition(cr, 'Ready').status, 'False');
  assert.equal(condition(cr, 'Progressing').reason, 'Joining');
  // informers (list/watch) and Event writes fail only in the log: none may have been refused so far
  const refused = op!.output().split('\n').filter((l) => /forbidden/i.test(l));
  assert.deepEqual(refused, [], 'the operator logged no refused request');
  assert.equal(cr.status.observedGeneration, cr.metadata.generation);
  assert.equal(cr.status.core.readyReplicas, 3);
  assert.deepEqual(cr.status.regions.map((r: any) => `${r.name} ${r.readyReplicas}/${r.replicas}`).sort(),
    ['ap-southeast-1 1/1', 'eu-west-1 2/2', 'us-east-1 2/2']);
});

/** The field paths (FieldsV1, e.g. ['f:spec', 'f:replicas']) `manager` owns through Apply. */
function owns(obj: any, manager: string, field: string[]): boolean {
  return (obj.metadata.managedFields ?? []).some((m: any) => {
    if (m.manager !== manager || m.operation !== 'Apply') return false;
    let node = m.fieldsV1;
    for (const f of field) node = node?.[f];
    return node !== undefined;
  });
}

test('server-side apply against real managedFields: another manager conflicts on the operator\'s field, shares the rest, and a forced field is taken back', async () => {
  const url = `${APPS}/namespaces/${NS}/deployments/fleet-eu-west-1`;
  const REPLICAS = ['f:spec', 'f:replicas'];
  const TEAM = ['f:metadata', 'f:labels', 'f:team'];
  const before = await must(cp, 'GET', url);
  assert.equal(before.spec.replicas, 2);
  assert.ok(owns(before, 'petrel-operator', REPLICAS), 'the operator applied spec.replicas');
  const manifest = (replicas?: number): string => [
    'apiVersion: apps/v1', 'kind: Deployment',
    `metadata: {name: fleet-eu-west-1, namespace: ${NS}, labels: {team: ops}}`,
    ...(replicas === undefined ? [] : [`spec: {replicas: ${replicas}}`]), '',
  ].join('\n');

  // the real kubectl, without --force-conflicts: Kubernetes refuses to move a field another manager applied
  const refused = await cp.kubectl(['apply', '--server-side', '--field-manager=ops-team', '-f', '-'], { input: manifest(3) });
  assert.notEqual(refused.code, 0, refused.out);
  assert.match(refused.err, /conflict with "petrel-operator"/);
  assert.match(refused.err, /\.spec\.replicas/);
  assert.equal((await must(cp, 'GET', url)).spec.replicas, 2, 'nothing written on a conflict');

  // a field the operator does not set: applied without conflict, owned by ops-team, and left alone by the operator
  const shared = await cp.kubectl(['apply', '--server-side', '--field-manager=ops-team', '-f', '-'], { input: manifest() });
  assert.equal(shared.code, 0, shared.err);
  const labelled = await must(cp, 'GET', url);
  assert.ok(owns(labelled, 'ops-team', TEAM) && owns(labelled, 'petrel-operator', REPLICAS), JSON.stringify(labelled.metadata.managedFields));

  // forced: ops-team takes spec.replicas; the operator sees the drift and, applying with force, takes it back
  const forced = await must(cp, 'PATCH', `${url}?fieldManager=ops-team&force=true`, manifest(3), [200], 'application/apply-patch+yaml');
  assert.equal(forced.spec.replicas, 3);
  assert.ok(owns(forced, 'ops-team', REPLICAS) && !owns(forced, 'petrel-operator', REPLICAS), 'force moved the field to ops-team');
  const back = await waitFor(async () => {
    const d = await must(cp, 'GET', url);
    return d.spec.replicas === 2 && owns(d, 'petrel-operator', REPLICAS) ? d : undefined;
  }, `spec.replicas back to 2, owned by petrel-operator${why()}`, 30_000);
  assert.ok(!owns(back, 'ops-team', REPLICAS), 'the operator\'s forced apply took spec.replicas from ops-team');
  assert.ok(owns(back, 'ops-team', TEAM) && back.metadata.labels.team === 'ops', 'ops-team keeps the label the operator never set');
  // the Event is recorded right after the apply
  await waitFor(async () => {
    const events = await must(cp, 'GET', `/api/v1/namespaces/${NS}/events?fieldSelector=${encodeURIComponent('involvedObject.name=fleet')}`);
    return events.items.some((e: any) => e.reason === 'Updated' && /Deployment fleet-eu-west-1: spec\.replicas: 3 → 2/.test(e.message));
  }, 'an Updated Event naming the drift', 10_000);
});

test('no write when nothing changed: over several reconciles the API server records no write by the operator and no owned object changes', async () => {
  const OP_USER = `system:serviceaccount:${RELEASE_NS}:${RELEASE}`;
  // the Lease renewals are the only writes a steady operator makes
  const writes = (since: number): string[] => cp.auditWrites()
    .filter((e) => e.user.username === OP_USER && e.objectRef?.resource !== 'leases' && Date.parse(e.requestReceivedTimestamp) >= since)
    .map((e) => `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? '/' + e.objectRef.subresource : ''} ${e.objectRef?.name} → ${e.responseStatus?.code}`);
  // settle: the previous test's drift and its pod churn end in a status write or two
  await waitFor(async () => (writes(Date.now() - 8_000).length === 0 ? true : undefined), '8 s without a write by the operator', 90_000);
  const all = cp.auditWrites().filter((e) => e.user.username === OP_USER);
  console.log(`# the operator's writes so far (audit log): ${all.length}, ${all.filter((e) => e.objectRef?.resource === 'leases').length} of them Lease renewals`);

  const kinds: Array<[string, string]> = [
    [APPS, 'statefulsets'], [APPS, 'deployments'], ['/api/v1', 'services'], ['/api/v1', 'configmaps'], ['/api/v1', 'secrets'],
    ['/apis/policy/v1', 'poddisruptionbudgets'], ['/apis/autoscaling/v2', 'horizontalpodautoscalers'],
  ];
  // Everything but status: the HPA controller rewrites the HPA's status (no metrics server here),
  // which changes its resourceVersion without any write by the operator.
  const fingerprint = (o: any): string => {
    const { status: _status, ...rest } = o;
    const managedFields = (o.metadata.managedFields ?? []).filter((m: any) => m.subresource !== 'status');
    return JSON.stringify({ ...rest, metadata: { ...o.metadata, resourceVersion: undefined, managedFields } });
  };
  const snapshot = async (): Promise<Array<{ key: string; rv: string; fp: string }>> => {
    const out = [{ key: 'mqttclusters/fleet', obj: await mqc('fleet') }];
    for (const [api, plural] of kinds) for (const o of await owned(cp, api, NS, plural, 'fleet')) out.push({ key: `${plural}/${o.metadata.name}`, obj: o });
    return out.map(({ key, obj }) => ({ key, rv: obj.metadata.resourceVersion, fp: fingerprint(obj) }));
  };
  const t0 = Date.now();
  const before = await snapshot();
  const reconciles0 = (await metric(op!, 'petrel_operator_reconcile_total')) ?? 0;
  // the cluster is Progressing (not joined), so it is reconciled every 5 s: wait for three of them
  const reconciles = await waitFor(async () => {
    const n = ((await metric(op!, 'petrel_operator_reconcile_total')) ?? 0) - reconciles0;
    return n >= 3 ? n : undefined;
  }, 'three reconciles', 60_000);
  assert.deepEqual(writes(t0), [], 'the API server recorded no write by the operator');
  const after = await snapshot();
  assert.deepEqual(after.map((o) => `${o.key} ${o.fp}`), before.map((o) => `${o.key} ${o.fp}`), 'no owned object (nor the MqttCluster) changed outside status');
  const statusOnly = after.filter((o, i) => o.rv !== before[i]!.rv).map((o) => o.key);
  console.log(`# ${reconciles} reconciles in ${Date.now() - t0} ms, 0 writes; ${after.length - statusOnly.length} of ${after.length} objects kept their resourceVersion, ${statusOnly.join(', ') || 'none'} changed in status only`);
});

test('a config change rolls every pod through the real StatefulSet and Deployment controllers; ConfigApplied returns to True', async () => {
  const HASH = 'mqtt.petrel.dev/config-hash';
  const before = await owned(cp, '/api/v1', NS, 'pods', 'fleet');
  const oldHashes = new Set(before.map((p) => p.metadata.annotations[HASH]));
  assert.equal(oldHashes.size, 1, `one config hash on every pod: ${[...oldHashes]}`);
  const cr = await mqc('fleet');
  assert.match(cr.spec.config.data, /max_packet_size: 1MB/);
  const data = cr.spec.config.data.replace('max_packet_size: 1MB', 'max_packet_size: 2MB');
  const patched = await must(cp, 'PATCH', `${MQC_PATH}/namespaces/${NS}/mqttclusters/fleet`, { spec: { config: { data } } }, [200], 'application/merge-patch+json');
  const t0 = Date.now();
  let seen = '';
  const rolled = await waitFor(async () => {
    const c = await mqc('fleet');
    const applied = condition(c, 'ConfigApplied');
    const pods = (await owned(cp, '/api/v1', NS, 'pods', 'fleet')).filter((p) => !p.metadata.deletionTimestamp);
    seen = `generation ${c.metadata.generation}, ConfigApplied ${JSON.stringify(applied)}\npods: ${pods.map((p) => `${p.metadata.name} ${p.metadata.annotations[HASH]} ${p.status.phase}`).join(', ')}`;
    if (applied?.status !== 'True' || applied.observedGeneration !== patched.metadata.generation) return undefined;
    return pods.length === 8 && pods.every((p) => !oldHashes.has(p.metadata.annotations[HASH])) ? pods : undefined;
  }, 'every pod on the new config hash, ConfigApplied True', 150_000).catch((e) => { throw new Error(`${e.message}\n${seen}${why()}`); });
  console.log(`# rolling 8 pods to a new config took ${Date.now() - t0} ms`);
  assert.equal(new Set(rolled.map((p) => p.metadata.annotations[HASH])).size, 1);
  const names = new Set(rolled.map((p) => p.metadata.uid));
  assert.ok(before.every((p) => !names.has(p.metadata.uid)), 'every pod was replaced');
  const core = await must(cp, 'GET', `${APPS}/namespaces/${NS}/statefulsets/fleet-core`);
  assert.equal(core.status.updatedReplicas, 3);
  assert.equal(core.status.currentRevision, core.status.updateRevision, 'the StatefulSet finished its rolling update');
});

test('deleting the MqttCluster: the real garbage collector removes everything it owned; the core\'s claims stay (whenDeleted: Retain)', async () => {
  const t0 = Date.now();
  await must(cp, 'DELETE', `${MQC_PATH}/namespaces/${NS}/mqttclusters/fleet`);
  const kinds: Array<[string, string]> = [
    [APPS, 'statefulsets'], [APPS, 'deployments'], [APPS, 'replicasets'], ['/api/v1', 'services'], ['/api/v1', 'configmaps'],
    ['/api/v1', 'secrets'], ['/api/v1', 'pods'], ['/apis/policy/v1', 'poddisruptionbudgets'], ['/apis/autoscaling/v2', 'horizontalpodautoscalers'],
  ];
  await waitFor(async () => {
    for (const [api, plural] of kinds) if ((await owned(cp, api, NS, plural, 'fleet')).length) return false;
    return true;
  }, `every owned object gone${why()}\n--- kube-controller-manager:\n${cp.logTail('kube-controller-manager', 10)}`, 120_000);
  console.log(`# garbage collection of the fleet took ${Date.now() - t0} ms`);
  const claims = await must(cp, 'GET', `/api/v1/namespaces/${NS}/persistentvolumeclaims`);
  assert.equal(claims.items.length, 3, 'PVCs are retained on deletion');
});

test('a rule taken out of the chart\'s ClusterRole: the real authorizer refuses the operator and Degraded says so', async () => {
  const role = await must(cp, 'GET', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${RELEASE}`);
  role.rules = role.rules.filter((r: any) => !r.resources.includes('poddisruptionbudgets'));
  await must(cp, 'PUT', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${RELEASE}`, role);
  const small = fleet();
  small.metadata.name = 'probe';
  small.spec.core.replicas = 1;
  small.spec.regions = [{ name: 'eu-west-1', replicas: 1 }];
  await must(cp, 'POST', `${MQC_PATH}/namespaces/${NS}/mqttclusters`, small);
  const degraded = await waitFor(async () => {
    const d = condition(await mqc('probe'), 'Degraded');
    return d?.status === 'True' ? d : undefined;
  }, `Degraded=True on the cluster "probe"${why()}`, 60_000);
  assert.match(degraded.message, /forbidden/i);
  assert.match(degraded.message, /poddisruptionbudgets/);
});

test('SIGTERM: the operator exits 0 and releases the Lease', async () => {
  const code = await op!.stop();
  assert.equal(code, 0, why());
  const lease = await must(cp, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${RELEASE_NS}/leases/petrel-operator-leader`);
  assert.ok(!lease.spec.holderIdentity, `holder cleared: ${JSON.stringify(lease.spec)}`);
});
