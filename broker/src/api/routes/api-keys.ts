/**
 * API keys, as EMQX's /api/v5/api_key: list, create (the answer carries `api_secret`, the only
 * time it is ever shown), read, change (expiry, description, enable, role) and delete. A key
 * is used like a bootstrap key, by HTTP Basic `api_key:api_secret`.
 */
import type { AdminApi } from '../admin.js';
import { ApiError } from '../errors.js';
import { json, noContent, type JsonSchema, type Route } from '../route.js';
import { ROLES, type Accounts } from '../accounts/index.js';

const NAME: JsonSchema = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]{0,255}$', description: 'Letters, digits, "_" and "-", from a letter; at most 256.' };
const NAME_PARAMS: JsonSchema = { type: 'object', required: ['name'], properties: { name: NAME } };

const FIELDS: Record<string, JsonSchema> = {
  expired_at: { type: 'string', description: 'RFC 3339 time after which the key is refused, or "infinity" (the default).' },
  desc: { type: 'string', maxLength: 1024 },
  enable: { type: 'boolean', description: 'false: the key is refused (401 BAD_API_KEY_OR_SECRET) until enabled again.' },
  role: { enum: [...ROLES], description: 'administrator (default): everything; viewer: reads only.' },
};

export function accountsOf(admin: AdminApi): Accounts {
  if (admin.accounts === undefined) throw new ApiError('NOT_FOUND', 'API keys and dashboard users are not available on this node');
  return admin.accounts;
}

/** A bad expired_at is the caller's mistake: 400 naming the field. */
async function expiryChecked<T>(p: () => Promise<T>): Promise<T> {
  try { return await p(); } catch (err) {
    if ((err as { code?: unknown }).code === 'BAD_EXPIRY') throw new ApiError('BAD_REQUEST', `body.${(err as Error).message}`);
    throw err;
  }
}

export const apiKeysRoutes: Route[] = [
  {
    method: 'GET', path: '/api/v5/api_key', summary: 'API keys made over REST (never their secrets)',
    handler: (_r, admin) => json(200, accountsOf(admin).keys.list()),
  },
  {
    method: 'POST', path: '/api/v5/api_key', summary: 'Create an API key: the answer holds api_secret, shown this once',
    body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: NAME, ...FIELDS } },
    handler: async ({ body }, admin) => {
      const { name, ...f } = body as { name: string } & Record<string, never>;
      const made = await expiryChecked(() => accountsOf(admin).keys.create(name, f));
      if (made === null) throw new ApiError('BAD_REQUEST', `an API key named '${name}' already exists`);
      return json(200, { ...made.key, api_secret: made.api_secret });
    },
  },
  {
    method: 'GET', path: '/api/v5/api_key/{name}', summary: 'One API key (without its secret)', params: NAME_PARAMS,
    handler: ({ params }, admin) => {
      const k = accountsOf(admin).keys.get(params.name!);
      if (k === null) throw new ApiError('NOT_FOUND', `no API key named '${params.name}'`);
      return json(200, k);
    },
  },
  {
    method: 'PUT', path: '/api/v5/api_key/{name}', summary: 'Change a key: expired_at, desc, enable, role', params: NAME_PARAMS,
    body: { type: 'object', additionalProperties: false, properties: FIELDS },
    handler: async ({ params, body }, admin) => {
      const k = await expiryChecked(() => accountsOf(admin).keys.update(params.name!, body as Record<string, never>));
      if (k === null) throw new ApiError('NOT_FOUND', `no API key named '${params.name}'`);
      return json(200, k);
    },
  },
  {
    method: 'DELETE', path: '/api/v5/api_key/{name}', summary: 'Delete an API key (refused from the next request on)', params: NAME_PARAMS,
    handler: async ({ params }, admin) => {
      if (!await accountsOf(admin).keys.delete(params.name!)) throw new ApiError('NOT_FOUND', `no API key named '${params.name}'`);
      return noContent();
    },
  },
];
