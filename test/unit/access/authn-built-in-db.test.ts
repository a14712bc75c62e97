/**
 * The built-in database over the real in-memory store: EMQX's answers (ignore / deny / allow),
 * user_id_type, the user database API (add, update, delete, list, import with override and
 * skip counts), rows loaded back from the store, and a corrupt stored row skipped with a warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtInDbKind, USERS_NAMESPACE, type BuiltInDbAuthenticator } from '../../../broker/src/access/authn/built-in-db.js';
import { memoryStore, type Store } from '../../../broker/src/store/index.js';
import { createLogger } from '../../../broker/src/log.js';
import type { AuthRequest, ClientInfo } from '../../../broker/src/hooks.js';
import type { AccessContext } from '../../../broker/src/access/types.js';

function make(raw: Record<string, unknown> = {}, store: Store = memoryStore(), lines: string[] = []): BuiltInDbAuthenticator {
  const log = createLogger({ level: 'info', format: 'json' }, { write: (l: string) => { lines.push(l); } } as never);
  const ctx: AccessContext & { chainName: string } = { store, log, configDir: process.cwd(), clientAcl: new WeakMap(), chainName: 'global' };
  const p = builtInDbKind.parse(raw);
  if (!p.ok) throw new Error(p.error);
  return builtInDbKind.create(p.value, ctx) as BuiltInDbAuthenticator;
}

function req(username: string | null, password: string | null, clientId = 'cid', o: Partial<AuthRequest> = {}): AuthRequest {
  const client: ClientInfo = { clientId, username, peerHost: '127.0.0.1', peerPort: 1, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };
  return { client, password: password === null ? null : Buffer.from(password), method: null, data: null, phase: 'connect', state: {}, ...o };
}

test("EMQX's answers: unknown user, no password or an AUTH exchange → ignore; wrong password → deny; right → allow with is_superuser", async () => {
  const a = make();
  await a.users.add({ user_id: 'alice', password: 'pw', is_superuser: true });
  assert.deepEqual(await a.authenticate(req('alice', 'pw')), { result: 'allow', isSuperuser: true });
  assert.deepEqual(await a.authenticate(req('alice', 'PW')), { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' });
  assert.deepEqual(await a.authenticate(req('bob', 'pw')), { result: 'ignore' });
  assert.deepEqual(await a.authenticate(req('alice', null)), { result: 'ignore' });
  assert.deepEqual(await a.authenticate(req(null, 'pw')), { result: 'ignore' });
  assert.deepEqual(await a.authenticate(req('alice', 'pw', 'cid', { method: 'SCRAM-SHA-256' })), { result: 'ignore' });
  const byClient = make({ user_id_type: 'clientid' });
  await byClient.users.add({ user_id: 'dev-1', password: 'pw' });
  assert.deepEqual(await byClient.authenticate(req(null, 'pw', 'dev-1')), { result: 'allow', isSuperuser: false });
});

test('user API: add twice → ALREADY_EXISTS; update; delete; list paged, filtered, in id order', async () => {
  const a = make({ password_hash_algorithm: { name: 'pbkdf2', mac_fun: 'sha256', iterations: 10 } });
  for (const id of ['zed', 'amy', 'bea', 'carl']) await a.users.add({ user_id: id, password: id, is_superuser: id === 'bea' });
  await assert.rejects(a.users.add({ user_id: 'amy', password: 'x' }), { code: 'ALREADY_EXISTS' });
  await a.users.update('amy', { is_superuser: true });
  assert.deepEqual(await a.authenticate(req('amy', 'amy')), { result: 'allow', isSuperuser: true }, 'password kept when only is_superuser changes');
  await a.users.update('amy', { password: 'new' });
  assert.deepEqual(await a.authenticate(req('amy', 'amy')), { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' });
  await assert.rejects(a.users.update('nobody', { password: 'x' }), { code: 'NOT_FOUND' });
  assert.deepEqual(a.users.list({ page: 1, limit: 2 }), { data: [{ user_id: 'amy', is_superuser: true }, { user_id: 'bea', is_superuser: true }], count: 4 });
  assert.deepEqual(a.users.list({ page: 2, limit: 3 }).data.map((u) => u.user_id), ['zed']);
  assert.deepEqual(a.users.list({ page: 1, limit: 10, is_superuser: false }).data.map((u) => u.user_id), ['carl', 'zed']);
  assert.deepEqual(a.users.list({ page: 1, limit: 10, like_user_id: 'e' }).data.map((u) => u.user_id), ['bea', 'zed']);
  assert.equal(await a.users.delete('zed'), true);
  assert.equal(await a.users.delete('zed'), false);
  assert.equal(a.users.get('zed'), undefined);
});

test('import: success, override, skipped counts; a bad file imports nothing', async () => {
  const a = make({ password_hash_algorithm: { name: 'sha512', salt_position: 'suffix' } });
  await a.users.add({ user_id: 'old', password: 'old-pw' });
  const r = await a.users.import('csv', 'user_id,password,is_superuser\nold,replaced,false\nn1,p1,true\nn2,p2,false\n', 'plain');
  assert.deepEqual(r, { total: 3, success: 2, override: 1, skipped: 0, failed: 0 });
  assert.deepEqual(await a.authenticate(req('old', 'replaced')), { result: 'allow', isSuperuser: false });
  const rows = JSON.stringify([{ user_id: 'h1', password_hash: 'abc', salt: 's' }]);
  assert.deepEqual(await a.users.import('json', rows, 'hash'), { total: 1, success: 1, override: 0, skipped: 0, failed: 0 });
  assert.deepEqual(await a.users.import('json', rows, 'hash'), { total: 1, success: 0, override: 0, skipped: 1, failed: 0 });
  await assert.rejects(a.users.import('csv', 'user_id,password\nx1,p\nx2\n', 'plain'), { code: 'BAD_REQUEST', message: /uploaded CSV:3: 1 fields/ });
  assert.equal(a.users.get('x1'), undefined);
});

test('rows come back from the store for a new authenticator of the same group; a corrupt row is skipped with a warning', async () => {
  const store = memoryStore();
  const one = make({}, store);
  await one.users.add({ user_id: 'keep', password: 'pw' });
  store.put(USERS_NAMESPACE, 'global/password_based:built_in_database\u0000broken', { password_hash: 42 });
  const lines: string[] = [];
  const two = make({}, store, lines);
  assert.deepEqual(await two.authenticate(req('keep', 'pw')), { result: 'allow', isSuperuser: false });
  assert.equal(two.users.get('broken'), undefined);
  assert.match(lines.join(''), /malformed user row skipped/);
});
