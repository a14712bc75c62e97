/**
 * Model check: a seeded random mix of put / del / delPrefix / flush / reopen against the SQLite
 * store, compared after every step with a plain Map (the model) through get and scan. Commits
 * land at random points (timer, flush, close), so this exercises the layers in every state:
 * pending, in flight, committed, and folded together.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, memoryStore, type Store } from '../../../broker/src/store/index.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
const CLIENTS = ['c1', 'c2', 'c10', 'ü', '😀'];
const NS = ['sessmsg', 'retained'];

function check(store: Store, model: Map<string, Map<string, unknown>>, step: number): void {
  for (const ns of NS) {
    const m = model.get(ns) ?? new Map();
    const want = [...m.entries()].sort(([a], [b]) => byBytes(a, b));
    assert.deepEqual([...store.scan(ns)], want, `scan ${ns} at step ${step}`);
    for (const c of CLIENTS) {
      const p = `${c}\u0000`;
      assert.deepEqual([...store.scan(ns, p)], want.filter(([k]) => k.startsWith(p)), `scan ${ns} ${c} at step ${step}`);
    }
    for (const [k, v] of want.slice(0, 5)) assert.deepEqual(store.get(ns, k), v);
  }
}

for (const seed of [1, 2, 3]) {
  test(`random operations agree with a Map (seed ${seed})`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-model-'));
    const rand = rng(seed);
    const model = new Map<string, Map<string, unknown>>();
    const mem = memoryStore();
    let store = await openStore({ dir, mode: 'batched', flushIntervalMs: 1 });
    try {
      for (let step = 0; step < 1500; step++) {
        const r = rand();
        const ns = NS[Math.floor(rand() * NS.length)]!;
        const client = CLIENTS[Math.floor(rand() * CLIENTS.length)]!;
        const key = `${client}\u0000${Math.floor(rand() * 20)}`;
        let m = model.get(ns);
        if (m === undefined) model.set(ns, (m = new Map()));
        if (r < 0.55) {
          const value = { step, payload: Buffer.from([step & 0xff, 1, 2]) };
          store.put(ns, key, value);
          mem.put(ns, key, value);
          m.set(key, value);
        } else if (r < 0.8) {
          store.del(ns, key);
          mem.del(ns, key);
          m.delete(key);
        } else if (r < 0.87) {
          const prefix = `${client}\u0000`;
          store.delPrefix(ns, prefix);
          mem.delPrefix(ns, prefix);
          for (const k of m.keys()) if (k.startsWith(prefix)) m.delete(k);
        } else if (r < 0.95) {
          await new Promise((res) => setTimeout(res, rand() * 3)); // let the timer commit, maybe mid-flight
        } else if (r < 0.99) {
          await store.flush();
        } else {
          await store.close();
          store = await openStore({ dir, mode: 'batched', flushIntervalMs: 1 });
        }
        if (step % 10 === 0) {
          check(store, model, step);
          check(mem, model, step);
        }
      }
      await store.close();
      store = await openStore({ dir });
      check(store, model, -1);
    } finally {
      await store.close().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
