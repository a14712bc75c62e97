/**
 * The operator's controller through one lifecycle of examples/three-regions.yaml on a REAL control
 * plane (its controllers, scheduler, garbage collector, kwok's Ready pods, the real external-dns
 * and cert-manager CRDs), with a REAL 3-member etcd (the one scripts/k8s-bins.sh built) standing in
 * for the core's etcd members: no container runs under kwok, so the test starts and stops members
 * as the StatefulSet's replicas move, as the pods' etcd containers would. The controller runs in
 * this process with the chart's ServiceAccount token (in-process.ts); the brokers' membership
 * answer comes from the ready pods. The test also plays the cloud (load-balancer addresses).
 *
 * The order of etcd membership calls and StatefulSet writes comes from the API server's audit
 * log, which records each write with the time it was received.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Controller } from '../../../operator/src/controller/controller.js';
import { connectEtcd3, type EtcdMembership } from '../../../operator/src/controller/etcd-members.js';
import { ANNOTATION_CONFIG_HASH } from '../../../operator/src/desired/meta.js';
import { freePort, startEtcdCluster, type EtcdTestCluster } from '../../support/etcd-cluster.js';
import { startKubeControlPlane, type KubeControlPlane } from '../../support/kube-control-plane.js';
import {
  MQC_PATH, RELEASE, RELEASE_NS, condition, installChart, installThirdPartyCrds, loadExample, must, owned, serviceAccountKubeconfig, sleep, waitFor,
} from './harness.js';
import { assignLoadBalancers, createVolumes, realController } from './in-process.js';

const NS = 'iot';
const APPS = `/apis/apps/v1/namespaces/${NS}`;
const OP_USER = `system:serviceaccount:${RELEASE_NS}:${RELEASE}`;
let cp: KubeControlPlane;
let etcd: EtcdTestCluster;
let controller: Controller;
let kubeconfig: string;
/** etcd membership calls, each with the time it completed. */
const etcdCalls: Array<{ at: number; what: string }> = [];
const peerPorts = new Map<number, number>();

const get = async (urlPath: string): Promise<any> => {
  const r = await cp.request('GET', urlPath);
  return r.status === 200 ? r.body : undefined;
};
const fleet = (): Promise<any> => must(cp, 'GET', `${MQC_PATH}/namespaces/${NS}/mqttclusters/fleet`);
const patchFleet = (patch: unknown): Promise<any> => must(cp, 'PATCH', `${MQC_PATH}/namespaces/${NS}/mqttclusters/fleet`, patch, [200], 'application/merge-patch+json');
const events = async (object: string): Promise<any[]> =>
  (await must(cp, 'GET', `/api/v1/namespaces/${NS}/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${object}`)}`)).items;

function recordingConnector(endpoints: string[]): EtcdMembership {
  const real = connectEtcd3(endpoints);
  return {
    list: () => real.list(),
    add: async (peerURL) => {
      const m = await real.add(peerURL);
      const ordinal = [...peerPorts].find(([, port]) => peerURL.endsWith(`:${port}`))?.[0];
      etcdCalls.push({ at: Date.now(), what: `etcd add fleet-core-${ordinal}` });
      return m;
    },
    remove: async (id) => {
      const name = (await real.list()).find((m) => m.id === id)?.name;
      await real.remove(id);
      etcdCalls.push({ at: Date.now(), what: `etcd remove ${name}` });
    },
    close: () => real.close(),
  };
}

function peerURL(ordinal: number): string {
  if (!peerPorts.has(ordinal)) throw new Error(`no port prepared for ordinal ${ordinal}`);
  return `http://127.0.0.1:${peerPorts.get(ordinal)}`;
}

function newController(): Controller {
  return realController(cp, kubeconfig, {
    namespaces: [NS],
    etcdConnector: recordingConnector,
    etcdEndpoints: () => etcd.clientURLs,
    etcdPeerURL: (_cr, ordinal) => peerURL(ordinal),
  });
}

before(async () => {
  cp = await startKubeControlPlane({
    regions: { 'eu-west-1': ['eu-west-1a', 'eu-west-1b'], 'us-east-1': ['us-east-1a', 'us-east-1b'], 'ap-southeast-1': ['ap-southeast-1a'] },
    auditWritesOf: [`system:serviceaccounts:${RELEASE_NS}`],
  });
  console.log(`# control plane ready in ${cp.startupMs} ms`);
  etcd = await startEtcdCluster(['fleet-core-0', 'fleet-core-1', 'fleet-core-2']);
  for (const o of [3, 4]) peerPorts.set(o, await freePort());
  await installChart(cp);
  await installThirdPartyCrds(cp);
  await must(cp, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  // five: the core scales to 5 below
  await createVolumes(cp, 'pv', 5, '20Gi');
  kubeconfig = await serviceAccountKubeconfig(cp, RELEASE);
  controller = newController();
  await controller.start();
});

after(async () => {
  await controller?.stop();
  await etcd?.stop();
  await cp?.stop();
});

test('a 3-region MqttCluster gets its StatefulSet, Deployments, Services, PDBs, HPA, config and Certificate', async () => {
  await must(cp, 'POST', `${MQC_PATH}/namespaces/${NS}/mqttclusters`, loadExample('three-regions.yaml'));
  const uid = (await fleet()).metadata.uid;
  // a status means the first reconcile applied everything
  await waitFor(async () => condition(await fleet(), 'Ready'), 'the first reconcile to finish', 30_000);
  const sts = await must(cp, 'GET', `${APPS}/statefulsets/fleet-core`);
  assert.equal(sts.spec.replicas, 3);
  assert.equal(sts.spec.serviceName, 'fleet-core-headless');
  assert.deepEqual(sts.metadata.ownerReferences.map((r: any) => [r.kind, r.uid, r.controller]), [['MqttCluster', uid, true]]);
  assert.ok(sts.spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH], 'config hash on the pod template');
  assert.deepEqual(sts.spec.template.spec.containers.map((c: any) => c.name).sort(), ['broker', 'etcd']);

  assert.equal((await must(cp, 'GET', `${APPS}/deployments/fleet-eu-west-1`)).spec.replicas, 4);
  assert.equal((await must(cp, 'GET', `${APPS}/deployments/fleet-ap-southeast-1`)).spec.replicas, 2);
  const us = await must(cp, 'GET', `${APPS}/deployments/fleet-us-east-1`);
  const opFields = us.metadata.managedFields.find((m: any) => m.manager === 'petrel-operator' && m.operation === 'Apply').fieldsV1;
  assert.equal(opFields['f:spec']['f:replicas'], undefined, 'the autoscaled region leaves replicas to the HPA');
  assert.equal((await must(cp, 'GET', `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/fleet-us-east-1`)).spec.maxReplicas, 20);
  assert.equal(await get(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/fleet-eu-west-1`), undefined);

  for (const region of ['eu-west-1', 'us-east-1', 'ap-southeast-1']) {
    const svc = await must(cp, 'GET', `/api/v1/namespaces/${NS}/services/fleet-${region}`);
    assert.equal(svc.spec.type, 'LoadBalancer');
    assert.deepEqual(svc.spec.ports.map((p: any) => p.port), [1883, 8883, 8084]);
    const pdb = await must(cp, 'GET', `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/fleet-${region}`);
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, svc.spec.selector);
  }
  assert.ok((await must(cp, 'GET', `/api/v1/namespaces/${NS}/services/fleet-core-headless`)).spec.publishNotReadyAddresses);
  await must(cp, 'GET', `/api/v1/namespaces/${NS}/configmaps/fleet-config`);
  await must(cp, 'GET', `/apis/cert-manager.io/v1/namespaces/${NS}/certificates/fleet-tls`);
  // one field manager through server-side apply on the main resource; the StatefulSet controller writes status
  const managers = sts.metadata.managedFields.filter((m: any) => !m.subresource).map((m: any) => `${m.manager}/${m.operation}`);
  assert.deepEqual(managers, ['petrel-operator/Apply']);
  assert.equal(condition(await fleet(), 'Ready').status, 'False', 'not ready at the first status: no pod ran yet');
});

test('pods Ready (scheduler, kwok) + load balancers → DNSEndpoints and status Ready=True with observedGeneration', async () => {
  const cr = await waitFor(async () => {
    await assignLoadBalancers(cp, NS);
    const c = await fleet();
    return condition(c, 'Ready')?.status === 'True' ? c : undefined;
  }, 'Ready=True', 120_000).catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify((await fleet()).status?.conditions)}`); });
  const dns = await must(cp, 'GET', `/apis/externaldns.k8s.io/v1alpha1/namespaces/${NS}/dnsendpoints/fleet-eu-west-1`);
  const global = dns.spec.endpoints.find((e: any) => e.dnsName === 'mqtt.example.com');
  assert.equal(global.setIdentifier, 'eu-west-1');
  assert.deepEqual(global.providerSpecific, [{ name: 'aws/region', value: 'eu-west-1' }]);
  assert.deepEqual(dns.spec.endpoints.find((e: any) => e.dnsName === 'eu.mqtt.example.com').targets, global.targets);
  for (const r of ['us-east-1', 'ap-southeast-1']) await must(cp, 'GET', `/apis/externaldns.k8s.io/v1alpha1/namespaces/${NS}/dnsendpoints/fleet-${r}`);

  assert.equal(cr.status.observedGeneration, cr.metadata.generation);
  for (const t of ['CoreReady', 'ReplicasReady', 'DNSReady', 'ConfigApplied', 'ClusterJoined']) assert.equal(condition(cr, t).status, 'True', t);
  assert.equal(condition(cr, 'Degraded').status, 'False');
  assert.equal(condition(cr, 'Progressing').status, 'False');
  assert.equal(condition(cr, 'Ready').observedGeneration, cr.metadata.generation);
  assert.deepEqual(cr.status.summary, { cores: '3/3', regions: '3/3', replicas: '8/8' });
  assert.equal(cr.status.regions.find((r: any) => r.name === 'eu-west-1').endpoints.length, 1);
  assert.ok((await events('fleet')).some((e) => e.reason === 'Created' && /StatefulSet fleet-core/.test(e.message)), 'Created event');
  await waitFor(async () => (await events('fleet')).some((e) => e.reason === 'Ready'), 'Ready event', 10_000);
});

test('a config change rolls the pods: new config hash, ConfigApplied False while rolling, Ready again', async () => {
  const before = (await must(cp, 'GET', `${APPS}/statefulsets/fleet-core`)).spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH];
  assert.equal((await must(cp, 'GET', `${APPS}/deployments/fleet-eu-west-1`)).spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH], before);
  const patched = await patchFleet({ spec: { config: { data: 'mqtt:\n  max_packet_size: 2MB\n' } } });
  let sawNotApplied = false;
  const after = await waitFor(async () => {
    if (condition(await fleet(), 'ConfigApplied')?.status === 'False') sawNotApplied = true;
    const h = (await must(cp, 'GET', `${APPS}/statefulsets/fleet-core`)).spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH];
    return h !== before ? h : undefined;
  }, 'new config hash on the StatefulSet', 30_000);
  for (const r of ['eu-west-1', 'us-east-1', 'ap-southeast-1']) {
    await waitFor(async () => (await must(cp, 'GET', `${APPS}/deployments/fleet-${r}`)).spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH] === after, `hash on ${r}`, 30_000);
  }
  assert.match((await must(cp, 'GET', `/api/v1/namespaces/${NS}/configmaps/fleet-config`)).data['petrel.yaml'], /2MB|2097152/);
  await waitFor(async () => {
    const c = await fleet();
    if (condition(c, 'ConfigApplied')?.status === 'False') sawNotApplied = true;
    return condition(c, 'Ready')?.status === 'True' && c.status.observedGeneration === patched.metadata.generation;
  }, 'Ready again', 120_000);
  assert.ok(sawNotApplied, 'ConfigApplied was False while the pods rolled');
});

test('scaling the core 3 → 5 → 3 adds etcd members before the StatefulSet grows and removes them before it shrinks', async () => {
  const t0 = Date.now();
  etcdCalls.length = 0;
  // the pods' etcd containers: a member starts when its ordinal appears, stops when it goes
  let running = 3;
  let busy = false;
  let stopped = false;
  const kubelet = (async () => {
    while (!stopped) {
      busy = true;
      const want = (await must(cp, 'GET', `${APPS}/statefulsets/fleet-core`)).spec.replicas;
      while (running < want) { await etcd.join(`fleet-core-${running}`, peerURL(running)); running++; }
      while (running > want) { running--; await etcd.kill(`fleet-core-${running}`); }
      busy = false;
      await sleep(50);
    }
  })();
  const progress = async (): Promise<string> => `; etcd ${JSON.stringify(etcdCalls.map((c) => c.what))}; Progressing: ${condition(await fleet(), 'Progressing')?.message}; Degraded: ${condition(await fleet(), 'Degraded')?.message}`;
  try {
    await patchFleet({ spec: { core: { replicas: 5 } } });
    // etcd refuses a second MemberAdd until every member has been connected for 5 s
    await waitFor(async () => (await must(cp, 'GET', `${APPS}/statefulsets/fleet-core`)).status?.readyReplicas === 5 && running === 5, 'core at 5 ready', 90_000)
      .catch(async (e) => { throw new Error(e.message + await progress()); });
    const m5 = connectEtcd3(etcd.clientURLs);
    assert.equal((await m5.list()).length, 5);
    await m5.close();
    await patchFleet({ spec: { core: { replicas: 3 } } });
    await waitFor(async () => (await must(cp, 'GET', `${APPS}/statefulsets/fleet-core`)).spec.replicas === 3 && running === 3, 'core back at 3', 60_000)
      .catch(async (e) => { throw new Error(e.message + await progress()); });
  } finally {
    stopped = true;
    await kubelet;
  }
  assert.ok(!busy);
  // the operator's StatefulSet writes as the API server received them, merged with the etcd calls by time
  const stsWrites = cp.auditWrites()
    .filter((e) => e.user.username === OP_USER && e.objectRef?.resource === 'statefulsets' && !e.objectRef.subresource && e.verb === 'patch')
    .filter((e) => Date.parse(e.requestReceivedTimestamp) >= t0 && e.requestObject?.spec?.replicas !== undefined)
    .map((e) => ({ at: Date.parse(e.requestReceivedTimestamp), what: `sts replicas ${e.requestObject.spec.replicas}` }));
  const timeline = [...etcdCalls, ...stsWrites].sort((a, b) => a.at - b.at).map((x) => x.what)
    // a config-hash or status-free re-apply at the same count is not a step
    .filter((w, i, all) => !w.startsWith('sts') || all.slice(0, i).filter((x) => x.startsWith('sts')).pop() !== w);
  assert.deepEqual(timeline, [
    'etcd add fleet-core-3', 'sts replicas 4',
    'etcd add fleet-core-4', 'sts replicas 5',
    'etcd remove fleet-core-4', 'sts replicas 4',
    'etcd remove fleet-core-3', 'sts replicas 3',
  ]);
  const m = connectEtcd3(etcd.clientURLs);
  const members = await m.list();
  await m.close();
  assert.deepEqual(members.map((x) => x.name).sort(), ['fleet-core-0', 'fleet-core-1', 'fleet-core-2']);
  await waitFor(async () => condition(await fleet(), 'Ready')?.status === 'True', 'Ready after scaling', 60_000);
  const reasons = (await events('fleet')).map((e) => e.reason);
  assert.ok(reasons.includes('EtcdMemberAdded') && reasons.includes('EtcdMemberRemoved'));
  console.log(`# core 3 → 5 → 3 took ${Date.now() - t0} ms`);
});

test('removing a region deletes its Deployment, Service, PDB and DNSEndpoint', async () => {
  const cr = await fleet();
  await patchFleet({ spec: { regions: cr.spec.regions.filter((r: any) => r.name !== 'ap-southeast-1') } });
  const gone = async (p: string): Promise<boolean> => (await cp.request('GET', p)).status === 404;
  await waitFor(async () => gone(`${APPS}/deployments/fleet-ap-southeast-1`), 'Deployment gone', 30_000);
  await waitFor(async () => await gone(`/api/v1/namespaces/${NS}/services/fleet-ap-southeast-1`) && gone(`/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/fleet-ap-southeast-1`), 'Service + PDB gone', 30_000);
  await waitFor(async () => gone(`/apis/externaldns.k8s.io/v1alpha1/namespaces/${NS}/dnsendpoints/fleet-ap-southeast-1`), 'DNSEndpoint gone', 30_000);
  await must(cp, 'GET', `${APPS}/deployments/fleet-eu-west-1`);
  await must(cp, 'GET', `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/fleet-us-east-1`);
  await waitFor(async () => (await fleet()).status.summary.regions === '2/2', 'status counts two regions', 30_000);
});

test('drift: another manager (a merge patch, like kubectl edit) changing owned fields is put back, with the field in the Event', async () => {
  await must(cp, 'PATCH', `${APPS}/deployments/fleet-eu-west-1?fieldManager=kubectl-edit`,
    { spec: { replicas: 9 }, metadata: { labels: { 'app.kubernetes.io/instance': 'hijacked' } } }, [200], 'application/merge-patch+json');
  await waitFor(async () => (await must(cp, 'GET', `${APPS}/deployments/fleet-eu-west-1`)).spec.replicas === 4, 'replicas restored', 30_000);
  const d = await must(cp, 'GET', `${APPS}/deployments/fleet-eu-west-1`);
  assert.equal(d.metadata.labels['app.kubernetes.io/instance'], 'fleet');
  const ev = await waitFor(async () => (await events('fleet')).find((e) => e.reason === 'Updated' && /fleet-eu-west-1: /.test(e.message) && /hijacked|9/.test(e.message)), 'Updated event', 10_000);
  assert.match(ev.message, /updated Deployment fleet-eu-west-1: (metadata\.labels\.app\.kubernetes\.io\/instance: "hijacked" → "fleet"|spec\.replicas: 9 → 4)/);
});

test('an invalid MqttCluster stored under a CRD without CEL rules (an older CRD) → Degraded InvalidSpec and a Warning Event', async () => {
  const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/mqttclusters.mqtt.petrel.dev';
  const original = await must(cp, 'GET', CRD);
  const strip = (v: any): any => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'x-kubernetes-validations').map(([k, x]) => [k, strip(x)]));
    return v;
  };
  await must(cp, 'PUT', CRD, { ...original, spec: strip(original.spec) });
  const bad = loadExample('single-region.yaml');
  bad.metadata = { name: 'broken', namespace: NS };
  bad.spec.core = { replicas: 4 };
  try {
    // the API server swaps in the new schema asynchronously
    await waitFor(async () => (await cp.request('POST', `${MQC_PATH}/namespaces/${NS}/mqttclusters`, bad)).status === 201, 'broken stored without CEL', 30_000);
  } finally {
    const now = await must(cp, 'GET', CRD);
    await must(cp, 'PUT', CRD, { ...original, metadata: { ...original.metadata, resourceVersion: now.metadata.resourceVersion } });
  }
  const broken = (): Promise<any> => must(cp, 'GET', `${MQC_PATH}/namespaces/${NS}/mqttclusters/broken`);
  const cr = await waitFor(async () => (condition(await broken(), 'Degraded') ? broken() : undefined), 'Degraded on broken', 30_000);
  const degraded = condition(cr, 'Degraded');
  assert.equal(degraded.status, 'True');
  assert.equal(degraded.reason, 'InvalidSpec');
  assert.match(degraded.message, /core\.replicas must be odd/);
  assert.equal(condition(cr, 'Ready').status, 'False');
  const ev = await waitFor(async () => (await events('broken')).find((e) => e.reason === 'InvalidSpec'), 'InvalidSpec event', 10_000);
  assert.equal(ev.type, 'Warning');
  assert.match(ev.message, /odd/);
  assert.equal(await get(`${APPS}/statefulsets/broken-core`), undefined, 'nothing applied for an invalid spec');
});

test('operator restart: reconciling unchanged clusters writes nothing (the API server\'s audit log)', async () => {
  const writesSince = (t: number): string[] => cp.auditWrites()
    .filter((e) => e.user.username === OP_USER && Date.parse(e.requestReceivedTimestamp) >= t)
    .map((e) => `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? '/' + e.objectRef.subresource : ''} ${e.objectRef?.name}`);
  // settle: the previous tests' changes end in a last status write or two
  await waitFor(async () => (writesSince(Date.now() - 3000).length === 0 ? true : undefined), '3 s without a write', 60_000);
  await controller.stop();
  const mark = Date.now();
  controller = newController();
  await controller.start();
  await controller.drain(10_000);
  await sleep(1000); // a progress requeue (500 ms here) would show up here
  await controller.drain(10_000);
  const reconciles = (await controller.metrics.reconcileTotal.get()).values.reduce((a, v) => a + v.value, 0);
  assert.ok(reconciles >= 2, `the new controller reconciled both clusters (${reconciles})`);
  assert.deepEqual(writesSince(mark), [], 'no writes after a restart');
});

test('paused: spec changes are not applied; unpausing applies them', async () => {
  await patchFleet({ spec: { paused: true } });
  await waitFor(async () => condition(await fleet(), 'Progressing')?.reason === 'Paused', 'Progressing=Paused', 30_000);
  const regions = (await fleet()).spec.regions;
  regions.find((r: any) => r.name === 'eu-west-1').replicas = 6;
  await patchFleet({ spec: { regions } });
  await sleep(1000);
  await controller.drain(5000);
  assert.equal((await must(cp, 'GET', `${APPS}/deployments/fleet-eu-west-1`)).spec.replicas, 4);
  await patchFleet({ spec: { paused: false } });
  await waitFor(async () => (await must(cp, 'GET', `${APPS}/deployments/fleet-eu-west-1`)).spec.replicas === 6, 'replicas 6 after unpause', 30_000);
});

test('deleting the MqttCluster: the real garbage collector removes everything it owned', async () => {
  await must(cp, 'DELETE', `${MQC_PATH}/namespaces/${NS}/mqttclusters/fleet`);
  await waitFor(async () => {
    for (const [api, plural] of [['/apis/apps/v1', 'statefulsets'], ['/apis/apps/v1', 'deployments'], ['/api/v1', 'configmaps'], ['/api/v1', 'services']]) {
      if ((await owned(cp, api, NS, plural, 'fleet')).length) return false;
    }
    return true;
  }, 'owned objects collected', 120_000);
});
