/**
 * Flapping detection (`flapping_detect`), with EMQX's semantics (emqx_flapping.erl): what is
 * counted is CONNECT attempts per client id — every CONNECT that gets past the banned list,
 * before authentication, so a client that keeps failing to log in counts too. The first one
 * opens a window; when `max_count` of them have come within `window_time`, the client id is
 * banned for `ban_time` through the banned list (by "flapping detector", reason "flapping is
 * detected") and the count starts over. A count whose window has passed is forgotten (a
 * sweep every window_time, and when the client reaches max_count too late).
 *
 * EMQX lets the CONNECT that tips the count go on and kicks it once the ban lands; here it is
 * refused at once with the ban's reason code, which is what the client ends up with either way.
 */
import type { Ban, BannedList, BanSubject } from './banned.js';

export interface FlappingConfig {
  readonly windowMs: number;
  readonly maxCount: number;
  readonly banMs: number;
}

interface Window { startedAt: number; count: number }

export class FlappingDetector {
  private readonly cfg: FlappingConfig;
  private readonly banned: BannedList;
  private readonly windows = new Map<string, Window>();
  private sweeper: NodeJS.Timeout | null = null;
  /** Client ids banned for flapping since start. */
  detected = 0;

  constructor(cfg: FlappingConfig, banned: BannedList) {
    this.cfg = cfg;
    this.banned = banned;
  }

  start(): void {
    this.sweeper ??= setInterval(() => this.sweep(Date.now()), this.cfg.windowMs);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper !== null) { clearInterval(this.sweeper); this.sweeper = null; }
    this.windows.clear();
  }

  /** Counts one CONNECT of this client; returns the ban when it made the client flapping. */
  detect(s: BanSubject, now: number): Ban | null {
    let w = this.windows.get(s.clientId);
    if (w === undefined) { w = { startedAt: now, count: 0 }; this.windows.set(s.clientId, w); }
    w.count++;
    if (w.count < this.cfg.maxCount) return null;
    this.windows.delete(s.clientId);
    if (now - w.startedAt >= this.cfg.windowMs) return null;
    const at = Math.floor(now / 1000);
    const ban: Ban = Object.freeze({
      as: 'clientid', who: s.clientId, by: 'flapping detector', reason: 'flapping is detected',
      at, until: at + Math.max(1, Math.round(this.cfg.banMs / 1000)),
    });
    this.banned.ensure(ban);
    this.detected++;
    return ban;
  }

  /** Forgets counts whose window has passed. */
  sweep(now: number): void {
    for (const [id, w] of this.windows) if (now - w.startedAt >= this.cfg.windowMs) this.windows.delete(id);
  }

  /** Client ids being counted (tests, metrics). */
  get tracked(): number { return this.windows.size; }
}
