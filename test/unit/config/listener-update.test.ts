/** A PUT body laid over a listener's config: only the fields given change, checked by the type's schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../../broker/src/config/index.js';
import { listenerUpdate } from '../../../broker/src/config/listener-update.js';

const cfg = defaultConfig();
const ws = cfg.listeners.ws.default as unknown as Record<string, unknown>;

test('nested fields merge: the ones not named keep their value; units are parsed', () => {
  const got = listenerUpdate('ws', ws, { max_connections: 10, websocket: { mqtt_path: '/m' }, tcp_options: { high_watermark: '1MB' } });
  assert.ok(got.ok);
  const c = got.cfg as typeof cfg.listeners.ws.default;
  assert.equal(c.max_connections, 10);
  assert.equal(c.websocket.mqtt_path, '/m');
  assert.deepEqual(c.websocket.supported_subprotocols, cfg.listeners.ws.default!.websocket.supported_subprotocols);
  assert.equal(c.tcp_options.high_watermark, 1024 * 1024);
  assert.equal(c.bind, cfg.listeners.ws.default!.bind);
  assert.equal((ws.websocket as { mqtt_path: string }).mqtt_path, '/mqtt', 'the current config is not changed');
});

test('refused: unknown keys (with the suggestion), another type\'s fields, bad values, authentication, unknown types', () => {
  const bad = (type: string, body: unknown): string => {
    const r = listenerUpdate(type, ws, body);
    assert.equal(r.ok, false);
    return (r as { error: string }).error;
  };
  assert.match(bad('ws', { max_connection: 5 }), /body\.max_connection: unknown key \(did you mean body\.max_connections\?\)/);
  assert.match(bad('tcp', { websocket: { mqtt_path: '/x' } }), /body\.websocket: unknown key/);
  assert.match(bad('ws', { bind: 'nowhere:port' }), /body\.bind: /);
  assert.match(bad('ws', { authentication: [] }), /body\.authentication: .*built when the node starts/);
  assert.match(bad('coap', {}), /cannot be updated/);
  assert.match(bad('ws', [1]), /expected the listener's fields/);
});
