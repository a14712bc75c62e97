/**
 * The authorization chain: the client's own ACL first, then sources in order; allow/deny stop,
 * nomatch goes on, a throwing or rejecting source is logged, counted `failed` and skipped;
 * sync sources stay sync. And the file source's ways to get its rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthzChain, type RunningSource } from '../../../broker/src/access/authz/chain.js';
import { fileAuthzKind } from '../../../broker/src/access/authz/sources/file.js';
import { parseSources } from '../../../broker/src/access/authz/registry.js';
import { memoryStore } from '../../../broker/src/store/index.js';
import type { AccessContext, AclRule, AuthzAnswer, AuthzSource } from '../../../broker/src/access/types.js';
import type { AuthzRequest, ClientInfo } from '../../../broker/src/hooks.js';

function ctx(): AccessContext & { lines: unknown[] } {
  const lines: unknown[] = [];
  const log = { warn: (o: unknown, m: string) => lines.push([o, m]), info() {}, error() {}, debug() {} } as never;
  return { store: memoryStore(), log, configDir: '/', clientAcl: new WeakMap(), lines };
}
const client: ClientInfo = { clientId: 'c', username: 'u', peerHost: '127.0.0.1', peerPort: 1, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };
const req = (topic: string): AuthzRequest => ({ client, action: 'publish', topic, qos: 0, retain: false });
const src = (type: string, f: (r: AuthzRequest) => AuthzAnswer | Promise<AuthzAnswer>): RunningSource =>
  ({ type, source: { type, authorize: f, close: async () => {} } as AuthzSource, metrics: { allow: 0, deny: 0, nomatch: 0, failed: 0 } });

test('sources in order: nomatch goes on, the first allow/deny decides, nothing decided is undefined', () => {
  const c = new AuthzChain(ctx());
  const a = src('a', (r) => (r.topic === 'x' ? 'deny' : 'nomatch'));
  const b = src('b', (r) => (r.topic === 'y' ? 'allow' : 'nomatch'));
  c.sources = [a, b];
  assert.equal(c.authorize(req('x')), 'deny');
  assert.equal(c.authorize(req('y')), 'allow');
  assert.equal(c.authorize(req('z')), undefined);
  assert.deepEqual(a.metrics, { allow: 0, deny: 1, nomatch: 2, failed: 0 });
  assert.deepEqual(b.metrics, { allow: 1, deny: 0, nomatch: 1, failed: 0 });
});

test('a throwing source and a rejecting one are logged, counted and skipped', async () => {
  const cx = ctx();
  const c = new AuthzChain(cx);
  const boom = src('redis', () => { throw new Error('connection refused'); });
  const rej = src('http', () => Promise.reject(new Error('timeout')));
  const last = src('file', () => 'deny');
  c.sources = [boom, rej, last];
  const r = c.authorize(req('t'));
  assert.ok(r instanceof Promise);
  assert.equal(await r, 'deny');
  assert.equal(await c.authorize(req('t')), 'deny');
  assert.equal(boom.metrics.failed, 2);
  assert.equal(rej.metrics.failed, 2);
  assert.equal(last.metrics.deny, 2);
  // one line per source per interval, naming it and the error
  assert.equal(cx.lines.length, 2);
  assert.match(JSON.stringify(cx.lines[0]), /redis.*connection refused/);
  assert.match(JSON.stringify(cx.lines[1]), /http.*timeout/);
});

test('async sources keep the order', async () => {
  const c = new AuthzChain(ctx());
  c.sources = [src('a', async (): Promise<AuthzAnswer> => 'nomatch'), src('b', () => 'allow'), src('c', () => 'deny')];
  assert.equal(await c.authorize(req('t')), 'allow');
});

test("the client's own ACL is asked first; its nomatch goes on to the sources; a bad one is skipped", () => {
  const cx = ctx();
  const c = new AuthzChain(cx);
  c.sources = [src('file', () => 'deny')];
  const acl: AclRule[] = [{ permission: 'allow', who: 'all', action: 'publish', topics: ['mine/#'] }];
  cx.clientAcl.set(client, acl);
  assert.equal(c.authorize(req('mine/1')), 'allow');
  assert.equal(c.authorize(req('other')), 'deny');
  cx.clientAcl.set(client, [{ permission: 'allow', who: { ipaddr: 'bogus' }, action: 'all', topics: ['#'] }]);
  assert.equal(c.authorize(req('mine/1')), 'deny');
  assert.deepEqual(c.clientAclMetrics, { allow: 1, deny: 0, nomatch: 1, failed: 1 });
});

test('file source: a relative path is read from the config directory; inline acl.conf text and YAML rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-acl-'));
  try {
    writeFileSync(join(dir, 'acl.conf'), '{deny, all, publish, ["x"]}.\n');
    const cx = { ...ctx(), configDir: dir };
    const p = fileAuthzKind.parse({ type: 'file', enable: true, path: 'acl.conf' });
    assert.ok(p.ok);
    assert.equal(fileAuthzKind.create(p.value, cx).authorize(req('x')), 'deny');
    const t = fileAuthzKind.parse({ type: 'file', rules: '{allow, all, publish, ["x"]}.' });
    assert.ok(t.ok);
    assert.equal(fileAuthzKind.create(t.value, cx).authorize(req('x')), 'allow');
    const y = fileAuthzKind.parse({ type: 'file', rules: [{ permission: 'deny', who: { username: 'u' }, action: 'publish', topic: 'x' }] });
    assert.ok(y.ok);
    assert.equal(fileAuthzKind.create(y.value, cx).authorize(req('x')), 'deny');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('config: errors name the entry and the key', () => {
  const err = (v: unknown) => { const r = parseSources(v); assert.equal(r.ok, false); return (r as { error: string }).error; };
  assert.match(err([{ type: 'file', rules: [{ permission: 'allow', topics: ['#'], colour: 1 }] }]), /sources\[0\] \(file\): rules\[0\]: unknown key 'colour'/);
  assert.match(err([{ type: 'file', rules: [{ permission: 'maybe', topics: ['#'] }] }]), /rules\[0\]\.permission/);
  assert.match(err([{ type: 'built_in_database' }, { type: 'built_in_database' }]), /sources\[1\]: a second 'built_in_database'/);
  assert.match(err([{ type: 'built_in_database', max_rules: 0 }]), /max_rules/);
  assert.match(err([{ type: 'file', path: 'x', enable: 'yes' }]), /sources\[0\]\.enable/);
  assert.match(err([{ type: 'file', rules: '{allow, all' }]), /rules:1:12/);
  assert.match(err([{}]), /sources\[0\]\.type: required \(one of file, built_in_database/);
});

test('installAuthz: no source and no client ACL yet → no hook (an open broker pays nothing); the first client ACL adds it', async () => {
  const { installAuthz, ClientAclMap } = await import('../../../broker/src/access/authz/index.js');
  const { Hooks } = await import('../../../broker/src/hooks.js');
  const { Authorizer } = await import('../../../broker/src/access/authorizer.js');
  const { Metrics } = await import('../../../broker/src/metrics.js');
  const hooks = new Hooks();
  const az = new Authorizer(hooks, new Metrics().counters, { noMatch: 'allow', cache: { enable: true, maxSize: 8, ttlMs: 60_000 } });
  const cx = { ...ctx(), clientAcl: new ClientAclMap() };
  const svc = installAuthz({ ctx: cx, hooks, authorizer: az, sources: [] });
  assert.equal(az.open, true);
  cx.clientAcl.set(client, [{ permission: 'deny', who: 'all', action: 'all', topics: ['#'] }]);
  assert.equal(az.open, false);
  assert.equal(az.check(client, 'publish', 't', 0, false), 'deny');
  await svc.close();
  assert.equal(az.open, true);
  // a plain WeakMap cannot tell when an ACL arrives: the hook is there from the start
  const svc2 = installAuthz({ ctx: ctx(), hooks, authorizer: az, sources: [] });
  assert.equal(az.open, false);
  await svc2.close();
});
