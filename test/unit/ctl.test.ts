/** `petrel ctl`'s pure parts: the tables (columns, '-' for what a row lacks, uptime units) and argument parsing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countersTable, fieldsTable, formatUptime, nodesTable, rowsTable } from '../../broker/src/ctl/table.js';
import { parseArgs } from '../../broker/src/ctl/command.js';
import { CtlError } from '../../broker/src/ctl/http.js';

test('nodesTable: a header and one padded line per node; missing values are "-"', () => {
  const out = nodesTable([
    { node: 'petrel@10.0.0.1', role: 'core', region: 'eu-west', node_status: 'running', uptime: 3725, connections: 12, link_state: 'self' },
    { node: 'p2', role: 'replica', region: '', node_status: 'unreachable', uptime: 59, connections: null, link_state: 'down' },
  ]);
  const lines = out.split('\n');
  assert.equal(lines.length, 3);
  assert.deepEqual(lines.map((l) => l.split(/\s+/)), [
    ['NAME', 'ROLE', 'REGION', 'STATUS', 'UPTIME', 'CONNECTIONS', 'LINK'],
    ['petrel@10.0.0.1', 'core', 'eu-west', 'running', '1h02m', '12', 'self'],
    ['p2', 'replica', '-', 'unreachable', '59s', '-', 'down'],
  ]);
  // Columns line up: every field starts at the header's offset.
  for (const col of ['ROLE', 'STATUS', 'LINK']) {
    const at = lines[0].indexOf(col);
    assert.ok(lines.slice(1).every((l) => l[at - 1] === ' ' && l[at] !== ' '), `${col} aligned`);
  }
  assert.equal(nodesTable([]), 'NAME  ROLE  REGION  STATUS  UPTIME  CONNECTIONS  LINK');
});

test('formatUptime: the two largest units', () => {
  assert.deepEqual([0, 42, 312, 3600 * 3 + 7 * 60, 86400 * 2 + 3600 * 4 + 5].map(formatUptime), ['0s', '42s', '5m12s', '3h07m', '2d04h']);
});

test('rowsTable and fieldsTable: "-" for null, empty and [], lists joined with ",", objects as JSON', () => {
  const out = rowsTable([{ head: 'A', get: (r: Record<string, unknown>) => r.a }, { head: 'LONGER', get: (r) => r.b }, { head: 'C', get: (r) => r.c }],
    [{ a: 'x', b: null, c: ['t/1', 't/2'] }, { a: '', b: { k: 1 }, c: [] }]);
  assert.equal(out, ['A  LONGER   C', 'x  -        t/1,t/2', '-  {"k":1}  -'].join('\n'));
  assert.equal(fieldsTable({ node: 'n1', uptime: 3 }), 'FIELD   VALUE\nnode    n1\nuptime  3');
  assert.equal(countersTable({ 'b.x': 2, 'a.y': 1 }), 'NAME  VALUE\na.y   1\nb.x   2');
});

test('parseArgs: words, --name value, --name=value, flags; unknown options and missing values are usage errors (exit 2)', () => {
  const a = parseArgs(['clients', '--node', 'n@h', '--limit=5', '--all', '--json']);
  assert.deepEqual([a.pos, [...a.opts], [...a.flags]], [['clients'], [['node', 'n@h'], ['limit', '5']], ['all', 'json']]);
  assert.deepEqual([...parseArgs(['publish', 't', 'p', '--retain']).flags], ['retain']);
  for (const bad of [['--bogus'], ['--node'], ['--page']]) {
    assert.throws(() => parseArgs(bad), (e: unknown) => e instanceof CtlError && e.exit === 2, bad.join(' '));
  }
});
