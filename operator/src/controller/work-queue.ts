/**
 * The work queue between watch events and reconciles, shaped like client-go's workqueue:
 *
 * - keys ("namespace/name"), not events: ten changes to one cluster's objects become one reconcile;
 * - per-key serialisation: a key being processed is never handed to a second worker; if it is
 *   added meanwhile it is marked dirty and runs again right after;
 * - failures requeue with per-key exponential backoff (base · 2^failures, capped), and a success
 *   resets the key's failure count; `addAfter` schedules a requeue (e.g. "check again in 5s");
 * - a bounded number of workers; `drain()` resolves when nothing is queued, running or scheduled
 *   soon (tests use it to wait for the controller to settle).
 */

export type Handler = (key: string) => Promise<{ requeueAfterMs?: number } | void>;

export interface WorkQueueOptions {
  workers?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (key: string, err: unknown, failures: number, retryInMs: number) => void;
  onDepth?: (depth: number) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly idleWaiters: (() => void)[] = [];
  private running = 0;
  private stopped = false;
  private readonly workers: number;
  private readonly base: number;
  private readonly max: number;

  constructor(private readonly handler: Handler, private readonly opts: WorkQueueOptions = {}) {
    this.workers = opts.workers ?? 2;
    this.base = opts.baseBackoffMs ?? 250;
    this.max = opts.maxBackoffMs ?? 60_000;
  }

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.stopped) return;
    const t = this.timers.get(key);
    if (t) { clearTimeout(t.timer); this.timers.delete(key); }
    if (this.processing.has(key)) { this.dirty.add(key); return; }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.opts.onDepth?.(this.queue.length);
    this.pump();
  }

  /** Adds the key after `ms` (an earlier pending schedule wins; a direct add() cancels it). */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => { this.timers.delete(key); this.add(key); }, ms);
    timer.unref?.();
    this.timers.set(key, { at, timer });
  }

  backoffFor(failures: number): number {
    return Math.min(this.max, this.base * 2 ** Math.max(0, failures - 1));
  }

  private pump(): void {
    while (!this.stopped && this.running < this.workers && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.opts.onDepth?.(this.queue.length);
      this.running++;
      this.processing.add(key);
      void this.run(key);
    }
    this.checkIdle();
  }

  private async run(key: string): Promise<void> {
    try {
      const res = await this.handler(key);
      this.failures.delete(key);
      if (res && res.requeueAfterMs !== undefined) this.addAfter(key, res.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = this.backoffFor(n);
      this.opts.onError?.(key, err, n, delay);
      this.addAfter(key, delay);
    } finally {
      this.processing.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }

  private isIdle(withinMs: number): boolean {
    if (this.queue.length || this.running) return false;
    const soon = Date.now() + withinMs;
    for (const t of this.timers.values()) if (t.at <= soon) return false;
    return true;
  }

  private checkIdle(): void {
    if (!this.isIdle(0)) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when nothing is queued or running and no requeue is due within `withinMs`. */
  async drain(timeoutMs = 10_000, withinMs = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isIdle(withinMs)) {
      if (Date.now() > deadline) throw new Error(`work queue not idle after ${timeoutMs}ms (queued ${this.queue.length}, running ${this.running}, scheduled ${this.timers.size})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.idleWaiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Waits for in-flight handlers to finish (after stop()). */
  async waitStopped(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.running > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }
}
