/**
 * One region: a Deployment of stateless replica brokers pinned to the region's nodes and spread
 * across its zones, the Service its clients connect to (every enabled listener), a
 * PodDisruptionBudget, and — when autoscaling is set — a HorizontalPodAutoscaler that then owns
 * the replica count (the Deployment leaves `replicas` out so the two never fight). A second,
 * ClusterIP-only Service `<name>-<region>-api` reaches the region's HTTP API from inside the
 * cluster (the operator asks it /api/v5/nodes); the client Service, often a LoadBalancer, never
 * exposes the API port.
 */
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import { ZONE_LABEL, type ResolvedMqttCluster, type ResolvedRegion } from '../api/types.js';
import { API_PORT, enabledListeners, listenerTransport } from './config-map.js';
import { replicaEtcdEndpoints } from './core.js';
import { meta, names, selectorLabels } from './meta.js';
import {
  applyPodTemplateOverride,
  brokerContainer,
  commonVolumes,
  imagePullSecrets,
  podSecurityContext,
  TERMINATION_GRACE_SECONDS,
} from './pod.js';

export function buildRegionDeployment(cr: ResolvedMqttCluster, region: ResolvedRegion, hashes: Record<string, string>): IDeployment {
  const select = selectorLabels(cr, 'replica', region.name);
  const volumes = commonVolumes(cr);
  volumes.push({ name: 'data', emptyDir: {} });
  let template: IPodTemplateSpec = {
    metadata: { labels: { ...meta(cr, '', 'replica', region.name).labels }, annotations: hashes },
    spec: {
      containers: [
        brokerContainer(cr, { role: 'replica', region: region.name, etcdEndpoints: replicaEtcdEndpoints(cr), resources: region.resources }),
      ],
      volumes,
      securityContext: podSecurityContext(),
      terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
      enableServiceLinks: false,
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: Object.entries(region.nodeSelector)
                  .sort(([a], [b]) => a.localeCompare(b))
                  .map(([key, value]) => ({ key, operator: 'In', values: [value] })),
              },
            ],
          },
        },
      },
    },
  };
  const spec = template.spec!;
  if (region.zoneSpread.enabled) {
    spec.topologySpreadConstraints = [
      {
        maxSkew: region.zoneSpread.maxSkew,
        topologyKey: ZONE_LABEL,
        whenUnsatisfiable: region.zoneSpread.whenUnsatisfiable,
        labelSelector: { matchLabels: select },
      },
    ];
  }
  const pull = imagePullSecrets(cr);
  if (pull) spec.imagePullSecrets = pull;
  template = applyPodTemplateOverride(template, region.podTemplate);

  const d: IDeployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(cr, names.region(cr, region.name), 'replica', region.name),
    spec: {
      selector: { matchLabels: select },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      template,
    },
  };
  // Left out when an HPA owns the count: applying a number would reset the autoscaler's choice.
  if (!region.autoscaling) d.spec!.replicas = region.replicas;
  return d;
}

export function buildRegionService(cr: ResolvedMqttCluster, region: ResolvedRegion): IService {
  const svc = region.service;
  const spec: NonNullable<IService['spec']> = {
    type: svc.type,
    selector: selectorLabels(cr, 'replica', region.name),
    ports: enabledListeners(cr).map((l) => ({ name: l.name, port: l.port, targetPort: l.name, protocol: listenerTransport(l) })),
  };
  if (svc.externalTrafficPolicy && svc.type !== 'ClusterIP') spec.externalTrafficPolicy = svc.externalTrafficPolicy;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cr, names.region(cr, region.name), 'replica', region.name, svc.annotations),
    spec,
  };
}

/** The region's HTTP API (port `http`), inside the cluster only. */
export function buildRegionApiService(cr: ResolvedMqttCluster, region: ResolvedRegion): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cr, names.regionApi(cr, region.name), 'replica', region.name),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(cr, 'replica', region.name),
      ports: [{ name: 'http', port: API_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

export function buildRegionPodDisruptionBudget(cr: ResolvedMqttCluster, region: ResolvedRegion): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(cr, names.region(cr, region.name), 'replica', region.name),
    spec: { maxUnavailable: region.maxUnavailable, selector: { matchLabels: selectorLabels(cr, 'replica', region.name) } },
  };
}

/** null unless the region has autoscaling. */
export function buildRegionHorizontalPodAutoscaler(cr: ResolvedMqttCluster, region: ResolvedRegion): IHorizontalPodAutoscaler | null {
  const a = region.autoscaling;
  if (!a) return null;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(cr, names.region(cr, region.name), 'replica', region.name),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: names.region(cr, region.name) },
      minReplicas: a.minReplicas,
      maxReplicas: a.maxReplicas,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: a.targetCPUUtilizationPercentage } } }],
    },
  };
}
