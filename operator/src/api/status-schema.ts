/**
 * The MqttCluster status the operator writes: observedGeneration, conditions, core and per-region
 * counts and addresses, and the short summaries the printer columns show.
 */
import { s } from './schema.js';

const condition = s.object({
  description: 'A condition (Ready, Progressing, Degraded, CoreReady, ReplicasReady, ClusterJoined, DNSReady, ConfigApplied).',
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
  joinedNodes: s.optional(
    s.int({ description: 'Brokers of this group listed as running cluster members by its own API (GET /api/v5/nodes); absent until asked.', minimum: 0, format: 'int32' }),
  ),
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
