/**
 * The authentication chain's semantics (EMQX's emqx_authn_chains): order, allow/deny stop,
 * ignore / throw / reject pass on with one log line naming the authenticator, all-ignored is
 * NOT_AUTHORIZED, counters, superuser and ACL hand-over, SCRAM's continue; and the chain set:
 * hook installed only while some authenticator is enabled, per-listener chains, REST changes
 * (create, update, move, delete) applied in place with the built-in database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Chain, ChainSet, parsePosition, type Member } from '../../../broker/src/access/authn/chain.js';
import { parseAuthnEntry, parseAuthnList, type AuthnEntry } from '../../../broker/src/access/authn/registry.js';
import { Hooks, type AuthRequest, type ClientInfo } from '../../../broker/src/hooks.js';
import { memoryStore } from '../../../broker/src/store/index.js';
import { createLogger } from '../../../broker/src/log.js';
import type { AccessContext, AclRule, Authenticator, AuthnOutcome } from '../../../broker/src/access/types.js';
import type { BuiltInDbAuthenticator } from '../../../broker/src/access/authn/built-in-db.js';

function context(): { ctx: AccessContext; lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', format: 'json' }, { write: (l: string) => { lines.push(l); } } as never);
  return { ctx: { store: memoryStore(), log, configDir: process.cwd(), clientAcl: new WeakMap() }, lines };
}

function client(username: string | null, listener = 'tcp:default'): ClientInfo {
  return { clientId: 'c-' + (username ?? 'anon'), username, peerHost: '127.0.0.1', peerPort: 1, listener, protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };
}

function req(username: string | null, password: string | null, o: Partial<AuthRequest> = {}): AuthRequest {
  return { client: client(username), password: password === null ? null : Buffer.from(password), method: null, data: null, phase: 'connect', state: {}, ...o };
}

/** An authenticator that answers with `fn` (a test double of the seam, not of a real backend). */
function member(id: string, fn: (r: AuthRequest) => AuthnOutcome | Promise<AuthnOutcome>, enable = true): Member & { closed: () => boolean } {
  let closed = false;
  const auth: Authenticator = { id, mechanism: 'password_based', backend: id, authenticate: fn, close: async () => { closed = true; } };
  const entry = { id, mechanism: 'password_based', backend: id, enable, raw: {}, config: null } as AuthnEntry;
  return { entry, auth: enable ? auth : null, metrics: { total: 0, success: 0, failed: 0, nomatch: 0 }, lastLogAt: 0, held: 0, closed: () => closed };
}

test('in order: ignore passes on, allow stops (later ones not asked), counters as EMQX counts them', async () => {
  const { ctx } = context();
  const asked: string[] = [];
  const c = new Chain('global');
  const a = member('a', () => { asked.push('a'); return { result: 'ignore' }; });
  const b = member('b', async () => { asked.push('b'); return { result: 'allow', isSuperuser: true }; });
  const z = member('z', () => { asked.push('z'); return { result: 'deny' }; });
  c.swap([a, b, z]);
  assert.deepEqual(await c.authenticate(req('u', 'p'), ctx), { result: 'allow', isSuperuser: true });
  assert.deepEqual(asked, ['a', 'b']);
  assert.deepEqual(a.metrics, { total: 1, success: 0, failed: 0, nomatch: 1 });
  assert.deepEqual(b.metrics, { total: 1, success: 1, failed: 0, nomatch: 0 });
  assert.deepEqual(z.metrics, { total: 0, success: 0, failed: 0, nomatch: 0 });
});

test('deny stops with its reason (default NOT_AUTHORIZED); every one ignoring is NOT_AUTHORIZED', async () => {
  const { ctx } = context();
  const c = new Chain('global');
  const d = member('d', () => ({ result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' }));
  const never = member('n', () => { throw new Error('must not be asked'); });
  c.swap([d, never]);
  assert.deepEqual(await c.authenticate(req('u', 'p'), ctx), { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' });
  assert.equal(d.metrics.failed, 1);
  c.swap([member('d2', () => ({ result: 'deny' }))]);
  assert.deepEqual(await c.authenticate(req('u', 'p'), ctx), { result: 'deny', reason: 'NOT_AUTHORIZED' });
  c.swap([member('i1', () => ({ result: 'ignore' })), member('i2', () => ({ result: 'ignore' }))]);
  assert.deepEqual(await c.authenticate(req('u', 'p'), ctx), { result: 'deny', reason: 'NOT_AUTHORIZED' });
});

test('a throw, a rejected promise or an ignore with an error go on to the next, with one log line naming the authenticator', async () => {
  const { ctx, lines } = context();
  const c = new Chain('global');
  const t = member('password_based:redis', () => { throw new Error('ECONNREFUSED 127.0.0.1:1'); });
  const r = member('password_based:http', () => Promise.reject(new Error('socket hang up')));
  const e = member('password_based:mysql', () => ({ result: 'ignore', error: 'pool timeout' }));
  const ok = member('ok', () => ({ result: 'allow' }));
  c.swap([t, r, e, ok]);
  assert.deepEqual(await c.authenticate(req('u', 'p'), ctx), { result: 'allow', isSuperuser: false });
  const logged = lines.map((l) => JSON.parse(l) as { authenticator?: string; msg: string; level: string });
  assert.deepEqual(logged.map((l) => l.authenticator), ['password_based:redis', 'password_based:http', 'password_based:mysql']);
  assert.ok(logged.every((l) => l.level === 'warn'));
  assert.match(logged[0].msg, /password_based:redis failed \(ECONNREFUSED/);
  assert.equal(t.metrics.nomatch, 1);
  // A storm of failures: one line per authenticator per interval, the rest counted.
  for (let i = 0; i < 50; i++) await c.authenticate(req('u', 'p'), ctx);
  assert.equal(lines.length, 3, 'no new lines within the interval');
  assert.equal(t.metrics.nomatch, 51);
});

test('the ACL an authenticator returns is handed to authorization; SCRAM continue passes through, counted once', async () => {
  const { ctx } = context();
  const acl: AclRule[] = [{ permission: 'allow', who: 'all', action: 'publish', topics: ['t/#'] }];
  const c = new Chain('global');
  let step = 0;
  const scram = member('scram:built_in_database', (r) => {
    if (r.method === null) return { result: 'ignore' };
    step++;
    return step === 1 ? { result: 'continue', data: Buffer.from('server-first') } : { result: 'allow', data: Buffer.from('server-final'), acl };
  });
  c.swap([scram]);
  const r1 = req('u', null, { method: 'SCRAM-SHA-256', data: Buffer.from('client-first') });
  assert.deepEqual(await c.authenticate(r1, ctx), { result: 'continue', data: Buffer.from('server-first') });
  const r2 = { ...r1, phase: 'continue' as const, data: Buffer.from('client-final') };
  assert.deepEqual(await c.authenticate(r2, ctx), { result: 'allow', isSuperuser: false, data: Buffer.from('server-final') });
  assert.equal(ctx.clientAcl.get(r1.client), acl);
  assert.deepEqual(scram.metrics, { total: 1, success: 1, failed: 0, nomatch: 0 });
});

test("the credential's expiry (a JWT's exp) reaches the hook's answer; without one the answer has none", async () => {
  const { ctx } = context();
  const c = new Chain('global');
  const expireAt = Date.now() + 2000;
  c.swap([member('jwt', (r) => (r.password?.toString() === 'token' ? { result: 'allow', expireAt } : { result: 'allow' }))]);
  assert.deepEqual(await c.authenticate(req('u', 'token'), ctx), { result: 'allow', isSuperuser: false, expireAt });
  assert.deepEqual(await c.authenticate(req('u', 'other'), ctx), { result: 'allow', isSuperuser: false });
});

test('a chain of disabled authenticators only is open (anonymous), as EMQX', async () => {
  const { ctx } = context();
  const c = new Chain('global');
  c.swap([member('off', () => ({ result: 'deny' }), false)]);
  assert.equal(c.open, true);
  assert.equal(await c.authenticate(req('u', 'p'), ctx), undefined);
});

const BUILT_IN = { mechanism: 'password_based', backend: 'built_in_database' };

function entry(raw: Record<string, unknown>): AuthnEntry {
  const p = parseAuthnEntry(raw);
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

test('chain set: hook installed only while something is enabled; REST-style changes apply in place', async () => {
  const { ctx } = context();
  const hooks = new Hooks();
  const set = new ChainSet(ctx, hooks);
  await set.set(set.global, []);
  assert.equal(hooks.active('client.authenticate'), false, 'nothing configured: no hook, no cost per connect');
  const created = await set.create({ ...BUILT_IN, password_hash_algorithm: { name: 'sha256', salt_position: 'suffix' } });
  assert.equal(created.id, 'password_based:built_in_database');
  assert.equal(hooks.active('client.authenticate'), true);
  const db = (set.global.find(created.id)!.auth as BuiltInDbAuthenticator).users;
  await db.add({ user_id: 'alice', password: 'pw', is_superuser: true });
  assert.deepEqual(await hooks.authenticate(req('alice', 'pw')), { result: 'allow', isSuperuser: true });
  assert.deepEqual(await hooks.authenticate(req('alice', 'nope')), { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' });
  assert.deepEqual(await hooks.authenticate(req('bob', 'pw')), { result: 'deny', reason: 'NOT_AUTHORIZED' }, 'unknown user: ignored, then nothing decided');
  assert.deepEqual(await hooks.authenticate(req(null, null)), { result: 'deny', reason: 'NOT_AUTHORIZED' });
  await assert.rejects(set.create(BUILT_IN), { code: 'ALREADY_EXISTS' });
  await assert.rejects(set.create({ mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'email' }), { code: 'BAD_REQUEST', message: /user_id_type/ });
  // Disable it: open again, hook removed; enable with user_id_type clientid: the same users (same group).
  await set.update(created.id, { ...BUILT_IN, enable: false });
  assert.equal(hooks.active('client.authenticate'), false);
  await set.update(created.id, { ...BUILT_IN, password_hash_algorithm: { name: 'sha256', salt_position: 'suffix' }, user_id_type: 'clientid' });
  assert.deepEqual(await hooks.authenticate({ ...req('x', 'pw'), client: { ...client('x'), clientId: 'alice' } }), { result: 'allow', isSuperuser: true });
  await assert.rejects(set.update('jwt', BUILT_IN), { code: 'NOT_FOUND' });
  await set.delete(created.id);
  assert.equal(hooks.active('client.authenticate'), false);
  await assert.rejects(set.delete(created.id), { code: 'NOT_FOUND' });
  await set.close();
});

test('chain set: a listener chain replaces the global one for its clients only', async () => {
  const { ctx } = context();
  const hooks = new Hooks();
  const set = new ChainSet(ctx, hooks);
  await set.set(set.global, [entry(BUILT_IN)]);
  const own = new Chain('tcp:open');
  set.listeners.set('tcp:open', own);
  await set.set(own, []);
  const r = req('nobody', 'pw');
  assert.deepEqual(await hooks.authenticate(r), { result: 'deny', reason: 'NOT_AUTHORIZED' });
  assert.equal(await hooks.authenticate({ ...r, client: client('nobody', 'tcp:open') }), undefined, 'empty listener chain: anonymous');
  // The listener's built-in database has its own users.
  const ownDb = entry(BUILT_IN);
  await set.set(own, [ownDb]);
  await (own.find(ownDb.id)!.auth as BuiltInDbAuthenticator).users.add({ user_id: 'l', password: 'pw' });
  assert.deepEqual(await hooks.authenticate({ ...req('l', 'pw'), client: client('l', 'tcp:open') }), { result: 'allow', isSuperuser: false });
  assert.deepEqual(await hooks.authenticate(req('l', 'pw')), { result: 'deny', reason: 'NOT_AUTHORIZED' }, 'not a user of the global chain');
  await set.close();
  assert.equal(hooks.active('client.authenticate'), false);
});

test('move: front, rear, before:{id}, after:{id}', async () => {
  assert.deepEqual(parsePosition('front'), { to: 'front' });
  assert.deepEqual(parsePosition('before:password_based:redis'), { to: 'before', id: 'password_based:redis' });
  assert.equal(parsePosition('middle'), undefined);
  const { ctx } = context();
  const set = new ChainSet(ctx, new Hooks());
  // Only the built-in kind exists on this branch: a chain of one can still be moved about.
  await set.set(set.global, [entry(BUILT_IN)]);
  await set.move('password_based:built_in_database', { to: 'rear' });
  await assert.rejects(set.move('password_based:built_in_database', { to: 'before', id: 'jwt' }), { code: 'NOT_FOUND', message: /'jwt'/ });
  await assert.rejects(set.move('jwt', { to: 'front' }), { code: 'NOT_FOUND' });
  await set.close();
});

test('config: errors name the entry index and the key; duplicates refused; a single object accepted', () => {
  const e = (raw: unknown): string => { const p = parseAuthnList(raw); assert.equal(p.ok, false); return (p as { error: string }).error; };
  assert.match(e([BUILT_IN, { ...BUILT_IN, password_hash_algorithm: { name: 'sha3' } }]), /^\[1\] password_based:built_in_database: password_hash_algorithm: name: expected one of/);
  assert.match(e([{ ...BUILT_IN, bootstrap_type: 'cleartext' }]), /^\[0\] .*bootstrap_type/);
  assert.match(e([{ ...BUILT_IN, bootstrap_file: 'users.txt' }]), /^\[0\] .*bootstrap_file: "users.txt" must end in .csv or .json/);
  assert.match(e([{ ...BUILT_IN, colour: 'blue' }]), /^\[0\] .*unknown key 'colour'/);
  assert.match(e([{ backend: 'built_in_database' }]), /^\[0\] mechanism is required/);
  assert.match(e([{ mechanism: 'password_based', backend: 'ldap' }]), /^\[0\] password_based:ldap: no such authenticator \(known: password_based:built_in_database/);
  assert.match(e([BUILT_IN, BUILT_IN]), /^\[1\] password_based:built_in_database: this authenticator is already in the chain/);
  assert.match(e([{ ...BUILT_IN, enable: 'yes' }]), /^\[0\] enable: expected true or false/);
  assert.match(e('password_based'), /expected a list of authenticators/);
  const single = parseAuthnList(BUILT_IN);
  assert.ok(single.ok && single.value.length === 1);
  const off = parseAuthnList([{ ...BUILT_IN, enable: false }]);
  assert.ok(off.ok && off.value[0].enable === false);
});
