/**
 * End-to-end operator suite against a REAL Kubernetes cluster — runs only when KUBECONFIG is set
 * (and PETREL_E2E is not "0"); otherwise every test is skipped with a message saying so.
 *
 *   KUBECONFIG=~/.kube/config node --test dist/test/e2e/operator.test.js
 *
 * What it does, in a fresh namespace petrel-e2e-<random> that it deletes at the end:
 *   - installs crds/ with the real kubectl (server-side apply) if the CRD is missing;
 *   - runs the controller in-process (no leader election) watching only that namespace;
 *   - applies examples/single-region.yaml there and checks the StatefulSet, Deployment, Services,
 *     PDBs and ConfigMap appear with owner references, and that status conditions are written
 *     with observedGeneration; `kubectl get mqc` shows the printer columns;
 *   - with PETREL_E2E_EXPECT_READY=1 (the broker image must be pullable, nodes labelled
 *     topology.kubernetes.io/region=eu-west-1), waits up to 10 minutes for Ready=True;
 *   - deletes the MqttCluster and checks the garbage collector removes what it owned.
 * Needs rights to create namespaces, CRDs (unless installed) and the objects above.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { Controller } from '../../operator/src/controller/controller.js';
import { KubeClient } from '../../operator/src/controller/kube-client.js';
import { silentOperatorLogger } from '../../operator/src/controller/logger.js';
import { kubectlPath } from '../support/k8s-binaries.js';

const kubeconfigEnv = process.env.KUBECONFIG;
const skip = !kubeconfigEnv
  ? 'KUBECONFIG is not set: the operator e2e suite needs a real cluster (see the header of test/e2e/operator.test.ts)'
  : process.env.PETREL_E2E === '0' ? 'PETREL_E2E=0' : false;
if (skip) process.stdout.write(`# operator e2e skipped: ${skip}\n`);

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 20; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('no package.json above the test');
}

const ns = `petrel-e2e-${randomBytes(3).toString('hex')}`;
let kc: KubeConfig;
let client: KubeClient;
let controller: Controller | undefined;

function kubectl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(kubectlPath(), args, { encoding: 'utf8', timeout: 120_000, env: process.env }, (e, out, err) =>
      resolve({ code: e ? 1 : 0, out, err }));
  });
}

async function waitFor<T>(cond: () => Promise<T>, what: string, ms: number): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond().catch(() => undefined);
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

before(async () => {
  if (skip) return;
  kc = new KubeConfig();
  kc.loadFromDefault();
  client = new KubeClient(kc, 'petrel-e2e');
  if (!(await client.resource('mqtt.petrel.dev/v1alpha1', 'MqttCluster'))) {
    const r = await kubectl('apply', '--server-side', '-f', path.join(repoRoot(), 'crds'));
    assert.equal(r.code, 0, r.err);
    await waitFor(() => client.resource('mqtt.petrel.dev/v1alpha1', 'MqttCluster'), 'the CRD to be served', 60_000);
  }
  const r = await kubectl('create', 'namespace', ns);
  assert.equal(r.code, 0, r.err);
  controller = new Controller({ kubeConfig: kc, namespaces: [ns], logger: silentOperatorLogger(), progressRequeueMs: 2000 });
  await controller.start();
});

after(async () => {
  if (skip) return;
  await controller?.stop();
  await kubectl('delete', 'namespace', ns, '--wait=false');
});

test('e2e: applying examples/single-region.yaml creates the owned objects and a status', { skip, timeout: 300_000 }, async () => {
  const cr: any = yaml.load(readFileSync(path.join(repoRoot(), 'examples', 'single-region.yaml'), 'utf8'));
  cr.metadata.namespace = ns;
  await client.create(cr);
  const sts = await waitFor(() => client.get('apps/v1', 'StatefulSet', ns, 'petrel-core'), 'StatefulSet', 60_000);
  const live = await client.get('mqtt.petrel.dev/v1alpha1', 'MqttCluster', ns, 'petrel');
  assert.equal(sts.metadata.ownerReferences?.[0]?.uid, live!.metadata.uid);
  for (const [apiVersion, kind, name] of [
    ['apps/v1', 'Deployment', 'petrel-eu-west-1'], ['v1', 'Service', 'petrel-eu-west-1'], ['v1', 'Service', 'petrel-core-headless'],
    ['policy/v1', 'PodDisruptionBudget', 'petrel-eu-west-1'], ['v1', 'ConfigMap', 'petrel-config'],
  ]) {
    await waitFor(() => client.get(apiVersion, kind, ns, name), `${kind} ${name}`, 60_000);
  }
  const withStatus = await waitFor(async () => {
    const o = await client.get('mqtt.petrel.dev/v1alpha1', 'MqttCluster', ns, 'petrel');
    return o?.status?.conditions?.length ? o : undefined;
  }, 'status conditions', 60_000);
  assert.equal(withStatus.status.observedGeneration, withStatus.metadata.generation);
  const get = await kubectl('get', 'mqc', '-n', ns);
  assert.match(get.out.split('\n')[0], /NAME\s+CORES\s+REGIONS\s+READY\s+AGE/);
  if (process.env.PETREL_E2E_EXPECT_READY === '1') {
    await waitFor(async () => {
      const o = await client.get('mqtt.petrel.dev/v1alpha1', 'MqttCluster', ns, 'petrel');
      return o?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True';
    }, 'Ready=True', 600_000);
  }
});

test('e2e: deleting the MqttCluster lets the garbage collector remove its objects', { skip, timeout: 300_000 }, async () => {
  await client.delete('mqtt.petrel.dev/v1alpha1', 'MqttCluster', ns, 'petrel');
  await waitFor(async () => !(await client.get('apps/v1', 'StatefulSet', ns, 'petrel-core')), 'StatefulSet collected', 120_000);
  await waitFor(async () => !(await client.get('v1', 'ConfigMap', ns, 'petrel-config')), 'ConfigMap collected', 120_000);
});
