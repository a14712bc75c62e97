/**
 * A JWT's ACL claim → AclRule[]: EMQX 5's rule list and the older {pub, sub, all} map, a
 * renamed claim (acl_claim_name), and malformed claims refusing the token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { aclFromClaim } from '../../../broker/src/access/authn/jwt-acl.js';
import { jwtKind, type JwtConfig } from '../../../broker/src/access/authn/jwt.js';
import type { AclRule } from '../../../broker/src/access/types.js';
import { context, passwordRequest } from './jwt-scram-support.js';

const SECRET = 'a-secret-long-enough-for-hs256-32bytes!';

test('the rule list: permission, action aliases, topic/topics, eq, qos, retain, conditions', () => {
  const r = aclFromClaim([
    { permission: 'allow', action: 'pub', topic: 't/${username}', qos: [1, 2], retain: false },
    { permission: 'deny', action: 'subscribe', topics: ['eq t/#', 's/+'], qos: '0,1' },
    { permission: 'allow', action: 'all', topic: 'x/#', qos: 2, retain: 'all', username_re: '^dev', ipaddr: '10.0.0.0/8' },
    { permission: 'allow', action: 'publish', topic: 'y', clientid_re: '^c', username: 'ignored-by-emqx', qos: [0, 1, 2], retain: '1' },
  ]);
  assert.ok(r.ok);
  const want: AclRule[] = [
    { permission: 'allow', who: 'all', action: 'publish', topics: ['t/${username}'], qos: [1, 2], retain: false },
    { permission: 'deny', who: 'all', action: 'subscribe', topics: [{ eq: 't/#' }, 's/+'], qos: [0, 1] },
    { permission: 'allow', who: { and: [{ username: { re: '^dev' } }, { ipaddr: '10.0.0.0/8' }] }, action: 'all', topics: ['x/#'], qos: [2] },
    { permission: 'allow', who: { clientid: { re: '^c' } }, action: 'publish', topics: ['y'], retain: true },
  ];
  assert.deepEqual((r as { rules: AclRule[] }).rules, want);
});

test('the {pub, sub, all} map: listed topics allowed, everything else denied', () => {
  const r = aclFromClaim({ pub: ['up/${clientid}'], sub: ['down/#'], all: ['both'] });
  assert.ok(r.ok);
  assert.deepEqual((r as { rules: AclRule[] }).rules, [
    { permission: 'allow', who: 'all', action: 'publish', topics: ['up/${clientid}'] },
    { permission: 'allow', who: 'all', action: 'subscribe', topics: ['down/#'] },
    { permission: 'allow', who: 'all', action: 'all', topics: ['both'] },
    { permission: 'deny', who: 'all', action: 'all', topics: ['#', '$SYS/#', '$delayed/#'] },
  ]);
  assert.deepEqual((aclFromClaim({}) as { rules: AclRule[] }).rules, [{ permission: 'deny', who: 'all', action: 'all', topics: ['#', '$SYS/#', '$delayed/#'] }], 'an empty map denies all');
});

test('malformed rules name the rule and the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['pub', /list of rules or a \{pub, sub, all\} map/],
    [[{ action: 'publish', topic: 't' }], /rule 0: permission must be allow or deny/],
    [[{ permission: 'allow', action: 'publish', topic: 't' }, { permission: 'allow', action: 'write', topic: 't' }], /rule 1: action must be/],
    [[{ permission: 'allow', action: 'publish' }], /needs 'topic'/],
    [[{ permission: 'allow', action: 'publish', topic: 't', qos: 3 }], /qos must be/],
    [[{ permission: 'allow', action: 'publish', topic: 't', retain: 'maybe' }], /retain must be/],
    [[{ permission: 'allow', action: 'publish', topic: 't', username_re: '(' }], /username_re is not a valid regular expression/],
    [[{ permission: 'allow', action: 'publish', topic: 't', listener: 'tcp:default' }], /unsupported field 'listener'/],
    [{ pub: 't/1' }, /acl.pub must be a list of topics/],
  ];
  for (const [claim, re] of cases) {
    const r = aclFromClaim(claim);
    assert.equal(r.ok, false, JSON.stringify(claim));
    assert.match((r as { error: string }).error, re);
  }
});

test('through the authenticator: rules in the outcome, a custom claim name, a bad claim → deny', async () => {
  const p = jwtKind.parse({ mechanism: 'jwt', algorithm: 'hmac-based', secret: SECRET, acl_claim_name: 'rights' });
  assert.ok(p.ok);
  const a = jwtKind.create((p as { value: JwtConfig }).value, context());
  const sign = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(SECRET));
  const ok = await a.authenticate(passwordRequest(await sign({ rights: [{ permission: 'allow', action: 'publish', topic: 'a' }] })));
  assert.deepEqual(ok, { result: 'allow', isSuperuser: false, acl: [{ permission: 'allow', who: 'all', action: 'publish', topics: ['a'] }] });
  const other = await a.authenticate(passwordRequest(await sign({ acl: { pub: ['a'] } })));
  assert.deepEqual(other, { result: 'allow', isSuperuser: false }, 'the default claim name is not read when renamed');
  const bad = await a.authenticate(passwordRequest(await sign({ rights: [{ permission: 'allow' }] })));
  assert.deepEqual(bad, { result: 'deny', reason: 'BAD_USERNAME_OR_PASSWORD' });
});
