/**
 * The rule SQL compiled against EMQX's real function table (the two were built apart): function
 * calls resolve, results flow through SELECT/WHERE/FOREACH, and a function given the wrong types
 * is a counted rule failure naming the function — never an exception out of run().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { compileRule, RuleSqlError } from '../../../broker/src/rules/sql/index.js';
import { FUNCTIONS } from '../../../broker/src/rules/functions/index.js';

test('functions from the real table inside SELECT, WHERE and FOREACH', () => {
  const rule = compileRule(
    `SELECT upper(payload.name) AS name, round(payload.t * 10) / 10 AS t, md5(clientid) AS h
     FROM "sensors/#" WHERE strlen(payload.name) > 2 and is_num(payload.t)`, FUNCTIONS);
  const r = rule.run({ clientid: 'dev1', topic: 'sensors/1', payload: JSON.stringify({ name: 'boiler', t: 21.456 }) });
  assert.equal(r.status, 'passed', JSON.stringify(r));
  if (r.status !== 'passed') return;
  assert.deepEqual(r.outputs[0], { name: 'BOILER', t: 21.5, h: createHash('md5').update('dev1').digest('hex') });
  assert.equal(rule.run({ clientid: 'd', topic: 'sensors/1', payload: '{"name":"ab","t":1}' }).status, 'no_result');

  const each = compileRule(`FOREACH payload.readings AS r DO r.v * 2 AS double INCASE is_int(r.v) FROM "t"`, FUNCTIONS);
  const e = each.run({ topic: 't', payload: '{"readings":[{"v":1},{"v":"x"},{"v":3}]}' });
  assert.equal(e.status, 'passed');
  if (e.status === 'passed') assert.deepEqual(e.outputs, [{ double: 2 }, { double: 6 }]);
});

test('a function given the wrong types fails the evaluation, naming the function; an unknown one is a compile error', () => {
  const rule = compileRule('SELECT sqrt(payload.x) AS s FROM "t"', FUNCTIONS);
  const r = rule.run({ topic: 't', payload: '{"x":"not a number"}' });
  assert.equal(r.status, 'failed');
  if (r.status === 'failed') assert.match(String((r as { error: unknown }).error), /sqrt/);
  assert.throws(() => compileRule('SELECT no_such_fn(1) FROM "t"', FUNCTIONS), (e: unknown) => e instanceof RuleSqlError && /no_such_fn/.test(e.message) && /1:8/.test(e.message));
});
