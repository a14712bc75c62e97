/** docs/api.md and the code agree: the error table is the catalog, and every route is listed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { API_ERRORS } from '../../../broker/src/api/errors.js';
import { ROUTES } from '../../../broker/src/api/routes/index.js';

// dist/test/unit/api/ → repository root
const doc = readFileSync(new URL('../../../../docs/api.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `docs/api.md has a "## ${title}" section`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

test("docs/api.md's error table is the catalog in errors.ts (code, status, message)", () => {
  const rows = new Map<string, { status: number; message: string }>();
  for (const line of section('Errors').split('\n')) {
    const m = /^\| `([A-Z_]+)` \| (\d{3}) \| ([^|]+) \|/.exec(line);
    if (m) rows.set(m[1], { status: Number(m[2]), message: m[3].trim() });
  }
  assert.deepEqual([...rows.keys()].sort(), Object.keys(API_ERRORS).sort(), 'same codes');
  for (const [code, e] of Object.entries(API_ERRORS)) assert.deepEqual(rows.get(code), { status: e.status, message: e.message }, code);
});

test('docs/api.md lists every route with its access', () => {
  const table = section('Endpoints');
  const access = { open: 'open', key: 'key', 'key-or-loopback': 'key or loopback' };
  for (const r of ROUTES) {
    const row = table.split('\n').find((l) => l.startsWith(`| \`${r.method} ${r.path}\` |`));
    assert.ok(row, `${r.method} ${r.path} is in the Endpoints table`);
    assert.equal(row.split('|')[2].trim(), access[r.access ?? 'key'], `${r.method} ${r.path} access`);
  }
  const listed = table.split('\n').filter((l) => /^\| `[A-Z]+ \//.test(l)).length;
  assert.equal(listed, ROUTES.length, 'no endpoint documented that does not exist');
});
