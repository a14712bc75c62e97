/**
 * The `rabbitmq` connector type: messages published to a RabbitMQ exchange over AMQP 0-9-1 with
 * amqplib (EMQX 5's connector and action of that name, same keys and defaults).
 *
 * The connector keeps `pool_size` connections, each with one channel in publisher-confirm mode;
 * a batch goes out on one of them, and send() resolves only when the broker confirmed every
 * message (`wait_for_publish_confirmations`, within `publish_confirmation_timeout`). A connection
 * or channel that closed is opened again on the next send or health check, so a broker that
 * comes back is used again without anyone's help.
 *
 * Errors: anything about reaching the broker (refused, closed, timeout, a nack) is retryable; the
 * broker closing the channel because the exchange does not exist (404) or access is refused
 * (403) is not: the same batch would meet the same answer.
 *
 * Rendering as EMQX: `payload_template` empty → the rule output as JSON; `exchange` and
 * `routing_key` are templates (strict: a missing placeholder fails the rule);
 * `headers_template` and `properties_template` are lists of {key, value} templates.
 */
import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { lazyModule } from '../../util/lazy-module.js';
import { bool, duration, int, oneOf, str } from '../../config/schema-types.js';
import { lookup, Template } from '../template.js';
import { COMMON_CONNECTOR_KEYS, hostPort, readFields, required, sslOptions, type FieldSpec } from './fields.js';
import { SinkConfigError, SinkError, type Connection, type ConnectorType, type PreparedAction } from './types.js';
import type { ConnectionOptions as TlsOptions } from 'node:tls';

const amqp = lazyModule<typeof import('amqplib')>('amqplib');

export interface RabbitConnectorConfig {
  host: string; port: number; username: string; password: string; vhost: string;
  heartbeatSec: number; poolSize: number; timeout: number; tls: TlsOptions | null;
}
export interface RabbitParameters {
  exchange: string; routing_key: string; payload_template: string;
  delivery_mode: 'persistent' | 'non_persistent';
  wait_for_publish_confirmations: boolean; publish_confirmation_timeout: number;
  headers_template: { key: string; value: string }[];
  properties_template: { key: PropKey; value: string }[];
}
/** One message as buffered (plain data). */
export interface RabbitItem {
  exchange: string; routingKey: string; payload: string | Buffer;
  headers: [string, string][]; props: [PropKey, string][];
}

const PROP_KEYS = ['app_id', 'cluster_id', 'content_encoding', 'content_type', 'correlation_id', 'expiration', 'message_id', 'reply_to', 'timestamp', 'type', 'user_id'] as const;
type PropKey = typeof PROP_KEYS[number];

const CONNECTOR_SPEC: FieldSpec = {
  server: str('localhost', 'RabbitMQ host (a "host:port" overrides port).'),
  port: int(5672, 'AMQP port.', { min: 1, max: 65535 }),
  username: 'any',
  password: 'any',
  pool_size: int(8, 'Connections kept open.', { min: 1, max: 1024 }),
  timeout: duration('5s', 'Connect timeout.', { min: 1 }),
  virtual_host: str('/', 'Virtual host.'),
  heartbeat: duration('30s', 'AMQP heartbeat interval (0: none).'),
  ssl: 'any',
};
const PARAMS_SPEC: FieldSpec = {
  exchange: str('', 'Exchange template ("" is the default exchange).'),
  routing_key: 'any',
  payload_template: str('', 'Payload template; empty: the rule output as JSON.'),
  delivery_mode: oneOf(['non_persistent', 'persistent'] as const, 'non_persistent', 'AMQP delivery mode.'),
  wait_for_publish_confirmations: bool(true, 'Resolve a batch only when the broker confirmed it.'),
  publish_confirmation_timeout: duration('30s', 'How long to wait for the confirms of a batch.', { min: 1 }),
  headers_template: 'any',
  properties_template: 'any',
};

export function parseRabbitConnector(raw: unknown, where: string): RabbitConnectorConfig {
  const c = readFields<Record<string, unknown>>(raw, where, CONNECTOR_SPEC, [...COMMON_CONNECTOR_KEYS, 'servers']);
  const server = (c.servers ?? c.server) as unknown;
  if (typeof server !== 'string' || server.trim() === '') throw new SinkConfigError(`${where}.server: expected a host name`);
  const { host, port } = hostPort(server, c.port as number, `${where}.server`);
  return Object.freeze({
    host, port,
    username: required(c.username, `${where}.username`),
    password: required(c.password, `${where}.password`),
    vhost: c.virtual_host as string,
    heartbeatSec: Math.round((c.heartbeat as number) / 1000),
    poolSize: c.pool_size as number,
    timeout: c.timeout as number,
    tls: sslOptions(c.ssl, `${where}.ssl`),
  });
}

function template(src: string, where: string): Template {
  try { return new Template(src); } catch (err) { throw new SinkConfigError(`${where}: ${(err as Error).message}`); }
}

function kvList<K extends string>(raw: unknown, where: string, keys?: readonly K[]): { key: K; value: string }[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new SinkConfigError(`${where}: expected a list of {key, value}`);
  return raw.map((e, i) => {
    const w = `${where}[${i + 1}]`;
    const kv = readFields<{ key: unknown; value: unknown }>(e, w, { key: 'any', value: 'any' });
    if (typeof kv.key !== 'string' || kv.key === '') throw new SinkConfigError(`${w}.key: required`);
    if (keys && !keys.includes(kv.key as K)) throw new SinkConfigError(`${w}.key: expected one of ${keys.join(', ')}, got ${JSON.stringify(kv.key)}`);
    if (typeof kv.value !== 'string') throw new SinkConfigError(`${w}.value: required (a template)`);
    template(kv.key, `${w}.key`);
    template(kv.value, `${w}.value`);
    return { key: kv.key as K, value: kv.value };
  });
}

export function parseRabbitParameters(raw: unknown, where: string): RabbitParameters {
  const p = readFields<Record<string, unknown>>(raw, where, PARAMS_SPEC);
  const rk = p.routing_key;
  if (typeof rk !== 'string' || rk === '') throw new SinkConfigError(`${where}.routing_key: required`);
  for (const k of ['exchange', 'routing_key', 'payload_template'] as const) template(p[k] as string, `${where}.${k}`);
  return Object.freeze({
    ...(p as object),
    headers_template: kvList(p.headers_template, `${where}.headers_template`),
    properties_template: kvList(p.properties_template, `${where}.properties_template`, PROP_KEYS),
  } as RabbitParameters);
}

export function rabbitRenderer(p: RabbitParameters): { render(output: Record<string, unknown>): RabbitItem } {
  const exchange = new StrictTemplate(p.exchange);
  const routingKey = new StrictTemplate(p.routing_key);
  const payload = p.payload_template === '' ? null : new Template(p.payload_template);
  const headers = p.headers_template.map((h) => [new Template(h.key), new Template(h.value)] as const);
  const props = p.properties_template.map((h) => [h.key, new Template(h.value)] as const);
  return {
    render(output) {
      let body: string | Buffer;
      if (payload === null) body = JSON.stringify(output, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x));
      else {
        const raw = payload.value(output);
        body = payload.single !== null && Buffer.isBuffer(raw) ? raw : payload.render(output);
      }
      const ps = props.map(([k, t]) => [k, t.render(output)] as [PropKey, string]);
      for (const [k, v] of ps) {
        if (k === 'timestamp' && !/^\d+$/.test(v)) throw new Error(`properties_template timestamp rendered ${JSON.stringify(v)}, not an integer`);
      }
      return {
        exchange: exchange.renderStrict(output, 'exchange'),
        routingKey: routingKey.renderStrict(output, 'routing_key'),
        payload: body,
        headers: headers.map(([k, v]) => [k.render(output), v.render(output)]),
        props: ps,
      };
    },
  };
}

/** A template rendered strictly, as EMQX renders exchange and routing key: a placeholder that finds nothing fails the rule. */
class StrictTemplate extends Template {
  private readonly paths: (string | number)[][];
  constructor(src: string) {
    super(src);
    this.paths = [...src.matchAll(/\$\{([^}]*)\}/g)].map((m) => new Template(`\${${m[1]}}`).single ?? []);
  }
  renderStrict(data: Record<string, unknown>, what: string): string {
    const missing = this.paths.find((p) => lookup(data, p) === undefined);
    if (missing !== undefined) throw new Error(`${what} template '${this.source}': \${${missing.join('.')}} is not in the rule output`);
    return this.render(data);
  }
}

const PROP_NAMES: Record<PropKey, string> = {
  app_id: 'appId', cluster_id: 'clusterId', content_encoding: 'contentEncoding', content_type: 'contentType',
  correlation_id: 'correlationId', expiration: 'expiration', message_id: 'messageId', reply_to: 'replyTo',
  timestamp: 'timestamp', type: 'type', user_id: 'userId',
};

/** 404 NOT_FOUND (no such exchange) and 403 ACCESS_REFUSED: the same publish would fail again. */
function sinkError(err: unknown, what: string): SinkError {
  const code = (err as { code?: unknown })?.code;
  const msg = (err as Error)?.message ?? String(err);
  return new SinkError(`${what}: ${msg}`, !(code === 404 || code === 403 || /\b(NOT_FOUND|ACCESS_REFUSED)\b/.test(msg)), { cause: err });
}

interface Slot { model: ChannelModel; ch: ConfirmChannel; closed: Error | null }

class RabbitConnection implements Connection<RabbitParameters, RabbitItem> {
  private readonly slots: (Slot | null)[];
  private readonly opening: (Promise<Slot> | null)[];
  private next = 0;
  private closing = false;

  constructor(readonly conf: RabbitConnectorConfig, readonly id: string) {
    this.slots = new Array(conf.poolSize).fill(null);
    this.opening = new Array(conf.poolSize).fill(null);
  }

  /** The slot's open channel, opening connection and channel when they are gone. */
  async slot(i: number): Promise<Slot> {
    const s = this.slots[i];
    if (s && s.closed === null) return s;
    this.slots[i] = null;
    return (this.opening[i] ??= this.open().then((x) => {
      this.opening[i] = null;
      if (this.closing) { void x.model.close().catch(() => undefined); throw new SinkError(`${this.id}: connector closed`, true); }
      this.slots[i] = x;
      return x;
    }, (err) => { this.opening[i] = null; throw err; }));
  }

  private async open(): Promise<Slot> {
    const c = this.conf;
    const url: Options.Connect = { protocol: c.tls ? 'amqps' : 'amqp', hostname: c.host, port: c.port, username: c.username, password: c.password, vhost: c.vhost, heartbeat: c.heartbeatSec };
    let model: ChannelModel;
    try {
      model = await amqp().connect(url, { timeout: c.timeout, ...(c.tls ?? {}), clientProperties: { connection_name: this.id } });
    } catch (err) {
      throw sinkError(err, `${this.id}: cannot connect to ${c.host}:${c.port}`);
    }
    const slot: Slot = { model, ch: null as unknown as ConfirmChannel, closed: null };
    const dead = (err?: Error): void => { slot.closed ??= err ?? new Error('connection closed'); };
    model.on('error', dead);
    model.on('close', dead);
    try {
      // Always in confirm mode: an action that does not wait for confirms simply does not wait.
      slot.ch = await model.createConfirmChannel();
    } catch (err) {
      await model.close().catch(() => undefined);
      throw sinkError(err, `${this.id}: cannot open a channel`);
    }
    // A channel the broker closes (e.g. publish to a missing exchange) ends with its connection's use.
    slot.ch.on('error', (err: Error) => { dead(err); void model.close().catch(() => undefined); });
    slot.ch.on('close', () => dead(new Error('channel closed')));
    return slot;
  }

  prepare(params: RabbitParameters): PreparedAction<RabbitItem> {
    const renderer = rabbitRenderer(params);
    const persistent = params.delivery_mode === 'persistent';
    const confirm = params.wait_for_publish_confirmations;
    const timeout = params.publish_confirmation_timeout;
    const id = this.id;
    return {
      render: (output) => {
        try { return renderer.render(output); } catch (err) { throw new Error(`${id}: ${(err as Error).message}`); }
      },
      send: async (items) => {
        const slot = await this.slot(this.next++ % this.slots.length);
        try {
          for (const it of items) {
            const opts: Record<string, unknown> = { persistent, headers: Object.fromEntries(it.headers) };
            for (const [k, v] of it.props) opts[PROP_NAMES[k]] = k === 'timestamp' ? Number(v) : v;
            const body = typeof it.payload === 'string' ? Buffer.from(it.payload) : it.payload;
            slot.ch.publish(it.exchange, it.routingKey, body, opts as Options.Publish);
          }
          if (confirm) await withTimeout(slot.ch.waitForConfirms(), timeout, slot);
          if (slot.closed !== null) throw slot.closed;
        } catch (err) {
          throw sinkError(slot.closed ?? err, `${id}: publish of ${items.length} message(s) failed`);
        }
      },
    };
  }

  async health(): Promise<void> {
    const s = await this.slot(0);
    if (s.closed !== null) throw sinkError(s.closed, `${this.id}: connection lost`);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s?.model.close().catch(() => undefined)));
    this.slots.fill(null);
  }
}

/** Confirms that do not come in time; the channel is dropped so late confirms cannot mix with the next batch. */
async function withTimeout(p: Promise<void>, ms: number, slot: Slot): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise<never>((_r, reject) => {
      timer = setTimeout(() => {
        slot.closed ??= new Error(`no publisher confirms within ${ms} ms`);
        void slot.model.close().catch(() => undefined);
        reject(slot.closed);
      }, ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

export const rabbitmq: ConnectorType<RabbitConnectorConfig, RabbitParameters, RabbitItem> = {
  type: 'rabbitmq',
  parseConnector: parseRabbitConnector,
  parseParameters: parseRabbitParameters,
  async connect(conf, ctx) {
    const conn = new RabbitConnection(conf, ctx.id);
    try { await conn.health(); } catch (err) { await conn.close(); throw err; }
    return conn;
  },
};

