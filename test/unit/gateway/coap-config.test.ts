/** gateway.coap parsing: EMQX 5's names and defaults, errors naming the key, DTLS refused with its reason. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCoap } from '../../../broker/src/gateway/coap/config.js';
import { loadConfig, ConfigError } from '../../../broker/src/config/index.js';

const err = (v: unknown): string => { const r = parseCoap(v); assert.equal(r.ok, false); return r.ok ? '' : r.error; };

describe('gateway.coap config', () => {
  it('absent = not loaded; {} = enabled with EMQX defaults (5683, connectionless, heartbeat 30s, notify qos, coap QoS policies, 1024-byte blocks)', () => {
    assert.deepEqual(parseCoap(undefined), { ok: true, value: null });
    const r = parseCoap({});
    assert.ok(r.ok && r.value !== null);
    const v = r.value!;
    assert.equal(v.enable, true);
    assert.equal(v.connectionRequired, false);
    assert.equal(v.heartbeatMs, 30_000);
    assert.equal(v.notifyType, 'qos');
    assert.equal(v.subscribeQos, 'coap');
    assert.equal(v.publishQos, 'coap');
    assert.deepEqual(v.blockwise, { enable: true, maxBlockSize: 1024, maxBodySize: 4 * 1024 * 1024, exchangeLifetimeMs: 247_000 });
    assert.deepEqual(v.listeners.map((l) => [l.name, l.bind, l.maxConnections, l.maxConnRate]), [['default', '5683', 1024, 1000]]);
  });

  it('an EMQX block (as JSON) loads unchanged', () => {
    const r = parseCoap({
      enable: true, mountpoint: 'coap/', connection_required: true, heartbeat: '60s', notify_type: 'con', subscribe_qos: 'qos1', publish_qos: 'qos2',
      enable_stats: true, idle_timeout: '30s', blockwise: { enable: true, max_block_size: 512, max_body_size: '1MB', exchange_lifetime: '100s' },
      listeners: { udp: { default: { bind: '0.0.0.0:5683', max_connections: 1024000, max_conn_rate: 1000 } } },
    });
    assert.ok(r.ok && r.value !== null);
    assert.equal(r.value!.subscribeQos, 1);
    assert.equal(r.value!.publishQos, 2);
    assert.equal(r.value!.notifyType, 'con');
    assert.equal(r.value!.blockwise.maxBlockSize, 512);
  });

  it('errors name the key path', () => {
    assert.match(err({ notify_typ: 'qos' }), /gateway\.coap\.notify_typ: unknown key/);
    assert.match(err({ notify_type: 'sometimes' }), /gateway\.coap\.notify_type: expected one of qos, con, non/);
    assert.match(err({ subscribe_qos: 'qos3' }), /gateway\.coap\.subscribe_qos: expected one of qos0, qos1, qos2, coap/);
    assert.match(err({ heartbeat: 30 }), /gateway\.coap\.heartbeat: a duration needs a unit/);
    assert.match(err({ blockwise: { max_block_size: 100 } }), /blockwise\.max_block_size: expected one of 16, 32/);
    assert.match(err({ blockwise: { max_body_size: '10' } }), /blockwise\.max_body_size: must be at least/);
    assert.match(err({ listeners: { udp: { default: { bind: 'nope:x' } } } }), /gateway\.coap\.listeners\.udp\.default\.bind/);
    assert.match(err({ authentication: {} }), /gateway\.coap\.authentication: .*not supported/);
  });

  it('a DTLS listener is refused at start, saying why', () => {
    assert.match(err({ listeners: { dtls: { default: { bind: '5684' } } } }), /gateway\.coap\.listeners\.dtls: DTLS is not supported: Node has no DTLS server/);
    assert.throws(() => loadConfig({ overrides: { gateway: { coap: { listeners: { dtls: { default: { bind: '5684' } } } } } } }),
      (e: unknown) => e instanceof ConfigError && /gateway\.coap\.listeners\.dtls/.test(e.message));
  });
});
