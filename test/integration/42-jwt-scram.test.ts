/**
 * 42 — JWT and SCRAM authentication over real sockets. v5 expectations first, then v3.1.1:
 * - a valid JWT password connects; an expired one is refused with CONNACK 0x86 (v3: 4);
 *   a wrongly signed one is ignored by the JWT authenticator, so the chain ends "not
 *   authorized": 0x87 (v3: 5);
 * - JWKS: an RS256 token verified with a key fetched from a local endpoint; with the endpoint
 *   down the client is refused and everyone else is still served;
 * - SCRAM-SHA-256 and -512 over CONNECT/AUTH/CONNACK, the server signature checked by the
 *   client, re-authentication over AUTH 0x19, a wrong password refused with 0x87.
 *
 * The authentication chain is another branch's work; the authenticators are registered here
 * through the library hook the chain will use, each outcome mapped as the chain maps it
 * (ignore → ask the next; nobody decides → not authorized).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { startBroker, client, type TestBroker } from '../support/broker.js';
import { rawClient } from '../support/raw-client.js';
import { createLogger } from '../../broker/src/log.js';
import { jwtKind } from '../../broker/src/access/authn/jwt.js';
import { scramKind, type ScramAuthenticator } from '../../broker/src/access/authn/scram.js';
import type { AccessContext, Authenticator, AuthenticatorKind, AuthnOutcome } from '../../broker/src/access/types.js';
import type { AuthResult } from '../../broker/src/hooks.js';
import { scramClient } from '../unit/access/jwt-scram-support.js';

const SECRET = 'integration-secret-0123456789abcdef';
const now = (): number => Math.floor(Date.now() / 1000);

function toResult(o: AuthnOutcome): AuthResult | undefined {
  switch (o.result) {
    case 'ignore': return undefined;
    case 'deny': return { result: 'deny', reason: o.reason ?? 'NOT_AUTHORIZED' };
    case 'continue': return { result: 'continue', data: o.data };
    default: return o.data !== undefined ? { result: 'allow', isSuperuser: o.isSuperuser === true, data: o.data } : { result: 'allow', isSuperuser: o.isSuperuser === true };
  }
}

/** The authenticators, in order, then "nobody decided → not authorized", as the chain does. */
function install(b: TestBroker, entries: Array<[AuthenticatorKind, Record<string, unknown>]>): Authenticator[] {
  const ctx: AccessContext = { store: b.node.store, log: createLogger({ level: 'silent', format: 'json' } as never), configDir: process.cwd(), clientAcl: new WeakMap() };
  const made = entries.map(([kind, raw], i) => {
    const p = kind.parse(raw);
    if (!p.ok) throw new Error(p.error);
    const a = kind.create(p.value, ctx);
    b.node.hooks.add('client.authenticate', async (req) => toResult(await a.authenticate(req)), 100 - i);
    return a;
  });
  b.node.hooks.add('client.authenticate', () => ({ result: 'deny', reason: 'NOT_AUTHORIZED' }), -100);
  return made;
}

const refusal = (b: TestBroker, protocolVersion: 4 | 5, password: string): Promise<number> =>
  client(b, { protocolVersion, username: 'alice', password, clientId: `jwt-${protocolVersion}-${Math.random()}` }).then(
    (c) => { c.end(true); return 0; }, (e: Error & { code?: number }) => e.code ?? -1);

test('JWT password: valid connects, expired → 0x86 / 4, wrongly signed → 0x87 / 5', async () => {
  const b = await startBroker();
  const [a] = install(b, [[jwtKind, { algorithm: 'hmac-based', secret: SECRET, verify_claims: { sub: '${username}' } }]]);
  try {
    const sign = (claims: Record<string, unknown>, secret = SECRET) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(secret));
    const good = await sign({ sub: 'alice', exp: now() + 60 });
    for (const v of [5, 4] as const) {
      const c = await client(b, { protocolVersion: v, username: 'alice', password: good });
      await c.endAsync();
    }
    const expired = await sign({ sub: 'alice', exp: now() - 10 });
    assert.equal(await refusal(b, 5, expired), 0x86);
    assert.equal(await refusal(b, 4, expired), 4);
    const otherUser = await sign({ sub: 'mallory', exp: now() + 60 });
    assert.equal(await refusal(b, 5, otherUser), 0x86, 'sub must be the username');
    const forged = await sign({ sub: 'alice', exp: now() + 60 }, 'not-the-secret-not-the-secret-!!');
    assert.equal(await refusal(b, 5, forged), 0x87);
    assert.equal(await refusal(b, 4, forged), 5);
    assert.equal(await refusal(b, 5, 'plain-password'), 0x87, 'not a JWT');
  } finally { await a!.close(); await b.stop(); }
});

test('JWKS: a key from the endpoint verifies; endpoint down → refused, others still served', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'RS256' };
  let up = true;
  const srv = http.createServer((_req, res) => { if (up) res.writeHead(200).end(JSON.stringify({ keys: [jwk] })); else res.destroy(); }).listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const b = await startBroker();
  const made = install(b, [
    [jwtKind, { use_jwks: true, endpoint: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/jwks`, max_fail_count: 1 }],
    [scramKind, { mechanism: 'scram', backend: 'built_in_database', iteration_count: 1000 }],
  ]);
  try {
    const token = await new SignJWT({ sub: 'alice', exp: now() + 60 }).setProtectedHeader({ alg: 'RS256', kid: 'idp-1' }).sign(privateKey);
    const c = await client(b, { protocolVersion: 5, username: 'alice', password: token });
    await c.endAsync();
    up = false;
    // The provider rotates to a kid the broker has not seen while its endpoint is down.
    const next = await new SignJWT({ sub: 'alice', exp: now() + 60 }).setProtectedHeader({ alg: 'RS256', kid: 'idp-2' }).sign(privateKey);
    assert.equal(await refusal(b, 5, next), 0x87);
    await (made[1] as ScramAuthenticator).users.add({ user_id: 'bob', password: 'pw' });
    const scram = await rawClient(b.port, 5);
    const sc = scramClient('bob', 'pw', 'sha256');
    scram.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: 'scram-while-down', properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from(sc.first) } });
    const challenge = await scram.next('auth');
    scram.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from(sc.final(challenge.properties.authenticationData.toString())) } });
    assert.equal((await scram.next('connack')).reasonCode, 0, 'SCRAM clients are served while the JWKS endpoint is down');
    scram.destroy();
  } finally {
    for (const a of made) await a.close();
    await b.stop();
    srv.close();
  }
});

for (const alg of ['sha256', 'sha512'] as const) {
  const method = alg === 'sha256' ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512';
  test(`${method} over AUTH packets: exchange, server signature, re-authentication, wrong password → 0x87`, async () => {
    const b = await startBroker();
    const [jwt, s] = install(b, [[jwtKind, { algorithm: 'hmac-based', secret: SECRET }], [scramKind, { algorithm: alg }]]);
    const scram = s as ScramAuthenticator;
    try {
      await scram.users.add({ user_id: 'carol', password: 'correct horse', is_superuser: true });
      const c = await rawClient(b.port, 5);
      const sc = scramClient('carol', 'correct horse', alg);
      c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: `scram-${alg}`, properties: { authenticationMethod: method, authenticationData: Buffer.from(sc.first) } });
      const challenge = await c.next('auth');
      assert.equal(challenge.reasonCode, 0x18);
      const serverFirst = challenge.properties.authenticationData.toString();
      assert.match(serverFirst, /^r=.+,s=.+,i=4096$/);
      c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: method, authenticationData: Buffer.from(sc.final(serverFirst)) } });
      const connack = await c.next('connack');
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.properties.authenticationMethod, method);
      assert.equal(connack.properties.authenticationData.toString(), sc.expectedServerFinal, 'the broker proved it knows the password');

      // Re-authentication on the live connection [MQTT-4.12.1-1].
      const re = scramClient('carol', 'correct horse', alg);
      c.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: method, authenticationData: Buffer.from(re.first) } });
      const ch2 = await c.next('auth');
      assert.equal(ch2.reasonCode, 0x18);
      c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: method, authenticationData: Buffer.from(re.final(ch2.properties.authenticationData.toString())) } });
      const done = await c.next('auth');
      assert.equal(done.reasonCode, 0);
      assert.equal(done.properties.authenticationData.toString(), re.expectedServerFinal);
      c.destroy();

      const bad = await rawClient(b.port, 5);
      const wrong = scramClient('carol', 'battery staple', alg);
      bad.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: `scram-bad-${alg}`, properties: { authenticationMethod: method, authenticationData: Buffer.from(wrong.first) } });
      const ch = await bad.next('auth');
      bad.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: method, authenticationData: Buffer.from(wrong.final(ch.properties.authenticationData.toString())) } });
      assert.equal((await bad.next('connack')).reasonCode, 0x87);
      await bad.waitClosed();
    } finally { await jwt!.close(); await scram.close(); await b.stop(); }
  });
}
