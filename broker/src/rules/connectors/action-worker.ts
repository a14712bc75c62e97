/**
 * One action's buffer worker (EMQX's resource buffer worker): rule outputs come in through
 * `submit()`, are rendered to Items and queued (disk-queue.ts); batches of `batch_size` (waiting
 * at most `batch_time` to fill) go out through the connector's connection, at most
 * `inflight_window` at once.
 *
 * Delivery. A retryable SinkError (target down, timeout) stops new sends, asks the connector to
 * check its target, and tries the same batch again with backoff until it goes through or its
 * items pass `request_ttl` (dropped.expired); only then do later batches go, so items reach the
 * target in the order they were queued (with inflight_window 1 strictly; with a larger window a
 * batch sent before the failure may land before the failed one is retried). A non-retryable
 * error counts the batch `failed`. Each item's outcome is reported once to its rule
 * (`actions.success` / `actions.failed`), as EMQX counts them when the reply comes.
 *
 * Items are kept as `{r: rule id, t: queued at, i: Item}` (v8.serialize). When the connector has
 * no connection yet, the rule output itself is kept (`o`) and rendered when it is sent.
 */
import v8 from 'node:v8';
import path from 'node:path';
import type { Logger } from '../../log.js';
import { SinkError, type PreparedAction } from './types.js';
import { DiskQueue } from './disk-queue.js';
import { countDrop, newActionMetrics, type ActionMetrics, type DropReason } from './action-metrics.js';
import { errText, type ConnectorRuntime } from './connector-runtime.js';
import type { ActionResourceOpts } from './resource-opts.js';

export type Outcome = 'success' | 'failed';
export type Report = (ruleId: string, outcome: Outcome) => void;

interface Stored { r: string; t: number; i?: unknown; o?: Record<string, unknown> }

/** Items held in memory before spilling to disk. */
const MEM_BYTES = 4 << 20;
const MAX_BACKOFF = 5000;

export class ActionWorker {
  metrics: ActionMetrics = newActionMetrics();
  private readonly queue: DiskQueue;
  private prepared: PreparedAction | null = null;
  private preparedGen = -1;
  private inflight = 0;
  private inflightItems = 0;
  /** Batches sent and not settled, by send id, kept to hand back to the buffer at close. */
  private readonly outstanding = new Map<number, Buffer[]>();
  private sendSeq = 0;
  /** Batches waiting to be tried again, oldest first; while any waits, nothing new is sent. */
  private readonly retrying: Array<{ raw: Buffer[]; attempt: number }> = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private batchTimer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private closed = false;
  private readonly unwatch: () => void;
  private readonly pumpBound = (): void => { this.pumpScheduled = false; this.pump(); };

  constructor(
    readonly id: string,
    private readonly connector: ConnectorRuntime,
    private readonly params: unknown,
    readonly opts: ActionResourceOpts,
    private readonly log: Logger,
    private readonly report: Report,
    dataDir: string | null,
  ) {
    const dir = dataDir === null ? null : path.join(dataDir, 'sinks', id.replace(/[^A-Za-z0-9_.-]/g, '_'));
    this.queue = new DiskQueue(dir, opts.max_buffer_bytes, Math.min(MEM_BYTES, opts.max_buffer_bytes), (b) => this.dropped([b], 'queue_full'));
    const restored = this.queue.open();
    if (restored > 0) log.info({ action: id, items: restored }, 'action buffer restored from disk');
    this.unwatch = connector.watch(() => this.schedule());
  }

  get queuing(): number { return this.queue.length; }
  get inflightCount(): number { return this.inflightItems; }

  /** Renders (when it can) and queues one rule output; throws on a template error. */
  submit(output: Record<string, unknown>, ruleId: string): void {
    const p = this.preparedNow();
    const s: Stored = p === null ? { r: ruleId, t: Date.now(), o: output } : { r: ruleId, t: Date.now(), i: p.render(output) };
    this.metrics.matched++;
    this.queue.push(v8.serialize(s));
    if (this.queue.length >= this.opts.batch_size || this.opts.batch_time === 0) this.schedule();
    else if (this.batchTimer === null) {
      this.batchTimer = setTimeout(() => { this.batchTimer = null; this.schedule(); }, this.opts.batch_time);
      this.batchTimer.unref();
    }
  }

  /** Stops sending; what is buffered or under way stays on disk for the next start. */
  close(): void {
    this.shutdown();
    const front = [...this.retrying.flatMap((b) => b.raw), ...[...this.outstanding.values()].flat()];
    this.queue.close(front);
  }

  /** Stops and forgets everything buffered (the action was deleted). */
  destroy(): void {
    this.shutdown();
    this.queue.destroy();
  }

  private shutdown(): void {
    this.closed = true;
    this.unwatch();
    for (const t of [this.retryTimer, this.batchTimer]) if (t !== null) clearTimeout(t);
    this.retryTimer = null; this.batchTimer = null;
  }

  private preparedNow(): PreparedAction | null {
    const c = this.connector;
    if (c.conn === null) return null;
    if (this.preparedGen !== c.generation) {
      this.prepared = c.conn.prepare(this.params);
      this.preparedGen = c.generation;
    }
    return this.prepared;
  }

  private schedule(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(this.pumpBound);
  }

  private pump(): void {
    if (this.closed) return;
    if (this.retrying.length > 0) { this.retryNext(); return; }
    if (this.connector.status !== 'connected') return;
    const p = this.preparedNow();
    if (p === null) return;
    while (this.inflight < this.opts.inflight_window && this.queue.length > 0) {
      // A partial batch waits out batch_time unless the timer has fired (or batching is off).
      if (this.queue.length < this.opts.batch_size && this.batchTimer !== null) break;
      const raw = this.queue.shift(this.opts.batch_size);
      this.send(p, raw, 0);
    }
  }

  /** Expired and unrenderable items leave the batch here, counted. */
  private ready(p: PreparedAction, raw: Buffer[]): { items: unknown[]; raw: Buffer[]; rules: string[] } {
    const now = Date.now();
    const out = { items: [] as unknown[], raw: [] as Buffer[], rules: [] as string[] };
    const expired: Buffer[] = [];
    for (const b of raw) {
      const s = v8.deserialize(b) as Stored;
      if (now - s.t > this.opts.request_ttl) { expired.push(b); continue; }
      let item = s.i;
      if (s.o !== undefined) {
        try { item = p.render(s.o); } catch (err) {
          this.metrics.failed++;
          this.report(s.r, 'failed');
          this.log.warn({ action: this.id, err: errText(err) }, 'action template failed');
          continue;
        }
      }
      out.items.push(item); out.raw.push(b); out.rules.push(s.r);
    }
    if (expired.length > 0) this.dropped(expired, 'expired');
    return out;
  }

  private send(p: PreparedAction, raw0: Buffer[], attempt: number): void {
    const { items, raw, rules } = this.ready(p, raw0);
    if (items.length === 0) { if (attempt > 0) this.retryNext(); else this.schedule(); return; }
    if (attempt > 0) this.metrics.retried++;
    const n = items.length;
    const seq = this.sendSeq++;
    this.inflight++;
    this.inflightItems += n;
    this.outstanding.set(seq, raw);
    let settled: Promise<void>;
    try { settled = p.send(items); } catch (err) { settled = Promise.reject(err); }
    settled.then(() => {
      if (!this.settle(seq, n)) return;
      this.metrics.success += n;
      if (attempt > 0) this.metrics['retried.success'] += n;
      for (const r of rules) this.report(r, 'success');
      if (attempt > 0) this.retryNext(); else this.schedule();
    }, (err: unknown) => {
      if (!this.settle(seq, n)) return;
      if (err instanceof SinkError && !err.retryable) {
        this.metrics.failed += n;
        if (attempt > 0) this.metrics['retried.failed'] += n;
        for (const r of rules) this.report(r, 'failed');
        this.log.warn({ action: this.id, items: n, err: errText(err) }, 'action send refused by the target');
        if (attempt > 0) this.retryNext(); else this.schedule();
        return;
      }
      if (attempt === 0) this.log.warn({ action: this.id, items: n, err: errText(err) }, 'action send failed; retrying');
      this.connector.checkNow();
      // Put back ahead of any batch that failed after it was sent, so retries go oldest first.
      const entry = { raw, attempt: attempt + 1 };
      if (attempt > 0) this.retrying.unshift(entry); else this.retrying.push(entry);
      this.armRetry(entry.attempt);
    });
  }

  /** false when the worker closed meanwhile (the batch stays for the next start). */
  private settle(seq: number, n: number): boolean {
    if (this.closed) return false;
    this.outstanding.delete(seq);
    this.inflight--;
    this.inflightItems -= n;
    return true;
  }

  private armRetry(attempt: number): void {
    if (this.retryTimer !== null || this.closed) return;
    const ms = Math.min(MAX_BACKOFF, 100 * 2 ** Math.min(attempt, 10));
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.retryNext(); }, ms);
    this.retryTimer.unref();
  }

  /** Sends the oldest waiting batch again, once nothing else is under way; then resumes the queue. */
  private retryNext(): void {
    if (this.closed) return;
    const b = this.retrying[0];
    if (b === undefined) { this.schedule(); return; }
    if (this.inflight > 0 || this.retryTimer !== null) return;
    const p = this.preparedNow();
    if (p === null) { this.armRetry(b.attempt); return; }
    this.retrying.shift();
    this.send(p, b.raw, b.attempt);
  }

  private dropped(raw: Buffer[], reason: DropReason): void {
    countDrop(this.metrics, reason, raw.length);
    for (const b of raw) {
      try { this.report((v8.deserialize(b) as Stored).r, 'failed'); } catch { /* an unreadable item still counts as dropped */ }
    }
  }
}
