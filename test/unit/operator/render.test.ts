import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import yaml from 'js-yaml';
import { renderCommand, type RenderIO } from '../../../operator/src/render.js';
import { repoRoot, validateK8s } from './helpers.js';

async function run(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: RenderIO = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, readStdin: async () => stdin };
  const code = await renderCommand(argv, io);
  return { code, out, err };
}

const root = repoRoot();
const tmp = mkdtempSync(join(os.tmpdir(), 'petrel-render-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('render examples/three-regions.yaml: valid multi-document YAML of every owned object', async () => {
  const r = await run(['render', '-f', join(root, 'examples/three-regions.yaml')]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  const docs = yaml.loadAll(r.out) as any[];
  const ids = docs.map((d) => `${d.kind}/${d.metadata.name}`);
  assert.deepEqual(ids.filter((i) => i.startsWith('Deployment/')), ['Deployment/fleet-eu-west-1', 'Deployment/fleet-us-east-1', 'Deployment/fleet-ap-southeast-1']);
  assert.ok(ids.includes('StatefulSet/fleet-core'));
  assert.ok(ids.includes('Certificate/fleet-tls'));
  assert.ok(ids.includes('HorizontalPodAutoscaler/fleet-us-east-1'));
  assert.equal(ids.filter((i) => i.startsWith('DNSEndpoint/')).length, 0, 'no addresses given → no DNS records');
  for (const d of docs) {
    assert.deepEqual(await validateK8s(d), [], `${d.kind}/${d.metadata.name}`);
    assert.equal(d.metadata.namespace, 'iot');
    assert.equal(d.metadata.ownerReferences, undefined);
  }
  assert.match(r.out, /^# MqttCluster iot\/fleet: \d+ objects/);
});

test('render --lb gives DNSEndpoint records; -n sets the namespace; - reads stdin', async () => {
  const text = 'apiVersion: mqtt.petrel.dev/v1alpha1\nkind: MqttCluster\nmetadata: {name: s}\nspec:\n  regions: [{name: eu, dns: {hostname: eu.example.com}}]\n  dns: {provider: ExternalDNS, routing: None}\n';
  const r = await run(['-f', '-', '-n', 'prod', '--lb', 'eu=198.51.100.4', '--lb=eu=lb.example.net'], text);
  assert.equal(r.code, 0, r.err);
  const docs = yaml.loadAll(r.out) as any[];
  const dns = docs.find((d) => d.kind === 'DNSEndpoint');
  assert.deepEqual(dns.spec.endpoints, [{ dnsName: 'eu.example.com', recordType: 'A', targets: ['198.51.100.4'], recordTTL: 60 }]);
  assert.ok(docs.every((d) => d.metadata.namespace === 'prod'));
});

test('render: an invalid spec exits 2 and names every problem with its field path', async () => {
  const f = join(tmp, 'bad.yaml');
  writeFileSync(f, 'apiVersion: mqtt.petrel.dev/v1alpha1\nkind: MqttCluster\nmetadata: {name: bad}\nspec:\n  core: {replicas: 2}\n  regions: [{name: EU}]\n  listenrs: []\n');
  const r = await run(['render', '-f', f]);
  assert.equal(r.code, 2);
  assert.equal(r.out, '', 'nothing printed for an invalid spec');
  assert.match(r.err, /invalid MqttCluster/);
  assert.match(r.err, /spec\.core\.replicas: core\.replicas must be odd/);
  assert.match(r.err, /spec\.regions\[0\]\.name: region name must be a DNS-1123 label/);
  assert.match(r.err, /spec\.listenrs: unknown field "listenrs"/);
});

test('render: usage and file errors', async () => {
  assert.equal((await run(['render'])).code, 2);
  assert.match((await run(['render'])).err, /missing -f FILE/);
  assert.equal((await run(['render', '-f', f('nope.yaml')])).code, 1);
  assert.equal((await run(['render', '--bogus'])).code, 2);
  const kind = join(tmp, 'cm.yaml');
  writeFileSync(kind, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
  const r = await run(['render', '-f', kind]);
  assert.equal(r.code, 2);
  assert.match(r.err, /expected apiVersion mqtt\.petrel\.dev\/v1alpha1 kind MqttCluster/);
  const broken = join(tmp, 'broken.yaml');
  writeFileSync(broken, 'spec: [');
  assert.match((await run(['render', '-f', broken])).err, /not valid YAML/);
  assert.match((await run(['render', '-f', join(root, 'examples/single-region.yaml'), '--lb', 'mars=1.2.3.4'])).err, /--lb mars: no such region/);
  assert.equal((await run(['render', '--help'])).code, 0);
  function f(n: string) {
    return join(tmp, n);
  }
});
