/**
 * Authorization sources and settings changed through REST outlive a restart (namespace
 * `authz_config` of the node's store) unless the configuration file sets them: then the file
 * wins and the saved copy goes, as emqx.conf wins over cluster.hocon since EMQX 5.1. And the
 * shared store a single node uses: the node's own store, one wrapper per store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryStore, type Store } from '../../../broker/src/store/index.js';
import { installAuthz, authzSettingsSet } from '../../../broker/src/access/authz/index.js';
import { AUTHZ_CONFIG_NS } from '../../../broker/src/access/authz/service.js';
import { asShared, sharedOf } from '../../../broker/src/access/shared-store.js';
import { Hooks } from '../../../broker/src/hooks.js';
import { Authorizer } from '../../../broker/src/access/authorizer.js';
import { Metrics } from '../../../broker/src/metrics.js';
import type { AccessContext } from '../../../broker/src/access/types.js';
import type { ClientInfo } from '../../../broker/src/hooks.js';

const log = { warn() {}, info() {}, error() {}, debug() {} } as never;
const client: ClientInfo = { clientId: 'c', username: 'u', peerHost: '127.0.0.1', peerPort: 1, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };
const DEFAULTS = { noMatch: 'allow' as const, cache: { enable: true, maxSize: 32, ttlMs: 60_000 } };

/** A node's authorization over `store`, as a start with this file would build it. */
function start(store: Store, sources: Parameters<typeof installAuthz>[0]['sources'], settingsFromFile: boolean) {
  const hooks = new Hooks();
  const az = new Authorizer(hooks, new Metrics().counters, DEFAULTS);
  const ctx: AccessContext = { store, log, configDir: '/', clientAcl: new WeakMap() };
  return { az, svc: installAuthz({ ctx, hooks, authorizer: az, sources, settingsFromFile }) };
}

test('sources and settings changed through REST come back after a restart when the file does not set them', async () => {
  const store = memoryStore();
  const one = start(store, null, false);
  await one.svc.addSource({ type: 'file', rules: '{deny, all, publish, ["x/#"]}.' });
  await one.svc.putSettings({ no_match: 'deny', cache: { ttl: '5s' } });
  await one.svc.close();

  const two = start(store, null, false);
  assert.deepEqual(two.svc.listSources().map((s) => s.type), ['file']);
  assert.deepEqual(two.svc.getSettings(), { no_match: 'deny', deny_action: 'ignore', cache: { enable: true, max_size: 32, ttl: '5s' } });
  assert.equal(two.az.check(client, 'publish', 'x/1', 0, false), 'deny', 'the saved source runs');
  await two.svc.close();
});

test('a file that sets sources or settings wins, and the saved copy is discarded', async () => {
  const store = memoryStore();
  const one = start(store, null, false);
  await one.svc.addSource({ type: 'built_in_database' });
  await one.svc.putSettings({ no_match: 'deny' });
  await one.svc.close();

  const two = start(store, [], true);
  assert.deepEqual(two.svc.listSources(), []);
  assert.equal(two.svc.getSettings().no_match, 'allow');
  assert.equal(store.get(AUTHZ_CONFIG_NS, 'sources'), undefined);
  assert.equal(store.get(AUTHZ_CONFIG_NS, 'settings'), undefined);
  await two.svc.close();
});

test('saved sources that no longer parse stop the start, naming where they are kept', () => {
  const store = memoryStore();
  store.put(AUTHZ_CONFIG_NS, 'sources', [{ type: 'ldap' }]);
  assert.throws(() => start(store, null, false), /the sources saved through the REST API \(store namespace authz_config\) are invalid: sources\[0\]\.type: unknown source type 'ldap'/);
});

test('the file sets the settings when one differs from its default', () => {
  const d = { no_match: 'allow' as const, deny_action: 'ignore' as const, cache: { enable: true, max_size: 32, ttl: 60_000 } };
  assert.equal(authzSettingsSet(d), false);
  assert.equal(authzSettingsSet({ ...d, no_match: 'deny' }), true);
  assert.equal(authzSettingsSet({ ...d, cache: { ...d.cache, ttl: 1000 } }), true);
});

test('a single node\'s shared store is its own store: one wrapper per store, writes visible at once', async () => {
  const store = memoryStore();
  const s = asShared(store);
  assert.equal(asShared(store), s);
  assert.equal(sharedOf({ store }), s);
  assert.equal(asShared(s), s);
  assert.equal(s.clustered, false);
  const w = s.put('ns', 'b', 1);
  assert.equal(store.get('ns', 'b'), 1, 'in the store before the promise settles');
  await w;
  await s.putAll('ns', [['a', 0], ['c', 2]]);
  assert.deepEqual([...s.scan('ns')], [['a', 0], ['b', 1], ['c', 2]]);
  await s.delPrefix('ns', 'a');
  await s.del('ns', 'b');
  assert.deepEqual([...s.scan('ns')], [['c', 2]]);
});
