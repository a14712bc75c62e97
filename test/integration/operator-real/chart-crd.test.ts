/**
 * The Helm chart on a REAL kube-apiserver (v1.37, built by scripts/k8s-bins.sh): the real helm
 * installs it, the CRD is served, and the API server itself — not the operator's validate() — refuses
 * invalid MqttClusters with the CRD's CEL messages, prunes unknown fields and fills in defaults.
 * Each x-kubernetes-validations rule of the chart's CRD has a case here; a rule added without one
 * fails the coverage test.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { startKubeControlPlane, type KubeControlPlane } from '../../support/kube-control-plane.js';
import { MQC_PATH, RELEASE, RELEASE_NS, installChart, must, repoRoot, waitFor } from './harness.js';

let cp: KubeControlPlane;

before(async () => {
  cp = await startKubeControlPlane({ regions: { 'eu-west-1': ['eu-west-1a'] } });
  console.log(`# control plane ready in ${cp.startupMs} ms`);
  await installChart(cp);
});

after(async () => {
  await cp?.stop();
});

const CRD_NAME = 'mqttclusters.mqtt.petrel.dev';

function base(name = 'cel'): any {
  return {
    apiVersion: 'mqtt.petrel.dev/v1alpha1', kind: 'MqttCluster',
    metadata: { name, namespace: 'default' },
    spec: {
      regions: [{ name: 'eu-west-1' }],
      listeners: [{ name: 'mqtt', protocol: 'mqtt', port: 1883 }],
    },
  };
}

/** One invalid MqttCluster per CEL rule: the rule's message (its start) and, where the rule names one, the field. */
const CASES: Array<{ message: string; field?: string; name?: string; mutate?: (spec: any) => void }> = [
  { message: 'metadata.name must be at most 40 characters', name: 'a'.repeat(41) },
  { message: 'metadata.name must start with a letter', name: '9lives' },
  { message: 'metadata.name and each region name together must be at most 58', name: 'a'.repeat(40), mutate: (s) => { s.regions[0].name = 'r'.repeat(19); } },
  { message: 'a listener with tls: true needs spec.tls', mutate: (s) => { s.listeners[0].tls = true; } },
  {
    message: 'dns.routing Latency or Geolocation needs dns.globalHostname',
    mutate: (s) => { s.dns = { provider: 'ExternalDNS', routing: 'Latency' }; s.regions[0].dns = { hostname: 'eu.mqtt.example.com' }; },
  },
  { message: 'dns.provider ExternalDNS needs dns.globalHostname or a regions[].dns.hostname', mutate: (s) => { s.dns = { provider: 'ExternalDNS', routing: 'None' }; } },
  { message: 'dns.routing Geolocation needs dns.geo on every region', mutate: (s) => { s.dns = { provider: 'ExternalDNS', routing: 'Geolocation', globalHostname: 'mqtt.example.com' }; } },
  { message: 'core.replicas must be odd', field: 'spec.core.replicas', mutate: (s) => { s.core = { replicas: 2 }; } },
  { message: 'etcd: set either managed or external, not both', mutate: (s) => { s.etcd = { managed: {}, external: { endpoints: ['http://etcd.example:2379'] } }; } },
  { message: 'region names must be unique', mutate: (s) => { s.regions.push({ name: 'eu-west-1' }); } },
  { message: 'a region must not be named like another region plus -api', mutate: (s) => { s.regions.push({ name: 'eu-west-1-api' }); } },
  { message: 'region name must be a DNS-1123 label', field: 'spec.regions[0].name', mutate: (s) => { s.regions[0].name = 'EU_West'; } },
  { message: 'region name must not be one of core, core-headless, config, tls', field: 'spec.regions[0].name', mutate: (s) => { s.regions[0].name = 'core'; } },
  { message: 'set either replicas or autoscaling, not both', mutate: (s) => { Object.assign(s.regions[0], { replicas: 2, autoscaling: { maxReplicas: 4 } }); } },
  { message: 'autoscaling.minReplicas must not exceed maxReplicas', mutate: (s) => { s.regions[0].autoscaling = { minReplicas: 5, maxReplicas: 4 }; } },
  { message: 'dns.geo: set exactly one of continent or country', mutate: (s) => { s.regions[0].dns = { geo: { continent: 'EU', country: 'DE' } }; } },
  { message: 'listener names must be unique', mutate: (s) => { s.listeners.push({ name: 'mqtt', protocol: 'mqtt', port: 1884 }); } },
  { message: 'listener ports must be unique', mutate: (s) => { s.listeners.push({ name: 'mqtt2', protocol: 'mqtt', port: 1883 }); } },
  { message: 'listener port must not be one of 2379, 2380, 5370, 18083', field: 'spec.listeners[0].port', mutate: (s) => { s.listeners[0].port = 18083; } },
  { message: 'listener name must not be one of http, cluster, etcd-client, etcd-peer', field: 'spec.listeners[0].name', mutate: (s) => { s.listeners[0].name = 'http'; } },
  { message: 'tls: set exactly one of secretName or certManager', mutate: (s) => { s.tls = { secretName: 'x', certManager: { issuerRef: { name: 'letsencrypt' } } }; } },
  { message: 'secret names must be unique', mutate: (s) => { s.access = { secrets: [{ name: 'creds' }, { name: 'creds' }] }; } },
];

function crdRuleMessages(): string[] {
  const crd = yaml.load(readFileSync(path.join(repoRoot(), 'charts', 'petrel-operator', 'crds', `mqtt.petrel.dev_mqttclusters.yaml`), 'utf8')) as any;
  const out: string[] = [];
  const walk = (n: any): void => {
    if (!n || typeof n !== 'object') return;
    for (const v of n['x-kubernetes-validations'] ?? []) out.push(v.message);
    for (const p of Object.values(n.properties ?? {})) walk(p);
    walk(n.items);
  };
  walk(crd.spec.versions[0].schema.openAPIV3Schema);
  return out;
}

test('helm installs the chart: the CRD is Established and served with short name mqc, the RBAC objects exist', async () => {
  await waitFor(async () => {
    const crd = await must(cp, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`);
    return crd.status?.conditions?.some((c: any) => c.type === 'Established' && c.status === 'True');
  }, 'the CRD Established', 30_000);
  const resources = await must(cp, 'GET', MQC_PATH);
  const mqc = resources.resources.find((r: any) => r.name === 'mqttclusters');
  assert.deepEqual(mqc.shortNames, ['mqc']);
  assert.equal(mqc.namespaced, true);
  assert.ok(resources.resources.some((r: any) => r.name === 'mqttclusters/status'), 'status subresource');
  await must(cp, 'GET', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${RELEASE}`);
  await must(cp, 'GET', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${RELEASE}`);
  await must(cp, 'GET', `/apis/rbac.authorization.k8s.io/v1/namespaces/${RELEASE_NS}/roles/${RELEASE}-leader-election`);
  await must(cp, 'GET', `/api/v1/namespaces/${RELEASE_NS}/serviceaccounts/${RELEASE}`);
  const version = await must(cp, 'GET', '/version');
  assert.equal(version.gitVersion, 'v1.37.2', 'the built binaries report their version');
  const kv = await cp.kubectl(['version', '-o', 'json']);
  assert.equal(kv.code, 0, kv.err);
  assert.equal(JSON.parse(kv.out).clientVersion.gitVersion, 'v1.37.2');
});

test('every CEL rule in the chart\'s CRD has a case below', () => {
  const messages = crdRuleMessages();
  assert.equal(messages.length, CASES.length, `the CRD has ${messages.length} rules, the table ${CASES.length} cases`);
  for (const m of messages) assert.equal(CASES.filter((c) => m.startsWith(c.message)).length, 1, `exactly one case for the rule "${m}"`);
});

test('the API server accepts the minimal valid MqttCluster (dry run)', async () => {
  const r = await cp.request('POST', `${MQC_PATH}/namespaces/default/mqttclusters?dryRun=All`, base());
  assert.equal(r.status, 201, JSON.stringify(r.body));
});

for (const c of CASES) {
  test(`the API server refuses: ${c.message}`, async () => {
    const obj = base(c.name);
    c.mutate?.(obj.spec);
    const r = await cp.request('POST', `${MQC_PATH}/namespaces/default/mqttclusters?dryRun=All`, obj);
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.equal(r.body.reason, 'Invalid');
    assert.ok(r.body.message.includes(c.message), `message names the rule:\n${r.body.message}`);
    if (c.field) {
      const causes = r.body.details?.causes ?? [];
      assert.ok(causes.some((x: any) => x.field === c.field && x.message.includes(c.message)), `a cause on ${c.field}: ${JSON.stringify(causes)}`);
    }
  });
}

test('unknown fields: refused under fieldValidation=Strict, pruned when ignored; defaults are applied and stored', async () => {
  const obj = base('pruned');
  obj.spec.bogus = 1;
  obj.spec.regions[0].madeUp = true;
  const strict = await cp.request('POST', `${MQC_PATH}/namespaces/default/mqttclusters?fieldValidation=Strict`, obj);
  assert.equal(strict.status, 400, JSON.stringify(strict.body));
  assert.equal(strict.body.reason, 'BadRequest');
  assert.match(strict.body.message, /unknown field "spec\.bogus"/);
  assert.match(strict.body.message, /unknown field "spec\.regions\[0\]\.madeUp"/);

  const created = await cp.request('POST', `${MQC_PATH}/namespaces/default/mqttclusters?fieldValidation=Ignore`, obj);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const stored = await must(cp, 'GET', `${MQC_PATH}/namespaces/default/mqttclusters/pruned`);
  assert.equal(stored.spec.bogus, undefined, 'pruned');
  assert.equal(stored.spec.regions[0].madeUp, undefined, 'pruned inside a list item');
  assert.equal(stored.spec.image, 'petrel/broker:0.1.0');
  assert.equal(stored.spec.core.replicas, 3);
  assert.equal(stored.spec.core.storage.size, '10Gi');
  assert.equal(stored.spec.regions[0].replicas, undefined, 'no schema default (the operator picks 2)');
  assert.equal(stored.spec.regions[0].maxUnavailable, 1);
  assert.equal(stored.spec.regions[0].service.type, 'LoadBalancer');
  assert.equal(stored.spec.dns.provider, 'None');
  assert.equal(stored.spec.paused, false);
  assert.equal(stored.metadata.generation, 1);
  await must(cp, 'DELETE', `${MQC_PATH}/namespaces/default/mqttclusters/pruned`);
});

test('an update that breaks a rule is refused too (CEL runs on update, not only on create)', async () => {
  await must(cp, 'POST', `${MQC_PATH}/namespaces/default/mqttclusters`, base('upd'));
  const r = await cp.request('PATCH', `${MQC_PATH}/namespaces/default/mqttclusters/upd`, { spec: { core: { replicas: 4 } } }, 'application/merge-patch+json');
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.match(r.body.message, /core\.replicas must be odd/);
  const stored = await must(cp, 'GET', `${MQC_PATH}/namespaces/default/mqttclusters/upd`);
  assert.equal(stored.spec.core.replicas, 3, 'the stored object is unchanged');
});

test('kubectl 1.37 shows the CRD\'s printer columns for a cluster no operator has reconciled (empty status)', async () => {
  const r = await cp.kubectl(['get', 'mqc', 'upd', '-n', 'default']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out.split('\n')[0], /^NAME\s+CORES\s+REGIONS\s+READY\s+AGE\s*$/);
  assert.match(r.out.split('\n')[1], /^upd\s+\d+s\s*$/, 'no status yet: only name and age');
});
