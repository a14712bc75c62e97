/** `petrel ctl cluster`'s table: columns, '-' for what an unreachable node lacks, uptime units. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUptime, nodesTable } from '../../broker/src/ctl/table.js';

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
