/**
 * 48 — a JWT's `exp` ends the connection it opened (EMQX's `disconnect_after_expire`, default
 * true). v5: DISCONNECT 0x87 (not authorized, as EMQX's channel sends) and the will goes out;
 * v3.1.1: the socket is closed. With `disconnect_after_expire: false` the client stays.
 * Re-authentication (AUTH 0x19) with a fresh token moves the end.
 *
 * The broker checks expiry on its one-second tick, so a client goes at most about a second
 * after `exp`; the bounds below allow for a loaded machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { startBroker, client, collect, until, sleep } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { createLogger } from '../../broker/src/log.js';
import { jwtKind } from '../../broker/src/access/authn/jwt.js';
import type { AccessContext } from '../../broker/src/access/types.js';
import type { AuthResult } from '../../broker/src/hooks.js';

const SECRET = 'expiry-secret-0123456789abcdef0123';
const sign = (claims: Record<string, unknown>): Promise<string> => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(SECRET));
/** An `exp` (seconds) at least `s` seconds from now. */
const expIn = (s: number): number => Math.ceil(Date.now() / 1000) + s;
/** How late after `exp` the close may come: one tick plus room for a busy machine. */
const LATE_MS = 2500;

const jwtChain = (extra: Record<string, unknown> = {}) => ({
  authentication: [{ mechanism: 'jwt', algorithm: 'hmac-based', secret: SECRET, verify_claims: { sub: '${username}' }, ...extra }],
});

test('v5: a token expiring in 2 s ends the connection with DISCONNECT 0x87 ~2 s after connect, and the will goes out', async (t) => {
  const b = await startBroker(jwtChain());
  try {
    const watcher = await client(b, { protocolVersion: 5, username: 'watcher', password: await sign({ sub: 'watcher', exp: expIn(60) }) });
    const got = collect(watcher);
    await watcher.subscribeAsync('jwt/will', { qos: 1 });

    const exp = expIn(2);
    const c = await rawClient(b.port, 5);
    const connectedAt = Date.now();
    const ack = await c.connect({ username: 'alice', password: Buffer.from(await sign({ sub: 'alice', exp })), will: { topic: 'jwt/will', payload: Buffer.from('gone'), qos: 1, retain: false } });
    assert.equal(ack.reasonCode, 0);
    const d = await c.next('disconnect', (exp * 1000 - connectedAt) + LATE_MS + 1000);
    const at = Date.now();
    assert.equal(d.reasonCode, 0x87);
    await c.waitClosed();
    assert.ok(at >= exp * 1000, `closed ${exp * 1000 - at} ms before exp`);
    assert.ok(at <= exp * 1000 + LATE_MS, `closed ${at - exp * 1000} ms after exp`);
    t.diagnostic(`connected ${exp * 1000 - connectedAt} ms before exp; DISCONNECT ${at - exp * 1000} ms after it`);
    await until(() => got.some((m) => m.topic === 'jwt/will' && m.payload === 'gone'), 3000, 'the will of the expired client');
    assert.ok(!watcher.disconnected, 'the client whose token is still valid stays');
    await watcher.endAsync();
  } finally { await b.stop(); }
});

test('v3.1.1: the socket is closed when the token expires (no DISCONNECT in v3)', async () => {
  const b = await startBroker(jwtChain());
  try {
    const exp = expIn(2);
    const c = await rawClient(b.port, 4);
    const ack = await c.connect({ username: 'bob', password: Buffer.from(await sign({ sub: 'bob', exp })) });
    assert.equal(ack.returnCode, 0);
    await c.waitClosed(exp * 1000 - Date.now() + LATE_MS + 1000);
    assert.ok(c.closedAt >= exp * 1000 && c.closedAt <= exp * 1000 + LATE_MS, `closed ${c.closedAt - exp * 1000} ms after exp`);
    assert.deepEqual(c.packets.map((p) => p.cmd), [], 'nothing but the close');
  } finally { await b.stop(); }
});

test('disconnect_after_expire: false keeps the client past its token', async () => {
  const b = await startBroker(jwtChain({ disconnect_after_expire: false }));
  try {
    const exp = expIn(2);
    const c = await rawClient(b.port, 5);
    const ack = await c.connect({ username: 'carol', password: Buffer.from(await sign({ sub: 'carol', exp })) });
    assert.equal(ack.reasonCode, 0);
    await sleep(exp * 1000 - Date.now() + 2000);
    assert.ok(!c.closed, 'still connected two ticks after exp');
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
    c.destroy();
  } finally { await b.stop(); }
});

test('re-authentication (AUTH 0x19) with a fresh token moves the end; the client goes at the new exp', async () => {
  const b = await startBroker();
  // The JWT authenticator reads the token from the password; for AUTH packets this hook hands it
  // the Authentication Data instead, so the real authenticator decides (and sets expireAt).
  const ctx: AccessContext = { store: b.node.store, log: createLogger({ level: 'silent', format: 'json' } as never), configDir: process.cwd(), clientAcl: new WeakMap() };
  const p = jwtKind.parse({ algorithm: 'hmac-based', secret: SECRET });
  if (!p.ok) throw new Error(p.error);
  const jwt = jwtKind.create(p.value, ctx);
  b.node.hooks.add('client.authenticate', async (req): Promise<AuthResult> => {
    const out = await jwt.authenticate({ ...req, method: null, password: req.data });
    if (out.result !== 'allow') return { result: 'deny', reason: 'NOT_AUTHORIZED' };
    return out.expireAt !== undefined ? { result: 'allow', expireAt: out.expireAt } : { result: 'allow' };
  });
  try {
    const first = expIn(2);
    const c = await rawClient(b.port, 5);
    const ack = await c.connect({ properties: { authenticationMethod: 'JWT', authenticationData: Buffer.from(await sign({ exp: first })) } });
    assert.equal(ack.reasonCode, 0);
    const second = first + 3;
    c.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'JWT', authenticationData: Buffer.from(await sign({ exp: second })) } });
    const a = await c.next('auth');
    assert.equal(a.reasonCode, 0);
    await sleep(first * 1000 - Date.now() + 1500);
    assert.ok(!c.closed, 'the first token expired, the second holds the connection');
    const d = await c.next('disconnect', second * 1000 - Date.now() + LATE_MS + 1000);
    assert.equal(d.reasonCode, 0x87);
    assert.ok(Date.now() >= second * 1000, 'not before the new exp');
    await c.waitClosed();
  } finally { await jwt.close(); await b.stop(); }
});
