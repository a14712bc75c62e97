/**
 * Flow control for the QoS 0 flood publishers of one worker process.
 *
 * Without it, "as fast as TCP allows" fills megabytes of kernel socket buffers per publisher:
 * the broker is measured while drowning in a backlog, and "loss" becomes "not yet delivered".
 * The gate bounds the deliveries the broker owes: sent × fanout − received ≤ limit, counted over
 * all workers. Workers report their counters to the coordinator every few milliseconds and the
 * coordinator relays the totals (see Pool.relay). A broker that drops QoS 0 messages would keep
 * the gate shut forever, so when nothing arrives for `stallMs` while the gate is shut AND the
 * broker process is idle (it has nothing left to deliver: the rest was dropped), the outstanding
 * count is written off; the loss is still counted at the end from sent vs received. A busy broker
 * (backlog, garbage collection) is never written off, so it is not flooded into a death spiral.
 * limit = 0 disables the gate (open loop).
 */

export interface Pausable {
  resume(): void;
}

export class FloodGate {
  limit = 0;
  fanout = 1;
  stallMs = 300;
  /** Messages sent by this worker's flood publishers. */
  localSent = 0;
  /** Sent by the other workers, as last relayed. */
  otherSent = 0;
  /** Deliveries counted by all workers, as last relayed. */
  delivered = 0;
  writtenOff = 0;
  stalls = 0;
  brokerActive = true;
  private lastDelivered = 0;
  private lastProgress = 0;
  private waiting: Pausable[] = [];

  configure(limit: number, fanout: number): void {
    this.limit = limit;
    this.fanout = fanout;
    this.localSent = 0;
    this.otherSent = 0;
    this.delivered = 0;
    this.writtenOff = 0;
    this.stalls = 0;
    this.lastDelivered = 0;
    this.lastProgress = performance.now();
    this.brokerActive = true;
    this.waiting = [];
  }

  private outstanding(): number {
    return (this.localSent + this.otherSent) * this.fanout - this.delivered - this.writtenOff;
  }

  /** May a publisher send another batch? If not, it is resumed on the next update. */
  allow(p: Pausable): boolean {
    if (this.limit <= 0 || this.outstanding() < this.limit) return true;
    if (!this.brokerActive && performance.now() - this.lastProgress > this.stallMs) {
      this.stalls++;
      if (process.env.BENCH_DEBUG) process.stderr.write(`gate write-off pid ${process.pid}: local ${this.localSent} other ${this.otherSent} delivered ${this.delivered} out ${this.outstanding()} sinceProgress ${(performance.now() - this.lastProgress).toFixed(0)} ms\n`);
      this.writtenOff += this.outstanding();
      this.lastProgress = performance.now();
      return true;
    }
    if (!this.waiting.includes(p)) this.waiting.push(p);
    return false;
  }

  /** Totals relayed by the coordinator. */
  update(otherSent: number, delivered: number, brokerActive: boolean): void {
    this.otherSent = otherSent;
    this.brokerActive = brokerActive;
    this.delivered = delivered;
    const now = performance.now();
    if (delivered !== this.lastDelivered) {
      this.lastDelivered = delivered;
      this.lastProgress = now;
    }
    if (this.waiting.length > 0 && (this.outstanding() < this.limit || (!brokerActive && now - this.lastProgress > this.stallMs))) {
      const w = this.waiting;
      this.waiting = [];
      for (const p of w) p.resume();
    }
  }
}

export const floodGate = new FloodGate();
