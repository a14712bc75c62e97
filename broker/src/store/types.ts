/**
 * The store's public contract: a small namespaced key/value map that the broker writes to on
 * its hot path and reads from at start-up. Writes are applied to memory at once and made
 * durable in batches behind the caller's back; `flush()` is the only way to wait for the disk.
 */

/** A namespace groups keys of one kind; the broker's own are listed, anything else is allowed. */
export type Namespace = 'retained' | 'session' | 'sessmsg' | 'qos2in' | 'delayed' | 'meta' | (string & {});

/**
 * - `batched` (default): commit at most every `flushIntervalMs`, fsync each commit.
 * - `sync`: the same, but a pending `flush()` starts a commit at once (group commit).
 * - `none`: commit the same way but never fsync.
 */
export type DurabilityMode = 'batched' | 'sync' | 'none';

export interface StoreOptions {
  /** Data directory; created when missing. */
  dir: string;
  mode: DurabilityMode;
  /** Batched mode commits at most this often (ms). Default 10. */
  flushIntervalMs: number;
  /** Called when a background commit fails (disk full, I/O error). The store keeps the writes and retries. */
  onError?: (err: Error) => void;
  /** Upper bound of the database file in bytes (SQLite max_page_count); writes beyond it fail with STORE_DISK_FULL. 0 = none. */
  maxBytes?: number;
  /** Run SQLite's quick_check when opening (default true): a damaged file is refused up front. */
  verifyOnOpen?: boolean;
}

export interface StoreStats {
  /** put() calls since open. */
  puts: number;
  /** del() and delPrefix() calls since open. */
  dels: number;
  /** Successful commits since open. */
  commits: number;
  /** Writes accepted but not yet committed (including a commit in flight). */
  pendingOps: number;
  /** Failed commits since open. */
  commitErrors: number;
}

export interface Store {
  /**
   * Store `value` (plain objects, arrays, strings, numbers, booleans, null, Buffers) under `key`.
   * Never waits for the disk; writes take effect in call order. The store takes ownership of
   * `value`: do not mutate it afterwards (get() may hand back the very same object).
   */
  put(ns: Namespace, key: string, value: unknown): void;
  del(ns: Namespace, key: string): void;
  /** Delete every key of `ns` that starts with `prefix` (e.g. `${clientId}\u0000`). */
  delPrefix(ns: Namespace, prefix: string): void;
  /** The current value, including writes not yet committed. */
  get(ns: Namespace, key: string): unknown | undefined;
  /**
   * Entries of `ns` whose key starts with `prefix`, in key order (lexicographic by the keys'
   * UTF-8 bytes), including writes not yet committed. Lazy: each key is resolved when reached.
   */
  scan(ns: Namespace, prefix?: string): Iterable<[string, unknown]>;
  /** Resolves when everything written before the call is committed (and fsynced unless mode is 'none'). */
  flush(): Promise<void>;
  /** Flush, then release the files and the directory lock. */
  close(): Promise<void>;
  readonly stats: Readonly<StoreStats>;
}
