/**
 * The MqttCluster spec, written once in the schema language of schema.ts: every field with its
 * type, default, description and CEL rule (each with its TypeScript twin). The CRD, the TypeScript
 * types, defaulting and validation are all derived from `specSchema` and `ROOT_RULES`.
 */
import { s, type Rule } from './schema.js';
import {
  DEFAULT_ETCD_IMAGE,
  DEFAULT_IMAGE,
  MAX_NAME_LENGTH,
  MAX_REGION_NAME_LENGTH,
  RESERVED_LISTENER_NAMES,
  RESERVED_PORTS,
  RESERVED_REGION_NAMES,
} from './constants.js';

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

export const managedEtcd = s.object({
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
    name: s.required(s.string({ description: 'Region name, e.g. eu-west-1 (DNS-1123 label).', minLength: 1, maxLength: MAX_REGION_NAME_LENGTH })),
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
      s.string({ description: 'Protocol served on the port: mqtt (TCP, or TLS with tls: true) or ws (WebSocket, or WSS with tls: true). The QUIC, CoAP, MQTT-SN and OCPP gateways are not in this broker version yet.', enum: ['mqtt', 'ws'] as const }),
    ),
    port: s.required(s.int({ description: 'Port number.', minimum: 1, maximum: 65535, format: 'int32' })),
    tls: s.withDefault(s.bool({ description: 'Serve over TLS using spec.tls (mqtt → mqtts, ws → wss).' }), false),
    enabled: s.withDefault(s.bool({ description: 'false keeps the listener in the spec but closes it.' }), true),
    path: s.optional(s.string({ description: 'HTTP path for ws listeners (default /mqtt).', pattern: '^/', maxLength: 256 })),
  },
});

const secretName = (description: string) => s.string({ description, maxLength: 253 });

const clientAuth = s.object({
  description: 'Mutual TLS on every TLS listener: client certificates checked against a CA, optionally against CRLs.',
  fields: {
    verify: s.withDefault(s.string({ description: 'verify_peer asks every client for a certificate and checks it; verify_none does not ask.', enum: ['verify_peer', 'verify_none'] as const }), 'verify_peer'),
    failIfNoPeerCert: s.withDefault(s.bool({ description: 'Refuse clients that present no certificate (with verify_peer).' }), true),
    caSecretName: s.optional(secretName('Secret whose ca.crt signs the client certificates (default: ca.crt of the server certificate Secret).')),
    crlSecretName: s.optional(secretName('Secret whose ca.crl holds the CRLs (PEM) checked at every handshake; the broker rereads it when the mounted file changes.')),
    crlDistributionPoints: s.withDefault(s.bool({ description: "Also fetch and cache the CRLs named by the client certificates' CRL distribution points (EMQX enable_crl_check)." }), false),
    peerCertAsUsername: s.optional(s.string({ description: 'Take the MQTT username from the client certificate (EMQX peer_cert_as_username).', enum: ['cn', 'dn', 'crt', 'pem', 'md5'] as const })),
    peerCertAsClientid: s.optional(s.string({ description: 'Take the MQTT client id from the client certificate (EMQX peer_cert_as_clientid).', enum: ['cn', 'dn', 'crt', 'pem', 'md5'] as const })),
  },
});

const ocspStapling = s.object({
  description: "OCSP stapling: the brokers fetch their server certificate's status from the responder and staple it to every handshake.",
  fields: {
    responderUrl: s.required(s.string({ description: 'The OCSP responder URL.', pattern: '^https?://', maxLength: 1024 })),
    issuerSecretName: s.required(secretName("Secret whose ca.crt is the server certificate's issuer.")),
    refreshInterval: s.withDefault(s.string({ description: 'How often the response is refreshed (EMQX duration, e.g. 5m).', pattern: '^[0-9]+(ms|s|m|h)$', maxLength: 16 }), '5m'),
  },
});

const access = s.object({
  description:
    "Access control, rendered into the broker config with EMQX 5's keys. Files these settings name (bootstrap files, acl.conf, JWT keys) come from the Secrets in `secrets`, mounted read-only at /etc/petrel/secrets/<secret name>/.",
  fields: {
    authentication: s.optional(
      s.any<Record<string, unknown>[]>({ description: "The broker's `authentication` chain: an ordered list of authenticators (mechanism, backend and EMQX's per-backend keys).", jsonType: 'array' }),
    ),
    authorization: s.optional(
      s.any<Record<string, unknown>>({ description: "The broker's `authorization` block: no_match, deny_action, cache and the ordered `sources`.", jsonType: 'object' }),
    ),
    secrets: s.optional(
      s.array(
        s.object({ description: 'A Secret mounted for the broker.', fields: { name: s.required(secretName('Secret name (same namespace).')) } }),
        {
          description: 'Secrets mounted read-only at /etc/petrel/secrets/<name>/ in every broker pod.',
          maxItems: 16,
          rules: [{ cel: 'self.all(a, self.exists_one(b, b.name == a.name))', message: 'secret names must be unique', check: (xs) => uniqueBy(xs, 'name') }],
        },
      ),
    ),
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
    clientAuth: s.optional(clientAuth),
    ocspStapling: s.optional(ocspStapling),
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

const TLS_LISTENER = (l: any) => l.tls === true;

const specRules: Rule[] = [
  {
    cel: "!self.listeners.exists(l, l.tls) || has(self.tls)",
    message: 'a listener with tls: true needs spec.tls',
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
    // Not {}: the API server checks a default against the CEL rules of its object without filling
    // in the nested defaults first, and `self.replicas % 2 == 1` fails on {} ("no such key").
    core: s.withDefault(coreSpec, { replicas: 3 }),
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
          {
            cel: "self.all(a, !self.exists(b, b.name == a.name + '-api'))",
            message: 'a region must not be named like another region plus -api (<name>-<region>-api names that region\'s API Service)',
            check: (rs) => !rs.some((a: any) => rs.some((b: any) => b.name === `${a.name}-api`)),
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
    access: s.optional(access),
    config: s.optional(
      s.object({
        description: 'Broker configuration.',
        fields: {
          data: s.optional(
            s.string({
              description: 'Broker config YAML; merged under what the operator owns (listeners, node.*, cluster.*, dashboard.listeners.http, api_key.bootstrap_file).',
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
  {
    cel: `!has(self.spec) || !has(self.spec.regions) || self.spec.regions.all(r, size(self.metadata.name) + size(r.name) <= ${MAX_NAME_LENGTH + MAX_REGION_NAME_LENGTH - 4})`,
    message: `metadata.name and each region name together must be at most ${MAX_NAME_LENGTH + MAX_REGION_NAME_LENGTH - 4} characters (<name>-<region>-api names a Service)`,
    check: (o) => !Array.isArray(o?.spec?.regions) || o.spec.regions.every((r: any) => String(o.metadata?.name ?? '').length + String(r?.name ?? '').length <= MAX_NAME_LENGTH + MAX_REGION_NAME_LENGTH - 4),
  },
];
export const ROOT_RULES: readonly Rule[] = rootRules;
