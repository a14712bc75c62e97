/** SQL templates for the pgsql/mysql sinks: placeholders bound, never spliced; batch inserts; types kept. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { batchInsert, parseSqlTemplate, renderRow } from '../../../../broker/src/rules/connectors/sql-template.js';

describe('parseSqlTemplate', () => {
  it('PostgreSQL: ${…} → $n, quoted placeholders too; values keep their types', () => {
    const t = parseSqlTemplate("INSERT INTO t(a, b, c, d) VALUES(${payload.a}, '${clientid}', ${payload.m}, ${nope})", 'pg', 'sql');
    assert.equal(t.text, 'INSERT INTO t(a, b, c, d) VALUES($1, $2, $3, $4)');
    assert.deepEqual(renderRow(t, { payload: '{"a": 1.5, "m": {"x": [1]}}', clientid: "o'brien" }), [1.5, "o'brien", '{"x":[1]}', null]);
  });

  it('MySQL: ${…} → ?, and a quote inside a value cannot break out (it is a parameter)', () => {
    const t = parseSqlTemplate('INSERT INTO t(a) VALUES(${payload})', 'mysql', 'sql');
    assert.equal(t.text, 'INSERT INTO t(a) VALUES(?)');
    assert.deepEqual(renderRow(t, { payload: "x'); DROP TABLE t; --" }), ["x'); DROP TABLE t; --"]);
  });

  it('a batch of the VALUES form is one multi-row INSERT, parameters renumbered for PostgreSQL', () => {
    const t = parseSqlTemplate('INSERT INTO t(a, b) VALUES (${a}, now()) ;', 'pg', 'sql');
    const b = batchInsert(t, [[1], [2], [3]], 'pg');
    assert.equal(b.text, 'INSERT INTO t(a, b) VALUES ($1, now()), ($2, now()), ($3, now())');
    assert.deepEqual(b.values, [1, 2, 3]);
    const m = parseSqlTemplate('INSERT INTO t(a) VALUES(${a})', 'mysql', 'sql');
    assert.equal(batchInsert(m, [[1], [2]], 'mysql').text, 'INSERT INTO t(a) VALUES(?), (?)');
  });

  it('statements that are not a plain VALUES insert are not batched into one', () => {
    assert.equal(parseSqlTemplate('UPDATE t SET a = ${a}', 'pg', 'sql').insert, null);
    assert.equal(parseSqlTemplate('INSERT INTO t(a) VALUES(${a}) ON CONFLICT DO NOTHING', 'pg', 'sql').insert, null);
  });

  it('errors name the key and what is wrong', () => {
    assert.throws(() => parseSqlTemplate('INSERT ${a', 'pg', 'actions.pgsql.x.parameters.sql'), /actions\.pgsql\.x\.parameters\.sql: '\$\{' at 8 has no closing/);
    assert.throws(() => parseSqlTemplate("SELECT 'a ${b} c'", 'pg', 'sql'), /inside a quoted string/);
    assert.throws(() => parseSqlTemplate("SELECT 'abc", 'pg', 'sql'), /unterminated ' quote/);
    assert.throws(() => parseSqlTemplate('  ', 'pg', 'sql'), /a statement is required/);
  });
});
