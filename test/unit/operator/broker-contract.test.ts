/**
 * The broker↔operator contract, checked from both sides: the config file the operator renders and
 * the env it sets are loaded through the broker's own config loader (as `petrel --config` does in
 * the pod). Keys the broker does not know yet are listed by path; only `cluster.*` (the etcd
 * cluster mode the broker is growing) may be among them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { loadConfig, ConfigError } from '../../../broker/src/config/index.js';
import { desiredObjects } from '../../../operator/src/desired/index.js';
import { cluster, SAMPLE_SPECS } from './helpers.js';

const tmp = mkdtempSync(join(os.tmpdir(), 'petrel-contract-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** The env a pod gets, with kubelet's $(VAR) expansion done for a sample pod name and IP. */
function podEnv(container: any, pod: { name: string; ip: string }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env) {
    if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = pod.name;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'status.podIP') env[e.name] = pod.ip;
    else env[e.name] = String(e.value).replace(/\$\((\w+)\)/g, (_, v) => env[v] ?? `$(${v})`);
  }
  return env;
}

function load(file: string, env: Record<string, string>): { problems: { path: string; message: string }[]; config?: any } {
  try {
    return { problems: [], config: loadConfig({ file, env }) };
  } catch (e) {
    if (e instanceof ConfigError) return { problems: [...e.problems] };
    throw e;
  }
}

// Access control and TLS depth as the operator renders them (spec.access, spec.tls.clientAuth / ocspStapling).
const secured = cluster('sec', {
  regions: [{ name: 'eu' }],
  listeners: [{ name: 'mqtt', protocol: 'mqtt', port: 1883 }, { name: 'mqtts', protocol: 'mqtt', port: 8883, tls: true }, { name: 'wss', protocol: 'ws', port: 8084, tls: true }],
  tls: {
    secretName: 'server-tls',
    clientAuth: { caSecretName: 'device-ca', crlSecretName: 'device-crl', crlDistributionPoints: true, peerCertAsUsername: 'cn', peerCertAsClientid: 'md5' },
    ocspStapling: { responderUrl: 'http://ocsp.example.com', issuerSecretName: 'issuer', refreshInterval: '10m' },
  },
  access: {
    secrets: [{ name: 'mqtt-users' }],
    authentication: [
      { mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username', password_hash_algorithm: { name: 'sha256', salt_position: 'suffix' }, bootstrap_file: '/etc/petrel/secrets/mqtt-users/users.csv', bootstrap_type: 'plain' },
      { mechanism: 'jwt', from: 'password', algorithm: 'hmac-based', secret: 'a-secret-of-enough-length-0123456789', verify_claims: { sub: '${username}' } },
      { mechanism: 'password_based', backend: 'redis', server: 'redis.iot.svc:6379', redis_type: 'single', cmd: 'HMGET mqtt_user:${username} password_hash salt is_superuser', password_hash_algorithm: { name: 'sha256', salt_position: 'suffix' } },
    ],
    authorization: { no_match: 'deny', deny_action: 'disconnect', sources: [{ type: 'file', enable: true, path: '/etc/petrel/secrets/mqtt-users/acl.conf' }, { type: 'built_in_database', enable: true }] },
  },
});

const specs = { secured, oneRegion: SAMPLE_SPECS.oneRegion!, tls: cluster('tlsb', { tls: { secretName: 's' }, listeners: [{ name: 'mqtt', protocol: 'mqtt', port: 1883 }, { name: 'mqtts', protocol: 'mqtt', port: 8883, tls: true }, { name: 'wss', protocol: 'ws', port: 8084, tls: true, path: '/m' }], regions: [{ name: 'eu' }] }), overrides: SAMPLE_SPECS.overrides! };

for (const [name, cr] of Object.entries(specs)) {
  test(`${name}: the broker's config loader accepts the rendered file and pod env (cluster.* pending)`, (t) => {
    const objs = desiredObjects(cr) as any[];
    const text: string = objs.find((o) => o.kind === 'ConfigMap').data['petrel.yaml'];
    const file = join(tmp, `${name}.yaml`);
    writeFileSync(file, text);
    const pods = objs.filter((o) => o.spec?.template?.spec).map((o) => [o, o.spec.template.spec.containers.find((c: any) => c.name === 'broker')]);
    assert.ok(pods.length >= 2);
    for (const [owner, broker] of pods) {
      const podName = `${owner.metadata.name}-0`;
      const env = podEnv(broker, { name: podName, ip: '10.1.2.3' });
      let { problems, config } = load(file, env);
      const outside = problems.filter((p) => !(p.path === 'cluster' || p.path.startsWith('cluster.')));
      assert.deepEqual(outside, [], `${owner.kind}/${owner.metadata.name}: broker rejects ${JSON.stringify(outside)}`);
      if (problems.length) {
        t.diagnostic(`not yet in the broker's config schema: ${[...new Set(problems.map((p) => p.path))].join(', ')}`);
        // The rest must load as it is, without the cluster section and its env.
        const { cluster: _pending, ...rest } = yaml.load(text) as Record<string, unknown>;
        const stripped = join(tmp, `${name}-nocluster.yaml`);
        writeFileSync(stripped, yaml.dump(rest));
        const envNoCluster = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('PETREL_CLUSTER__')));
        ({ problems, config } = load(stripped, envNoCluster));
        assert.deepEqual(problems, []);
      }
      const role = owner.kind === 'StatefulSet' ? 'core' : 'replica';
      assert.equal(config.node.role, role);
      assert.equal(config.node.name, role === 'core' ? `${podName}@${podName}.${owner.metadata.name}-headless.iot.svc` : `${podName}@10.1.2.3`);
      assert.equal(config.node.region, role === 'core' ? '' : owner.metadata.labels['mqtt.petrel.dev/region']);
      assert.equal(config.node.data_dir, '/var/lib/petrel');
      assert.deepEqual(config.dashboard.listeners.http, { enable: true, bind: '0.0.0.0:18083' }, 'probes and preStop reach /status and the drain endpoint here');
      // Exactly the spec's enabled listeners, on their ports; no broker default listener left over.
      const open: string[] = [];
      for (const [type, entries] of Object.entries(config.listeners as Record<string, Record<string, any>>)) {
        for (const [lname, l] of Object.entries(entries)) if (l.enable) open.push(`${type}.${lname}:${JSON.stringify(l.bind)}`);
      }
      const expected = (cr.spec.listeners ?? [{ name: 'mqtt', port: 1883 }, { name: 'ws', port: 8083 }]).filter((l: any) => l.enabled !== false);
      assert.equal(open.length, expected.length, open.join(' '));
      for (const l of expected) assert.ok(open.some((o) => o.includes(`.${l.name}:`) && o.includes(String(l.port))), `${l.name} open: ${open.join(' ')}`);
    }
  });
}
