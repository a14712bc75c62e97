/**
 * Delayed messages in a cluster (`$delayed/{seconds}/{topic}`): held in etcd, one key each with
 * no lease (they outlive the node that took them), watched by every node; only the LEADER — the
 * first live core by name, the same rule that picks who adopts a departed node's sessions —
 * runs the timers and publishes a message when it is due, then deletes its key. When the leader
 * dies the next one arms the timers for everything still held (a message due meanwhile goes out
 * at once). At least once: a leader that dies between publishing and deleting the key has its
 * successor publish that message again.
 */
import type { Message } from '../types.js';
import { messageFromJson, messageToJson, type MessageJson } from './wire.js';

interface Held { due: number; msg: Message; timer: NodeJS.Timeout | null }

export interface DelayedStoreIo {
  put(key: string, value: Buffer): void;
  del(key: string): void;
  log: { warn(o: object, m?: string): void };
}

export class ClusterDelayed {
  private readonly held = new Map<string, Held>();
  private leader = false;
  private publish: (m: Message) => void = () => {};
  private nextSeq = 0;

  constructor(private readonly prefix: string, private readonly node: string, private readonly max: number, private readonly io: DelayedStoreIo) {}

  get size(): number { return this.held.size; }

  list(): Array<{ due: number; msg: Message }> {
    return [...this.held.values()].map((h) => ({ due: h.due, msg: h.msg })).sort((a, b) => a.due - b.due);
  }

  /** Holds the message cluster-wide; false when max_delayed_messages are held already. */
  add(msg: Message, delaySec: number): boolean {
    if (this.max > 0 && this.held.size >= this.max) return false;
    const due = Date.now() + delaySec * 1000;
    const key = `${this.prefix}${this.node}/${msg.id}-${this.nextSeq++}`;
    this.io.put(key, Buffer.from(JSON.stringify({ due, msg: messageToJson(msg) })));
    this.apply(key, { due, msg });
    return true;
  }

  /** Drops the held message with this id everywhere (its key goes; every node forgets it). */
  delete(msgId: number): boolean {
    for (const [key, h] of this.held) {
      if (h.msg.id !== msgId) continue;
      this.forget(key);
      this.io.del(key);
      return true;
    }
    return false;
  }

  /** A key changed in etcd (value null: deleted). */
  onKey(key: string, value: Buffer | null): void {
    if (value === null) { this.forget(key); return; }
    try {
      const j = JSON.parse(value.toString()) as { due: number; msg: MessageJson };
      if (typeof j.due !== 'number') throw new Error('no due time');
      this.apply(key, { due: j.due, msg: messageFromJson(j.msg) });
    } catch (err) {
      this.io.log.warn({ key, err: (err as Error).message }, 'unreadable delayed message in etcd; ignored');
    }
  }

  /** The keys held now (a full reload removes the others). */
  keys(): string[] { return [...this.held.keys()]; }

  /** This node became (or stopped being) the one that publishes due messages. */
  setLeader(leader: boolean, publish: (m: Message) => void): void {
    this.publish = publish;
    if (leader === this.leader) return;
    this.leader = leader;
    for (const [key, h] of this.held) {
      if (leader) this.arm(key, h);
      else if (h.timer !== null) { clearTimeout(h.timer); h.timer = null; }
    }
  }

  stop(): void { for (const h of this.held.values()) if (h.timer !== null) clearTimeout(h.timer); this.leader = false; }

  private apply(key: string, v: { due: number; msg: Message }): void {
    const old = this.held.get(key);
    if (old?.timer) clearTimeout(old.timer);
    const h: Held = { due: v.due, msg: v.msg, timer: null };
    this.held.set(key, h);
    if (this.leader) this.arm(key, h);
  }

  private forget(key: string): void {
    const h = this.held.get(key);
    if (h === undefined) return;
    if (h.timer !== null) clearTimeout(h.timer);
    this.held.delete(key);
  }

  private arm(key: string, h: Held): void {
    if (h.timer !== null) clearTimeout(h.timer);
    // setTimeout holds at most 2^31-1 ms: a longer delay re-arms on the way.
    const wait = Math.min(Math.max(0, h.due - Date.now()), 0x7fffffff);
    h.timer = setTimeout(() => {
      h.timer = null;
      if (!this.leader || this.held.get(key) !== h) return;
      if (h.due > Date.now()) { this.arm(key, h); return; }
      this.held.delete(key);
      this.io.del(key);
      this.publish(h.msg);
    }, wait);
    h.timer.unref();
  }
}
