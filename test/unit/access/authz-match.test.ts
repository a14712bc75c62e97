/**
 * The ACL matcher: who (exact, regex, CIDR v4/v6/mapped, and/or), action, QoS, retain, and the
 * escapes an attacker tries — wildcard subscriptions reaching a denied topic, `#` and `$SYS/#`
 * under EMQX's default rules, placeholder injection through usernames holding `+`, `#`, `/`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRules, compileRules, covers, overlaps, AclError } from '../../../broker/src/access/authz/acl-match.js';
import type { AclRule } from '../../../broker/src/access/types.js';
import type { AuthzRequest, ClientInfo } from '../../../broker/src/hooks.js';
import type { QoS } from '../../../broker/src/types.js';

function client(o: Partial<ClientInfo> = {}): ClientInfo {
  return { clientId: 'c1', username: 'u1', peerHost: '10.1.2.3', peerPort: 1, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false, ...o };
}
const req = (action: 'publish' | 'subscribe', topic: string, o: Partial<ClientInfo> = {}, qos: QoS = 0, retain = false): AuthzRequest =>
  ({ client: client(o), action, topic, qos, retain });
const sub = (topic: string, o: Partial<ClientInfo> = {}) => req('subscribe', topic, o);
const pub = (topic: string, o: Partial<ClientInfo> = {}, qos: QoS = 0, retain = false) => req('publish', topic, o, qos, retain);

// EMQX 5's shipped default rules (its acl.conf, also in the acl.conf parser tests), with the localhost rule enabled.
const EMQX_DEFAULT: AclRule[] = [
  { permission: 'allow', who: { username: { re: '^dashboard$' } }, action: 'subscribe', topics: ['$SYS/#'] },
  { permission: 'allow', who: { ipaddr: '127.0.0.1' }, action: 'all', topics: ['$SYS/#', '#'] },
  { permission: 'deny', who: 'all', action: 'subscribe', topics: ['$SYS/#', { eq: '#' }, { eq: '+/#' }] },
  { permission: 'allow', who: 'all', action: 'all', topics: ['#'] },
];

test('covers: an allow filter must contain the whole requested filter', () => {
  const s = (x: string) => x.split('/');
  assert.equal(covers(s('a/+'), s('a/b')), true);
  assert.equal(covers(s('a/+'), s('a/+')), true);
  assert.equal(covers(s('a/+'), s('a/#')), false);
  assert.equal(covers(s('a/+'), s('#')), false);
  assert.equal(covers(s('a/+'), s('+/b')), false);
  assert.equal(covers(s('a/#'), s('a')), true);
  assert.equal(covers(s('a/#'), s('a/+/c/#')), true);
  assert.equal(covers(s('#'), s('$SYS/x')), false);
  assert.equal(covers(s('+/x'), s('$SYS/x')), false);
  assert.equal(covers(s('$SYS/#'), s('$SYS/brokers/+')), true);
  assert.equal(covers(s('#'), s('+/#')), true);
});

test('overlaps: a deny filter catches every filter that could receive one of its topics', () => {
  const s = (x: string) => x.split('/');
  for (const r of ['a/b', 'a/#', '+/b', '+/+', '#', '+/#', 'a/+']) assert.equal(overlaps(s('a/b'), s(r)), true, r);
  for (const r of ['a/c', 'a', 'a/b/c', '+', '+/+/+', 'b/#']) assert.equal(overlaps(s('a/b'), s(r)), false, r);
  assert.equal(overlaps(s('$SYS/#'), s('#')), false);
  assert.equal(overlaps(s('$SYS/#'), s('+/brokers')), false);
  assert.equal(overlaps(s('$SYS/#'), s('$SYS/+/x')), true);
  assert.equal(overlaps(s('a/#'), s('a')), true);
});

test('a deny on a/b is not escaped by a wildcard subscription', () => {
  const rules: AclRule[] = [
    { permission: 'deny', who: 'all', action: 'subscribe', topics: ['a/b'] },
    { permission: 'allow', who: 'all', action: 'all', topics: ['#'] },
  ];
  for (const f of ['a/b', 'a/#', '+/b', '+/+', '#']) assert.equal(matchRules(rules, sub(f)), 'deny', f);
  for (const f of ['a/c', 'a/b/c', 'b/#']) assert.equal(matchRules(rules, sub(f)), 'allow', f);
});

test('an allow on a/+ grants a/b and a/+ but not a/#, +/b or #', () => {
  const rules: AclRule[] = [{ permission: 'allow', who: 'all', action: 'subscribe', topics: ['a/+'] }];
  assert.equal(matchRules(rules, sub('a/b')), 'allow');
  assert.equal(matchRules(rules, sub('a/+')), 'allow');
  for (const f of ['a/#', '+/b', '#', 'a/b/c']) assert.equal(matchRules(rules, sub(f)), 'nomatch', f);
});

test("EMQX's default rules: # and $SYS/# refused to a plain client, allowed from localhost and to dashboard", () => {
  for (const f of ['#', '+/#', '$SYS/#', '$SYS/brokers/+', '$SYS/+/x']) assert.equal(matchRules(EMQX_DEFAULT, sub(f)), 'deny', f);
  for (const f of ['a/#', 'sensors/+/temp', 'x']) assert.equal(matchRules(EMQX_DEFAULT, sub(f)), 'allow', f);
  assert.equal(matchRules(EMQX_DEFAULT, sub('$SYS/#', { username: 'dashboard' })), 'allow');
  assert.equal(matchRules(EMQX_DEFAULT, sub('$SYS/#', { username: 'dashboard2' })), 'deny');
  assert.equal(matchRules(EMQX_DEFAULT, sub('#', { peerHost: '127.0.0.1' })), 'allow');
  assert.equal(matchRules(EMQX_DEFAULT, sub('$SYS/#', { peerHost: '::ffff:127.0.0.1' })), 'allow');
  assert.equal(matchRules(EMQX_DEFAULT, pub('a/b')), 'allow');
  // '#' does not reach $-topics; the publish falls through to no_match
  assert.equal(matchRules(EMQX_DEFAULT, pub('$SYS/x')), 'nomatch');
});

test('placeholders: own topics only; + # / in a username or a missing username match nothing', () => {
  const rules: AclRule[] = [
    { permission: 'allow', who: 'all', action: 'all', topics: ['users/${username}/#', 'c/${clientid}', 'ip/${peerhost}', 'cn/${cert_common_name}'] },
  ];
  assert.equal(matchRules(rules, pub('users/u1/x')), 'allow');
  assert.equal(matchRules(rules, sub('users/u1/#')), 'allow');
  assert.equal(matchRules(rules, pub('users/u2/x')), 'nomatch');
  assert.equal(matchRules(rules, pub('c/c1')), 'allow');
  assert.equal(matchRules(rules, pub('ip/10.1.2.3')), 'allow');
  assert.equal(matchRules(rules, pub('cn/x')), 'nomatch');
  assert.equal(matchRules(rules, pub('cn/x', { peerCert: { cn: 'x' } })), 'allow');
  for (const username of ['#', '+', 'a/b', 'u1/..', '']) {
    for (const t of ['users/u2/x', 'users/a/b/x', 'users/#', 'users/+/x']) {
      assert.equal(matchRules(rules, req(t.includes('+') || t.includes('#') ? 'subscribe' : 'publish', t, { username })), 'nomatch', `${username} ${t}`);
    }
  }
  assert.equal(matchRules(rules, pub('users/x/y', { username: null })), 'nomatch');
  const lead: AclRule[] = [{ permission: 'allow', who: 'all', action: 'all', topics: ['${username}/#'] }];
  assert.equal(matchRules(lead, pub('$SYS/x', { username: '$SYS' })), 'nomatch');
  assert.equal(matchRules(lead, pub('bob/x', { username: 'bob' })), 'allow');
});

test('a deny with a placeholder still catches wildcard subscriptions', () => {
  const rules: AclRule[] = [
    { permission: 'deny', who: 'all', action: 'subscribe', topics: ['private/${username}'] },
    { permission: 'allow', who: 'all', action: 'all', topics: ['#'] },
  ];
  assert.equal(matchRules(rules, sub('private/+', { username: 'u1' })), 'deny');
  assert.equal(matchRules(rules, sub('private/u2', { username: 'u1' })), 'allow');
});

test('who: exact, regex, and/or, clientid', () => {
  const r = (who: AclRule['who']): AclRule[] => [{ permission: 'allow', who, action: 'all', topics: ['#'] }];
  assert.equal(matchRules(r({ username: 'u1' }), pub('t')), 'allow');
  assert.equal(matchRules(r({ username: 'u' }), pub('t')), 'nomatch');
  assert.equal(matchRules(r({ username: { re: '^u\\d$' } }), pub('t')), 'allow');
  assert.equal(matchRules(r({ username: { re: '^u\\d$' } }), pub('t', { username: null })), 'nomatch');
  assert.equal(matchRules(r({ clientid: { re: '^c' } }), pub('t')), 'allow');
  assert.equal(matchRules(r({ and: [{ username: 'u1' }, { clientid: 'c1' }] }), pub('t')), 'allow');
  assert.equal(matchRules(r({ and: [{ username: 'u1' }, { clientid: 'c2' }] }), pub('t')), 'nomatch');
  assert.equal(matchRules(r({ or: [{ username: 'x' }, { clientid: 'c1' }] }), pub('t')), 'allow');
  assert.equal(matchRules(r({ or: [] }), pub('t')), 'nomatch');
});

test('ipaddr: CIDR v4 and v6, mapped peers, lists', () => {
  const r = (who: AclRule['who']): AclRule[] => [{ permission: 'allow', who, action: 'all', topics: ['#'] }];
  assert.equal(matchRules(r({ ipaddr: '10.0.0.0/8' }), pub('t')), 'allow');
  assert.equal(matchRules(r({ ipaddr: '10.0.0.0/16' }), pub('t')), 'nomatch');
  assert.equal(matchRules(r({ ipaddr: '10.0.0.0/8' }), pub('t', { peerHost: '::ffff:10.9.9.9' })), 'allow');
  assert.equal(matchRules(r({ ipaddr: 'fd00::/8' }), pub('t', { peerHost: 'fd12::1' })), 'allow');
  assert.equal(matchRules(r({ ipaddr: 'fd00::/8' }), pub('t', { peerHost: 'fe80::1' })), 'nomatch');
  assert.equal(matchRules(r({ ipaddr: '::1' }), pub('t', { peerHost: '::1' })), 'allow');
  assert.equal(matchRules(r({ ipaddrs: ['192.168.0.0/24', '10.1.2.3'] }), pub('t')), 'allow');
  assert.equal(matchRules(r({ ipaddr: '10.0.0.0/8' }), pub('t', { peerHost: '' })), 'nomatch');
});

test('action, qos and retain narrow a rule; {eq} is literal', () => {
  const rules: AclRule[] = [
    { permission: 'deny', who: 'all', action: 'publish', qos: [2], topics: ['t'] },
    { permission: 'deny', who: 'all', action: 'publish', retain: true, topics: ['t'] },
    { permission: 'allow', who: 'all', action: 'subscribe', topics: [{ eq: 'x/#' }, 'eq y/+'] },
    { permission: 'allow', who: 'all', action: 'publish', topics: ['t'] },
  ];
  assert.equal(matchRules(rules, pub('t', {}, 2)), 'deny');
  assert.equal(matchRules(rules, pub('t', {}, 1, true)), 'deny');
  assert.equal(matchRules(rules, pub('t', {}, 1, false)), 'allow');
  assert.equal(matchRules(rules, sub('t')), 'nomatch');
  assert.equal(matchRules(rules, sub('x/#')), 'allow');
  assert.equal(matchRules(rules, sub('x/a')), 'nomatch');
  assert.equal(matchRules(rules, sub('y/+')), 'allow');
});

test('bad rules are refused with the rule and what is wrong', () => {
  const bad = (r: Partial<AclRule> & Record<string, unknown>, msg: RegExp) => assert.throws(
    () => compileRules([{ permission: 'allow', who: 'all', action: 'all', topics: ['#'] }, { permission: 'allow', who: 'all', action: 'all', topics: ['#'], ...r } as AclRule]),
    (e: unknown) => e instanceof AclError && /^rule 2/.test(e.message) && msg.test(e.message));
  bad({ who: { ipaddr: '10.0.0.0/33' } }, /prefix length/);
  bad({ who: { ipaddr: 'nope' } }, /not an IPv4/);
  bad({ who: { username: { re: '(' } } }, /regular expression/);
  bad({ who: { zone: 'x' } as never }, /unknown who 'zone'/);
  bad({ topics: ['a/b#'] }, /topic 1.*not a valid topic filter/);
  bad({ topics: ['a/${nope}'] }, /unknown placeholder/);
  bad({ action: 'pubsub' as never }, /action/);
  bad({ qos: [3] as never }, /qos/);
});

test('compiled once per rules array', () => {
  const rules: AclRule[] = [{ permission: 'allow', who: 'all', action: 'all', topics: ['#'] }];
  assert.equal(compileRules(rules), compileRules(rules));
});
