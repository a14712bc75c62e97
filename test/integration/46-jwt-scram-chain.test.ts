/**
 * 46 — JWT and SCRAM configured in the `authentication:` chain:
 * config-driven, SCRAM users added through REST.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { startBroker, client } from '../support/broker.js';
import { api } from '../support/api.js';
import { rawClient } from '../support/raw-client.js';
import { scramClient } from '../unit/access/jwt-scram-support.js';

const SECRET = 'chain-secret-0123456789abcdef0123';
const now = (): number => Math.floor(Date.now() / 1000);

test('jwt and scram in the configured chain; SCRAM users through /api/v5/authentication/{id}/users', async () => {
  const b = await startBroker({ authentication: [
    { mechanism: 'jwt', algorithm: 'hmac-based', secret: SECRET, verify_claims: { sub: '${username}' } },
    { mechanism: 'scram', backend: 'built_in_database', algorithm: 'sha256', iteration_count: 4096 },
  ] });
  try {
    const sign = (c: Record<string, unknown>, s = SECRET) => new SignJWT(c).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(s));
    const ok = await client(b, { protocolVersion: 5, username: 'alice', password: await sign({ sub: 'alice', exp: now() + 60 }) });
    await ok.endAsync();
    const code = (pw: string, v: 4 | 5) => client(b, { protocolVersion: v, username: 'alice', password: pw }).then((c) => { c.end(true); return 0; }, (e: Error & { code?: number }) => e.code);
    assert.equal(await code(await sign({ sub: 'alice', exp: now() - 5 }), 5), 0x86);
    assert.equal(await code(await sign({ sub: 'alice', exp: now() - 5 }), 4), 4);
    assert.equal(await code(await sign({ sub: 'alice' }, 'wrong-secret-wrong-secret-wrong!!'), 5), 0x87);
    const r = await api(b, `/api/v5/authentication/${encodeURIComponent('scram:built_in_database')}/users`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: 'carol', password: 'pw', is_superuser: true }),
    });
    assert.equal(r.status, 201, await r.text());
    const list = await (await api(b, `/api/v5/authentication/${encodeURIComponent('scram:built_in_database')}/users`)).json();
    console.log(JSON.stringify(list));
    const c = await rawClient(b.port, 5);
    const sc = scramClient('carol', 'pw', 'sha256');
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: 'chain-scram', properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from(sc.first) } });
    const ch = await c.next('auth');
    c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from(sc.final(ch.properties.authenticationData.toString())) } });
    const ack = await c.next('connack');
    assert.equal(ack.reasonCode, 0);
    assert.equal(ack.properties.authenticationData.toString(), sc.expectedServerFinal);
    c.destroy();
  } finally { await b.stop(); }
});
