/**
 * The real kubectl (1.37, built with the control plane) against the REAL API server: installing the
 * CRD from crds/, applying every file in examples/ (client-side, again unchanged, then server-side),
 * and `kubectl get mqc` showing the CRD's printer columns filled in from the status the controller
 * writes once the real controllers and kwok have made every pod Ready. The controller runs in this
 * process with the chart's ServiceAccount token; the brokers' membership answer comes from the
 * ready pods (in-process.ts), since no broker runs under kwok.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Controller } from '../../../operator/src/controller/controller.js';
import { startKubeControlPlane, type KubeControlPlane } from '../../support/kube-control-plane.js';
import { MQC_PATH, RELEASE, condition, installChart, installThirdPartyCrds, must, repoRoot, serviceAccountKubeconfig, waitFor } from './harness.js';
import { assignLoadBalancers, createVolumes, realController } from './in-process.js';

let cp: KubeControlPlane;
let controller: Controller | undefined;

before(async () => {
  cp = await startKubeControlPlane({
    regions: { 'eu-west-1': ['eu-west-1a', 'eu-west-1b'], 'us-east-1': ['us-east-1a', 'us-east-1b'], 'ap-southeast-1': ['ap-southeast-1a'] },
  });
  console.log(`# control plane ready in ${cp.startupMs} ms`);
});

after(async () => {
  await controller?.stop();
  await cp?.stop();
});

async function ok(...args: string[]): Promise<string> {
  const r = await cp.kubectl(args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.err}${r.out}`);
  return r.out;
}

test('kubectl installs the CRD from crds/ and the API server serves it with the short name mqc', async () => {
  await ok('apply', '-f', path.join(repoRoot(), 'crds'));
  await ok('wait', '--for=condition=Established', '--timeout=60s', 'crd/mqttclusters.mqtt.petrel.dev');
  const out = await ok('api-resources', '--api-group', 'mqtt.petrel.dev');
  assert.match(out, /mqttclusters\s+mqc\s+mqtt\.petrel\.dev\/v1alpha1\s+true\s+MqttCluster/);
});

test('kubectl applies every file in examples/ (client-side, again unchanged, then server-side)', async () => {
  await installThirdPartyCrds(cp);
  await ok('create', 'namespace', 'iot');
  const examples = readdirSync(path.join(repoRoot(), 'examples')).filter((f) => f.endsWith('.yaml'));
  assert.ok(examples.length >= 2, 'examples/ has the single- and three-region files');
  const first = await ok('apply', '-f', path.join(repoRoot(), 'examples'));
  assert.match(first, /mqttcluster\.mqtt\.petrel\.dev\/petrel created/);
  assert.match(first, /mqttcluster\.mqtt\.petrel\.dev\/fleet created/);
  const stored = await must(cp, 'GET', `${MQC_PATH}/namespaces/iot/mqttclusters/fleet`);
  // kubectl prints "configured", not "unchanged": a CRD has no strategic merge, so kubectl's patch
  // replaces whole lists, and the live listeners and regions carry the schema's defaults the files
  // leave out. The API server finds nothing to change, so the object is not written.
  const again = await ok('apply', '-f', path.join(repoRoot(), 'examples'));
  assert.match(again, /fleet (unchanged|configured)/);
  const after = await must(cp, 'GET', `${MQC_PATH}/namespaces/iot/mqttclusters/fleet`);
  assert.equal(after.metadata.resourceVersion, stored.metadata.resourceVersion, 'the second apply wrote nothing');
  const ssa = await ok('apply', '--server-side', '-f', path.join(repoRoot(), 'examples'));
  assert.match(ssa, /fleet serverside-applied/);
  const fleet = await must(cp, 'GET', `${MQC_PATH}/namespaces/iot/mqttclusters/fleet`);
  assert.equal(fleet.spec.regions.length, 3);
});

test('kubectl get mqc shows Cores, Regions, Ready and Age from the controller-written status', async () => {
  const empty = await ok('get', 'mqc', '-n', 'iot');
  assert.match(empty.split('\n')[0], /^NAME\s+CORES\s+REGIONS\s+READY\s+AGE\s*$/);
  // the chart finds the CRD installed above and leaves it alone (helm never upgrades CRDs)
  await installChart(cp);
  await createVolumes(cp, 'pv-fleet', 3, '20Gi');
  await createVolumes(cp, 'pv-petrel', 3, '10Gi');
  await createVolumes(cp, 'pv-secure', 3, '10Gi');
  controller = realController(cp, await serviceAccountKubeconfig(cp, RELEASE));
  await controller.start();
  const mqc = (ns: string, name: string): Promise<any> => must(cp, 'GET', `${MQC_PATH}/namespaces/${ns}/mqttclusters/${name}`);
  await waitFor(async () => {
    // the cloud's part: load-balancer addresses, which the DNS records need
    await assignLoadBalancers(cp, 'iot');
    await assignLoadBalancers(cp, 'default');
    return condition(await mqc('iot', 'fleet'), 'Ready')?.status === 'True' && condition(await mqc('default', 'petrel'), 'Ready')?.status === 'True';
  }, 'both clusters Ready', 150_000).catch(async (e) => {
    const pods = (await must(cp, 'GET', '/api/v1/pods')).items.filter((p: any) => !p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    const claims = (await must(cp, 'GET', '/api/v1/persistentvolumeclaims')).items.map((c: any) => `${c.metadata.namespace}/${c.metadata.name} ${c.status.phase} ${c.spec.volumeName}`);
    throw new Error(`${e.message}\nfleet: ${JSON.stringify(condition(await mqc('iot', 'fleet'), 'Ready'))}\npetrel: ${JSON.stringify(condition(await mqc('default', 'petrel'), 'Ready'))}
pods not ready: ${pods.map((p: any) => `${p.metadata.namespace}/${p.metadata.name} ${p.status.phase} ${JSON.stringify(p.status.conditions)}`).join('\n')}
claims: ${claims.join(', ')}`);
  });
  const out = await ok('get', 'mqc', '-A');
  const lines = out.trim().split('\n');
  assert.match(lines[0], /^NAMESPACE\s+NAME\s+CORES\s+REGIONS\s+READY\s+AGE\s*$/);
  assert.match(out, /\ndefault\s+petrel\s+3\/3\s+1\/1\s+True\s+\d+[sm]/);
  assert.match(out, /\niot\s+fleet\s+3\/3\s+3\/3\s+True\s+\d+[sm]/);
  const wide = await ok('get', 'mqc', 'fleet', '-n', 'iot', '-o', 'wide');
  assert.match(wide, /REPLICAS/);
  assert.match(wide, /fleet\s+3\/3\s+3\/3\s+True\s+8\/8/);
  const described = await ok('get', 'statefulsets,deployments,services', '-n', 'iot', '-o', 'name');
  assert.match(described, /statefulset\.apps\/fleet-core/);
  assert.match(described, /deployment\.apps\/fleet-us-east-1/);
});
