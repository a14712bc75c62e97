/**
 * The cluster's access-control state in etcd (the SharedStore of access/shared-store.ts): one
 * key per row under `{prefix}/access/{namespace}/{key}` (keys.ts), the value JSON, no lease —
 * users, rules and bans outlive every node.
 *
 * Loaded whole when the node joins (before the authenticators and sources are built from it),
 * then watched from the revision loaded; a watch etcd cancels (its history compacted) reloads
 * the whole prefix and tells the watchers what differs, as the route and retained watches in
 * etcd.ts do. Each key remembers the revision it was last set at, so an event older than what
 * this node already holds (its own write echoed back late) changes nothing.
 */
import type { Etcd3, Watcher } from 'etcd3';
import type { SharedChange, SharedStore } from '../access/shared-store.js';
import { compareKeys } from '../store/index.js';
import type { ClusterKeys } from './keys.js';

type Log = { info(o: object, m?: string): void; warn(o: object, m?: string): void };

/** etcd's limit of operations in one transaction. */
const MAX_TXN_OPS = 128;

export class EtcdAccessStore implements SharedStore {
  readonly clustered = true;
  readonly counters = { writes: 0, writeErrors: 0, watchEvents: 0, resyncs: 0 };
  private readonly client: Etcd3;
  private readonly keys: ClusterKeys;
  private readonly log: Log;
  private readonly timeoutMs: number;
  /** namespace → key → value (parsed JSON). */
  private readonly data = new Map<string, Map<string, unknown>>();
  /** full etcd key → the JSON text held, and the revision it was set at (0: written here, not yet confirmed). */
  private readonly held = new Map<string, { text: string; rev: number }>();
  /** full etcd key → how many local writes were made to it: a failed write is taken back only if it was the last. */
  private readonly writeSeq = new Map<string, number>();
  /** Deleted keys → the revision of the deletion: an older put arriving late does not bring them back. */
  private readonly tombstones = new Map<string, number>();
  private readonly watchers = new Map<string, Set<SharedChange>>();
  private watcher: Watcher | null = null;
  private stopped = false;

  constructor(client: Etcd3, keys: ClusterKeys, log: Log, timeoutMs: number) {
    this.client = client;
    this.keys = keys;
    this.log = log;
    this.timeoutMs = Math.max(timeoutMs, 1000);
  }

  /** Loads everything and starts watching; rejects when etcd does not answer. */
  async start(): Promise<void> {
    await this.sync();
    let rows = 0;
    for (const m of this.data.values()) rows += m.size;
    this.log.info({ rows }, 'access control state loaded from etcd');
  }

  /** Stops watching (waiting a bounded time for etcd to confirm: unreachable, it never would). */
  async stop(): Promise<void> {
    this.stopped = true;
    const w = this.watcher;
    this.watcher = null;
    if (w !== null) await this.bounded(w.cancel(), 1000).catch(() => {});
  }

  // ---- reads: this node's copy

  get(ns: string, key: string): unknown | undefined { return this.data.get(ns)?.get(key); }

  *scan(ns: string, prefix = ''): Iterable<[string, unknown]> {
    const m = this.data.get(ns);
    if (m === undefined) return;
    const keys = [...m.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
    for (const k of keys) if (m.has(k)) yield [k, m.get(k)];
  }

  watch(ns: string, fn: SharedChange): () => void {
    let set = this.watchers.get(ns);
    if (set === undefined) { set = new Set(); this.watchers.set(ns, set); }
    set.add(fn);
    return () => { set.delete(fn); };
  }

  // ---- writes: here at once, in etcd before the promise resolves

  put(ns: string, key: string, value: unknown): Promise<void> {
    return this.putAll(ns, [[key, value]]);
  }

  async putAll(ns: string, entries: ReadonlyArray<readonly [string, unknown]>): Promise<void> {
    const ops = entries.map(([key, value]) => {
      const full = this.keys.accessKey(ns, key);
      const text = JSON.stringify(value);
      return { full, text, undo: this.setLocal(ns, key, full, text, JSON.parse(text)) };
    });
    for (let i = 0; i < ops.length; i += MAX_TXN_OPS) {
      const batch = ops.slice(i, i + MAX_TXN_OPS);
      try {
        const r = await this.bounded(this.client.kv.txn({ success: batch.map((o) => ({ request_put: { key: Buffer.from(o.full), value: Buffer.from(o.text) } })) }));
        this.confirmed(batch.map((o) => o.full), Number(r.header.revision));
      } catch (err) {
        for (const o of ops.slice(i)) o.undo();
        throw this.failed(err, `${ns}: ${ops.length === 1 ? 'the change' : `${ops.length - i} of ${ops.length} changes`}`);
      }
    }
  }

  async create(ns: string, key: string, value: unknown): Promise<boolean> {
    if (this.get(ns, key) !== undefined) return false;
    const full = this.keys.accessKey(ns, key);
    const kb = Buffer.from(full);
    const text = JSON.stringify(value);
    const undo = this.setLocal(ns, key, full, text, JSON.parse(text));
    try {
      const r = await this.bounded(this.client.kv.txn({
        compare: [{ key: kb, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key: kb, value: Buffer.from(text) } }],
        failure: [{ request_range: { key: kb } }],
      }));
      if (r.succeeded) { this.confirmed([full], Number(r.header.revision)); return true; }
      undo();
      // Another node's row won: this node takes it now rather than when the watch brings it.
      const kv = r.responses[0]?.response_range?.kvs[0];
      if (kv !== undefined) this.apply(full, kv.value, Number(kv.mod_revision));
      return false;
    } catch (err) {
      undo();
      throw this.failed(err, `${ns}: the change`);
    }
  }

  async del(ns: string, key: string): Promise<void> {
    const full = this.keys.accessKey(ns, key);
    const undo = this.setLocal(ns, key, full, null, undefined);
    try {
      const r = await this.bounded(this.client.kv.deleteRange({ key: Buffer.from(full) }));
      this.confirmed([full], Number(r.header.revision));
    } catch (err) {
      undo();
      throw this.failed(err, `${ns}: the deletion`);
    }
  }

  async delPrefix(ns: string, prefix: string): Promise<void> {
    const m = this.data.get(ns);
    const undos = [...(m?.keys() ?? [])].filter((k) => k.startsWith(prefix))
      .map((k) => { const full = this.keys.accessKey(ns, k); return { full, undo: this.setLocal(ns, k, full, null, undefined) }; });
    try {
      const r = await this.bounded(this.client.delete().prefix(this.keys.accessKey(ns, prefix)).exec());
      this.confirmed(undos.map((u) => u.full), Number(r.header.revision));
    } catch (err) {
      for (const u of undos) u.undo();
      throw this.failed(err, `${ns}: the deletion`);
    }
  }

  /** Sets this node's copy; returns what puts it back (and tells the watchers) if etcd refuses. */
  private setLocal(ns: string, key: string, full: string, text: string | null, value: unknown): () => void {
    const before = this.held.get(full);
    const beforeValue = this.get(ns, key);
    const seq = (this.writeSeq.get(full) ?? 0) + 1;
    this.writeSeq.set(full, seq);
    this.assign(ns, key, full, text === null ? null : { text, rev: before?.rev ?? 0 }, value);
    return () => {
      if (this.writeSeq.get(full) !== seq) return; // a later write owns the key now
      this.assign(ns, key, full, before ?? null, beforeValue);
      this.notify(ns, key, beforeValue);
    };
  }

  private assign(ns: string, key: string, full: string, held: { text: string; rev: number } | null, value: unknown): void {
    let m = this.data.get(ns);
    if (held === null) {
      this.held.delete(full);
      m?.delete(key);
      return;
    }
    this.held.set(full, held);
    if (m === undefined) { m = new Map(); this.data.set(ns, m); }
    m.set(key, value);
  }

  private confirmed(fulls: readonly string[], rev: number): void {
    this.counters.writes += fulls.length;
    for (const f of fulls) {
      const h = this.held.get(f);
      if (h !== undefined && h.rev < rev) h.rev = rev;
      else if (h === undefined) this.tombstones.set(f, rev);
    }
  }

  private failed(err: unknown, what: string): Error {
    this.counters.writeErrors++;
    const msg = (err as Error).message;
    this.log.warn({ err: msg }, `access control: ${what} was not stored in etcd; taken back on this node`);
    return Object.assign(new Error(`${what} could not be stored cluster-wide (etcd: ${msg}); nothing changed, try again`), { code: 'CLUSTER_WRITE_FAILED' });
  }

  private bounded<T>(p: Promise<T>, ms = this.timeoutMs): Promise<T> {
    let t: NodeJS.Timeout;
    return Promise.race([
      p.finally(() => clearTimeout(t)),
      new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); }),
    ]);
  }

  // ---- other nodes' changes

  private async sync(): Promise<void> {
    const res = await this.bounded(this.client.getAll().prefix(this.keys.access).exec());
    const rev = BigInt(res.header.revision);
    const seen = new Set<string>();
    for (const kv of res.kvs) {
      const full = kv.key.toString();
      seen.add(full);
      this.apply(full, kv.value, Number(kv.mod_revision));
    }
    for (const full of [...this.held.keys()]) if (!seen.has(full)) this.apply(full, null, Number(rev));
    const w = await this.bounded(this.client.watch().prefix(this.keys.access).startRevision(String(rev + 1n)).create());
    w.on('put', (kv) => { this.counters.watchEvents++; this.apply(kv.key.toString(), kv.value, Number(kv.mod_revision)); });
    w.on('delete', (kv) => { this.counters.watchEvents++; this.apply(kv.key.toString(), null, Number(kv.mod_revision)); });
    w.on('error', (err) => {
      // Cancelled explicitly: otherwise the client keeps trying to resume it from the compacted revision.
      void w.cancel().catch(() => {});
      if (this.stopped || this.watcher !== w) return;
      this.watcher = null;
      this.counters.resyncs++;
      this.log.warn({ err: err.message }, 'etcd watch of access control state cancelled; full reload');
      void this.resync();
    });
    if (this.stopped) { void w.cancel().catch(() => {}); return; }
    this.watcher = w;
  }

  private async resync(): Promise<void> {
    while (!this.stopped) {
      try { await this.sync(); return; } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'access control reload from etcd failed; retrying');
        await new Promise((r) => setTimeout(r, 1000).unref());
      }
    }
  }

  /** One key as etcd has it now (value null: deleted at `rev`). */
  private apply(full: string, value: Buffer | null, rev: number): void {
    const p = this.keys.parseAccess(full);
    if (p === null) return;
    const cur = this.held.get(full);
    if (cur !== undefined && cur.rev >= rev && cur.rev !== 0) return;
    const dead = this.tombstones.get(full);
    if (dead !== undefined && dead >= rev) return;
    if (value === null) {
      if (cur === undefined) return;
      this.tombstones.set(full, rev);
      this.assign(p.ns, p.key, full, null, undefined);
      this.notify(p.ns, p.key, undefined);
      return;
    }
    const text = value.toString();
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch {
      this.log.warn({ key: full }, 'access control: a value in etcd is not JSON; ignored');
      return;
    }
    this.tombstones.delete(full);
    const same = cur !== undefined && cur.text === text;
    this.assign(p.ns, p.key, full, { text, rev }, same ? this.get(p.ns, p.key) : parsed);
    if (!same) this.notify(p.ns, p.key, parsed);
  }

  private notify(ns: string, key: string, value: unknown): void {
    const set = this.watchers.get(ns);
    if (set === undefined) return;
    for (const fn of set) {
      try { fn(key, value); } catch (err) {
        this.log.warn({ namespace: ns, key, err: (err as Error).message }, 'access control: applying a change from another node failed');
      }
    }
  }
}
