/**
 * The MqttCluster custom resource (mqtt.petrel.dev/v1alpha1): one object that describes a whole
 * Petrel deployment — an etcd-backed core (StatefulSet), replica brokers per region, listeners,
 * TLS, broker config and DNS.
 *
 * The field tree is written once, below, in the schema language of `schema.ts`. The TypeScript
 * types, the CRD's OpenAPI schema (crds/, via gen-crd.ts), defaulting (`withDefaults`) and
 * validation (`validate`, which mirrors the CRD's CEL rules) are all derived from it.
 */
import yaml from 'js-yaml';
import { applyDefaults, checkStructure, s, type Input, type Output, type Rule } from './schema.js';

export const GROUP = 'mqtt.petrel.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'MqttCluster';
export const PLURAL = 'mqttclusters';
export const SINGULAR = 'mqttcluster';
export const SHORT_NAMES = ['mqc'] as const;

export const DEFAULT_IMAGE = 'petrel/broker:0.1.0';
export const DEFAULT_ETCD_IMAGE = 'quay.io/coreos/etcd:v3.5.17';
/** Object names are `<name>-<region>` etc.: keep room for the suffixes within 63 characters. */
export const MAX_NAME_LENGTH = 40;
/** Region names that would collide with the names of the core's objects. */
export const RESERVED_REGION_NAMES = ['core', 'core-headless', 'config', 'tls'] as const;
/** Ports the pods use themselves (etcd client/peer, cluster link, HTTP API): not for listeners. */
export const RESERVED_PORTS = [2379, 2380, 5370, 18083] as const;
/** Container port names the pods use themselves: not for listeners. */
export const RESERVED_LISTENER_NAMES = ['http', 'cluster', 'etcd-client', 'etcd-peer'] as const;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_CEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const HOSTNAME_PATTERN = '^(\\*\\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?\\.?$';

const has = (o: any, k: string): boolean => o != null && o[k] !== undefined && o[k] !== null;
const uniqueBy = (list: any[], key: string): boolean => new Set(list.map((x) => x?.[key])).size === list.length;

const stringMap = (description: string) =>
  s.map(s.string({ description: 'Value.', maxLength: 1024 }), { description, maxProperties: 64 });

const resources = s.object({
  description: 'Compute resources (requests/limits) for the container, as in a Pod spec.',
  fields: {
    requests: s.optional(s.map(s.quantity({ description: 'Quantity.' }), { description: 'Minimum resources, e.g. {cpu: 500m, memory: 512Mi}.' })),
    limits: s.optional(s.map(s.quantity({ description: 'Quantity.' }), { description: 'Maximum resources.' })),
  },
});

/** Pod-template fields merged over what the operator builds: labels/annotations, and pod spec fields (containers merged by name). */
export interface PodTemplateOverride {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

const placement = s.object({
  description: 'Where the pods may run.',
  fields: {
    nodeSelector: s.optional(stringMap('Node labels the pods must match.')),
    tolerations: s.optional(s.any<Record<string, unknown>[]>({ description: 'Pod tolerations (as in a Pod spec).', jsonType: 'array' })),
    affinity: s.optional(s.any<Record<string, unknown>>({ description: 'Pod affinity (as in a Pod spec).', jsonType: 'object' })),
    topologySpreadConstraints: s.optional(
      s.any<Record<string, unknown>[]>({ description: 'Extra topology spread constraints (as in a Pod spec).', jsonType: 'array' }),
    ),
    priorityClassName: s.optional(s.string({ description: 'PriorityClass of the pods.', maxLength: 253 })),
  },
});

const podTemplate = s.any<PodTemplateOverride>({
  description:
    'Pod template override merged over the generated one: metadata labels/annotations are added, spec fields replace or (containers, volumes: by name) merge.',
  jsonType: 'object',
});

const coreSpec = s.object({
  description: 'Core nodes: one StatefulSet; each pod runs an etcd member (unless etcd is external) and a core broker.',
  rules: [
    {
      cel: 'self.replicas % 2 == 1',
      message: 'core.replicas must be odd (etcd needs a majority: 1, 3, 5, ...)',
      check: (c) => c.replicas % 2 === 1,
      fieldPath: '.replicas',
    },
  ],
  fields: {
    replicas: s.withDefault(s.int({ description: 'Number of core pods (etcd members); odd, at least 1.', minimum: 1, maximum: 9, format: 'int32' }), 3),
    storage: s.withDefault(
      s.object({
        description: 'Persistent volume of each core pod (etcd data and the broker store).',
        fields: {
          size: s.withDefault(s.quantity({ description: 'Volume size.' }), '10Gi'),
          storageClassName: s.optional(s.string({ description: 'StorageClass; the cluster default when absent.', maxLength: 253 })),
        },
      }),
      {},
    ),
    resources: s.optional(resources),
    placement: s.optional(placement),
    podTemplate: s.optional(podTemplate),
  },
});

const managedEtcd = s.object({
  description: 'etcd members run as a container in each core pod.',
  fields: {
    image: s.withDefault(s.string({ description: 'etcd image.', maxLength: 512 }), DEFAULT_ETCD_IMAGE),
    resources: s.optional(resources),
  },
});

const etcdSpec = s.object({
  description: 'Where cluster state lives: etcd members managed in the core pods (default), or an existing etcd.',
  rules: [
    {
      cel: '!(has(self.managed) && has(self.external))',
      message: 'etcd: set either managed or external, not both',
      check: (e) => !(has(e, 'managed') && has(e, 'external')),
    },
  ],
  fields: {
    managed: s.optional(managedEtcd),
    external: s.optional(
      s.object({
        description: 'Use an existing etcd cluster; the core pods then run brokers only.',
        fields: {
          endpoints: s.required(
            s.array(s.string({ description: 'URL, e.g. https://etcd-0.etcd:2379.', pattern: '^https?://', maxLength: 512 }), {
              description: 'Client URLs of the etcd members.',
              minItems: 1,
              maxItems: 16,
            }),
          ),
          tlsSecretName: s.optional(
            s.string({ description: 'Secret with ca.crt, tls.crt and tls.key for the etcd client connection.', maxLength: 253 }),
          ),
        },
      }),
    ),
  },
});

const autoscaling = s.object({
  description: 'A HorizontalPodAutoscaler owns the replica count of this region.',
  rules: [
    {
      cel: 'self.minReplicas <= self.maxReplicas',
      message: 'autoscaling.minReplicas must not exceed maxReplicas',
      check: (a) => a.minReplicas <= a.maxReplicas,
    },
  ],
  fields: {
    minReplicas: s.withDefault(s.int({ description: 'Lower bound.', minimum: 1, format: 'int32' }), 1),
    maxReplicas: s.required(s.int({ description: 'Upper bound.', minimum: 1, format: 'int32' })),
    targetCPUUtilizationPercentage: s.withDefault(
      s.int({ description: 'Average CPU utilisation to aim for, percent of requests.', minimum: 1, maximum: 100, format: 'int32' }),
      70,
    ),
  },
});

const regionService = s.object({
  description: 'The Service clients of this region connect to.',
  fields: {
    type: s.withDefault(
      s.string({ description: 'Service type.', enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] as const }),
      'LoadBalancer',
    ),
    annotations: s.optional(stringMap('Annotations, e.g. for the cloud load balancer.')),
    externalTrafficPolicy: s.optional(
      s.string({ description: 'Cluster or Local (keeps client source IPs); NodePort/LoadBalancer only.', enum: ['Cluster', 'Local'] as const }),
    ),
  },
});

const geo = s.object({
  description: 'Geolocation routing of the global hostname to this region: a continent or a country.',
  rules: [
    {
      cel: 'has(self.continent) != has(self.country)',
      message: 'dns.geo: set exactly one of continent or country',
      check: (g) => has(g, 'continent') !== has(g, 'country'),
    },
  ],
  fields: {
    continent: s.optional(s.string({ description: 'Continent code.', enum: ['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA'] as const })),
    country: s.optional(s.string({ description: 'ISO 3166-1 alpha-2 country code, e.g. DE.', pattern: '^[A-Z]{2}$', maxLength: 2 })),
  },
});

const regionDns = s.object({
  description: 'DNS names of this region.',
  fields: {
    hostname: s.optional(s.string({ description: 'Hostname that resolves to this region only.', pattern: HOSTNAME_PATTERN, maxLength: 253 })),
    geo: s.optional(geo),
  },
});

const region = s.object({
  description: 'A region: a Deployment of replica brokers on nodes of that region, its Service, PodDisruptionBudget, autoscaler and DNS records.',
  rules: [
    {
      cel: `self.name.matches('${DNS1123_LABEL_CEL}')`,
      message: 'region name must be a DNS-1123 label (lower case letters, digits and -, starting and ending with a letter or digit)',
      check: (r) => DNS1123_LABEL.test(r.name),
      fieldPath: '.name',
    },
    {
      cel: `!(self.name in [${RESERVED_REGION_NAMES.map((n) => `'${n}'`).join(', ')}])`,
      message: `region name must not be one of ${RESERVED_REGION_NAMES.join(', ')} (reserved for the core's objects)`,
      check: (r) => !(RESERVED_REGION_NAMES as readonly string[]).includes(r.name),
      fieldPath: '.name',
    },
    {
      cel: '!(has(self.replicas) && has(self.autoscaling))',
      message: 'set either replicas or autoscaling, not both (the autoscaler owns the replica count)',
      check: (r) => !(has(r, 'replicas') && has(r, 'autoscaling')),
    },
  ],
  fields: {
    name: s.required(s.string({ description: 'Region name, e.g. eu-west-1 (DNS-1123 label).', minLength: 1, maxLength: 22 })),
    replicas: s.optional(s.int({ description: 'Replica brokers in this region (2 when neither this nor autoscaling is set).', minimum: 0, format: 'int32' })),
    autoscaling: s.optional(autoscaling),
    nodeSelector: s.optional(stringMap('Node labels the replica pods must match; defaults to {topology.kubernetes.io/region: <name>}.')),
    zoneSpread: s.withDefault(
      s.object({
        description: 'Spread of the replica pods across zones (topology.kubernetes.io/zone).',
        fields: {
          enabled: s.withDefault(s.bool({ description: 'Add the zone spread constraint.' }), true),
          maxSkew: s.withDefault(s.int({ description: 'Largest allowed difference of pod counts between zones.', minimum: 1, format: 'int32' }), 1),
          whenUnsatisfiable: s.withDefault(
            s.string({ description: 'What the scheduler does when the spread cannot be kept.', enum: ['DoNotSchedule', 'ScheduleAnyway'] as const }),
            'ScheduleAnyway',
          ),
        },
      }),
      {},
    ),
    resources: s.optional(resources),
    maxUnavailable: s.withDefault(s.int({ description: 'PodDisruptionBudget: replica pods that may be down at once.', minimum: 1, format: 'int32' }), 1),
    service: s.withDefault(regionService, {}),
    dns: s.optional(regionDns),
    podTemplate: s.optional(podTemplate),
  },
});

const listener = s.object({
  description: 'A port clients connect to; served by every broker (core and replicas) and every region Service.',
  rules: [
    {
      cel: `!(self.port in [${RESERVED_PORTS.join(', ')}])`,
      message: `listener port must not be one of ${RESERVED_PORTS.join(', ')} (used by etcd, the cluster link and the HTTP API)`,
      check: (l) => !(RESERVED_PORTS as readonly number[]).includes(l.port),
      fieldPath: '.port',
    },
    {
      cel: `!(self.name in [${RESERVED_LISTENER_NAMES.map((n) => `'${n}'`).join(', ')}])`,
      message: `listener name must not be one of ${RESERVED_LISTENER_NAMES.join(', ')} (names of the pods' own ports)`,
      check: (l) => !(RESERVED_LISTENER_NAMES as readonly string[]).includes(l.name),
      fieldPath: '.name',
    },
  ],
  fields: {
    name: s.required(s.string({ description: 'Listener name (DNS-1123 label, at most 15 characters: it names the Service port).', pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$', maxLength: 15 })),
    protocol: s.required(
      s.string({ description: 'Protocol served on the port.', enum: ['mqtt', 'ws', 'quic', 'coap', 'mqttsn', 'ocpp'] as const }),
    ),
    port: s.required(s.int({ description: 'Port number.', minimum: 1, maximum: 65535, format: 'int32' })),
    tls: s.withDefault(s.bool({ description: 'Serve over TLS using spec.tls (mqtt → mqtts, ws → wss; quic always uses TLS).' }), false),
    enabled: s.withDefault(s.bool({ description: 'false keeps the listener in the spec but closes it.' }), true),
    path: s.optional(s.string({ description: 'HTTP path for ws/ocpp listeners (default /mqtt for ws, /ocpp for ocpp).', pattern: '^/', maxLength: 256 })),
  },
});

const tls = s.object({
  description: 'Server certificate for TLS listeners: an existing Secret, or one cert-manager issues.',
  rules: [
    {
      cel: "(has(self.secretName) ? 1 : 0) + (has(self.certManager) ? 1 : 0) == 1",
      message: 'tls: set exactly one of secretName or certManager',
      check: (t) => (has(t, 'secretName') ? 1 : 0) + (has(t, 'certManager') ? 1 : 0) === 1,
    },
  ],
  fields: {
    secretName: s.optional(s.string({ description: 'A kubernetes.io/tls Secret (tls.crt, tls.key, optional ca.crt) in the same namespace.', maxLength: 253 })),
    certManager: s.optional(
      s.object({
        description: 'A cert-manager Certificate is created for the DNS names of the cluster; its Secret is <name>-tls.',
        fields: {
          issuerRef: s.required(
            s.object({
              description: 'The cert-manager issuer.',
              fields: {
                name: s.required(s.string({ description: 'Issuer name.', maxLength: 253 })),
                kind: s.withDefault(s.string({ description: 'Issuer or ClusterIssuer.', enum: ['Issuer', 'ClusterIssuer'] as const }), 'Issuer'),
                group: s.withDefault(s.string({ description: 'API group of the issuer.', maxLength: 253 }), 'cert-manager.io'),
              },
            }),
          ),
          dnsNames: s.optional(
            s.array(s.string({ description: 'DNS name.', maxLength: 253 }), {
              description: 'Extra DNS names (the region and global hostnames are always included).',
              maxItems: 32,
            }),
          ),
        },
      }),
    ),
  },
});

const dns = s.object({
  description: 'DNS records published through external-dns (DNSEndpoint objects).',
  fields: {
    provider: s.withDefault(s.string({ description: 'ExternalDNS creates DNSEndpoint objects; None creates no DNS records.', enum: ['ExternalDNS', 'None'] as const }), 'None'),
    globalHostname: s.optional(s.string({ description: 'One hostname for all regions, routed per `routing`.', pattern: HOSTNAME_PATTERN, maxLength: 253 })),
    routing: s.withDefault(
      s.string({ description: 'How the global hostname picks a region: Latency, Geolocation (regions[].dns.geo) or None (all targets).', enum: ['Latency', 'Geolocation', 'None'] as const }),
      'Latency',
    ),
    ttl: s.withDefault(s.int({ description: 'Record TTL in seconds.', minimum: 1, maximum: 86400, format: 'int64' }), 60),
  },
});

const TLS_LISTENER = (l: any) => l.tls === true || l.protocol === 'quic';

const specRules: Rule[] = [
  {
    cel: "!self.listeners.exists(l, l.tls || l.protocol == 'quic') || has(self.tls)",
    message: 'a listener with tls: true (or protocol quic) needs spec.tls',
    check: (sp) => !(sp.listeners ?? []).some(TLS_LISTENER) || has(sp, 'tls'),
  },
  {
    cel: "self.dns.provider != 'ExternalDNS' || self.dns.routing == 'None' || has(self.dns.globalHostname)",
    message: 'dns.routing Latency or Geolocation needs dns.globalHostname',
    check: (sp) => sp.dns?.provider !== 'ExternalDNS' || sp.dns?.routing === 'None' || has(sp.dns, 'globalHostname'),
  },
  {
    cel: "self.dns.provider != 'ExternalDNS' || has(self.dns.globalHostname) || self.regions.exists(r, has(r.dns) && has(r.dns.hostname))",
    message: 'dns.provider ExternalDNS needs dns.globalHostname or a regions[].dns.hostname',
    check: (sp) =>
      sp.dns?.provider !== 'ExternalDNS' || has(sp.dns, 'globalHostname') || (sp.regions ?? []).some((r: any) => has(r.dns, 'hostname')),
  },
  {
    cel: "self.dns.provider != 'ExternalDNS' || self.dns.routing != 'Geolocation' || self.regions.all(r, has(r.dns) && has(r.dns.geo))",
    message: 'dns.routing Geolocation needs dns.geo on every region',
    check: (sp) =>
      sp.dns?.provider !== 'ExternalDNS' || sp.dns?.routing !== 'Geolocation' || (sp.regions ?? []).every((r: any) => has(r.dns, 'geo')),
  },
];

export const specSchema = s.object({
  description: 'Desired state of a Petrel MQTT cluster.',
  rules: specRules,
  fields: {
    image: s.withDefault(s.string({ description: 'Broker image (core and replicas).', maxLength: 512 }), DEFAULT_IMAGE),
    imagePullPolicy: s.optional(s.string({ description: 'Image pull policy.', enum: ['Always', 'IfNotPresent', 'Never'] as const })),
    imagePullSecrets: s.optional(
      s.array(
        s.object({ description: 'Secret reference.', fields: { name: s.required(s.string({ description: 'Secret name.', maxLength: 253 })) } }),
        { description: 'Secrets for pulling the images.', maxItems: 16 },
      ),
    ),
    core: s.withDefault(coreSpec, {}),
    etcd: s.withDefault(etcdSpec, {}),
    regions: s.withDefault(
      s.array(region, {
        description: 'Regions with replica brokers. May be empty (clients then use the core Service).',
        listType: 'map',
        listMapKeys: ['name'],
        maxItems: 16,
        rules: [
          {
            cel: 'self.all(a, self.exists_one(b, b.name == a.name))',
            message: 'region names must be unique',
            check: (rs) => uniqueBy(rs, 'name'),
          },
        ],
      }),
      [],
    ),
    listeners: s.withDefault(
      s.array(listener, {
        description: 'Client listeners; every enabled one is opened on every broker and exposed by every region Service.',
        listType: 'map',
        listMapKeys: ['name'],
        minItems: 1,
        maxItems: 16,
        rules: [
          {
            cel: 'self.all(a, self.exists_one(b, b.name == a.name))',
            message: 'listener names must be unique',
            check: (ls) => uniqueBy(ls, 'name'),
          },
          {
            cel: 'self.all(a, self.exists_one(b, b.port == a.port))',
            message: 'listener ports must be unique',
            check: (ls) => uniqueBy(ls, 'port'),
          },
        ],
      }),
      [
        { name: 'mqtt', protocol: 'mqtt', port: 1883 },
        { name: 'ws', protocol: 'ws', port: 8083 },
      ],
    ),
    tls: s.optional(tls),
    config: s.optional(
      s.object({
        description: 'Broker configuration.',
        fields: {
          data: s.optional(
            s.string({
              description: 'Broker config YAML; merged under what the operator owns (listeners, node.*, cluster.*, dashboard.listeners.http).',
              maxLength: 262144,
            }),
          ),
        },
      }),
    ),
    dns: s.withDefault(dns, {}),
    paused: s.withDefault(s.bool({ description: 'true stops reconciling: owned objects are left as they are.' }), false),
  },
});

const condition = s.object({
  description: 'A condition (Ready, Progressing, Degraded, CoreReady, ReplicasReady, DNSReady, ConfigApplied).',
  fields: {
    type: s.required(s.string({ description: 'Condition type.', maxLength: 64 })),
    status: s.required(s.string({ description: 'True, False or Unknown.', enum: ['True', 'False', 'Unknown'] as const })),
    reason: s.optional(s.string({ description: 'CamelCase reason.', maxLength: 256 })),
    message: s.optional(s.string({ description: 'Human-readable detail.', maxLength: 32768 })),
    observedGeneration: s.optional(s.int({ description: 'metadata.generation this condition was computed for.', minimum: 0, format: 'int64' })),
    lastTransitionTime: s.optional(s.string({ description: 'When status last changed (RFC 3339).', format: 'date-time' })),
  },
});

const replicaCounts = {
  replicas: s.optional(s.int({ description: 'Pods that exist.', format: 'int32' })),
  readyReplicas: s.optional(s.int({ description: 'Pods that are ready.', format: 'int32' })),
  updatedReplicas: s.optional(s.int({ description: 'Pods on the current template.', format: 'int32' })),
};

export const statusSchema = s.object({
  description: 'Observed state, written by the operator.',
  fields: {
    observedGeneration: s.optional(s.int({ description: 'metadata.generation last reconciled.', format: 'int64' })),
    conditions: s.optional(
      s.array(condition, { description: 'Conditions.', listType: 'map', listMapKeys: ['type'], maxItems: 16 }),
    ),
    core: s.optional(s.object({ description: 'Core StatefulSet counts.', fields: { ...replicaCounts } })),
    regions: s.optional(
      s.array(
        s.object({
          description: 'Counts and addresses of one region.',
          fields: {
            name: s.required(s.string({ description: 'Region name.', maxLength: 63 })),
            ...replicaCounts,
            endpoints: s.optional(s.array(s.string({ description: 'Address.', maxLength: 512 }), { description: 'Load-balancer addresses of the region Service.', maxItems: 32 })),
            dns: s.optional(s.array(s.string({ description: 'Hostname.', maxLength: 253 }), { description: 'DNS names published for the region.', maxItems: 32 })),
          },
        }),
        { description: 'Per-region state.', listType: 'map', listMapKeys: ['name'], maxItems: 16 },
      ),
    ),
    summary: s.optional(
      s.object({
        description: 'Short forms for the printer columns.',
        fields: {
          cores: s.optional(s.string({ description: 'Ready/desired core pods, e.g. 3/3.', maxLength: 32 })),
          regions: s.optional(s.string({ description: 'Ready/desired regions, e.g. 2/3 (a region is ready when all its replicas are).', maxLength: 32 })),
          replicas: s.optional(s.string({ description: 'Ready/desired replica pods over all regions.', maxLength: 32 })),
        },
      }),
    ),
  },
});

const rootRules: Rule[] = [
  {
    cel: `size(self.metadata.name) <= ${MAX_NAME_LENGTH}`,
    message: `metadata.name must be at most ${MAX_NAME_LENGTH} characters (the names of the owned objects derive from it)`,
    check: (o) => typeof o?.metadata?.name === 'string' && o.metadata.name.length <= MAX_NAME_LENGTH,
  },
  {
    cel: `self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')`,
    message: 'metadata.name must start with a letter and contain only lower case letters, digits and - (it names Services)',
    check: (o) => typeof o?.metadata?.name === 'string' && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata.name),
  },
];
export const ROOT_RULES: readonly Rule[] = rootRules;

// ---------------------------------------------------------------------------------------------
// Types

/** The spec as a user writes it (defaulted fields optional). */
export type MqttClusterSpec = Input<typeof specSchema>;
/** The spec after schema defaults (what the API server stores). */
export type DefaultedSpec = Output<typeof specSchema>;
export type MqttClusterStatus = Output<typeof statusSchema>;
export type Condition = NonNullable<MqttClusterStatus['conditions']>[number];
export type RegionStatus = NonNullable<MqttClusterStatus['regions']>[number];

export type ConditionType = 'Ready' | 'Progressing' | 'Degraded' | 'CoreReady' | 'ReplicasReady' | 'DNSReady' | 'ConfigApplied';
export const CONDITION_TYPES: readonly ConditionType[] = ['Ready', 'Progressing', 'Degraded', 'CoreReady', 'ReplicasReady', 'DNSReady', 'ConfigApplied'];

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

export const DEFAULT_REGION_REPLICAS = 2;
export const REGION_LABEL = 'topology.kubernetes.io/region';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

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
  else for (const r of rootRules) if (!r.check(o)) errs.push(`metadata.name: ${r.message}`);
  for (const k of Object.keys(o)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(k)) errs.push(`${k}: unknown field "${k}"`);
  }
  if (o.spec === undefined || o.spec === null) return [...errs, 'spec: required'];
  const spec = applyDefaults(specSchema.node, o.spec) as any;
  errs.push(...checkStructure(specSchema.node, spec, 'spec'));
  if (typeof spec?.config?.data === 'string') errs.push(...checkConfigData(spec.config.data));
  return errs;
}

/** config.data must be a YAML mapping (or empty): the API server cannot check this, the operator does. */
function checkConfigData(data: string): string[] {
  let parsed: unknown;
  try {
    parsed = yaml.load(data);
  } catch (e) {
    return [`spec.config.data: not valid YAML: ${(e as Error).message.split('\n')[0]}`];
  }
  if (parsed === null || parsed === undefined) return [];
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return ['spec.config.data: must be a YAML mapping (key: value)'];
  return [];
}
