/**
 * The broker's configuration schema: every key, its type, default, unit, bounds and meaning,
 * in one place. Names follow EMQX (`mqtt.max_packet_size`, `listeners.tcp.default.bind`) so
 * an EMQX user finds their way. docs/config.md is generated from this object
 * (`node dist/broker/src/config/gen-docs.js`); a test fails when it is stale.
 */
import {
  bind, bool, custom, duration, int, intOrDisabled, listOf, mapOf, num, obj, oneOf, size, str, strList,
  type Infer,
} from './schema-types.js';
import { parseSources, type SourceConfig } from '../access/authz/registry.js';
import { parseRate, type Rate } from '../access/limiter.js';
import { parseAuthnSetting, type AuthnEntry } from '../access/authn/registry.js';
import { parseRuleMap, type RuleSpec } from '../rules/rule-config.js';
import {
  parseActionsSetting, parseConnectorsSetting, parseSourcesSetting, type ActionEntry, type ConnectorEntry, type SourceEntry,
} from '../rules/connectors/integration-config.js';
import { parseMqttsn, type MqttsnConfig } from '../gateway/config.js';
import { parseRewriteRules, type RewriteRule } from '../transform/topic-rewrite.js';
import { parseAutoSubscribe, type AutoSubscribeTopic } from '../transform/auto-subscribe.js';
import { parseOcpp, type OcppConfig } from '../gateway/ocpp/config.js';
import { parseCoap, type CoapConfig } from '../gateway/coap/config.js';

const NO_LIMIT = 'infinity';
const PEER_CERT_AS = ['disabled', 'cn', 'dn', 'crt', 'pem', 'md5'] as const;

/** EMQX 5 listener rate limits (access/limiter.ts): "1000/s", "1MB/10s", "infinity"; bursts "0" = none. */
const rate = (description: string, bytes = false) =>
  custom<Rate | null>(NO_LIMIT, description, bytes ? 'rate ("1MB/s")' : 'rate ("1000/s")', (v) => parseRate(v, { bytes }));
const burst = (description: string, bytes = false) =>
  custom<Rate | null>('0', description, bytes ? 'burst ("100MB/60m")' : 'burst ("10000/60m")', (v) => parseRate(v, { bytes, zeroIsNone: true }));

function listenerFields(port: number) {
  return {
    enable: bool(true, 'Accept connections on this listener.'),
    bind: bind(`0.0.0.0:${port}`, 'Address to listen on: "port", "host:port" or "[ipv6]:port". Port 0 picks a free port.'),
    max_connections: int(NO_LIMIT, 'Most concurrent connections; excess ones are closed at once and counted.', { min: 1 }),
    authentication: custom<readonly AuthnEntry[] | null>(null, 'This listener\'s own authentication chain, replacing the global `authentication` for its clients (same shape; an empty list lets everyone in). Absent = the global chain applies. See docs/authentication.md.', 'list of authenticators', parseAuthnSetting),
    tcp_options: obj({
      high_watermark: size('4MB', 'Output bytes queued for one connection (not yet taken by the kernel) above which it counts as slow: QoS 0 messages to it are dropped until it drains below this.', { min: 1 }),
    }, 'Socket settings.'),
    max_conn_rate: rate('Connections this listener accepts per interval ("1000/s", "1000/10s"); beyond it a connection is closed as soon as it is accepted (before any TLS or WebSocket handshake) and counted.'),
    max_conn_burst: burst('Extra connections accepted on top of max_conn_rate, once per interval ("10000/60m"); "0" = none.'),
    messages_rate: rate('PUBLISH packets one client may send per interval ("100/s"); beyond it the broker stops reading from the client until the rate allows more. Nothing is dropped.'),
    messages_burst: burst('Extra PUBLISH packets on top of messages_rate, once per interval ("1000/60m"); "0" = none.'),
    bytes_rate: rate('PUBLISH bytes one client may send per interval ("1MB/s", units B, KB, MB, GB); beyond it the broker stops reading from the client until the rate allows more. Nothing is dropped.', true),
    bytes_burst: burst('Extra PUBLISH bytes on top of bytes_rate, once per interval ("100MB/60m"); "0" = none.', true),
  };
}

const sslOptions = obj({
  certfile: str('', 'PEM file with the server certificate (chain). Required when the listener is enabled.'),
  keyfile: str('', 'PEM file with the server private key. Required when the listener is enabled.'),
  cacertfile: str('', 'PEM file with the CA certificates used to verify client certificates ("" = system CAs).'),
  verify: oneOf(['verify_none', 'verify_peer'] as const, 'verify_none', 'verify_peer asks clients for a certificate and verifies it against cacertfile.'),
  fail_if_no_peer_cert: bool(false, 'With verify_peer: refuse clients that present no valid certificate (mutual TLS).'),
  versions: listOf(['tlsv1.2', 'tlsv1.3'] as const, ['tlsv1.2', 'tlsv1.3'], 'TLS protocol versions offered.'),
  ciphers: strList([], 'OpenSSL cipher names for TLS 1.2 (empty = Node defaults).'),
  enable_crl_check: bool(false, 'With verify_peer: check client certificates against the CRLs of the distribution points they name (fetched over HTTP, cached as crl_cache says) and crlfile. A revoked certificate, or one whose status cannot be determined, is refused.'),
  crlfile: str('', 'PEM (or DER) file of CRLs client certificates are checked against; needs verify_peer. Re-read when it changes. Petrel addition ("" = none).'),
  ocsp: obj({
    enable_ocsp_stapling: bool(false, 'Staple the OCSP response for the server certificate to handshakes that ask for it.'),
    responder_url: str('', 'HTTP URL of the OCSP responder for the server certificate (required with stapling).'),
    issuer_pem: str('', 'PEM file of the certificate that issued the server certificate (required with stapling).'),
    refresh_interval: duration('5m', 'How often the OCSP response is fetched again.', { min: 1000 }),
    refresh_http_timeout: duration('15s', 'How long one OCSP fetch may take.', { min: 1 }),
  }, 'OCSP stapling (see docs/tls.md).'),
}, 'TLS settings. Certificate, key, CA and CRL files are reloaded when they change on disk.');

const websocket = obj({
  mqtt_path: str('/mqtt', 'HTTP path that accepts MQTT-over-WebSocket upgrades; other paths get 404.', {
    pattern: /^\/[^\s?#]*$/, patternHint: 'a path starting with "/"',
  }),
  max_frame_size: size('16MB', 'Largest WebSocket message accepted; a bigger one closes the connection (1009).', { min: 2 }),
  supported_subprotocols: strList(['mqtt', 'mqttv3.1', 'mqttv5'], 'WebSocket subprotocols accepted; the first one the client offers that is in this list is chosen. A client that offers only others gets HTTP 400.', {
    min: 1, pattern: /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, patternHint: 'a subprotocol token (letters, digits, and !#$%&\'*+-.^_`|~)',
  }),
  fail_if_no_subprotocol: bool(false, 'Refuse (HTTP 400) a client that offers no subprotocol at all; false accepts it.'),
}, 'WebSocket settings.');

export const tcpListener = obj({
  ...listenerFields(1883),
  raw_sockets: bool(true, 'Serve connections on bare libuv TCP handles instead of one net.Socket each (less memory and CPU per connection); false uses net.Socket. Falls back to net.Socket (with a warning at start) on a Node major the raw handles were not tested on, or when this Node lacks the handle API.'),
});
export const sslListener = obj({ ...listenerFields(8883), ssl_options: sslOptions });
export const wsListener = obj({ ...listenerFields(8083), websocket });
export const wssListener = obj({ ...listenerFields(8084), websocket, ssl_options: sslOptions });

/** ms as a non-negative integer, or absent; EMQX's `*_ms` QUIC settings override their duration twins. */
const optionalMs = (description: string) => custom<number | null>(null, description, 'integer ms', (v) => (
  v === null ? { ok: true, value: null }
    : typeof v === 'number' && Number.isInteger(v) && v >= 0 ? { ok: true, value: v }
      : { ok: false, error: `expected a whole number of milliseconds >= 0, got ${JSON.stringify(v)}` }));

/** EMQX keeps only these ssl_options for QUIC (emqx_schema is_quic_ssl_opts) plus fail_if_no_peer_cert. */
const quicSslOptions = obj({
  certfile: str('', 'PEM file with the server certificate (chain). Required when the listener is enabled.'),
  keyfile: str('', 'PEM file with the server private key (unencrypted). Required when the listener is enabled.'),
  cacertfile: str('', 'PEM file with the CA certificates client certificates are verified against; required with verify_peer.'),
  verify: oneOf(['verify_none', 'verify_peer'] as const, 'verify_none', 'verify_peer asks clients for a certificate and verifies it against cacertfile. On QUIC a client without one is refused either way (see fail_if_no_peer_cert).'),
  fail_if_no_peer_cert: bool(false, 'With verify_peer: refuse clients that present no certificate. The QUIC TLS stack always does so under verify_peer, so false only earns a warning at start.'),
}, 'TLS 1.3 settings of the QUIC handshake (files read at start and restart).');

export const quicListener = obj({
  ...listenerFields(14567),
  idle_timeout: duration('0s', 'Close a QUIC connection that has been silent this long (QUIC max_idle_timeout); 0 = never.', { min: 0 }),
  idle_timeout_ms: optionalMs('Same as idle_timeout in ms; takes precedence when set (EMQX low-level name).'),
  handshake_idle_timeout: duration('10s', 'Longest a QUIC handshake, and then the wait for the client to open its MQTT stream, may take.', { min: 1 }),
  handshake_idle_timeout_ms: optionalMs('Same as handshake_idle_timeout in ms; takes precedence when set.'),
  keep_alive_interval: duration('0s', 'Send a QUIC PING this often on an idle connection (keeps NAT bindings open); 0 = never.', { min: 0 }),
  keep_alive_interval_ms: optionalMs('Same as keep_alive_interval in ms; takes precedence when set.'),
  peer_bidi_stream_count: int(10, 'Bidirectional streams a client may open. The first carries MQTT; more are refused (multi-stream mode is not supported).', { min: 1 }),
  peer_unidi_stream_count: int(1, 'Unidirectional streams a client may open; they carry nothing in MQTT over QUIC and are refused.', { min: 0 }),
  migration_enabled: bool(true, 'Announce that clients may move their connection to a new address (QUIC active migration). false sends disable_active_migration; a NAT rebinding is still followed either way, so the session survives it.'),
  ssl_options: quicSslOptions,
});

function parseWorkers(v: unknown): { ok: true; value: number | 'auto' } | { ok: false; error: string } {
  if (v === 'auto') return { ok: true, value: 'auto' };
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 256) return { ok: true, value: n };
  return { ok: false, error: `must be a whole number of processes from 1 to 256, or auto (got ${JSON.stringify(v)})` };
}

export const schema = obj({
  node: obj({
    name: str('petrel@127.0.0.1', 'Node name, "name@host"; unique in a cluster.', {
      pattern: /^[A-Za-z0-9_.-]+@[A-Za-z0-9_.:-]+$/, patternHint: '"name@host"',
    }),
    data_dir: str('data', 'Directory for the embedded store and other node state.'),
    role: oneOf(['core', 'replica'] as const, 'core', 'core nodes hold cluster state; replica nodes are stateless brokers.'),
    region: str('', 'Region label of this node (used by replicas and the operator); "" = none.'),
    workers: custom<number | 'auto'>(1, 'Broker processes this node runs on its host behind one set of ports (docs/workers.md): a number, or auto = one per CPU it may use (a container\'s CPU limit counts, rounded up). More than 1 needs cluster.backend: etcd: the workers are members of the cluster (worker 1 named as the node, worker i `<name>.w<i>@<host>`, its data in <data_dir>/workers/<i>), so sessions, routes, retained messages and takeovers work across them as across nodes.', 'a number of processes or auto', parseWorkers),
  }),
  log: obj({
    level: oneOf(['debug', 'info', 'warn', 'error'] as const, 'info', 'Lowest level that is logged.'),
    format: oneOf(['auto', 'json', 'pretty'] as const, 'auto', 'auto = pretty on a terminal, JSON otherwise.'),
  }),
  listeners: obj({
    tcp: mapOf(tcpListener, { default: {} }, 'MQTT over TCP listeners, by name.'),
    ssl: mapOf(sslListener, { default: { enable: false } }, 'MQTT over TLS listeners, by name.'),
    ws: mapOf(wsListener, { default: {} }, 'MQTT over WebSocket listeners, by name.'),
    wss: mapOf(wssListener, { default: { enable: false } }, 'MQTT over secure WebSocket listeners, by name.'),
    quic: mapOf(quicListener, {}, 'MQTT over QUIC listeners (UDP), by name; none unless configured, as in EMQX. See docs/transport.md.'),
  }),
  mqtt: obj({
    max_packet_size: size('1MB', 'Largest MQTT packet accepted (and announced to v5 clients).', { min: 2, max: 268_435_456 }),
    max_clientid_len: int(65535, 'Longest client identifier accepted.', { min: 23, max: 65535 }),
    max_topic_levels: int(128, 'Most levels in a topic name or filter.', { min: 1, max: 65535 }),
    max_qos_allowed: int(2, 'Highest QoS granted to subscriptions and accepted from publishers.', { min: 0, max: 2 }),
    max_topic_alias: int(65535, 'Topic Alias Maximum announced to v5 clients (0 = aliases disabled).', { min: 0, max: 65535 }),
    retain_available: bool(true, 'Whether retained messages are supported.'),
    wildcard_subscription: bool(true, 'Whether wildcard subscriptions are allowed.'),
    shared_subscription: bool(true, 'Whether $share/ and $queue/ subscriptions are allowed.'),
    exclusive_subscription: bool(true, 'Whether $exclusive/ subscriptions are allowed.'),
    idle_timeout: duration('15s', 'Time a new connection has to send CONNECT before it is closed.', { infinity: true }),
    keepalive_multiplier: num(1.5, 'A client is dropped after keepalive × this with no packet.', { min: 1, max: 100 }),
    server_keepalive: intOrDisabled('disabled', 'Keep alive (seconds) imposed on v5 clients, or "disabled".', { min: 1, max: 65535, unit: 'seconds' }),
    max_subscriptions: int(NO_LIMIT, 'Most subscriptions per client.', { min: 1 }),
    upgrade_qos: bool(false, 'Deliver at the subscription QoS even when the message QoS is lower.'),
    max_inflight: int(32, 'Most unacknowledged QoS 1/2 messages per client (v5 Receive Maximum towards the client).', { min: 1, max: 65535 }),
    retry_interval: duration('30s', 'MQTT 3.x clients: resend an unacknowledged QoS 1/2 message after this long (0 = only on reconnect). MQTT 5 clients get resends only on reconnect, as the spec requires.'),
    max_awaiting_rel: int(100, 'Most incoming QoS 2 messages awaiting PUBREL per client (0 = no limit).', { min: 0 }),
    await_rel_timeout: duration('300s', 'Drop an incoming QoS 2 message whose PUBREL has not come after this long.'),
    session_expiry_interval: duration('2h', 'Session expiry for v3 clients with clean_session=false, and the cap for v5 clients.', { infinity: true }),
    max_mqueue_len: int(1000, 'Most messages queued for an offline or busy client (0 = no limit).', { min: 0, infinity: true }),
    mqueue_store_qos0: bool(true, 'Queue QoS 0 messages for offline persistent sessions.'),
    mqueue_drop_policy: oneOf(['drop_oldest', 'drop_new'] as const, 'drop_oldest', 'Which message is dropped when the queue is full.'),
    shared_subscription_strategy: oneOf(
      ['random', 'round_robin', 'round_robin_per_group', 'sticky', 'hash_clientid', 'hash_topic', 'local'] as const,
      'round_robin', 'How a message to a shared subscription group picks its member.'),
    ignore_loop_deliver: bool(false, 'Never deliver a client its own publishes (as if every subscription had v5 No Local).'),
    message_expiry_interval: duration(NO_LIMIT, 'Expiry of messages that carry none (queued and retained).', { infinity: true }),
    max_will_delay: duration(NO_LIMIT, 'Cap on a v5 Will Delay Interval.', { infinity: true }),
    response_information: str('', 'v5 Response Information returned when a client asks for it ("" = none).'),
    peer_cert_as_username: oneOf(PEER_CERT_AS, 'disabled', 'ssl/wss with a verified client certificate: use this of it as the username (cn, dn, crt = PEM text, pem = base64 of the DER, md5 = hex MD5 of the DER).'),
    peer_cert_as_clientid: oneOf(PEER_CERT_AS, 'disabled', 'ssl/wss with a verified client certificate: use this of it as the client id (values as peer_cert_as_username).'),
  }),
  retainer: obj({
    enable: bool(true, 'Store retained messages.'),
    max_retained_messages: int(0, 'Most retained messages kept (0 = no limit).', { min: 0 }),
    max_payload_size: size('1MB', 'Largest retained payload stored; larger ones are not retained.', { min: 0 }),
    msg_expiry_interval: duration('0', 'Expiry of retained messages without their own (0 = never).'),
  }),
  delayed: obj({
    enable: bool(true, 'Support $delayed/{seconds}/topic publishes.'),
    max_delayed_messages: int(0, 'Most delayed messages pending (0 = no limit).', { min: 0 }),
  }),
  durability: obj({
    mode: oneOf(['batched', 'sync', 'none'] as const, 'batched',
      'batched: durable state is written in small batches every flush_interval; sync: before acknowledging; none: memory only.'),
    flush_interval: duration('10ms', 'Batch window for mode=batched.', { min: 1, max: 10_000 }),
  }),
  sys_topics: obj({
    sys_msg_interval: duration('1m', 'Interval of $SYS/brokers/{node}/… statistics (0 = off).'),
    sys_heartbeat_interval: duration('30s', 'Interval of $SYS uptime and datetime messages (0 = off).'),
    sys_event_messages: obj({
      client_connected: bool(true, 'Publish $SYS/brokers/{node}/clients/{id}/connected.'),
      client_disconnected: bool(true, 'Publish $SYS/brokers/{node}/clients/{id}/disconnected.'),
    }),
  }),
  authentication: custom<readonly AuthnEntry[] | null>(null, 'The global authentication chain, as EMQX writes it: an ordered list of authenticators, each `{mechanism, backend, enable, …}` with its backend\'s keys. Asked in order; the first to allow or deny decides; when all pass, the client is refused; an empty list lets everyone in. Absent = the chain last changed through the REST API (kept in the node\'s store, or etcd on a cluster), else none; when set here it wins over REST changes at every start, as emqx.conf wins over cluster.hocon since EMQX 5.1. See docs/authentication.md.', 'list of authenticators', parseAuthnSetting),
  crl_cache: obj({
    refresh_interval: duration('15m', 'How often every cached CRL distribution point is fetched again (all listeners).', { min: 1000 }),
    http_timeout: duration('15s', 'How long one CRL fetch may take.', { min: 1 }),
    capacity: int(100, 'Most CRL distribution-point URLs cached; the oldest is dropped first.', { min: 1 }),
  }, 'Cache of CRLs fetched from the distribution points of client certificates (enable_crl_check).'),
  authorization: obj({
    no_match: oneOf(['allow', 'deny'] as const, 'allow', 'Answer when no authorization source decides.'),
    deny_action: oneOf(['ignore', 'disconnect'] as const, 'ignore', 'A denied publish or subscribe: ignore answers with the reason code (v5 0x87, v3 SUBACK 0x80, QoS 0 dropped); disconnect closes the client (v5: DISCONNECT 0x87).'),
    sources: custom<readonly SourceConfig[] | null>(null, 'Authorization sources, asked in order until one allows or denies: `{type: file, path}` (EMQX acl.conf, or `rules:` inline), `{type: built_in_database, max_rules}`. Absent = the sources last changed through the REST API (kept in the node\'s store, or etcd on a cluster), else none; when set here they win over REST changes at every start. See docs/authorization.md.', 'list of sources', (v) => (v === undefined || v === null ? { ok: true, value: null } : parseSources(v))),
    cache: obj({
      enable: bool(true, 'Cache authorization answers per client.'),
      max_size: int(32, 'Most cached answers per client (the oldest is evicted first).', { min: 1, max: 1_000_000 }),
      ttl: duration('1m', 'How long a cached answer is used.'),
    }, 'Per-client cache of authorization answers; emptied whenever a source or rule changes.'),
  }),
  trace: obj({
    max_traces: int(30, 'Most log traces (/api/v5/trace) kept at once, running, waiting or stopped; creating one more answers 400 EXCEED_LIMIT (0 = creating traces is refused).', { min: 0, max: 100 }),
    max_file_size: size('64MB', 'Largest file a trace writes on a node (<data_dir>/trace/<name>.log); past it the trace writes one line saying so and nothing more.', { min: 100 * 1024, max: 10 * 1024 ** 3 }),
  }, 'Log traces (docs/api.md, "Log trace"): definitions made through the REST API, kept in the node\'s store (etcd on a cluster).'),
  banned: obj({
    bootstrap_file: str('', 'CSV file of bans (EMQX\'s format: a header "as,who,reason,at,until,by", then one ban a line) loaded at start when the banned list is empty ("" = none).'),
  }, 'The banned list (docs/banned-and-limits.md); bans are managed at /api/v5/banned and kept in the node\'s store (etcd on a cluster, shared by every node).'),
  flapping_detect: obj({
    enable: bool(false, 'Ban a client id that connects too often: max_count CONNECTs within window_time.'),
    window_time: duration('1m', 'The time window in which CONNECTs of one client id are counted.', { min: 1 }),
    max_count: int(15, 'CONNECTs of one client id within window_time that count as flapping.', { min: 1 }),
    ban_time: duration('5m', 'How long a flapping client id is banned.', { min: 1000 }),
  }, 'Flapping detection: a client id that keeps reconnecting is banned for a while (through the banned list).'),
  rule_engine: obj({
    rules: custom<readonly RuleSpec[]>(null, 'Rules, as EMQX writes them: a map of rule id → {sql, actions, enable, description}. `sql` is EMQX rule SQL (docs/rules-sql.md); `actions` lists {function: republish, args: {topic, qos, retain, payload, user_properties, mqtt_properties}} and {function: console}. A bad statement is refused at start with its line:column. Rules changed through /api/v5/rules are kept in the node\'s store; at start a rule here wins over a saved one with the same id. See docs/rules.md.', 'map of rules', parseRuleMap),
  }, 'The rule engine (docs/rules.md): SQL over published messages and $events, evaluated off the publish path.'),
  connectors: custom<readonly ConnectorEntry[]>(null, 'Data-integration connectors, as EMQX 5 writes them: `connectors.<type>.<name>: {…the type\'s settings, enable, resource_opts}` with type http, mqtt, pgsql, mysql or redis. One connection (pool) per connector, shared by its actions and sources. Connectors made through /api/v5/connectors are kept in the node\'s store; one here wins over a saved one with its id. See docs/data-integration.md.', 'map of type → name → connector', parseConnectorsSetting),
  actions: custom<readonly ActionEntry[]>(null, 'Data-integration actions (sinks): `actions.<type>.<name>: {connector, parameters, resource_opts, enable}`; a rule names one as "<type>:<name>" in its actions. resource_opts: batch_size, batch_time, inflight_window, request_ttl, max_buffer_bytes (the buffer spills to <data_dir>/sinks/), health_check_interval. See docs/data-integration.md.', 'map of type → name → action', parseActionsSetting),
  sources: custom<readonly SourceEntry[]>(null, 'Data-integration sources: `sources.mqtt.<name>: {connector, parameters: {topic, qos}}`; messages received become rule inputs under FROM "$bridges/mqtt:<name>". See docs/data-integration.md.', 'map of type → name → source', parseSourcesSetting),
  gateway: obj({
    mqttsn: custom<MqttsnConfig | null>(null, 'The MQTT-SN 1.2 gateway, as EMQX 5 writes it: {enable, gateway_id, broadcast, enable_qos3, predefined: [{id, topic}], mountpoint, idle_timeout, clientinfo_override, listeners: {udp: {<name>: {bind, max_connections, max_conn_rate, enable_authn}}}}. Absent = not loaded (as in EMQX); present = enabled unless `enable: false`. See docs/gateways.md.', 'MQTT-SN gateway', parseMqttsn),
    ocpp: custom<OcppConfig | null>(null, 'The OCPP 1.6-J gateway, as EMQX 5 writes it: {enable, mountpoint ("ocpp/"), default_heartbeat_interval, heartbeat_checking_times_backoff, upstream: {topic, topic_override_mapping, reply_topic, error_topic}, dnstream: {topic, max_mqueue_len}, message_format_checking: all|upstream_only|dnstream_only|disable, json_schema_id_prefix, clientinfo_override, listeners: {ws|wss: {<name>: {bind, max_connections, max_conn_rate, enable_authn, websocket: {path, max_frame_size, …}, ssl_options}}}}. Absent = not loaded (as in EMQX). See docs/gateways.md.', 'OCPP gateway', parseOcpp),
    coap: custom<CoapConfig | null>(null, 'The CoAP gateway (RFC 7252 with Observe and block-wise transfer), as EMQX 5 writes it: {enable, mountpoint, connection_required, heartbeat, notify_type: qos|con|non, subscribe_qos, publish_qos: qos0|qos1|qos2|coap, blockwise: {enable, max_block_size, max_body_size, exchange_lifetime}, idle_timeout, clientinfo_override, listeners: {udp: {<name>: {bind, max_connections, max_conn_rate, enable_authn}}}}. DTLS listeners are refused. Absent = not loaded; present = enabled unless `enable: false`. See docs/gateways.md.', 'CoAP gateway', parseCoap),
  }, 'Gateways: devices that speak other protocols, as first-class clients (docs/gateways.md).'),
  rewrite: custom<readonly RewriteRule[]>(null, 'Topic rewrite rules, as EMQX writes them: a list of {action: publish | subscribe | all, source_topic (a filter), re (a regular expression), dest_topic ($1… for its captures, ${clientid}, ${username})}. Tried from the last rule to the first; the first whose source_topic matches decides, and when its re does not match the topic stays. Authorization checks the topic the client sent. See docs/rules.md.', 'list of rewrite rules', parseRewriteRules),
  auto_subscribe: obj({
    topics: custom<readonly AutoSubscribeTopic[]>(null, 'Topics every client is subscribed to when it connects: a list of {topic, qos, rh, rap, nl}; topic may hold ${clientid}, ${username}, ${host} and ${port}. No authorization check, as EMQX. See docs/rules.md.', 'list of topics', parseAutoSubscribe),
  }, 'Auto-subscribe (EMQX\'s auto_subscribe).'),
  cluster: obj({
    backend: oneOf(['local', 'etcd'] as const, 'local',
      'local: a single node with its embedded store. etcd: a member of a cluster whose shared state (membership, routes, client registry, retained messages, shared groups) lives in etcd; messages cross between nodes on the node-to-node link.'),
    etcd: obj({
      endpoints: strList([], 'etcd client URLs, e.g. http://127.0.0.1:2379 (env: comma-separated).'),
      prefix: str('/petrel', 'Key prefix of this cluster in etcd.'),
      ssl_options: obj({
        cacertfile: str('', 'CA for the etcd server certificate ("" = plain HTTP or system CAs).'),
        certfile: str('', 'Client certificate for etcd.'),
        keyfile: str('', 'Client key for etcd.'),
      }, 'TLS towards etcd.'),
      lease_ttl: duration('10s', 'TTL of the lease under which this node registers itself, its routes and its clients: a node that stops renewing it (dead, or cut off from etcd) leaves the cluster this long after.', { min: 2000 }),
      dial_timeout: duration('5s', 'How long one connection attempt to etcd may take.'),
    }),
    link: obj({
      bind: bind('0.0.0.0:5370', 'Address of the node-to-node message link.'),
      advertise: str('', 'host:port other nodes dial for this node\'s link. "" = the bind address when it names a host, else the host part of node.name, with the bound port.'),
      max_pending: int(100_000, 'Most QoS 1/2 messages kept per peer until it acknowledges them (QoS 0 beyond the link\'s buffer is dropped); beyond it a message is dropped and counted.', { min: 1 }),
      ssl_options: obj({
        enable: bool(false, 'Mutual TLS on the node link (every node needs the same CA).'),
        cacertfile: str('', 'CA that signed every node\'s certificate.'),
        certfile: str('', 'This node\'s certificate (server and client).'),
        keyfile: str('', 'This node\'s key.'),
      }, 'TLS on the node-to-node link.'),
    }),
  }),
  dashboard: obj({
    listeners: obj({
      http: obj({
        enable: bool(true, 'Serve the REST API and dashboard.'),
        bind: bind('0.0.0.0:18083', 'Address of the REST API and dashboard.'),
      }),
    }),
    default_username: str('admin', 'Name of the first dashboard administrator, created at start when no dashboard user exists and default_password is set.'),
    default_password: str('', 'Password of that first administrator ("" = none is created: Petrel ships no default password). Read only while no dashboard user exists.'),
    token_expired_time: duration('60m', 'How long a dashboard login token (POST /api/v5/login) is valid.', { min: 1000 }),
    unsuccessful_login_max_attempts: int(5, 'Failed logins of one username within unsuccessful_login_interval that lock it (source addresses get 4 times as many).', { min: 1 }),
    unsuccessful_login_interval: duration('5m', 'Window in which failed logins are counted.', { min: 1000 }),
    unsuccessful_login_lock_duration: duration('10m', 'How long a locked username or source address is refused (401 LOGIN_LOCKED).', { min: 1000 }),
  }),
  api_key: obj({
    bootstrap_file: str('', 'File of "key:secret" lines loaded as API keys at start ("" = none).'),
  }),
});

export type Config = Infer<typeof schema>;
