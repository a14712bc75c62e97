/**
 * Redis as an authentication backend (`password_based:redis`) and an authorization source
 * (`redis`), with EMQX 5's keys and data layout:
 *
 *   authentication: cmd: "HMGET mqtt_user:${username} password_hash salt is_superuser"
 *                   (or HGET with one field: password_hash or password); the hash's fields are
 *                   the user record, a key that does not exist is "no such user" (ignore).
 *   authorization:  cmd: "HGETALL mqtt_acl:${username}"; each field is a topic filter and its
 *                   value an action (publish | subscribe | all) or a JSON object
 *                   {"action": …, "qos": …, "retain": …}; every rule allows (EMQX 5 stores no
 *                   deny rules in Redis).
 *
 * Only `redis_type: single` is supported (sentinel and cluster are refused at config time: this
 * project cannot test them). The connection pool is `pool_size` ioredis clients used in turn;
 * each reconnects on its own, and while one is disconnected its requests fail at once (no
 * offline queue), so an outage answers ignore/nomatch without waiting.
 */
import type { Redis } from 'ioredis';
import { lazyModule } from '../../util/lazy-module.js';
import type { AuthenticatorKind, AuthzSourceKind, AccessContext, AclRule, Parsed } from '../types.js';
import { parseHashAlgorithm, type HashAlgorithm } from '../authn/password-hash.js';
import { parseServer, parseTls, Reader, tlsOptions, asText, type Endpoint, type TlsConfig } from './config.js';
import { BackendHealth, PasswordAuthenticator, RulesSource } from './lookup.js';
import { parseRuleRow } from './rule-row.js';
import { AUTHN_VARS, AUTHZ_VARS, parseTemplate, render, splitRedisCommand, type Template, type VarName } from './template.js';

const ioredis = lazyModule<typeof import('ioredis')>('ioredis');

export interface RedisConnConfig {
  server: Endpoint;
  database: number;
  username: string;
  password: string;
  poolSize: number;
  ssl: TlsConfig | null;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

/** A Redis command: its name, then one template per argument. */
export interface RedisCommand { name: string; args: readonly Template[] }

function parseConn(r: Reader): RedisConnConfig {
  const type = r.oneOf('redis_type', ['single', 'sentinel', 'cluster'] as const, 'single');
  if (type !== 'single') r.fail('redis_type', `'${type}' is not supported (only single): this project has no ${type} to test against`);
  const server = parseServer(r, 6379);
  r.accept('auto_reconnect'); // EMQX 4/5 compatibility: always on here
  return {
    server,
    database: r.int('database', 0, 0, 1 << 16),
    username: r.str('username', ''),
    password: r.str('password', ''),
    poolSize: r.int('pool_size', 8, 1, 1024),
    ssl: parseTls(r),
    connectTimeoutMs: r.duration('connect_timeout', 5000),
    requestTimeoutMs: r.duration('request_timeout', 5000),
  };
}

function parseCommand(r: Reader, allowed: readonly VarName[], names: readonly string[]): RedisCommand {
  const raw = r.str('cmd');
  if (r.error !== null) return { name: '', args: [] };
  const split = splitRedisCommand(raw, 'cmd');
  if (!split.ok) { r.fail('cmd', split.error.replace(/^cmd: /, '')); return { name: '', args: [] }; }
  const [name, ...rest] = split.value;
  if (!names.includes(name.toUpperCase())) r.fail('cmd', `command ${name} not supported here; use ${names.join(' or ')}`);
  if (rest.length === 0) r.fail('cmd', 'a key is needed after the command name');
  const args: Template[] = [];
  for (const a of rest) {
    const t = parseTemplate(a, allowed, 'cmd');
    if (!t.ok) { r.fail('cmd', t.error.replace(/^cmd: /, '')); break; }
    args.push(t.value);
  }
  return { name: name.toUpperCase(), args };
}

/** `pool_size` clients used round-robin; each reconnects by itself until closed. */
export class RedisPool {
  private readonly clients: Redis[] = [];
  private next = 0;
  private readonly connectTimeoutMs: number;
  constructor(cfg: RedisConnConfig, configDir: string, onError: (err: unknown) => void) {
    this.connectTimeoutMs = cfg.connectTimeoutMs;
    const tls = cfg.ssl ? tlsOptions(cfg.ssl, configDir) : undefined;
    for (let i = 0; i < cfg.poolSize; i++) {
      const c = new (ioredis().Redis)({
        host: cfg.server.host, port: cfg.server.port, db: cfg.database,
        username: cfg.username || undefined, password: cfg.password || undefined,
        tls,
        connectTimeout: cfg.connectTimeoutMs, commandTimeout: cfg.requestTimeoutMs,
        enableOfflineQueue: false, maxRetriesPerRequest: 0,
        // Back off to one attempt every 2 s while the server is away; never give up.
        retryStrategy: (times: number) => Math.min(times * 100, 2000),
        connectionName: 'petrel-access',
      });
      c.on('error', onError); // reported through the backend's health; an unhandled 'error' would crash
      this.clients.push(c);
    }
  }

  async call(name: string, args: readonly string[]): Promise<unknown> {
    const c = this.clients[this.next];
    this.next = (this.next + 1) % this.clients.length;
    // A first connection still being made (just after start) is waited for; a reconnection
    // after a failure is not: during an outage every request fails at once.
    if (c.status === 'wait' || c.status === 'connecting' || c.status === 'connect') await firstReady(c, this.connectTimeoutMs);
    return c.call(name, ...args);
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.disconnect(false);
  }
}

/** Resolves when the client is ready, fails to connect, or `ms` pass, whichever comes first. */
function firstReady(c: Redis, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { clearTimeout(t); c.off('ready', done); c.off('error', done); c.off('end', done); resolve(); };
    const t = setTimeout(done, ms);
    c.once('ready', done); c.once('error', done); c.once('end', done);
  });
}

// ---------------------------------------------------------------- authentication

const USER_FIELDS = ['password_hash', 'password', 'salt', 'is_superuser'];

export interface RedisAuthnConfig { conn: RedisConnConfig; cmd: RedisCommand; fields: readonly string[]; algorithm: HashAlgorithm }

export const redisAuthnKind: AuthenticatorKind<RedisAuthnConfig> = {
  mechanism: 'password_based',
  backend: 'redis',
  parse(raw): Parsed<RedisAuthnConfig> {
    const r = new Reader(raw, 'password_based:redis');
    const conn = parseConn(r);
    const cmd = parseCommand(r, AUTHN_VARS, ['HGET', 'HMGET']);
    const fields = cmd.args.slice(1).map((t) => render(t, {}));
    if (r.error === null) {
      if (cmd.args.slice(1).some((t) => !t.literal)) r.fail('cmd', 'field names cannot hold placeholders');
      const unknown = fields.filter((f) => !USER_FIELDS.includes(f));
      if (unknown.length > 0) r.fail('cmd', `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known: ${USER_FIELDS.join(', ')}`);
      else if (!fields.includes('password_hash') && !fields.includes('password')) r.fail('cmd', 'needs the field password_hash (or password)');
      else if (cmd.name === 'HGET' && fields.length !== 1) r.fail('cmd', 'HGET reads one field; use HMGET for several');
    }
    const alg = parseHashAlgorithm(r.raw_('password_hash_algorithm'));
    if (!alg.ok) r.fail('password_hash_algorithm', alg.error);
    return r.done({ conn, cmd, fields, algorithm: alg.ok ? alg.value : (undefined as never) });
  },
  create(cfg, ctx: AccessContext) {
    const health = new BackendHealth(ctx.log, `password_based:redis ${cfg.conn.server.host}:${cfg.conn.server.port}`);
    const pool = new RedisPool(cfg.conn, ctx.configDir, (err) => health.failed(err));
    const [key] = cfg.cmd.args;
    return new PasswordAuthenticator('redis', cfg.algorithm, async (vars) => {
      const reply = await pool.call(cfg.cmd.name, [render(key, vars), ...cfg.fields]);
      const values = Array.isArray(reply) ? reply : [reply];
      const found: Record<string, unknown> = {};
      let any = false;
      cfg.fields.forEach((f, i) => { if (values[i] !== null && values[i] !== undefined) { found[f] = values[i]; any = true; } });
      return any ? found : null;
    }, health, () => pool.close());
  },
};

// ---------------------------------------------------------------- authorization

export interface RedisAuthzConfig { conn: RedisConnConfig; cmd: RedisCommand }

/** One hash entry (field = topic, value = action or JSON) as an allow rule; an error for a bad one. */
export function redisAclRule(topic: string, value: string): Parsed<AclRule> {
  let row: Record<string, unknown>;
  if (value === 'publish' || value === 'subscribe' || value === 'all') row = { action: value };
  else {
    let j: unknown;
    try { j = JSON.parse(value); } catch { return { ok: false, error: `value of '${topic}' is neither an action nor JSON: ${JSON.stringify(value)}` }; }
    if (typeof j !== 'object' || j === null || Array.isArray(j)) return { ok: false, error: `value of '${topic}' is not a JSON object: ${value}` };
    const o = j as Record<string, unknown>;
    row = { action: o.action, qos: o.qos, retain: o.retain };
  }
  return parseRuleRow({ ...row, permission: 'allow', topic });
}

export const redisAuthzKind: AuthzSourceKind<RedisAuthzConfig> = {
  type: 'redis',
  parse(raw) {
    const r = new Reader(raw, 'authorization.sources.redis');
    const conn = parseConn(r);
    const cmd = parseCommand(r, AUTHZ_VARS, ['HGETALL']);
    if (r.error === null && cmd.args.length !== 1) r.fail('cmd', 'HGETALL takes one key');
    return r.done({ conn, cmd });
  },
  create(cfg, ctx) {
    const what = `authorization redis ${cfg.conn.server.host}:${cfg.conn.server.port}`;
    const health = new BackendHealth(ctx.log, what);
    const pool = new RedisPool(cfg.conn, ctx.configDir, (err) => health.failed(err));
    return new RulesSource('redis', async (vars) => {
      const reply = await pool.call('HGETALL', cfg.cmd.args.map((t) => render(t, vars)));
      const flat = Array.isArray(reply) ? reply : Object.entries(reply as Record<string, unknown>).flat();
      const rules: AclRule[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const rule = redisAclRule(asText(flat[i]) ?? '', asText(flat[i + 1]) ?? '');
        if (rule.ok) rules.push(rule.value); else ctx.log.warn({ backend: what }, `${what}: rule skipped: ${rule.error}`);
      }
      return rules;
    }, health, () => pool.close());
  },
};
