/**
 * Will messages and DISCONNECT from the client.
 *
 * A will is published when the connection ends without a DISCONNECT 0x00 (network error,
 * keep alive timeout, protocol error, takeover, or DISCONNECT 0x04) [MQTT-3.1.2-8],
 * [MQTT-3.14.4-3]. MQTT 5's Will Delay Interval holds it back; a new connection to the same
 * session within the delay cancels it, and the session ending publishes it at once
 * [MQTT-3.1.3-9].
 */
import type { Packet, IConnectPacket, IDisconnectPacket } from './codec/index.js';
import type { Channel } from './channel.js';
import type { Broker } from '../broker.js';
import type { Session } from '../session/session.js';
import type { PublishProperties, QoS } from '../types.js';
import { MqttError, RC } from '../errors.js';

export interface Will {
  clientId: string;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: PublishProperties | null;
  delaySec: number;
}

export function willFromConnect(c: IConnectPacket, maxDelaySec: number): Will {
  const w = c.will!;
  const wp = (w.properties ?? {}) as Record<string, unknown>;
  const { willDelayInterval, ...rest } = wp;
  const props = Object.keys(rest).length > 0 ? rest as PublishProperties : null;
  return {
    clientId: c.clientId, topic: w.topic, payload: Buffer.from(w.payload ?? Buffer.alloc(0)), qos: (w.qos ?? 0) as QoS,
    retain: !!w.retain, properties: props, delaySec: Math.min((willDelayInterval as number | undefined) ?? 0, maxDelaySec),
  };
}

const pending = new WeakMap<Broker, Map<string, { timer: NodeJS.Timeout; will: Will }>>();

function table(b: Broker): Map<string, { timer: NodeJS.Timeout; will: Will }> {
  let t = pending.get(b);
  if (t === undefined) { t = new Map(); pending.set(b, t); }
  return t;
}

/** Publishes the will now, or after min(will delay, session expiry). */
export function scheduleWill(b: Broker, will: Will, session: Session): void {
  const delay = Math.min(will.delaySec, session.expiryInterval);
  if (delay <= 0) { publishWill(b, will); return; }
  cancelWill(b, will.clientId);
  armWill(b, will, Date.now() + delay * 1000);
}

/** Stored form of a pending will ('will' table, key = client id), so a restart does not lose it. */
interface StoredWill { will: Will; due: number }

function armWill(b: Broker, will: Will, due: number): void {
  const timer = setTimeout(() => { table(b).delete(will.clientId); b.store.del('will', will.clientId); publishWill(b, will); }, Math.max(0, due - Date.now()));
  timer.unref();
  table(b).set(will.clientId, { timer, will });
  b.store.put('will', will.clientId, { will, due } satisfies StoredWill);
}

/**
 * Re-arms the delayed wills that were pending when the node stopped (or crashed); a will
 * whose time has passed goes out at once. Call after the broker has loaded its sessions.
 */
export function restoreWills(b: Broker): number {
  let n = 0;
  for (const [, v] of b.store.scan('will')) {
    const s = v as StoredWill;
    armWill(b, { ...s.will, payload: Buffer.from(s.will.payload) }, s.due);
    n++;
  }
  return n;
}

/** A new connection for the session arrived in time: the will is not sent [MQTT-3.1.3-9]. */
export function cancelWill(b: Broker, clientId: string): void {
  const t = pending.get(b);
  const e = t?.get(clientId);
  if (e !== undefined) { clearTimeout(e.timer); t!.delete(clientId); b.store.del('will', clientId); }
}

/** The session ended before the will delay: publish now. */
export function flushWill(b: Broker, clientId: string): void {
  const t = pending.get(b);
  const e = t?.get(clientId);
  if (e !== undefined) { clearTimeout(e.timer); t!.delete(clientId); b.store.del('will', clientId); publishWill(b, e.will); }
}

/** On node stop: pending wills are not published; their timers stop and the stored copies wait for the restart. */
export function stopWills(b: Broker): void {
  const t = pending.get(b);
  if (t === undefined) return;
  for (const e of t.values()) clearTimeout(e.timer);
  t.clear();
}

function publishWill(b: Broker, will: Will): void {
  if (b.hooks.active('client.authorize')) {
    const client = { clientId: will.clientId, username: null, peerHost: '', peerPort: 0, listener: '', protocolVersion: 5 as const };
    if (b.hooks.decide('client.authorize', { client, action: 'publish', topic: will.topic, qos: will.qos, retain: will.retain }) === 'deny') return;
  }
  b.publish(b.newMessage(will.topic, will.payload, will.qos, will.retain, will.properties, will.clientId));
}

export function handleDisconnect(ch: Channel, p: Packet): void {
  const d = p as IDisconnectPacket;
  ch.count('packets.disconnect.received');
  const rc = d.reasonCode ?? 0;
  const newExpiry = d.properties?.sessionExpiryInterval;
  const s = ch.session!;
  if (newExpiry !== undefined) {
    // [MQTT-3.14.2-2] a session that had expiry 0 may not be given one at DISCONNECT
    if (s.expiryInterval === 0 && newExpiry !== 0) throw new MqttError('PROTOCOL_ERROR', 'session expiry set at DISCONNECT after 0 at CONNECT');
    ch.broker.sessions.setExpiry(s, Math.min(newExpiry, ch.cfg.sessionExpirySec));
  }
  // [MQTT-3.14.4-3] normal disconnection discards the will; 0x04 asks for it
  const withWill = rc === RC.DISCONNECT_WITH_WILL || (rc !== 0 && ch.protocolVersion === 5);
  ch.close(rc === 0 ? 'normal' : `client_disconnect_0x${rc.toString(16)}`, withWill);
}
