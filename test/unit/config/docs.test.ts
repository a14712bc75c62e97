import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { renderConfigDocs } from '../../../broker/src/config/docs.js';
import { findRepoRoot } from '../../../broker/src/config/gen-docs.js';
import { loadConfig, schema } from '../../../broker/src/config/index.js';

const docsPath = join(findRepoRoot(), 'docs', 'config.md');

test('docs/config.md is up to date with the schema', () => {
  const committed = readFileSync(docsPath, 'utf8');
  assert.ok(committed === renderConfigDocs(),
    'docs/config.md is stale: run `node --import tsx broker/src/config/gen-docs.ts` and commit it');
});

test('every schema key has a row in docs/config.md', () => {
  const text = readFileSync(docsPath, 'utf8');
  for (const key of ['mqtt.max_packet_size', 'listeners.tcp.<name>.bind', 'listeners.wss.<name>.ssl_options.verify',
    'listeners.ws.<name>.websocket.mqtt_path', 'durability.flush_interval', 'sys_topics.sys_event_messages.client_connected']) {
    assert.ok(text.includes(`| \`${key}\` |`), key);
  }
  assert.ok(Object.keys(schema.fields).every((s) => text.includes(`## ${s}`)));
});

test('the example in docs/config.md is a valid config', () => {
  const text = readFileSync(docsPath, 'utf8');
  const m = /```yaml\n([\s\S]*?)```/.exec(text);
  assert.ok(m, 'example present');
  const c = loadConfig({ overrides: yaml.load(m[1]!) as object });
  assert.equal(c.listeners.tcp['internal']!.bind, '127.0.0.1:11883');
  assert.equal(c.mqtt.max_packet_size, 256 * 1024);
});
