/**
 * The operator's Controller run in the test process against a REAL control plane, with the chart's
 * ServiceAccount token (so the real authorizer still judges every request), for the tests that need
 * what only in-process options give: short requeue and backoff times, and a stand-in for the
 * brokers' GET /api/v5/nodes (no broker runs under kwok).
 *
 * readyPodsMembership() answers that question from the real controllers' own counts: every ready
 * pod of the cluster's StatefulSet and Deployments is a running member. It stands in for the
 * brokers, not for Kubernetes; cluster-join.test.ts asks real HTTP servers instead.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { NodeRow, NodesFetcher } from '../../../operator/src/controller/broker-api.js';
import { Controller, type ControllerOptions } from '../../../operator/src/controller/controller.js';
import { silentOperatorLogger } from '../../../operator/src/controller/logger.js';
import type { KubeControlPlane } from '../../support/kube-control-plane.js';
import { must } from './harness.js';

export function readyPodsMembership(cp: KubeControlPlane): NodesFetcher {
  return async (target) => {
    const { cluster, namespace: ns } = target;
    const rows: NodeRow[] = [];
    const sts = await must(cp, 'GET', `/apis/apps/v1/namespaces/${ns}/statefulsets/${cluster}-core`, undefined, [200, 404]);
    for (let i = 0; i < (sts.status?.readyReplicas ?? 0); i++) {
      rows.push({ node: `${cluster}-core-${i}@${cluster}-core-${i}.${cluster}-core-headless.${ns}.svc`, node_status: 'running', role: 'core', region: '' });
    }
    const sel = encodeURIComponent(`app.kubernetes.io/instance=${cluster}`);
    for (const d of (await must(cp, 'GET', `/apis/apps/v1/namespaces/${ns}/deployments?labelSelector=${sel}`)).items) {
      const region = d.metadata.labels['mqtt.petrel.dev/region'];
      for (let i = 0; i < (d.status?.readyReplicas ?? 0); i++) rows.push({ node: `${d.metadata.name}-p${i}@10.9.${rows.length}.${i}`, node_status: 'running', role: 'replica', region });
    }
    return { rows };
  };
}

/** A Controller (not started) that authenticates with `kubeconfig` (a ServiceAccount token's). */
export function realController(cp: KubeControlPlane, kubeconfig: string, extra: Partial<ControllerOptions> = {}): Controller {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return new Controller({
    kubeConfig: kc,
    namespaces: ['iot', 'default'],
    logger: silentOperatorLogger(),
    progressRequeueMs: 500,
    baseBackoffMs: 100,
    maxBackoffMs: 2000,
    nodesFetcher: readyPodsMembership(cp),
    ...extra,
  });
}

/** Writes a load-balancer address on every LoadBalancer Service in `ns` that has none, as a cloud's controller would. */
export async function assignLoadBalancers(cp: KubeControlPlane, ns: string): Promise<number> {
  let n = 0;
  for (const svc of (await must(cp, 'GET', `/api/v1/namespaces/${ns}/services`)).items) {
    n++;
    if (svc.spec.type !== 'LoadBalancer' || svc.status?.loadBalancer?.ingress?.length) continue;
    await must(cp, 'PATCH', `/api/v1/namespaces/${ns}/services/${svc.metadata.name}/status`,
      { status: { loadBalancer: { ingress: [{ ip: `203.0.113.${n}` }] } } }, [200], 'application/merge-patch+json');
  }
  return n;
}

/** `count` PersistentVolumes the core's claims can bind to (no provisioner runs; never mounted). */
export async function createVolumes(cp: KubeControlPlane, prefix: string, count: number, size = '20Gi'): Promise<void> {
  for (let i = 0; i < count; i++) {
    await must(cp, 'POST', '/api/v1/persistentvolumes', {
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `${prefix}-${i}` },
      spec: { capacity: { storage: size }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', hostPath: { path: `/tmp/petrel-kwok-${prefix}-${i}` } },
    });
  }
}
