/**
 * MySQL and MariaDB as an authentication backend (`password_based:mysql`) and an authorization
 * source (`mysql`): EMQX's keys and queries, placeholders bound as `?` parameters of a prepared
 * statement (sql.ts says what the queries return).
 *
 * mysql2 keeps up to `pool_size` connections; a broken one is dropped and replaced on the next
 * query, so the backend comes back with the server.
 */
import type * as mysql from 'mysql2/promise';
import { lazyModule } from '../../util/lazy-module.js';
import { tlsOptions } from './config.js';
import { sqlAuthnKind, sqlAuthzKind, type SqlDriver } from './sql.js';

const mysqlLib = lazyModule<typeof import('mysql2/promise')>('mysql2/promise');

export const mysqlDriver: SqlDriver = {
  backend: 'mysql',
  style: 'mysql',
  defaultPort: 3306,
  defaultUser: 'root',
  pool(cfg, ctx) {
    const pool = mysqlLib().createPool({
      host: cfg.server.host, port: cfg.server.port, database: cfg.database,
      user: cfg.username, password: cfg.password,
      ssl: cfg.ssl ? (tlsOptions(cfg.ssl, ctx.configDir) as mysql.SslOptions) : undefined,
      connectionLimit: cfg.poolSize,
      connectTimeout: cfg.connectTimeoutMs,
      enableKeepAlive: true,
      // Rows as plain values: dates and big numbers are compared as text anyway.
      dateStrings: true, supportBigNumbers: true, bigNumberStrings: true,
    });
    return {
      async query(_name, sql, params) {
        const [rows] = await pool.execute({ sql: sql.text, values: params, timeout: cfg.requestTimeoutMs });
        return rows as Record<string, unknown>[];
      },
      close: () => pool.end(),
    };
  },
};

export const mysqlAuthnKind = sqlAuthnKind(mysqlDriver);
export const mysqlAuthzKind = sqlAuthzKind(mysqlDriver);
