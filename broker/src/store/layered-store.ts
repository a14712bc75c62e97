/**
 * The write-behind layer every disk-backed store shares. put/del/delPrefix land in an in-memory
 * layer at once (so the hot path never waits for the disk) and a timer hands the layer to the
 * backend as one transaction at most every `flushIntervalMs`. Reads look through the layers,
 * newest first, then at the backend:
 *
 *   pending (accepting writes) → in-flight / failed (sent, not yet committed) → backend (disk)
 *
 * Inside one layer a key's entry is always newer than the layer's prefix deletions, because
 * delPrefix drops the matching entries it supersedes; so a layer commits as "prefix deletions,
 * then entries" without losing order. Only one commit is in flight at a time: writes that arrive
 * while the disk syncs pile up in the next layer, which is what makes group commit work.
 * A failed commit keeps its layer (reads still see it), reports through onError, and is retried
 * together with newer layers after a back-off; every flush() caller waiting at that moment is rejected.
 */
import { OP_DEL, OP_DEL_PREFIX, OP_PUT, type Backend, type WriteOp } from './backend.js';
import { compareKeys } from './key-order.js';
import { StoreError } from './store-error.js';
import type { DurabilityMode, Namespace, Store, StoreStats } from './types.js';

const TOMBSTONE: unique symbol = Symbol('deleted');
type Slot = unknown;

class Layer {
  /** ns → key → value or TOMBSTONE, in insertion order. */
  readonly entries = new Map<string, Map<string, Slot>>();
  /** ns → prefixes deleted in this layer (before any entry of the same layer). */
  readonly prefixDels = new Map<string, string[]>();
  ops = 0;
  /** Sequence number of the last write in this layer. */
  lastSeq = 0;

  /** The layer's verdict on `key`: a value, TOMBSTONE, or undefined when it says nothing. */
  lookup(ns: string, key: string): Slot | undefined {
    const m = this.entries.get(ns);
    if (m !== undefined && m.has(key)) return m.get(key);
    const p = this.prefixDels.get(ns);
    if (p !== undefined) {
      for (let i = 0; i < p.length; i++) if (key.startsWith(p[i]!)) return TOMBSTONE;
    }
    return undefined;
  }

  /** Fold a newer layer into this one; the result reads and commits as the two applied in order. */
  absorb(newer: Layer): void {
    for (const [ns, prefixes] of newer.prefixDels) {
      const m = this.entries.get(ns);
      if (m !== undefined) {
        for (const key of m.keys()) if (prefixes.some((p) => key.startsWith(p))) m.delete(key);
      }
      let list = this.prefixDels.get(ns);
      if (list === undefined) this.prefixDels.set(ns, (list = []));
      list.push(...prefixes);
    }
    for (const [ns, nm] of newer.entries) {
      let m = this.entries.get(ns);
      if (m === undefined) this.entries.set(ns, (m = new Map()));
      for (const [key, v] of nm) {
        m.delete(key);
        m.set(key, v);
      }
    }
    this.ops += newer.ops;
    this.lastSeq = newer.lastSeq;
  }

  toOps(out: WriteOp[]): void {
    for (const [ns, prefixes] of this.prefixDels) {
      for (const prefix of prefixes) out.push({ op: OP_DEL_PREFIX, ns, key: prefix, value: undefined });
    }
    for (const [ns, m] of this.entries) {
      for (const [key, v] of m) {
        out.push(v === TOMBSTONE ? { op: OP_DEL, ns, key, value: undefined } : { op: OP_PUT, ns, key, value: v });
      }
    }
  }
}

interface FlushWaiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface LayeredOptions {
  mode: DurabilityMode;
  flushIntervalMs: number;
  onError?: (err: Error) => void;
  /** Describes the store in error messages (its path). */
  where: string;
  /** Called after the last commit on close(), e.g. to drop the directory lock. */
  onClosed?: () => void;
  /** Called after each successful commit with the sequence number now durable (see writeSeq); for benchmarks. */
  onCommitted?: (seq: number) => void;
}

const SCAN_PAGE = 512;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

function checkName(where: string, ns: string, key: string): void {
  if (ns.length === 0 || ns.includes('\u0000')) {
    throw new StoreError('STORE_INVALID_KEY', where, `invalid store namespace ${JSON.stringify(ns)}: must be non-empty without NUL`);
  }
  if (typeof key !== 'string') throw new StoreError('STORE_INVALID_KEY', where, `store keys must be strings (namespace ${ns})`);
}

export class LayeredStore implements Store {
  readonly stats: StoreStats = { puts: 0, dels: 0, commits: 0, pendingOps: 0, commitErrors: 0 };
  private readonly backend: Backend;
  private readonly opts: LayeredOptions;
  private pending = new Layer();
  /** Layers handed to the backend (or failed and awaiting retry), oldest first. */
  private unsettled: Layer[] = [];
  private committing = false;
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private durableSeq = 0;
  private lastCommitAt = 0;
  private retryDelay = 0;
  private waiters: FlushWaiter[] = [];
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(backend: Backend, opts: LayeredOptions) {
    this.backend = backend;
    this.opts = opts;
  }

  /** Sequence number of the latest write (put, del or delPrefix), counting from 1. */
  get writeSeq(): number {
    return this.seq;
  }

  put(ns: Namespace, key: string, value: unknown): void {
    this.write(ns, key, value === undefined ? null : value);
    this.stats.puts++;
  }

  del(ns: Namespace, key: string): void {
    this.write(ns, key, TOMBSTONE);
    this.stats.dels++;
  }

  delPrefix(ns: Namespace, prefix: string): void {
    this.assertOpen();
    checkName(this.opts.where, ns, prefix);
    const layer = this.pending;
    const m = layer.entries.get(ns);
    if (m !== undefined) {
      for (const key of m.keys()) if (key.startsWith(prefix)) m.delete(key);
    }
    let list = layer.prefixDels.get(ns);
    if (list === undefined) layer.prefixDels.set(ns, (list = []));
    list.push(prefix);
    this.stats.dels++;
    this.noteWrite(layer);
  }

  get(ns: Namespace, key: string): unknown | undefined {
    this.assertOpen();
    const v = this.resolve(ns, key);
    return v === TOMBSTONE ? undefined : v;
  }

  scan(ns: Namespace, prefix = ''): Iterable<[string, unknown]> {
    this.assertOpen();
    checkName(this.opts.where, ns, prefix);
    return { [Symbol.iterator]: () => this.scanIterator(ns, prefix) };
  }

  flush(): Promise<void> {
    if (this.closed && this.closing === null) return Promise.reject(this.closedError());
    const target = this.seq;
    if (this.durableSeq >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ seq: target, resolve, reject });
      // A waiter means someone is blocked: commit now rather than at the next tick of the interval.
      if (!this.committing && this.retryDelay === 0) this.schedule(0);
    });
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      try {
        // Retry failed commits a bounded number of times; a store that cannot write gives up with the error.
        for (let attempt = 0; this.durableSeq < this.seq && attempt < 3; attempt++) {
          this.retryDelay = 0;
          if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
          if (!this.committing) void this.commit();
          await this.waitCommitted(this.seq).catch(() => undefined);
        }
        if (this.durableSeq < this.seq) {
          throw new StoreError('STORE_WRITE_FAILED', this.opts.where, `store ${this.opts.where} closed with ${this.stats.pendingOps} uncommitted writes`);
        }
      } finally {
        if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
        await this.backend.close();
        this.opts.onClosed?.();
      }
    })();
    return this.closing;
  }

  // ---- writes and commits -------------------------------------------------------------------

  private write(ns: string, key: string, slot: Slot): void {
    this.assertOpen();
    checkName(this.opts.where, ns, key);
    const layer = this.pending;
    let m = layer.entries.get(ns);
    if (m === undefined) layer.entries.set(ns, (m = new Map()));
    m.delete(key); // keep insertion order = write order
    m.set(key, slot);
    this.noteWrite(layer);
  }

  private noteWrite(layer: Layer): void {
    layer.ops++;
    layer.lastSeq = ++this.seq;
    this.stats.pendingOps++;
    if (this.timer === null && !this.committing && this.retryDelay === 0) {
      this.schedule(Math.max(0, this.lastCommitAt + this.opts.flushIntervalMs - Date.now()));
    }
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(this.onTimer, delayMs);
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (!this.committing) void this.commit();
  };

  private async commit(): Promise<void> {
    if (this.pending.ops > 0) {
      this.unsettled.push(this.pending);
      this.pending = new Layer();
    }
    if (this.unsettled.length === 0) return;
    // Nothing is in flight here, so several unsettled layers are failed ones plus the new one:
    // fold them into one, so writes that a later delete cancels are not retried (a full disk
    // recovers when the backlog is deleted).
    while (this.unsettled.length > 1) this.unsettled[0]!.absorb(this.unsettled.splice(1, 1)[0]!);
    const layers = this.unsettled.slice();
    const ops: WriteOp[] = [];
    for (const layer of layers) layer.toOps(ops);
    const seq = layers[layers.length - 1]!.lastSeq;
    this.committing = true;
    this.lastCommitAt = Date.now();
    let failure: Error | null = null;
    try {
      await this.backend.commit(ops);
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
    }
    this.committing = false;
    if (failure === null) {
      this.unsettled.splice(0, layers.length);
      let n = 0;
      for (const layer of layers) n += layer.ops;
      this.stats.pendingOps -= n;
      this.stats.commits++;
      this.durableSeq = seq;
      this.retryDelay = 0;
      this.settleWaiters(seq, null);
      this.opts.onCommitted?.(seq);
    } else {
      this.stats.commitErrors++;
      this.retryDelay = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.retryDelay * 2));
      // Every waiter is behind the failed batch (later writes commit only with it): reject them all.
      this.settleWaiters(Number.POSITIVE_INFINITY, failure);
      try {
        this.opts.onError?.(failure);
      } catch {
        // A throwing error callback must not stop the store.
      }
      if (!this.closed) {
        this.timer = setTimeout(this.onRetry, this.retryDelay);
      }
      return;
    }
    if (this.pending.ops > 0) {
      // Closing or someone waits → go now (group commit); otherwise respect the interval.
      const urgent = this.closed || this.waiters.length > 0;
      this.schedule(urgent ? 0 : Math.max(0, this.lastCommitAt + this.opts.flushIntervalMs - Date.now()));
    }
  }

  private readonly onRetry = (): void => {
    this.timer = null;
    if (!this.committing && !this.closed) void this.commit();
  };

  private settleWaiters(seq: number, failure: Error | null): void {
    if (this.waiters.length === 0) return;
    const keep: FlushWaiter[] = [];
    for (const w of this.waiters) {
      if (w.seq > seq) keep.push(w);
      else if (failure === null) w.resolve();
      else w.reject(failure);
    }
    this.waiters = keep;
  }

  private waitCommitted(seq: number): Promise<void> {
    if (this.durableSeq >= seq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  // ---- reads --------------------------------------------------------------------------------

  private resolve(ns: string, key: string): Slot | undefined {
    const v = this.resolveLayers(ns, key);
    return v !== undefined ? v : this.backend.get(ns, key);
  }

  /** What the uncommitted layers say about `key`, or undefined when they say nothing. */
  private resolveLayers(ns: string, key: string): Slot | undefined {
    let v = this.pending.lookup(ns, key);
    if (v !== undefined) return v;
    for (let i = this.unsettled.length - 1; i >= 0; i--) {
      v = this.unsettled[i]!.lookup(ns, key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  private *scanIterator(ns: string, prefix: string): Iterator<[string, unknown]> {
    // Keys written but not committed, at the time the scan starts, merged with committed pages.
    const seen = new Set<string>();
    for (const layer of [this.pending, ...this.unsettled]) {
      const m = layer.entries.get(ns);
      if (m === undefined) continue;
      for (const key of m.keys()) if (key.startsWith(prefix)) seen.add(key);
    }
    const mem = [...seen].sort(compareKeys);
    let mi = 0;
    let after: string | undefined;
    let page: Array<[string, unknown]> = [];
    let pi = 0;
    let diskDone = false;
    for (;;) {
      if (pi >= page.length && !diskDone) {
        this.assertOpen();
        page = this.backend.range(ns, prefix, after, SCAN_PAGE);
        pi = 0;
        if (page.length < SCAN_PAGE) diskDone = true;
        if (page.length > 0) after = page[page.length - 1]![0];
      }
      const disk = pi < page.length ? page[pi]![0] : undefined;
      const memKey = mi < mem.length ? mem[mi]! : undefined;
      if (disk === undefined && memKey === undefined) return;
      let key: string;
      let v: Slot | undefined;
      if (disk !== undefined && (memKey === undefined || compareKeys(disk, memKey) < 0)) {
        key = disk;
        v = this.resolveLayers(ns, key);
        if (v === undefined) v = page[pi]![1];
        pi++;
      } else {
        key = memKey!;
        mi++;
        if (disk === key) pi++;
        v = this.resolve(ns, key);
      }
      if (v !== undefined && v !== TOMBSTONE) yield [key, v];
    }
  }

  private assertOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private closedError(): StoreError {
    return new StoreError('STORE_CLOSED', this.opts.where, `store ${this.opts.where} is closed`);
  }
}
