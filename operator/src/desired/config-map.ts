/**
 * The broker config file every Petrel pod reads (/etc/petrel/petrel.yaml), rendered into one
 * ConfigMap. The user's `spec.config.data` is the base; the operator's keys are merged over it and
 * win: `listeners` (replaced whole, so no port opens that the Services do not expose), `node.*`,
 * `cluster.*`, `dashboard.listeners.http` (the status/drain endpoints the probes use),
 * `api_key.bootstrap_file`, and what spec.access / spec.tls set (access.ts) (the operator's key file, see api-key.ts; a user value is refused by
 * validate()). What differs per pod (node name, role, region, etcd endpoints) comes
 * from environment variables instead, so one file serves core and replica pods alike.
 *
 * The hash of the rendered file goes on the pod templates: changing the config rolls the pods.
 */
import { createHash } from 'node:crypto';
import yaml from 'js-yaml';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ListenerSpec, ResolvedMqttCluster } from '../api/types.js';
import { API_KEYS_PATH } from './api-key.js';
import { accessConfig, tlsDepthOptions } from './access.js';
import { meta, names } from './meta.js';

export const CONFIG_FILE_KEY = 'petrel.yaml';
/** ConfigMap key with the etcd member list the core pods' init container reads (managed etcd). */
export const ETCD_MEMBERS_KEY = 'etcd-members.json';
export const CONFIG_DIR = '/etc/petrel';
export const CONFIG_PATH = `${CONFIG_DIR}/${CONFIG_FILE_KEY}`;
export const TLS_DIR = '/etc/petrel/tls';
export const ETCD_TLS_DIR = '/etc/petrel/etcd-tls';
export const DATA_DIR = '/var/lib/petrel';
export const API_PORT = 18083;
export const CLUSTER_LINK_PORT = 5370;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const STATUS_PATH = '/status';
export const DRAIN_PATH = '/api/v5/node/drain';

/** Broker listener type for a listener spec: the key under `listeners.<type>.<name>`. */
export function listenerType(l: ListenerSpec): string {
  switch (l.protocol) {
    case 'mqtt':
      return l.tls ? 'ssl' : 'tcp';
    case 'ws':
      return l.tls ? 'wss' : 'ws';
    default:
      return l.protocol;
  }
}

/** Every listener the broker serves today (mqtt, ws) is TCP; the UDP gateways will add UDP here. */
export function listenerTransport(_l: ListenerSpec): 'TCP' | 'UDP' {
  return 'TCP';
}

export function enabledListeners(cr: ResolvedMqttCluster): ListenerSpec[] {
  return cr.spec.listeners.filter((l) => l.enabled);
}

/** Listener types the broker has default entries for (named `default`), which the operator removes. */
const BROKER_DEFAULT_LISTENER_TYPES = ['tcp', 'ssl', 'ws', 'wss'] as const;

/**
 * The operator-owned part of the broker config (key names as in the broker's config schema):
 * `listeners.<type>.<name>` for every enabled listener and `default: null` to drop the broker's
 * built-in default listeners, `node.data_dir`, `cluster.*`, `dashboard.listeners.http` and
 * `api_key.bootstrap_file`.
 */
export function ownedConfig(cr: ResolvedMqttCluster): Record<string, any> {
  const listeners: Record<string, Record<string, unknown>> = {};
  for (const type of BROKER_DEFAULT_LISTENER_TYPES) listeners[type] = { default: null };
  for (const l of enabledListeners(cr)) {
    const entry: Record<string, unknown> = { enable: true, bind: `0.0.0.0:${l.port}` };
    if (l.protocol === 'ws') entry.websocket = { mqtt_path: l.path ?? '/mqtt' };
    if (l.tls) entry.ssl_options = { certfile: `${TLS_DIR}/tls.crt`, keyfile: `${TLS_DIR}/tls.key`, ...tlsDepthOptions(cr, TLS_DIR) };
    (listeners[listenerType(l)] ??= {})[l.name] = entry;
  }
  const etcd: Record<string, unknown> = { prefix: `/petrel/${cr.metadata.namespace}/${cr.metadata.name}` };
  if (cr.spec.etcd.external?.tlsSecretName) {
    etcd.ssl_options = { cacertfile: `${ETCD_TLS_DIR}/ca.crt`, certfile: `${ETCD_TLS_DIR}/tls.crt`, keyfile: `${ETCD_TLS_DIR}/tls.key` };
  }
  return {
    ...accessConfig(cr),
    node: { data_dir: DATA_DIR },
    cluster: { backend: 'etcd', etcd, link: { bind: `0.0.0.0:${CLUSTER_LINK_PORT}` } },
    dashboard: { listeners: { http: { enable: true, bind: `0.0.0.0:${API_PORT}` } } },
    api_key: { bootstrap_file: API_KEYS_PATH },
    listeners,
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `over` merged onto `base`: nested mappings merge, everything else in `over` replaces. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/** Parses `spec.config.data`; throws with a clear message when it is not a YAML mapping. */
export function parseUserConfig(data: string | undefined): Record<string, unknown> {
  if (data === undefined || data.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = yaml.load(data);
  } catch (e) {
    throw new Error(`spec.config.data: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isObj(parsed)) throw new Error('spec.config.data: must be a YAML mapping (key: value)');
  return parsed;
}

/** The complete broker config file text (stable key order, so equal configs hash equal). */
export function renderBrokerConfig(cr: ResolvedMqttCluster): string {
  const user = parseUserConfig(cr.spec.config?.data);
  delete user.listeners;
  const merged = deepMerge(user, ownedConfig(cr));
  return (
    `# Rendered by petrel-operator for MqttCluster ${cr.metadata.namespace}/${cr.metadata.name}; do not edit.\n` +
    yaml.dump(merged, { sortKeys: true, lineWidth: -1, noRefs: true })
  );
}

/** sha256 (hex, 16 characters) of a string; used for the pod-template hash annotations. */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Hash of the rendered broker config: changes exactly when the file changes. */
export function configHash(cr: ResolvedMqttCluster): string {
  return shortHash(renderBrokerConfig(cr));
}

/** Hash of a Secret's data (keys sorted), for the TLS annotation. */
export function secretHash(secret: { data?: Record<string, string> | null; stringData?: Record<string, string> | null }): string {
  const data = { ...(secret.stringData ?? {}), ...(secret.data ?? {}) };
  return shortHash(JSON.stringify(Object.keys(data).sort().map((k) => [k, data[k]])));
}

/**
 * The ConfigMap: the broker config and, with managed etcd, the etcd member list (its changes on
 * scaling reach new pods through the mounted file, not the pod template, so no pod restarts).
 */
export function buildConfigMap(cr: ResolvedMqttCluster, etcdMembers?: unknown[]): IConfigMap {
  const data: Record<string, string> = { [CONFIG_FILE_KEY]: renderBrokerConfig(cr) };
  if (etcdMembers) data[ETCD_MEMBERS_KEY] = JSON.stringify(etcdMembers, null, 2) + '\n';
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(cr, names.config(cr), 'config'),
    data,
  };
}
