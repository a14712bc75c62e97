/** Connector/action/source settings from the config file: EMQX names, defaults, errors that name the key. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../../broker/src/config/index.js';
import { parseActionEntry, parseConnectorEntry } from '../../../../broker/src/rules/connectors/integration-config.js';

describe('data integration config', () => {
  it('an EMQX 5 http connector and action load with defaults', () => {
    const cfg = loadConfig({ overrides: {
      connectors: { http: { hook: { url: 'http://127.0.0.1:8080/api', headers: { 'x-a': 'b' }, resource_opts: { health_check_interval: '2s', start_timeout: '5s' } } } },
      actions: { http: { a1: { connector: 'hook', parameters: { method: 'put', path: '/x/${clientid}', body: '${payload}' }, resource_opts: { batch_size: 1, request_ttl: 'infinity', query_mode: 'async', worker_pool_size: 16 } } } },
    } });
    assert.equal(cfg.connectors[0]!.id, 'http:hook');
    assert.equal(cfg.connectors[0]!.resourceOpts.health_check_interval, 2000);
    const a = cfg.actions[0]!;
    assert.equal(a.id, 'http:a1');
    assert.equal(a.resourceOpts.request_ttl, Infinity);
    assert.equal(a.resourceOpts.max_buffer_bytes, 256 * 1024 * 1024);
    assert.equal(a.resourceOpts.inflight_window, 100);
    assert.deepEqual((a.params as { method: string }).method, 'put');
  });

  it('errors name the key', () => {
    assert.throws(() => loadConfig({ overrides: { connectors: { http: { hook: { url: 'ftp://x' } } } } }), /connectors\.http\.hook\.url: expected an http/);
    assert.throws(() => loadConfig({ overrides: { connectors: { nosuch: { x: {} } } } }), /connectors\.nosuch: unknown type 'nosuch'/);
    assert.throws(() => parseActionEntry('http', 'a', { connector: 'c', parameters: { method: 'patch' } }), /actions\.http\.a\.parameters\.method: expected one of post, put, get, delete/);
    assert.throws(() => parseActionEntry('http', 'a', { connector: 'c', parameters: { bdy: 'x' } }), /actions\.http\.a\.parameters: unknown key 'bdy' \(did you mean 'body'\?\)/);
    assert.throws(() => parseActionEntry('http', 'a', { connector: 'c', resource_opts: { batch_size: 0 } }), /actions\.http\.a\.resource_opts\.batch_size: 0 is below the minimum 1/);
    assert.throws(() => parseActionEntry('pgsql', 'a', { connector: 'c', parameters: { sql: 'INSERT ${x' } }), /actions\.pgsql\.a\.parameters\.sql: /);
    assert.throws(() => parseActionEntry('redis', 'a', { connector: 'c', parameters: { command_template: 'HSET k f v' } }), /command_template: expected a list/);
    assert.throws(() => parseActionEntry('mysql', 'a', { parameters: { sql: 'SELECT 1' } }), /actions\.mysql\.a\.connector: the name of a mysql connector is required/);
    assert.throws(() => parseConnectorEntry('pgsql', 'p', { server: 'h:99999', database: 'd' }), /connectors\.pgsql\.p\.server: port 99999/);
    assert.throws(() => parseConnectorEntry('redis', 'r', { server: 'h', redis_type: 'cluster' }), /redis_type: 'cluster' is not supported/);
    assert.throws(() => parseConnectorEntry('mqtt', 'm', { server: 'h', proto_ver: 'v6' }), /connectors\.mqtt\.m\.proto_ver: expected one of v3, v4, v5/);
  });
});
