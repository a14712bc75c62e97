/** Diffing desired against live objects: subset semantics, reasons, the applied-hash annotation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATION_APPLIED_HASH, applyReason, canonicalJson, firstDifference, withAppliedHash } from '../../../../operator/src/controller/object-diff.js';

test('fields the server adds do not count as differences', () => {
  const desired = { spec: { replicas: 3, template: { spec: { containers: [{ name: 'a', image: 'x' }] } } } };
  const live = { spec: { replicas: 3, revisionHistoryLimit: 10, template: { spec: { containers: [{ name: 'a', image: 'x', imagePullPolicy: 'IfNotPresent' }] } } }, status: {} };
  assert.equal(firstDifference(desired, live), undefined);
});

test('a changed field is reported with its path and both values', () => {
  assert.equal(firstDifference({ spec: { replicas: 5 } }, { spec: { replicas: 3 } }), 'spec.replicas: 3 → 5');
  assert.equal(firstDifference({ a: [1, 2] }, { a: [1] }), 'a: 1 items → 2 items');
  assert.equal(firstDifference({ a: [{ n: 'x', v: 1 }] }, { a: [{ n: 'x', v: 2 }] }), 'a[0].v: 2 → 1');
  assert.equal(firstDifference({ q: '1' }, { q: 1 }), undefined, 'int-or-string normalisation');
});

test('canonical JSON ignores key order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: 2, c: 3 } }), canonicalJson({ a: { c: 3, d: 2 }, b: 1 }));
});

test('the applied hash catches fields we stopped setting, which a subset check cannot see', () => {
  const o1: { metadata: { name: string; labels: Record<string, string>; annotations?: Record<string, string> } } = { metadata: { name: 'x', labels: { a: '1', b: '2' } } };
  const o2: typeof o1 = { metadata: { name: 'x', labels: { a: '1' } } };
  const v1 = withAppliedHash(o1);
  const v2 = withAppliedHash(o2);
  assert.notEqual(v1.metadata.annotations![ANNOTATION_APPLIED_HASH], v2.metadata.annotations![ANNOTATION_APPLIED_HASH]);
  assert.equal(applyReason(v1, v1), undefined);
  assert.equal(applyReason(v2, v1), 'desired state changed');
  assert.equal(applyReason(v1, undefined), 'created');
  const drifted = structuredClone(v1);
  drifted.metadata.labels.a = 'changed by someone';
  assert.match(applyReason(v1, drifted)!, /^metadata\.labels\.a: "changed by someone" → "1"$/);
  assert.deepEqual(withAppliedHash(v1), v1, 'hashing is idempotent');
});
