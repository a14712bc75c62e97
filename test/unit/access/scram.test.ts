/**
 * SCRAM: the server's math against RFC 7677's SCRAM-SHA-256 example; full exchanges for
 * SHA-256 and SHA-512 against an independent client; wrong password, tampered messages and
 * replays refused; methods and users that are not ours ignored; the user database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keysFromSalted, saltedPassword, SCRAM_USERS_NS, UserDbError } from '../../../broker/src/access/authn/scram-users.js';
import { parseClientFirst, scramKind, verifyClientFinal, type ScramAuthenticator } from '../../../broker/src/access/authn/scram.js';
import type { AuthRequest } from '../../../broker/src/hooks.js';
import type { AccessContext } from '../../../broker/src/access/types.js';
import { clientInfo, context, scramClient } from './jwt-scram-support.js';

test('RFC 7677 §3: the example exchange verifies and yields the example server signature', async () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const keys = keysFromSalted(await saltedPassword('pencil', salt, 4096, 'sha256'), 'sha256');
  const rec = { stored_key: keys.storedKey.toString('base64'), server_key: keys.serverKey.toString('base64') };
  const first = parseClientFirst('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  assert.ok(typeof first !== 'string');
  assert.deepEqual(first, { gs2: 'n,,', bare: 'n=user,r=rOprNGfwEbeRWgbNEkqO', user: 'user', clientNonce: 'rOprNGfwEbeRWgbNEkqO' });
  const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const ex = { clientFirstBare: first.bare, gs2: first.gs2, nonce, serverFirst: `r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096` };
  const clientFinal = `c=biws,r=${nonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=`;
  assert.deepEqual(verifyClientFinal(clientFinal, ex, rec, 'sha256'), { ok: true, serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=' });
  const other = keysFromSalted(await saltedPassword('pencil2', salt, 4096, 'sha256'), 'sha256');
  const wrong = verifyClientFinal(clientFinal, ex, { stored_key: other.storedKey.toString('base64'), server_key: other.serverKey.toString('base64') }, 'sha256');
  assert.deepEqual(wrong, { ok: false, error: 'client-final: wrong proof (wrong password)' });
});

function make(algorithm: 'sha256' | 'sha512', ctx: AccessContext = context(), iteration_count = 4096): ScramAuthenticator {
  const p = scramKind.parse({ mechanism: 'scram', backend: 'built_in_database', algorithm, iteration_count });
  if (!p.ok) throw new Error(p.error);
  return scramKind.create(p.value, ctx) as ScramAuthenticator;
}

const method = (alg: 'sha256' | 'sha512') => (alg === 'sha256' ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512');

function step(m: string, data: string, phase: AuthRequest['phase'], state: Record<string, unknown>): AuthRequest {
  return { client: clientInfo('c1', null), password: null, method: m, data: Buffer.from(data), phase, state };
}

for (const alg of ['sha256', 'sha512'] as const) {
  test(`${method(alg)}: full exchange, superuser, wrong password`, async () => {
    const a = make(alg);
    await a.users.add({ user_id: 'alice', password: 'wonder,land=', is_superuser: true });
    await a.users.add({ user_id: 'bo,b', password: 'builder' });

    for (const [user, pw, su] of [['alice', 'wonder,land=', true], ['bo,b', 'builder', false]] as const) {
      const c = scramClient(user, pw, alg);
      const state = {};
      const r1 = a.authenticate(step(method(alg), c.first, 'connect', state));
      assert.equal(r1.result, 'continue', user);
      const serverFirst = (r1 as { data: Buffer }).data.toString();
      assert.match(serverFirst, /^r=[^,]+,s=[A-Za-z0-9+/=]+,i=4096$/);
      const r2 = a.authenticate(step(method(alg), c.final(serverFirst), 'continue', state));
      assert.equal(r2.result, 'allow', user);
      assert.equal((r2 as { data: Buffer }).data.toString(), c.expectedServerFinal, 'the server proves it knows the password too');
      assert.equal((r2 as { isSuperuser: boolean }).isSuperuser, su);
    }

    const c = scramClient('alice', 'wonderland', alg);
    const state = {};
    const r1 = a.authenticate(step(method(alg), c.first, 'connect', state));
    const r2 = a.authenticate(step(method(alg), c.final((r1 as { data: Buffer }).data.toString()), 'continue', state));
    assert.deepEqual(r2, { result: 'deny', reason: 'NOT_AUTHORIZED' });
  });
}

test('not ours → ignore: other hash, no data, unknown user, continue of another exchange', async () => {
  const a = make('sha256');
  await a.users.add({ user_id: 'alice', password: 'pw' });
  const first = scramClient('alice', 'pw', 'sha256').first;
  assert.deepEqual(a.authenticate(step('SCRAM-SHA-512', first, 'connect', {})), { result: 'ignore' });
  assert.deepEqual(a.authenticate(step('KERBEROS', first, 'connect', {})), { result: 'ignore' });
  assert.deepEqual(a.authenticate({ ...step('SCRAM-SHA-256', '', 'connect', {}), data: null }), { result: 'ignore' });
  assert.deepEqual(a.authenticate({ ...step('SCRAM-SHA-256', '', 'connect', {}), method: null, password: Buffer.from('pw') }), { result: 'ignore' });
  const unknown = a.authenticate(step('SCRAM-SHA-256', scramClient('nobody', 'pw', 'sha256').first, 'connect', {}));
  assert.equal(unknown.result, 'ignore');
  assert.match((unknown as { error?: string }).error ?? '', /nobody/);
  assert.deepEqual(a.authenticate(step('SCRAM-SHA-256', 'c=biws,r=x,p=AAAA', 'continue', {})), { result: 'ignore' });
});

test('tampered, replayed and malformed messages → deny', async () => {
  const a = make('sha256', context(), 1000);
  await a.users.add({ user_id: 'alice', password: 'pw' });
  const run = (mutate: (final: string) => string) => {
    const c = scramClient('alice', 'pw', 'sha256');
    const state = {};
    const r1 = a.authenticate(step('SCRAM-SHA-256', c.first, 'connect', state));
    return { state, c, final: mutate(c.final((r1 as { data: Buffer }).data.toString())) };
  };
  const nonce = run((f) => f.replace(/,r=([^,]+)/, ',r=$1x'));
  assert.deepEqual(a.authenticate(step('SCRAM-SHA-256', nonce.final, 'continue', nonce.state)), { result: 'deny', reason: 'NOT_AUTHORIZED' }, 'nonce changed');
  const cb = run((f) => f.replace('c=biws', 'c=eSws'));
  assert.equal(a.authenticate(step('SCRAM-SHA-256', cb.final, 'continue', cb.state)).result, 'deny', 'GS2 header changed');
  const noProof = run((f) => f.replace(/,p=.*/, ''));
  assert.equal(a.authenticate(step('SCRAM-SHA-256', noProof.final, 'continue', noProof.state)).result, 'deny', 'no proof');
  const ok = run((f) => f);
  assert.equal(a.authenticate(step('SCRAM-SHA-256', ok.final, 'continue', ok.state)).result, 'allow');
  assert.equal(a.authenticate(step('SCRAM-SHA-256', ok.final, 'continue', ok.state)).result, 'ignore', 'the exchange is over: a replay finds no state');
  for (const bad of ['', 'n=alice,r=abc', 'p=tls-unique,,n=alice,r=abc', 'n,,m=ext,n=alice,r=abc', 'n,,n=al=ice,r=abc', 'n,,r=abc', 'n,a=bob,n=alice,r=abc', 'n,,n=alice,r=a,b']) {
    assert.deepEqual(a.authenticate(step('SCRAM-SHA-256', bad, 'connect', {})), { result: 'deny', reason: 'NOT_AUTHORIZED' }, JSON.stringify(bad));
  }
});

test('a user removed between the two steps is refused', async () => {
  const a = make('sha256', context(), 1000);
  await a.users.add({ user_id: 'alice', password: 'pw' });
  const c = scramClient('alice', 'pw', 'sha256');
  const state = {};
  const r1 = a.authenticate(step('SCRAM-SHA-256', c.first, 'connect', state));
  assert.equal(await a.users.delete('alice'), true);
  assert.equal(a.authenticate(step('SCRAM-SHA-256', c.final((r1 as { data: Buffer }).data.toString()), 'continue', state)).result, 'deny');
});

test('the user database: add, duplicate, get, update, delete, list with filters and pages; no password stored', async () => {
  const ctx = context();
  const a = make('sha512', ctx, 1000);
  const db = a.users;
  for (let i = 1; i <= 5; i++) await db.add({ user_id: `user${i}`, password: `pw${i}`, is_superuser: i % 2 === 0 });
  await assert.rejects(db.add({ user_id: 'user1', password: 'x' }), (e: unknown) => e instanceof UserDbError && e.code === 'ALREADY_EXISTS');
  await assert.rejects(db.add({ user_id: '', password: 'x' }), (e: unknown) => e instanceof UserDbError && e.code === 'BAD_REQUEST');
  await assert.rejects(db.update('ghost', { is_superuser: true }), (e: unknown) => e instanceof UserDbError && e.code === 'NOT_FOUND');
  assert.deepEqual(db.get('user2'), { user_id: 'user2', is_superuser: true });
  assert.equal(db.get('ghost'), undefined);
  assert.deepEqual(db.list({ page: 1, limit: 2 }), { data: [{ user_id: 'user1', is_superuser: false }, { user_id: 'user2', is_superuser: true }], count: 5 });
  assert.deepEqual(db.list({ page: 3, limit: 2 }), { data: [{ user_id: 'user5', is_superuser: false }], count: 5 });
  assert.deepEqual(db.list({ page: 1, limit: 10, is_superuser: true }).data.map((u) => u.user_id), ['user2', 'user4']);
  assert.deepEqual(db.list({ page: 1, limit: 10, like_user_id: 'er3' }), { data: [{ user_id: 'user3', is_superuser: false }], count: 1 });

  const login = (user: string, pw: string) => {
    const c = scramClient(user, pw, 'sha512');
    const state = {};
    const r1 = a.authenticate(step('SCRAM-SHA-512', c.first, 'connect', state));
    if (r1.result !== 'continue') return r1.result;
    return a.authenticate(step('SCRAM-SHA-512', c.final(r1.data.toString()), 'continue', state)).result;
  };
  assert.equal(login('user1', 'pw1'), 'allow');
  await db.update('user1', { password: 'new-pw' });
  assert.equal(login('user1', 'pw1'), 'deny');
  assert.equal(login('user1', 'new-pw'), 'allow');
  await db.update('user1', { is_superuser: true });
  assert.deepEqual(db.get('user1'), { user_id: 'user1', is_superuser: true });
  assert.equal(login('user1', 'new-pw'), 'allow', 'a superuser change keeps the password');
  assert.equal(await db.delete('user1'), true);
  assert.equal(await db.delete('user1'), false);
  assert.equal(login('user1', 'new-pw'), 'ignore');

  for (const [, rec] of ctx.store.scan(SCRAM_USERS_NS)) {
    assert.deepEqual(Object.keys(rec as object).sort(), ['algorithm', 'is_superuser', 'iteration_count', 'salt', 'server_key', 'stored_key'], 'no password in the store');
  }
  await assert.rejects(db.import('csv', 'user_id,password\nx,y', 'plain'), (e: unknown) => e instanceof UserDbError && e.code === 'BAD_REQUEST');
});

test('config: EMQX keys and defaults; errors name the key', () => {
  const p = scramKind.parse({ mechanism: 'scram', backend: 'built_in_database' });
  assert.deepEqual(p, { ok: true, value: { enable: true, algorithm: 'sha256', iterationCount: 4096 } });
  const err = (raw: Record<string, unknown>) => (scramKind.parse(raw) as { error: string }).error;
  assert.match(err({ algorithm: 'sha1' }), /'algorithm' must be sha256 or sha512/);
  assert.match(err({ iteration_count: 0 }), /'iteration_count' must be an integer/);
  assert.match(err({ iteration_count: '4096' }), /'iteration_count' must be an integer/);
  assert.match(err({ backend: 'redis' }), /'backend' must be built_in_database/);
  assert.match(err({ salt_rounds: 3 }), /unknown key 'salt_rounds'/);
});

test('users belong to their chain: a listener chain does not see the global one', async () => {
  const ctx = context();
  const global = make('sha256', { ...ctx, chainName: 'global' } as AccessContext, 1000);
  const listener = make('sha256', { ...ctx, chainName: 'tcp:default' } as AccessContext, 1000);
  await global.users.add({ user_id: 'alice', password: 'pw' });
  assert.deepEqual(global.users.get('alice'), { user_id: 'alice', is_superuser: false });
  assert.equal(listener.users.get('alice'), undefined);
  assert.equal(listener.users.list({ page: 1, limit: 10 }).count, 0);
  assert.equal(make('sha256', { ...ctx, chainName: 'global' } as AccessContext).users.get('alice')?.user_id, 'alice', 'a new authenticator of the same chain finds the user');
});
