/**
 * Shared set-up for the operator controller tests: the FAKE API server with Petrel's CRD (crds/)
 * and the third-party CRDs installed, a Controller pointed at it, and a "fake kubelet" that writes
 * the status a real cluster's controllers would (workloads ready, load-balancer addresses).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import type { NodeRow, NodesFetcher } from '../../../operator/src/controller/broker-api.js';
import { Controller, type ControllerOptions } from '../../../operator/src/controller/controller.js';
import { silentOperatorLogger } from '../../../operator/src/controller/logger.js';
import { startFakeKubeApiServer, type FakeKubeApiServer } from '../../support/fake-kube-apiserver.js';
import { CERTIFICATE_CRD, DNSENDPOINT_CRD } from '../../support/fake-kube/third-party-crds.js';

export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 20; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('no package.json above ' + fileURLToPath(import.meta.url));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 25ms until it returns a truthy value; fails with `what` after `ms`. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, ms = 8000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(25);
  }
}

export async function startFake(namespaces = ['default', 'iot']): Promise<FakeKubeApiServer> {
  const fake = await startFakeKubeApiServer({ namespaces });
  fake.installCrd(path.join(repoRoot(), 'crds', 'mqtt.petrel.dev_mqttclusters.yaml'));
  fake.installCrd(DNSENDPOINT_CRD);
  fake.installCrd(CERTIFICATE_CRD);
  return fake;
}

export function kubeConfigFor(fake: FakeKubeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig());
  return kc;
}

/**
 * Stands in for the brokers' GET /api/v5/nodes when a test has no broker processes: every ready
 * pod the fake kubelet reports (the StatefulSet's and each Deployment's readyReplicas) is a running
 * cluster member, so ClusterJoined follows pod readiness. cluster-join.test.ts uses real HTTP.
 */
export function fakeMembership(fake: FakeKubeApiServer): NodesFetcher {
  return async (target) => {
    const cluster = target.cluster;
    const rows: NodeRow[] = [];
    const sts = fake.find('apps/v1', 'StatefulSet', target.namespace, `${cluster}-core`);
    for (let i = 0; i < (sts?.status?.readyReplicas ?? 0); i++) {
      rows.push({ node: `${cluster}-core-${i}@${cluster}-core-${i}.${cluster}-core-headless.${target.namespace}.svc`, node_status: 'running', role: 'core', region: '' });
    }
    for (const d of fake.listKind('apps/v1', 'Deployment', target.namespace)) {
      if (d.metadata.labels?.['app.kubernetes.io/instance'] !== cluster) continue;
      const region = d.metadata.labels['mqtt.petrel.dev/region'];
      for (let i = 0; i < (d.status?.readyReplicas ?? 0); i++) rows.push({ node: `${d.metadata.name}-p${i}@10.9.${rows.length}.${i}`, node_status: 'running', role: 'replica', region });
    }
    return { rows };
  };
}

export function newController(fake: FakeKubeApiServer, extra: Partial<ControllerOptions> = {}): Controller {
  return new Controller({
    kubeConfig: kubeConfigFor(fake),
    namespaces: ['iot', 'default'],
    logger: silentOperatorLogger(),
    progressRequeueMs: 100,
    baseBackoffMs: 50,
    maxBackoffMs: 1000,
    nodesFetcher: fakeMembership(fake),
    ...extra,
  });
}

export function loadExample(name: string): any {
  return yaml.load(readFileSync(path.join(repoRoot(), 'examples', name), 'utf8'));
}

export const MQC = 'mqtt.petrel.dev/v1alpha1';

export function condition(cr: any, type: string): any {
  return cr?.status?.conditions?.find((c: any) => c.type === type);
}

/**
 * What the kubelet, the StatefulSet/Deployment controllers and the cloud would write: every
 * workload in `ns` fully rolled out and ready at its spec.replicas (or only up to `maxReady`), and
 * a load-balancer address on every LoadBalancer Service. Writes only what differs.
 */
export function fakeKubelet(fake: FakeKubeApiServer, ns: string, opts: { coreReady?: (replicas: number) => number } = {}): void {
  // the HPA controller: keeps its target at least at minReplicas
  const deployType = fake.store.registry.byKind('apps', 'v1', 'Deployment')!;
  for (const hpa of fake.listKind('autoscaling/v2', 'HorizontalPodAutoscaler', ns)) {
    const d = fake.find('apps/v1', 'Deployment', ns, hpa.spec.scaleTargetRef.name);
    const min = hpa.spec.minReplicas ?? 1;
    if (d && (d.spec.replicas ?? 1) < min) {
      fake.store.patch(deployType, ns, d.metadata.name, 'application/merge-patch+json', { spec: { replicas: min } }, { manager: 'horizontal-pod-autoscaler' });
    }
  }
  for (const kind of ['StatefulSet', 'Deployment']) {
    for (const o of fake.listKind('apps/v1', kind, ns)) {
      const replicas = o.spec?.replicas ?? 1;
      const ready = kind === 'StatefulSet' && opts.coreReady ? opts.coreReady(replicas) : replicas;
      const status = {
        observedGeneration: o.metadata.generation, replicas, readyReplicas: ready, updatedReplicas: replicas,
        availableReplicas: ready, ...(kind === 'StatefulSet' ? { currentReplicas: replicas } : {}),
      };
      if (JSON.stringify(o.status ?? {}) !== JSON.stringify(status)) fake.setStatus('apps/v1', kind, ns, o.metadata.name, status, 'kube-controller-manager');
    }
  }
  let n = 10;
  for (const svc of fake.listKind('v1', 'Service', ns)) {
    n++;
    if (svc.spec?.type !== 'LoadBalancer' || svc.status?.loadBalancer?.ingress?.length) continue;
    fake.setStatus('v1', 'Service', ns, svc.metadata.name, { loadBalancer: { ingress: [{ ip: `203.0.113.${n}` }] } }, 'cloud-controller-manager');
  }
}
