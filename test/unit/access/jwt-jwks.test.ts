/**
 * JWT with keys from a JWKS endpoint (a local node:http server on a free loopback port):
 * key rotation picked up at once through an unknown kid, on-demand fetches rate-limited, an
 * endpoint that is down answering ignore with one log line per failure period, the last good
 * set kept for max_fail_count failures, and close() stopping the refresh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { jwtKind, type JwtConfig } from '../../../broker/src/access/authn/jwt.js';
import type { AccessContext, Authenticator } from '../../../broker/src/access/types.js';
import { context, passwordRequest, type LogLine } from './jwt-scram-support.js';
import { repoRoot } from '../../support/broker.js';

interface KeyPair { kid: string; jwk: Record<string, unknown>; priv: CryptoKey }

async function keyPair(kid: string, alg = 'RS256'): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, priv: privateKey };
}

const sign = (k: KeyPair, alg = 'RS256', exp = Math.floor(Date.now() / 1000) + 60) =>
  new SignJWT({ sub: 'alice', exp }).setProtectedHeader({ alg, kid: k.kid }).sign(k.priv);

/** A JWKS server whose answer the test changes; counts requests. */
async function jwksServer(port = 0): Promise<{ url: string; port: number; hits: () => number; serve: (keys: KeyPair[] | number) => void; close: () => Promise<void> }> {
  let answer: KeyPair[] | number = [];
  let hits = 0;
  const srv = http.createServer((req, res) => {
    hits++;
    if (typeof answer === 'number') { res.writeHead(answer).end('down'); return; }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: answer.map((k) => k.jwk) }));
  });
  srv.listen(port, '127.0.0.1');
  await once(srv, 'listening');
  const p = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}/.well-known/jwks.json`, port: p, hits: () => hits, serve: (k) => { answer = k; },
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
  };
}

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = http.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function jwks(endpoint: string, extra: Record<string, unknown> = {}, configDir?: string): { a: Authenticator; ctx: AccessContext & { lines: LogLine[] } } {
  const p = jwtKind.parse({ mechanism: 'jwt', use_jwks: true, endpoint, ...extra });
  if (!p.ok) throw new Error(p.error);
  const ctx = context(configDir);
  return { a: jwtKind.create((p as { value: JwtConfig }).value, ctx), ctx };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('rotation: a token with a new kid is accepted as soon as the provider publishes the key', async () => {
  const srv = await jwksServer();
  const [k1, k2, k3] = await Promise.all([keyPair('k1'), keyPair('k2', 'ES256'), keyPair('k3')]);
  srv.serve([k1]);
  const { a } = jwks(srv.url);
  try {
    assert.equal((await a.authenticate(passwordRequest(await sign(k1)))).result, 'allow', 'k1 from the first fetch');
    assert.equal(srv.hits(), 1);
    srv.serve([k2, k3]);
    assert.equal((await a.authenticate(passwordRequest(await sign(k2, 'ES256')))).result, 'allow', 'k2 after the provider rotated');
    assert.equal(srv.hits(), 2, 'the unknown kid fetched the set once');
    assert.equal((await a.authenticate(passwordRequest(await sign(k3)))).result, 'allow', 'k3 came with the same fetch');
    const old = await a.authenticate(passwordRequest(await sign(k1)));
    assert.equal(old.result, 'ignore', 'the retired k1 no longer verifies');
    assert.match((old as { error?: string }).error ?? '', /no key with kid "k1"/);
    const bogus = await Promise.all([1, 2, 3].map(async (i) => a.authenticate(passwordRequest(await sign({ ...k1, kid: `made-up-${i}` })))));
    assert.deepEqual(bogus.map((r) => r.result), ['ignore', 'ignore', 'ignore']);
    assert.equal(srv.hits(), 2, 'unknown kids within 10 s fetch nothing more (rate limit)');
    // A token signed by a key whose kid is published but with another key's signature.
    const forged = await sign({ ...k3, kid: 'k2' });
    assert.equal((await a.authenticate(passwordRequest(forged))).result, 'ignore');
  } finally { await a.close(); await srv.close(); }
});

test('endpoint down: ignore with an error, one log line for the whole failure period', async () => {
  const port = await deadPort();
  const k1 = await keyPair('k1');
  const { a, ctx } = jwks(`http://127.0.0.1:${port}/jwks`);
  try {
    for (let i = 0; i < 5; i++) {
      const r = await a.authenticate(passwordRequest(await sign(k1)));
      assert.equal(r.result, 'ignore');
      assert.match((r as { error?: string }).error ?? '', /JWKS endpoint http:\/\/127\.0\.0\.1:\d+\/jwks unavailable: .*ECONNREFUSED/);
    }
    const warns = ctx.lines.filter((l) => l.level === 40);
    assert.equal(warns.length, 1, `one warning, got ${JSON.stringify(warns)}`);
    assert.match(warns[0]!.msg, /JWKS fetch failed/);
  } finally { await a.close(); }
});

test('the last good set outlives max_fail_count - 1 failures; recovery is logged once; close() stops refreshing', async () => {
  const srv = await jwksServer();
  const k1 = await keyPair('k1');
  srv.serve([k1]);
  const { a, ctx } = jwks(srv.url, { refresh_interval: 1, max_fail_count: 3 });
  try {
    assert.equal((await a.authenticate(passwordRequest(await sign(k1)))).result, 'allow');
    srv.serve(503);
    const h0 = srv.hits();
    while (srv.hits() < h0 + 1) await sleep(50);
    await sleep(50);
    assert.equal((await a.authenticate(passwordRequest(await sign(k1)))).result, 'allow', 'one failed refresh keeps the keys');
    while (srv.hits() < h0 + 3) await sleep(50);
    await sleep(100);
    const r = await a.authenticate(passwordRequest(await sign(k1)));
    assert.equal(r.result, 'ignore', 'after max_fail_count failures the set is dropped');
    assert.match((r as { error?: string }).error ?? '', /unavailable: HTTP 503/);
    assert.equal(ctx.lines.filter((l) => l.level === 40).length, 1, 'one warning for three failures');
    srv.serve([k1]);
    const h1 = srv.hits();
    while (srv.hits() < h1 + 1) await sleep(50);
    await sleep(50);
    assert.equal((await a.authenticate(passwordRequest(await sign(k1)))).result, 'allow', 'back once the endpoint answers');
    assert.equal(ctx.lines.filter((l) => l.msg === 'JWKS endpoint answers again').length, 1);
  } finally { await a.close(); }
  const h2 = srv.hits();
  await sleep(2500);
  assert.equal(srv.hits(), h2, 'no fetch after close()');
  await srv.close();
});

test('a response that is not a key set counts as a failure', async () => {
  const srv = http.createServer((_req, res) => { res.writeHead(200).end('{"keys": "nope"}'); }).listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { a, ctx } = jwks(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, { max_fail_count: 1 });
  try {
    const r = await a.authenticate(passwordRequest(await sign(await keyPair('k1'))));
    assert.equal(r.result, 'ignore');
    assert.match((r as { error?: string }).error ?? '', /no 'keys' list/);
    assert.equal(ctx.lines.filter((l) => l.level === 40).length, 1);
  } finally { await a.close(); srv.close(); }
});

test('keys without a kid verify tokens with or without one; an oct key in the set is never used', async () => {
  const k = await keyPair('ignored');
  const { kid: _drop, ...noKid } = k.jwk;
  const hmacSecret = Buffer.from('published-symmetric-secret-0123456789');
  const doc = { keys: [noKid, { kty: 'oct', k: hmacSecret.toString('base64url'), kid: 'oct-1' }] };
  const raw = http.createServer((_req, res) => { res.writeHead(200).end(JSON.stringify(doc)); }).listen(0, '127.0.0.1');
  await once(raw, 'listening');
  const { a } = jwks(`http://127.0.0.1:${(raw.address() as AddressInfo).port}/`);
  try {
    assert.equal((await a.authenticate(passwordRequest(await sign(k)))).result, 'allow', 'token kid "ignored", key without kid');
    const bare = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'RS256' }).sign(k.priv);
    assert.equal((await a.authenticate(passwordRequest(bare))).result, 'allow', 'token without kid');
    const hs = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256', kid: 'oct-1' }).sign(hmacSecret);
    assert.equal((await a.authenticate(passwordRequest(hs))).result, 'ignore', 'a symmetric key published in the set signs nothing');
  } finally { await a.close(); raw.close(); }
});

test('https endpoint: verified against ssl.cacertfile (relative to the config directory); another CA fails unless verify_none', async () => {
  const dir = join(repoRoot(), 'test', 'fixtures', 'tls');
  const k = await keyPair('tls-1');
  const srv = https.createServer({ cert: readFileSync(join(dir, 'server.crt')), key: readFileSync(join(dir, 'server.key')) },
    (_req, res) => { res.writeHead(200).end(JSON.stringify({ keys: [k.jwk] })); }).listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const url = `https://127.0.0.1:${(srv.address() as AddressInfo).port}/jwks`;
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ enable: true, cacertfile: 'ca.crt' }, 'allow'],
    [{ enable: true, cacertfile: 'rogue-ca.crt' }, 'ignore'],
    [{ enable: true, cacertfile: 'rogue-ca.crt', verify: 'verify_none' }, 'allow'],
  ];
  try {
    for (const [ssl, want] of cases) {
      const { a } = jwks(url, { ssl }, dir);
      try {
        assert.equal((await a.authenticate(passwordRequest(await sign(k)))).result, want, JSON.stringify(ssl));
      } finally { await a.close(); }
    }
  } finally { srv.closeAllConnections(); srv.close(); }
});
