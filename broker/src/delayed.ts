/**
 * Delayed publish: a PUBLISH to `$delayed/{seconds}/{topic}` is held for that many seconds
 * and then published to `{topic}` (EMQX's convention). Held messages live in the store's
 * 'delayed' table keyed by due time, so they survive a restart; one timer points at the
 * earliest due message.
 */
import type { Message } from './types.js';
import type { Store } from './store/index.js';
import { T, delayedDue, delayedKey } from './store/keys.js';

/** Longest delay accepted, in seconds (EMQX: 4294967). */
export const MAX_DELAY_SECONDS = 4294967;

interface Held { due: number; key: string; msg: Message }

export class DelayedPublisher {
  private readonly store: Store;
  private readonly publish: (m: Message) => void;
  private readonly max: number;
  private held: Held[] = [];       // sorted by due time, then key
  private timer: NodeJS.Timeout | null = null;
  private timerDue = 0;

  constructor(store: Store, publish: (m: Message) => void, maxDelayed: number) {
    this.store = store;
    this.publish = publish;
    this.max = maxDelayed;
  }

  get size(): number { return this.held.length; }

  /** Parses `$delayed/{seconds}/{topic}`; null when the topic is not a valid delayed topic. */
  static parse(topic: string): { delay: number; topic: string } | null {
    const a = topic.indexOf('/');
    const b = topic.indexOf('/', a + 1);
    if (a < 0 || b < 0) return null;
    const secs = topic.slice(a + 1, b);
    if (!/^\d+$/.test(secs)) return null;
    const delay = Number(secs);
    const rest = topic.slice(b + 1);
    if (delay > MAX_DELAY_SECONDS || rest.length === 0) return null;
    return { delay, topic: rest };
  }

  add(msg: Message, delaySec: number): boolean {
    if (this.max > 0 && this.held.length >= this.max) return false;
    const due = Date.now() + delaySec * 1000;
    const key = delayedKey(due, msg.id);
    this.store.put(T.delayed, key, msg);
    this.insert({ due, key, msg });
    return true;
  }

  /** Loads held messages from the store; returns the highest message id seen. */
  load(): number {
    let maxId = 0;
    for (const [key, v] of this.store.scan(T.delayed)) {
      const msg = v as Message;
      this.held.push({ due: delayedDue(key), key, msg });
      if (msg.id > maxId) maxId = msg.id;
    }
    this.arm();
    return maxId;
  }

  list(): Array<{ due: number; msg: Message }> { return this.held.map((h) => ({ due: h.due, msg: h.msg })); }

  /** Drops the held message with this id; false = none. */
  delete(msgId: number): boolean {
    const i = this.held.findIndex((h) => h.msg.id === msgId);
    if (i < 0) return false;
    const [h] = this.held.splice(i, 1);
    this.store.del(T.delayed, h.key);
    if (i === 0) this.arm();
    return true;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private insert(h: Held): void {
    let lo = 0, hi = this.held.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (this.held[mid].key <= h.key) lo = mid + 1; else hi = mid; }
    this.held.splice(lo, 0, h);
    if (lo === 0) this.arm();
  }

  private arm(): void {
    if (this.held.length === 0) { this.stop(); return; }
    const due = this.held[0].due;
    if (this.timer !== null && this.timerDue === due) return;
    this.stop();
    this.timerDue = due;
    // setTimeout caps at 2^31-1 ms; longer delays re-arm when that fires.
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(0, due - Date.now()), 0x7fffffff));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    const now = Date.now();
    let n = 0;
    while (n < this.held.length && this.held[n].due <= now) n++;
    const ready = this.held.splice(0, n);
    for (const h of ready) {
      this.store.del(T.delayed, h.key);
      this.publish({ ...h.msg, timestamp: now });
    }
    this.arm();
  }
}
