/**
 * What the `pgsql` and `mysql` sinks share: EMQX's connector keys (`server`, `database`,
 * `username`, `password`, `pool_size`, `ssl`), the action's `sql` (sql-template.ts), and the
 * batch: one multi-row INSERT, or every statement in one transaction. Each driver file says how
 * to open a pool, run statements and tell a passing fault (retry) from a refusal (failed).
 */
import { int, str } from '../../config/schema-types.js';
import { Reader, parseTls, type TlsConfig } from '../../access/backends/config.js';
import { SinkConfigError, SinkError, type Connection, type ConnectorType } from './types.js';
import { hostPort, readFields, required } from './fields.js';
import { batchInsert, parseSqlTemplate, renderRow, type SqlTemplate, type SqlValue, type Style } from './sql-template.js';

export interface SqlConnectorConf {
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  pool_size: number;
  tls: TlsConfig | null;
}

export interface SqlParams { sql: string }

export interface SqlPool {
  query(text: string, values: SqlValue[]): Promise<void>;
  /** Runs every statement in one transaction on one connection. */
  transaction(stmts: Array<{ text: string; values: SqlValue[] }>): Promise<void>;
  health(): Promise<void>;
  close(): Promise<void>;
}

export interface SqlDriver {
  type: string;
  style: Style;
  defaultPort: number;
  open(conf: SqlConnectorConf): SqlPool;
  /** Whether an error means the target is away (retry) rather than that it refused the data. */
  retryable(err: unknown): boolean;
}

export function sqlConnector(d: SqlDriver): ConnectorType<SqlConnectorConf, SqlParams, SqlValue[]> {
  return {
    type: d.type,
    parseConnector(raw, where) {
      const r = readFields<Record<string, unknown>>(raw, where, {
        server: str('', `host:port (default port ${d.defaultPort}).`),
        database: str('', 'Database name.'),
        username: str('', 'User.'),
        password: str('', 'Password.'),
        pool_size: int(8, 'Connections in the pool.', { min: 1, max: 1024 }),
        auto_reconnect: 'any', connect_timeout: 'any', disable_prepared_statements: 'any',
      }, ['ssl']);
      const { host, port } = hostPort(required(r.server, `${where}.server`), d.defaultPort, `${where}.server`);
      const database = required(r.database, `${where}.database`);
      const tr = new Reader({ ssl: r.ssl }, where);
      const tls = parseTls(tr);
      if (tr.error !== null) throw new SinkConfigError(tr.error);
      return { host, port, database, username: r.username as string, password: r.password as string, pool_size: r.pool_size as number, tls };
    },
    parseParameters(raw, where) {
      const r = readFields<{ sql: string }>(raw, where, { sql: str('', 'Statement with ${…} placeholders.') });
      parseSqlTemplate(r.sql, d.style, `${where}.sql`);
      return { sql: r.sql };
    },
    async connect(conf) {
      const pool = d.open(conf);
      const wrap = (err: unknown): SinkError => (err instanceof SinkError ? err
        : new SinkError((err as Error).message || String((err as { code?: unknown }).code ?? err), d.retryable(err), { cause: err }));
      const conn: Connection<SqlParams, SqlValue[]> = {
        prepare(p) {
          const t: SqlTemplate = parseSqlTemplate(p.sql, d.style, 'sql');
          return {
            render: (out) => renderRow(t, out),
            async send(rows) {
              try {
                if (rows.length === 1) await pool.query(t.text, rows[0]!);
                else if (t.insert !== null) { const b = batchInsert(t, rows, d.style); await pool.query(b.text, b.values); }
                else await pool.transaction(rows.map((values) => ({ text: t.text, values })));
              } catch (err) { throw wrap(err); }
            },
          };
        },
        health: () => pool.health(),
        close: () => pool.close(),
      };
      return conn;
    },
  };
}
