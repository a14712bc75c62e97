/**
 * The cluster's nodes (EMQX: /api/v5/nodes): one row per live member, from the member itself
 * (a `node.info` cluster call) and its membership record (role, region, link_state). A member
 * that does not answer is listed with `node_status: "unreachable"`. A single node lists itself.
 * The workers of a multi-process node (node.workers) are one row unless `?workers=true`.
 */
import { ApiError } from '../errors.js';
import { ERROR_SCHEMA, json, type JsonSchema, type Route } from '../route.js';

/** NodeRow: membership's fields always, the node's own (connections, memory_used, load…) when it answered. */
const NODE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['node', 'node_status'],
  properties: {
    node: { type: 'string' }, node_status: { enum: ['running', 'draining', 'unreachable'] }, version: { type: 'string' },
    role: { type: 'string' }, region: { type: 'string' }, uptime: { type: 'integer' },
    connections: { type: ['integer', 'null'] }, memory_used: { type: ['integer', 'null'] }, link_state: { enum: ['self', 'up', 'down'] },
    workers: { type: 'integer', description: 'A multi-process node (node.workers): its worker processes.' },
    workers_running: { type: 'integer', description: 'Those of its workers that answered.' },
  },
};

export const nodesRoutes: Route[] = [
  { method: 'GET', path: '/api/v5/nodes', summary: 'Nodes: name, status, version, role, region, uptime, memory, connections, link state', responses: { 200: { type: 'array', items: NODE_SCHEMA } }, 
    query: { type: 'object', properties: { workers: { type: 'boolean', description: 'true: one row per process, each worker of a multi-process node (node.workers) on its own; absent or false: one row per node.' } } },
    handler: async ({ query }, admin) => json(200, query.workers === true ? await admin.cluster.workerRows() : await admin.cluster.nodes()) },
  {
    method: 'GET', path: '/api/v5/nodes/{node}', summary: 'One node by name', responses: { 200: NODE_SCHEMA, 404: ERROR_SCHEMA },
    handler: async ({ params }, admin) => {
      const row = await admin.cluster.node(params.node);
      if (row === null) throw new ApiError('RESOURCE_NOT_FOUND', `no node ${params.node} in the cluster`);
      return json(200, row);
    },
  },
];
