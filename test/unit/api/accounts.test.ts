/** The failed-login limiter's windows and locks, and the router's one role check, without a node. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoginLimiter } from '../../../broker/src/api/accounts/login-limiter.js';
import { Router } from '../../../broker/src/api/router.js';
import { ApiError } from '../../../broker/src/api/errors.js';
import { json, type Route } from '../../../broker/src/api/route.js';
import type { Caller } from '../../../broker/src/api/accounts/roles.js';

describe('LoginLimiter', () => {
  const limits = { maxAttempts: 3, intervalMs: 1000, lockMs: 5000 };

  it('locks a username after maxAttempts failures within the window, until lockMs has passed', () => {
    const l = new LoginLimiter(limits);
    l.failed('u', 'a1', 0); l.failed('u', 'a2', 100);
    assert.equal(l.lockedFor('u', 'a3', 200), 0);
    l.failed('u', 'a3', 300);
    assert.equal(l.lockedFor('u', 'a9', 300), 5000);
    assert.equal(l.lockedFor('other', 'a9', 300), 0, 'other names from other addresses are free');
    assert.equal(l.lockedFor('u', 'a9', 5300), 0);
  });

  it('failures older than the window do not count; a success clears the username', () => {
    const l = new LoginLimiter(limits);
    l.failed('u', 'a', 0); l.failed('u', 'b', 10);
    l.failed('u', 'c', 1500);
    assert.equal(l.lockedFor('u', 'd', 1500), 0);
    l.failed('u', 'e', 1600); l.succeeded('u'); l.failed('u', 'f', 1700);
    assert.equal(l.lockedFor('u', 'g', 1700), 0);
  });

  it('locks an address after 4 × maxAttempts failures, whatever the names', () => {
    const l = new LoginLimiter(limits);
    for (let i = 0; i < 11; i++) l.failed(`n${i}`, 'addr', i);
    assert.equal(l.lockedFor('fresh', 'addr', 20), 0);
    l.failed('n11', 'addr', 21);
    assert.ok(l.lockedFor('fresh', 'addr', 22) > 0);
    assert.equal(l.lockedFor('fresh', 'elsewhere', 22), 0);
  });

  it('stays bounded: a flood of names does not grow the table without end', () => {
    const l = new LoginLimiter({ ...limits, maxAttempts: 100 });
    for (let i = 0; i < 25_000; i++) l.failed(`n${i}`, `a${i}`, 10_000 + i);
    assert.ok((l as unknown as { entries: Map<string, unknown> }).entries.size <= 10_000);
  });
});

describe('Router.authorize', () => {
  const h = () => json(200, {});
  const routes: Route[] = [
    { method: 'GET', path: '/r', summary: '', handler: h },
    { method: 'POST', path: '/r', summary: '', handler: h },
    { method: 'POST', path: '/out', summary: '', anyRole: true, handler: h },
    { method: 'POST', path: '/users/{username}/pwd', summary: '', ownUser: 'username', handler: h },
  ];
  const router = new Router(routes);
  const viewer: Caller = { kind: 'user', name: 'vé', role: 'viewer' };
  const viewerKey: Caller = { kind: 'api_key', name: 'vé', role: 'viewer' };
  const admin: Caller = { kind: 'api_key', name: 'k', role: 'administrator' };
  const allowed = (method: string, path: string, c: Caller | null): boolean => {
    const m = router.find(method, path);
    assert.equal(m.kind, 'route');
    if (m.kind !== 'route') return false;
    try { router.authorize(m.compiled, m.rawParams, c); return true; } catch (err) {
      assert.ok(err instanceof ApiError && err.code === 'UNAUTHORIZED_ROLE' && err.status === 403);
      return false;
    }
  };

  it('a viewer may GET, call anyRole routes and its own ownUser route (percent-encoded too); nothing else', () => {
    assert.equal(allowed('GET', '/r', viewer), true);
    assert.equal(allowed('POST', '/r', viewer), false);
    assert.equal(allowed('POST', '/out', viewer), true);
    assert.equal(allowed('POST', '/users/v%C3%A9/pwd', viewer), true);
    assert.equal(allowed('POST', '/users/admin/pwd', viewer), false);
    assert.equal(allowed('POST', '/users/%E0%A4%A/pwd', viewer), false, 'bad percent-encoding is not its name');
    assert.equal(allowed('POST', '/users/v%C3%A9/pwd', viewerKey), false, 'a viewer key is no dashboard user');
  });

  it('administrators and open routes (no caller) pass', () => {
    for (const c of [admin, null]) for (const [m, p] of [['POST', '/r'], ['POST', '/users/x/pwd']] as const) assert.equal(allowed(m, p, c), true);
  });
});
