/**
 * spec.access and spec.tls.clientAuth / ocspStapling: rendered into the broker config with
 * EMQX's keys, every file the config names provided by a mounted Secret, the CRD accepting the
 * fields and refusing bad ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { validate } from '../../../operator/src/api/types.js';
import { desiredObjects, type DesiredObject } from '../../../operator/src/desired/index.js';
import { cluster } from './helpers.js';

const secured = cluster('sec', {
  regions: [{ name: 'eu' }],
  listeners: [{ name: 'mqtt', protocol: 'mqtt', port: 1883 }, { name: 'mqtts', protocol: 'mqtt', port: 8883, tls: true }, { name: 'wss', protocol: 'ws', port: 8084, tls: true }],
  tls: {
    secretName: 'server-tls',
    clientAuth: { caSecretName: 'device-ca', crlSecretName: 'device-crl', peerCertAsUsername: 'cn' },
    ocspStapling: { responderUrl: 'http://ocsp.example.com', issuerSecretName: 'issuer' },
  },
  access: {
    secrets: [{ name: 'mqtt-users' }, { name: 'jwt-keys' }],
    authentication: [
      { mechanism: 'password_based', backend: 'built_in_database', bootstrap_file: '/etc/petrel/secrets/mqtt-users/users.csv' },
      { mechanism: 'jwt', from: 'password', algorithm: 'public-key', public_key: '-----BEGIN PUBLIC KEY-----\n…' },
    ],
    authorization: { no_match: 'deny', sources: [{ type: 'file', path: '/etc/petrel/secrets/mqtt-users/acl.conf' }] },
  },
});

const config = (objs: DesiredObject[]) => yaml.load((objs.find((o) => o.kind === 'ConfigMap') as any).data['petrel.yaml']) as any;

test('spec.access: authentication and authorization rendered as the broker reads them; the Secrets mounted where the paths point', () => {
  assert.deepEqual(validate(secured), []);
  const objs = desiredObjects(secured);
  const cfg = config(objs);
  assert.deepEqual(cfg.authentication, secured.spec.access!.authentication);
  assert.equal(cfg.authorization.no_match, 'deny');
  assert.deepEqual(cfg.authorization.sources, [{ type: 'file', path: '/etc/petrel/secrets/mqtt-users/acl.conf' }]);
  const pods = objs.filter((o: any) => o.spec?.template?.spec) as any[];
  assert.equal(pods.length, 2, 'core StatefulSet and the region Deployment');
  for (const p of pods) {
    const spec = p.spec.template.spec;
    const broker = spec.containers.find((c: any) => c.name === 'broker');
    const mounts = Object.fromEntries(broker.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    const vols = Object.fromEntries(spec.volumes.map((v: any) => [v.name, v.secret?.secretName]));
    for (const [path, secret] of [
      ['/etc/petrel/secrets/mqtt-users', 'mqtt-users'], ['/etc/petrel/secrets/jwt-keys', 'jwt-keys'],
      ['/etc/petrel/client-ca', 'device-ca'], ['/etc/petrel/crl', 'device-crl'], ['/etc/petrel/ocsp-issuer', 'issuer'],
    ]) {
      assert.ok(mounts[path], `${p.kind}: ${path} mounted`);
      assert.equal(vols[mounts[path]], secret, `${p.kind}: ${path} comes from Secret ${secret}`);
    }
    assert.ok(broker.volumeMounts.filter((m: any) => m.mountPath.startsWith('/etc/petrel/')).every((m: any) => m.readOnly || m.name === 'data'));
  }
});

test('spec.tls.clientAuth and ocspStapling: every TLS listener verifies clients, checks the CRL and staples OCSP', () => {
  const cfg = config(desiredObjects(secured));
  for (const l of [cfg.listeners.ssl.mqtts, cfg.listeners.wss.wss]) {
    assert.deepEqual(l.ssl_options, {
      certfile: '/etc/petrel/tls/tls.crt', keyfile: '/etc/petrel/tls/tls.key',
      verify: 'verify_peer', fail_if_no_peer_cert: true, cacertfile: '/etc/petrel/client-ca/ca.crt', crlfile: '/etc/petrel/crl/ca.crl',
      ocsp: { enable_ocsp_stapling: true, responder_url: 'http://ocsp.example.com', issuer_pem: '/etc/petrel/ocsp-issuer/ca.crt', refresh_interval: '5m' },
    });
  }
  assert.equal(cfg.listeners.tcp.mqtt.ssl_options, undefined, 'plain TCP untouched');
  assert.equal(cfg.mqtt.peer_cert_as_username, 'cn');
  // Without a client CA Secret the server certificate Secret's ca.crt is the client CA.
  const own = cluster('own', { ...secured.spec, tls: { secretName: 'server-tls', clientAuth: { verify: 'verify_peer' } } });
  assert.equal(config(desiredObjects(own)).listeners.ssl.mqtts.ssl_options.cacertfile, '/etc/petrel/tls/ca.crt');
});

test('bad access and TLS settings are refused with the field named', () => {
  const bad = (spec: any) => validate(cluster('bad', { ...secured.spec, ...spec }));
  assert.ok(bad({ access: { secrets: [{ name: 'a' }, { name: 'a' }] } }).some((e) => e.includes('secret names must be unique')));
  assert.ok(bad({ access: { authentication: { mechanism: 'jwt' } } }).some((e) => e.startsWith('spec.access.authentication')));
  assert.ok(bad({ tls: { secretName: 's', clientAuth: { verify: 'sometimes' } } }).some((e) => e.startsWith('spec.tls.clientAuth.verify')));
  assert.ok(bad({ tls: { secretName: 's', ocspStapling: { responderUrl: 'ftp://x', issuerSecretName: 'i' } } }).some((e) => e.startsWith('spec.tls.ocspStapling.responderUrl')));
});
