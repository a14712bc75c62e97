/**
 * The `pgsql` sink (EMQX's PostgreSQL connector and action) on node-postgres. A broken pooled
 * connection is dropped and the next statement opens a new one, so the sink comes back with the
 * server. SQLSTATE classes 08 (connection), 53 (resources), 57 (shutdown) and 40 (serialization,
 * deadlock) are worth retrying; any other SQLSTATE is the server refusing the data.
 */
import { lazyModule } from '../../util/lazy-module.js';
import { tlsOptions } from '../../access/backends/config.js';
import { sqlConnector, type SqlDriver } from './sql-sink.js';

const pgLib = lazyModule<typeof import('pg')>('pg');

const driver: SqlDriver = {
  type: 'pgsql',
  style: 'pg',
  defaultPort: 5432,
  open(conf) {
    const pool = new (pgLib().Pool)({
      host: conf.host, port: conf.port, database: conf.database, user: conf.username, password: conf.password,
      ssl: conf.tls ? tlsOptions(conf.tls, process.cwd()) : false,
      max: conf.pool_size, connectionTimeoutMillis: 5000, idleTimeoutMillis: 0, application_name: 'petrel-sink',
    });
    // An idle connection that broke: unhandled, it would crash the node.
    pool.on('error', () => {});
    return {
      async query(text, values) { await pool.query({ text, values }); },
      async transaction(stmts) {
        const c = await pool.connect();
        let broken = false;
        try {
          await c.query('BEGIN');
          for (const s of stmts) await c.query({ text: s.text, values: s.values });
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK').catch(() => { broken = true; });
          throw err;
        } finally { c.release(broken); }
      },
      async health() { await pool.query('SELECT 1'); },
      close: () => pool.end(),
    };
  },
  retryable(err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
    return /^(08|53|57|40)/.test(code);
  },
};

export const pgsqlConnector = sqlConnector(driver);
