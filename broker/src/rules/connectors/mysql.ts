/**
 * The `mysql` sink (EMQX's MySQL connector and action) on mysql2, statements sent as prepared
 * statements (`execute`) so parameters stay typed. A server error with an SQLSTATE is a refusal
 * (not retried) unless it is a lock wait, a deadlock or the server going away; socket errors and
 * lost connections are retried.
 */
import type * as mysql from 'mysql2/promise';
import { lazyModule } from '../../util/lazy-module.js';
import { tlsOptions } from '../../access/backends/config.js';
import { sqlConnector, type SqlDriver } from './sql-sink.js';

const mysqlLib = lazyModule<typeof import('mysql2/promise')>('mysql2/promise');

/** ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK, ER_SERVER_SHUTDOWN, ER_CON_COUNT_ERROR, ER_TOO_MANY_USER_CONNECTIONS, ER_QUERY_INTERRUPTED. */
const RETRY_ERRNO = new Set([1205, 1213, 1053, 1040, 1203, 1317, 2006, 2013]);

const driver: SqlDriver = {
  type: 'mysql',
  style: 'mysql',
  defaultPort: 3306,
  open(conf) {
    const pool = mysqlLib().createPool({
      host: conf.host, port: conf.port, database: conf.database, user: conf.username, password: conf.password,
      ssl: conf.tls ? tlsOptions(conf.tls, process.cwd()) as never : undefined,
      connectionLimit: conf.pool_size, connectTimeout: 5000, enableKeepAlive: true, supportBigNumbers: true,
    });
    return {
      async query(text, values) { await pool.execute(text, values); },
      async transaction(stmts) {
        const c = await pool.getConnection();
        try {
          await c.beginTransaction();
          for (const s of stmts) await c.execute(s.text, s.values);
          await c.commit();
        } catch (err) {
          await c.rollback().catch(() => {});
          throw err;
        } finally { c.release(); }
      },
      async health() { await pool.query('SELECT 1'); },
      close: () => pool.end(),
    };
  },
  retryable(err) {
    const e = err as { errno?: unknown; sqlState?: unknown; fatal?: unknown };
    if (e.fatal === true) return true;
    if (typeof e.errno === 'number' && RETRY_ERRNO.has(e.errno)) return true;
    return typeof e.sqlState !== 'string';
  },
};

export const mysqlConnector = sqlConnector(driver);
