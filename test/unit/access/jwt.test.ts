/**
 * The JWT authenticator with fixed keys: HS256, RS256 and ES256 tokens; what EMQX answers for
 * expired, not-yet-valid, wrongly signed and malformed tokens; verify_claims with
 * placeholders; superuser and expiry from claims; config errors that name the key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportSPKI, generateKeyPair, type JWTPayload } from 'jose';
import { jwtKind, type JwtConfig } from '../../../broker/src/access/authn/jwt.js';
import type { Authenticator } from '../../../broker/src/access/types.js';
import { clientInfo, context, passwordRequest } from './jwt-scram-support.js';

const SECRET = 'emqxsecret-that-is-long-enough-for-hs512-0123456789abcdef0123456789abcdef';
const now = (): number => Math.floor(Date.now() / 1000);

function make(raw: Record<string, unknown>, configDir?: string): Authenticator {
  const p = jwtKind.parse({ mechanism: 'jwt', ...raw });
  if (!p.ok) throw new Error(p.error);
  return jwtKind.create(p.value, context(configDir));
}

function parseError(raw: Record<string, unknown>): string {
  const p = jwtKind.parse({ mechanism: 'jwt', ...raw });
  assert.equal(p.ok, false, 'config should be refused');
  return (p as { error: string }).error;
}

async function hs(claims: JWTPayload, alg = 'HS256', secret: string | Uint8Array = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(typeof secret === 'string' ? Buffer.from(secret) : secret);
}

const hmacCfg = { algorithm: 'hmac-based', secret: SECRET };

test('HS256/384/512 tokens: allow, superuser and expireAt from the claims', async () => {
  const a = make(hmacCfg);
  for (const alg of ['HS256', 'HS384', 'HS512']) {
    const exp = now() + 60;
    const r = await a.authenticate(passwordRequest(await hs({ sub: 'alice', exp, is_superuser: true }, alg)));
    assert.deepEqual(r, { result: 'allow', isSuperuser: true, expireAt: exp * 1000 }, alg);
  }
  const plain = await a.authenticate(passwordRequest(await hs({ sub: 'alice' })));
  assert.deepEqual(plain, { result: 'allow', isSuperuser: false }, 'no exp: no expireAt');
  await a.close();
});

test('is_superuser read as EMQX reads it', async () => {
  const a = make(hmacCfg);
  for (const [v, want] of [[true, true], [1, true], ['1', true], ['true', true], [false, false], [0, false], ['0', false], ['yes', false], [null, false]] as const) {
    const r = await a.authenticate(passwordRequest(await hs({ is_superuser: v })));
    assert.equal((r as { isSuperuser?: boolean }).isSuperuser, want, JSON.stringify(v));
  }
});

test('disconnect_after_expire: false → no expireAt', async () => {
  const a = make({ ...hmacCfg, disconnect_after_expire: false });
  const r = await a.authenticate(passwordRequest(await hs({ exp: now() + 60 })));
  assert.deepEqual(r, { result: 'allow', isSuperuser: false });
});

test('secret_base64_encoded: the secret is decoded before use', async () => {
  const bytes = Buffer.from('0123456789abcdef0123456789abcdef');
  const a = make({ algorithm: 'hmac-based', secret: bytes.toString('base64'), secret_base64_encoded: true });
  assert.equal((await a.authenticate(passwordRequest(await hs({ a: 1 }, 'HS256', bytes)))).result, 'allow');
  // Signed with the base64 text itself: not the same key.
  assert.equal((await a.authenticate(passwordRequest(await hs({ a: 1 }, 'HS256', bytes.toString('base64'))))).result, 'ignore');
});

test('RS256 and ES256 with a public key in PEM (inline and as a file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-jwt-'));
  try {
    for (const alg of ['RS256', 'ES256', 'PS256', 'EdDSA']) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const pem = await exportSPKI(publicKey);
      writeFileSync(join(dir, 'key.pem'), pem);
      const token = await new SignJWT({ sub: 'alice', exp: now() + 60 }).setProtectedHeader({ alg }).sign(privateKey);
      for (const a of [make({ algorithm: 'public-key', public_key: pem }), make({ algorithm: 'public-key', public_key: 'key.pem' }, dir), make({ algorithm: 'public-key', public_key: join(dir, 'key.pem') })]) {
        assert.equal((await a.authenticate(passwordRequest(token))).result, 'allow', alg);
      }
      // An HMAC token "signed" with the public key text is the classic confusion attack.
      const confused = await hs({ sub: 'alice' }, 'HS256', pem);
      assert.equal((await make({ algorithm: 'public-key', public_key: pem }).authenticate(passwordRequest(confused))).result, 'ignore', `${alg}: HS256 with the PEM as secret`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('expired, not yet valid, claims mismatch → deny; bad signature and malformed → ignore (EMQX)', async () => {
  const a = make({ ...hmacCfg, verify_claims: { sub: '${username}', cid: 'id-${clientid}' } });
  const req = (t: string) => passwordRequest(t, clientInfo('dev-7', 'alice'));
  const good = { sub: 'alice', cid: 'id-dev-7' };
  assert.equal((await a.authenticate(req(await hs({ ...good, exp: now() + 30 })))).result, 'allow');
  assert.deepEqual(await a.authenticate(req(await hs({ ...good, exp: now() - 1 }))), { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' }, 'expired');
  assert.deepEqual(await a.authenticate(req(await hs({ ...good, exp: String(now() - 1) as unknown as number }))), { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' }, 'expired, exp as a string');
  assert.equal((await a.authenticate(req(await hs({ ...good, exp: 'soon' as unknown as number })))).result, 'deny', 'exp not a number');
  assert.equal((await a.authenticate(req(await hs({ ...good, nbf: now() + 60 })))).result, 'deny', 'nbf in the future');
  assert.equal((await a.authenticate(req(await hs({ ...good, nbf: now() - 5 })))).result, 'allow', 'nbf in the past');
  assert.equal((await a.authenticate(req(await hs({ ...good, sub: 'mallory' })))).result, 'deny', 'sub ≠ ${username}');
  assert.equal((await a.authenticate(req(await hs({ sub: 'alice' })))).result, 'deny', 'claim missing');
  assert.equal((await a.authenticate(passwordRequest(await hs(good), clientInfo('dev-8', 'alice')))).result, 'deny', 'other client id');

  const wrong = await a.authenticate(req(await hs(good, 'HS256', 'another-secret-another-secret-another-secret')));
  assert.equal(wrong.result, 'ignore');
  assert.match((wrong as { error?: string }).error ?? '', /signature/);
  const tampered = (await hs(good)).replace(/\.([^.]+)\./, (_m, p: string) => `.${Buffer.from(JSON.stringify({ ...good, is_superuser: true })).toString('base64url')}.`);
  assert.equal((await a.authenticate(req(tampered))).result, 'ignore', 'payload changed after signing');
  for (const junk of ['', 'not-a-jwt', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.']) {
    const r = await a.authenticate(req(junk));
    assert.equal(r.result, 'ignore', JSON.stringify(junk));
    assert.ok((r as { error?: string }).error, 'an error string says why');
  }
});

test('aud in verify_claims: a string or a list containing it', async () => {
  const a = make({ ...hmacCfg, verify_claims: [{ name: 'aud', value: 'mqtt' }] });
  assert.equal((await a.authenticate(passwordRequest(await hs({ aud: 'mqtt' })))).result, 'allow');
  assert.equal((await a.authenticate(passwordRequest(await hs({ aud: ['web', 'mqtt'] })))).result, 'allow');
  assert.equal((await a.authenticate(passwordRequest(await hs({ aud: ['web'] })))).result, 'deny');
  assert.equal((await a.authenticate(passwordRequest(await hs({ aud: [] })))).result, 'deny');
  assert.equal((await a.authenticate(passwordRequest(await hs({})))).result, 'deny');
});

test('from: username; no token → ignore (or deny with on_missing_jwt: deny); enhanced auth → ignore', async () => {
  const a = make({ ...hmacCfg, from: 'username' });
  const token = await hs({ sub: 'x' });
  assert.equal((await a.authenticate(passwordRequest(null, clientInfo('c', token)))).result, 'allow');
  assert.equal((await a.authenticate(passwordRequest(token, clientInfo('c', null)))).result, 'ignore', 'no username');
  const p = make(hmacCfg);
  assert.deepEqual(await p.authenticate(passwordRequest(null)), { result: 'ignore' });
  assert.deepEqual(await make({ ...hmacCfg, on_missing_jwt: 'deny' }).authenticate(passwordRequest(null)), { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' });
  const enhanced = { ...passwordRequest(token), method: 'SCRAM-SHA-256', data: Buffer.from('n,,n=a,r=x') };
  assert.deepEqual(await p.authenticate(enhanced), { result: 'ignore' });
});

test('config errors name the key', async () => {
  assert.match(parseError({ algorithm: 'public-key', public_key: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' }), /'public_key'.*not a valid PEM/);
  assert.match(parseError({ algorithm: 'public-key', public_key: '/nonexistent/key.pem' }), /'public_key' file \/nonexistent\/key.pem cannot be read/);
  assert.match(parseError({ algorithm: 'public-key' }), /'public_key' is required/);
  assert.match(parseError({ algorithm: 'hmac-based' }), /'secret' is required/);
  assert.match(parseError({ algorithm: 'hmac-based', secret: 'not base64!', secret_base64_encoded: true }), /'secret' is not valid base64/);
  assert.match(parseError({}), /'algorithm' is required/);
  assert.match(parseError({ algorithm: 'rsa' }), /'algorithm' must be one of hmac-based, public-key/);
  assert.match(parseError({ ...hmacCfg, form: 'password' }), /unknown key 'form'/);
  assert.match(parseError({ ...hmacCfg, from: 'clientid' }), /'from' must be one of password, username/);
  assert.match(parseError({ ...hmacCfg, verify_claims: { exp: '1' } }), /'verify_claims.exp' is not allowed/);
  assert.match(parseError({ ...hmacCfg, verify_claims: { sub: '${peerhost}' } }), /unknown placeholder \$\{peerhost\}/);
  assert.match(parseError({ ...hmacCfg, verify_claims: { n: 5 } }), /'verify_claims.n' must be a string/);
  assert.match(parseError({ use_jwks: true }), /'endpoint' is required/);
  assert.match(parseError({ use_jwks: true, endpoint: 'ftp://x/keys' }), /'endpoint' must be http/);
  assert.match(parseError({ use_jwks: true, endpoint: 'http://127.0.0.1/k', refresh_interval: 0 }), /'refresh_interval' must be a positive/);
  assert.match(parseError({ use_jwks: true, endpoint: 'http://127.0.0.1/k', ssl: { enable: true, depth: 3 } }), /'ssl.depth' is not supported/);
  assert.match(parseError({ ...hmacCfg, endpoint: 'http://127.0.0.1/k' }), /'endpoint' applies only with use_jwks/);
  // A relative key file is read against the config directory when the authenticator is created.
  const p = jwtKind.parse({ mechanism: 'jwt', algorithm: 'public-key', public_key: 'missing.pem' });
  assert.ok(p.ok);
  assert.throws(() => jwtKind.create((p as { value: JwtConfig }).value, context(tmpdir())), /jwt: 'public_key' file .*missing.pem cannot be read/);
});

test('EMQX defaults', () => {
  const p = jwtKind.parse({ mechanism: 'jwt', use_jwks: true, endpoint: 'https://idp.example/jwks', pool_size: 8 });
  assert.ok(p.ok);
  const c = (p as { value: JwtConfig }).value;
  assert.equal(c.from, 'password');
  assert.equal(c.aclClaimName, 'acl');
  assert.equal(c.disconnectAfterExpire, true);
  assert.equal(c.onMissingJwt, 'ignore');
  assert.equal(c.keys.kind === 'jwks' && c.keys.refreshIntervalMs, 300_000);
});
