/**
 * The `kafka_producer` connector type: records to Apache Kafka (EMQX 5's connector and action of
 * that name), with @platformatic/kafka as the client — maintained, pure JavaScript, no native
 * build (kafkajs has had no release since 2023; @platformatic/kafka 2.x needs Node 22, so 1.x).
 *
 * The connector holds one Producer (its connections to the brokers); each action renders records
 * (kafka-message.ts) and sends a batch as produce requests of at most `max_batch_bytes`, resolving
 * once Kafka acknowledged them with `required_acks`. Errors are sorted by whether trying again can
 * help: a broker that cannot be reached, a timeout, a leader election → retryable; a record the
 * broker refuses (too large, bad topic, no such topic, not authorised) → failed, not retried.
 */
import type { Producer, MessageToProduce } from '@platformatic/kafka';
import { lazyModule } from '../../util/lazy-module.js';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { bool, duration, oneOf, str } from '../../config/schema-types.js';
import { COMMON_CONNECTOR_KEYS, hostPort, isObj, readFields, required, sslOptions, type FieldSpec } from './fields.js';
import { KafkaRenderError, kafkaRenderer, parseKafkaParameters, type KafkaItem, type KafkaParameters } from './kafka-message.js';
import { SinkConfigError, SinkError, type Connection, type ConnectorType, type PreparedAction } from './types.js';

export interface KafkaConnectorConfig {
  bootstrapBrokers: string[];
  connectTimeout: number;
  requestTimeout: number;
  metadataRequestTimeout: number;
  sasl: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string } | null;
  tls: TlsOptions | null;
  healthCheckTopic: string;
  allowAutoTopicCreation: boolean;
}

const kafka = lazyModule<typeof import('@platformatic/kafka')>('@platformatic/kafka');

const CONNECTOR_SPEC: FieldSpec = {
  bootstrap_hosts: 'any',
  connect_timeout: duration('5s', 'TCP connect timeout.', { min: 1 }),
  request_timeout: duration('30s', 'Produce request timeout.', { min: 1 }),
  metadata_request_timeout: duration('5s', 'Metadata request timeout (health checks).', { min: 1 }),
  min_metadata_refresh_interval: duration('3s', 'Accepted for EMQX compatibility.'),
  authentication: 'any',
  ssl: 'any',
  socket_opts: 'any',
  health_check_topic: str('', 'A topic whose metadata the health check asks for (default: the cluster only).'),
  allow_auto_topic_creation: bool(false, 'Let the broker create a topic on first produce (if it allows it).'),
};
const AUTH_SPEC: FieldSpec = {
  mechanism: oneOf(['plain', 'scram_sha_256', 'scram_sha_512'] as const, 'plain', 'SASL mechanism.'),
  username: str('', 'SASL user.'),
  password: str('', 'SASL password.'),
};
const MECHANISMS = { plain: 'PLAIN', scram_sha_256: 'SCRAM-SHA-256', scram_sha_512: 'SCRAM-SHA-512' } as const;
const ACKS = { all_isr: -1, leader_only: 1, none: 0 } as const;
const COMPRESSION = { no_compression: 'none', gzip: 'gzip', snappy: 'snappy' } as const;

export function parseKafkaConnector(raw: unknown, where: string): KafkaConnectorConfig {
  const c = readFields<Record<string, unknown>>(raw, where, CONNECTOR_SPEC, COMMON_CONNECTOR_KEYS);
  const hosts = required(c.bootstrap_hosts, `${where}.bootstrap_hosts`);
  const bootstrapBrokers = hosts.split(',').map((h) => h.trim()).filter((h) => h !== '').map((h) => {
    const { host, port } = hostPort(h, 9092, `${where}.bootstrap_hosts`);
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  });
  if (bootstrapBrokers.length === 0) throw new SinkConfigError(`${where}.bootstrap_hosts: required`);
  let sasl: KafkaConnectorConfig['sasl'] = null;
  const auth = c.authentication ?? 'none';
  if (auth !== 'none') {
    if (!isObj(auth)) throw new SinkConfigError(`${where}.authentication: expected "none" or {mechanism, username, password}, got ${JSON.stringify(auth)}`);
    const a = readFields<Record<string, string>>(auth, `${where}.authentication`, AUTH_SPEC);
    sasl = {
      mechanism: MECHANISMS[a.mechanism as keyof typeof MECHANISMS],
      username: required(a.username, `${where}.authentication.username`),
      password: required(a.password, `${where}.authentication.password`),
    };
  }
  return Object.freeze({
    bootstrapBrokers, sasl,
    connectTimeout: c.connect_timeout as number,
    requestTimeout: c.request_timeout as number,
    metadataRequestTimeout: c.metadata_request_timeout as number,
    tls: sslOptions(c.ssl, `${where}.ssl`),
    healthCheckTopic: c.health_check_topic as string,
    allowAutoTopicCreation: c.allow_auto_topic_creation as boolean,
  });
}

// Kafka's answers that mean "this data will never be taken", however often it is sent.
const REFUSED = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_TOPIC_EXCEPTION', 'TOPIC_AUTHORIZATION_FAILED',
  'INVALID_RECORD', 'CORRUPT_MESSAGE', 'UNKNOWN_TOPIC_OR_PARTITION', 'INVALID_REQUIRED_ACKS', 'UNSUPPORTED_FOR_MESSAGE_FORMAT']);

/** The Kafka protocol error names anywhere in an error's tree (the client nests them). */
function protocolIds(err: unknown, out: string[] = [], depth = 0): string[] {
  if (err === null || typeof err !== 'object' || depth > 8) return out;
  const e = err as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.apiId === 'string') out.push(e.apiId);
  if (Array.isArray(e.errors)) for (const x of e.errors) protocolIds(x, out, depth + 1);
  protocolIds(e.cause, out, depth + 1);
  return out;
}

function sinkError(err: unknown, what: string): SinkError {
  const ids = protocolIds(err);
  const refused = ids.find((id) => REFUSED.has(id));
  const message = (err as Error)?.message ?? String(err);
  const detail = ids.length > 0 ? ids.join(', ') : message;
  // The client turns UNKNOWN_TOPIC_OR_PARTITION from a metadata answer into a UserError of its own.
  const userError = (err as { code?: unknown })?.code === 'PLT_KFK_USER';
  if (userError && /^Failed to serialize/.test(message)) return new SinkError(`${what}: ${message}`, false, { cause: err });
  if (refused === 'UNKNOWN_TOPIC_OR_PARTITION' || (userError && /^Unknown topic /.test(message))) {
    return new SinkError(`${what}: topic does not exist (create it, or set allow_auto_topic_creation on the connector)`, false, { cause: err });
  }
  return new SinkError(`${what}: ${detail}`, refused === undefined, { cause: err });
}

/** A partition the client reduces modulo the topic's partition count when it knows it. */
const randomPartition = (): number => Math.floor(Math.random() * 0x7fffffff);

class KafkaConnection implements Connection<KafkaParameters, KafkaItem> {
  constructor(readonly producer: Producer<string, string | Buffer, string, string>, readonly conf: KafkaConnectorConfig, readonly id: string) {}

  prepare(params: KafkaParameters): PreparedAction<KafkaItem> {
    const renderer = kafkaRenderer(params);
    const producer = this.producer;
    const id = this.id;
    const acks = ACKS[params.required_acks];
    const compression = COMPRESSION[params.compression];
    const autocreateTopics = this.conf.allowAutoTopicCreation;
    // key_dispatch: Java's default partitioner (murmur2 of the key), so a key lands where a Java producer puts it.
    const partitioner = params.partition_strategy === 'random' ? randomPartition : undefined;
    const maxBytes = params.max_batch_bytes;
    return {
      render(output) {
        try { return renderer.render(output); } catch (err) {
          if (err instanceof KafkaRenderError) throw new Error(`${id}: ${err.message}`);
          throw err;
        }
      },
      async send(items) {
        // Produce requests of at most max_batch_bytes each (a bigger record goes alone). They go one
        // after the other: a failure part-way leaves the earlier ones written, and the retry writes
        // them again (at least once, as Kafka producers without transactions are).
        let chunk: MessageToProduce<string, string | Buffer, string, string>[] = [];
        let bytes = 0;
        const flush = async (): Promise<void> => {
          if (chunk.length === 0) return;
          const messages = chunk;
          chunk = [];
          bytes = 0;
          try {
            await producer.send({ messages, acks, compression, autocreateTopics, ...(partitioner ? { partitioner } : {}) });
          } catch (err) {
            throw sinkError(err, `${id}: produce of ${messages.length} record(s) failed`);
          }
        };
        for (const it of items) {
          const size = it.key.length + it.value.length + it.headers.reduce((n, [k, v]) => n + k.length + v.length, 0) + 64;
          if (bytes + size > maxBytes) await flush();
          chunk.push({ topic: it.topic, key: it.key, value: it.value, timestamp: BigInt(it.timestamp), headers: Object.fromEntries(it.headers) });
          bytes += size;
        }
        await flush();
      },
    };
  }

  async health(): Promise<void> {
    const topics = this.conf.healthCheckTopic === '' ? [] : [this.conf.healthCheckTopic];
    let timer: NodeJS.Timeout | undefined;
    try {
      const meta = await Promise.race([
        this.producer.metadata({ topics, forceUpdate: true, autocreateTopics: false }),
        new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(`no metadata within ${this.conf.metadataRequestTimeout} ms`)), this.conf.metadataRequestTimeout); }),
      ]);
      if (meta.brokers.size === 0) throw new Error('the cluster reported no brokers');
    } catch (err) {
      throw sinkError(err, `${this.id}: Kafka at ${this.conf.bootstrapBrokers.join(',')} unhealthy`);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    // Forced: pending requests fail now instead of holding the close until their timeout.
    await new Promise<void>((resolve) => { this.producer.close(true, () => resolve()); });
  }
}

function serializeString(v: string | undefined): Buffer | undefined {
  return v === undefined ? undefined : Buffer.from(v, 'utf8');
}
function serializeValue(v: string | Buffer | undefined): Buffer | undefined {
  return v === undefined || Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
}

export const kafkaProducer: ConnectorType<KafkaConnectorConfig, KafkaParameters, KafkaItem> = {
  type: 'kafka_producer',
  parseConnector: parseKafkaConnector,
  parseParameters: parseKafkaParameters,
  async connect(conf, ctx) {
    const producer = new (kafka().Producer)<string, string | Buffer, string, string>({
      clientId: `petrel-${ctx.node}-${ctx.id}`.replace(/[^a-zA-Z0-9._-]/g, '_'),
      bootstrapBrokers: conf.bootstrapBrokers,
      connectTimeout: conf.connectTimeout,
      requestTimeout: conf.requestTimeout,
      timeout: conf.requestTimeout,
      // One quick retry inside the client (for a leader that just moved); the sink's own retries with
      // backoff do the rest, so a broker that is down is reported in a second, not after minutes.
      retries: 1,
      retryDelay: 250,
      ...(conf.tls ? { tls: conf.tls } : {}),
      ...(conf.sasl ? { sasl: conf.sasl } : {}),
      serializers: { key: serializeString, value: serializeValue, headerKey: serializeString, headerValue: serializeString },
    });
    const conn = new KafkaConnection(producer, conf, ctx.id);
    try { await conn.health(); } catch (err) {
      await conn.close();
      throw err;
    }
    return conn;
  },
};
