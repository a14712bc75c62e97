/**
 * The HTTP authenticator and authorization source against a real node:http server written
 * here: the server checks the request it gets (method, headers, URL-encoding, JSON and form
 * bodies) and answers as an EMQX auth service does — 200 with a result, 204, other statuses,
 * broken bodies, no answer at all. Then the whole path once over MQTT, and an outage.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { httpAuthnKind, httpAuthzKind } from '../../../broker/src/access/backends/index.js';
import type { AccessContext, Authenticator, AuthzSource } from '../../../broker/src/access/types.js';
import type { AuthRequest, ClientInfo } from '../../../broker/src/hooks.js';
import { repoRoot, startBroker, until } from '../../support/broker.js';

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }
const seen: Seen[] = [];
/** What the server answers next: status, content type, body; or 'hang' (never answers). */
let answer: (req: Seen) => { status: number; type?: string; body?: string } | 'hang' = () => ({ status: 204 });
let server: http.Server;
let base = '';
const lines: Array<{ level: string; msg: string }> = [];
const ctx: AccessContext = {
  store: null as never, configDir: '.', clientAcl: new WeakMap(),
  log: pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, { write: (s: string) => { lines.push(JSON.parse(s)); } }),
};
const open: Array<Authenticator | AuthzSource> = [];
const sockets = new Set<import('node:net').Socket>();
let accepted = 0;

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const s: Seen = { method: req.method!, url: req.url!, headers: req.headers, body };
      seen.push(s);
      const a = answer(s);
      if (a === 'hang') return;
      res.writeHead(a.status, a.type ? { 'content-type': a.type } : {});
      res.end(a.body);
    });
  });
  server.on('connection', (s) => { accepted++; sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const o of open) await o.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function authn(raw: Record<string, unknown>): Authenticator {
  const p = httpAuthnKind.parse({ mechanism: 'password_based', backend: 'http', url: `${base}/auth`, ...raw });
  if (!p.ok) throw new Error(p.error);
  const a = httpAuthnKind.create(p.value, ctx);
  open.push(a);
  return a;
}
function authz(raw: Record<string, unknown>): AuthzSource {
  const p = httpAuthzKind.parse({ type: 'http', url: `${base}/acl`, ...raw });
  if (!p.ok) throw new Error(p.error);
  const s = httpAuthzKind.create(p.value, ctx);
  open.push(s);
  return s;
}
const client = (username: string | null, clientId = 'dev/1'): ClientInfo =>
  ({ clientId, username, peerHost: '127.0.0.1', peerPort: 1, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false });
const req = (username: string | null, password: string): AuthRequest =>
  ({ client: client(username), password: Buffer.from(password), method: null, data: null, phase: 'connect', state: {} });
const json = (o: unknown) => ({ status: 200, type: 'application/json', body: JSON.stringify(o) });

test('POST JSON: placeholders become JSON strings, headers rendered; EMQX answers map to outcomes', async () => {
  const a = authn({ headers: { 'X-Request-Source': 'petrel', 'X-User': '${username}' }, body: { username: '${username}', password: '${password}', id: '${clientid}', n: 1, nested: { cn: '${cert_common_name}' } } });
  answer = () => json({ result: 'allow', is_superuser: true, acl: [{ permission: 'allow', action: 'publish', topic: 't/${username}' }] });
  const evil = 'a"b\\c\t{"x":1}</';
  const out = await a.authenticate(req(evil, 'p w"'));
  assert.deepEqual(out, { result: 'allow', isSuperuser: true, acl: [{ permission: 'allow', who: 'all', action: 'publish', topics: ['t/${username}'] }] });
  const s = seen.at(-1)!;
  assert.equal(s.method, 'POST');
  assert.equal(s.url, '/auth');
  assert.equal(s.headers['content-type'], 'application/json');
  assert.equal(s.headers['x-request-source'], 'petrel');
  assert.equal(s.headers['x-user'], evil);
  assert.equal(s.headers['accept'], 'application/json');
  assert.deepEqual(JSON.parse(s.body), { username: evil, password: 'p w"', id: 'dev/1', n: 1, nested: { cn: '' } }, 'values arrive exactly, as JSON strings');
  const sent = seen.length;
  const split = await a.authenticate(req('bob\r\nX-Admin: 1', 'pw'));
  assert.ok(split.result === 'ignore' && /header x-user: .*line break/.test(split.error ?? ''), 'a value with a line break is refused…');
  assert.equal(seen.length, sent, '…before anything is sent');

  for (const [ans, want] of [
    [{ status: 204 }, { result: 'allow', isSuperuser: false }],
    [json({ result: 'deny' }), { result: 'deny', reason: 'NOT_AUTHORIZED' }],
    [json({ result: 'ignore' }), { result: 'ignore' }],
    [json({}), { result: 'ignore' }],
    [{ status: 200, type: 'application/x-www-form-urlencoded', body: 'result=allow&is_superuser=false' }, { result: 'allow', isSuperuser: false }],
    [json({ result: 'allow', acl: [{ permission: 'allow', action: 'write', topic: 't' }] }), { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' }],
    [json({ result: 'allow', expire_at: 1 }), { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' }],
  ] as const) {
    answer = () => ans;
    assert.deepEqual(await a.authenticate(req('bob', 'pw')), want, JSON.stringify(ans));
  }
  const exp = Math.floor(Date.now() / 1000) + 60;
  answer = () => json({ result: 'allow', expire_at: exp });
  assert.deepEqual(await a.authenticate(req('bob', 'pw')), { result: 'allow', isSuperuser: false, expireAt: exp * 1000 });
  for (const bad of [{ status: 500 }, { status: 404 }, { status: 200, type: 'application/json', body: '{nope' }, { status: 200, type: 'text/html', body: '<p>' }, json({ result: 'maybe' })]) {
    answer = () => bad;
    const o = await a.authenticate(req('bob', 'pw'));
    assert.equal(o.result, 'ignore', JSON.stringify(bad));
    assert.ok(o.result === 'ignore' && o.error, 'with the reason');
  }
});

test('GET: placeholders URL-encoded in path and query, the body as query parameters, no content-type', async () => {
  const a = authn({ method: 'get', url: `${base}/auth/\${username}?cid=\${clientid}`, body: { pw: '${password}', host: '${peerhost}' } });
  answer = () => ({ status: 204 });
  assert.equal((await a.authenticate(req('a b/../#?&=', 'p&w=1%'))).result, 'allow');
  const s = seen.at(-1)!;
  assert.equal(s.method, 'GET');
  assert.equal(s.headers['content-type'], undefined);
  const u = new URL(s.url, base);
  assert.equal(u.pathname, '/auth/a%20b%2F..%2F%23%3F%26%3D', 'the username stays one path segment');
  assert.equal(u.searchParams.get('cid'), 'dev/1');
  assert.equal(u.searchParams.get('pw'), 'p&w=1%');
  assert.equal(u.searchParams.get('host'), '127.0.0.1');
});

test('authorization: form body with topic/action/qos/retain; 200 result, 204 allow, other status nomatch', async () => {
  const s = authz({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: { u: '${username}', t: '${topic}', a: '${action}', q: '${qos}', r: '${retain}' } });
  const ask = () => s.authorize({ client: client('dev&1=x'), action: 'publish', topic: 'a/b c/#', qos: 1, retain: true });
  answer = () => json({ result: 'deny' });
  assert.equal(await ask(), 'deny');
  const body = new URLSearchParams(seen.at(-1)!.body);
  assert.deepEqual(Object.fromEntries(body), { u: 'dev&1=x', t: 'a/b c/#', a: 'publish', q: '1', r: 'true' });
  for (const [ans, want] of [[json({ result: 'allow' }), 'allow'], [{ status: 204 }, 'allow'], [json({ result: 'ignore' }), 'nomatch'],
    [{ status: 403 }, 'nomatch'], [{ status: 200, type: 'application/json', body: '[]' }, 'nomatch']] as const) {
    answer = () => ans;
    assert.equal(await ask(), want, JSON.stringify(ans));
  }
});

test('a service that does not answer in request_timeout, or is gone: ignore/nomatch, one log line, then back', async () => {
  const a = authn({ request_timeout: '300ms', pool_size: 2 });
  answer = () => 'hang';
  const before = lines.length;
  const t0 = Date.now();
  const results = await Promise.all([1, 2, 3].map(() => a.authenticate(req('bob', 'pw'))));
  assert.ok(Date.now() - t0 < 3000, 'no waiting past the timeout');
  for (const r of results) assert.ok(r.result === 'ignore' && /request_timeout/.test(r.error ?? ''), JSON.stringify(r));
  assert.equal(lines.slice(before).filter((l) => l.level === 'error').length, 1, 'one line for the outage');
  answer = () => ({ status: 204 });
  assert.equal((await a.authenticate(req('bob', 'pw'))).result, 'allow');
  assert.ok(lines.slice(before).some((l) => l.level === 'warn' && /answering again/.test(l.msg)));

  const gone = authn({ url: 'http://127.0.0.1:1/auth', connect_timeout: '1s' });
  const o = await gone.authenticate(req('bob', 'pw'));
  assert.ok(o.result === 'ignore' && /ECONNREFUSED/.test(o.error ?? ''), JSON.stringify(o));
  const src = authz({ url: 'http://127.0.0.1:1/acl' });
  assert.equal(await src.authorize({ client: client('u'), action: 'subscribe', topic: 't', qos: 0, retain: false }), 'nomatch');
});

test('over MQTT: the HTTP service decides CONNECT and PUBLISH; keep-alive connections stay within pool_size', async () => {
  for (const o of open.splice(0)) await o.close();
  await until(() => sockets.size === 0, 5000, 'earlier connections closed');
  const accepted0 = accepted;
  const a = authn({ pool_size: 2, body: { username: '${username}', password: '${password}' } });
  const s = authz({ pool_size: 2, body: { topic: '${topic}' } });
  answer = (r) => {
    if (r.url === '/auth') return JSON.parse(r.body).password === 'good' ? json({ result: 'allow' }) : json({ result: 'deny' });
    return JSON.parse(r.body).topic.startsWith('ok/') ? { status: 204 } : json({ result: 'deny' });
  };
  const b = await startBroker();
  try {
    b.node.hooks.add('client.authenticate', async (q) => { const o = await a.authenticate(q); return o.result === 'ignore' ? undefined : o.result === 'allow' ? { result: 'allow' } : o; });
    b.node.hooks.add('client.authorize', async (q) => { const r = await s.authorize(q); return r === 'nomatch' ? undefined : r; });
    const bad = mqtt.connect({ host: '127.0.0.1', port: b.port, username: 'u', password: 'bad', protocolVersion: 5, reconnectPeriod: 0 });
    assert.equal(await new Promise((ok) => bad.once('error', (e: Error & { code?: number }) => ok(e.code))), 0x87, 'result deny → not authorized');
    bad.end(true);
    const c = await mqtt.connectAsync({ host: '127.0.0.1', port: b.port, username: 'u', password: 'good', protocolVersion: 5, reconnectPeriod: 0 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => c.publishAsync(`ok/${i}`, 'x', { qos: 1 })));
    await assert.rejects(c.publishAsync('no/x', 'x', { qos: 1 }), (e: Error & { code?: number }) => e.code === 0x87);
    await c.endAsync();
    assert.ok(accepted - accepted0 <= 4, `${accepted - accepted0} connections opened for two pools of 2 (11 requests at once)`);
  } finally { await b.stop(); }
  await a.close();
  await s.close();
  await until(() => sockets.size === 0, 5000, 'close() ends the keep-alive connections');
});

test('https: ssl.enable with verify_peer and a CA file (relative to the config dir); client certificate; a wrong CA is a failure', async () => {
  const dir = join(repoRoot(), 'test', 'fixtures', 'tls');
  const read = (f: string) => readFileSync(join(dir, f));
  const tlsServer = https.createServer({ cert: read('server.crt'), key: read('server.key'), ca: read('ca.crt'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ result: peer.subject?.CN === 'device-1' ? 'allow' : 'deny' }));
  });
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}/auth`;
  const tlsCtx = { ...ctx, configDir: dir };
  const make = (ssl: Record<string, unknown>) => {
    const p = httpAuthnKind.parse({ url, ssl: { enable: true, verify: 'verify_peer', ...ssl } });
    if (!p.ok) throw new Error(p.error);
    return httpAuthnKind.create(p.value, tlsCtx);
  };
  const good = make({ cacertfile: 'ca.crt', certfile: 'client.crt', keyfile: 'client.key' });
  const rogue = make({ cacertfile: 'rogue-ca.crt', certfile: 'client.crt', keyfile: 'client.key' });
  try {
    assert.deepEqual(await good.authenticate(req('u', 'p')), { result: 'allow', isSuperuser: false });
    const o = await rogue.authenticate(req('u', 'p'));
    assert.ok(o.result === 'ignore' && /certificate/i.test(o.error ?? ''), JSON.stringify(o));
    assert.throws(() => make({ cacertfile: 'missing.crt' }), /ssl\.cacertfile: cannot read .*missing\.crt/);
  } finally {
    await good.close(); await rogue.close();
    tlsServer.closeAllConnections();
    await new Promise((r) => tlsServer.close(r));
  }
});
