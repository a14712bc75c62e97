/**
 * Observations (RFC 7641) of one CoAP client and the notifications the session's deliveries
 * become. An observation is a `GET /ps/{filter}` with Observe 0: its token is echoed in every
 * notification, with an Observe sequence number that only grows (24 bits, §4.4).
 *
 * Notification type (`notify_type`): `qos` sends QoS 0 messages NON and QoS 1/2 messages CON;
 * `con` and `non` send all one way. A CON notification holds its session delivery until the
 * client's ACK (QoS 1 → PUBACK, QoS 2 → PUBREC then PUBCOMP); it is resent after ACK_TIMEOUT
 * doubling, MAX_RETRANSMIT times (RFC 7252 §4.2), then given up with its observation (§4.5 of
 * RFC 7641: a client that does not acknowledge is no longer interested). A Reset does the same
 * at once. A NON notification completes its delivery when sent.
 *
 * A payload above `max_block_size` leaves in its first block (Block2, Size2); the body is kept
 * for the client's follow-up GETs of the same URI (blockwise.ts).
 */
import type { Message, QoS } from '../../types.js';
import { topicMatches } from '../../router/topic.js';
import type { CoapChannel } from './channel.js';
import { sliceBody } from './blockwise.js';
import { blockBuf, encode, uintBuf } from './message.js';

/** `blockSize`: what the client asked for with Block2 in its registration, at most `max_block_size`. */
export interface Observation { filter: string; path: string; token: Buffer; seq: number; blockSize: number }
interface Pending { buf: Buffer; pid: number; qos: QoS; tries: number; due: number; wait: number; obs: Observation }

const ACK_TIMEOUT_MS = 2000;
const ACK_RANDOM_FACTOR = 1.5;
const MAX_RETRANSMIT = 4;
/** A NON notification still cannot exceed one datagram. */
const MAX_UNBLOCKED = 65000;

export class Notifier {
  readonly observations = new Map<string, Observation>();
  private readonly pending = new Map<number, Pending>();
  private readonly pidsPending = new Set<number>();
  /** Session acknowledgements of NON notifications, run together after the deliveries that made them. */
  private acks: Array<{ pid: number; qos: QoS }> | null = null;
  private readonly ch: CoapChannel;

  constructor(ch: CoapChannel) { this.ch = ch; }

  observe(filter: string, path: string, token: Buffer, blockSize: number): Observation {
    const old = this.observations.get(filter);
    const o: Observation = { filter, path, token, seq: old === undefined ? 1 : old.seq + 1, blockSize };
    this.observations.set(filter, o);
    return o;
  }

  cancel(filter: string): boolean { return this.observations.delete(filter); }

  /** The session's delivery: a notification to the observation whose filter matches, or false when none does. */
  deliver(msg: Message, qos: QoS, pid: number, dup: boolean): boolean {
    const ch = this.ch;
    if (dup && qos !== 0 && this.pidsPending.has(pid)) return true; // our own retransmission is on it
    const topic = ch.ctx.unmount(ch.mountpoint, msg.topic);
    let obs: Observation | undefined = this.observations.get(topic);
    if (obs === undefined) for (const o of this.observations.values()) if (topicMatches(o.filter, topic)) { obs = o; break; }
    if (obs === undefined) return false;
    const bw = ch.shared.cfg.blockwise;
    let payload = msg.payload;
    const options: Array<{ name: string; value: Buffer }> = [];
    obs.seq = (obs.seq + 1) & 0xffffff;
    options.push({ name: 'Observe', value: uintBuf(obs.seq) });
    if (bw.enable && payload.length > obs.blockSize) {
      const first = sliceBody(payload, 0, obs.blockSize)!;
      ch.blocks.keep(obs.path, msg.payload, Date.now());
      options.push({ name: 'Block2', value: blockBuf(first.block) }, { name: 'Size2', value: uintBuf(msg.payload.length) });
      payload = first.payload;
    } else if (payload.length > MAX_UNBLOCKED) return false;
    const nt = ch.shared.cfg.notifyType;
    const con = nt === 'con' || (nt === 'qos' && qos > 0);
    const mid = ch.nextMessageId();
    const buf = encode({ type: con ? 'con' : 'non', code: '2.05', messageId: mid, token: obs.token, options, payload });
    ch.sendRaw(buf);
    ch.countSent();
    if (con) {
      const wait = ACK_TIMEOUT_MS * (1 + Math.random() * (ACK_RANDOM_FACTOR - 1));
      this.pending.set(mid, { buf, pid, qos, tries: 0, due: Date.now() + wait, wait, obs });
      if (qos !== 0) this.pidsPending.add(pid);
    } else if (qos !== 0) this.ackLater(pid, qos);
    return true;
  }

  /** ACK of a CON notification (empty, or piggybacking nothing). */
  acked(mid: number): void {
    const p = this.pending.get(mid);
    if (p === undefined) return;
    this.pending.delete(mid);
    this.finish(p, false);
  }

  /** Reset of a notification: the client has forgotten the observation (RFC 7641 §3.6). */
  reset(mid: number): void {
    const p = this.pending.get(mid);
    if (p !== undefined) { this.pending.delete(mid); this.finish(p, true); }
    this.dropObservation(p?.obs ?? null, mid);
  }

  /** Resends CON notifications whose ACK is late; gives up after MAX_RETRANSMIT. */
  tick(now: number): void {
    for (const [mid, p] of this.pending) {
      if (now < p.due) continue;
      if (p.tries >= MAX_RETRANSMIT) {
        this.pending.delete(mid);
        this.finish(p, true);
        this.dropObservation(p.obs, mid);
        continue;
      }
      p.tries++;
      p.wait *= 2;
      p.due = now + p.wait;
      this.ch.sendRaw(p.buf);
    }
  }

  /** The client is gone: what waited for an ACK is given back to the session as undeliverable. */
  clear(): void {
    this.pending.clear();
    this.pidsPending.clear();
    this.observations.clear();
    this.acks = null;
  }

  private finish(p: Pending, failed: boolean): void {
    if (p.qos === 0) return;
    this.pidsPending.delete(p.pid);
    const s = this.ch.session;
    if (s === null) return;
    if (p.qos === 1) s.puback(p.pid);
    else s.pubrec(p.pid, failed ? 0x80 : 0); // PUBREC 0 makes the session release(), which completes it (channel.ts)
  }

  private dropObservation(obs: Observation | null, mid: number): void {
    if (obs === null) return;
    if (this.observations.get(obs.filter) !== obs) return;
    this.observations.delete(obs.filter);
    this.ch.unsubscribeObserved(obs.filter, `notification ${mid} not acknowledged`);
  }

  private ackLater(pid: number, qos: QoS): void {
    if (this.acks === null) {
      this.acks = [];
      queueMicrotask(() => this.flushAcks());
    }
    this.acks.push({ pid, qos });
  }

  private flushAcks(): void {
    const list = this.acks;
    this.acks = null;
    const s = this.ch.session;
    if (list === null || s === null) return;
    for (const a of list) { if (a.qos === 1) s.puback(a.pid); else s.pubrec(a.pid, 0); }
  }
}
