/**
 * The embedded durable store: retained messages, persistent sessions and their queued/inflight
 * messages, QoS 2 receive state, delayed messages and the built-in tables live here, under the
 * node's data directory, and survive kill -9. See docs/store.md for modes and what each can lose.
 *
 *   const store = await openStore({ dir: 'data/store', mode: 'batched', flushIntervalMs: 10 });
 *   store.put('sessmsg', `${clientId}\u0000${msgId}`, record);   // returns at once
 *   await store.flush();                                        // only where an ack must wait
 */
import fs from 'node:fs';
import path from 'node:path';
import { DirLock } from './lock-file.js';
import { LayeredStore } from './layered-store.js';
import { SqliteBackend } from './sqlite-backend.js';
import { StoreError } from './store-error.js';
import type { DurabilityMode, Store, StoreOptions } from './types.js';

export type { DurabilityMode, Namespace, Store, StoreOptions, StoreStats } from './types.js';
export { StoreError, type StoreErrorCode } from './store-error.js';
export { memoryStore } from './memory-store.js';
export { compareKeys } from './key-order.js';
export { DB_FILE } from './sqlite-backend.js';
export { LOCK_FILE } from './lock-file.js';

export const STORE_DEFAULTS = Object.freeze({ mode: 'batched' as DurabilityMode, flushIntervalMs: 10, verifyOnOpen: true, maxBytes: 0 });

const MODES: readonly DurabilityMode[] = ['batched', 'sync', 'none'];

/** Open (creating if needed) the store in `opts.dir`. Rejects with a StoreError naming the path. */
export async function openStore(opts: Partial<StoreOptions> & Pick<StoreOptions, 'dir'>): Promise<Store> {
  const mode = opts.mode ?? STORE_DEFAULTS.mode;
  const flushIntervalMs = opts.flushIntervalMs ?? STORE_DEFAULTS.flushIntervalMs;
  if (!MODES.includes(mode)) throw new TypeError(`store mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 0) {
    throw new TypeError(`store flushIntervalMs must be a number ≥ 0, got ${String(flushIntervalMs)}`);
  }
  const dir = path.resolve(opts.dir);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new StoreError('STORE_OPEN_FAILED', dir, `cannot create store directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const lock = DirLock.acquire(dir);
  let backend: SqliteBackend;
  try {
    backend = await SqliteBackend.open({
      dir,
      mode,
      maxBytes: opts.maxBytes ?? STORE_DEFAULTS.maxBytes,
      verifyOnOpen: opts.verifyOnOpen ?? STORE_DEFAULTS.verifyOnOpen,
    });
  } catch (err) {
    lock.release();
    throw err;
  }
  return new LayeredStore(backend, {
    mode,
    flushIntervalMs,
    onError: opts.onError,
    where: dir,
    onClosed: () => lock.release(),
  });
}
