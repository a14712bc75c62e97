/**
 * Names, labels and owner references of everything an MqttCluster owns. Every builder takes its
 * names from here, so the controller (which finds, diffs and deletes objects by these names and
 * labels) and the builders always agree.
 *
 *   <name>-core            StatefulSet, client Service, PodDisruptionBudget
 *   <name>-core-headless   headless Service (stable pod names for etcd peers)
 *   <name>-config          ConfigMap with the rendered broker config
 *   <name>-tls             cert-manager Certificate (and its Secret) when tls.certManager is set
 *   <name>-<region>        Deployment, Service, PodDisruptionBudget, HPA, DNSEndpoint per region
 *   <name>-<region>-api    ClusterIP Service of the region's HTTP API (the operator asks it /api/v5/nodes)
 *   <name>-operator-api-key Secret with the API key the operator uses on the brokers' HTTP API
 *   <name>-global          DNSEndpoint for the global hostname when dns.routing is None
 */
import { API_VERSION, KIND, type ObjectMeta, type OwnerReference, type ResolvedMqttCluster } from '../api/types.js';

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_REGION = 'mqtt.petrel.dev/region';
export const APP_NAME = 'petrel';
export const MANAGER = 'petrel-operator';
/** Server-side apply field manager name the controller uses. */
export const FIELD_MANAGER = MANAGER;

export const ANNOTATION_CONFIG_HASH = 'mqtt.petrel.dev/config-hash';
export const ANNOTATION_TLS_HASH = 'mqtt.petrel.dev/tls-hash';
/** Hash of the operator's API key file: a new key (the Secret was deleted) rolls the pods, which read it at start. */
export const ANNOTATION_API_KEY_HASH = 'mqtt.petrel.dev/api-key-hash';

export type Component = 'core' | 'replica' | 'config' | 'dns' | 'tls' | 'api-key';

export const names = {
  core: (cr: ResolvedMqttCluster) => `${cr.metadata.name}-core`,
  coreHeadless: (cr: ResolvedMqttCluster) => `${cr.metadata.name}-core-headless`,
  corePod: (cr: ResolvedMqttCluster, i: number) => `${cr.metadata.name}-core-${i}`,
  config: (cr: ResolvedMqttCluster) => `${cr.metadata.name}-config`,
  certificate: (cr: ResolvedMqttCluster) => `${cr.metadata.name}-tls`,
  region: (cr: ResolvedMqttCluster, region: string) => `${cr.metadata.name}-${region}`,
  regionApi: (cr: ResolvedMqttCluster, region: string) => `${cr.metadata.name}-${region}-api`,
  apiKeySecret: (cr: ResolvedMqttCluster) => `${cr.metadata.name}-operator-api-key`,
  globalDns: (cr: ResolvedMqttCluster) => `${cr.metadata.name}-global`,
  /** The Secret holding the server certificate (user's, or the one cert-manager writes). */
  tlsSecret: (cr: ResolvedMqttCluster): string | null =>
    cr.spec.tls?.secretName ?? (cr.spec.tls?.certManager ? `${cr.metadata.name}-tls` : null),
};

/** Stable DNS name of core pod `i`: `<name>-core-<i>.<name>-core-headless.<ns>.svc`. */
export function corePodHost(cr: ResolvedMqttCluster, i: number): string {
  return `${names.corePod(cr, i)}.${names.coreHeadless(cr)}.${cr.metadata.namespace}.svc`;
}

/** Labels a selector uses: they never change for the life of the object. */
export function selectorLabels(cr: ResolvedMqttCluster, component: Component, region?: string): Record<string, string> {
  const l: Record<string, string> = {
    [LABEL_NAME]: APP_NAME,
    [LABEL_INSTANCE]: cr.metadata.name,
    [LABEL_COMPONENT]: component,
  };
  if (region !== undefined) l[LABEL_REGION] = region;
  return l;
}

/** All labels of an owned object (selector labels plus managed-by). */
export function labels(cr: ResolvedMqttCluster, component: Component, region?: string): Record<string, string> {
  return { ...selectorLabels(cr, component, region), [LABEL_MANAGED_BY]: MANAGER };
}

/** The controller owner reference, or none when the MqttCluster has no uid yet (render). */
export function ownerReferences(cr: ResolvedMqttCluster): OwnerReference[] | undefined {
  if (!cr.metadata.uid) return undefined;
  return [{ apiVersion: API_VERSION, kind: KIND, name: cr.metadata.name, uid: cr.metadata.uid, controller: true, blockOwnerDeletion: true }];
}

/** metadata for an owned object. */
export function meta(
  cr: ResolvedMqttCluster,
  name: string,
  component: Component,
  region?: string,
  annotations?: Record<string, string>,
): ObjectMeta & { namespace: string; labels: Record<string, string> } {
  const m: ObjectMeta & { namespace: string; labels: Record<string, string> } = {
    name,
    namespace: cr.metadata.namespace,
    labels: labels(cr, component, region),
  };
  if (annotations && Object.keys(annotations).length) m.annotations = annotations;
  const owners = ownerReferences(cr);
  if (owners) m.ownerReferences = owners;
  return m;
}
