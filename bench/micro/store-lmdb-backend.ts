/**
 * LMDB (lmdb-js 3) behind the store's Backend interface, for the store micro benchmark only:
 * the broker ships the SQLite engine (docs/store.md says why). Keys are `ns \0 key` as raw
 * bytes so LMDB's order is the store's order; values use lmdb-js's native msgpack encoding;
 * commits are lmdb-js's own asynchronous batched writes on its write thread.
 */
import { open, type RootDatabase } from 'lmdb';
import { OP_DEL, OP_DEL_PREFIX, OP_PUT, type Backend, type WriteOp } from '../../broker/src/store/backend.js';
import { prefixUpperBound } from '../../broker/src/store/key-order.js';
import type { DurabilityMode } from '../../broker/src/store/index.js';

function fullKey(ns: string, key: string): Buffer {
  return Buffer.from(`${ns}\u0000${key}`, 'utf8');
}

export class LmdbBackend implements Backend {
  private readonly db: RootDatabase<unknown, Buffer>;
  private readonly durable: boolean;

  constructor(dir: string, mode: DurabilityMode) {
    this.db = open<unknown, Buffer>({ path: dir, keyEncoding: 'binary', encoding: 'msgpack', compression: false, noSync: mode === 'none' });
    this.durable = mode !== 'none';
  }

  get(ns: string, key: string): unknown | undefined {
    return this.db.get(fullKey(ns, key));
  }

  range(ns: string, prefix: string, after: string | undefined, limit: number): Array<[string, unknown]> {
    const nsLen = Buffer.byteLength(ns) + 1;
    const p = fullKey(ns, prefix);
    const start = after === undefined ? p : Buffer.concat([fullKey(ns, after), Buffer.from([0])]);
    const end = prefixUpperBound(p);
    const out: Array<[string, unknown]> = [];
    for (const { key, value } of this.db.getRange({ start, ...(end ? { end } : {}), limit })) {
      out.push([(key as Buffer).toString('utf8', nsLen), value]);
    }
    return out;
  }

  async commit(ops: WriteOp[]): Promise<void> {
    let last: Promise<boolean> | undefined;
    for (const o of ops) {
      if (o.op === OP_PUT) last = this.db.put(fullKey(o.ns, o.key), o.value);
      else if (o.op === OP_DEL) last = this.db.remove(fullKey(o.ns, o.key));
      else if (o.op === OP_DEL_PREFIX) {
        const p = fullKey(o.ns, o.key);
        const end = prefixUpperBound(p);
        for (const k of this.db.getKeys({ start: p, ...(end ? { end } : {}) })) last = this.db.remove(k as Buffer);
      }
    }
    if (last !== undefined) await last;
    if (this.durable) await this.db.flushed; // overlappingSync: committed first, fsynced after
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
