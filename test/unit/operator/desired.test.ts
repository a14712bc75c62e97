import { test } from 'node:test';
import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { withDefaults, type MqttCluster } from '../../../operator/src/api/types.js';
import {
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_TLS_HASH,
  buildRegionDeployment,
  configHash,
  desiredObjects,
  initialCluster,
  InvalidSpecError,
  OWNED_KINDS,
  renderBrokerConfig,
  type DesiredObject,
  type Observed,
} from '../../../operator/src/desired/index.js';
import { cluster, SAMPLE_SPECS, validateK8s } from './helpers.js';

const lb = (ip: string) => ({ status: { loadBalancer: { ingress: [{ ip }] } } });
const find = (objs: DesiredObject[], kind: string, name: string): any => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} missing; have ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
};
const container = (podSpec: any, name: string) => podSpec.containers.find((c: any) => c.name === name);
const env = (c: any) => Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

/** Observations that give every region a load balancer and the TLS secret some data. */
function observeAll(cr: MqttCluster): Observed {
  const services: Observed['services'] = {};
  (cr.spec.regions ?? []).forEach((r, i) => (services[`${cr.metadata.name}-${r.name}`] = lb(`203.0.113.${i + 1}`)));
  const tlsName = cr.spec.tls?.secretName ?? `${cr.metadata.name}-tls`;
  return { services, secrets: { [tlsName]: { data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'a2V5' } } } };
}

for (const [name, cr] of Object.entries(SAMPLE_SPECS)) {
  test(`${name}: every desired object validates against its Kubernetes schema`, async () => {
    for (const observed of [{}, observeAll(cr)]) {
      const objs = desiredObjects(cr, observed);
      const keys = new Set<string>();
      for (const o of objs) {
        const id = `${o.kind}/${o.metadata.name}`;
        assert.deepEqual(await validateK8s(o), [], id);
        assert.ok(!keys.has(id), `duplicate ${id}`);
        keys.add(id);
        assert.ok(OWNED_KINDS.some((k) => k.kind === o.kind && k.apiVersion === o.apiVersion), `${id}: not in OWNED_KINDS`);
        assert.equal(o.metadata.namespace, 'iot');
        const l = o.metadata.labels;
        assert.equal(l['app.kubernetes.io/name'], 'petrel', id);
        assert.equal(l['app.kubernetes.io/instance'], cr.metadata.name, id);
        assert.equal(l['app.kubernetes.io/managed-by'], 'petrel-operator', id);
        assert.ok(l['app.kubernetes.io/component'], id);
        assert.deepEqual(o.metadata.ownerReferences, [
          { apiVersion: 'mqtt.petrel.dev/v1alpha1', kind: 'MqttCluster', name: cr.metadata.name, uid: cr.metadata.uid, controller: true, blockOwnerDeletion: true },
        ]);
        // No undefined anywhere: what is applied is exactly what is compared later.
        assert.deepEqual(JSON.parse(JSON.stringify(o)), o, `${id} survives JSON`);
      }
      assert.deepEqual(desiredObjects(cr, observed), objs, 'deterministic');
    }
  });
}

test('three regions: core StatefulSet with etcd members on stable names and a core broker on localhost etcd', () => {
  const cr = SAMPLE_SPECS.threeRegions!;
  const objs = desiredObjects(cr);
  const sts = find(objs, 'StatefulSet', 'three-core');
  assert.equal(sts.spec.replicas, 3);
  assert.equal(sts.spec.serviceName, 'three-core-headless');
  assert.equal(sts.spec.podManagementPolicy, 'Parallel');
  assert.deepEqual(sts.spec.persistentVolumeClaimRetentionPolicy, { whenScaled: 'Delete', whenDeleted: 'Retain' });
  assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, 'data');
  assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '10Gi');
  const pod = sts.spec.template.spec;
  assert.deepEqual(pod.containers.map((c: any) => c.name), ['etcd', 'broker']);
  const etcd = container(pod, 'etcd');
  assert.deepEqual(etcd.ports.map((p: any) => [p.name, p.containerPort]), [['etcd-client', 2379], ['etcd-peer', 2380]]);
  assert.ok(etcd.volumeMounts.some((m: any) => m.name === 'data' && m.mountPath === '/var/lib/etcd'));
  const init = pod.initContainers[0];
  assert.equal(env(init).ETCD_MEMBERS_FILE, '/etc/petrel-init/etcd-members.json');
  assert.ok(init.volumeMounts.some((m: any) => m.name === 'config' && m.mountPath === '/etc/petrel-init'));
  const members = JSON.parse(find(objs, 'ConfigMap', 'three-config').data['etcd-members.json']);
  assert.equal(members.length, 3);
  assert.deepEqual(members[2], {
    name: 'three-core-2',
    peer: 'http://three-core-2.three-core-headless.iot.svc:2380',
    client: 'http://three-core-2.three-core-headless.iot.svc:2379',
  });
  assert.equal(
    initialCluster(withDefaults(cr)),
    'three-core-0=http://three-core-0.three-core-headless.iot.svc:2380,three-core-1=http://three-core-1.three-core-headless.iot.svc:2380,three-core-2=http://three-core-2.three-core-headless.iot.svc:2380',
  );
  const broker = container(pod, 'broker');
  const e = env(broker);
  assert.equal(e.PETREL_NODE__ROLE, 'core');
  assert.equal(e.PETREL_CLUSTER__ETCD__ENDPOINTS, 'http://127.0.0.1:2379');
  assert.equal(e.PETREL_NODE__NAME, '$(POD_NAME)@$(POD_NAME).three-core-headless.iot.svc');
  assert.deepEqual(e.POD_NAME, { fieldRef: { fieldPath: 'metadata.name' } });
  assert.ok(broker.env.findIndex((x: any) => x.name === 'POD_NAME') < broker.env.findIndex((x: any) => x.name === 'PETREL_NODE__NAME'), 'defined before use');
  assert.equal(e.PETREL_NODE__REGION, undefined);
  assert.deepEqual(broker.args, ['--config', '/etc/petrel/petrel.yaml']);

  const headless = find(objs, 'Service', 'three-core-headless');
  assert.equal(headless.spec.clusterIP, 'None');
  assert.equal(headless.spec.publishNotReadyAddresses, true);
  assert.deepEqual(headless.spec.selector, sts.spec.selector.matchLabels);
  const client = find(objs, 'Service', 'three-core');
  assert.ok(client.spec.ports.some((p: any) => p.port === 2379));
  assert.equal(find(objs, 'PodDisruptionBudget', 'three-core').spec.maxUnavailable, 1);
});

test('scaling the core changes the member list in the ConfigMap, not any pod template or hash', () => {
  const at = (replicas: number) => desiredObjects(cluster('sc', { core: { replicas }, regions: [{ name: 'eu' }] }));
  const [three, five] = [at(3), at(5)];
  assert.equal(find(five, 'StatefulSet', 'sc-core').spec.replicas, 5);
  assert.deepEqual(find(five, 'StatefulSet', 'sc-core').spec.template, find(three, 'StatefulSet', 'sc-core').spec.template);
  assert.deepEqual(find(five, 'Deployment', 'sc-eu'), find(three, 'Deployment', 'sc-eu'));
  assert.equal(find(five, 'ConfigMap', 'sc-config').data['petrel.yaml'], find(three, 'ConfigMap', 'sc-config').data['petrel.yaml']);
  assert.deepEqual(JSON.parse(find(five, 'ConfigMap', 'sc-config').data['etcd-members.json']).map((m: any) => m.name), ['sc-core-0', 'sc-core-1', 'sc-core-2', 'sc-core-3', 'sc-core-4']);
});

test('three regions: a replica Deployment per region, pinned to the region, spread over zones, probed and drained', () => {
  const cr = SAMPLE_SPECS.threeRegions!;
  const objs = desiredObjects(cr);
  const hash = configHash(withDefaults(cr));
  for (const [region, replicas] of [['eu-west-1', 4], ['us-east-1', 2], ['ap-southeast-1', 2]] as const) {
    const d = find(objs, 'Deployment', `three-${region}`);
    assert.equal(d.spec.replicas, replicas);
    assert.deepEqual(d.spec.selector.matchLabels, {
      'app.kubernetes.io/name': 'petrel',
      'app.kubernetes.io/instance': 'three',
      'app.kubernetes.io/component': 'replica',
      'mqtt.petrel.dev/region': region,
    });
    const t = d.spec.template;
    assert.equal(t.metadata.annotations[ANNOTATION_CONFIG_HASH], hash);
    assert.equal(t.metadata.annotations[ANNOTATION_TLS_HASH], undefined, 'no TLS');
    assert.deepEqual(t.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, [
      { matchExpressions: [{ key: 'topology.kubernetes.io/region', operator: 'In', values: [region] }] },
    ]);
    assert.deepEqual(t.spec.topologySpreadConstraints, [
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: d.spec.selector.matchLabels } },
    ]);
    const b = container(t.spec, 'broker');
    const e = env(b);
    assert.equal(e.PETREL_NODE__ROLE, 'replica');
    assert.equal(e.PETREL_NODE__REGION, region);
    assert.equal(e.PETREL_NODE__NAME, '$(POD_NAME)@$(POD_IP)');
    assert.deepEqual(e.POD_IP, { fieldRef: { fieldPath: 'status.podIP' } });
    assert.equal(e.PETREL_CLUSTER__ETCD__ENDPOINTS, 'http://three-core.iot.svc:2379');
    const http = b.ports.find((p: any) => p.name === 'http');
    assert.equal(http.containerPort, 18083);
    assert.deepEqual(b.readinessProbe.httpGet, { path: '/status', port: 'http' });
    assert.deepEqual(b.livenessProbe.httpGet, { path: '/status', port: 'http' });
    const preStop = b.lifecycle.preStop.exec.command.join(' ');
    assert.match(preStop, /http:\/\/127\.0\.0\.1:18083\/api\/v5\/node\/drain/);
    assert.match(preStop, /method:'POST'/);
    const cfg = b.volumeMounts.find((m: any) => m.name === 'config');
    assert.deepEqual(cfg, { name: 'config', mountPath: '/etc/petrel/petrel.yaml', subPath: 'petrel.yaml', readOnly: true });
    assert.deepEqual(t.spec.volumes.find((v: any) => v.name === 'config').configMap, { name: 'three-config' });
    assert.equal(t.spec.securityContext.runAsNonRoot, true);

    const svc = find(objs, 'Service', `three-${region}`);
    assert.equal(svc.spec.type, 'LoadBalancer');
    assert.deepEqual(svc.spec.ports.map((p: any) => [p.name, p.port, p.protocol]), [['mqtt', 1883, 'TCP'], ['ws', 8083, 'TCP']]);
    assert.deepEqual(svc.spec.selector, d.spec.selector.matchLabels);
    assert.equal(find(objs, 'PodDisruptionBudget', `three-${region}`).spec.maxUnavailable, 1);
  }
  assert.ok(!objs.some((o) => o.kind === 'HorizontalPodAutoscaler'));
  assert.ok(!objs.some((o) => o.kind === 'DNSEndpoint'), 'no DNS records before the load balancers have addresses');
});

test('DNSEndpoint: region hostname plus the global name with setIdentifier and routing properties', () => {
  const cr = SAMPLE_SPECS.threeRegions!;
  const objs = desiredObjects(cr, { services: { 'three-eu-west-1': lb('203.0.113.7'), 'three-ap-southeast-1': { status: { loadBalancer: { ingress: [{ hostname: 'abc.elb.amazonaws.com' }] } } } } });
  const eu = find(objs, 'DNSEndpoint', 'three-eu-west-1');
  assert.equal(eu.apiVersion, 'externaldns.k8s.io/v1alpha1');
  assert.deepEqual(eu.spec.endpoints, [
    { dnsName: 'eu.mqtt.example.com', recordType: 'A', targets: ['203.0.113.7'], recordTTL: 60 },
    {
      dnsName: 'mqtt.example.com',
      recordType: 'A',
      targets: ['203.0.113.7'],
      recordTTL: 60,
      setIdentifier: 'eu-west-1',
      providerSpecific: [{ name: 'aws/geolocation-continent-code', value: 'EU' }],
    },
  ]);
  const ap = find(objs, 'DNSEndpoint', 'three-ap-southeast-1');
  assert.deepEqual(ap.spec.endpoints, [
    {
      dnsName: 'mqtt.example.com',
      recordType: 'CNAME',
      targets: ['abc.elb.amazonaws.com'],
      recordTTL: 60,
      setIdentifier: 'ap-southeast-1',
      providerSpecific: [{ name: 'aws/geolocation-country-code', value: 'SG' }],
    },
  ]);
  assert.ok(!objs.some((o) => o.metadata.name === 'three-us-east-1' && o.kind === 'DNSEndpoint'), 'no address yet → no DNSEndpoint');

  const latency = desiredObjects(SAMPLE_SPECS.certManager!, { services: { 'cm-eu-west-1': lb('198.51.100.1') } });
  const rec = find(latency, 'DNSEndpoint', 'cm-eu-west-1').spec.endpoints[1];
  assert.equal(rec.setIdentifier, 'eu-west-1');
  assert.deepEqual(rec.providerSpecific, [{ name: 'aws/region', value: 'eu-west-1' }]);
});

test('DNS routing None: one global record over every region; provider None: no DNSEndpoint at all', () => {
  const cr = cluster('flat', {
    regions: [{ name: 'a' }, { name: 'b' }],
    dns: { provider: 'ExternalDNS', globalHostname: 'mqtt.example.com', routing: 'None', ttl: 30 },
  });
  const objs = desiredObjects(cr, { services: { 'flat-a': lb('192.0.2.2'), 'flat-b': lb('192.0.2.1') } });
  assert.deepEqual(find(objs, 'DNSEndpoint', 'flat-global').spec.endpoints, [
    { dnsName: 'mqtt.example.com', recordType: 'A', targets: ['192.0.2.1', '192.0.2.2'], recordTTL: 30 },
  ]);
  assert.equal(objs.filter((o) => o.kind === 'DNSEndpoint').length, 1);
  const none = desiredObjects(SAMPLE_SPECS.dnsNone!, observeAll(SAMPLE_SPECS.dnsNone!));
  assert.ok(!none.some((o) => o.kind === 'DNSEndpoint'));
});

test('autoscaling: an HPA owns the replica count and the Deployment leaves replicas out', () => {
  const objs = desiredObjects(SAMPLE_SPECS.autoscaling!);
  const d = find(objs, 'Deployment', 'auto-eu-west-1');
  assert.ok(!('replicas' in d.spec));
  const hpa = find(objs, 'HorizontalPodAutoscaler', 'auto-eu-west-1');
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'auto-eu-west-1' });
  assert.equal(hpa.spec.minReplicas, 2);
  assert.equal(hpa.spec.maxReplicas, 10);
  assert.equal(hpa.spec.metrics[0].resource.target.averageUtilization, 60);
});

test('external etcd: no etcd containers; brokers use the external endpoints and client TLS', () => {
  const objs = desiredObjects(SAMPLE_SPECS.externalEtcd!);
  const pod = find(objs, 'StatefulSet', 'ext-core').spec.template.spec;
  assert.deepEqual(pod.containers.map((c: any) => c.name), ['broker']);
  assert.equal(pod.initContainers, undefined);
  for (const b of [container(pod, 'broker'), container(find(objs, 'Deployment', 'ext-eu-west-1').spec.template.spec, 'broker')]) {
    assert.equal(env(b).PETREL_CLUSTER__ETCD__ENDPOINTS, 'https://etcd-0.etcd:2379,https://etcd-1.etcd:2379');
    assert.ok(b.volumeMounts.some((m: any) => m.name === 'etcd-tls' && m.mountPath === '/etc/petrel/etcd-tls'));
  }
  assert.deepEqual(pod.volumes.find((v: any) => v.name === 'etcd-tls').secret, { secretName: 'etcd-client' });
  assert.ok(!find(objs, 'Service', 'ext-core-headless').spec.ports.some((p: any) => p.port === 2379 || p.port === 2380));
  const cfg = yaml.load(find(objs, 'ConfigMap', 'ext-config').data['petrel.yaml']) as any;
  assert.deepEqual(cfg.cluster.etcd.ssl_options, { cacertfile: '/etc/petrel/etcd-tls/ca.crt', certfile: '/etc/petrel/etcd-tls/tls.crt', keyfile: '/etc/petrel/etcd-tls/tls.key' });
});

test('TLS from a Secret: mounted, listeners get ssl_options, the Secret data hash rolls the pods', () => {
  const cr = SAMPLE_SPECS.tlsSecret!;
  const objs = desiredObjects(cr);
  const d = find(objs, 'Deployment', 'tls-eu-west-1');
  assert.deepEqual(d.spec.template.spec.volumes.find((v: any) => v.name === 'tls').secret, { secretName: 'iot-tls' });
  assert.equal(d.spec.template.metadata.annotations[ANNOTATION_TLS_HASH], undefined, 'not observed yet');
  const h1 = find(desiredObjects(cr, { secrets: { 'iot-tls': { data: { 'tls.crt': 'QQ==' } } } }), 'Deployment', 'tls-eu-west-1');
  const h2 = find(desiredObjects(cr, { secrets: { 'iot-tls': { data: { 'tls.crt': 'Qg==' } } } }), 'Deployment', 'tls-eu-west-1');
  const a1 = h1.spec.template.metadata.annotations[ANNOTATION_TLS_HASH];
  assert.match(a1, /^[0-9a-f]{16}$/);
  assert.notEqual(a1, h2.spec.template.metadata.annotations[ANNOTATION_TLS_HASH]);
  const cfg = yaml.load(find(objs, 'ConfigMap', 'tls-config').data['petrel.yaml']) as any;
  assert.deepEqual(Object.keys(cfg.listeners).sort(), ['ssl', 'tcp', 'ws', 'wss']);
  assert.deepEqual(cfg.listeners.ws, { default: null }, "the broker's default ws listener is removed");
  assert.equal(cfg.listeners.ssl.mqtts.bind, '0.0.0.0:8883');
  assert.equal(cfg.listeners.ssl.mqtts.ssl_options.certfile, '/etc/petrel/tls/tls.crt');
  assert.deepEqual(cfg.listeners.wss.wss.websocket, { mqtt_path: '/mqtt' });
  const svc = find(objs, 'Service', 'tls-eu-west-1');
  assert.equal(svc.spec.type, 'NodePort');
  assert.equal(svc.spec.externalTrafficPolicy, 'Local');
  assert.deepEqual(svc.spec.ports.map((p: any) => [p.name, p.port, p.protocol]), [
    ['mqtt', 1883, 'TCP'], ['mqtts', 8883, 'TCP'], ['wss', 8084, 'TCP'],
  ]);
  assert.ok(!JSON.stringify(objs).includes('1884'), 'disabled listener appears nowhere');
});

test('TLS via cert-manager: a Certificate for every client-facing name, its Secret mounted', () => {
  const objs = desiredObjects(SAMPLE_SPECS.certManager!);
  const cert = find(objs, 'Certificate', 'cm-tls');
  assert.equal(cert.spec.secretName, 'cm-tls');
  assert.deepEqual(cert.spec.issuerRef, { name: 'letsencrypt', kind: 'ClusterIssuer', group: 'cert-manager.io' });
  for (const n of ['mqtt.example.com', 'eu.mqtt.example.com', 'extra.example.com', 'cm-eu-west-1.iot.svc', 'cm-core.iot.svc']) {
    assert.ok(cert.spec.dnsNames.includes(n), n);
  }
  const pod = find(objs, 'Deployment', 'cm-eu-west-1').spec.template.spec;
  assert.deepEqual(pod.volumes.find((v: any) => v.name === 'tls').secret, { secretName: 'cm-tls' });
  assert.ok(objs.findIndex((o) => o.kind === 'Certificate') < objs.findIndex((o) => o.kind === 'StatefulSet'), 'certificate applied before pods');
});

test('config: user data merged under the operator-owned keys; the hash follows the file only', () => {
  const cr = withDefaults(SAMPLE_SPECS.overrides!);
  const cfg = yaml.load(renderBrokerConfig(cr)) as any;
  assert.equal(cfg.mqtt.max_packet_size, '1MB', 'user key kept');
  assert.equal(cfg.log.level, 'debug', 'user section kept');
  assert.equal(cfg.node.data_dir, '/var/lib/petrel', 'operator key wins over the user value');
  assert.equal(cfg.listeners.tcp.evil, undefined, 'user listeners dropped');
  assert.deepEqual(cfg.listeners, {
    tcp: { default: null, mqtt: { enable: true, bind: '0.0.0.0:1883' } },
    ssl: { default: null },
    ws: { default: null, ws: { enable: true, bind: '0.0.0.0:8083', websocket: { mqtt_path: '/mqtt' } } },
    wss: { default: null },
  });
  assert.deepEqual(cfg.dashboard.listeners.http, { enable: true, bind: '0.0.0.0:18083' });
  assert.equal(cfg.cluster.etcd.prefix, '/petrel/iot/ovr');

  const linked = yaml.load(renderBrokerConfig(withDefaults(cluster('m', { config: { data: 'cluster: {link: {batch: 10, bind: "0.0.0.0:1"}}' } })))) as any;
  assert.deepEqual(linked.cluster.link, { batch: 10, bind: '0.0.0.0:5370' }, 'user keys kept inside owned sections, owned keys win');

  const base = cluster('h', { config: { data: 'mqtt: {max_qos_allowed: 2}' }, regions: [{ name: 'eu' }] });
  const h0 = configHash(withDefaults(base));
  assert.equal(configHash(withDefaults({ ...base, spec: { ...base.spec, regions: [{ name: 'eu', replicas: 7 }] } })), h0, 'scaling does not roll');
  assert.notEqual(configHash(withDefaults({ ...base, spec: { ...base.spec, config: { data: 'mqtt: {max_qos_allowed: 1}' } } })), h0);
  assert.equal(configHash(withDefaults({ ...base, spec: { ...base.spec, config: { data: 'mqtt:\n  max_qos_allowed: 2\n' } } })), h0, 'same YAML, other formatting');
  const d0 = find(desiredObjects(base), 'Deployment', 'h-eu');
  assert.equal(d0.spec.template.metadata.annotations[ANNOTATION_CONFIG_HASH], h0);
});

test('podTemplate overrides and placement: merged by name, operator labels and selectors kept', () => {
  const objs = desiredObjects(SAMPLE_SPECS.overrides!);
  const sts = find(objs, 'StatefulSet', 'ovr-core');
  assert.equal(sts.spec.replicas, 5);
  assert.equal(sts.spec.volumeClaimTemplates[0].spec.storageClassName, 'fast');
  assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '50Gi');
  const t = sts.spec.template;
  assert.equal(t.metadata.labels.team, 'iot');
  assert.equal(t.metadata.labels['app.kubernetes.io/instance'], 'ovr');
  const b = container(t.spec, 'broker');
  assert.equal(env(b).EXTRA, '1', 'override env added');
  assert.equal(env(b).PETREL_NODE__ROLE, 'core', 'operator env kept');
  assert.equal(b.imagePullPolicy, 'Always');
  assert.deepEqual(b.resources, { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } });
  assert.deepEqual(t.spec.nodeSelector, { pool: 'core' });
  assert.equal(t.spec.tolerations[0].key, 'dedicated');
  assert.deepEqual(t.spec.imagePullSecrets, [{ name: 'regcred' }]);
  assert.equal(JSON.parse(find(objs, 'ConfigMap', 'ovr-config').data['etcd-members.json']).length, 5);
  const d = find(objs, 'Deployment', 'ovr-eu-west-1');
  assert.deepEqual(d.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions, [
    { key: 'pool', operator: 'In', values: ['edge'] },
  ]);
  assert.equal(d.spec.template.spec.topologySpreadConstraints, undefined, 'zone spread disabled');
  assert.equal(find(objs, 'PodDisruptionBudget', 'ovr-eu-west-1').spec.maxUnavailable, 2);

  const hijack = cluster('hj', { regions: [{ name: 'eu', podTemplate: { metadata: { labels: { 'app.kubernetes.io/instance': 'other' } } } }] });
  const hd = find(desiredObjects(hijack), 'Deployment', 'hj-eu');
  assert.equal(hd.spec.template.metadata.labels['app.kubernetes.io/instance'], 'hj', 'selector labels cannot be overridden');
});

test('drift: labels and settings from an earlier spec do not survive into the desired objects', () => {
  const before = cluster('dr', { regions: [{ name: 'eu', podTemplate: { metadata: { labels: { stale: 'yes' }, annotations: { old: '1' } } }, nodeSelector: { old: 'x' } }] });
  const after = cluster('dr', { regions: [{ name: 'eu' }] });
  const was = find(desiredObjects(before), 'Deployment', 'dr-eu');
  assert.equal(was.spec.template.metadata.labels.stale, 'yes');
  const now = find(desiredObjects(after), 'Deployment', 'dr-eu');
  assert.equal(now.spec.template.metadata.labels.stale, undefined);
  assert.equal(now.spec.template.metadata.annotations.old, undefined);
  assert.ok(!JSON.stringify(now).includes('"old"'));
  // A builder never reads the live object: a stale label on it cannot leak into the desired one.
  const live = structuredClone(now);
  live.metadata.labels.stale = 'yes';
  const rebuilt = buildRegionDeployment(withDefaults(after), withDefaults(after).spec.regions[0]!, { [ANNOTATION_CONFIG_HASH]: configHash(withDefaults(after)) });
  assert.equal((rebuilt.metadata!.labels as Record<string, string>).stale, undefined);
  assert.deepEqual(rebuilt, now);
});

test('removing a region removes its objects from the desired set', () => {
  const three = desiredObjects(SAMPLE_SPECS.threeRegions!).map((o) => `${o.kind}/${o.metadata.name}`);
  const spec = structuredClone(SAMPLE_SPECS.threeRegions!);
  spec.spec.regions = spec.spec.regions!.filter((r) => r.name !== 'us-east-1');
  const two = desiredObjects(spec).map((o) => `${o.kind}/${o.metadata.name}`);
  assert.deepEqual(three.filter((k) => !two.includes(k)), ['Service/three-us-east-1', 'Service/three-us-east-1-api', 'Deployment/three-us-east-1', 'PodDisruptionBudget/three-us-east-1']);
});

test('apply order: API key Secret, config, core, then per region Services before Deployment', () => {
  const kinds = desiredObjects(SAMPLE_SPECS.oneRegion!, { apiKey: { key: 'petrel-operator', secret: 's' } }).map((o) => `${o.kind}/${o.metadata.name}`);
  assert.deepEqual(kinds, [
    'Secret/one-operator-api-key',
    'ConfigMap/one-config',
    'Service/one-core-headless',
    'Service/one-core',
    'PodDisruptionBudget/one-core',
    'StatefulSet/one-core',
    'Service/one-eu-west-1',
    'Service/one-eu-west-1-api',
    'Deployment/one-eu-west-1',
    'PodDisruptionBudget/one-eu-west-1',
  ]);
});

test('invalid specs throw InvalidSpecError with every message; no uid → no ownerReferences', () => {
  assert.throws(
    () => desiredObjects(cluster('bad', { core: { replicas: 2 }, regions: [{ name: 'Bad' }] })),
    (e: unknown) => e instanceof InvalidSpecError && e.errors.length === 2 && /core\.replicas must be odd/.test(e.message),
  );
  const objs = desiredObjects(cluster('nouid', {}, { uid: undefined }));
  assert.ok(objs.every((o) => o.metadata.ownerReferences === undefined));
});

test('the Kubernetes schema check is able to fail', async () => {
  const d = structuredClone(find(desiredObjects(SAMPLE_SPECS.oneRegion!), 'Deployment', 'one-eu-west-1'));
  d.spec.template.spec.containers[0].ports[0].containerPort = '1883';
  assert.ok((await validateK8s(d)).some((e) => e.includes('containerPort')));
  const dns = { apiVersion: 'externaldns.k8s.io/v1alpha1', kind: 'DNSEndpoint', metadata: { name: 'x' }, spec: { endpoints: [{ dnsName: 'a.b', recordType: 'A', target: ['1.2.3.4'] }] } };
  assert.ok((await validateK8s(dns)).some((e) => e.includes('unknown field')));
});
