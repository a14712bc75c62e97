/**
 * The `mqtt` connector (EMQX's MQTT bridge): one MQTT.js client per connector to a remote broker,
 * reconnecting by itself. As an action it publishes each item to the remote broker — QoS 1/2
 * sends settle on PUBACK/PUBCOMP; with the client offline a send fails at once (retryable) and
 * the action's buffer keeps the item. As a source (`sources.mqtt.<name>`) it subscribes on the
 * same client, and every message it receives becomes a rule input under `$bridges/mqtt:<name>`
 * with EMQX's columns (id, topic, payload, qos, dup, retain, pub_props, server,
 * message_received_at, timestamp, node).
 */
import { randomBytes } from 'node:crypto';
import type * as mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { lazyModule } from '../../util/lazy-module.js';
import { bool, duration, int, oneOf, str } from '../../config/schema-types.js';
import { Reader, parseTls, tlsOptions } from '../../access/backends/config.js';
import { Template, toText } from '../template.js';
import { topicMatches, validTopicFilter } from '../../router/topic.js';
import { payloadColumn, pubProps } from '../sql/context.js';
import { SinkConfigError, SinkError, type Connection, type ConnectorType } from './types.js';
import type { SourceType } from './source-type.js';
import { hostPort, readFields, required } from './fields.js';

const mqttLib = lazyModule<typeof import('mqtt')>('mqtt');

export interface MqttConf { host: string; port: number; username: string; password: string; clientid_prefix: string; proto_ver: 3 | 4 | 5; clean_start: boolean; keepalive: number; tls: ReturnType<typeof parseTls>; server: string }
export interface MqttParams { topic: string; qos: string; retain: string; payload: string }
export interface MqttSourceParams { topic: string; qos: 0 | 1 | 2 }
interface MqttItem { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean }

/** What mqtt.ts's connect() returns: a Connection with its client, for the source side. */
interface MqttConnection extends Connection<MqttParams, MqttItem> { client: MqttClient; server: string }

const PROTO = { v3: 3, v4: 4, v5: 5 } as const;
const SEND_TIMEOUT = 15_000;

function tmpl(src: string, where: string): Template {
  try { return new Template(src); } catch (err) { throw new SinkConfigError(`${where}: ${(err as Error).message}`); }
}

export const mqttConnector: ConnectorType<MqttConf, MqttParams, MqttItem> = {
  type: 'mqtt',
  parseConnector(raw, where) {
    const r = readFields<Record<string, unknown>>(raw, where, {
      server: str('', 'Remote broker, host:port (default port 1883).'),
      username: str('', 'Username.'),
      password: str('', 'Password.'),
      clientid_prefix: str('', 'Prefix of the client id.'),
      proto_ver: oneOf(['v3', 'v4', 'v5'] as const, 'v4', 'MQTT version.'),
      clean_start: bool(true, 'Clean start / clean session.'),
      keepalive: duration('160s', 'Keep alive.', { min: 1000, max: 65_535_000 }),
      bridge_mode: 'any', retry_interval: 'any', max_inflight: 'any', pool_size: 'any', static_clientids: 'any',
    }, ['ssl']);
    const server = required(r.server, `${where}.server`);
    const { host, port } = hostPort(server, 1883, `${where}.server`);
    const tr = new Reader({ ssl: r.ssl }, where);
    const tls = parseTls(tr);
    if (tr.error !== null) throw new SinkConfigError(tr.error);
    return {
      host, port, server, username: r.username as string, password: r.password as string, clientid_prefix: r.clientid_prefix as string,
      proto_ver: PROTO[r.proto_ver as keyof typeof PROTO], clean_start: r.clean_start as boolean, keepalive: Math.round((r.keepalive as number) / 1000), tls,
    };
  },
  parseParameters(raw, where) {
    const r = readFields<Record<string, unknown>>(raw, where, {
      topic: str('', 'Remote topic (template).'),
      qos: 'any', retain: 'any',
      payload: str('${payload}', 'Payload template.'),
    });
    const topic = required(r.topic, `${where}.topic`);
    tmpl(topic, `${where}.topic`); tmpl(r.payload as string, `${where}.payload`);
    const qos = r.qos ?? 1;
    if (!(typeof qos === 'string' || (typeof qos === 'number' && [0, 1, 2].includes(qos)))) throw new SinkConfigError(`${where}.qos: expected 0, 1, 2 or a template such as "\${qos}"`);
    const retain = r.retain ?? false;
    if (typeof retain !== 'boolean' && typeof retain !== 'string') throw new SinkConfigError(`${where}.retain: expected true, false or a template`);
    return { topic, qos: String(qos), retain: String(retain), payload: r.payload as string };
  },
  async connect(conf, ctx) {
    const name = ctx.id.slice(ctx.id.indexOf(':') + 1);
    const opts: IClientOptions = {
      host: conf.host, port: conf.port, protocol: conf.tls ? "mqtts" : "mqtt", ...(conf.tls ? tlsOptions(conf.tls, process.cwd()) as object : {}),
      protocolVersion: conf.proto_ver, clean: conf.clean_start, keepalive: conf.keepalive,
      clientId: `${conf.clientid_prefix}${name}:${ctx.node}:${randomBytes(3).toString('hex')}`.slice(0, 64),
      username: conf.username || undefined, password: conf.password || undefined,
      reconnectPeriod: 1000, connectTimeout: 5000, resubscribe: true, queueQoSZero: false,
    };
    const client = mqttLib().connect(opts);
    client.on('error', (err) => ctx.log.debug({ connector: ctx.id, err: err.message }, 'mqtt connector error'));
    let lastError = 'not connected yet';
    client.on('error', (err) => { lastError = err.message; });
    client.on('close', () => { if (lastError === '') lastError = 'connection closed'; });
    client.on('connect', () => { lastError = ''; });
    // The first CONNACK (or the first failure) decides whether the target can be reached now.
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = (err?: Error): void => { cleanup(); reject(new Error(`remote broker ${conf.server}: ${err?.message || lastError || 'connection closed'}`)); };
        const ok = (): void => { cleanup(); resolve(); };
        const cleanup = (): void => { client.off('connect', ok); client.off('error', fail); client.off('close', fail); };
        client.once('connect', ok); client.once('error', fail); client.once('close', fail);
      });
    } catch (err) {
      client.end(true);
      throw err;
    }
    const conn: MqttConnection = {
      client, server: conf.server,
      prepare(p) {
        const topic = new Template(p.topic);
        const qos = new Template(p.qos);
        const retain = new Template(p.retain);
        const payload = new Template(p.payload);
        return {
          render(out) {
            const q = Number(qos.render(out));
            if (q !== 0 && q !== 1 && q !== 2) throw new Error(`mqtt action: qos '${qos.render(out)}' is not 0, 1 or 2`);
            const t = topic.render(out);
            if (t === '' || /[+#]/.test(t)) throw new Error(`mqtt action: '${t}' is not a valid topic name`);
            const v = payload.value(out);
            return { topic: t, qos: q, retain: retain.render(out) === 'true', payload: Buffer.isBuffer(v) ? v : Buffer.from(payload.single === null ? (v as string) : toText(v)) };
          },
          async send(items) {
            for (const it of items) {
              if (!client.connected) throw new SinkError(`remote broker ${conf.server} not connected: ${lastError}`, true);
              await new Promise<void>((resolve, reject) => {
                const t = setTimeout(() => reject(new SinkError(`no acknowledgement from ${conf.server} within ${SEND_TIMEOUT} ms`, true)), SEND_TIMEOUT);
                t.unref();
                client.publish(it.topic, it.payload, { qos: it.qos, retain: it.retain }, (err) => {
                  clearTimeout(t);
                  if (err) reject(new SinkError(err.message, true, { cause: err })); else resolve();
                });
              });
            }
          },
        };
      },
      async health() { if (!client.connected) throw new Error(`remote broker ${conf.server}: ${lastError}`); },
      close: () => new Promise<void>((resolve) => { client.end(true, {}, () => resolve()); }),
    };
    return conn;
  },
};

export const mqttSource: SourceType<MqttSourceParams> = {
  type: 'mqtt',
  parseSourceParameters(raw, where) {
    const r = readFields<Record<string, unknown>>(raw, where, {
      topic: str('', 'Remote topic filter.'),
      qos: int(1, 'Subscription QoS.', { min: 0, max: 2 }),
    });
    const topic = required(r.topic, `${where}.topic`);
    if (!validTopicFilter(topic, 128)) throw new SinkConfigError(`${where}.topic: '${topic}' is not a valid topic filter`);
    return { topic, qos: r.qos as 0 | 1 | 2 };
  },
  async subscribe(c, params, deliver) {
    const { client, server } = c as MqttConnection;
    const onMessage = (topic: string, payload: Buffer, packet: mqtt.IPublishPacket): void => {
      if (!topicMatches(params.topic, topic)) return;
      const now = Date.now();
      deliver({
        id: randomBytes(16).toString('hex'), topic, payload: payloadColumn(payload), qos: packet.qos, dup: packet.dup, retain: packet.retain,
        pub_props: pubPropsOf(packet), server, message_received_at: now, timestamp: now,
      });
    };
    client.on('message', onMessage);
    await client.subscribeAsync(params.topic, { qos: params.qos });
    return async () => {
      client.off('message', onMessage);
      if (client.connected) await client.unsubscribeAsync(params.topic).catch(() => {});
    };
  },
};

function pubPropsOf(p: mqtt.IPublishPacket): Record<string, unknown> {
  const pr = p.properties;
  if (pr === undefined) return {};
  return pubProps({
    payloadFormatIndicator: pr.payloadFormatIndicator, messageExpiryInterval: pr.messageExpiryInterval, contentType: pr.contentType,
    responseTopic: pr.responseTopic, correlationData: pr.correlationData as Buffer | undefined,
    userProperties: pr.userProperties as Record<string, string | string[]> | undefined,
  } as never) as Record<string, unknown>;
}
