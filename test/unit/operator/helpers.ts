/**
 * Test helpers for the operator's pure half:
 *  - `validateK8s(obj)`: checks an object against the Kubernetes OpenAPI schema of its kind
 *    (kubernetes-models' generated validators for built-in kinds; for the two CRD kinds the operator
 *    writes — external-dns DNSEndpoint and cert-manager Certificate — a strict check against the
 *    fields those CRDs define, written down below from their published API);
 *  - `checkOpenAPI(schema, value)`: a strict structural-schema checker (unknown fields are errors,
 *    as with `kubectl apply --validate=strict`), used for the generated CRD and the CRD kinds;
 *  - sample MqttClusters.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttCluster } from '../../../operator/src/api/types.js';

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 20; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('no package.json above the test file');
}

type Schema = Record<string, any>;

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Strict OpenAPI v3 structural-schema check: types, required, enum, pattern, bounds, unknown fields, list-map keys. */
export function checkOpenAPI(schema: Schema, value: unknown, path = ''): string[] {
  const at = path || '<root>';
  const errs: string[] = [];
  if (schema['x-kubernetes-int-or-string']) {
    if (typeof value === 'number') return Number.isInteger(value) ? [] : [`${at}: must be an integer or a string`];
    if (typeof value !== 'string') return [`${at}: must be an integer or a string`];
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) errs.push(`${at}: does not match ${schema.pattern}`);
    return errs;
  }
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return [`${at}: must be a string`];
      if (schema.enum && !schema.enum.includes(value)) errs.push(`${at}: ${value} not in enum`);
      if (schema.pattern && !new RegExp(schema.pattern).test(value)) errs.push(`${at}: "${value}" does not match ${schema.pattern}`);
      if (schema.maxLength !== undefined && value.length > schema.maxLength) errs.push(`${at}: too long`);
      if (schema.minLength !== undefined && value.length < schema.minLength) errs.push(`${at}: too short`);
      return errs;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return [`${at}: must be an integer`];
      if (schema.minimum !== undefined && value < schema.minimum) errs.push(`${at}: below minimum`);
      if (schema.maximum !== undefined && value > schema.maximum) errs.push(`${at}: above maximum`);
      return errs;
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${at}: must be a boolean`];
    case 'array': {
      if (!Array.isArray(value)) return [`${at}: must be an array`];
      if (schema.maxItems !== undefined && value.length > schema.maxItems) errs.push(`${at}: too many items`);
      if (schema.minItems !== undefined && value.length < schema.minItems) errs.push(`${at}: too few items`);
      value.forEach((v, i) => errs.push(...checkOpenAPI(schema.items ?? {}, v, `${path}[${i}]`)));
      if (schema['x-kubernetes-list-type'] === 'map') {
        const keys: string[] = schema['x-kubernetes-list-map-keys'];
        const seen = new Set(value.map((v) => JSON.stringify(keys.map((k) => v?.[k]))));
        if (seen.size !== value.length) errs.push(`${at}: duplicate list-map keys`);
      }
      return errs;
    }
    case 'object':
    case undefined: {
      if (schema.type === undefined && !schema.properties && !schema.additionalProperties) return [];
      if (!isObj(value)) return [`${at}: must be an object`];
      // `type: object` alone (the root `metadata`): the API server checks ObjectMeta itself.
      if (!schema.properties && !schema.additionalProperties) return [];
      for (const r of schema.required ?? []) if (value[r] === undefined) errs.push(`${path ? path + '.' : ''}${r}: required`);
      for (const [k, v] of Object.entries(value)) {
        const p = path ? `${path}.${k}` : k;
        if (schema.properties?.[k]) errs.push(...checkOpenAPI(schema.properties[k], v, p));
        else if (isObj(schema.additionalProperties)) errs.push(...checkOpenAPI(schema.additionalProperties, v, p));
        else if (!schema['x-kubernetes-preserve-unknown-fields'] && schema.additionalProperties !== true) errs.push(`${p}: unknown field`);
      }
      return errs;
    }
    default:
      return [`${at}: schema type ${schema.type} not handled by the test checker`];
  }
}

const str = { type: 'string' };
const strMap = { type: 'object', additionalProperties: str };
const objectMeta = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' },
    namespace: str,
    labels: strMap,
    annotations: strMap,
    ownerReferences: {
      type: 'array',
      items: {
        type: 'object',
        required: ['apiVersion', 'kind', 'name', 'uid'],
        properties: { apiVersion: str, kind: str, name: str, uid: str, controller: { type: 'boolean' }, blockOwnerDeletion: { type: 'boolean' } },
      },
    },
  },
};

/** DNSEndpoint (externaldns.k8s.io/v1alpha1) spec fields as external-dns defines them. */
export const DNS_ENDPOINT_SCHEMA: Schema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { type: 'string', enum: ['externaldns.k8s.io/v1alpha1'] },
    kind: { type: 'string', enum: ['DNSEndpoint'] },
    metadata: objectMeta,
    spec: {
      type: 'object',
      properties: {
        endpoints: {
          type: 'array',
          items: {
            type: 'object',
            required: ['dnsName', 'recordType'],
            properties: {
              dnsName: { type: 'string', minLength: 1, maxLength: 254, pattern: '^(\\*\\.)?([a-zA-Z0-9_]([-a-zA-Z0-9_]*[a-zA-Z0-9_])?\\.)*[a-zA-Z0-9_]([-a-zA-Z0-9_]*[a-zA-Z0-9_])?\\.?$' },
              targets: { type: 'array', items: { type: 'string', minLength: 1 } },
              recordType: { type: 'string', enum: ['A', 'AAAA', 'CNAME', 'DNAME', 'MX', 'NAPTR', 'NS', 'PTR', 'SRV', 'TLSA', 'TXT'] },
              setIdentifier: { type: 'string', maxLength: 255 },
              recordTTL: { type: 'integer', minimum: 0 },
              labels: strMap,
              providerSpecific: {
                type: 'array',
                items: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 }, value: str } },
              },
            },
          },
        },
      },
    },
  },
};

/** Certificate (cert-manager.io/v1): the spec fields the operator uses, as cert-manager defines them. */
export const CERTIFICATE_SCHEMA: Schema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { type: 'string', enum: ['cert-manager.io/v1'] },
    kind: { type: 'string', enum: ['Certificate'] },
    metadata: objectMeta,
    spec: {
      type: 'object',
      required: ['issuerRef', 'secretName'],
      properties: {
        secretName: str,
        commonName: str,
        dnsNames: { type: 'array', items: str },
        duration: str,
        renewBefore: str,
        issuerRef: { type: 'object', required: ['name'], properties: { name: str, kind: str, group: str } },
        usages: {
          type: 'array',
          items: {
            type: 'string',
            enum: ['signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment', 'cert sign', 'crl sign', 'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc'],
          },
        },
      },
    },
  },
};

/** kubernetes-models module path for an apiVersion/kind, e.g. apps/v1 Deployment → kubernetes-models/apps/v1/Deployment. */
function modelPath(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** Schema errors of a Kubernetes object (empty when valid). Throws for a kind it cannot check. */
export async function validateK8s(obj: Record<string, any>): Promise<string[]> {
  if (obj.kind === 'DNSEndpoint') return checkOpenAPI(DNS_ENDPOINT_SCHEMA, obj);
  if (obj.kind === 'Certificate') return checkOpenAPI(CERTIFICATE_SCHEMA, obj);
  const mod = (await import(modelPath(obj.apiVersion, obj.kind))) as Record<string, any>;
  const Model = mod[obj.kind];
  if (!Model) throw new Error(`no kubernetes-models class for ${obj.apiVersion} ${obj.kind}`);
  try {
    new Model(obj).validate();
    return [];
  } catch (e: any) {
    const list: any[] = e.errors ?? [];
    return list.length ? list.map((x) => `${x.instancePath} ${x.message ?? x.keyword}`) : [String(e.message)];
  }
}

export function cluster(name: string, spec: MqttCluster['spec'], extra: Partial<MqttCluster['metadata']> = {}): MqttCluster {
  return {
    apiVersion: 'mqtt.petrel.dev/v1alpha1',
    kind: 'MqttCluster',
    metadata: { name, namespace: 'iot', uid: `uid-${name}`, generation: 1, ...extra },
    spec,
  };
}

/** A set of specs covering the main shapes; each must produce valid objects. */
export const SAMPLE_SPECS: Record<string, MqttCluster> = {
  minimal: cluster('minimal', {}),
  oneRegion: cluster('one', { regions: [{ name: 'eu-west-1', replicas: 3 }] }),
  threeRegions: cluster('three', {
    regions: [
      { name: 'eu-west-1', replicas: 4, dns: { hostname: 'eu.mqtt.example.com', geo: { continent: 'EU' } } },
      { name: 'us-east-1', replicas: 2, dns: { hostname: 'us.mqtt.example.com', geo: { continent: 'NA' } } },
      { name: 'ap-southeast-1', replicas: 2, dns: { geo: { country: 'SG' } } },
    ],
    dns: { provider: 'ExternalDNS', globalHostname: 'mqtt.example.com', routing: 'Geolocation' },
  }),
  autoscaling: cluster('auto', {
    regions: [{ name: 'eu-west-1', autoscaling: { minReplicas: 2, maxReplicas: 10, targetCPUUtilizationPercentage: 60 } }],
  }),
  externalEtcd: cluster('ext', {
    core: { replicas: 1 },
    etcd: { external: { endpoints: ['https://etcd-0.etcd:2379', 'https://etcd-1.etcd:2379'], tlsSecretName: 'etcd-client' } },
    regions: [{ name: 'eu-west-1' }],
  }),
  tlsSecret: cluster('tls', {
    tls: { secretName: 'iot-tls' },
    listeners: [
      { name: 'mqtt', protocol: 'mqtt', port: 1883 },
      { name: 'mqtts', protocol: 'mqtt', port: 8883, tls: true },
      { name: 'wss', protocol: 'ws', port: 8084, tls: true },
      { name: 'off', protocol: 'mqtt', port: 1884, enabled: false },
    ],
    regions: [{ name: 'eu-west-1', service: { type: 'NodePort', externalTrafficPolicy: 'Local' } }],
  }),
  certManager: cluster('cm', {
    tls: { certManager: { issuerRef: { name: 'letsencrypt', kind: 'ClusterIssuer' }, dnsNames: ['extra.example.com'] } },
    listeners: [{ name: 'mqtts', protocol: 'mqtt', port: 8883, tls: true }],
    regions: [{ name: 'eu-west-1', dns: { hostname: 'eu.mqtt.example.com' } }],
    dns: { provider: 'ExternalDNS', globalHostname: 'mqtt.example.com', routing: 'Latency' },
  }),
  dnsNone: cluster('nodns', {
    regions: [{ name: 'eu-west-1', dns: { hostname: 'eu.mqtt.example.com' } }],
    dns: { provider: 'None', globalHostname: 'mqtt.example.com' },
  }),
  overrides: cluster('ovr', {
    imagePullPolicy: 'Always',
    imagePullSecrets: [{ name: 'regcred' }],
    core: {
      replicas: 5,
      storage: { size: '50Gi', storageClassName: 'fast' },
      resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } },
      placement: { nodeSelector: { pool: 'core' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'mqtt', effect: 'NoSchedule' }] },
      podTemplate: { metadata: { labels: { team: 'iot' } }, spec: { containers: [{ name: 'broker', env: [{ name: 'EXTRA', value: '1' }] }] } },
    },
    regions: [{ name: 'eu-west-1', nodeSelector: { pool: 'edge' }, zoneSpread: { enabled: false }, maxUnavailable: 2 }],
    config: { data: 'mqtt:\n  max_packet_size: 1MB\nlog:\n  level: debug\nnode:\n  data_dir: /elsewhere\nlisteners:\n  tcp: {evil: {bind: "0.0.0.0:9999"}}\n' },
  }),
};
