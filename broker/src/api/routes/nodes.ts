/**
 * The cluster's nodes (EMQX: /api/v5/nodes): one row per live member, from the member itself
 * (a `node.info` cluster call) and its membership record (role, region, link_state). A member
 * that does not answer is listed with `node_status: "unreachable"`. A single node lists itself.
 */
import { ApiError } from '../errors.js';
import { json, type Route } from '../route.js';

export const nodesRoutes: Route[] = [
  { method: 'GET', path: '/api/v5/nodes', summary: 'Nodes: name, status, version, role, region, uptime, memory, connections, link state', handler: async (_r, admin) => json(200, await admin.cluster.nodes()) },
  {
    method: 'GET', path: '/api/v5/nodes/{node}', summary: 'One node by name',
    handler: async ({ params }, admin) => {
      const row = await admin.cluster.node(params.node);
      if (row === null) throw new ApiError('RESOURCE_NOT_FOUND', `no node ${params.node} in the cluster`);
      return json(200, row);
    },
  },
];
