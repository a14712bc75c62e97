/**
 * Everything an MqttCluster should own, as plain objects ready for server-side apply, in the order
 * they should be applied: the operator's API key Secret and the config first (pods mount them), then the core, then each region (Service
 * before Deployment, so DNS targets can appear while pods start), then DNS.
 *
 * Pure: the same MqttCluster and observations give the same objects. The observations are what a
 * builder cannot know from the spec: the region Services' load-balancer addresses (DNS targets),
 * the TLS Secret's contents (its hash rolls the pods when the certificate is renewed) and the
 * operator's API key (random, generated once by the controller and read back from its Secret).
 */
import { validate, withDefaults, type MqttCluster, type ResolvedMqttCluster } from '../api/types.js';
import { apiKeyHash, buildApiKeySecret, type ApiKey } from './api-key.js';
import { buildCertificate } from './certificate.js';
import { buildConfigMap, configHash, secretHash } from './config-map.js';
import { buildCoreClientService, buildCoreHeadlessService, buildCorePodDisruptionBudget, buildCoreStatefulSet, etcdMembers } from './core.js';
import { buildGlobalDnsEndpoint, buildRegionDnsEndpoint, type ObservedService } from './dns-endpoint.js';
import { ANNOTATION_API_KEY_HASH, ANNOTATION_CONFIG_HASH, ANNOTATION_TLS_HASH, names } from './meta.js';
import {
  buildRegionApiService,
  buildRegionDeployment,
  buildRegionHorizontalPodAutoscaler,
  buildRegionPodDisruptionBudget,
  buildRegionService,
} from './region.js';

export * from './meta.js';
export { configHash, renderBrokerConfig, secretHash, buildConfigMap } from './config-map.js';
export { buildCoreStatefulSet, buildCoreHeadlessService, buildCoreClientService, buildCorePodDisruptionBudget, etcdMembers, initialCluster } from './core.js';
export type { EtcdMember } from './core.js';
export { buildRegionDeployment, buildRegionService, buildRegionApiService, buildRegionPodDisruptionBudget, buildRegionHorizontalPodAutoscaler } from './region.js';
export { buildRegionDnsEndpoint, buildGlobalDnsEndpoint, loadBalancerTargets } from './dns-endpoint.js';
export type { DNSEndpoint, ObservedService } from './dns-endpoint.js';
export { buildCertificate } from './certificate.js';
export {
  API_KEY_DIR, API_KEYS_FILE_KEY, API_KEYS_PATH, OPERATOR_API_KEY_NAME,
  apiKeyHash, apiKeysFile, basicAuth, buildApiKeySecret, generateApiKey, parseApiKeySecret,
} from './api-key.js';
export type { ApiKey } from './api-key.js';

/** What the controller has observed in the cluster and passes to the builders. */
export interface Observed {
  /** Services by name (the region Services' status.loadBalancer gives the DNS targets). */
  services?: Record<string, ObservedService | undefined>;
  /** Secrets by name (the TLS Secret's data gives the TLS hash). */
  secrets?: Record<string, { data?: Record<string, string> | null } | undefined>;
  /**
   * The operator's API key (read back from its Secret, or freshly generated). Without it the
   * Secret is left out and no api-key hash is set; the pods still mount the Secret by name.
   */
  apiKey?: ApiKey;
}

/** A desired object: apiVersion, kind, metadata (name, namespace, labels, ownerReferences) and the rest. */
export interface DesiredObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** Kinds the operator may own, for listing and pruning (what RBAC must cover). */
export const OWNED_KINDS = [
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets' },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', plural: 'certificates' },
  { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets' },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers' },
  { apiVersion: 'externaldns.k8s.io/v1alpha1', kind: 'DNSEndpoint', plural: 'dnsendpoints' },
] as const;

export class InvalidSpecError extends Error {
  readonly errors: string[];
  constructor(errors: string[]) {
    super(`invalid MqttCluster:\n  ${errors.join('\n  ')}`);
    this.name = 'InvalidSpecError';
    this.errors = errors;
  }
}

/** Validates and defaults; throws InvalidSpecError listing every problem. */
export function resolve(cr: MqttCluster | ResolvedMqttCluster): ResolvedMqttCluster {
  const errors = validate(cr);
  if (errors.length) throw new InvalidSpecError(errors);
  return withDefaults(cr as MqttCluster);
}

/** The pod-template annotations: config hash always, TLS hash once the Secret has been observed, API key hash when known. */
export function podTemplateHashes(cr: ResolvedMqttCluster, observed: Observed = {}): Record<string, string> {
  const h: Record<string, string> = { [ANNOTATION_CONFIG_HASH]: configHash(cr) };
  const tls = names.tlsSecret(cr);
  const secret = tls ? observed.secrets?.[tls] : undefined;
  if (secret) h[ANNOTATION_TLS_HASH] = secretHash(secret);
  if (observed.apiKey) h[ANNOTATION_API_KEY_HASH] = apiKeyHash(observed.apiKey);
  return h;
}

/** Every object the MqttCluster should own, in apply order. Throws InvalidSpecError on an invalid spec. */
export function desiredObjects(input: MqttCluster | ResolvedMqttCluster, observed: Observed = {}): DesiredObject[] {
  const cr = resolve(input);
  const hashes = podTemplateHashes(cr, observed);
  const services = observed.services ?? {};
  const out: unknown[] = [
    observed.apiKey ? buildApiKeySecret(cr, observed.apiKey) : null,
    buildConfigMap(cr, cr.spec.etcd.external ? undefined : etcdMembers(cr)),
    buildCertificate(cr),
    buildCoreHeadlessService(cr),
    buildCoreClientService(cr),
    buildCorePodDisruptionBudget(cr),
    buildCoreStatefulSet(cr, hashes),
  ];
  for (const r of cr.spec.regions) {
    out.push(
      buildRegionService(cr, r),
      buildRegionApiService(cr, r),
      buildRegionDeployment(cr, r, hashes),
      buildRegionPodDisruptionBudget(cr, r),
      buildRegionHorizontalPodAutoscaler(cr, r),
      buildRegionDnsEndpoint(cr, r, services[names.region(cr, r.name)]),
    );
  }
  out.push(buildGlobalDnsEndpoint(cr, services));
  return out.filter((o): o is DesiredObject => o !== null);
}
