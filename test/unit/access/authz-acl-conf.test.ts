/**
 * The acl.conf reader: EMQX's default rules as EMQX ships them, every condition, action and
 * topic form, and errors that point at line:column.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseAclConf, AclConfError } from '../../../broker/src/access/authz/acl-conf.js';
import { matchRules, ALL_TOPICS } from '../../../broker/src/access/authz/acl-match.js';
import type { ClientInfo } from '../../../broker/src/hooks.js';

// The rule terms of EMQX 5's shipped acl.conf (apps/emqx_auth/etc/acl.conf), byte for byte, with
// comments in its style (box-drawing characters, backquotes, a commented-out rule).
const EMQX_DEFAULT = `%%-------------- Default ACL rules ---------------

{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.

%% Uncomment the rule below to allow clients connecting from localhost
%% full publish/subscribe access (including \`$SYS/#\` and \`#\`).
%% {allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.

{deny, all, subscribe, ["$SYS/#", {eq, "#"}, {eq, "+/#"}]}.

{allow, {security_profile, legacy}}.
%% rule()
%% ├── {perm(), cond(), action(), [topic_match()]}
%% │    │       │      │          └── {eq, topic() | topic_filter()}
%% └── {perm(), all}
`;

// EMQX 5.0–5.8's default.
const EMQX_50_DEFAULT = `
{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
{allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.
{deny, all, subscribe, ["$SYS/#", {eq, "#"}]}.
{allow, all}.
`;

const client = (o: Partial<ClientInfo> = {}): ClientInfo =>
  ({ clientId: 'c1', username: 'u1', peerHost: '10.0.0.5', peerPort: 1, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 4, isSuperuser: false, ...o });

test("EMQX's shipped default acl.conf parses and behaves as documented", () => {
  const rules = parseAclConf(EMQX_DEFAULT);
  assert.deepEqual(rules, [
    { permission: 'allow', who: { username: { re: '^dashboard$' } }, action: 'subscribe', topics: ['$SYS/#'] },
    { permission: 'deny', who: 'all', action: 'subscribe', topics: ['$SYS/#', { eq: '#' }, { eq: '+/#' }] },
    { permission: 'allow', who: 'all', action: 'all', topics: [ALL_TOPICS] },
  ]);
  const sub = (topic: string, o: Partial<ClientInfo> = {}) => matchRules(rules, { client: client(o), action: 'subscribe', topic, qos: 0, retain: false });
  assert.equal(sub('#'), 'deny');
  assert.equal(sub('+/#'), 'deny');
  assert.equal(sub('$SYS/brokers/#'), 'deny');
  assert.equal(sub('$SYS/#', { username: 'dashboard' }), 'allow');
  assert.equal(sub('a/#'), 'allow');
});

test('EMQX 5.0 default acl.conf parses', () => {
  const rules = parseAclConf(EMQX_50_DEFAULT);
  assert.equal(rules.length, 4);
  assert.deepEqual(rules[1], { permission: 'allow', who: { ipaddr: '127.0.0.1' }, action: 'all', topics: ['$SYS/#', '#'] });
  assert.deepEqual(rules[3], { permission: 'allow', who: 'all', action: 'all', topics: [ALL_TOPICS] });
});

const MIRROR = '/work/.mirror/emqx+emqx/repo';
test('the acl.conf in an EMQX source checkout parses unchanged', { skip: !existsSync(MIRROR) && 'no EMQX checkout here' }, () => {
  const src = execFileSync('git', ['-C', MIRROR, 'show', 'HEAD:apps/emqx_auth/etc/acl.conf'], { encoding: 'utf8' });
  assert.equal(parseAclConf(src).length, 3);
});

test('every condition, action and topic form', () => {
  const rules = parseAclConf(`
    % one-% comment
    {allow, {'and', [{clientid, "c1"}, {ipaddrs, ["10.0.0.0/8", "::1"]}]}, {publish, [{qos, [0,1]}, {retain, true}]}, ["t/\${clientid}"]}.
    {deny, {'or', [{user, "a"}, {client, {re, "^x"}}]}, {subscribe, [{qos, 1}]}, [{eq, "#"}]}.
    {allow, {user, <<"bin">>}, pubsub, "single"}.
    {deny, all, {all, [{retain, all}]}, [all]}.
    {allow, {security_profile, hardened}}.
    {deny, {username, "q\\"uote"}, publish, ["x"]}.
  `);
  assert.deepEqual(rules, [
    { permission: 'allow', who: { and: [{ clientid: 'c1' }, { ipaddrs: ['10.0.0.0/8', '::1'] }] }, action: 'publish', qos: [0, 1], retain: true, topics: ['t/${clientid}'] },
    { permission: 'deny', who: { or: [{ username: 'a' }, { clientid: { re: '^x' } }] }, action: 'subscribe', qos: [1], topics: [{ eq: '#' }] },
    { permission: 'allow', who: { username: 'bin' }, action: 'all', topics: ['single'] },
    { permission: 'deny', who: 'all', action: 'all', topics: [ALL_TOPICS] },
    { permission: 'allow', who: { or: [] }, action: 'all', topics: [ALL_TOPICS] },
    { permission: 'deny', who: { username: 'q"uote' }, action: 'publish', topics: ['x'] },
  ]);
});

test('syntax and shape errors name line:column', () => {
  const err = (src: string, re: RegExp) => assert.throws(() => parseAclConf(src, 'my.conf'), (e: unknown) => {
    assert.ok(e instanceof AclConfError, String(e));
    assert.match(e.message, re);
    return true;
  });
  err('{allow, all}', /^my\.conf:1:13: expected '\.' after the rule, found end of file/);
  err('\n\n  {allow, all', /^my\.conf:3:14: expected ',' or '}'/);
  err('{allow, all}.\n{allow, {username, "x}, publish, [t]}.', /^my\.conf:2:20: unterminated string/);
  err('{permit, all}.', /^my\.conf:1:2: permission must be allow or deny, found permit/);
  err('{allow, {zone, "z"}, publish, ["t"]}.', /^my\.conf:1:9: the condition 'zone' is not supported/);
  err('{allow, {nick, "z"}, publish, ["t"]}.', /^my\.conf:1:10: unknown condition 'nick'/);
  err('{allow, all, publish, ["t"]}.\n  {allow, all, {publish, [{qos, 3}]}, ["t"]}.', /^my\.conf:2:33: qos is 0, 1, 2/);
  err('{allow, all, publish, [42]}.', /^my\.conf:1:24: a topic is a string/);
  err('{allow, all, publish}.', /^my\.conf:1:1: a rule is/);
  err('{allow, all, publish, ["t"]} junk', /^my\.conf:1:30: expected '\.'/);
  err('{allow, all, publish, ["t"]}. #', /^my\.conf:1:31: unexpected '#'/);
});
