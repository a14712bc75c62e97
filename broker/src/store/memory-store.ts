/**
 * The store without a disk: the same contract as the SQLite store (ordering, prefix deletes,
 * key order by UTF-8 bytes, stats), applied to maps at once. For nodes run with persistence off
 * and for unit tests of code that uses a Store.
 */
import { compareKeys } from './key-order.js';
import { StoreError } from './store-error.js';
import type { Namespace, Store, StoreStats } from './types.js';

class MemoryStore implements Store {
  readonly stats: StoreStats = { puts: 0, dels: 0, commits: 0, pendingOps: 0, commitErrors: 0 };
  private readonly data = new Map<string, Map<string, unknown>>();
  private closed = false;

  put(ns: Namespace, key: string, value: unknown): void {
    this.check(ns, key);
    let m = this.data.get(ns);
    if (m === undefined) this.data.set(ns, (m = new Map()));
    m.set(key, value === undefined ? null : value);
    this.stats.puts++;
  }

  del(ns: Namespace, key: string): void {
    this.check(ns, key);
    this.data.get(ns)?.delete(key);
    this.stats.dels++;
  }

  delPrefix(ns: Namespace, prefix: string): void {
    this.check(ns, prefix);
    const m = this.data.get(ns);
    if (m !== undefined) for (const key of m.keys()) if (key.startsWith(prefix)) m.delete(key);
    this.stats.dels++;
  }

  get(ns: Namespace, key: string): unknown | undefined {
    this.check(ns, key);
    return this.data.get(ns)?.get(key);
  }

  scan(ns: Namespace, prefix = ''): Iterable<[string, unknown]> {
    this.check(ns, prefix);
    const m = this.data.get(ns);
    const keys = m === undefined ? [] : [...m.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
    const self = this;
    return {
      *[Symbol.iterator]() {
        for (const key of keys) {
          const v = self.data.get(ns)?.get(key);
          if (v !== undefined) yield [key, v] as [string, unknown];
        }
      },
    };
  }

  flush(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    this.stats.commits++;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private check(ns: string, key: string): void {
    if (this.closed) throw this.closedError();
    if (ns.length === 0 || ns.includes('\u0000')) {
      throw new StoreError('STORE_INVALID_KEY', ':memory:', `invalid store namespace ${JSON.stringify(ns)}: must be non-empty without NUL`);
    }
    if (typeof key !== 'string') throw new StoreError('STORE_INVALID_KEY', ':memory:', `store keys must be strings (namespace ${ns})`);
  }

  private closedError(): StoreError {
    return new StoreError('STORE_CLOSED', ':memory:', 'store :memory: is closed');
  }
}

export function memoryStore(): Store {
  return new MemoryStore();
}
