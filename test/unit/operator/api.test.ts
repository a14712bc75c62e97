import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate, withDefaults, DEFAULT_ETCD_IMAGE, type MqttCluster } from '../../../operator/src/api/types.js';
import { cluster, SAMPLE_SPECS } from './helpers.js';

const errorsOf = (spec: unknown, meta: Record<string, unknown> = {}) =>
  validate({ apiVersion: 'mqtt.petrel.dev/v1alpha1', kind: 'MqttCluster', metadata: { name: 'c', namespace: 'ns', ...meta }, spec });

function assertRejects(spec: unknown, re: RegExp, meta?: Record<string, unknown>) {
  const errs = errorsOf(spec, meta);
  assert.ok(errs.some((e) => re.test(e)), `expected an error matching ${re}, got ${JSON.stringify(errs)}`);
}

test('the sample specs are valid', () => {
  for (const [name, cr] of Object.entries(SAMPLE_SPECS)) assert.deepEqual(validate(cr), [], name);
});

test('withDefaults fills schema defaults and the derived ones', () => {
  const cr = withDefaults(cluster('d', { regions: [{ name: 'eu-west-1' }, { name: 'us-east-1', autoscaling: { maxReplicas: 4 } }] }));
  assert.equal(cr.spec.image, 'petrel/broker:0.1.0');
  assert.equal(cr.spec.core.replicas, 3);
  assert.equal(cr.spec.core.storage.size, '10Gi');
  assert.equal(cr.spec.etcd.managed?.image, DEFAULT_ETCD_IMAGE);
  assert.equal(cr.spec.etcd.external, undefined);
  assert.deepEqual(cr.spec.listeners.map((l) => [l.name, l.port, l.tls, l.enabled]), [['mqtt', 1883, false, true], ['ws', 8083, false, true]]);
  const [eu, us] = cr.spec.regions;
  assert.deepEqual(eu!.nodeSelector, { 'topology.kubernetes.io/region': 'eu-west-1' });
  assert.equal(eu!.replicas, 2);
  assert.equal(eu!.service.type, 'LoadBalancer');
  assert.deepEqual(eu!.zoneSpread, { enabled: true, maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway' });
  assert.ok(!('replicas' in us!), 'autoscaled region has no replicas');
  assert.deepEqual(us!.autoscaling, { minReplicas: 1, maxReplicas: 4, targetCPUUtilizationPercentage: 70 });
  assert.deepEqual(cr.spec.dns, { provider: 'None', routing: 'Latency', ttl: 60 });
  assert.equal(cr.spec.paused, false);
  assert.equal(withDefaults({ ...cluster('x', {}), metadata: { name: 'x' } }).metadata.namespace, 'default');
});

test('withDefaults is idempotent and does not modify its input', () => {
  const input = SAMPLE_SPECS.threeRegions!;
  const before = structuredClone(input);
  const once = withDefaults(input);
  assert.deepEqual(input, before);
  assert.deepEqual(withDefaults(once as unknown as MqttCluster), once);
});

test('a user nodeSelector replaces the region default', () => {
  const cr = withDefaults(cluster('d', { regions: [{ name: 'eu', nodeSelector: { pool: 'edge' } }] }));
  assert.deepEqual(cr.spec.regions[0]!.nodeSelector, { pool: 'edge' });
});

test('core.replicas must be odd and at least 1', () => {
  assertRejects({ core: { replicas: 4 } }, /^spec\.core\.replicas: core\.replicas must be odd/);
  assertRejects({ core: { replicas: 0 } }, /^spec\.core\.replicas: must be >= 1/);
  assert.deepEqual(errorsOf({ core: { replicas: 5 } }), []);
});

test('listener names and ports must be unique; reserved names and ports are refused', () => {
  assertRejects({ listeners: [{ name: 'a', protocol: 'mqtt', port: 1 }, { name: 'a', protocol: 'ws', port: 2 }] }, /duplicate entry with name|listener names must be unique/);
  assertRejects({ listeners: [{ name: 'a', protocol: 'mqtt', port: 1883 }, { name: 'b', protocol: 'ws', port: 1883 }] }, /^spec\.listeners: listener ports must be unique/);
  assertRejects({ listeners: [{ name: 'a', protocol: 'mqtt', port: 18083 }] }, /^spec\.listeners\[0\]\.port: listener port must not be one of/);
  assertRejects({ listeners: [{ name: 'http', protocol: 'mqtt', port: 1 }] }, /^spec\.listeners\[0\]\.name: listener name must not be/);
  assertRejects({ listeners: [] }, /^spec\.listeners: must have at least 1 items/);
  assertRejects({ listeners: [{ name: 'a', protocol: 'amqp', port: 1 }] }, /^spec\.listeners\[0\]\.protocol: must be one of mqtt, ws/);
});

test('region names must be DNS-1123 labels, unique and not reserved', () => {
  assertRejects({ regions: [{ name: 'EU_West' }] }, /^spec\.regions\[0\]\.name: region name must be a DNS-1123 label/);
  assertRejects({ regions: [{ name: 'eu' }, { name: 'eu' }] }, /^spec\.regions: (duplicate entry|region names must be unique)/);
  assertRejects({ regions: [{ name: 'core' }] }, /reserved for the core/);
  assertRejects({ regions: [{ name: 'a'.repeat(23) }] }, /at most 22 characters/);
});

test('tls needs exactly one source, and TLS listeners need tls', () => {
  assertRejects({ tls: {} }, /^spec\.tls: tls: set exactly one of secretName or certManager/);
  assertRejects({ tls: { secretName: 'a', certManager: { issuerRef: { name: 'x' } } } }, /exactly one of secretName or certManager/);
  assertRejects({ listeners: [{ name: 's', protocol: 'mqtt', port: 8883, tls: true }] }, /^spec: a listener with tls: true needs spec\.tls/);
  assertRejects({ listeners: [{ name: 's', protocol: 'mqtt', port: 8883, tls: true }] }, /needs spec\.tls/);
  assertRejects({ listeners: [{ name: 'q', protocol: 'quic', port: 14567 }] }, /protocol/);
});

test('region replicas and autoscaling exclude each other; min <= max', () => {
  assertRejects({ regions: [{ name: 'eu', replicas: 2, autoscaling: { maxReplicas: 3 } }] }, /^spec\.regions\[0\]: set either replicas or autoscaling/);
  assertRejects({ regions: [{ name: 'eu', autoscaling: { minReplicas: 5, maxReplicas: 3 } }] }, /minReplicas must not exceed maxReplicas/);
  assertRejects({ regions: [{ name: 'eu', autoscaling: {} }] }, /^spec\.regions\[0\]\.autoscaling\.maxReplicas: required/);
});

test('etcd managed and external exclude each other', () => {
  assertRejects({ etcd: { managed: {}, external: { endpoints: ['http://e:2379'] } } }, /^spec\.etcd: etcd: set either managed or external/);
  assertRejects({ etcd: { external: { endpoints: [] } } }, /^spec\.etcd\.external\.endpoints: must have at least 1/);
  assertRejects({ etcd: { external: { endpoints: ['etcd:2379'] } } }, /does not match \^https\?:\/\//);
});

test('DNS: routing needs a global hostname; geolocation needs geo on every region', () => {
  assertRejects({ dns: { provider: 'ExternalDNS', routing: 'Latency' }, regions: [{ name: 'eu', dns: { hostname: 'eu.example.com' } }] }, /dns\.routing Latency or Geolocation needs dns\.globalHostname/);
  assertRejects({ dns: { provider: 'ExternalDNS', routing: 'None' } }, /needs dns\.globalHostname or a regions\[\]\.dns\.hostname/);
  assertRejects(
    { dns: { provider: 'ExternalDNS', globalHostname: 'm.example.com', routing: 'Geolocation' }, regions: [{ name: 'eu', dns: { geo: { continent: 'EU' } } }, { name: 'us' }] },
    /Geolocation needs dns\.geo on every region/,
  );
  assertRejects({ regions: [{ name: 'eu', dns: { geo: { continent: 'EU', country: 'DE' } } }] }, /set exactly one of continent or country/);
  assertRejects({ regions: [{ name: 'eu', dns: { geo: { continent: 'XX' } } }] }, /continent: must be one of AF/);
  assertRejects({ dns: { provider: 'ExternalDNS', globalHostname: 'not a host' } }, /globalHostname: "not a host" does not match/);
  assert.deepEqual(errorsOf({ dns: { provider: 'None', routing: 'Geolocation' }, regions: [{ name: 'eu' }] }), [], 'rules only apply with ExternalDNS');
});

test('unknown fields, wrong types and bad quantities are reported with their path', () => {
  assertRejects({ replicas: 3 }, /^spec\.replicas: unknown field "replicas"/);
  assertRejects({ core: { replicas: '3' } }, /^spec\.core\.replicas: must be an integer/);
  assertRejects({ core: { storage: { size: 'ten gigs' } } }, /^spec\.core\.storage\.size: must be a quantity/);
  assertRejects({ paused: 'yes' }, /^spec\.paused: must be true or false/);
  assertRejects({ regions: {} }, /^spec\.regions: must be a list/);
});

test('config.data must be a YAML mapping', () => {
  assertRejects({ config: { data: 'a: [1' } }, /^spec\.config\.data: not valid YAML/);
  assertRejects({ config: { data: '- 1\n- 2' } }, /^spec\.config\.data: must be a YAML mapping/);
  assert.deepEqual(errorsOf({ config: { data: '' } }), []);
});

test('object-level checks: apiVersion, kind, name, spec', () => {
  assert.ok(validate({ apiVersion: 'v1', kind: 'MqttCluster', metadata: { name: 'a' }, spec: {} }).some((e) => e.startsWith('apiVersion: must be mqtt.petrel.dev/v1alpha1')));
  assert.ok(validate({ apiVersion: 'mqtt.petrel.dev/v1alpha1', kind: 'MqttCluster', metadata: { name: 'a' } }).includes('spec: required'));
  assertRejects({}, /metadata\.name: metadata\.name must be at most 40 characters/, { name: 'x'.repeat(41) });
  assertRejects({}, /metadata\.name must start with a letter/, { name: '1abc' });
  assert.deepEqual(validate('nope'), ['<root>: must be an object']);
});
