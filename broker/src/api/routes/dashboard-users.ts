/**
 * Dashboard users, as EMQX's /api/v5/login, /logout and /users: a login trades a username and
 * password for a bearer token (dashboard.token_expired_time, 60 minutes by default); users are
 * listed, created, changed (role, description), deleted, and change their passwords.
 *
 * Failed logins are limited per username and per source address (accounts/login-limiter.ts);
 * a locked caller gets EMQX's 401 LOGIN_LOCKED with a Retry-After header, before any password
 * is checked.
 */
import { ApiError } from '../errors.js';
import { json, noContent, type JsonSchema, type Route } from '../route.js';
import { ROLES, weakPassword } from '../accounts/index.js';
import { accountsOf } from './api-keys.js';

const USERNAME: JsonSchema = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$', description: 'Letters, digits, "_" and "-"; at most 100.' };
const USER_PARAMS: JsonSchema = { type: 'object', required: ['username'], properties: { username: USERNAME } };
const ROLE: JsonSchema = { enum: [...ROLES], description: 'administrator: everything; viewer: reads, logs out, changes its own password.' };

function strong(p: string, field: string): void {
  const weak = weakPassword(p);
  if (weak !== null) throw new ApiError('BAD_REQUEST', `body.${field}: ${weak}`);
}

export const dashboardUsersRoutes: Route[] = [
  {
    method: 'POST', path: '/api/v5/login', access: 'open', summary: 'Log in: {username, password} → {token, role, version}',
    body: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string', maxLength: 100 }, password: { type: 'string', maxLength: 256 } } },
    handler: async ({ body, peer }, admin) => {
      const { username, password } = body as { username: string; password: string };
      const a = accountsOf(admin);
      const wait = a.limiter.lockedFor(username, peer ?? '');
      if (wait > 0) {
        const s = Math.ceil(wait / 1000);
        throw new ApiError('LOGIN_LOCKED', `too many failed logins for '${username}' or from this address: try again in ${s} s`, { 'retry-after': String(s) });
      }
      const u = await a.users.verify(username, password);
      if (u === null) { a.limiter.failed(username, peer ?? ''); throw new ApiError('BAD_USERNAME_OR_PWD', 'Auth failed: no such user, or a wrong password'); }
      a.limiter.succeeded(username);
      return json(200, { token: await a.users.issue(u), role: u.role, version: String(admin.nodeInfo().version ?? '') });
    },
  },
  {
    method: 'POST', path: '/api/v5/logout', anyRole: true, summary: 'Revoke the bearer token this request carries',
    body: { type: 'object', properties: { username: { type: 'string', description: 'The token\'s owner (EMQX sends it; checked when given).' } } },
    handler: async ({ body, caller }, admin) => {
      const name = (body as { username?: string }).username;
      if (caller?.kind !== 'user' || caller.token === undefined) throw new ApiError('WRONG_TOKEN_OR_USERNAME', 'logout needs the login token (Authorization: Bearer)');
      if ((name !== undefined && name !== caller.name) || !await accountsOf(admin).users.logout(caller.name, caller.token)) {
        throw new ApiError('WRONG_TOKEN_OR_USERNAME', name === undefined ? 'the token is no longer valid' : `the token is not the one of user '${name}'`);
      }
      return noContent();
    },
  },
  {
    method: 'GET', path: '/api/v5/users', summary: 'Dashboard users: [{username, role, description, backend}]',
    handler: (_r, admin) => json(200, accountsOf(admin).users.list()),
  },
  {
    method: 'POST', path: '/api/v5/users', summary: 'Create a dashboard user (password: 8–64 characters of two kinds)',
    body: {
      type: 'object', required: ['username', 'password'], additionalProperties: false,
      properties: { username: USERNAME, password: { type: 'string' }, role: { ...ROLE, default: 'administrator' }, description: { type: 'string', maxLength: 1024, default: '' } },
    },
    handler: async ({ body }, admin) => {
      const b = body as { username: string; password: string; role: 'administrator' | 'viewer'; description: string };
      strong(b.password, 'password');
      const u = await accountsOf(admin).users.create(b.username, b.password, b.role, b.description);
      if (u === null) throw new ApiError('BAD_REQUEST', `user '${b.username}' already exists`);
      return json(200, u);
    },
  },
  {
    method: 'PUT', path: '/api/v5/users/{username}', summary: 'Change a user\'s role or description (a role change logs the user out)', params: USER_PARAMS,
    body: { type: 'object', additionalProperties: false, properties: { role: ROLE, description: { type: 'string', maxLength: 1024 } } },
    handler: async ({ params, body }, admin) => {
      const users = accountsOf(admin).users;
      const b = body as { role?: 'administrator' | 'viewer'; description?: string };
      const cur = users.get(params.username!);
      if (cur === null) throw new ApiError('USER_NOT_FOUND', `no dashboard user '${params.username}'`);
      if (cur.role === 'administrator' && b.role === 'viewer' && users.administrators() === 1) throw new ApiError('NOT_ALLOWED', 'the last administrator cannot become a viewer');
      return json(200, await users.update(params.username!, b));
    },
  },
  {
    method: 'DELETE', path: '/api/v5/users/{username}', summary: 'Delete a user (not yourself, not the last administrator)', params: USER_PARAMS,
    handler: async ({ params, caller }, admin) => {
      const users = accountsOf(admin).users;
      const cur = users.get(params.username!);
      if (cur === null) throw new ApiError('USER_NOT_FOUND', `no dashboard user '${params.username}'`);
      if (caller?.kind === 'user' && caller.name === cur.username) throw new ApiError('NOT_ALLOWED', 'cannot delete self');
      if (cur.role === 'administrator' && users.administrators() === 1) throw new ApiError('NOT_ALLOWED', 'cannot delete the last administrator');
      await users.delete(cur.username);
      return noContent();
    },
  },
  {
    method: 'POST', path: '/api/v5/users/{username}/change_pwd', ownUser: 'username', params: USER_PARAMS,
    summary: 'Change a password, given the old one (a viewer: only its own); the user\'s tokens are revoked',
    body: { type: 'object', required: ['old_pwd', 'new_pwd'], properties: { old_pwd: { type: 'string', maxLength: 256 }, new_pwd: { type: 'string' } } },
    handler: async ({ params, body, peer }, admin) => {
      const a = accountsOf(admin);
      const name = params.username!;
      const b = body as { old_pwd: string; new_pwd: string };
      if (a.users.get(name) === null) throw new ApiError('USER_NOT_FOUND', `no dashboard user '${name}'`);
      // The old password is guessed like a login: the same limits apply.
      const wait = a.limiter.lockedFor(name, peer ?? '');
      if (wait > 0) throw new ApiError('LOGIN_LOCKED', `too many failed password checks for '${name}' or from this address`, { 'retry-after': String(Math.ceil(wait / 1000)) });
      if (await a.users.verify(name, b.old_pwd) === null) { a.limiter.failed(name, peer ?? ''); throw new ApiError('ERROR_PWD_NOT_MATCH', 'the old password is wrong'); }
      strong(b.new_pwd, 'new_pwd');
      await a.users.changePassword(name, b.new_pwd);
      return noContent();
    },
  },
];
