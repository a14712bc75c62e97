/**
 * The MqttCluster custom resource (mqtt.petrel.dev/v1alpha1): one object that describes a whole
 * Petrel deployment — an etcd-backed core (StatefulSet), replica brokers per region, listeners,
 * TLS, broker config and DNS.
 *
 * The field tree is written once, in spec-schema.ts and status-schema.ts (schema language of
 * schema.ts). This module derives from it the TypeScript types, defaulting (`withDefaults`) and
 * validation (`validate`, which mirrors the CRD's CEL rules); crd.ts derives the CRD.
 */
import yaml from 'js-yaml';
import { applyDefaults, checkStructure, type Input, type Output } from './schema.js';
import { API_VERSION, DEFAULT_REGION_REPLICAS, KIND, REGION_LABEL } from './constants.js';
import { managedEtcd, ROOT_RULES, specSchema } from './spec-schema.js';
import { statusSchema } from './status-schema.js';

export * from './constants.js';
export { specSchema, ROOT_RULES, managedEtcd, type PodTemplateOverride } from './spec-schema.js';
export { statusSchema } from './status-schema.js';

// ---------------------------------------------------------------------------------------------
// Types

/** The spec as a user writes it (defaulted fields optional). */
export type MqttClusterSpec = Input<typeof specSchema>;
/** The spec after schema defaults (what the API server stores). */
export type DefaultedSpec = Output<typeof specSchema>;
export type MqttClusterStatus = Output<typeof statusSchema>;
export type Condition = NonNullable<MqttClusterStatus['conditions']>[number];
export type RegionStatus = NonNullable<MqttClusterStatus['regions']>[number];

export type ConditionType = 'Ready' | 'Progressing' | 'Degraded' | 'CoreReady' | 'ReplicasReady' | 'ClusterJoined' | 'DNSReady' | 'ConfigApplied';
export const CONDITION_TYPES: readonly ConditionType[] = ['Ready', 'Progressing', 'Degraded', 'CoreReady', 'ReplicasReady', 'ClusterJoined', 'DNSReady', 'ConfigApplied'];

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

export interface MqttCluster {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: MqttClusterSpec;
  status?: MqttClusterStatus;
}

type DefaultedRegion = DefaultedSpec['regions'][number];
/** A region after `withDefaults`: nodeSelector filled, replicas set unless autoscaling owns it. */
export type ResolvedRegion = Omit<DefaultedRegion, 'nodeSelector'> & { nodeSelector: Record<string, string> };
export type ResolvedSpec = Omit<DefaultedSpec, 'regions'> & { regions: ResolvedRegion[] };
export type ListenerSpec = DefaultedSpec['listeners'][number];
export type TlsSpec = NonNullable<DefaultedSpec['tls']>;
export type DnsSpec = DefaultedSpec['dns'];
export type CoreSpec = DefaultedSpec['core'];
export type EtcdSpec = DefaultedSpec['etcd'];

/** An MqttCluster with every default applied: the input of the builders. */
export interface ResolvedMqttCluster {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta & { namespace: string };
  spec: ResolvedSpec;
  status?: MqttClusterStatus;
}


/**
 * Applies the CRD's schema defaults (as the API server does), then the defaults a schema cannot
 * express: a region's nodeSelector ({topology.kubernetes.io/region: <name>}) and replicas (2 when
 * autoscaling is not set), and the namespace ("default" when absent, as kubectl would).
 * Does not validate: call `validate` first.
 */
export function withDefaults(cr: MqttCluster): ResolvedMqttCluster {
  const spec = applyDefaults(specSchema.node, cr.spec ?? {}) as DefaultedSpec;
  const regions: ResolvedRegion[] = spec.regions.map((r) => {
    const out: ResolvedRegion = { ...r, nodeSelector: r.nodeSelector ?? { [REGION_LABEL]: r.name } };
    if (r.autoscaling) delete out.replicas;
    else out.replicas = r.replicas ?? DEFAULT_REGION_REPLICAS;
    return out;
  });
  // etcd: managed unless external; the managed block gets its defaults even when written as `etcd: {}`.
  if (spec.etcd.external) delete spec.etcd.managed;
  else spec.etcd.managed = applyDefaults(managedEtcd.node, spec.etcd.managed ?? {}) as NonNullable<DefaultedSpec['etcd']['managed']>;
  const out: ResolvedMqttCluster = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { ...structuredClone(cr.metadata), namespace: cr.metadata?.namespace ?? 'default' },
    spec: { ...spec, regions },
  };
  if (cr.status) out.status = structuredClone(cr.status);
  return out;
}

/**
 * Everything wrong with `cr`, as the API server would report it (schema, then the CEL rules'
 * TypeScript twins), each message prefixed with the field path. Empty when valid.
 */
export function validate(cr: unknown): string[] {
  const errs: string[] = [];
  const o = cr as Record<string, any> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return ['<root>: must be an object'];
  if (o.apiVersion !== API_VERSION) errs.push(`apiVersion: must be ${API_VERSION} (got ${JSON.stringify(o.apiVersion)})`);
  if (o.kind !== KIND) errs.push(`kind: must be ${KIND} (got ${JSON.stringify(o.kind)})`);
  if (typeof o.metadata?.name !== 'string' || o.metadata.name === '') errs.push('metadata.name: required');
  else for (const r of ROOT_RULES) if (!r.check(o)) errs.push(`metadata.name: ${r.message}`);
  for (const k of Object.keys(o)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(k)) errs.push(`${k}: unknown field "${k}"`);
  }
  if (o.spec === undefined || o.spec === null) return [...errs, 'spec: required'];
  const spec = applyDefaults(specSchema.node, o.spec) as any;
  errs.push(...checkStructure(specSchema.node, spec, 'spec'));
  if (typeof spec?.config?.data === 'string') errs.push(...checkConfigData(spec.config.data));
  return errs;
}

/**
 * config.data must be a YAML mapping (or empty) and leave api_key.bootstrap_file to the operator:
 * the API server cannot check this, the operator does.
 */
function checkConfigData(data: string): string[] {
  let parsed: unknown;
  try {
    parsed = yaml.load(data);
  } catch (e) {
    return [`spec.config.data: not valid YAML: ${(e as Error).message.split('\n')[0]}`];
  }
  if (parsed === null || parsed === undefined) return [];
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return ['spec.config.data: must be a YAML mapping (key: value)'];
  const apiKey = (parsed as Record<string, any>).api_key;
  if (apiKey && typeof apiKey === 'object' && 'bootstrap_file' in apiKey) {
    // The broker reads one key file and the operator's own key must be in it (see desired/api-key.ts).
    return ['spec.config.data: api_key.bootstrap_file is set by the operator (its key file /etc/petrel/operator-api-key/api-keys); add your own "key:secret" lines to that file through the Secret <name>-operator-api-key instead'];
  }
  return [];
}
