/** The rule engine's pure parts: the FROM-filter trie, `${…}` templates, rule config checks. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TopicIndex } from '../../../broker/src/rules/topic-index.js';
import { Template } from '../../../broker/src/rules/template.js';
import { parseRuleMap, parseRuleSpec } from '../../../broker/src/rules/rule-config.js';

describe('TopicIndex', () => {
  const idx = new TopicIndex<string>();
  for (const f of ['a/b', 'a/+', 'a/#', '#', '+/b', 'x/+/z', '$SYS/#', 'a/b/c']) idx.add(f, f);
  const m = (t: string) => [...idx.match(t)].sort();
  it('matches MQTT-style: + one level, # the rest and the parent', () => {
    assert.deepEqual(m('a/b'), ['#', '+/b', 'a/#', 'a/+', 'a/b'].sort());
    assert.deepEqual(m('a'), ['#', 'a/#'].sort());
    assert.deepEqual(m('a/b/c'), ['#', 'a/#', 'a/b/c'].sort());
    assert.deepEqual(m('x/y/z'), ['#', 'x/+/z'].sort());
    assert.deepEqual(m('x/y'), ['#']);
  });
  it('a leading wildcard does not match a $ topic', () => {
    assert.deepEqual(m('$SYS/x'), ['$SYS/#']);
  });
  it('an item under two matching filters comes once', () => {
    const i = new TopicIndex<string>();
    i.add('t/#', 'r');
    i.add('t/+', 'r');
    assert.deepEqual(i.match('t/1'), ['r']);
    assert.deepEqual(new TopicIndex<string>().match('any'), []);
  });
});

describe('Template', () => {
  const data = { clientid: 'c1', n: 3, ok: true, obj: { a: [1, 2] }, payload: '{"x":{"y":5}}', pub_props: { 'User-Property': { k: 'v' } } };
  it('renders strings, numbers, booleans and JSON for maps', () => {
    assert.equal(new Template('t/${clientid}/${n}/${ok}').render(data), 't/c1/3/true');
    assert.equal(new Template('${obj}').render(data), '{"a":[1,2]}');
    assert.equal(new Template('no placeholder').render(data), 'no placeholder');
  });
  it('paths: dots, quoted keys, 1-based indexes, JSON strings decoded along the way', () => {
    assert.equal(new Template('${obj.a[2]}').render(data), '2');
    assert.equal(new Template('${obj.a[-1]}').render(data), '2');
    assert.equal(new Template('${payload.x.y}').render(data), '5');
    assert.deepEqual(new Template("${pub_props.'User-Property'}").value(data), { k: 'v' });
  });
  it('a missing value renders empty', () => {
    assert.equal(new Template('[${nope}] [${obj.b.c}]').render(data), '[] []');
  });
  it('an unclosed placeholder is refused', () => {
    assert.throws(() => new Template('a/${b'), /no closing/);
  });
});

describe('rule config', () => {
  it('accepts EMQX\'s shape and fills the republish defaults', () => {
    const r = parseRuleSpec('r1', { sql: 'SELECT * FROM "t/#"', actions: [{ function: 'republish', args: { topic: 'x' } }, 'console'] });
    assert.ok(r.ok);
    assert.deepEqual(r.value.actions[0], { function: 'republish', args: { topic: 'x', qos: '${qos}', retain: '${flags.retain}', payload: '${payload}', user_properties: '${user_properties}', mqtt_properties: {} } });
    assert.deepEqual(r.value.actions[1], { function: 'console' });
    assert.equal(r.value.enable, true);
  });
  it('names what is wrong, and where', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ sql: 'SELECT * FROM "t" WHERE', actions: [] }, /rule 'r'\.sql: rule SQL 1:\d+/],
      [{ sql: 'SELECT * FROM "t"', actions: [{ function: 'republish', args: {} }] }, /actions\[0\]\.args\.topic/],
      [{ sql: 'SELECT * FROM "t"', actions: [{ function: 'republish', args: { topic: 't', qos: 3 } }] }, /args\.qos/],
      [{ sql: 'SELECT * FROM "t"', actions: [{ function: 'http' }] }, /not a built-in action/],
      [{ sql: 'SELECT * FROM "t"', enable: 'yes' }, /enable/],
      [{ sql: 'SELECT * FROM "t"', colour: 1 }, /unknown key 'colour'/],
      [{ sql: 'SELECT * FROM "t"', actions: [{ function: 'republish', args: { topic: 't', mqtt_properties: { Foo: 1 } } }] }, /unknown property 'Foo'/],
    ];
    for (const [raw, re] of cases) {
      const r = parseRuleSpec('r', raw);
      assert.ok(!r.ok, JSON.stringify(raw));
      assert.match(r.error, re);
    }
    const map = parseRuleMap({ 'bad id!': { sql: 'SELECT * FROM "t"' } });
    assert.ok(!map.ok);
    assert.match(map.error, /rule id 'bad id!'/);
  });
});
