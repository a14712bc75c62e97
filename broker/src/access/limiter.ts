/**
 * Rate limits as EMQX 5 writes them on a listener: `max_conn_rate`, `messages_rate`,
 * `bytes_rate`, each with an optional `*_burst`. A rate is "<amount>[unit][/[n]<interval>]":
 * `1000/s`, `100/10s`, `1MB/s`, `500KB/2m`, a bare `100` (per second) or `infinity`.
 * A burst is a rate too, read as "this much extra, once per that interval": `10000/60m`.
 *
 * A TokenBucket holds up to `capacity` tokens and refills continuously at capacity per
 * interval; the burst is a second pool, refilled in full once per burst interval, drawn on
 * only when the bucket is empty. Time is passed in (ms), so the bucket is pure and testable.
 *
 * What happens at the limit is the caller's: a listener closes the connection at once
 * (transport/listener.ts), a channel stops reading the client until the bucket has refilled
 * (ClientLimiter below): nothing is dropped.
 */

export interface Rate {
  /** Tokens (connections, messages or bytes) per interval. */
  readonly capacity: number;
  readonly intervalMs: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const INTERVALS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const RATE_RE = /^(\d+)(kb|mb|gb|b|)(?:\/(\d*)(ms|s|m|h|d))?$/;

/**
 * Parses a rate ("1000/s", "1MB/10s", "100", "infinity"); null = no limit. `bytes` allows
 * the size units (B, KB, MB, GB) — counts of connections or messages take none.
 */
export function parseRate(v: unknown, opts: { bytes?: boolean; zeroIsNone?: boolean } = {}): Parsed<Rate | null> {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) v = String(v);
  if (typeof v !== 'string') return { ok: false, error: `expected a rate such as "1000/s"${opts.bytes ? ' or "1MB/s"' : ''}, or "infinity"; got ${JSON.stringify(v)}` };
  const s = v.trim().toLowerCase();
  if (s === 'infinity') return { ok: true, value: null };
  const m = RATE_RE.exec(s);
  if (m === null) return { ok: false, error: `"${v}" is not a rate: expected <amount>${opts.bytes ? '[B|KB|MB|GB]' : ''}[/[n]ms|s|m|h|d], e.g. "${opts.bytes ? '1MB/s' : '1000/s'}", or "infinity"` };
  const [, amount, unit, n, per] = m;
  if (unit !== '' && !opts.bytes) return { ok: false, error: `"${v}": size units (${unit.toUpperCase()}) only apply to bytes_rate and bytes_burst` };
  const capacity = Number(amount) * UNITS[unit]!;
  const intervalMs = (n === undefined || n === '' ? 1 : Number(n)) * INTERVALS[per ?? 's']!;
  if (intervalMs === 0) return { ok: false, error: `"${v}": the interval must not be 0` };
  if (capacity === 0) return opts.zeroIsNone ? { ok: true, value: null } : { ok: false, error: `"${v}": a rate of 0 would refuse everything; use "infinity" for no limit` };
  if (!Number.isSafeInteger(capacity)) return { ok: false, error: `"${v}": amount too large` };
  return { ok: true, value: Object.freeze({ capacity, intervalMs }) };
}

/** Formats a rate the way it is written in config ("1000/s", "1MB/10s"). */
export function formatRate(r: Rate | null, bytes = false): string {
  if (r === null) return 'infinity';
  let amount = String(r.capacity);
  if (bytes) for (const u of ['gb', 'mb', 'kb'] as const) if (r.capacity % UNITS[u]! === 0) { amount = `${r.capacity / UNITS[u]!}${u.toUpperCase()}`; break; }
  for (const u of ['d', 'h', 'm', 's'] as const) {
    const ms = INTERVALS[u]!;
    if (r.intervalMs % ms === 0) return `${amount}/${r.intervalMs === ms ? '' : r.intervalMs / ms}${u}`;
  }
  return `${amount}/${r.intervalMs}ms`;
}

export class TokenBucket {
  readonly rate: Rate;
  private readonly perMs: number;
  private tokens: number;
  private last: number;
  private readonly burstCapacity: number;
  private readonly burstIntervalMs: number;
  private burstTokens: number;
  private lastBurst: number;

  constructor(rate: Rate, burst: Rate | null, now: number) {
    this.rate = rate;
    this.perMs = rate.capacity / rate.intervalMs;
    this.tokens = rate.capacity;
    this.last = now;
    this.burstCapacity = burst?.capacity ?? 0;
    this.burstIntervalMs = burst?.intervalMs ?? 0;
    this.burstTokens = this.burstCapacity;
    this.lastBurst = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.rate.capacity, this.tokens + (now - this.last) * this.perMs);
      this.last = now;
    }
    if (this.burstCapacity > 0 && now - this.lastBurst >= this.burstIntervalMs) {
      this.burstTokens = this.burstCapacity;
      this.lastBurst = now;
    }
  }

  /** Takes `n` tokens if they are all there (the burst pool making up a shortfall); false takes none. */
  tryTake(n: number, now: number): boolean {
    this.refill(now);
    if (this.tokens >= n) { this.tokens -= n; return true; }
    if (this.tokens + this.burstTokens >= n) { this.burstTokens -= n - this.tokens; this.tokens = 0; return true; }
    return false;
  }

  /**
   * Takes `n` tokens even when they are not there yet (the bucket goes into debt, so a
   * message larger than the capacity still passes), and returns how long (ms) the caller
   * must wait before taking more: 0 when the bucket is not in debt.
   */
  take(n: number, now: number): number {
    this.refill(now);
    if (this.tokens < n && this.burstTokens > 0) {
      const fromBurst = Math.min(this.burstTokens, n - Math.max(0, this.tokens));
      this.burstTokens -= fromBurst;
      n -= fromBurst;
    }
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.perMs);
  }

  /** Milliseconds until `n` tokens are there (0 = now). */
  waitMs(n: number, now: number): number {
    this.refill(now);
    const missing = n - this.tokens - this.burstTokens;
    return missing <= 0 ? 0 : Math.ceil(missing / this.perMs);
  }
}

/** A listener's per-client limits (one frozen object per listener; null fields = no limit). */
export interface ClientRateLimits {
  readonly messages: Rate | null;
  readonly messagesBurst: Rate | null;
  readonly bytes: Rate | null;
  readonly bytesBurst: Rate | null;
}

/**
 * One client's incoming PUBLISH limits: `admit()` is asked before each PUBLISH is handled;
 * 0 lets it through now, otherwise the channel holds it (and stops reading) for that many ms
 * and asks again. A channel of a listener without limits has no ClientLimiter at all, so the
 * publish path pays one null check.
 */
export class ClientLimiter {
  private readonly messages: TokenBucket | null;
  private readonly bytes: TokenBucket | null;
  /** The hold timer while the client is paused; cancelled when the channel closes. */
  timer: NodeJS.Timeout | null;
  /** Times this client was paused (for the node's metrics). */
  pauses: number;

  constructor(l: ClientRateLimits, now: number) {
    this.messages = l.messages !== null ? new TokenBucket(l.messages, l.messagesBurst, now) : null;
    this.bytes = l.bytes !== null ? new TokenBucket(l.bytes, l.bytesBurst, now) : null;
    this.timer = null;
    this.pauses = 0;
  }

  /**
   * A PUBLISH of `size` bytes wants in: 0 = admitted (its tokens taken), else ms to wait.
   * Bytes are taken on credit: a PUBLISH larger than the bucket waits for it to fill, then
   * passes and leaves the bucket in debt, so the average rate still holds.
   */
  admit(size: number, now: number): number {
    const m = this.messages;
    const b = this.bytes;
    if (m !== null) {
      const w = m.waitMs(1, now);
      if (w > 0) return w;
    }
    if (b !== null) {
      const w = b.waitMs(Math.min(size, b.rate.capacity), now);
      if (w > 0) return w;
      b.take(size, now);
    }
    if (m !== null) m.take(1, now);
    return 0;
  }

  /** The channel closed: no timer may outlive it. */
  cancel(): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
  }
}

/** Whether a listener's config sets any per-client limit. */
export function hasClientLimits(l: ClientRateLimits): boolean {
  return l.messages !== null || l.bytes !== null;
}
