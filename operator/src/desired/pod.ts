/**
 * The parts of a Petrel pod that core and replica pods share: the broker container (ports, env,
 * probes on /status, the preStop drain), the config, operator API key and TLS volumes, the security context, and the
 * merge of a user's podTemplate override over what the operator builds.
 *
 * The broker↔operator contract lives here and in config-map.ts (see docs/operator.md): the broker
 * reads CONFIG_PATH, takes PETREL_NODE__NAME ("pod@host") / __ROLE / __REGION and
 * PETREL_CLUSTER__ETCD__ENDPOINTS from env, serves GET /status on API_PORT (200 when it accepts
 * clients), POST /api/v5/node/drain (returns once clients are moved away) and GET /api/v5/nodes
 * (the live cluster members; the operator asks it with the key in the mounted api-key Secret).
 */
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { PodTemplateOverride, ResolvedMqttCluster } from '../api/types.js';
import {
  API_PORT,
  CLUSTER_LINK_PORT,
  CONFIG_DIR,
  CONFIG_FILE_KEY,
  CONFIG_PATH,
  DATA_DIR,
  DRAIN_PATH,
  ETCD_TLS_DIR,
  STATUS_PATH,
  TLS_DIR,
  enabledListeners,
  listenerTransport,
} from './config-map.js';
import { API_KEY_DIR, API_KEY_VOLUME } from './api-key.js';
import { names } from './meta.js';
import { accessMounts, accessVolumes } from './access.js';

type PodSpec = NonNullable<IPodTemplateSpec['spec']>;
export type Container = PodSpec['containers'][number];
export type Volume = NonNullable<PodSpec['volumes']>[number];
type EnvVar = NonNullable<Container['env']>[number];

export const BROKER_CONTAINER = 'broker';
export const ETCD_CONTAINER = 'etcd';
/** uid/gid of the `node` user in node:20-slim, which both images run as. */
export const RUN_AS_USER = 1000;
/** Seconds a replica pod gets to drain before it is killed. */
export const TERMINATION_GRACE_SECONDS = 60;
/** The drain request gives up a little before the grace period ends, so the broker still exits cleanly. */
export const DRAIN_TIMEOUT_SECONDS = TERMINATION_GRACE_SECONDS - 15;

/** preStop hook: POST the drain endpoint (kubelet's httpGet hook can only GET). */
export const DRAIN_SCRIPT =
  `fetch('http://127.0.0.1:${API_PORT}${DRAIN_PATH}?timeout=${DRAIN_TIMEOUT_SECONDS}s',` +
  `{method:'POST',signal:AbortSignal.timeout(${DRAIN_TIMEOUT_SECONDS * 1000})})` +
  `.then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))`;

export interface BrokerContainerOptions {
  role: 'core' | 'replica';
  region?: string;
  etcdEndpoints: string[];
  resources?: Container['resources'];
}

export function brokerContainer(cr: ResolvedMqttCluster, o: BrokerContainerOptions): Container {
  // Node names are "name@host" (EMQX style): the pod name at its stable DNS name (core) or its IP.
  const host = o.role === 'core' ? `$(POD_NAME).${names.coreHeadless(cr)}.${cr.metadata.namespace}.svc` : '$(POD_IP)';
  const env: EnvVar[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'PETREL_NODE__NAME', value: `$(POD_NAME)@${host}` },
    { name: 'PETREL_NODE__ROLE', value: o.role },
  ];
  if (o.region !== undefined) env.push({ name: 'PETREL_NODE__REGION', value: o.region });
  env.push({ name: 'PETREL_CLUSTER__ETCD__ENDPOINTS', value: o.etcdEndpoints.join(',') });
  const c: Container = {
    name: BROKER_CONTAINER,
    image: cr.spec.image,
    args: ['--config', CONFIG_PATH],
    ports: [
      ...enabledListeners(cr).map((l) => ({ name: l.name, containerPort: l.port, protocol: listenerTransport(l) })),
      { name: 'http', containerPort: API_PORT, protocol: 'TCP' },
      { name: 'cluster', containerPort: CLUSTER_LINK_PORT, protocol: 'TCP' },
    ],
    env,
    readinessProbe: {
      httpGet: { path: STATUS_PATH, port: 'http' },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 2,
    },
    livenessProbe: {
      httpGet: { path: STATUS_PATH, port: 'http' },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 3,
      failureThreshold: 6,
    },
    volumeMounts: [
      { name: 'config', mountPath: CONFIG_PATH, subPath: CONFIG_FILE_KEY, readOnly: true },
      { name: 'data', mountPath: DATA_DIR, ...(o.role === 'core' ? { subPath: 'broker' } : {}) },
      { name: 'tmp', mountPath: '/tmp' },
      { name: API_KEY_VOLUME, mountPath: API_KEY_DIR, readOnly: true },
    ],
    securityContext: containerSecurityContext(),
  };
  if (cr.spec.imagePullPolicy) c.imagePullPolicy = cr.spec.imagePullPolicy;
  if (o.resources) c.resources = o.resources;
  if (o.role === 'replica') {
    c.lifecycle = { preStop: { exec: { command: ['node', '-e', DRAIN_SCRIPT] } } };
  }
  if (names.tlsSecret(cr)) c.volumeMounts!.push({ name: 'tls', mountPath: TLS_DIR, readOnly: true });
  if (cr.spec.etcd.external?.tlsSecretName) c.volumeMounts!.push({ name: 'etcd-tls', mountPath: ETCD_TLS_DIR, readOnly: true });
  c.volumeMounts!.push(...accessMounts(cr));
  return c;
}

export function containerSecurityContext(): NonNullable<Container['securityContext']> {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
  };
}

export function podSecurityContext(): NonNullable<PodSpec['securityContext']> {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    fsGroup: RUN_AS_USER,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Config, operator API key, TLS and scratch volumes every broker pod has (data volumes are role-specific). */
export function commonVolumes(cr: ResolvedMqttCluster): Volume[] {
  const v: Volume[] = [
    { name: 'config', configMap: { name: names.config(cr) } },
    { name: 'tmp', emptyDir: {} },
    // 0440: root-owned, readable by the pod's fsGroup (the broker's group) only.
    { name: API_KEY_VOLUME, secret: { secretName: names.apiKeySecret(cr), defaultMode: 0o440 } },
  ];
  const tls = names.tlsSecret(cr);
  if (tls) v.push({ name: 'tls', secret: { secretName: tls } });
  const etcdTls = cr.spec.etcd.external?.tlsSecretName;
  if (etcdTls) v.push({ name: 'etcd-tls', secret: { secretName: etcdTls } });
  v.push(...accessVolumes(cr));
  return v;
}

export function imagePullSecrets(cr: ResolvedMqttCluster): PodSpec['imagePullSecrets'] {
  return cr.spec.imagePullSecrets?.map((s) => ({ name: s.name }));
}

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Lists of named items (containers, volumes, env, ports by name) merge by name; other lists replace. */
function mergeValue(base: unknown, over: unknown): unknown {
  if (isObj(base) && isObj(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = k in out ? mergeValue(out[k], v) : structuredClone(v);
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over) && [...base, ...over].every((x) => isObj(x) && typeof x.name === 'string')) {
    const out = base.map((b) => {
      const o = over.find((x) => x.name === b.name);
      return o ? mergeValue(b, o) : b;
    });
    for (const o of over) if (!base.some((b) => b.name === o.name)) out.push(structuredClone(o));
    return out;
  }
  return structuredClone(over);
}

/** Applies a user's podTemplate override: labels/annotations added, spec merged (named lists by name). */
export function applyPodTemplateOverride(t: IPodTemplateSpec, o: PodTemplateOverride | undefined): IPodTemplateSpec {
  if (!o) return t;
  const out: IPodTemplateSpec = { ...t, metadata: { ...t.metadata } };
  // Operator labels and annotations win: selectors and hashes must stay intact.
  if (o.metadata?.labels) out.metadata!.labels = { ...o.metadata.labels, ...t.metadata?.labels };
  if (o.metadata?.annotations) out.metadata!.annotations = { ...o.metadata.annotations, ...t.metadata?.annotations };
  if (o.spec) out.spec = mergeValue(t.spec, o.spec) as PodSpec;
  return out;
}
