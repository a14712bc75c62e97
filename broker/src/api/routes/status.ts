/** Health for probes: open to anyone, 503 while the node drains or stops. */
import { VERSION } from '../../version.js';
import { json, text, type Route } from '../route.js';

export const statusRoutes: Route[] = [
  {
    method: 'GET', path: '/status', access: 'open', summary: 'Node status as text (EMQX: /status), 503 while draining',
    handler: (_req, admin) => {
      const ok = admin.running();
      return text(ok ? 200 : 503, `Node ${admin.nodeName} is ${ok ? 'started' : 'stopping'}\npetrel is ${ok ? 'running' : 'draining'}\n`, 'text/plain');
    },
  },
  {
    method: 'GET', path: '/api/v5/status', access: 'open', summary: 'Node status as JSON, 503 while draining',
    handler: (_req, admin) => {
      const ok = admin.running();
      return json(ok ? 200 : 503, { node: admin.nodeName, status: ok ? 'running' : 'draining', version: VERSION, uptime: admin.uptimeSec() });
    },
  },
];
