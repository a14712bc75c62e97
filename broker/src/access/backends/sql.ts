/**
 * What PostgreSQL and MySQL share as access backends: the config (EMQX's `server`, `database`,
 * `username`, `password`, `pool_size`, `ssl`, `query`), the query as a prepared statement whose
 * parameters are the placeholders, and the two kinds built from one driver-specific pool.
 *
 *   authentication  query: SELECT password_hash, salt, is_superuser FROM mqtt_user
 *                          WHERE username = ${username} LIMIT 1
 *                   first row = the user record; no row = no such user (ignore)
 *   authorization   query: SELECT permission, action, topic, qos, retain FROM mqtt_acl
 *                          WHERE username = ${username}
 *                   each row one rule (rule-row.ts), in the order the query returns them
 */
import type { AccessContext, AuthenticatorKind, AuthzSourceKind, Parsed } from '../types.js';
import { parseHashAlgorithm, type HashAlgorithm } from '../authn/password-hash.js';
import { parseServer, parseTls, Reader, type Endpoint, type TlsConfig } from './config.js';
import { BackendHealth, PasswordAuthenticator, RulesSource } from './lookup.js';
import { parseRuleRows } from './rule-row.js';
import { AUTHN_VARS, AUTHZ_VARS, sqlParams, sqlTemplate, type SqlTemplate, type VarName } from './template.js';

export interface SqlConnConfig {
  server: Endpoint;
  database: string;
  username: string;
  password: string;
  poolSize: number;
  ssl: TlsConfig | null;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

/** A driver's connection pool, reduced to what the backends ask of it. */
export interface SqlPool {
  /** Runs a prepared statement; rows as column name → value. */
  query(name: string, sql: SqlTemplate, params: (string | null)[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export interface SqlDriver {
  backend: 'postgresql' | 'mysql';
  style: 'pg' | 'mysql';
  defaultPort: number;
  defaultUser: string;
  /** Builds the pool; driver errors on idle connections go to `onError`. */
  pool(cfg: SqlConnConfig, ctx: AccessContext, onError: (err: unknown) => void): SqlPool;
}

function parseConn(r: Reader, d: SqlDriver): SqlConnConfig {
  const server = parseServer(r, d.defaultPort);
  r.accept('auto_reconnect', 'prepare_statement', 'disable_prepared_statements');
  return {
    server,
    database: r.str('database'),
    username: r.str('username', d.defaultUser),
    password: r.str('password', ''),
    poolSize: r.int('pool_size', 8, 1, 1024),
    ssl: parseTls(r),
    connectTimeoutMs: r.duration('connect_timeout', 5000),
    // EMQX's MySQL calls it query_timeout; either name is read.
    requestTimeoutMs: r.has('query_timeout') && !r.has('request_timeout') ? r.duration('query_timeout', 5000) : r.duration('request_timeout', 5000),
  };
}

function parseQuery(r: Reader, d: SqlDriver, allowed: readonly VarName[]): SqlTemplate {
  const q = r.str('query');
  if (r.error !== null) return { text: '', params: [] };
  const t = sqlTemplate(q, allowed, d.style, 'query');
  if (!t.ok) { r.fail('query', t.error.replace(/^query: /, '')); return { text: '', params: [] }; }
  return t.value;
}

export interface SqlAuthnConfig { conn: SqlConnConfig; query: SqlTemplate; algorithm: HashAlgorithm }
export interface SqlAuthzConfig { conn: SqlConnConfig; query: SqlTemplate }

export function sqlAuthnKind(d: SqlDriver): AuthenticatorKind<SqlAuthnConfig> {
  return {
    mechanism: 'password_based',
    backend: d.backend,
    parse(raw): Parsed<SqlAuthnConfig> {
      const r = new Reader(raw, `password_based:${d.backend}`);
      const conn = parseConn(r, d);
      const query = parseQuery(r, d, AUTHN_VARS);
      const alg = parseHashAlgorithm(r.raw_('password_hash_algorithm'));
      if (!alg.ok) r.fail('password_hash_algorithm', alg.error);
      return r.done({ conn, query, algorithm: alg.ok ? alg.value : (undefined as never) });
    },
    create(cfg, ctx) {
      const health = new BackendHealth(ctx.log, `password_based:${d.backend} ${cfg.conn.server.host}:${cfg.conn.server.port}/${cfg.conn.database}`);
      const pool = d.pool(cfg.conn, ctx, (err) => health.failed(err));
      return new PasswordAuthenticator(d.backend, cfg.algorithm, async (vars) => {
        const rows = await pool.query('petrel_authn', cfg.query, sqlParams(cfg.query, vars));
        return rows[0] ?? null;
      }, health, () => pool.close());
    },
  };
}

export function sqlAuthzKind(d: SqlDriver): AuthzSourceKind<SqlAuthzConfig> {
  return {
    type: d.backend,
    parse(raw) {
      const r = new Reader(raw, `authorization.sources.${d.backend}`);
      const conn = parseConn(r, d);
      const query = parseQuery(r, d, AUTHZ_VARS);
      return r.done({ conn, query });
    },
    create(cfg, ctx) {
      const what = `authorization ${d.backend} ${cfg.conn.server.host}:${cfg.conn.server.port}/${cfg.conn.database}`;
      const health = new BackendHealth(ctx.log, what);
      const pool = d.pool(cfg.conn, ctx, (err) => health.failed(err));
      return new RulesSource(d.backend, async (vars) => {
        const rows = await pool.query('petrel_authz', cfg.query, sqlParams(cfg.query, vars));
        return parseRuleRows(rows, (error) => ctx.log.warn({ backend: what }, `${what}: rule row skipped: ${error}`));
      }, health, () => pool.close());
    },
  };
}
