/** This node's row (EMQX: /api/v5/nodes). A node is standalone, so the list has one row. */
import { ApiError } from '../errors.js';
import { json, type Route } from '../route.js';

export const nodesRoutes: Route[] = [
  { method: 'GET', path: '/api/v5/nodes', summary: 'Nodes: name, status, version, role, region, uptime, memory, connections', handler: (_r, admin) => json(200, [admin.nodeInfo()]) },
  {
    method: 'GET', path: '/api/v5/nodes/{node}', summary: 'One node by name',
    handler: ({ params }, admin) => {
      if (params.node !== admin.nodeName) throw new ApiError('RESOURCE_NOT_FOUND', `no node ${params.node}`);
      return json(200, admin.nodeInfo());
    },
  },
];
