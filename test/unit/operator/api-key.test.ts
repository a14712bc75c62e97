/**
 * The operator's API key in the desired objects: the Secret, its mount in every broker pod, the
 * rendered config's api_key.bootstrap_file, the region API Services, the pod-template hash, the
 * read-back (never regenerated) and the refusal of a user bootstrap_file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { validate } from '../../../operator/src/api/types.js';
import {
  ANNOTATION_API_KEY_HASH,
  API_KEYS_PATH,
  apiKeyHash,
  buildApiKeySecret,
  desiredObjects,
  generateApiKey,
  parseApiKeySecret,
  resolve,
} from '../../../operator/src/desired/index.js';
import { cluster, SAMPLE_SPECS, validateK8s } from './helpers.js';

const KEY = { key: 'petrel-operator', secret: 'c2VjcmV0LXZhbHVl' };

test('Secret <name>-operator-api-key: a bootstrap file with the operator key, owned like every object', async () => {
  const objs = desiredObjects(SAMPLE_SPECS.threeRegions!, { apiKey: KEY }) as any[];
  const secret = objs.find((o) => o.kind === 'Secret');
  assert.equal(secret.metadata.name, 'three-operator-api-key');
  assert.equal(secret.type, 'Opaque');
  assert.equal(secret.metadata.labels['app.kubernetes.io/managed-by'], 'petrel-operator');
  assert.equal(Buffer.from(secret.data['api-keys'], 'base64').toString(), 'petrel-operator:c2VjcmV0LXZhbHVl\n');
  assert.ok(secret.metadata.ownerReferences?.[0]?.controller, 'owned by the MqttCluster (garbage-collected with it)');
  assert.deepEqual(await validateK8s(secret), []);
  assert.equal(objs[0], secret, 'applied first: the pods mount it');
});

test('every broker container mounts the Secret read-only at /etc/petrel/operator-api-key; the config points at the file', () => {
  const objs = desiredObjects(SAMPLE_SPECS.threeRegions!, { apiKey: KEY }) as any[];
  const workloads = objs.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
  assert.equal(workloads.length, 4, 'core + three regions');
  for (const w of workloads) {
    const spec = w.spec.template.spec;
    const vol = spec.volumes.find((v: any) => v.name === 'operator-api-key');
    assert.deepEqual(vol, { name: 'operator-api-key', secret: { secretName: 'three-operator-api-key', defaultMode: 0o440 } }, w.metadata.name);
    const broker = spec.containers.find((c: any) => c.name === 'broker');
    assert.deepEqual(broker.volumeMounts.find((m: any) => m.name === 'operator-api-key'), { name: 'operator-api-key', mountPath: '/etc/petrel/operator-api-key', readOnly: true });
    assert.equal(spec.containers.filter((c: any) => c.name !== 'broker').some((c: any) => c.volumeMounts?.some((m: any) => m.name === 'operator-api-key')), false, 'etcd does not get it');
    assert.equal(w.spec.template.metadata.annotations[ANNOTATION_API_KEY_HASH], apiKeyHash(KEY));
  }
  const config = yaml.load(objs.find((o) => o.kind === 'ConfigMap').data['petrel.yaml']) as any;
  assert.deepEqual(config.api_key, { bootstrap_file: API_KEYS_PATH });
  assert.equal(API_KEYS_PATH, '/etc/petrel/operator-api-key/api-keys');
});

test('a region API Service <name>-<region>-api (ClusterIP, port http only); the client Service never exposes 18083', async () => {
  const objs = desiredObjects(SAMPLE_SPECS.threeRegions!, { apiKey: KEY }) as any[];
  for (const region of ['eu-west-1', 'us-east-1', 'ap-southeast-1']) {
    const api = objs.find((o) => o.kind === 'Service' && o.metadata.name === `three-${region}-api`);
    const client = objs.find((o) => o.kind === 'Service' && o.metadata.name === `three-${region}`);
    assert.equal(api.spec.type, 'ClusterIP');
    assert.deepEqual(api.spec.ports, [{ name: 'http', port: 18083, targetPort: 'http', protocol: 'TCP' }]);
    assert.deepEqual(api.spec.selector, client.spec.selector);
    assert.ok(!client.spec.ports.some((p: any) => p.port === 18083));
    assert.deepEqual(await validateK8s(api), []);
  }
});

test('without a key (no controller, no render flag) the Secret is left out and no hash is set; the config is the same', () => {
  const without = desiredObjects(SAMPLE_SPECS.oneRegion!) as any[];
  const withKey = desiredObjects(SAMPLE_SPECS.oneRegion!, { apiKey: KEY }) as any[];
  assert.equal(without.find((o) => o.kind === 'Secret'), undefined);
  assert.equal(without.find((o) => o.kind === 'StatefulSet').spec.template.metadata.annotations[ANNOTATION_API_KEY_HASH], undefined);
  assert.equal(without.find((o) => o.kind === 'ConfigMap').data['petrel.yaml'], withKey.find((o) => o.kind === 'ConfigMap').data['petrel.yaml'], 'the key is not in the config: a new key rolls pods through its own hash only');
});

test('read back: the key survives a round trip; user lines after the first are kept; junk → undefined (regenerate)', () => {
  const cr = resolve(SAMPLE_SPECS.oneRegion!);
  assert.deepEqual(parseApiKeySecret(buildApiKeySecret(cr, KEY)), KEY);
  const withUser = { data: { 'api-keys': Buffer.from('petrel-operator:abc\n# mine\nalice:wonder\n\n').toString('base64') } };
  const k = parseApiKeySecret(withUser)!;
  assert.deepEqual(k, { key: 'petrel-operator', secret: 'abc', extraLines: ['alice:wonder'] });
  assert.equal(Buffer.from(buildApiKeySecret(cr, k).data['api-keys'], 'base64').toString(), 'petrel-operator:abc\nalice:wonder\n');
  assert.notEqual(apiKeyHash(k), apiKeyHash({ key: 'petrel-operator', secret: 'abc' }), 'a user key added rolls the pods (the broker reads the file at start)');
  for (const bad of [undefined, {}, { data: {} }, { data: { 'api-keys': Buffer.from('alice:x\n').toString('base64') } }, { data: { 'api-keys': Buffer.from('petrel-operator:\n').toString('base64') } }]) {
    assert.equal(parseApiKeySecret(bad as any), undefined, JSON.stringify(bad));
  }
  const g1 = generateApiKey();
  const g2 = generateApiKey();
  assert.equal(g1.key, 'petrel-operator');
  assert.ok(g1.secret.length >= 43 && g1.secret !== g2.secret);
});

test('spec.config.data may not set api_key.bootstrap_file (the operator owns it); other api_key-free configs pass', () => {
  const errs = validate(cluster('u', { config: { data: 'api_key:\n  bootstrap_file: /etc/mine\n' } }));
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /^spec\.config\.data: api_key\.bootstrap_file is set by the operator .*Secret <name>-operator-api-key/);
  assert.deepEqual(validate(cluster('u', { config: { data: 'mqtt:\n  max_packet_size: 1MB\n' } })), []);
});

test('region names: <name>-<region>-api must not collide with another region, nor exceed 63 characters', () => {
  assert.ok(validate(cluster('c', { regions: [{ name: 'eu' }, { name: 'eu-api' }] })).some((e) => /plus -api/.test(e)));
  const long = validate(cluster('a'.repeat(40), { regions: [{ name: 'r'.repeat(19) }] }));
  assert.ok(long.some((e) => /at most 58 characters/.test(e)), long.join('\n'));
  assert.deepEqual(validate(cluster('a'.repeat(40), { regions: [{ name: 'r'.repeat(18) }] })), []);
});
