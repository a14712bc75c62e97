import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { buildCrd, renderCrdYaml, CRD_FILE, CHART_CRD_FILE } from '../../../operator/src/api/crd.js';
import { main as genCrd } from '../../../operator/src/api/gen-crd.js';
import { validate, withDefaults } from '../../../operator/src/api/types.js';
import { checkOpenAPI, repoRoot, SAMPLE_SPECS } from './helpers.js';

const root = repoRoot();
const crd = buildCrd() as any;
const version = crd.spec.versions[0];
const schema = version.schema.openAPIV3Schema;

test('crds/ holds the CRD generated from the TypeScript types (regenerate: node dist/operator/src/api/gen-crd.js)', () => {
  assert.equal(readFileSync(join(root, CRD_FILE), 'utf8'), renderCrdYaml(), `${CRD_FILE} is stale`);
  assert.equal(genCrd(['--check']), 0);
});

test("the Helm chart's crds/ equals crds/", () => {
  const top = readdirSync(join(root, 'crds')).sort();
  const chart = readdirSync(join(root, 'charts/petrel-operator/crds')).sort();
  assert.deepEqual(chart, top);
  for (const f of top) {
    assert.equal(readFileSync(join(root, 'charts/petrel-operator/crds', f), 'utf8'), readFileSync(join(root, 'crds', f), 'utf8'), f);
  }
  assert.equal(readFileSync(join(root, CHART_CRD_FILE), 'utf8'), renderCrdYaml());
});

test('the CRD is a valid apiextensions.k8s.io/v1 CustomResourceDefinition', () => {
  new CustomResourceDefinition(yaml.load(renderCrdYaml()) as any).validate();
  assert.equal(crd.metadata.name, 'mqttclusters.mqtt.petrel.dev');
  assert.deepEqual(crd.spec.names.shortNames, ['mqc']);
  assert.equal(crd.spec.names.kind, 'MqttCluster');
  assert.equal(crd.spec.scope, 'Namespaced');
  assert.equal(version.name, 'v1alpha1');
  assert.deepEqual(version.subresources, { status: {} });
  const cols = version.additionalPrinterColumns.filter((c: any) => !c.priority).map((c: any) => c.name);
  assert.deepEqual(cols, ['Cores', 'Regions', 'Ready', 'Age']);
});

/** Walks every schema node with its path. */
function walk(node: any, path: string, visit: (n: any, p: string) => void) {
  visit(node, path);
  for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${path}.${k}`, visit);
  if (node.items) walk(node.items, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`, visit);
}

test('the schema is structural, described, and its defaults are valid', () => {
  walk(schema.properties.spec, 'spec', (n, p) => {
    assert.ok(n.type || n['x-kubernetes-int-or-string'] || n['x-kubernetes-preserve-unknown-fields'], `${p} has no type`);
    assert.ok(typeof n.description === 'string' && n.description.length > 2, `${p} has no description`);
    if (n.default !== undefined) assert.deepEqual(checkOpenAPI(n, n.default, p), [], `${p} default`);
    if (n['x-kubernetes-list-type'] === 'map') {
      for (const k of n['x-kubernetes-list-map-keys']) assert.ok(n.items.required?.includes(k), `${p}: list-map key ${k} must be required`);
    }
    for (const v of n['x-kubernetes-validations'] ?? []) assert.ok(v.rule && v.message, `${p}: rule without message`);
    if (n.type === 'string' && p.includes('[]')) assert.ok(n.maxLength || n.enum, `${p}: strings in lists need maxLength (CEL cost)`);
    if (n.type === 'array' && !n.items?.['x-kubernetes-preserve-unknown-fields']) assert.ok(n.maxItems, `${p}: arrays need maxItems (CEL cost)`);
  });
});

test('the CEL rules the issue asks for are in the CRD', () => {
  const rules: string[] = [];
  walk(schema, '', (n) => rules.push(...(n['x-kubernetes-validations'] ?? []).map((v: any) => v.rule)));
  const spec = schema.properties.spec.properties;
  assert.ok(spec.core.properties.replicas.minimum === 1);
  assert.ok(rules.includes('self.replicas % 2 == 1'));
  assert.ok(rules.includes('self.all(a, self.exists_one(b, b.name == a.name))'));
  assert.ok(rules.includes('self.all(a, self.exists_one(b, b.port == a.port))'));
  assert.ok(rules.some((r) => r.startsWith("self.name.matches('^[a-z0-9]")));
  assert.ok(rules.includes("(has(self.secretName) ? 1 : 0) + (has(self.certManager) ? 1 : 0) == 1"));
  assert.equal(spec.regions['x-kubernetes-list-type'], 'map');
  assert.deepEqual(spec.regions['x-kubernetes-list-map-keys'], ['name']);
  assert.equal(spec.listeners['x-kubernetes-list-type'], 'map');
  assert.deepEqual(spec.listeners['x-kubernetes-list-map-keys'], ['name']);
});

test('examples/ and the sample specs pass the generated OpenAPI schema and validate()', () => {
  const docs: [string, unknown][] = [];
  for (const f of readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml'))) {
    for (const d of yaml.loadAll(readFileSync(join(root, 'examples', f), 'utf8'))) docs.push([f, d]);
  }
  assert.ok(docs.length >= 2);
  for (const [name, d] of [...docs, ...Object.entries(SAMPLE_SPECS)]) {
    assert.deepEqual(checkOpenAPI(schema, d), [], `${name} against the CRD schema`);
    assert.deepEqual(validate(d), [], `${name} validate()`);
    // What the API server stores after defaulting also fits the schema.
    const defaulted = withDefaults(d as any);
    assert.deepEqual(checkOpenAPI(schema.properties.spec, defaulted.spec, 'spec'), [], `${name} defaulted`);
  }
});

test('the strict schema check rejects unknown fields and wrong types', () => {
  const bad = { ...SAMPLE_SPECS.minimal!, spec: { core: { replicas: 'three', colour: 'red' } } };
  const errs = checkOpenAPI(schema, bad);
  assert.ok(errs.includes('spec.core.replicas: must be an integer'), errs.join());
  assert.ok(errs.includes('spec.core.colour: unknown field'), errs.join());
});
