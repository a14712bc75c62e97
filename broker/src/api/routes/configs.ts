/**
 * EMQX's /api/v5/configs: the node's effective configuration by root (secrets masked), and
 * PUT for the few roots the node can change while it runs. Everything else is read once at
 * start (listeners, mqtt limits, cluster, store…): a PUT to it is a 400 that says so and names
 * the writable roots. What a PUT changes lasts until the node restarts (the config file is
 * not rewritten); changes to `authorization` are shared with the cluster like the ones made
 * through /api/v5/authorization/settings.
 */
import { ApiError } from '../errors.js';
import { ANY_OBJECT, ERROR_SCHEMA, json, type JsonSchema, type Route } from '../route.js';

export interface ConfigsAdmin {
  /** Every root, as the node runs with it now. */
  all(): Record<string, unknown>;
  /** The roots PUT takes, with the schema of their body. */
  readonly writable: Readonly<Record<string, JsonSchema>>;
  /** Applies a body (already checked against writable[root]); throws an Error with code 'BAD_REQUEST' for a bad value. */
  put(root: string, body: Record<string, unknown>): Promise<void>;
}

const ROOT: JsonSchema = { type: 'object', required: ['root'], properties: { root: { type: 'string', pattern: '^[a-z_]{1,64}$', description: 'A top-level config key (mqtt, log, authorization…).' } } };

const SECRET = /pass|secret|token|private/i;

/** EMQX shows secrets as "******" and no limit as "infinity" (JSON has no Infinity). */
export function masked(v: unknown): unknown {
  if (v === Infinity) return 'infinity';
  if (Array.isArray(v)) return v.map(masked);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET.test(k) && (typeof x === 'string' && x !== '') ? '******' : masked(x);
  return out;
}

const configsOf = (admin: Parameters<Route['handler']>[1]): ConfigsAdmin => {
  if (admin.configs === undefined) throw new ApiError('NOT_FOUND', 'configs are not available on this node');
  return admin.configs;
};

function root(c: ConfigsAdmin, name: string): unknown {
  const all = c.all();
  if (!Object.hasOwn(all, name)) throw new ApiError('NOT_FOUND', `no config root '${name}' (roots: ${Object.keys(all).join(', ')})`);
  return masked(all[name]);
}

export const configsRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/configs', summary: 'The whole configuration the node runs with, by root (secrets masked)',
    responses: { 200: ANY_OBJECT, 404: ERROR_SCHEMA },
    handler: (_r, admin) => json(200, masked(configsOf(admin).all())),
  },
  {
    method: 'GET', path: '/api/v5/configs/{root}', summary: 'One root of the configuration (secrets masked)', params: ROOT,
    responses: { 200: {}, 404: ERROR_SCHEMA },
    handler: ({ params }, admin) => json(200, root(configsOf(admin), params.root!)),
  },
  {
    method: 'PUT', path: '/api/v5/configs/{root}',
    summary: 'Change a root while the node runs: only log ({level}) and authorization ({no_match, deny_action, cache}); 400 for the others',
    params: ROOT, body: { type: 'object' },
    responses: { 200: {}, 400: ERROR_SCHEMA, 404: ERROR_SCHEMA },
    handler: async ({ params, body }, admin) => {
      const c = configsOf(admin);
      const name = params.root!;
      root(c, name);
      const schema = c.writable[name];
      if (schema === undefined) {
        throw new ApiError('BAD_REQUEST', `config root '${name}' is read at start only: change it in the config file and restart the node (writable here: ${Object.keys(c.writable).join(', ')})`);
      }
      try { await c.put(name, body as Record<string, unknown>); } catch (err) {
        if ((err as { code?: unknown }).code === 'BAD_REQUEST') throw new ApiError('BAD_REQUEST', `body: ${(err as Error).message}`);
        throw err;
      }
      return json(200, root(c, name));
    },
  },
];
