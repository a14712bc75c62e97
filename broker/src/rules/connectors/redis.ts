/**
 * The `redis` sink (EMQX's Redis connector and action), single-node mode, on ioredis. The
 * action's `command_template` is a list of arguments, each a template (`["HSET", "k:${clientid}",
 * "f", "${payload.x}"]`); a batch goes as one MULTI/EXEC, so it is applied whole or not at all.
 * A command the server rejects (WRONGTYPE, unknown command) is a refusal; a lost connection is
 * retried. Commands are not queued while disconnected: the action's buffer holds them.
 */
import { lazyModule } from '../../util/lazy-module.js';
import { int, oneOf, str } from '../../config/schema-types.js';
import { Reader, parseTls, tlsOptions } from '../../access/backends/config.js';
import { Template, toText } from '../template.js';
import { SinkConfigError, SinkError, type Connection, type ConnectorType } from './types.js';
import { hostPort, readFields, required } from './fields.js';

const ioredis = lazyModule<typeof import('ioredis')>('ioredis');

export interface RedisConf { host: string; port: number; database: number; username: string; password: string; tls: ReturnType<typeof parseTls> }
export interface RedisParams { command_template: string[] }

export const redisConnector: ConnectorType<RedisConf, RedisParams, string[]> = {
  type: 'redis',
  parseConnector(raw, where) {
    const r = readFields<Record<string, unknown>>(raw, where, {
      server: str('', 'host:port (default port 6379).'),
      redis_type: oneOf(['single', 'sentinel', 'cluster'] as const, 'single', 'Only single is supported.'),
      database: int(0, 'Database number.', { min: 0, max: 1024 }),
      username: str('', 'ACL user ("" = default).'),
      password: str('', 'Password.'),
      pool_size: 'any', auto_reconnect: 'any',
    }, ['ssl']);
    if (r.redis_type !== 'single') throw new SinkConfigError(`${where}.redis_type: '${String(r.redis_type)}' is not supported (single only)`);
    const { host, port } = hostPort(required(r.server, `${where}.server`), 6379, `${where}.server`);
    const tr = new Reader({ ssl: r.ssl }, where);
    const tls = parseTls(tr);
    if (tr.error !== null) throw new SinkConfigError(tr.error);
    return { host, port, database: r.database as number, username: r.username as string, password: r.password as string, tls };
  },
  parseParameters(raw, where) {
    const r = readFields<{ command_template: unknown }>(raw, where, { command_template: 'any' });
    const c = r.command_template;
    if (!Array.isArray(c) || c.length === 0 || !c.every((x) => typeof x === 'string' || typeof x === 'number')) {
      throw new SinkConfigError(`${where}.command_template: expected a list of arguments such as ["HSET", "k:\${clientid}", "f", "\${payload.x}"]`);
    }
    c.forEach((x, i) => { try { new Template(String(x)); } catch (err) { throw new SinkConfigError(`${where}.command_template[${i}]: ${(err as Error).message}`); } });
    return { command_template: c.map(String) };
  },
  async connect(conf) {
    const client = new (ioredis().Redis)({
      host: conf.host, port: conf.port, db: conf.database, username: conf.username || undefined, password: conf.password || undefined,
      tls: conf.tls ? tlsOptions(conf.tls, process.cwd()) : undefined,
      lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0,
      retryStrategy: (times: number) => Math.min(times * 100, 2000),
    });
    client.on('error', () => {}); // reported through health() and sends
    try { await client.connect(); } catch (err) { client.disconnect(); throw err; }
    const conn: Connection<RedisParams, string[]> = {
      prepare(p) {
        const args = p.command_template.map((a) => new Template(a));
        return {
          render: (out) => args.map((t) => toText(t.value(out))),
          async send(cmds) {
            let res: Array<[Error | null, unknown]> | null;
            try {
              const m = client.multi();
              for (const [name, ...rest] of cmds) m.call(name!, ...rest);
              res = await m.exec();
            } catch (err) {
              const msg = (err as Error).message;
              // EXECABORT: a command was refused when queued (unknown command, wrong arity).
              throw new SinkError(msg, !/EXECABORT|ERR |WRONGTYPE/.test(msg), { cause: err });
            }
            if (res === null) throw new SinkError('MULTI aborted', true);
            const bad = res.find(([e]) => e !== null);
            if (bad !== undefined) throw new SinkError(bad[0]!.message, false);
          },
        };
      },
      async health() {
        if (client.status !== 'ready') throw new Error(`redis ${conf.host}:${conf.port}: ${client.status}`);
        await client.ping();
      },
      async close() { client.disconnect(); },
    };
    return conn;
  },
};
