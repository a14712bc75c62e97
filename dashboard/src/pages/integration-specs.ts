/**
 * The fields the Connectors & actions forms show for each connector type the node knows
 * (broker/src/rules/connectors/registry.ts: http, mqtt, pgsql, mysql, redis, kafka_producer,
 * rabbitmq), by EMQX's key names. Only the common settings get an input; the rest (TLS, pool
 * tuning, Kafka headers…) go through the form's "Other settings" JSON. The node checks all of it.
 */
import type { Spec } from '../spec-form.js';

export const CONNECTOR_TYPES = ['http', 'mqtt', 'pgsql', 'mysql', 'redis', 'kafka_producer', 'rabbitmq'] as const;

const desc: Spec = { key: 'description', label: 'Description' };
const server = (port: number): Spec => ({ key: 'server', label: 'Server', required: true, placeholder: `host:${port}` });
const user: Spec = { key: 'username', label: 'Username' };
const pass: Spec = { key: 'password', label: 'Password', kind: 'password' };
const sql = (port: number): Spec[] => [server(port), { key: 'database', label: 'Database', required: true }, user, pass, { key: 'pool_size', label: 'Pool size', kind: 'number' }];

export const CONNECTOR_FIELDS: Record<string, Spec[]> = {
  http: [
    { key: 'url', label: 'Base URL', required: true, placeholder: 'http://host:8080/api' },
    { key: 'headers', label: 'Headers (JSON object)', kind: 'json', placeholder: '{"authorization": "Bearer …"}' },
    { key: 'connect_timeout', label: 'Connect timeout', placeholder: '15s' },
    { key: 'pool_size', label: 'Pool size', kind: 'number' },
  ],
  mqtt: [
    server(1883), user, pass,
    { key: 'clientid_prefix', label: 'Client id prefix' },
    { key: 'proto_ver', label: 'MQTT version', kind: 'select', options: ['', 'v3', 'v4', 'v5'] },
    { key: 'keepalive', label: 'Keepalive', placeholder: '160s' },
  ],
  pgsql: sql(5432),
  mysql: sql(3306),
  redis: [server(6379), { key: 'database', label: 'Database number', kind: 'number' }, user, pass],
  kafka_producer: [
    { key: 'bootstrap_hosts', label: 'Bootstrap hosts', required: true, placeholder: 'kafka-1:9092,kafka-2:9092' },
    { key: 'authentication.mechanism', label: 'SASL mechanism', kind: 'select', options: ['', 'plain', 'scram_sha_256', 'scram_sha_512'] },
    { key: 'authentication.username', label: 'SASL username', when: (v) => v['authentication.mechanism'] !== undefined && v['authentication.mechanism'] !== '' },
    { key: 'authentication.password', label: 'SASL password', kind: 'password', when: (v) => v['authentication.mechanism'] !== undefined && v['authentication.mechanism'] !== '' },
    { key: 'health_check_topic', label: 'Health check topic' },
  ],
  rabbitmq: [
    { key: 'server', label: 'Server', required: true, placeholder: 'localhost' },
    { key: 'port', label: 'Port', kind: 'number', placeholder: '5672' },
    { key: 'username', label: 'Username', required: true }, { key: 'password', label: 'Password', kind: 'password', required: true },
    { key: 'virtual_host', label: 'Virtual host', placeholder: '/' },
  ],
};
for (const t of CONNECTOR_TYPES) CONNECTOR_FIELDS[t]!.push(desc);

/** An action's parameters, by its (and its connector's) type. */
export const ACTION_FIELDS: Record<string, Spec[]> = {
  http: [
    { key: 'parameters.method', label: 'Method', kind: 'select', options: ['', 'post', 'put', 'get', 'delete'] },
    { key: 'parameters.path', label: 'Path (after the base URL)', placeholder: '/${clientid}' },
    { key: 'parameters.headers', label: 'Request headers (JSON object)', kind: 'json' },
    { key: 'parameters.body', label: 'Body template (empty: the rule output as JSON)', kind: 'textarea' },
  ],
  mqtt: [
    { key: 'parameters.topic', label: 'Remote topic', required: true, placeholder: 'bridged/${topic}' },
    { key: 'parameters.qos', label: 'QoS', kind: 'select', options: ['', '0', '1', '2', '${qos}'] },
    { key: 'parameters.retain', label: 'Retain', kind: 'bool' },
    { key: 'parameters.payload', label: 'Payload template', placeholder: '${payload}' },
  ],
  pgsql: [{ key: 'parameters.sql', label: 'SQL statement', kind: 'textarea', required: true, placeholder: 'INSERT INTO t(clientid, payload) VALUES (${clientid}, ${payload})' }],
  mysql: [{ key: 'parameters.sql', label: 'SQL statement', kind: 'textarea', required: true, placeholder: 'INSERT INTO t(clientid, payload) VALUES (${clientid}, ${payload})' }],
  redis: [{ key: 'parameters.command_template', label: 'Command (words, with placeholders)', kind: 'words', required: true, placeholder: 'RPUSH msgs ${payload}' }],
  kafka_producer: [
    { key: 'parameters.topic', label: 'Kafka topic', required: true },
    { key: 'parameters.message.key', label: 'Message key template', placeholder: '${clientid}' },
    { key: 'parameters.message.value', label: 'Message value template', placeholder: '${.}' },
    { key: 'parameters.partition_strategy', label: 'Partition strategy', kind: 'select', options: ['', 'random', 'key_dispatch'] },
  ],
  rabbitmq: [
    { key: 'parameters.exchange', label: 'Exchange', placeholder: '(default exchange)' },
    { key: 'parameters.routing_key', label: 'Routing key', required: true },
    { key: 'parameters.payload_template', label: 'Payload template (empty: the rule output as JSON)' },
    { key: 'parameters.delivery_mode', label: 'Delivery mode', kind: 'select', options: ['', 'non_persistent', 'persistent'] },
  ],
};

/** How every action's buffer worker batches and retries (EMQX's resource_opts). */
const RESOURCE_OPTS: Spec[] = [
  { key: 'resource_opts.batch_size', label: 'Batch size', kind: 'number', placeholder: '1' },
  { key: 'resource_opts.batch_time', label: 'Batch time', placeholder: '0ms' },
  { key: 'resource_opts.inflight_window', label: 'In-flight window', kind: 'number', placeholder: '100' },
  { key: 'resource_opts.request_ttl', label: 'Request TTL', placeholder: '45s' },
];
for (const t of CONNECTOR_TYPES) ACTION_FIELDS[t]!.push(...RESOURCE_OPTS, desc);

/** Keys of a resource as the API shows it that are not settings. */
export const NOT_SETTINGS = ['type', 'name', 'enable', 'status', 'status_reason', 'node_status', 'connector'];
