import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, defaultConfig, loadConfig, type Config } from '../../../broker/src/config/index.js';

function tmpYaml(text: string): { file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-config-'));
  const file = join(dir, 'petrel.yaml');
  writeFileSync(file, text);
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('defaults match the documented EMQX-like values', () => {
  const c = defaultConfig();
  assert.equal(c.node.name, 'petrel@127.0.0.1');
  assert.equal(c.node.role, 'core');
  assert.equal(c.log.level, 'info');
  assert.equal(c.log.format, 'auto');
  assert.deepEqual(Object.keys(c.listeners.tcp), ['default']);
  assert.equal(c.listeners.tcp['default']!.enable, true);
  assert.equal(c.listeners.tcp['default']!.bind, '0.0.0.0:1883');
  assert.equal(c.listeners.tcp['default']!.max_connections, Infinity);
  assert.equal(c.listeners.ws['default']!.enable, true);
  assert.equal(c.listeners.ws['default']!.bind, '0.0.0.0:8083');
  assert.equal(c.listeners.ws['default']!.websocket.mqtt_path, '/mqtt');
  assert.equal(c.listeners.ssl['default']!.enable, false);
  assert.equal(c.listeners.ssl['default']!.bind, '0.0.0.0:8883');
  assert.deepEqual(c.listeners.ssl['default']!.ssl_options.versions, ['tlsv1.2', 'tlsv1.3']);
  assert.equal(c.listeners.wss['default']!.enable, false);
  assert.equal(c.listeners.wss['default']!.bind, '0.0.0.0:8084');
  assert.equal(c.mqtt.max_packet_size, 1024 * 1024);
  assert.equal(c.mqtt.idle_timeout, 15_000);
  assert.equal(c.mqtt.retry_interval, 30_000);
  assert.equal(c.mqtt.await_rel_timeout, 300_000);
  assert.equal(c.mqtt.session_expiry_interval, 2 * 3600_000);
  assert.equal(c.mqtt.message_expiry_interval, Infinity);
  assert.equal(c.mqtt.max_subscriptions, Infinity);
  assert.equal(c.mqtt.server_keepalive, 'disabled');
  assert.equal(c.mqtt.keepalive_multiplier, 1.5);
  assert.equal(c.mqtt.shared_subscription_strategy, 'round_robin');
  assert.equal(c.mqtt.max_inflight, 32);
  assert.equal(c.mqtt.max_mqueue_len, 1000);
  assert.equal(c.retainer.max_payload_size, 1024 * 1024);
  assert.equal(c.retainer.msg_expiry_interval, 0);
  assert.equal(c.durability.mode, 'batched');
  assert.equal(c.durability.flush_interval, 10);
  assert.equal(c.sys_topics.sys_msg_interval, 60_000);
  assert.equal(c.sys_topics.sys_event_messages.client_connected, true);
  assert.equal(c.dashboard.listeners.http.bind, '0.0.0.0:18083');
  for (const t of ['tcp', 'ssl', 'ws', 'wss'] as const) assert.equal(c.listeners[t]['default']!.tcp_options.high_watermark, 4 * 1024 * 1024, t);
  assert.deepEqual(c.listeners.ws['default']!.websocket.supported_subprotocols, ['mqtt', 'mqttv3.1', 'mqttv5']);
  assert.equal(c.listeners.ws['default']!.websocket.fail_if_no_subprotocol, false);
});

test('the result is deep-frozen', () => {
  const c = loadConfig({});
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.mqtt));
  assert.ok(Object.isFrozen(c.listeners.tcp['default']));
  assert.ok(Object.isFrozen(c.listeners.ssl['default']!.ssl_options.versions));
  assert.throws(() => { (c.mqtt as { max_inflight: number }).max_inflight = 1; }, TypeError);
  assert.throws(() => { (c.listeners.ssl['default']!.ssl_options.versions as string[]).push('x'); }, TypeError);
});

test('YAML file: values, units, named listeners', () => {
  const t = tmpYaml(`
node:
  name: petrel@10.0.0.5
  role: replica
listeners:
  tcp:
    default: {bind: 127.0.0.1:11883, max_connections: 500}
    internal: {bind: "[::1]:0"}
  ws:
    default: {enable: false}
mqtt:
  max_packet_size: 64KB
  idle_timeout: 500ms
  retry_interval: 1h30m
  session_expiry_interval: infinity
  server_keepalive: 60
  max_topic_alias: 0
retainer:
  max_payload_size: "256"
`);
  try {
    const c = loadConfig({ file: t.file });
    assert.equal(c.node.name, 'petrel@10.0.0.5');
    assert.equal(c.node.role, 'replica');
    assert.equal(c.listeners.tcp['default']!.bind, '127.0.0.1:11883');
    assert.equal(c.listeners.tcp['default']!.max_connections, 500);
    assert.equal(c.listeners.tcp['internal']!.bind, '[::1]:0');
    assert.equal(c.listeners.tcp['internal']!.enable, true);
    assert.equal(c.listeners.ws['default']!.enable, false);
    assert.equal(c.listeners.ws['default']!.websocket.mqtt_path, '/mqtt');
    assert.equal(c.mqtt.max_packet_size, 65536);
    assert.equal(c.mqtt.idle_timeout, 500);
    assert.equal(c.mqtt.retry_interval, 5400_000);
    assert.equal(c.mqtt.session_expiry_interval, Infinity);
    assert.equal(c.mqtt.server_keepalive, 60);
    assert.equal(c.mqtt.max_topic_alias, 0);
    assert.equal(c.retainer.max_payload_size, 256);
    assert.equal(c.mqtt.max_inflight, 32, 'untouched keys keep defaults');
  } finally {
    t.done();
  }
});

test('PETREL_* env overrides the file; overrides win over env', () => {
  const t = tmpYaml('mqtt: {max_inflight: 10, upgrade_qos: false}\nlisteners: {tcp: {default: {bind: "1885"}}}\n');
  try {
    const c = loadConfig({
      file: t.file,
      env: {
        PETREL_LISTENERS__TCP__DEFAULT__BIND: '0.0.0.0:1884',
        PETREL_MQTT__MAX_INFLIGHT: '64',
        PETREL_MQTT__UPGRADE_QOS: 'true',
        PETREL_MQTT__MAX_PACKET_SIZE: '2MB',
        PETREL_MQTT__RETRY_INTERVAL: '5s',
        PETREL_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__VERSIONS: 'tlsv1.3',
        PETREL_LISTENERS__TCP__EXTRA__BIND: '127.0.0.1:0',
        PETREL_LISTENERS__TCP__DEFAULT__TCP_OPTIONS__HIGH_WATERMARK: '1MB',
        PETREL_LISTENERS__WS__DEFAULT__WEBSOCKET__SUPPORTED_SUBPROTOCOLS: 'mqtt,mqttv5',
        PETREL_LOG__LEVEL: 'debug',
        PETREL_CONFIG: '/not/a/key', // no "__": not a config key
        HOME: '/root',
      },
      overrides: { log: { level: 'warn' } },
    });
    assert.equal(c.listeners.tcp['default']!.bind, '0.0.0.0:1884');
    assert.equal(c.mqtt.max_inflight, 64);
    assert.equal(c.mqtt.upgrade_qos, true);
    assert.equal(c.mqtt.max_packet_size, 2 * 1024 * 1024);
    assert.equal(c.mqtt.retry_interval, 5000);
    assert.deepEqual(c.listeners.ssl['default']!.ssl_options.versions, ['tlsv1.3']);
    assert.equal(c.listeners.tcp['extra']!.bind, '127.0.0.1:0');
    assert.equal(c.listeners.tcp['default']!.tcp_options.high_watermark, 1024 * 1024);
    assert.deepEqual(c.listeners.ws['default']!.websocket.supported_subprotocols, ['mqtt', 'mqttv5']);
    assert.equal(c.log.level, 'warn');
  } finally {
    t.done();
  }
});

test('env: a map-valued key takes a YAML flow map; a value inside a single value is an error', () => {
  const c = loadConfig({ env: { PETREL_LISTENERS__TCP__EDGE: '{bind: "127.0.0.1:0", max_connections: 10}' } });
  assert.equal(c.listeners.tcp['edge']!.max_connections, 10);
  const e = configError(() => loadConfig({ env: { PETREL_LOG__LEVEL__X: 'debug' } }));
  assert.equal(e.path, 'log.level.x');
  assert.match(e.message, /single value/);
});

test('unknown keys are rejected with their path and the closest known key', () => {
  const t = tmpYaml('mqtt:\n  max_paket_size: 1MB\n');
  try {
    const e = configError(() => loadConfig({ file: t.file }));
    assert.equal(e.path, 'mqtt.max_paket_size');
    assert.match(e.message, /did you mean mqtt\.max_packet_size\?/);
    assert.ok(e.message.includes(t.file), 'names the file the value came from');
  } finally {
    t.done();
  }
  const e2 = configError(() => loadConfig({ env: { PETREL_LISTENERS__TCP__DEFAULT__BINDD: '1884' } }));
  assert.equal(e2.path, 'listeners.tcp.default.bindd');
  assert.match(e2.message, /did you mean listeners\.tcp\.default\.bind\?/);
  assert.match(e2.message, /PETREL_LISTENERS__TCP__DEFAULT__BINDD/);
  const e3 = configError(() => loadConfig({ env: { PETREL_LOG_LEVEL: 'debug' } }));
  assert.match(e3.message, /PETREL_LOG__LEVEL/);
  const e4 = configError(() => loadConfig({ overrides: { listeners: { tcp: { default: { websocket: { mqtt_path: '/x' } } } } } }));
  assert.equal(e4.path, 'listeners.tcp.default.websocket');
});

test('bad units, types and out-of-range values are errors, never clamped', () => {
  const cases: [object, string, RegExp][] = [
    [{ mqtt: { retry_interval: '30x' } }, 'mqtt.retry_interval', /duration/],
    [{ mqtt: { retry_interval: 30 } }, 'mqtt.retry_interval', /needs a unit/],
    [{ mqtt: { retry_interval: 'infinity' } }, 'mqtt.retry_interval', /infinity/],
    [{ mqtt: { max_packet_size: '1XB' } }, 'mqtt.max_packet_size', /size/],
    [{ mqtt: { max_packet_size: '1GB' } }, 'mqtt.max_packet_size', /above the maximum/],
    [{ mqtt: { max_qos_allowed: 3 } }, 'mqtt.max_qos_allowed', /above the maximum 2/],
    [{ mqtt: { max_inflight: 1.5 } }, 'mqtt.max_inflight', /whole number/],
    [{ mqtt: { max_inflight: '32' } }, 'mqtt.max_inflight', /whole number/],
    [{ mqtt: { retain_available: 'yes' } }, 'mqtt.retain_available', /true or false/],
    [{ mqtt: { mqueue_drop_policy: 'drop_olde' } }, 'mqtt.mqueue_drop_policy', /did you mean drop_oldest/],
    [{ log: { level: 'verbose' } }, 'log.level', /one of debug, info, warn, error/],
    [{ listeners: { tcp: { default: { bind: '1.2.3.4:99999' } } } }, 'listeners.tcp.default.bind', /port 0-65535/],
    [{ listeners: { tcp: { default: { bind: '::1:1883' } } } }, 'listeners.tcp.default.bind', /brackets/],
    [{ listeners: { tcp: { Bad_Name: {} } } }, 'listeners.tcp.Bad_Name', /lowercase/],
    [{ listeners: { ssl: { default: { ssl_options: { versions: ['tlsv1.0'] } } } } }, 'listeners.ssl.default.ssl_options.versions', /tlsv1\.0/],
    [{ node: { name: 'nohost' } }, 'node.name', /name@host/],
    [{ listeners: { tcp: { default: { tcp_options: { high_watermark: '0' } } } } }, 'listeners.tcp.default.tcp_options.high_watermark', /below the minimum 1/],
    [{ listeners: { ws: { default: { websocket: { supported_subprotocols: [] } } } } }, 'listeners.ws.default.websocket.supported_subprotocols', /must not be empty/],
    [{ listeners: { ws: { default: { websocket: { supported_subprotocols: ['mqtt', 'bad proto'] } } } } }, 'listeners.ws.default.websocket.supported_subprotocols', /"bad proto".*subprotocol token/],
    [{ listeners: { wss: { default: { websocket: { supported_subprotocols: 'mqtt' } } } } }, 'listeners.wss.default.websocket.supported_subprotocols', /expected a list/],
    [{ mqtt: 5 }, 'mqtt', /expected a map/],
  ];
  for (const [overrides, path, re] of cases) {
    const e = configError(() => loadConfig({ overrides }));
    assert.equal(e.path, path, JSON.stringify(overrides));
    assert.match(e.message, re, JSON.stringify(overrides));
  }
  const env = configError(() => loadConfig({ env: { PETREL_MQTT__MAX_QOS_ALLOWED: 'two' } }));
  assert.equal(env.path, 'mqtt.max_qos_allowed');
  assert.match(env.message, /PETREL_MQTT__MAX_QOS_ALLOWED/);
});

test('all problems are reported, not just the first', () => {
  const e = configError(() => loadConfig({ overrides: { mqtt: { max_qos_allowed: 9, retry_interval: 'x' }, log: { lvl: 1 } } }));
  assert.equal(e.problems.length, 3);
  assert.deepEqual(e.problems.map((p) => p.path).sort(), ['log.lvl', 'mqtt.max_qos_allowed', 'mqtt.retry_interval']);
});

test('cross-key checks: TLS files required when enabled, no two listeners on one port', () => {
  const e = configError(() => loadConfig({ overrides: { listeners: { ssl: { default: { enable: true } } } } }));
  assert.equal(e.path, 'listeners.ssl.default.ssl_options.certfile');
  const e2 = configError(() => loadConfig({ overrides: { listeners: { ws: { default: { bind: '127.0.0.1:1883' } } } } }));
  assert.equal(e2.path, 'listeners.ws.default.bind');
  assert.match(e2.message, /overlaps listeners\.tcp\.default\.bind/);
  const e3 = configError(() => loadConfig({ overrides: { listeners: { ssl: { default: { enable: true, ssl_options: { certfile: 'a', keyfile: 'b', fail_if_no_peer_cert: true } } } } } }));
  assert.equal(e3.path, 'listeners.ssl.default.ssl_options.fail_if_no_peer_cert');
  // A default listener can be removed with null; port 0 never collides.
  const c = loadConfig({ overrides: { listeners: { ws: { default: null }, tcp: { a: { bind: '0' }, b: { bind: '0' } } } } });
  assert.deepEqual(Object.keys(c.listeners.ws), []);
  assert.equal(c.listeners.tcp['a']!.bind, '0.0.0.0:0');
});

test('file errors: missing file, invalid YAML, not a map', () => {
  const missing = configError(() => loadConfig({ file: '/nonexistent/petrel.yaml' }));
  assert.match(missing.message, /cannot read config file \/nonexistent\/petrel\.yaml/);
  const t = tmpYaml('mqtt: [1, 2\n');
  try {
    assert.match(configError(() => loadConfig({ file: t.file })).message, /not valid YAML/);
    writeFileSync(t.file, '- a\n- b\n');
    assert.match(configError(() => loadConfig({ file: t.file })).message, /map of keys/);
    writeFileSync(t.file, '# only a comment\n');
    assert.equal(loadConfig({ file: t.file }).mqtt.max_inflight, 32);
  } finally {
    t.done();
  }
});

test('the Config type follows the schema (compile-time checks)', () => {
  const c: Config = defaultConfig();
  const size: number = c.mqtt.max_packet_size;
  const role: 'core' | 'replica' = c.node.role;
  const ka: number | 'disabled' = c.mqtt.server_keepalive;
  // @ts-expect-error unknown keys do not exist on the type
  void c.mqtt.max_paket_size;
  assert.equal(typeof size, 'number');
  assert.ok(role && ka);
});

test('duration and size parsing', async () => {
  const { parseDuration, parseSize, formatDuration, formatSize } = await import('../../../broker/src/config/index.js');
  const d = (s: unknown) => { const r = parseDuration(s); return r.ok ? r.value : r.error; };
  const z = (s: unknown) => { const r = parseSize(s); return r.ok ? r.value : r.error; };
  assert.equal(d('500ms'), 500);
  assert.equal(d('30s'), 30_000);
  assert.equal(d('15m'), 900_000);
  assert.equal(d('2h'), 7_200_000);
  assert.equal(d('1.5s'), 1500);
  assert.equal(d('infinity'), Infinity);
  assert.equal(d('0'), 0);
  assert.match(String(d('30')), /duration/);
  assert.match(String(d('1.0001s')), /whole number/);
  assert.equal(z('256'), 256);
  assert.equal(z('64KB'), 65536);
  assert.equal(z('1MB'), 1048576);
  assert.equal(z('1mb'), 1048576);
  assert.match(String(z('-1')), /size/);
  assert.match(String(z('1.3B')), /whole number/);
  assert.equal(formatDuration(7_200_000), '2h');
  assert.equal(formatSize(1048576), '1MB');
});
