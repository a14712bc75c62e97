/**
 * The store contract, run against both implementations (SQLite on disk and memory), plus what
 * only the disk store has: reopen, directory lock, damaged files, a full disk.
 */
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, memoryStore, compareKeys, DB_FILE, LOCK_FILE, StoreError, type Store } from '../../../broker/src/store/index.js';
import { spawnStoreChild, waitForLine } from '../../support/store-child.js';

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-store-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const SAMPLE = {
  topic: 'a/b',
  payload: Buffer.from([0, 1, 2, 255]),
  empty: Buffer.alloc(0),
  qos: 1,
  n: -1.5,
  big: 2 ** 40,
  s: 'héllo 😀',
  flags: [true, false, null],
  nested: { props: { correlationData: Buffer.from('cd'), userProperties: { k: ['v1', 'v2'] } } },
};

function assertSample(v: unknown): void {
  assert.deepEqual(v, SAMPLE);
  const o = v as typeof SAMPLE;
  assert.ok(Buffer.isBuffer(o.payload), 'payload comes back as a Buffer');
  assert.ok(Buffer.isBuffer(o.nested.props.correlationData));
}

// Keys whose UTF-16 order differs from their UTF-8 byte order, plus NUL separators.
const KEYS = ['b', 'a', 'a\u0000z', 'a\u0000', '\uffff', '😀', '\ue000', 'ab', '', 'Z'];
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

const impls: Array<[string, () => Promise<Store>]> = [
  ['memory', async () => memoryStore()],
  ['sqlite', async () => openStore({ dir: tmpDir(), mode: 'batched', flushIntervalMs: 10_000 })],
];

for (const [name, make] of impls) {
  describe(`store contract (${name})`, () => {
    test('values round-trip, Buffers as Buffers, before and after commit', async () => {
      const s = await make();
      s.put('retained', 'a/b', SAMPLE);
      assertSample(s.get('retained', 'a/b'));
      await s.flush();
      assertSample(s.get('retained', 'a/b'));
      s.put('retained', 'n', null);
      s.put('retained', 'u', undefined);
      assert.equal(s.get('retained', 'n'), null);
      assert.equal(s.get('retained', 'u'), null, 'undefined is stored as null');
      assert.equal(s.get('retained', 'missing'), undefined);
      assert.equal(s.get('session', 'a/b'), undefined, 'namespaces are separate');
      await s.close();
    });

    test('scan returns keys in UTF-8 byte order, committed and pending merged', async () => {
      const s = await make();
      KEYS.forEach((k, i) => { if (i % 2 === 0) s.put('ns', k, i); });
      await s.flush();
      KEYS.forEach((k, i) => { if (i % 2 === 1) s.put('ns', k, i); });
      s.put('other', 'a', 'x');
      const got = [...s.scan('ns')];
      assert.deepEqual(got.map(([k]) => k), [...KEYS].sort(byBytes));
      for (const [k, v] of got) assert.equal(v, KEYS.indexOf(k));
      assert.deepEqual([...s.scan('ns', 'a')].map(([k]) => k), ['a', 'a\u0000', 'a\u0000z', 'ab']);
      assert.deepEqual([...s.scan('ns', 'a\u0000')].map(([k]) => k), ['a\u0000', 'a\u0000z']);
      assert.deepEqual([...s.scan('ns', 'nothing')], []);
      await s.close();
    });

    test('del and delPrefix, in order with puts, pending and committed', async () => {
      const s = await make();
      for (const c of ['c1', 'c2', 'c10']) for (let i = 0; i < 3; i++) s.put('sessmsg', `${c}\u0000${i}`, { c, i });
      await s.flush();
      s.put('sessmsg', 'c1\u0000pending', 1);
      s.delPrefix('sessmsg', 'c1\u0000');
      s.put('sessmsg', 'c1\u0000after', 2); // written after the prefix delete: survives
      s.del('sessmsg', 'c2\u00001');
      assert.equal(s.get('sessmsg', 'c1\u00000'), undefined);
      assert.equal(s.get('sessmsg', 'c1\u0000pending'), undefined);
      assert.equal(s.get('sessmsg', 'c1\u0000after'), 2);
      const expected = ['c1\u0000after', 'c10\u00000', 'c10\u00001', 'c10\u00002', 'c2\u00000', 'c2\u00002'];
      assert.deepEqual([...s.scan('sessmsg')].map(([k]) => k), expected);
      await s.flush();
      assert.deepEqual([...s.scan('sessmsg')].map(([k]) => k), expected, 'same after commit');
      s.put('sessmsg', 'c2\u00001', 'again');
      assert.equal(s.get('sessmsg', 'c2\u00001'), 'again');
      s.delPrefix('sessmsg', '');
      assert.deepEqual([...s.scan('sessmsg')], []);
      await s.flush();
      assert.deepEqual([...s.scan('sessmsg')], []);
      await s.close();
    });

    test('scan pages through many committed keys interleaved with pending ones', async () => {
      const s = await make();
      for (let i = 0; i < 2000; i += 2) s.put('q', String(i).padStart(5, '0'), i);
      await s.flush();
      for (let i = 1; i < 2000; i += 2) s.put('q', String(i).padStart(5, '0'), i);
      for (let i = 0; i < 2000; i += 7) s.del('q', String(i).padStart(5, '0'));
      const got = [...s.scan('q')].map(([, v]) => v as number);
      const want = Array.from({ length: 2000 }, (_, i) => i).filter((i) => i % 7 !== 0);
      assert.deepEqual(got, want);
      await s.close();
    });

    test('stats count writes; closed store refuses use', async () => {
      const s = await make();
      s.put('a', 'k', 1);
      s.del('a', 'k');
      s.delPrefix('a', 'x');
      assert.equal(s.stats.puts, 1);
      assert.equal(s.stats.dels, 2);
      await s.flush();
      assert.equal(s.stats.pendingOps, 0);
      assert.ok(s.stats.commits >= 1);
      await s.close();
      assert.throws(() => s.put('a', 'k', 1), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CLOSED');
      assert.throws(() => s.put('bad\u0000ns' as string, 'k', 1));
    });
  });
}

test('compareKeys agrees with UTF-8 byte order', () => {
  const sample = [...KEYS, '\ud7ff', '\u0800', '\u07ff', '\u007f', 'zz', '😀a', '\u{10ffff}'];
  for (const a of sample) for (const b of sample) assert.equal(Math.sign(compareKeys(a, b)), Math.sign(byBytes(a, b)), `${a} vs ${b}`);
});

describe('sqlite store on disk', () => {
  test('writes stay pending until the interval, then commit; reopen has the data', async () => {
    const dir = tmpDir();
    const s = await openStore({ dir, mode: 'batched', flushIntervalMs: 30 });
    for (let i = 0; i < 100; i++) s.put('session', `c${i}`, { i, sub: ['a/#'] });
    assert.equal(s.stats.pendingOps, 100, 'nothing committed synchronously');
    assert.equal(s.stats.commits, 0);
    const t0 = Date.now();
    while (s.stats.pendingOps > 0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 5));
    assert.equal(s.stats.pendingOps, 0, 'the timer committed the batch');
    assert.equal(s.stats.commits, 1, 'one transaction for the whole batch');
    s.put('retained', 't', SAMPLE);
    await s.close();
    const r = await openStore({ dir, mode: 'batched', flushIntervalMs: 10 });
    assert.equal([...r.scan('session')].length, 100);
    assert.deepEqual(r.get('session', 'c42'), { i: 42, sub: ['a/#'] });
    assertSample(r.get('retained', 't'));
    await r.close();
  });

  test('close() while a commit is in flight still writes everything', async () => {
    const dir = tmpDir();
    const s = await openStore({ dir, mode: 'batched', flushIntervalMs: 0 });
    for (let i = 0; i < 3000; i++) s.put('sessmsg', `a${i}`, { i, payload: Buffer.alloc(200, 3) });
    await new Promise((r) => setTimeout(r, 2)); // the first batch is now with the writer
    for (let i = 0; i < 3000; i++) s.put('sessmsg', `b${i}`, i);
    s.delPrefix('sessmsg', 'a1');
    await s.close();
    const r = await openStore({ dir });
    const keys = [...r.scan('sessmsg')].map(([k]) => k);
    assert.equal(keys.length, 6000 - 1111);
    assert.equal(r.get('sessmsg', 'b2999'), 2999);
    assert.equal(r.get('sessmsg', 'a1000'), undefined);
    await r.close();
  });

  test('a scan that spans a commit neither repeats nor misses keys', async () => {
    const s = await openStore({ dir: tmpDir(), mode: 'batched', flushIntervalMs: 10_000 });
    for (let i = 0; i < 1500; i += 2) s.put('q', String(i).padStart(5, '0'), i);
    await s.flush();
    for (let i = 1; i < 1500; i += 2) s.put('q', String(i).padStart(5, '0'), i); // pending when the scan starts
    const got: number[] = [];
    let flushed = false;
    for (const [, v] of s.scan('q')) {
      got.push(v as number);
      if (got.length === 100 && !flushed) {
        flushed = true;
        s.put('q', '99999', 'late'); // a key written after the scan started may or may not show
        await s.flush(); // the pending half moves to disk under the running scan
      }
    }
    assert.deepEqual(got.filter((v) => v !== 'late' as unknown), Array.from({ length: 1500 }, (_, i) => i));
    await s.close();
  });

  test('sync mode: concurrent flushes share commits (group commit)', async () => {
    const s = await openStore({ dir: tmpDir(), mode: 'sync', flushIntervalMs: 10 });
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      s.put('sessmsg', `c\u0000${i}`, i);
      waits.push(s.flush());
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(waits);
    assert.equal(s.stats.pendingOps, 0);
    assert.ok(s.stats.commits < 50, `expected group commits, got ${s.stats.commits}`);
    await s.close();
  });

  test('mode none works the same through the API', async () => {
    const dir = tmpDir();
    const s = await openStore({ dir, mode: 'none', flushIntervalMs: 10 });
    s.put('meta', 'v', 1);
    await s.close();
    const r = await openStore({ dir, mode: 'none' });
    assert.equal(r.get('meta', 'v'), 1);
    await r.close();
  });

  test('a second open of the same dir in this process is refused', async () => {
    const dir = tmpDir();
    const s = await openStore({ dir });
    await assert.rejects(openStore({ dir }), (e: unknown) => e instanceof StoreError && e.code === 'STORE_LOCKED' && e.message.includes(dir));
    await s.close();
    const again = await openStore({ dir });
    await again.close();
  });

  test('another process is refused while this one holds the dir', async () => {
    const dir = tmpDir();
    const s = await openStore({ dir });
    const child = spawnStoreChild(import.meta.url, [dir, 'open']);
    const line = await waitForLine(child, /^(opened|error)/, 15_000);
    assert.match(line, /^error STORE_LOCKED .*locked by running process \d+/);
    assert.ok(line.includes(dir), 'message names the directory');
    await s.close();
  });

  test('a stale lock file (dead pid) is taken over', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, LOCK_FILE), '999999999\n');
    const s = await openStore({ dir });
    assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid));
    await s.close();
    // A live pid that is not a node process (where /proc can tell) is a recycled pid, not a holder.
    if (fs.existsSync('/proc/1/cmdline') && !/node|petrel/i.test(fs.readFileSync('/proc/1/cmdline', 'utf8'))) {
      fs.writeFileSync(path.join(dir, LOCK_FILE), '1\n');
      const t = await openStore({ dir });
      await t.close();
    }
    fs.writeFileSync(path.join(dir, LOCK_FILE), '999999999\n');
    const s2 = await openStore({ dir });
    await s2.close();
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false, 'lock released on close');
  });

  test('garbage in the data file gives STORE_CORRUPT, not a crash', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, DB_FILE), Buffer.alloc(64 * 1024, 0x5a));
    await assert.rejects(openStore({ dir }), (e: unknown) =>
      e instanceof StoreError && e.code === 'STORE_CORRUPT' && e.message.includes(path.join(dir, DB_FILE)));
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false, 'lock released after a failed open');
  });

  test('a damaged page inside a valid store gives STORE_CORRUPT', async () => {
    const dir = tmpDir();
    const s = await openStore({ dir });
    for (let i = 0; i < 3000; i++) s.put('sessmsg', `k${i}`, { payload: Buffer.alloc(200, i & 0xff) });
    await s.close();
    const file = path.join(dir, DB_FILE);
    const bytes = fs.readFileSync(file);
    assert.ok(bytes.length > 64 * 1024, 'store is large enough to damage its middle');
    bytes.fill(0x5a, 16 * 1024, 48 * 1024);
    fs.writeFileSync(file, bytes);
    await assert.rejects(openStore({ dir }), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CORRUPT');
  });

  test('close() on a store that cannot write gives up with STORE_WRITE_FAILED and releases the dir', async () => {
    const dir = tmpDir();
    const errors: Error[] = [];
    const s = await openStore({ dir, mode: 'batched', flushIntervalMs: 5, maxBytes: 128 * 1024, onError: (e) => errors.push(e) });
    for (let i = 0; i < 1000; i++) s.put('sessmsg', `k${i}`, { payload: Buffer.alloc(500, 1) });
    await assert.rejects(s.close(), (e: unknown) => e instanceof StoreError && e.code === 'STORE_WRITE_FAILED' && /uncommitted/.test(e.message));
    assert.ok(errors.length >= 1);
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);
    const r = await openStore({ dir });
    assert.equal([...r.scan('sessmsg')].length, 0, 'nothing half-written');
    await r.close();
  });

  test('a data dir that is a file gives STORE_OPEN_FAILED naming it', async () => {
    const file = path.join(tmpDir(), 'not-a-dir');
    fs.writeFileSync(file, 'x');
    await assert.rejects(openStore({ dir: file }), (e: unknown) =>
      e instanceof StoreError && e.code === 'STORE_OPEN_FAILED' && e.message.includes(file));
  });

  test('a full disk fails the commit, reports it, keeps serving and keeps the writes', async () => {
    const errors: Error[] = [];
    const dir = tmpDir();
    const s = await openStore({ dir, mode: 'batched', flushIntervalMs: 5, maxBytes: 256 * 1024, onError: (e) => errors.push(e) });
    s.put('meta', 'small', 1);
    await s.flush();
    for (let i = 0; i < 2000; i++) s.put('sessmsg', `k${i}`, { payload: Buffer.alloc(500, 1) });
    await assert.rejects(s.flush(), (e: unknown) => e instanceof StoreError && e.code === 'STORE_DISK_FULL' && e.message.includes(dir));
    assert.ok(errors.length >= 1 && (errors[0] as StoreError).code === 'STORE_DISK_FULL');
    assert.ok(s.stats.commitErrors >= 1);
    // Still serving: reads see the uncommitted writes, small writes are accepted.
    assert.deepEqual(s.get('sessmsg', 'k1999'), { payload: Buffer.alloc(500, 1) });
    s.put('meta', 'after', 2);
    assert.equal(s.get('meta', 'after'), 2);
    // A flush that is waiting when the retry fails again is rejected too (not left hanging).
    await assert.rejects(s.flush(), (e: unknown) => e instanceof StoreError && e.code === 'STORE_DISK_FULL');
    // Free space by deleting the backlog: the retried commit succeeds.
    s.delPrefix('sessmsg', 'k');
    const t0 = Date.now();
    while (s.stats.pendingOps > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.stats.pendingOps, 0, 'retry committed once the batch fits');
    await s.flush();
    await s.close();
    const r = await openStore({ dir });
    assert.equal(r.get('meta', 'after'), 2);
    assert.equal([...r.scan('sessmsg')].length, 0);
    await r.close();
  });
});
