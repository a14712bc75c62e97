/**
 * Topic rewrite and auto-subscribe placeholders as pure functions: EMQX's order (last rule
 * first), a regex miss that stops the search, `$N` and `${clientid}`/`${username}` filling, a
 * placeholder without a value left as written; auto-subscribe's `${…}` and the skipped username.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RewriteList, parseRewriteRules } from '../../../broker/src/transform/topic-rewrite.js';
import { fillTopic, parseAutoSubscribe } from '../../../broker/src/transform/auto-subscribe.js';
import type { ClientInfo } from '../../../broker/src/hooks.js';

const rule = (source_topic: string, re: string, dest_topic: string) => ({ action: 'all' as const, source_topic, re, dest_topic });

describe('RewriteList', () => {
  it('fills $N captures and the client placeholders', () => {
    const l = new RewriteList([rule('a/#', '^a/(\\w+)/(\\w+)$', 'b/$2/$1/${clientid}/${username}')]);
    assert.equal(l.rewrite('a/x/y', 'c1', 'u1'), 'b/y/x/c1/u1');
    assert.equal(l.rewrite('a/x/y', 'c1', null), 'b/y/x/c1/${username}');
    assert.equal(l.rewrite('z/x/y', 'c1', 'u1'), 'z/x/y');
  });
  it('tries the last rule first and stops at a regex miss', () => {
    const l = new RewriteList([rule('a/#', '^a/(.*)$', 'one/$1'), rule('a/+', '^a/b$', 'two')]);
    assert.equal(l.rewrite('a/b', '', null), 'two');
    assert.equal(l.rewrite('a/c', '', null), 'a/c'); // a/+ matched, its re did not: no fallback
    assert.equal(l.rewrite('a/c/d', '', null), 'one/c/d');
  });
  it('an unmatched optional group is empty', () => {
    const l = new RewriteList([rule('#', '^(x)?(y)$', '[$1][$2]')]);
    assert.equal(l.rewrite('y', '', null), '[][y]');
  });
  it('parse: defaults to none, refuses non-lists and unknown keys', () => {
    assert.deepEqual(parseRewriteRules(undefined), { ok: true, value: [] });
    assert.equal(parseRewriteRules({}).ok, false);
    const r = parseRewriteRules([{ ...rule('a', 'a', 'b'), extra: 1 }]);
    assert.ok(!r.ok && /rewrite\[0\]: unknown key 'extra'/.test(r.error));
    const bad = parseRewriteRules([rule('a/#/b', 'a', 'b')]);
    assert.ok(!bad.ok && /source_topic/.test(bad.error));
  });
});

describe('auto_subscribe placeholders', () => {
  const c: ClientInfo = { clientId: 'id1', username: null, peerHost: '10.0.0.9', peerPort: 5555, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false };
  it('fills client id, host and port; a missing username skips the topic', () => {
    assert.equal(fillTopic('d/${clientid}/${host}/${port}', c), 'd/id1/10.0.0.9/5555');
    assert.equal(fillTopic('u/${username}', c), null);
    assert.equal(fillTopic('u/${username}', { ...c, username: 'bob' }), 'u/bob');
  });
  it('defaults qos/rh/rap/nl to 0 and checks their ranges', () => {
    assert.deepEqual(parseAutoSubscribe([{ topic: 't' }]), { ok: true, value: [{ topic: 't', qos: 0, rh: 0, rap: 0, nl: 0 }] });
    const r = parseAutoSubscribe([{ topic: 't', rap: 2 }]);
    assert.ok(!r.ok && /topics\[0\]\.rap/.test(r.error));
  });
});
