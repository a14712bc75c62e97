/**
 * installAuthn: the loud start-up warning when a listener open to the network lets everyone
 * in (and none for loopback, or when the listener has its own chain), a bad bootstrap file
 * failing the start with nothing left installed, and close() removing the hook.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installAuthn, parseAuthnList, type AuthnEntry } from '../../../broker/src/access/authn/index.js';
import { Hooks } from '../../../broker/src/hooks.js';
import { memoryStore } from '../../../broker/src/store/index.js';
import { createLogger } from '../../../broker/src/log.js';
import type { AccessContext } from '../../../broker/src/access/types.js';

function context(configDir = process.cwd()): { ctx: AccessContext; warnings: () => Array<{ listener?: string; msg: string }> } {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', format: 'json' }, { write: (l: string) => { lines.push(l); } } as never);
  return {
    ctx: { store: memoryStore(), log, configDir, clientAcl: new WeakMap() },
    warnings: () => lines.map((l) => JSON.parse(l)).filter((l) => l.level === 'warn'),
  };
}

function chain(raw: unknown): readonly AuthnEntry[] {
  const p = parseAuthnList(raw);
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

const BUILT_IN = { mechanism: 'password_based', backend: 'built_in_database' };

test('no authentication on a listener bound beyond loopback: one loud warning naming it', async () => {
  const { ctx, warnings } = context();
  const s = await installAuthn({
    hooks: new Hooks(), ctx, nodeName: 'n@h', global: [],
    listeners: [
      { id: 'tcp:default', bind: '0.0.0.0:1883', enable: true, authentication: null },
      { id: 'ws:default', bind: '127.0.0.1:8083', enable: true, authentication: null },
      { id: 'ssl:default', bind: '0.0.0.0:8883', enable: false, authentication: null },
      { id: 'tcp:v6', bind: '[::1]:1884', enable: true, authentication: null },
    ],
  });
  const w = warnings();
  assert.equal(w.length, 1);
  assert.equal(w[0].listener, 'tcp:default');
  assert.match(w[0].msg, /NO AUTHENTICATION on listener tcp:default \(0\.0\.0\.0:1883\)/);
  await s.close();
});

test('no warning when the global chain or the listener\'s own has an enabled authenticator', async () => {
  const { ctx, warnings } = context();
  const s = await installAuthn({
    hooks: new Hooks(), ctx, nodeName: 'n@h', global: chain([{ ...BUILT_IN, enable: false }]),
    listeners: [
      { id: 'tcp:default', bind: '0.0.0.0:1883', enable: true, authentication: chain([BUILT_IN]) },
      { id: 'tcp:internal', bind: '0.0.0.0:1884', enable: true, authentication: null },
    ],
  });
  assert.deepEqual(warnings().map((w) => w.listener), ['tcp:internal'], 'the global chain has only a disabled authenticator');
  await s.close();
  const two = context();
  const s2 = await installAuthn({ hooks: new Hooks(), ctx: two.ctx, nodeName: 'n@h', global: chain([BUILT_IN]), listeners: [{ id: 'tcp:default', bind: '0.0.0.0:1883', enable: true, authentication: null }] });
  assert.equal(two.warnings().length, 0);
  await s2.close();
});

test('a bad bootstrap file (relative to configDir) fails the install, naming the file and line; no hook left behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-authn-unit-'));
  try {
    writeFileSync(join(dir, 'users.csv'), 'user_id,password\nann,pw\n\nben,pw,extra\n');
    const { ctx } = context(dir);
    const hooks = new Hooks();
    await assert.rejects(installAuthn({ hooks, ctx, nodeName: 'n@h', global: chain([{ ...BUILT_IN, bootstrap_file: 'users.csv' }]), listeners: [] }),
      { message: `authentication password_based:built_in_database: bootstrap_file ${join(dir, 'users.csv')}:4: 3 fields where the header has 2 (user_id,password)` });
    assert.equal(hooks.active('client.authenticate'), false);
    writeFileSync(join(dir, 'users.csv'), 'user_id,password\nann,pw\n');
    const s = await installAuthn({ hooks, ctx, nodeName: 'n@h', global: chain([{ ...BUILT_IN, bootstrap_file: 'users.csv' }]), listeners: [] });
    assert.equal(hooks.active('client.authenticate'), true);
    assert.deepEqual(s.admin.users('password_based:built_in_database').get('ann'), { user_id: 'ann', is_superuser: false });
    assert.throws(() => s.admin.users('jwt'), { code: 'NOT_FOUND' });
    await s.close();
    assert.equal(hooks.active('client.authenticate'), false);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a chain saved through REST that no longer parses fails the start instead of opening the broker', async () => {
  const { ctx } = context();
  ctx.store.put('authn_chain', 'global', [{ mechanism: 'password_based', backend: 'ldap' }]);
  await assert.rejects(installAuthn({ hooks: new Hooks(), ctx, nodeName: 'n@h', global: null, listeners: [] }),
    { message: /the chain saved through the REST API \(store namespace authn_chain\) is invalid: \[0\] password_based:ldap: no such authenticator/ });
  // The file setting the chain replaces it (and drops it).
  const s = await installAuthn({ hooks: new Hooks(), ctx, nodeName: 'n@h', global: chain([BUILT_IN]), listeners: [] });
  assert.equal(ctx.store.get('authn_chain', 'global'), undefined);
  await s.close();
});
