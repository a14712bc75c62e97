/**
 * PostgreSQL as an authentication backend (`password_based:postgresql`) and an authorization
 * source (`postgresql`): EMQX's keys and queries, placeholders bound as `$1…` parameters of a
 * named prepared statement (sql.ts says what the queries return).
 *
 * node-postgres keeps up to `pool_size` connections; one that breaks (the server restarted) is
 * dropped and the next query opens a new one, so the backend comes back with the server.
 */
import { lazyModule } from '../../util/lazy-module.js';
import { tlsOptions } from './config.js';
import { sqlAuthnKind, sqlAuthzKind, type SqlDriver } from './sql.js';

const pgLib = lazyModule<typeof import('pg')>('pg');

export const postgresqlDriver: SqlDriver = {
  backend: 'postgresql',
  style: 'pg',
  defaultPort: 5432,
  defaultUser: 'root',
  pool(cfg, ctx, onError) {
    const pool = new (pgLib().Pool)({
      host: cfg.server.host, port: cfg.server.port, database: cfg.database,
      user: cfg.username, password: cfg.password,
      ssl: cfg.ssl ? tlsOptions(cfg.ssl, ctx.configDir) : false,
      max: cfg.poolSize,
      connectionTimeoutMillis: cfg.connectTimeoutMs,
      query_timeout: cfg.requestTimeoutMs,
      // Connections stay open between clients, as EMQX's pool does: no connect per CONNECT.
      idleTimeoutMillis: 0,
      application_name: 'petrel-access',
    });
    pool.on('error', onError); // an idle connection that broke; unhandled it would crash the node
    return {
      async query(name, sql, params) {
        const res = await pool.query({ name, text: sql.text, values: params });
        return res.rows as Record<string, unknown>[];
      },
      close: () => pool.end(),
    };
  },
};

export const postgresqlAuthnKind = sqlAuthnKind(postgresqlDriver);
export const postgresqlAuthzKind = sqlAuthzKind(postgresqlDriver);
