/** The schema language: one definition → types, OpenAPI, defaulting and checking that agree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults, checkStructure, s, toOpenAPI, type Input, type Output } from '../../../operator/src/api/schema.js';

const inner = s.object({
  description: 'Inner.',
  fields: {
    n: s.withDefault(s.int({ description: 'N.', minimum: 1 }), 5),
    tag: s.optional(s.string({ description: 'Tag.', enum: ['a', 'b'] as const })),
  },
});
const root = s.object({
  description: 'Root.',
  rules: [{ cel: 'self.inner.n != 3', message: 'n must not be 3', check: (v) => v.inner.n !== 3 }],
  fields: {
    name: s.required(s.string({ description: 'Name.', pattern: '^[a-z]+$', maxLength: 5 })),
    inner: s.withDefault(inner, {}),
    items: s.withDefault(s.array(inner, { description: 'Items.', listType: 'map', listMapKeys: ['tag'], maxItems: 3 }), []),
    labels: s.optional(s.map(s.string({ description: 'V.' }), { description: 'Labels.' })),
    size: s.optional(s.quantity({ description: 'Size.' })),
    extra: s.optional(s.any<{ x?: number }>({ description: 'Free form.', jsonType: 'object' })),
  },
});

// Compile-time: the input type has optional defaulted fields, the output type has them required.
type In = Input<typeof root>;
type Out = Output<typeof root>;
const minimal: In = { name: 'a' };
// @ts-expect-error name is required
const missing: In = {};
// @ts-expect-error tag is an enum
const badTag: In = { name: 'a', inner: { tag: 'c' } };
const readN = (o: Out): number => o.inner.n;
void [minimal, missing, badTag, readN];

test('defaults fill absent fields, recurse into what they filled and into list items, without mutating', () => {
  const input = { name: 'a', items: [{ tag: 'a' }, { tag: 'b', n: 2 }] };
  const before = structuredClone(input);
  const out = applyDefaults(root.node, input) as Out;
  assert.deepEqual(input, before);
  assert.deepEqual(out, { name: 'a', items: [{ tag: 'a', n: 5 }, { tag: 'b', n: 2 }], inner: { n: 5 } });
  assert.deepEqual(applyDefaults(root.node, out), out, 'idempotent');
});

test('checkStructure reports types, bounds, enums, patterns, unknown fields, list-map keys and rules with paths', () => {
  const check = (v: unknown) => checkStructure(root.node, applyDefaults(root.node, v), '');
  assert.deepEqual(check({ name: 'abc', size: '10Gi', labels: { a: 'b' }, extra: { anything: [1] } }), []);
  assert.deepEqual(check({ name: 'ABC' }), ['name: "ABC" does not match ^[a-z]+$']);
  assert.deepEqual(check({ name: 'abcdef' }), ['name: must be at most 5 characters']);
  assert.deepEqual(check({}), ['name: required']);
  assert.deepEqual(check({ name: 'a', inner: { n: 0 } }), ['inner.n: must be >= 1 (got 0)']);
  assert.deepEqual(check({ name: 'a', inner: { n: 1.5 } }), ['inner.n: must be an integer']);
  assert.deepEqual(check({ name: 'a', inner: { tag: 'z' } }), ['inner.tag: must be one of a, b (got "z")']);
  assert.deepEqual(check({ name: 'a', bogus: 1 }), ['bogus: unknown field "bogus"']);
  assert.deepEqual(check({ name: 'a', labels: { k: 1 } }), ['labels["k"]: must be a string']);
  assert.deepEqual(check({ name: 'a', size: '10 GB' }), ['size: must be a quantity such as 10Gi or 500m']);
  assert.deepEqual(check({ name: 'a', extra: [] }), ['extra: must be an object']);
  assert.deepEqual(check({ name: 'a', items: [{ tag: 'a' }, { tag: 'a' }] }), ['items: duplicate entry with tag "a"']);
  assert.deepEqual(check({ name: 'a', items: [{}, {}, {}, {}] }).includes('items: must have at most 3 items'), true);
  assert.deepEqual(check({ name: 'a', inner: { n: 3 } }), ['<root>: n must not be 3']);
  assert.deepEqual(check({ name: 1, inner: { n: 3 } }), ['name: must be a string'], 'rules do not run on malformed input');
});

test('toOpenAPI: structural schema with defaults, descriptions, list-map and CEL rules', () => {
  const o = toOpenAPI(root.node) as any;
  assert.equal(o.type, 'object');
  assert.deepEqual(o.required, ['name']);
  assert.deepEqual(o['x-kubernetes-validations'], [{ rule: 'self.inner.n != 3', message: 'n must not be 3' }]);
  assert.deepEqual(o.properties.inner.default, {});
  assert.equal(o.properties.inner.properties.n.default, 5);
  assert.deepEqual(o.properties.inner.properties.tag.enum, ['a', 'b']);
  assert.equal(o.properties.items['x-kubernetes-list-type'], 'map');
  assert.deepEqual(o.properties.items['x-kubernetes-list-map-keys'], ['tag']);
  assert.equal(o.properties.items.maxItems, 3);
  assert.deepEqual(o.properties.labels.additionalProperties, { type: 'string', description: 'V.' });
  assert.equal(o.properties.size['x-kubernetes-int-or-string'], true);
  assert.deepEqual(o.properties.size.anyOf, [{ type: 'integer' }, { type: 'string' }]);
  assert.equal(o.properties.extra['x-kubernetes-preserve-unknown-fields'], true);
  assert.equal(o.properties.extra.type, 'object');
});
