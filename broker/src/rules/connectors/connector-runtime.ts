/**
 * One connector at run time: its connection, opened once and shared by every action that names
 * it, and its status as EMQX shows it — `connecting` until the first connection is made,
 * `connected`, `disconnected` (with the last error) while the target does not answer, `stopped`
 * when disabled. A failed connect is tried again with backoff; a live connection is checked every
 * `health_check_interval` (and at once when an action's send fails), and watchers (the actions'
 * workers) hear of every change so a recovered target drains their buffers straight away.
 */
import type { Logger } from '../../log.js';
import type { Connection, ConnectorType } from './types.js';
import type { ConnectorResourceOpts } from './resource-opts.js';

export type ResourceStatus = 'connecting' | 'connected' | 'disconnected' | 'stopped';

export interface ConnectorEnv { log: Logger; dataDir: string; node: string }

export class ConnectorRuntime {
  status: ResourceStatus = 'connecting';
  lastError: string | null = null;
  conn: Connection | null = null;
  /** Bumped whenever `conn` is replaced, so actions know to prepare again. */
  generation = 0;
  private readonly watchers = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private closed = false;
  private backoff = 200;

  constructor(
    readonly id: string,
    readonly type: ConnectorType,
    readonly conf: unknown,
    readonly opts: ConnectorResourceOpts,
    readonly enable: boolean,
    private readonly env: ConnectorEnv,
  ) {
    if (!enable) this.status = 'stopped';
  }

  start(): void { if (this.enable) void this.connect(); }

  watch(cb: () => void): () => void { this.watchers.add(cb); return () => this.watchers.delete(cb); }

  /** A send just failed: check the target now rather than at the next interval. */
  checkNow(): void {
    if (this.closed || this.conn === null || this.checking) return;
    this.arm(0);
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.status = 'stopped';
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    const c = this.conn;
    this.conn = null;
    this.watchers.clear();
    if (c !== null) await c.close().catch((err: unknown) => this.env.log.warn({ connector: this.id, err: String(err) }, 'connector close failed'));
  }

  private set(status: ResourceStatus, err: string | null): void {
    const changed = status !== this.status;
    this.status = status;
    this.lastError = err;
    if (changed) {
      this.env.log[status === 'connected' ? 'info' : 'warn']({ connector: this.id, status, err }, 'connector status');
      for (const w of [...this.watchers]) w();
    }
  }

  private arm(ms: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = null; void (this.conn === null ? this.connect() : this.check()); }, ms);
    this.timer.unref();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    try {
      const c = await withTimeout(this.type.connect(this.conf, { id: this.id, log: this.env.log, dataDir: this.env.dataDir, node: this.env.node }), this.opts.start_timeout, 'connect');
      if (this.closed) { await c.close().catch(() => {}); return; }
      this.conn = c;
      this.generation++;
      this.backoff = 200;
      // A pool that opened lazily is not proof the target answers: the first check decides.
      await this.check();
    } catch (err) {
      if (this.closed) return;
      this.set('disconnected', errText(err));
      this.arm(this.backoff);
      this.backoff = Math.min(this.backoff * 2, this.opts.health_check_interval);
    }
  }

  private async check(): Promise<void> {
    const c = this.conn;
    if (c === null || this.closed) return;
    this.checking = true;
    try {
      await withTimeout(c.health(), Math.max(1000, Math.min(this.opts.health_check_interval, 15_000)), 'health check');
      if (!this.closed && this.conn === c) this.set('connected', null);
    } catch (err) {
      if (!this.closed && this.conn === c) this.set('disconnected', errText(err));
    } finally {
      this.checking = false;
    }
    if (!this.closed && this.conn === c) this.arm(this.status === 'connected' ? this.opts.health_check_interval : Math.min(1000, this.opts.health_check_interval));
  }
}

export function errText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return errText(err.errors[0]);
  if (err instanceof Error) return err.message || err.name || String((err as { code?: unknown }).code ?? 'error');
  return String(err);
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  if (!Number.isFinite(ms)) return p;
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); }),
  ]);
}
