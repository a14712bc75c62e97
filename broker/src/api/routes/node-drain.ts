/**
 * The drain hook: stop accepting and send every client elsewhere (v5: DISCONNECT 0x9C with the
 * optional server reference). The replica pod's preStop hook calls it from loopback without a
 * key (docs/operator.md); the node keeps running until it is stopped.
 */
import { json, type Route } from '../route.js';

export const nodeDrainRoutes: Route[] = [
  {
    method: 'POST', path: '/api/v5/node/drain', access: 'key-or-loopback', summary: 'Drain the node: stop accepting, send clients elsewhere',
    responses: { 200: { type: 'object', required: ['drained'], properties: { drained: { type: 'integer', description: 'Clients sent away.' } } } },
    query: {
      type: 'object',
      properties: { timeout: { type: 'string', description: "The preStop hook's deadline (e.g. 45s); the answer comes as soon as every client was sent away." } },
    },
    body: {
      type: 'object',
      additionalProperties: false,
      properties: { server_reference: { type: 'string', minLength: 1, description: 'MQTT 5 Server Reference sent with DISCONNECT 0x9C.' } },
    },
    handler: async ({ body }, admin) => {
      const ref = (body as { server_reference?: string }).server_reference;
      return json(200, { drained: await admin.drain(ref) });
    },
  },
];
