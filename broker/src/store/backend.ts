/**
 * What the layered store needs from a disk engine: synchronous reads of committed data, and
 * asynchronous, ordered, atomic commits of a batch of writes. The SQLite engine is the one the
 * broker ships; bench/micro/ plugs LMDB in behind the same interface to compare them.
 */

export const OP_PUT = 0;
export const OP_DEL = 1;
export const OP_DEL_PREFIX = 2;

/** One write; for OP_DEL_PREFIX `key` is the prefix. */
export interface WriteOp {
  op: typeof OP_PUT | typeof OP_DEL | typeof OP_DEL_PREFIX;
  ns: string;
  key: string;
  value: unknown;
}

export interface Backend {
  /** The committed value, or undefined. */
  get(ns: string, key: string): unknown | undefined;
  /**
   * Up to `limit` committed entries of `ns` with keys starting with `prefix`, in UTF-8 byte order,
   * starting after `after` (exclusive) or at the first such key when `after` is undefined.
   */
  range(ns: string, prefix: string, after: string | undefined, limit: number): Array<[string, unknown]>;
  /** Apply `ops` in order in one transaction; resolves once committed (and synced, per the mode). */
  commit(ops: WriteOp[]): Promise<void>;
  /** Release everything; no calls follow. */
  close(): Promise<void>;
}
