/**
 * The Authorizer over the client.authorize hook chain: the synchronous fast paths, async
 * answers, chain order, failures, and the per-client answer cache (hits, ttl, size, invalidation).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authorizer, type AuthorizerOptions } from '../../../broker/src/access/authorizer.js';
import { Hooks, type AuthzResult, type ClientInfo } from '../../../broker/src/hooks.js';
import { Metrics } from '../../../broker/src/metrics.js';

function client(clientId = 'c', isSuperuser = false): ClientInfo {
  return { clientId, username: null, peerHost: '', peerPort: 0, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser };
}

function setup(opts: { noMatch?: AuthzResult; cache?: Partial<AuthorizerOptions['cache']> } = {}): { hooks: Hooks; az: Authorizer; counters: Metrics['counters']; errors: unknown[] } {
  const errors: unknown[] = [];
  const hooks = new Hooks((_n, err) => { errors.push(err); });
  const counters = new Metrics().counters;
  const az = new Authorizer(hooks, counters, {
    noMatch: opts.noMatch ?? 'allow',
    cache: { enable: false, maxSize: 32, ttlMs: 60_000, ...opts.cache },
  });
  return { hooks, az, counters, errors };
}

test('no callback: allow synchronously, nothing counted', () => {
  const { az, counters } = setup();
  assert.equal(az.open, true);
  assert.equal(az.check(client(), 'publish', 't', 0, false), 'allow');
  assert.equal(counters['client.authorize'], 0);
});

test('a superuser is allowed without asking the chain', () => {
  const { hooks, az } = setup();
  let asked = 0;
  hooks.add('client.authorize', () => { asked++; return 'deny'; });
  assert.equal(az.check(client('root', true), 'subscribe', '#', 0, false), 'allow');
  assert.equal(asked, 0);
  assert.equal(az.check(client('user'), 'subscribe', '#', 0, false), 'deny');
});

test('synchronous answers are returned synchronously and counted', () => {
  const { hooks, az, counters } = setup();
  hooks.add('client.authorize', (req) => (req.topic.startsWith('ok/') ? 'allow' : 'deny'));
  assert.equal(az.check(client(), 'publish', 'ok/1', 1, false), 'allow');
  assert.equal(az.check(client(), 'publish', 'no/1', 1, false), 'deny');
  assert.deepEqual([counters['client.authorize'], counters['authorization.allow'], counters['authorization.deny']], [2, 1, 1]);
});

test('an async answer comes back as a promise', async () => {
  const { hooks, az, counters } = setup();
  hooks.add('client.authorize', (req) => Promise.resolve<AuthzResult>(req.action === 'publish' ? 'allow' : 'deny'));
  const p = az.check(client(), 'publish', 't', 0, false);
  assert.ok(p instanceof Promise);
  assert.equal(await p, 'allow');
  assert.equal(await az.check(client(), 'subscribe', 't', 0, false), 'deny');
  assert.equal(counters['authorization.allow'], 1);
});

test('the first defined answer wins, in priority order, sync or async', async () => {
  const { hooks, az } = setup();
  const asked: string[] = [];
  hooks.add('client.authorize', () => { asked.push('low'); return 'allow'; }, 0);
  hooks.add('client.authorize', () => { asked.push('mid'); return 'deny'; }, 5);
  hooks.add('client.authorize', () => { asked.push('high'); return undefined; }, 10);
  assert.equal(az.check(client(), 'publish', 't', 0, false), 'deny');
  assert.deepEqual(asked, ['high', 'mid']);

  const b = setup();
  b.hooks.add('client.authorize', () => Promise.resolve(undefined), 10);
  b.hooks.add('client.authorize', () => 'deny', 5);
  b.hooks.add('client.authorize', () => 'allow', 0);
  assert.equal(await b.az.check(client(), 'publish', 't', 0, false), 'deny');
});

test('no callback answers: the noMatch answer', async () => {
  for (const noMatch of ['allow', 'deny'] as const) {
    const { hooks, az } = setup({ noMatch });
    hooks.add('client.authorize', () => undefined);
    assert.equal(az.check(client(), 'publish', 't', 0, false), noMatch);
    const a = setup({ noMatch });
    a.hooks.add('client.authorize', () => Promise.resolve(undefined));
    assert.equal(await a.az.check(client(), 'publish', 't', 0, false), noMatch);
  }
});

test('a throwing or rejecting callback denies, is reported, and stops the chain', async () => {
  const { hooks, az, errors } = setup();
  let after = 0;
  hooks.add('client.authorize', () => { throw new Error('boom'); }, 1);
  hooks.add('client.authorize', () => { after++; return 'allow'; }, 0);
  assert.equal(az.check(client(), 'publish', 't', 0, false), 'deny');
  assert.equal(after, 0);
  assert.equal(errors.length, 1);

  const r = setup();
  r.hooks.add('client.authorize', () => Promise.reject(new Error('down')));
  assert.equal(await r.az.check(client(), 'publish', 't', 0, false), 'deny');
  assert.equal(r.errors.length, 1);
});

test('cache: a hit skips the chain and is counted; the key includes action, QoS, retain and topic; per client', () => {
  const { hooks, az, counters } = setup({ cache: { enable: true } });
  let asked = 0;
  hooks.add('client.authorize', () => { asked++; return 'allow'; });
  const c = client();
  az.check(c, 'publish', 't', 1, false);
  az.check(c, 'publish', 't', 1, false);
  assert.equal(asked, 1);
  assert.equal(counters['authorization.cache_hit'], 1);
  assert.equal(counters['authorization.allow'], 2, 'a hit still counts its answer');
  az.check(c, 'subscribe', 't', 1, false);
  az.check(c, 'publish', 't', 2, false);
  az.check(c, 'publish', 't', 1, true);
  az.check(c, 'publish', 'u', 1, false);
  assert.equal(asked, 5);
  az.check(client('other'), 'publish', 't', 1, false);
  assert.equal(asked, 6, 'another client has its own cache');
});

test('cache: an async answer is cached once it settles', async () => {
  const { hooks, az, counters } = setup({ cache: { enable: true } });
  hooks.add('client.authorize', () => Promise.resolve<AuthzResult>('deny'));
  const c = client();
  assert.equal(await az.check(c, 'publish', 't', 0, false), 'deny');
  assert.equal(az.check(c, 'publish', 't', 0, false), 'deny', 'synchronous from the cache');
  assert.equal(counters['authorization.cache_hit'], 1);
});

test('cache: an answer is kept until its ttl', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const { hooks, az } = setup({ cache: { enable: true, ttlMs: 1_000 } });
  let asked = 0;
  hooks.add('client.authorize', () => { asked++; return 'allow'; });
  const c = client();
  az.check(c, 'publish', 't', 0, false);
  t.mock.timers.tick(999);
  az.check(c, 'publish', 't', 0, false);
  assert.equal(asked, 1);
  t.mock.timers.tick(1);
  az.check(c, 'publish', 't', 0, false);
  assert.equal(asked, 2);
});

test('cache: at max_size the oldest entry is evicted', () => {
  const { hooks, az } = setup({ cache: { enable: true, maxSize: 2 } });
  const asked: string[] = [];
  hooks.add('client.authorize', (req) => { asked.push(req.topic); return 'allow'; });
  const c = client();
  for (const topic of ['a', 'b', 'c']) az.check(c, 'publish', topic, 0, false);
  az.check(c, 'publish', 'c', 0, false);
  az.check(c, 'publish', 'b', 0, false);
  assert.deepEqual(asked, ['a', 'b', 'c'], 'b and c still cached');
  az.check(c, 'publish', 'a', 0, false);
  assert.deepEqual(asked, ['a', 'b', 'c', 'a'], 'a was evicted');
});

test('cache: invalidate() and adding a hook both forget every answer', () => {
  const { hooks, az } = setup({ cache: { enable: true } });
  let answer: AuthzResult = 'allow';
  hooks.add('client.authorize', () => answer);
  const c = client();
  assert.equal(az.check(c, 'publish', 't', 0, false), 'allow');
  answer = 'deny';
  assert.equal(az.check(c, 'publish', 't', 0, false), 'allow', 'cached');
  az.invalidate();
  assert.equal(az.check(c, 'publish', 't', 0, false), 'deny');
  answer = 'allow';
  hooks.add('client.authorize', () => undefined, -1);
  assert.equal(az.check(c, 'publish', 't', 0, false), 'allow');
});
