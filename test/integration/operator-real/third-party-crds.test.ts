/**
 * examples/three-regions.yaml as is — TLS through cert-manager, DNS through external-dns — on a REAL
 * control plane with external-dns's DNSEndpoint and cert-manager's Certificate CRDs as those projects
 * publish them (read from their Go modules by scripts/k8s-crds.sh). Neither controller runs: the
 * test plays the cloud's load-balancer controller (it writes the Services' load-balancer status) and
 * cert-manager (it writes the `<name>-tls` Secret). What is proved is that the API server, validating
 * against the real schemas, accepts every Certificate and DNSEndpoint the operator writes without
 * dropping a field, that the chart's RBAC covers those kinds, and that DNSReady follows.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { withDefaults, type MqttCluster } from '../../../operator/src/api/types.js';
import { firstDifference } from '../../../operator/src/controller/object-diff.js';
import { buildCertificate } from '../../../operator/src/desired/certificate.js';
import { buildRegionDnsEndpoint } from '../../../operator/src/desired/dns-endpoint.js';
import { ANNOTATION_TLS_HASH } from '../../../operator/src/desired/meta.js';
import { startKubeControlPlane, type KubeControlPlane } from '../../support/kube-control-plane.js';
import {
  MQC_PATH, RELEASE, condition, installChart, installThirdPartyCrds, loadExample, must, repoRoot,
  serviceAccountKubeconfig, startOperator, waitFor, type OperatorProcess,
} from './harness.js';

const REGIONS: Record<string, string[]> = {
  'eu-west-1': ['eu-west-1a', 'eu-west-1b'],
  'us-east-1': ['us-east-1a', 'us-east-1b'],
  'ap-southeast-1': ['ap-southeast-1a'],
};
const NS = 'iot';
const DNS = `/apis/externaldns.k8s.io/v1alpha1/namespaces/${NS}/dnsendpoints`;
const CERTS = `/apis/cert-manager.io/v1/namespaces/${NS}/certificates`;
/** Load-balancer addresses a cloud would assign (TEST-NET-3 and a hostname, as AWS NLBs have). */
const LB: Record<string, { ip?: string; hostname?: string }> = {
  'eu-west-1': { ip: '203.0.113.10' },
  'us-east-1': { hostname: 'fleet-us.elb.example.net' },
  'ap-southeast-1': { ip: '203.0.113.30' },
};

let cp: KubeControlPlane;
let op: OperatorProcess | undefined;
let crds: string[];

before(async () => {
  cp = await startKubeControlPlane({ regions: REGIONS });
  console.log(`# control plane ready in ${cp.startupMs} ms`);
  await installChart(cp);
  crds = await installThirdPartyCrds(cp);
  await must(cp, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  op = await startOperator(cp, await serviceAccountKubeconfig(cp, RELEASE));
});

after(async () => {
  await op?.stop();
  await cp?.stop();
});

const mqc = (): Promise<any> => must(cp, 'GET', `${MQC_PATH}/namespaces/${NS}/mqttclusters/fleet`);
const why = (): string => `\n--- operator:\n${op!.output().split('\n').slice(-25).join('\n')}`;
const resolved = () => withDefaults(loadExample('three-regions.yaml') as MqttCluster);

/** Server-side apply as a dry run with strict field validation: the API server names any field its schema lacks. */
async function strictDryRun(url: string, obj: unknown): Promise<void> {
  await must(cp, 'PATCH', `${url}?dryRun=All&fieldValidation=Strict&fieldManager=strict-check&force=true`, obj, [200], 'application/apply-patch+yaml');
}

test('the real CRDs are installed and strict: an unknown or mistyped field is refused', async () => {
  assert.deepEqual(crds.sort(), ['certificates.cert-manager.io', 'dnsendpoints.externaldns.k8s.io']);
  const bad = await cp.request('POST', `${DNS}?dryRun=All&fieldValidation=Strict`, {
    apiVersion: 'externaldns.k8s.io/v1alpha1', kind: 'DNSEndpoint', metadata: { name: 'probe', namespace: NS },
    spec: { endpoints: [{ dnsName: 'a.example.com', recordType: 'A', targets: ['203.0.113.1'], weight: 5 }] },
  });
  // strict decoding refuses it before validation: 400 BadRequest naming the field
  assert.equal(bad.status, 400, JSON.stringify(bad.body));
  assert.match(bad.body.message, /strict decoding error: unknown field "spec\.endpoints\[0\]\.weight"/);
  const mistyped = await cp.request('POST', `${CERTS}?dryRun=All`, {
    apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'probe', namespace: NS },
    spec: { secretName: 'probe', dnsNames: 'a.example.com', issuerRef: { name: 'x' } },
  });
  assert.equal(mistyped.status, 422, JSON.stringify(mistyped.body));
  assert.match(mistyped.body.message, /spec\.dnsNames/);
});

test('examples/three-regions.yaml with kubectl: the Certificate is accepted as the builder wrote it; DNSReady waits for load balancers', async () => {
  const applied = await cp.kubectl(['apply', '-f', path.join(repoRoot(), 'examples', 'three-regions.yaml')]);
  assert.equal(applied.code, 0, applied.err);
  const cert = await waitFor(async () => (await cp.request('GET', `${CERTS}/fleet-tls`)).body?.spec ? (await must(cp, 'GET', `${CERTS}/fleet-tls`)) : undefined,
    `the Certificate fleet-tls${why()}`, 60_000);
  const want = buildCertificate(resolved())!;
  assert.equal(firstDifference(want.spec, cert.spec), undefined, 'every field the builder set is stored (nothing pruned)');
  assert.equal(cert.spec.issuerRef.name, 'letsencrypt');
  assert.ok(cert.spec.dnsNames.includes('mqtt.example.com') && cert.spec.dnsNames.includes('eu.mqtt.example.com'));
  await strictDryRun(`${CERTS}/fleet-tls`, want);

  const dns = await waitFor(async () => {
    const c = await mqc();
    const d = condition(c, 'DNSReady');
    return c.status?.observedGeneration === 1 && d?.reason === 'WaitingForLoadBalancer' ? d : undefined;
  }, `DNSReady=False WaitingForLoadBalancer${why()}`, 60_000);
  assert.equal(dns.status, 'False');
  assert.match(dns.message, /eu-west-1.*us-east-1.*ap-southeast-1/);
  assert.deepEqual((await must(cp, 'GET', DNS)).items, [], 'no DNSEndpoint without an address to point at');
  const cr = await mqc();
  assert.equal(condition(cr, 'Degraded').status, 'False', condition(cr, 'Degraded').message);
});

test('load balancers get addresses: one DNSEndpoint per region, accepted by external-dns\'s schema as built; DNSReady True', async () => {
  for (const [region, ingress] of Object.entries(LB)) {
    await must(cp, 'PATCH', `/api/v1/namespaces/${NS}/services/fleet-${region}/status`, { status: { loadBalancer: { ingress: [ingress] } } }, [200], 'application/merge-patch+json');
  }
  const ready = await waitFor(async () => {
    const d = condition(await mqc(), 'DNSReady');
    return d?.status === 'True' ? d : undefined;
  }, `DNSReady=True${why()}`, 60_000);
  assert.equal(ready.reason, 'Published');
  assert.match(ready.message, /^3 DNSEndpoint/);
  const rcr = resolved();
  const items = (await must(cp, 'GET', DNS)).items;
  assert.deepEqual(items.map((d: any) => d.metadata.name).sort(), ['fleet-ap-southeast-1', 'fleet-eu-west-1', 'fleet-us-east-1']);
  for (const region of rcr.spec.regions) {
    const svc = await must(cp, 'GET', `/api/v1/namespaces/${NS}/services/fleet-${region.name}`);
    const want = buildRegionDnsEndpoint(rcr, region, svc)!;
    const live = items.find((d: any) => d.metadata.name === `fleet-${region.name}`);
    assert.equal(firstDifference(want.spec, live.spec), undefined, `${region.name}: every record field stored`);
    await strictDryRun(`${DNS}/fleet-${region.name}`, want);
  }
  const eu = items.find((d: any) => d.metadata.name === 'fleet-eu-west-1').spec.endpoints;
  assert.deepEqual(eu.map((e: any) => `${e.dnsName} ${e.recordType} ${e.targets} ${e.setIdentifier ?? ''}`),
    ['eu.mqtt.example.com A 203.0.113.10 ', 'mqtt.example.com A 203.0.113.10 eu-west-1']);
  assert.deepEqual(eu[1].providerSpecific, [{ name: 'aws/region', value: 'eu-west-1' }]);
  const us = items.find((d: any) => d.metadata.name === 'fleet-us-east-1').spec.endpoints;
  assert.equal(us[0].recordType, 'CNAME');
  const cr = await mqc();
  assert.equal(condition(cr, 'Degraded').status, 'False', condition(cr, 'Degraded').message);
  assert.deepEqual(op!.output().split('\n').filter((l) => /forbidden/i.test(l)), [], 'the chart\'s RBAC covers DNSEndpoints and Certificates');
});

test('cert-manager\'s Secret appears: the pod templates get its hash, so the brokers restart on a renewed certificate', async () => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  await must(cp, 'POST', `/api/v1/namespaces/${NS}/secrets`, {
    apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'fleet-tls', namespace: NS },
    data: { 'tls.crt': b64('not a certificate: nothing here reads it'), 'tls.key': b64('not a key') },
  });
  for (const name of ['statefulsets/fleet-core', 'deployments/fleet-eu-west-1']) {
    await waitFor(async () => (await must(cp, 'GET', `/apis/apps/v1/namespaces/${NS}/${name}`)).spec.template.metadata.annotations?.[ANNOTATION_TLS_HASH],
      `${name} carries ${ANNOTATION_TLS_HASH}${why()}`, 30_000);
  }
});
