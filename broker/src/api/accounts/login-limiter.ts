/**
 * Failed dashboard logins, counted per username and per source address (EMQX counts per
 * username only; a guesser who tries many names from one address is stopped here too). After
 * `maxAttempts` failures of a username within `intervalMs` (4 × as many for an address, since
 * several people may sit behind one NAT), that name or address is refused for `lockMs`, right
 * or wrong password — the lock is checked before the password, so a locked name costs no
 * bcrypt either. A successful login clears the username's count, as EMQX does.
 *
 * Per node, in memory: a cluster behind a load balancer lets a guesser try N × the limit,
 * which is still a handful per minute. The table is bounded: stale entries are dropped as it
 * is used, and past MAX_ENTRIES the oldest go first.
 */

const MAX_ENTRIES = 10_000;
const ADDRESS_FACTOR = 4;

interface Entry { failures: number[]; lockedUntil: number }

export interface LoginLimits { maxAttempts: number; intervalMs: number; lockMs: number }

export class LoginLimiter {
  private readonly limits: LoginLimits;
  private readonly entries = new Map<string, Entry>();

  constructor(limits: LoginLimits) { this.limits = limits; }

  /** ms until the username or the address may try again; 0 = now. */
  lockedFor(username: string, address: string, now = Date.now()): number {
    const u = this.entries.get('u:' + username)?.lockedUntil ?? 0;
    const a = this.entries.get('a:' + address)?.lockedUntil ?? 0;
    return Math.max(0, u - now, a - now);
  }

  failed(username: string, address: string, now = Date.now()): void {
    this.count('u:' + username, this.limits.maxAttempts, now);
    this.count('a:' + address, this.limits.maxAttempts * ADDRESS_FACTOR, now);
  }

  succeeded(username: string): void { this.entries.delete('u:' + username); }

  private count(key: string, max: number, now: number): void {
    let e = this.entries.get(key);
    if (e === undefined) {
      if (this.entries.size >= MAX_ENTRIES) this.prune(now);
      e = { failures: [], lockedUntil: 0 };
    } else {
      this.entries.delete(key); // re-inserted below: the map's order is last use
    }
    this.entries.set(key, e);
    const since = now - this.limits.intervalMs;
    e.failures = e.failures.filter((t) => t > since);
    e.failures.push(now);
    if (e.failures.length >= max) { e.lockedUntil = now + this.limits.lockMs; e.failures = []; }
  }

  private prune(now: number): void {
    const since = now - this.limits.intervalMs;
    for (const [k, e] of this.entries) {
      if (e.lockedUntil <= now && e.failures.every((t) => t <= since)) this.entries.delete(k);
    }
    for (const k of this.entries.keys()) {
      if (this.entries.size < MAX_ENTRIES) break;
      this.entries.delete(k);
    }
  }
}
