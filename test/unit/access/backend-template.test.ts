/**
 * Backend placeholders: parsing (unknown names refused), SQL as prepared-statement parameters
 * (quoted EMQX 4 style placeholders unquoted), Redis command splitting, and the raw rule rows
 * every backend returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUTHN_VARS, AUTHZ_VARS, parseTemplate, render, splitRedisCommand, sqlParams, sqlTemplate, authzVars } from '../../../broker/src/access/backends/template.js';
import { parseRuleRow, parseRuleRows } from '../../../broker/src/access/backends/rule-row.js';
import { redisAclRule } from '../../../broker/src/access/backends/redis.js';
import { toBool } from '../../../broker/src/access/backends/config.js';
import type { ClientInfo } from '../../../broker/src/hooks.js';

const ok = <T>(r: { ok: true; value: T } | { ok: false; error: string }): T => { if (!r.ok) throw new Error(r.error); return r.value; };

test('templates: placeholders render with the encoder; unknown ones are a config error naming them', () => {
  const t = ok(parseTemplate('users/${username}/${ clientid }?x=${peerhost}', AUTHN_VARS, 'url'));
  assert.equal(render(t, { username: 'a b/c', clientid: 'c&d', peerhost: '::1' }, encodeURIComponent), 'users/a%20b%2Fc/c%26d?x=%3A%3A1');
  assert.equal(render(t, {}), 'users//?x=', 'a missing value renders empty');
  const bad = parseTemplate('t/${topic}', AUTHN_VARS, 'query');
  assert.equal(bad.ok, false);
  assert.match((bad as { error: string }).error, /^query: unknown placeholder \$\{topic\}/);
  assert.ok(parseTemplate('t/${topic}', AUTHZ_VARS, 'cmd').ok, '${topic} is an authorization placeholder');
});

test('SQL: placeholders become $n / ? parameters; quoted ones lose their quotes; no placeholder is refused', () => {
  const pg = ok(sqlTemplate("SELECT password_hash FROM mqtt_user where username = '${username}' and clientid = ${clientid} LIMIT 1", AUTHN_VARS, 'pg', 'query'));
  assert.equal(pg.text, 'SELECT password_hash FROM mqtt_user where username = $1 and clientid = $2 LIMIT 1');
  assert.deepEqual(pg.params, ['username', 'clientid']);
  const my = ok(sqlTemplate('SELECT * FROM t WHERE u = ${username} OR c = "${clientid}"', AUTHN_VARS, 'mysql', 'query'));
  assert.equal(my.text, 'SELECT * FROM t WHERE u = ? OR c = ?');
  assert.deepEqual(sqlParams(my, { username: "' OR '1'='1", clientid: null }), ["' OR '1'='1", null], 'values travel as parameters, never as SQL');
  assert.match((sqlTemplate('SELECT 1', AUTHN_VARS, 'pg', 'query') as { error: string }).error, /no placeholder/);
});

test('Redis: a command splits on blanks, quotes keep blanks inside one argument; errors name the problem', () => {
  assert.deepEqual(ok(splitRedisCommand('HMGET  mqtt_user:${username} password_hash salt', 'cmd')), ['HMGET', 'mqtt_user:${username}', 'password_hash', 'salt']);
  assert.deepEqual(ok(splitRedisCommand('HGETALL "acl:${username} x" \'y z\'', 'cmd')), ['HGETALL', 'acl:${username} x', 'y z']);
  assert.match((splitRedisCommand('HGET "a', 'cmd') as { error: string }).error, /unbalanced "/);
  assert.match((splitRedisCommand('   ', 'cmd') as { error: string }).error, /empty command/);
});

test('authorization values: topic, action, qos and retain of the request; certificate subject as a DN', () => {
  const client: ClientInfo = { clientId: 'c', username: null, peerHost: '10.0.0.1', peerPort: 1, listener: 'tcp:default', protocol: 'mqtt', protocolVersion: 5,
    peerCert: { cn: 'dev1', subject: { C: 'SE', O: 'Acme', CN: 'dev1' }, dn: 'CN=dev1,O=Acme,C=SE' }, isSuperuser: false };
  const v = authzVars({ client, action: 'publish', topic: 't/1', qos: 1, retain: true });
  assert.deepEqual(v, { username: null, clientid: 'c', peerhost: '10.0.0.1', cert_common_name: 'dev1', cert_subject: 'CN=dev1,O=Acme,C=SE', topic: 't/1', action: 'publish', qos: '1', retain: 'true' });
});

test('rule rows: EMQX raw format with aliases, eq topics, qos lists, retain forms and who conditions', () => {
  assert.deepEqual(ok(parseRuleRow({ permission: 'allow', action: 'pub', topic: 'eq t/#', qos: '0,1', retain: 1 })),
    { permission: 'allow', who: 'all', action: 'publish', topics: [{ eq: 't/#' }], qos: [0, 1], retain: true });
  assert.deepEqual(ok(parseRuleRow({ PERMISSION: 'deny', ACTION: 'subscribe', TOPICS: '["a/#","b"]', retain: 'true', username_re: '^dev' })),
    { permission: 'deny', who: { username: { re: '^dev' } }, action: 'subscribe', topics: ['a/#', 'b'] }, 'retain is dropped for subscribe; column names case-insensitive');
  assert.deepEqual(ok(parseRuleRow({ permission: 'allow', action: 'all', topic: 'x', qos: null, retain: 'all', ipaddr: '10.0.0.0/8', clientid_re: 'c' })).who,
    { and: [{ clientid: { re: 'c' } }, { ipaddr: '10.0.0.0/8' }] });
  for (const [row, msg] of [
    [{ permission: 'maybe', action: 'all', topic: 't' }, /invalid permission "maybe"/],
    [{ permission: 'allow', action: 'write', topic: 't' }, /invalid action "write"/],
    [{ permission: 'allow', action: 'all' }, /no 'topic'/],
    [{ permission: 'allow', action: 'all', topic: 't', qos: 3 }, /invalid qos 3/],
    [{ permission: 'allow', action: 'all', topic: 't', retain: 'yes' }, /invalid retain "yes"/],
    [{ permission: 'allow', action: 'all', topic: 't', username_re: '(' }, /invalid username_re/],
  ] as const) assert.match((parseRuleRow(row) as { error: string }).error, msg);
  const bad: string[] = [];
  const rules = parseRuleRows([{ permission: 'allow', action: 'all', topic: 'a' }, { permission: 'x' }, { permission: 'deny', action: 'all', topic: 'b' }], (e) => bad.push(e));
  assert.equal(rules.length, 2, 'a bad row is skipped, the others kept in order');
  assert.equal(bad.length, 1);
});

test('Redis ACL entries: an action or a JSON object, always allow', () => {
  assert.deepEqual(ok(redisAclRule('t/${username}/#', 'publish')), { permission: 'allow', who: 'all', action: 'publish', topics: ['t/${username}/#'] });
  assert.deepEqual(ok(redisAclRule('t', '{"action":"all","qos":[1,2],"retain":false,"permission":"deny"}')),
    { permission: 'allow', who: 'all', action: 'all', topics: ['t'], qos: [1, 2], retain: false }, 'a permission in the JSON is not honoured (EMQX 5 stores allow rules only)');
  assert.match((redisAclRule('t', 'write') as { error: string }).error, /neither an action nor JSON/);
  assert.match((redisAclRule('t', '[1]') as { error: string }).error, /not a JSON object/);
});

test('is_superuser truthiness follows EMQX', () => {
  for (const v of [true, 1, 2, '1', 'true', '5', Buffer.from('1'), 1n]) assert.equal(toBool(v), true, String(v));
  for (const v of [false, 0, '0', '', 'false', 'yes', null, undefined, Buffer.from('0')]) assert.equal(toBool(v), false, String(v));
});
