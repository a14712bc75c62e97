/**
 * The operator's controller end to end against the FAKE Kubernetes API server (in-memory, real
 * HTTP; see test/support/fake-kube-apiserver.ts) and a REAL 3-member etcd cluster (Debian's
 * etcd-server) standing in for the core's etcd members. The test plays kubelet and cloud: it writes
 * workload status and load-balancer addresses, and starts/stops etcd members as pods come and go.
 *
 * The scenarios run in order on one MqttCluster (examples/three-regions.yaml), like a lifecycle.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Controller } from '../../../operator/src/controller/controller.js';
import { connectEtcd3, type EtcdMembership } from '../../../operator/src/controller/etcd-members.js';
import { ANNOTATION_CONFIG_HASH } from '../../../operator/src/desired/meta.js';
import type { FakeKubeApiServer } from '../../support/fake-kube-apiserver.js';
import { freePort, startEtcdCluster, type EtcdTestCluster } from '../../support/etcd-cluster.js';
import { MQC, condition, fakeKubelet, loadExample, newController, sleep, startFake, waitFor } from './harness.js';

const NS = 'iot';
let fake: FakeKubeApiServer;
let etcd: EtcdTestCluster;
let controller: Controller;
const timeline: string[] = [];
const peerPorts = new Map<number, number>();
let stopWatch: (() => void) | undefined;

const get = (apiVersion: string, kind: string, name: string): any => fake.find(apiVersion, kind, NS, name);
const fleet = (): any => get(MQC, 'MqttCluster', 'fleet');

/** Records each etcd membership call in the shared timeline (the order the test asserts). */
function recordingConnector(endpoints: string[]): EtcdMembership {
  const real = connectEtcd3(endpoints);
  return {
    list: () => real.list(),
    add: async (peerURL) => {
      const m = await real.add(peerURL);
      const ordinal = [...peerPorts].find(([, port]) => peerURL.endsWith(`:${port}`))?.[0];
      timeline.push(`etcd add fleet-core-${ordinal}`);
      return m;
    },
    remove: async (id) => {
      const name = (await real.list()).find((m) => m.id === id)?.name;
      await real.remove(id);
      timeline.push(`etcd remove ${name}`);
    },
    close: () => real.close(),
  };
}

function peerURL(ordinal: number): string {
  if (!peerPorts.has(ordinal)) throw new Error(`no port prepared for ordinal ${ordinal}`);
  return `http://127.0.0.1:${peerPorts.get(ordinal)}`;
}

before(async () => {
  etcd = await startEtcdCluster(['fleet-core-0', 'fleet-core-1', 'fleet-core-2']);
  for (const o of [3, 4]) peerPorts.set(o, await freePort());
  fake = await startFake();
  // timeline entries for StatefulSet replica changes, in the order the fake committed them
  const stsType = fake.store.registry.byKind('apps', 'v1', 'StatefulSet')!;
  let lastReplicas: number | undefined;
  stopWatch = fake.store.watch(stsType, NS, {}, fake.store.resourceVersion, undefined, (type, obj) => {
    if (type === 'ERROR' || obj.metadata.name !== 'fleet-core') return;
    const r = obj.spec?.replicas;
    if (r !== lastReplicas && lastReplicas !== undefined) timeline.push(`sts replicas ${r}`);
    lastReplicas = r;
  });
  controller = newController(fake, {
    etcdConnector: recordingConnector,
    etcdEndpoints: () => etcd.clientURLs,
    etcdPeerURL: (_cr, ordinal) => peerURL(ordinal),
  });
  await controller.start();
});

after(async () => {
  stopWatch?.();
  await controller?.stop();
  await fake?.close();
  await etcd?.stop();
});

test('a 3-region MqttCluster gets its StatefulSet, Deployments, Services, PDBs, HPA and config', async () => {
  const cr = loadExample('three-regions.yaml');
  fake.put(cr);
  const uid = fleet().metadata.uid;
  // a status means the first reconcile applied everything
  await waitFor(() => condition(fleet(), 'Ready'), 'the first reconcile to finish');
  const sts = get('apps/v1', 'StatefulSet', 'fleet-core');
  assert.equal(sts.spec.replicas, 3);
  assert.equal(sts.spec.serviceName, 'fleet-core-headless');
  assert.deepEqual(sts.metadata.ownerReferences.map((r: any) => [r.kind, r.uid, r.controller]), [['MqttCluster', uid, true]]);
  assert.ok(sts.spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH], 'config hash on the pod template');
  assert.deepEqual(sts.spec.template.spec.containers.map((c: any) => c.name).sort(), ['broker', 'etcd']);

  const eu = get('apps/v1', 'Deployment', 'fleet-eu-west-1');
  assert.equal(eu.spec.replicas, 4);
  assert.equal(get('apps/v1', 'Deployment', 'fleet-ap-southeast-1').spec.replicas, 2);
  const us = get('apps/v1', 'Deployment', 'fleet-us-east-1');
  assert.equal(us.spec.replicas, undefined, 'autoscaled region leaves replicas to the HPA');
  const hpa = get('autoscaling/v2', 'HorizontalPodAutoscaler', 'fleet-us-east-1');
  assert.equal(hpa.spec.maxReplicas, 20);
  assert.equal(get('autoscaling/v2', 'HorizontalPodAutoscaler', 'fleet-eu-west-1'), undefined);

  for (const region of ['eu-west-1', 'us-east-1', 'ap-southeast-1']) {
    const svc = get('v1', 'Service', `fleet-${region}`);
    assert.equal(svc.spec.type, 'LoadBalancer');
    assert.deepEqual(svc.spec.ports.map((p: any) => p.port), [1883, 8883, 8084]);
    const pdb = get('policy/v1', 'PodDisruptionBudget', `fleet-${region}`);
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, svc.spec.selector);
  }
  assert.ok(get('v1', 'Service', 'fleet-core-headless').spec.publishNotReadyAddresses);
  assert.ok(get('v1', 'ConfigMap', 'fleet-config'));
  assert.ok(get('cert-manager.io/v1', 'Certificate', 'fleet-tls'));
  // managed by one field manager, through server-side apply
  const managers = sts.metadata.managedFields.filter((m: any) => !m.subresource).map((m: any) => `${m.manager}/${m.operation}`);
  assert.deepEqual(managers, ['petrel-operator/Apply']);
  // not ready yet: nothing is running
  assert.equal(condition(fleet(), 'Ready').status, 'False');
});

test('workloads ready + load balancers → DNSEndpoints and status Ready=True with observedGeneration', async () => {
  fakeKubelet(fake, NS);
  const dns = await waitFor(() => get('externaldns.k8s.io/v1alpha1', 'DNSEndpoint', 'fleet-eu-west-1'), 'DNSEndpoint');
  const global = dns.spec.endpoints.find((e: any) => e.dnsName === 'mqtt.example.com');
  assert.equal(global.setIdentifier, 'eu-west-1');
  assert.deepEqual(global.providerSpecific, [{ name: 'aws/region', value: 'eu-west-1' }]);
  assert.deepEqual(dns.spec.endpoints.find((e: any) => e.dnsName === 'eu.mqtt.example.com').targets, global.targets);
  for (const r of ['us-east-1', 'ap-southeast-1']) await waitFor(() => get('externaldns.k8s.io/v1alpha1', 'DNSEndpoint', `fleet-${r}`), `DNSEndpoint ${r}`);

  const cr = await waitFor(() => (condition(fleet(), 'Ready')?.status === 'True' ? fleet() : undefined), 'Ready=True');
  assert.equal(cr.status.observedGeneration, cr.metadata.generation);
  for (const t of ['CoreReady', 'ReplicasReady', 'DNSReady', 'ConfigApplied']) assert.equal(condition(cr, t).status, 'True', t);
  assert.equal(condition(cr, 'Degraded').status, 'False');
  assert.equal(condition(cr, 'Progressing').status, 'False');
  assert.equal(condition(cr, 'Ready').observedGeneration, cr.metadata.generation);
  assert.deepEqual(cr.status.summary, { cores: '3/3', regions: '3/3', replicas: '8/8' });
  assert.deepEqual(cr.status.regions.find((r: any) => r.name === 'eu-west-1').endpoints.length, 1);
  const events = fake.listKind('v1', 'Event', NS).filter((e) => e.involvedObject.name === 'fleet');
  assert.ok(events.some((e) => e.reason === 'Created' && /StatefulSet fleet-core/.test(e.message)), 'Created event');
  // the Ready Event is recorded right after the status write
  await waitFor(() => fake.listKind('v1', 'Event', NS).some((e) => e.involvedObject.name === 'fleet' && e.reason === 'Ready'), 'Ready event');
});

test('a config change rolls the pods: the pod-template config hash changes', async () => {
  const before = get('apps/v1', 'StatefulSet', 'fleet-core').spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH];
  const beforeEu = get('apps/v1', 'Deployment', 'fleet-eu-west-1').spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH];
  assert.equal(before, beforeEu);
  const cr = fleet();
  cr.spec.config.data = 'mqtt:\n  max_packet_size: 2MB\n';
  fake.put(cr);
  const after = await waitFor(() => {
    const h = get('apps/v1', 'StatefulSet', 'fleet-core').spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH];
    return h !== before ? h : undefined;
  }, 'new config hash on the StatefulSet');
  for (const r of ['eu-west-1', 'us-east-1', 'ap-southeast-1']) {
    await waitFor(() => get('apps/v1', 'Deployment', `fleet-${r}`).spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH] === after, `hash on ${r}`);
  }
  assert.match(get('v1', 'ConfigMap', 'fleet-config').data['petrel.yaml'], /2MB|2097152/);
  await waitFor(() => condition(fleet(), 'ConfigApplied')?.status === 'False', 'ConfigApplied=False while rolling');
  fakeKubelet(fake, NS);
  await waitFor(() => condition(fleet(), 'Ready')?.status === 'True' && fleet().status.observedGeneration === fleet().metadata.generation, 'Ready again');
});

test('scaling the core 3 → 5 → 3 adds etcd members before pods and removes them before pods go', async () => {
  timeline.length = 0;
  // the kubelet: a pod for a new ordinal starts its etcd member (joining), then reports ready
  let running = 3;
  let kubeletBusy = false;
  const kubelet = setInterval(() => {
    if (kubeletBusy) return;
    kubeletBusy = true;
    void (async () => {
      const sts = get('apps/v1', 'StatefulSet', 'fleet-core');
      const want = sts.spec.replicas;
      while (running < want) {
        await etcd.join(`fleet-core-${running}`, peerURL(running));
        running++;
      }
      while (running > want) {
        running--;
        await etcd.kill(`fleet-core-${running}`);
      }
      fakeKubelet(fake, NS, { coreReady: () => running });
    })().catch((e) => timeline.push(`kubelet error ${e}`)).finally(() => { kubeletBusy = false; });
  }, 50);
  try {
    const cr = fleet();
    cr.spec.core.replicas = 5;
    fake.put(cr);
    // etcd refuses a second member add until all members have been connected for 5s
    const progress = (): string => `; timeline ${JSON.stringify(timeline)}; Progressing: ${condition(fleet(), 'Progressing')?.message}; Degraded: ${condition(fleet(), 'Degraded')?.message}`;
    await waitFor(() => get('apps/v1', 'StatefulSet', 'fleet-core').status?.readyReplicas === 5, 'core at 5 ready', 60_000).catch((e) => { throw new Error(e.message + progress()); });
    const members5 = await connectEtcd3(etcd.clientURLs).list();
    assert.equal(members5.length, 5);
    const cr2 = fleet();
    cr2.spec.core.replicas = 3;
    fake.put(cr2);
    await waitFor(() => get('apps/v1', 'StatefulSet', 'fleet-core').spec.replicas === 3 && running === 3, 'core back at 3', 40_000).catch((e) => { throw new Error(e.message + progress()); });
  } finally {
    clearInterval(kubelet);
    await waitFor(() => !kubeletBusy, 'kubelet idle', 40_000);
  }
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
  fakeKubelet(fake, NS);
  await waitFor(() => condition(fleet(), 'Ready')?.status === 'True', 'Ready after scaling');
  const reasons = fake.listKind('v1', 'Event', NS).map((e) => e.reason);
  assert.ok(reasons.includes('EtcdMemberAdded') && reasons.includes('EtcdMemberRemoved'));
});

test('removing a region deletes its Deployment, Service, PDB and DNSEndpoint', async () => {
  const cr = fleet();
  cr.spec.regions = cr.spec.regions.filter((r: any) => r.name !== 'ap-southeast-1');
  fake.put(cr);
  await waitFor(() => !get('apps/v1', 'Deployment', 'fleet-ap-southeast-1'), 'Deployment gone');
  await waitFor(() => !get('v1', 'Service', 'fleet-ap-southeast-1') && !get('policy/v1', 'PodDisruptionBudget', 'fleet-ap-southeast-1'), 'Service + PDB gone');
  await waitFor(() => !get('externaldns.k8s.io/v1alpha1', 'DNSEndpoint', 'fleet-ap-southeast-1'), 'DNSEndpoint gone');
  assert.ok(get('apps/v1', 'Deployment', 'fleet-eu-west-1'), 'other regions stay');
  assert.ok(get('autoscaling/v2', 'HorizontalPodAutoscaler', 'fleet-us-east-1'));
  await waitFor(() => fleet().status.summary.regions === '2/2', 'status counts two regions');
});

test('drift: another manager changing an owned field is put back, with the field in the Event', async () => {
  const t = fake.store.registry.byKind('apps', 'v1', 'Deployment')!;
  fake.store.patch(t, NS, 'fleet-eu-west-1', 'application/merge-patch+json', { spec: { replicas: 9 }, metadata: { labels: { 'app.kubernetes.io/instance': 'hijacked' } } }, { manager: 'kubectl-edit' });
  await waitFor(() => get('apps/v1', 'Deployment', 'fleet-eu-west-1').spec.replicas === 4, 'replicas restored');
  const d = get('apps/v1', 'Deployment', 'fleet-eu-west-1');
  assert.equal(d.metadata.labels['app.kubernetes.io/instance'], 'fleet');
  const ev = await waitFor(() => fake.listKind('v1', 'Event', NS).find((e) => e.reason === 'Updated' && /fleet-eu-west-1: /.test(e.message) && /hijacked|9/.test(e.message)), 'Updated event');
  assert.match(ev.message, /updated Deployment fleet-eu-west-1: (metadata\.labels\.app\.kubernetes\.io\/instance: "hijacked" → "fleet"|spec\.replicas: 9 → 4)/);
});

test('an invalid spec (the fake runs no CEL) → Degraded with a clear message and a Warning Event', async () => {
  const bad = loadExample('single-region.yaml');
  bad.metadata = { name: 'broken', namespace: NS };
  bad.spec.core = { replicas: 4 };
  fake.put(bad);
  const cr = await waitFor(() => (condition(get(MQC, 'MqttCluster', 'broken'), 'Degraded') ? get(MQC, 'MqttCluster', 'broken') : undefined), 'Degraded on broken');
  const degraded = condition(cr, 'Degraded');
  assert.equal(degraded.status, 'True');
  assert.equal(degraded.reason, 'InvalidSpec');
  assert.match(degraded.message, /core\.replicas must be odd/);
  assert.equal(condition(cr, 'Ready').status, 'False');
  const ev = await waitFor(() => fake.listKind('v1', 'Event', NS).find((e) => e.involvedObject.name === 'broken' && e.reason === 'InvalidSpec'), 'InvalidSpec event');
  assert.equal(ev.type, 'Warning');
  assert.match(ev.message, /odd/);
  assert.equal(get('apps/v1', 'StatefulSet', 'broken-core'), undefined, 'nothing applied for an invalid spec');
});

test('operator restart: reconciling unchanged clusters writes nothing', async () => {
  // settle first: reconcile both clusters until a round makes no write (bounded)
  for (let round = 0; ; round++) {
    await controller.drain(10_000);
    const before = fake.store.writes.length;
    controller.queue.add(`${NS}/fleet`);
    controller.queue.add(`${NS}/broken`);
    await controller.drain(10_000);
    if (fake.store.writes.length === before) break;
    assert.ok(round < 20, `still writing after 20 rounds: ${JSON.stringify(fake.store.writes.slice(before))}`);
    await sleep(100);
  }
  await controller.stop();
  const mark = fake.store.writes.length;
  controller = newController(fake, { etcdEndpoints: () => etcd.clientURLs, etcdPeerURL: (_cr, o) => peerURL(o) });
  await controller.start();
  await controller.drain(10_000);
  await sleep(300); // a progress requeue would show up here
  await controller.drain(10_000);
  const reconciles = (await controller.metrics.reconcileTotal.get()).values.reduce((a, v) => a + v.value, 0);
  assert.ok(reconciles >= 2, `the new controller reconciled both clusters (${reconciles})`);
  assert.deepEqual(fake.store.writes.slice(mark), [], 'no writes after a restart');
});

test('paused: spec changes are not applied; unpausing applies them', async () => {
  const cr = fleet();
  cr.spec.paused = true;
  cr.spec.regions[0].replicas = 6;
  fake.put(cr);
  await waitFor(() => condition(fleet(), 'Progressing')?.reason === 'Paused', 'Progressing=Paused');
  await controller.drain(5000);
  assert.equal(get('apps/v1', 'Deployment', 'fleet-eu-west-1').spec.replicas, 4);
  const cr2 = fleet();
  cr2.spec.paused = false;
  fake.put(cr2);
  await waitFor(() => get('apps/v1', 'Deployment', 'fleet-eu-west-1').spec.replicas === 6, 'replicas 6 after unpause');
});

test('deleting the MqttCluster garbage-collects everything it owned', async () => {
  const t = fake.store.registry.byKind('mqtt.petrel.dev', 'v1alpha1', 'MqttCluster')!;
  fake.store.delete(t, NS, 'fleet', { manager: 'kubectl' });
  await waitFor(() => !get('apps/v1', 'StatefulSet', 'fleet-core') && !get('v1', 'ConfigMap', 'fleet-config') && !get('apps/v1', 'Deployment', 'fleet-eu-west-1'), 'owned objects collected');
});
