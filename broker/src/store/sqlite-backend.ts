/**
 * The SQLite engine (better-sqlite3 12): one table `kv(ns, k BLOB, v BLOB)` keyed by
 * (namespace, UTF-8 key bytes), so SQLite's memcmp order is the store's key order. Values are
 * encoded with value-codec.ts, which round-trips Buffers as Buffers. Reads run on the main
 * thread's connection; commits run on a writer thread (see sqlite-writer-source.ts) so fsync never
 * blocks the event loop. Why SQLite and not LMDB: docs/store.md (LMDB crashes the process on a
 * damaged file; SQLite reports SQLITE_CORRUPT).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { OP_DEL_PREFIX, OP_PUT, type Backend, type WriteOp } from './backend.js';
import { prefixUpperBound } from './key-order.js';
import { SQLITE_WRITER_SOURCE as SQLITE_WRITER } from './sqlite-writer-source.js';
import { StoreError } from './store-error.js';
import { Writer, decodeValue } from './value-codec.js';
import type { DurabilityMode } from './types.js';
import { IntMap } from '../util/int-map.js';

export const DB_FILE = 'petrel-store.db';
const SCHEMA_VERSION = 1;

export interface SqliteBackendOptions {
  dir: string;
  mode: DurabilityMode;
  maxBytes: number;
  verifyOnOpen: boolean;
}

type Row = [Buffer, Buffer];
type Statement = Database.Statement<unknown[], unknown>;

function isCorruption(code: unknown): boolean {
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'));
}

function openError(file: string, err: unknown): StoreError {
  const e = err as { code?: string; message?: string };
  if (isCorruption(e.code)) {
    return new StoreError('STORE_CORRUPT', file,
      `store file ${file} is damaged or not a Petrel store (${e.message}); move it aside to start empty, or restore a backup`, { cause: err });
  }
  return new StoreError('STORE_OPEN_FAILED', file, `cannot open store file ${file}: ${e.message ?? String(err)}`, { cause: err });
}

export class SqliteBackend implements Backend {
  private readonly file: string;
  private readonly db: Database.Database;
  private readonly worker: Worker;
  private readonly getStmt: Statement;
  private readonly firstBounded: Statement;
  private readonly firstOpen: Statement;
  private readonly nextBounded: Statement;
  private readonly nextOpen: Statement;
  private nextId = 1;
  private readonly inflight = new IntMap<{ resolve: () => void; reject: (e: Error) => void }>();
  private dead: Error | null = null;

  private constructor(file: string, db: Database.Database, worker: Worker) {
    this.file = file;
    this.db = db;
    this.worker = worker;
    this.getStmt = db.prepare('SELECT v FROM kv WHERE ns = ? AND k = ?').pluck();
    this.firstBounded = db.prepare('SELECT k, v FROM kv WHERE ns = ? AND k >= ? AND k < ? ORDER BY k LIMIT ?').raw();
    this.firstOpen = db.prepare('SELECT k, v FROM kv WHERE ns = ? AND k >= ? ORDER BY k LIMIT ?').raw();
    this.nextBounded = db.prepare('SELECT k, v FROM kv WHERE ns = ? AND k > ? AND k < ? ORDER BY k LIMIT ?').raw();
    this.nextOpen = db.prepare('SELECT k, v FROM kv WHERE ns = ? AND k > ? ORDER BY k LIMIT ?').raw();
    worker.on('message', this.onMessage);
    worker.on('error', this.onDeath);
    worker.on('exit', (code) => this.onDeath(new Error(`store writer thread exited (code ${code})`)));
    worker.unref();
  }

  static async open(o: SqliteBackendOptions): Promise<SqliteBackend> {
    const file = path.join(path.resolve(o.dir), DB_FILE);
    let db: Database.Database;
    try {
      db = new Database(file);
    } catch (err) {
      throw openError(file, err);
    }
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new StoreError('STORE_OPEN_FAILED', file, `store file ${file} has format ${version}, newer than this Petrel understands (${SCHEMA_VERSION})`);
      }
      db.exec('CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, k BLOB NOT NULL, v BLOB NOT NULL, PRIMARY KEY (ns, k)) WITHOUT ROWID');
      if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
      if (o.verifyOnOpen) {
        const result = db.pragma('quick_check', { simple: true }) as string;
        if (result !== 'ok') {
          throw new StoreError('STORE_CORRUPT', file, `store file ${file} failed its integrity check (${result}); move it aside to start empty, or restore a backup`);
        }
      }
    } catch (err) {
      db.close();
      throw err instanceof StoreError ? err : openError(file, err);
    }
    const sqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const worker = new Worker(SQLITE_WRITER, {
      eval: true,
      workerData: {
        file,
        sqlitePath,
        // 'none': no fsync per commit; NORMAL still fsyncs at WAL checkpoints, which keeps the file consistent.
        synchronous: o.mode === 'none' ? 'NORMAL' : 'FULL',
        maxPageCount: o.maxBytes > 0 ? Math.max(1, Math.floor(o.maxBytes / pageSize)) : 0,
      },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const onMsg = (m: { type: string; code?: string; message?: string }): void => {
          worker.off('message', onMsg);
          worker.off('error', reject);
          if (m.type === 'ready') resolve();
          else reject(openError(file, Object.assign(new Error(m.message), { code: m.code })));
        };
        worker.on('message', onMsg);
        worker.on('error', reject);
      });
    } catch (err) {
      db.close();
      await worker.terminate();
      throw err instanceof StoreError ? err : openError(file, err);
    }
    return new SqliteBackend(file, db, worker);
  }

  get(ns: string, key: string): unknown | undefined {
    const v = this.read(() => this.getStmt.get(ns, Buffer.from(key, 'utf8'))) as Buffer | undefined;
    return v === undefined ? undefined : this.decode(v);
  }

  range(ns: string, prefix: string, after: string | undefined, limit: number): Array<[string, unknown]> {
    const p = Buffer.from(prefix, 'utf8');
    const end = prefixUpperBound(p);
    const rows = this.read(() => {
      if (after === undefined) return end ? this.firstBounded.all(ns, p, end, limit) : this.firstOpen.all(ns, p, limit);
      const a = Buffer.from(after, 'utf8');
      return end ? this.nextBounded.all(ns, a, end, limit) : this.nextOpen.all(ns, a, limit);
    }) as Row[];
    const out: Array<[string, unknown]> = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = [rows[i]![0].toString('utf8'), this.decode(rows[i]![1])];
    return out;
  }

  commit(ops: WriteOp[]): Promise<void> {
    if (this.dead !== null) return Promise.reject(this.dead);
    const buf = packOps(ops);
    const id = this.nextId;
    this.nextId = id === 0x7fffffff ? 1 : id + 1;
    // Transfer the whole backing store: packOps allocated it for this message alone.
    return new Promise<void>((resolve, reject) => {
      this.inflight.set(id, { resolve, reject });
      if (this.inflight.size === 1) this.worker.ref();
      const ab = buf.buffer as ArrayBuffer;
      this.worker.postMessage({ type: 'commit', id, buf: ab, len: buf.length }, [ab]);
    });
  }

  async close(): Promise<void> {
    if (this.dead === null) {
      this.worker.ref();
      const closed = new Promise<void>((resolve) => {
        const onMsg = (m: { type: string }): void => { if (m.type === 'closed') resolve(); };
        this.worker.on('message', onMsg);
        this.worker.once('exit', () => resolve());
      });
      this.worker.postMessage({ type: 'close' });
      await closed;
      this.dead = new StoreError('STORE_CLOSED', this.file, `store ${this.file} is closed`);
      await this.worker.terminate();
    }
    this.db.close();
  }

  private decode(v: Buffer): unknown {
    try {
      return decodeValue(v);
    } catch (err) {
      throw new StoreError('STORE_CORRUPT', this.file, `store file ${this.file} holds an undecodable value: ${(err as Error).message}`, { cause: err });
    }
  }

  private read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (isCorruption(code)) throw openError(this.file, err);
      throw new StoreError('STORE_OPEN_FAILED', this.file, `reading store ${this.file} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  private readonly onMessage = (m: { type: string; id?: number; error?: { code: string; message: string } }): void => {
    if (m.type !== 'done' || m.id === undefined) return;
    const p = this.inflight.get(m.id);
    if (p === undefined) return;
    this.inflight.delete(m.id);
    if (this.inflight.size === 0) this.worker.unref();
    if (m.error === undefined) p.resolve();
    else p.reject(this.commitError(m.error.code, m.error.message));
  };

  private readonly onDeath = (err: Error): void => {
    if (this.dead !== null) return;
    this.dead = new StoreError('STORE_WRITE_FAILED', this.file, `store writer for ${this.file} stopped: ${err.message}`, { cause: err });
    for (const p of this.inflight.values()) p.reject(this.dead);
    this.inflight.clear();
  };

  private commitError(code: string, message: string): StoreError {
    if (code === 'SQLITE_FULL') {
      return new StoreError('STORE_DISK_FULL', this.file, `commit to store ${this.file} failed: disk or size limit full (${message}); writes are kept in memory and retried`);
    }
    if (isCorruption(code)) return openError(this.file, Object.assign(new Error(message), { code }));
    return new StoreError('STORE_WRITE_FAILED', this.file, `commit to store ${this.file} failed (${code}: ${message}); writes are kept in memory and retried`);
  }
}

/** Pack a batch into one transferable buffer (see the protocol in sqlite-writer-source.ts). */
function packOps(ops: WriteOp[]): Buffer {
  const w = new Writer(Math.max(4096, ops.length * 320));
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    w.u8(o.op);
    w.str(o.ns);
    w.str(o.key);
    if (o.op === OP_PUT) {
      w.ensure(4);
      const at = w.off;
      w.off += 4;
      w.value(o.value);
      w.buf.writeUInt32LE(w.off - at - 4, at);
    } else if (o.op === OP_DEL_PREFIX) {
      const end = prefixUpperBound(Buffer.from(o.key, 'utf8'));
      if (end === null) w.u32(0);
      else w.bytes(end);
    } else {
      w.u32(0);
    }
  }
  return w.buf.subarray(0, w.off);
}
