/**
 * A rule without topics — acl.conf's `{allow, all}.` / `{deny, all}.`, `all` in the topics place,
 * YAML `topics: all` — matches every topic and filter, `$SYS/…` and `$delayed/…` included, as
 * EMQX's ALL_TOPICS does (emqx_authz_rule). The filter `#` keeps the MQTT rule: it never reaches
 * a `$`-topic [MQTT-4.7.2-1], so such requests fall through to the next rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRules, ALL_TOPICS, AclError } from '../../../broker/src/access/authz/acl-match.js';
import { parseAclConf } from '../../../broker/src/access/authz/acl-conf.js';
import { ruleFromYaml } from '../../../broker/src/access/authz/rule-input.js';
import type { AclRule } from '../../../broker/src/access/types.js';
import type { AuthzRequest, ClientInfo } from '../../../broker/src/hooks.js';

const client: ClientInfo = { clientId: 'c1', username: 'u1', peerHost: '10.1.2.3', peerPort: 1, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };
const ask = (rules: readonly AclRule[], action: 'publish' | 'subscribe', topic: string) =>
  matchRules(rules, { client, action, topic, qos: 1, retain: false } satisfies AuthzRequest);

const DOLLAR = ['$SYS/brokers', '$SYS/#', '$delayed/10/t', '$share/g/t', '+/#', '#', 'a/b'];

test('{deny, all}. and {allow, all}. match $-topics and every filter', () => {
  for (const [src, want] of [['{deny, all}.', 'deny'], ['{allow, all}.', 'allow']] as const) {
    const rules = parseAclConf(src);
    assert.deepEqual(rules, [{ permission: want, who: 'all', action: 'all', topics: [ALL_TOPICS] }]);
    for (const t of DOLLAR) {
      assert.equal(ask(rules, 'publish', t.replace(/[+#]/g, 'x')), want, `${src} publish ${t}`);
      assert.equal(ask(rules, 'subscribe', t), want, `${src} subscribe ${t}`);
    }
  }
});

test('`all` in the topics place (alone or in the list) is every topic; `"#"` is not', () => {
  const rules = parseAclConf(`
    {allow, {username, "u1"}, publish, all}.
    {deny, all, subscribe, ["a/b", all]}.
  `);
  assert.deepEqual(rules.map((r) => r.topics), [[ALL_TOPICS], ['a/b', ALL_TOPICS]]);
  assert.equal(ask(rules, 'publish', '$delayed/5/x'), 'allow');
  assert.equal(ask(rules, 'subscribe', '$SYS/#'), 'deny');

  const hash = parseAclConf('{deny, all, all, ["#"]}.');
  assert.equal(ask(hash, 'publish', 'a/b'), 'deny');
  assert.equal(ask(hash, 'subscribe', '#'), 'deny');
  assert.equal(ask(hash, 'publish', '$SYS/x'), 'nomatch', '# never reaches a $-topic');
  assert.equal(ask(hash, 'subscribe', '$SYS/#'), 'nomatch');
});

test("EMQX's default file: $SYS subscriptions denied first, then {allow, all} lets a $-publish through as EMQX does", () => {
  const rules = parseAclConf(`
    {allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
    {deny, all, subscribe, ["$SYS/#", {eq, "#"}, {eq, "+/#"}]}.
    {allow, all}.
  `);
  assert.equal(ask(rules, 'subscribe', '$SYS/brokers/+'), 'deny');
  assert.equal(ask(rules, 'subscribe', '#'), 'deny');
  assert.equal(ask(rules, 'subscribe', 'a/#'), 'allow');
  assert.equal(ask(rules, 'publish', '$delayed/10/t'), 'allow', 'was nomatch when {allow, all} read as #');
});

test('security_profile rules have no topics either', () => {
  const rules = parseAclConf('{allow, {security_profile, hardened}}.\n{deny, {security_profile, legacy}}.');
  assert.equal(ask(rules, 'subscribe', '$SYS/#'), 'deny');
});

test('YAML: topics: all and {all: true} items; anything else named', () => {
  const r = ruleFromYaml({ permission: 'deny', topics: 'all' }, 'rules[0]');
  assert.deepEqual(r.topics, [ALL_TOPICS]);
  assert.equal(ask([r], 'publish', '$SYS/x'), 'deny');
  const item = ruleFromYaml({ permission: 'allow', action: 'subscribe', topics: ['x', { all: true }] }, 'rules[1]');
  assert.equal(ask([item], 'subscribe', '$delayed/#'), 'allow');
  assert.throws(() => ruleFromYaml({ permission: 'deny', topics: 'everything' }, 'rules[2]'), /rules\[2\]\.topics: a list of topics, or all/);
  assert.throws(() => ruleFromYaml({ permission: 'deny', topics: [{ all: 'yes' }] }, 'rules[3]'), (e: unknown) => e instanceof AclError && /rules\[3\], topic 1: .*\{all: true\}/.test(e.message));
});
