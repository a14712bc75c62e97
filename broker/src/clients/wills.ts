/**
 * Will messages, for every protocol: a will is published when a client's connection ends
 * without a normal disconnect (network error, keep alive timeout, protocol error, takeover,
 * server-side close, MQTT DISCONNECT 0x04) [MQTT-3.1.2-8], [MQTT-3.14.4-3].
 *
 * A will delay (MQTT 5 Will Delay Interval) holds it back: a new connection of the same client
 * within the delay cancels it, the session ending publishes it at once [MQTT-3.1.3-9]. Pending
 * delayed wills are in the store ('will' table) so a restart or crash does not lose them.
 *
 * A will keeps the ClientInfo of the connection that set it: it is authorized as that client
 * (user name, listener, certificate), not as an anonymous stand-in.
 */
import type { Store } from '../store/index.js';
import { T } from '../store/keys.js';
import type { ClientInfo } from '../hooks.js';
import type { PublishProperties, QoS } from '../types.js';

export interface Will {
  client: ClientInfo;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: PublishProperties | null;
  /** Seconds to wait before publishing (already capped by mqtt.max_will_delay). */
  delaySec: number;
}

/** Stored form of a pending delayed will. */
interface StoredWill { will: Will & { clientId?: string }; due: number }

interface Pending { timer: NodeJS.Timeout; will: Will }

export class WillScheduler {
  private readonly pending = new Map<string, Pending>();
  private readonly store: Store;
  private readonly publish: (will: Will) => void;

  /** `publish` authorizes and publishes a will whose time has come (the broker's publishWill). */
  constructor(store: Store, publish: (will: Will) => void) {
    this.store = store;
    this.publish = publish;
  }

  get size(): number { return this.pending.size; }

  /** Publishes the will now, or after min(will delay, session expiry) seconds. */
  schedule(will: Will, sessionExpirySec: number): void {
    const delay = Math.min(will.delaySec, sessionExpirySec);
    if (delay <= 0) { this.publish(will); return; }
    this.cancel(will.client.clientId);
    this.arm(will, Date.now() + delay * 1000);
  }

  /** A new connection of the client arrived in time: the will is not sent [MQTT-3.1.3-9]. */
  cancel(clientId: string): void {
    const e = this.pending.get(clientId);
    if (e === undefined) return;
    clearTimeout(e.timer);
    this.pending.delete(clientId);
    this.store.del(T.will, clientId);
  }

  /** The session ended before the will delay ran out: publish now [MQTT-3.1.3-9]. */
  flush(clientId: string): void {
    const e = this.pending.get(clientId);
    if (e === undefined) return;
    this.cancel(clientId);
    this.publish(e.will);
  }

  /** Re-arms the delayed wills pending at the last stop or crash (overdue ones go out at once). */
  restore(): number {
    let n = 0;
    for (const [key, v] of this.store.scan(T.will)) {
      const s = v as StoredWill;
      // Wills stored before ClientInfo was kept carry only the client id.
      const client: ClientInfo = s.will.client ?? {
        clientId: s.will.clientId ?? key, username: null, peerHost: '', peerPort: 0, listener: '', protocol: 'mqtt', protocolVersion: 5, isSuperuser: false,
      };
      const { clientId: _legacy, ...rest } = s.will;
      this.arm({ ...rest, client, payload: Buffer.from(s.will.payload) }, s.due);
      n++;
    }
    return n;
  }

  /** Node stop: timers stop; the stored copies wait for the restart. */
  stop(): void {
    for (const e of this.pending.values()) clearTimeout(e.timer);
    this.pending.clear();
  }

  private arm(will: Will, due: number): void {
    this.store.put(T.will, will.client.clientId, { will, due } satisfies StoredWill);
    this.setTimer(will, due);
  }

  /** setTimeout holds at most 2^31-1 ms (24.8 days): longer delays re-arm when it fires. */
  private setTimer(will: Will, due: number): void {
    const id = will.client.clientId;
    const timer = setTimeout(() => {
      if (Date.now() < due) { this.setTimer(will, due); return; }
      this.pending.delete(id);
      this.store.del(T.will, id);
      this.publish(will);
    }, Math.min(Math.max(0, due - Date.now()), 0x7fffffff));
    timer.unref();
    this.pending.set(id, { timer, will });
  }
}
