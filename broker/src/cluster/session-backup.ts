/**
 * Persistent sessions survive the loss of their node: every write of a persistent session's
 * record, its queued and in-flight messages and its QoS 2 state goes to the node's embedded store
 * AND to one backup node over the link (the first live core by name other than this node — the
 * node that will adopt this node's sessions if it dies).
 *
 * - BackupStore (this node): a Store decorator that mirrors the session tables. Writes are sent
 *   in order, batched per event-loop turn. `flush()` — what `durability.mode: sync` waits for
 *   before it acknowledges a publish — resolves once the backup has acknowledged everything
 *   written before it (bounded by `ackTimeoutMs`: a backup that does not answer degrades to
 *   asynchronous mirroring, counted). When the backup changes or was unreachable, the next batch
 *   is a full copy of the session tables.
 * - BackupHolder (the backup node): keeps each origin's copy in memory and hands a client's
 *   session over (`take`) when the origin died and the client comes back, or when it adopts the
 *   origin's sessions.
 */
import type { Namespace, Store, StoreStats } from '../store/types.js';
import { T, clientPrefix, deliverySeq, splitClientKey } from '../store/keys.js';
import type { SessionRecord } from '../session/registry.js';
import type { DeliveryRecord } from '../session/session.js';
import type { Message } from '../types.js';
import { messageToJson, type SessionTransfer } from './wire.js';

const MIRRORED: ReadonlySet<string> = new Set([T.session, T.sessmsg, T.qos2in]);

type Op = ['p', string, string, unknown] | ['d', string, string] | ['x', string, string];

export interface BackupPeer {
  /** The node to mirror to now (null: no other member). */
  backupNode(): string | null;
  call(node: string, method: string, args: unknown, timeoutMs?: number): Promise<unknown>;
  log: { warn(o: object, m?: string): void; info(o: object, m?: string): void };
}

export class BackupStore implements Store {
  private queue: Op[] = [];
  private sending = false;
  /** The backup holding a complete copy; '' = none (the next batch is a full copy). */
  private synced = '';
  /** Ops queued so far / acknowledged so far (flush waits for the count it saw). */
  private queued = 0;
  private acked = 0;
  private waiters: Array<{ upTo: number; resolve(): void }> = [];
  readonly counters = { batches: 0, ops: 0, fullCopies: 0, failures: 0, ackTimeouts: 0 };

  constructor(private readonly inner: Store, private readonly peer: BackupPeer, private readonly ackTimeoutMs = 2000) {}

  put(ns: Namespace, key: string, value: unknown): void { this.inner.put(ns, key, value); if (MIRRORED.has(ns)) this.push(['p', ns, key, value]); }
  del(ns: Namespace, key: string): void { this.inner.del(ns, key); if (MIRRORED.has(ns)) this.push(['d', ns, key]); }
  delPrefix(ns: Namespace, prefix: string): void { this.inner.delPrefix(ns, prefix); if (MIRRORED.has(ns)) this.push(['x', ns, prefix]); }
  get(ns: Namespace, key: string): unknown | undefined { return this.inner.get(ns, key); }
  scan(ns: Namespace, prefix?: string): Iterable<[string, unknown]> { return this.inner.scan(ns, prefix); }
  get stats(): Readonly<StoreStats> { return this.inner.stats; }
  close(): Promise<void> { return this.inner.close(); }

  /** Committed locally and acknowledged by the backup (or the backup did not answer in time). */
  async flush(): Promise<void> {
    const local = this.inner.flush();
    if (this.queued === this.acked) { await local; return; }
    const upTo = this.queued;
    const mirrored = new Promise<void>((resolve) => {
      const w = { upTo, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        if (!this.waiters.includes(w)) return;
        this.counters.ackTimeouts++;
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve();
      }, this.ackTimeoutMs).unref();
    });
    await Promise.all([local, mirrored]);
  }

  /** The backup node changed (membership): the next batch carries a full copy. */
  resync(): void { this.synced = ''; this.kick(); }

  private push(op: Op): void {
    this.queue.push(op);
    this.queued++;
    this.kick();
  }

  private kick(): void {
    if (this.sending) return;
    this.sending = true;
    setImmediate(() => { void this.send(); });
  }

  private async send(): Promise<void> {
    try {
      while (true) {
        const node = this.peer.backupNode();
        if (node === null) { this.synced = ''; this.settle(this.queued); this.queue = []; return; }
        const full = this.synced !== node;
        if (!full && this.queue.length === 0) return;
        const upTo = this.queued;
        const ops = this.queue;
        this.queue = [];
        try {
          if (full) {
            this.counters.fullCopies++;
            await this.peer.call(node, 'backup.reset', { tables: this.snapshot() }, 10_000);
            this.synced = node;
            this.peer.log.info({ backup: node }, 'persistent sessions mirrored to their backup node');
          } else {
            this.counters.batches++;
            this.counters.ops += ops.length;
            await this.peer.call(node, 'backup.apply', { ops }, 10_000);
          }
          this.settle(upTo);
        } catch (err) {
          // The backup missed something: a full copy next time, to whichever node is the backup then.
          this.counters.failures++;
          if (this.synced !== '') this.peer.log.warn({ backup: node, err: (err as Error).message }, 'session backup failed; a full copy goes out when a backup answers');
          this.synced = '';
          await new Promise((r) => setTimeout(r, 1000).unref());
          if (this.peer.backupNode() === null) return;
        }
      }
    } finally {
      this.sending = false;
      if (this.queue.length > 0 || (this.synced === '' && this.peer.backupNode() !== null && this.queued !== this.acked)) this.kick();
    }
  }

  private settle(upTo: number): void {
    if (upTo > this.acked) this.acked = upTo;
    const done = this.waiters.filter((w) => w.upTo <= this.acked);
    if (done.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.upTo > this.acked);
    for (const w of done) w.resolve();
  }

  private snapshot(): Record<string, Array<[string, unknown]>> {
    const out: Record<string, Array<[string, unknown]>> = {};
    for (const ns of MIRRORED) out[ns] = [...this.inner.scan(ns)];
    return out;
  }
}

/** The backup side: each origin node's copy of its persistent sessions, in memory. */
export class BackupHolder {
  private readonly origins = new Map<string, Map<string, Map<string, unknown>>>();

  apply(origin: string, ops: Op[]): void {
    const o = this.origin(origin);
    for (const op of ops) {
      const table = o.get(op[1]) ?? new Map<string, unknown>();
      o.set(op[1], table);
      if (op[0] === 'p') table.set(op[2], op[3]);
      else if (op[0] === 'd') table.delete(op[2]);
      else for (const k of [...table.keys()]) if (k.startsWith(op[2])) table.delete(k);
    }
  }

  reset(origin: string, tables: Record<string, Array<[string, unknown]>>): void {
    const o = new Map<string, Map<string, unknown>>();
    for (const [ns, rows] of Object.entries(tables)) o.set(ns, new Map(rows));
    this.origins.set(origin, o);
  }

  /** Hands over (and forgets) a client's session copy from `origin`; null when there is none. */
  take(origin: string, clientId: string): SessionTransfer | null {
    const o = this.origins.get(origin);
    const rec = o?.get(T.session)?.get(clientId) as SessionRecord | undefined;
    if (o === undefined || rec === undefined) return null;
    o.get(T.session)!.delete(clientId);
    const prefix = clientPrefix(clientId);
    const deliveries: SessionTransfer['deliveries'] = [];
    const msgs = o.get(T.sessmsg);
    if (msgs !== undefined) for (const [k, v] of [...msgs]) {
      if (!k.startsWith(prefix)) continue;
      msgs.delete(k);
      const d = v as DeliveryRecord;
      deliveries.push([deliverySeq(splitClientKey(k).suffix), { ...d, m: messageToJson(d.m as Message) }]);
    }
    const awaitingRel: number[] = [];
    const q2 = o.get(T.qos2in);
    if (q2 !== undefined) for (const k of [...q2.keys()]) if (k.startsWith(prefix)) { q2.delete(k); awaitingRel.push(Number(splitClientKey(k).suffix)); }
    deliveries.sort((a, b) => a[0] - b[0]);
    return { clientId, expiryInterval: rec.expiryInterval, subs: rec.subs, deliveries, awaitingRel };
  }

  /** Sessions and messages held per origin (metrics). */
  stats(): { origins: number; sessions: number; messages: number } {
    let sessions = 0, messages = 0;
    for (const o of this.origins.values()) { sessions += o.get(T.session)?.size ?? 0; messages += o.get(T.sessmsg)?.size ?? 0; }
    return { origins: this.origins.size, sessions, messages };
  }

  private origin(name: string): Map<string, Map<string, unknown>> {
    let o = this.origins.get(name);
    if (o === undefined) { o = new Map(); this.origins.set(name, o); }
    return o;
  }
}
