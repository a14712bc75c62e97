/**
 * The action buffer (disk-queue.ts): FIFO across memory and segment files, the byte bound
 * dropping exactly the oldest, and the queue found again in order after close + open.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskQueue } from '../../../../broker/src/rules/connectors/disk-queue.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
const tmp = (): string => { const d = mkdtempSync(join(tmpdir(), 'petrel-dq-')); dirs.push(d); return join(d, 'q'); };
const item = (i: number): Buffer => Buffer.from(`item-${String(i).padStart(5, '0')}`); // 10 bytes
const text = (bs: Buffer[]): string[] => bs.map((b) => b.toString());

describe('DiskQueue', () => {
  it('keeps FIFO order when items spill from memory to segment files and back', () => {
    const dir = tmp();
    const q = new DiskQueue(dir, 1 << 20, 50, () => assert.fail('nothing should drop'));
    q.open();
    for (let i = 0; i < 100; i++) q.push(item(i));
    assert.equal(q.length, 100);
    assert.ok(q.onDisk >= 90, `spilled ${q.onDisk}`);
    const got = [...q.shift(30)];
    for (let i = 100; i < 120; i++) q.push(item(i));
    while (q.length > 0) got.push(...q.shift(7));
    assert.deepEqual(text(got), Array.from({ length: 120 }, (_, i) => item(i).toString()));
    q.close();
  });

  it('past max bytes drops exactly the oldest items, each reported once', () => {
    const dropped: string[] = [];
    const q = new DiskQueue(tmp(), 200, 50, (b) => dropped.push(b.toString()));
    q.open();
    for (let i = 0; i < 50; i++) q.push(item(i));
    assert.equal(q.bytes, 200);
    assert.equal(dropped.length, 30);
    assert.deepEqual(dropped, Array.from({ length: 30 }, (_, i) => item(i).toString()));
    assert.deepEqual(text(q.shift(100)), Array.from({ length: 20 }, (_, i) => item(30 + i).toString()));
  });

  it('a memory-only queue (no directory) bounds and orders the same way', () => {
    let n = 0;
    const q = new DiskQueue(null, 100, 100, () => { n++; });
    for (let i = 0; i < 25; i++) q.push(item(i));
    assert.equal(n, 15);
    assert.equal(q.shift(1)[0]!.toString(), item(15).toString());
  });

  it('close() writes memory and the handed-back in-flight items ahead of the segments; open() finds all in order', () => {
    const dir = tmp();
    const q = new DiskQueue(dir, 1 << 20, 40, () => {});
    q.open();
    for (let i = 0; i < 20; i++) q.push(item(i));
    const inflight = q.shift(3); // 0,1,2 under way when the node stops
    q.close(inflight);
    const q2 = new DiskQueue(dir, 1 << 20, 40, () => {});
    assert.equal(q2.open(), 20);
    assert.deepEqual(text(q2.shift(100)), Array.from({ length: 20 }, (_, i) => item(i).toString()));
    q2.close();
    assert.deepEqual(readdirSync(dir), []);
  });

  it('a torn frame at the end of a segment (crash mid-write) is ignored; the frames before it are kept', () => {
    const dir = tmp();
    const q = new DiskQueue(dir, 1 << 20, 0, () => {});
    q.open();
    for (let i = 0; i < 3; i++) q.push(item(i));
    q.close();
    const [seg] = readdirSync(dir);
    appendFileSync(join(dir, seg!), Buffer.from([0, 0, 0, 50, 1, 2, 3]));
    writeFileSync(join(dir, '999.seg'), Buffer.alloc(0));
    const q2 = new DiskQueue(dir, 1 << 20, 0, () => {});
    assert.equal(q2.open(), 3);
    assert.deepEqual(text(q2.shift(10)), ['item-00000', 'item-00001', 'item-00002']);
  });

  it('open() with more on disk than max bytes drops the oldest', () => {
    const dir = tmp();
    const q = new DiskQueue(dir, 1 << 20, 0, () => {});
    q.open();
    for (let i = 0; i < 10; i++) q.push(item(i));
    q.close();
    const dropped: string[] = [];
    const q2 = new DiskQueue(dir, 50, 0, (b) => dropped.push(b.toString()));
    assert.equal(q2.open(), 5);
    assert.equal(dropped.length, 5);
    assert.equal(q2.shift(1)[0]!.toString(), 'item-00005');
  });
});
