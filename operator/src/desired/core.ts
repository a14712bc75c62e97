/**
 * The core: one StatefulSet whose pods each run an etcd member (unless etcd is external) and a core
 * broker that talks to its local member on 127.0.0.1:2379; a headless Service that gives the pods
 * stable DNS names (published before they are ready, so etcd members can find each other while
 * the cluster forms); a client Service for etcd and the HTTP API; and a PodDisruptionBudget that
 * never lets more than one member go at once.
 *
 * Pods start in parallel (an etcd cluster cannot form one member at a time) and a scaled-down
 * member's volume is deleted with it, so a later scale-up starts that member from empty.
 */
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { ResolvedMqttCluster } from '../api/types.js';
import { API_PORT, CLUSTER_LINK_PORT, ETCD_CLIENT_PORT, ETCD_MEMBERS_KEY, ETCD_PEER_PORT, enabledListeners, listenerTransport } from './config-map.js';
import { ETCD_BOOTSTRAP_SCRIPT } from './etcd-bootstrap.js';
import { corePodHost, meta, names, selectorLabels } from './meta.js';
import {
  applyPodTemplateOverride,
  brokerContainer,
  commonVolumes,
  containerSecurityContext,
  imagePullSecrets,
  podSecurityContext,
  TERMINATION_GRACE_SECONDS,
  type Container,
} from './pod.js';

export const ETCD_DATA_DIR = '/var/lib/etcd/data';
export const ETCD_RUN_DIR = '/var/run/etcd';
export const ETCD_CONFIG_FILE = `${ETCD_RUN_DIR}/etcd.conf.yml`;
/** Where the init container sees the cluster ConfigMap (for the etcd member list). */
export const INIT_CONFIG_DIR = '/etc/petrel-init';

export interface EtcdMember {
  name: string;
  peer: string;
  client: string;
}

/** The etcd members a core of `replicas` pods has, by stable name. */
export function etcdMembers(cr: ResolvedMqttCluster, replicas = cr.spec.core.replicas): EtcdMember[] {
  return Array.from({ length: replicas }, (_, i) => {
    const host = corePodHost(cr, i);
    return { name: names.corePod(cr, i), peer: `http://${host}:${ETCD_PEER_PORT}`, client: `http://${host}:${ETCD_CLIENT_PORT}` };
  });
}

/** etcd's --initial-cluster value: `<pod>=http://<pod>.<headless>.<ns>.svc:2380,...`. */
export function initialCluster(cr: ResolvedMqttCluster, replicas = cr.spec.core.replicas): string {
  return etcdMembers(cr, replicas).map((m) => `${m.name}=${m.peer}`).join(',');
}

/** The etcd endpoints core brokers use: their own member, or the external cluster. */
export function coreEtcdEndpoints(cr: ResolvedMqttCluster): string[] {
  return cr.spec.etcd.external ? cr.spec.etcd.external.endpoints : [`http://127.0.0.1:${ETCD_CLIENT_PORT}`];
}

/** The etcd endpoints replica brokers use: the core client Service, or the external cluster. */
export function replicaEtcdEndpoints(cr: ResolvedMqttCluster): string[] {
  return cr.spec.etcd.external
    ? cr.spec.etcd.external.endpoints
    : [`http://${names.core(cr)}.${cr.metadata.namespace}.svc:${ETCD_CLIENT_PORT}`];
}

function etcdInitContainer(cr: ResolvedMqttCluster): Container {
  return {
    name: 'etcd-bootstrap',
    image: cr.spec.image,
    command: ['node', '-e', ETCD_BOOTSTRAP_SCRIPT],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'ETCD_MEMBERS_FILE', value: `${INIT_CONFIG_DIR}/${ETCD_MEMBERS_KEY}` },
      { name: 'ETCD_DATA_DIR', value: ETCD_DATA_DIR },
      { name: 'ETCD_TOKEN', value: `${cr.metadata.namespace}-${cr.metadata.name}` },
      { name: 'ETCD_CONFIG_OUT', value: ETCD_CONFIG_FILE },
    ],
    volumeMounts: [
      { name: 'data', mountPath: '/var/lib/etcd', subPath: 'etcd' },
      { name: 'etcd-run', mountPath: ETCD_RUN_DIR },
      { name: 'config', mountPath: INIT_CONFIG_DIR, readOnly: true },
    ],
    securityContext: containerSecurityContext(),
  };
}

function etcdContainer(cr: ResolvedMqttCluster): Container {
  const managed = cr.spec.etcd.managed!;
  const c: Container = {
    name: 'etcd',
    image: managed.image,
    command: ['/usr/local/bin/etcd', `--config-file=${ETCD_CONFIG_FILE}`],
    ports: [
      { name: 'etcd-client', containerPort: ETCD_CLIENT_PORT, protocol: 'TCP' },
      { name: 'etcd-peer', containerPort: ETCD_PEER_PORT, protocol: 'TCP' },
    ],
    readinessProbe: { httpGet: { path: '/health', port: 'etcd-client' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
    livenessProbe: {
      httpGet: { path: '/health?serializable=true', port: 'etcd-client' },
      initialDelaySeconds: 15,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 8,
    },
    volumeMounts: [
      { name: 'data', mountPath: '/var/lib/etcd', subPath: 'etcd' },
      { name: 'etcd-run', mountPath: ETCD_RUN_DIR, readOnly: true },
    ],
    securityContext: containerSecurityContext(),
  };
  if (managed.resources) c.resources = managed.resources;
  return c;
}

export function buildCoreStatefulSet(cr: ResolvedMqttCluster, hashes: Record<string, string>): IStatefulSet {
  const core = cr.spec.core;
  const managed = !cr.spec.etcd.external;
  const select = selectorLabels(cr, 'core');
  const placement = core.placement ?? {};
  const broker = brokerContainer(cr, { role: 'core', etcdEndpoints: coreEtcdEndpoints(cr), resources: core.resources });
  const volumes = commonVolumes(cr);
  if (managed) volumes.push({ name: 'etcd-run', emptyDir: {} });
  let template: IPodTemplateSpec = {
    metadata: { labels: { ...meta(cr, '', 'core').labels }, annotations: hashes },
    spec: {
      ...(managed ? { initContainers: [etcdInitContainer(cr)] } : {}),
      containers: managed ? [etcdContainer(cr), broker] : [broker],
      volumes,
      securityContext: podSecurityContext(),
      terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
      enableServiceLinks: false,
      affinity: placement.affinity ?? {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: select } } },
          ],
        },
      },
    },
  };
  const spec = template.spec!;
  if (placement.nodeSelector) spec.nodeSelector = placement.nodeSelector;
  if (placement.tolerations) spec.tolerations = placement.tolerations as any;
  if (placement.topologySpreadConstraints) spec.topologySpreadConstraints = placement.topologySpreadConstraints as any;
  if (placement.priorityClassName) spec.priorityClassName = placement.priorityClassName;
  const pull = imagePullSecrets(cr);
  if (pull) spec.imagePullSecrets = pull;
  template = applyPodTemplateOverride(template, core.podTemplate);

  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(cr, names.core(cr), 'core'),
    spec: {
      serviceName: names.coreHeadless(cr),
      replicas: core.replicas,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Retain' },
      selector: { matchLabels: select },
      template,
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: 'data', labels: select },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: String(core.storage.size) } },
            ...(core.storage.storageClassName ? { storageClassName: core.storage.storageClassName } : {}),
          },
        },
      ],
    },
  };
}

/** Headless Service: stable per-pod DNS names, published before readiness so etcd can form. */
export function buildCoreHeadlessService(cr: ResolvedMqttCluster): IService {
  const ports: NonNullable<NonNullable<IService['spec']>['ports']> = [
    { name: 'http', port: API_PORT, targetPort: 'http', protocol: 'TCP' },
    { name: 'cluster', port: CLUSTER_LINK_PORT, targetPort: 'cluster', protocol: 'TCP' },
  ];
  if (!cr.spec.etcd.external) {
    ports.unshift(
      { name: 'etcd-client', port: ETCD_CLIENT_PORT, targetPort: 'etcd-client', protocol: 'TCP' },
      { name: 'etcd-peer', port: ETCD_PEER_PORT, targetPort: 'etcd-peer', protocol: 'TCP' },
    );
  }
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cr, names.coreHeadless(cr), 'core'),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(cr, 'core'),
      ports,
    },
  };
}

/** Client Service of the core: etcd (for replicas), the HTTP API and the listeners. */
export function buildCoreClientService(cr: ResolvedMqttCluster): IService {
  const ports: NonNullable<NonNullable<IService['spec']>['ports']> = enabledListeners(cr).map((l) => ({
    name: l.name,
    port: l.port,
    targetPort: l.name,
    protocol: listenerTransport(l),
  }));
  ports.push({ name: 'http', port: API_PORT, targetPort: 'http', protocol: 'TCP' });
  if (!cr.spec.etcd.external) ports.push({ name: 'etcd-client', port: ETCD_CLIENT_PORT, targetPort: 'etcd-client', protocol: 'TCP' });
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cr, names.core(cr), 'core'),
    spec: { type: 'ClusterIP', selector: selectorLabels(cr, 'core'), ports },
  };
}

/** At most one core pod may be evicted at a time (etcd keeps its majority). */
export function buildCorePodDisruptionBudget(cr: ResolvedMqttCluster): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(cr, names.core(cr), 'core'),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(cr, 'core') } },
  };
}
