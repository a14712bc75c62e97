import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PartAssembler, isManifest, splitSnapshot } from '../../../broker/src/cluster/summary-parts.js';

test('a snapshot that fits one key is not split', () => {
  assert.equal(splitSnapshot(randomBytes(1000), 1, 1000), null);
});

test('parts before the manifest, or after it, assemble the same snapshot', () => {
  const snap = randomBytes(10_001);
  const split = splitSnapshot(snap, 7, 1000)!;
  assert.equal(split.parts.length, 11);
  assert.ok(isManifest(split.manifest));
  const a = new PartAssembler();
  split.parts.forEach((p, i) => assert.equal(a.part('n1', 7, i, p), null));
  assert.deepEqual(a.manifest('n1', split.manifest), snap);
  assert.equal(a.bytes(), 0, 'an assembled snapshot keeps no parts');

  const b = new PartAssembler();
  assert.equal(b.manifest('n1', split.manifest), null, 'waits for its parts');
  const order = [...split.parts.keys()].reverse();
  let whole: Buffer | null = null;
  for (const i of order) whole = b.part('n1', 7, i, split.parts[i]!) ?? whole;
  assert.deepEqual(whole, snap);
});

test('the same snapshot written again (a lease re-grant) is not kept twice', () => {
  const split = splitSnapshot(randomBytes(5000), 3, 1000)!;
  const a = new PartAssembler();
  split.parts.forEach((p, i) => a.part('n1', 3, i, p));
  assert.ok(a.manifest('n1', split.manifest));
  split.parts.forEach((p, i) => assert.equal(a.part('n1', 3, i, p), null));
  assert.equal(a.manifest('n1', split.manifest), null);
  assert.equal(a.bytes(), 0);
});

test('a newer snapshot replaces an older one; parts of two tags never mix', () => {
  const one = splitSnapshot(randomBytes(3000), 1, 1000)!;
  const two = splitSnapshot(randomBytes(3000), 2, 1000)!;
  const a = new PartAssembler();
  one.parts.forEach((p, i) => a.part('n', 1, i, p));
  two.parts.slice(0, 2).forEach((p, i) => a.part('n', 2, i, p));
  assert.equal(a.manifest('n', two.manifest), null, 'tag 2 lacks a part; tag 1 parts are not used');
  assert.ok(a.part('n', 2, 2, two.parts[2]!));
  assert.equal(a.bytes(), 0, 'the older tag is dropped too');
});

test('a part that does not belong is refused by the crc, a bad manifest by its size', () => {
  const split = splitSnapshot(randomBytes(3000), 9, 1000)!;
  const a = new PartAssembler();
  a.part('n', 9, 0, split.parts[0]!);
  a.part('n', 9, 1, randomBytes(1000));
  a.part('n', 9, 2, split.parts[2]!);
  assert.throws(() => a.manifest('n', split.manifest), /do not match their manifest/);
  assert.throws(() => a.manifest('n', split.manifest.subarray(0, 10)), /not readable/);
  const bad = Buffer.from(split.manifest);
  bad.writeUInt32LE(0, 7);
  assert.throws(() => a.manifest('n', bad), /names 0 parts/);
});

test('forget drops what a node had', () => {
  const split = splitSnapshot(randomBytes(3000), 4, 1000)!;
  const a = new PartAssembler();
  a.part('n', 4, 0, split.parts[0]!);
  assert.ok(a.bytes() > 0);
  a.forget('n');
  assert.equal(a.bytes(), 0);
  a.part('n', 4, 0, null);
});
