// The FUNCTIONS table as a whole: names, arity checks, the docs listing every function, and the
// promise that nothing but a RuleFunctionError ever leaves a function, whatever it is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FUNCTIONS, RuleFunctionError, BitString } from '../../../broker/src/rules/functions/index.js';
import { fails } from './fn-helpers.js';

const names = Object.keys(FUNCTIONS);

test('the table is frozen, keyed by lower-case EMQX names', () => {
  assert.ok(Object.isFrozen(FUNCTIONS));
  assert.ok(names.length >= 130, `${names.length} functions`);
  for (const n of names) assert.match(n, /^[a-z][a-z0-9_]*$/);
});

test('every function is documented in docs/rules-functions.md, and every documented name exists', () => {
  const doc = readFileSync(new URL('../../../../docs/rules-functions.md', import.meta.url), 'utf8');
  // Function names in the first column of the docs' function tables (up to "## Not supported").
  const tables = doc.slice(0, doc.indexOf('## Not supported'));
  const documented = new Set<string>();
  for (const line of tables.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const first = line.split(' | ')[0]!;
    for (const m of first.matchAll(/`([a-z0-9_]+)\(/g)) documented.add(m[1]!);
  }
  for (const n of names) assert.ok(documented.has(n), `${n} is in the docs table`);
  for (const n of documented) assert.ok(n in FUNCTIONS, `documented ${n} is in FUNCTIONS`);
});

test('a wrong number of arguments is a RuleFunctionError naming the count', () => {
  const e = fails('abs', [1, 2]);
  assert.match(e.message, /^abs: takes 1 argument, got 2$/);
  assert.match(fails('substr', ['a']).message, /takes 2 to 3 arguments, got 1/);
  assert.match(fails('sprintf', []).message, /takes at least 1 arguments, got 0/);
});

/** A small deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const SAMPLES: readonly unknown[] = [
  undefined, null, true, false, 0, 1, -1, 8, 1.5, -0.5, NaN, Infinity, 2n ** 70n, -(2n ** 70n),
  '', 'abc', ' a;b ', '{"a":1}', '[1,2]', '9F4E', '2024-02-23T15:56:30Z', '%Y-%m-%d', '+08:00',
  'second', 'integer', 'leading', '(\\d+)', '[', '~s', '\\x41', 'aGVsbG8=',
  Buffer.from([0x9f, 0x4e, 0x58]), Buffer.alloc(0), [], [1, 'a', [2]], {}, { a: { b: 1 } },
  new BitString(Buffer.from([0xf0]), 4), Symbol('s'), () => 1,
];

test('fuzz: any arguments give a value or a RuleFunctionError, never another exception', () => {
  const r = rng(7);
  let errors = 0;
  let values = 0;
  for (const name of names) {
    for (let i = 0; i < 300; i++) {
      const n = Math.floor(r() * 5);
      const args = Array.from({ length: n }, () => SAMPLES[Math.floor(r() * SAMPLES.length)]);
      try {
        FUNCTIONS[name]!(...args);
        values++;
      } catch (err) {
        if (!(err instanceof RuleFunctionError)) {
          assert.fail(`${name}(${args.map((a) => typeof a).join(', ')}) threw ${String(err)}`);
        }
        assert.equal(err.fn, name);
        errors++;
      }
    }
  }
  assert.ok(values > 1000 && errors > 1000, `${values} values, ${errors} errors`);
});
