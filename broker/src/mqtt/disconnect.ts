/**
 * DISCONNECT from the client, and the will a CONNECT carries.
 *
 * The will itself — when it is published, delayed, cancelled — is the client manager's
 * (clients/wills.ts); here the CONNECT's will fields become a protocol-neutral Will, and a
 * DISCONNECT decides whether it goes out: not on 0x00, yes on 0x04 (and any v5 error code)
 * [MQTT-3.14.4-3].
 */
import type { Packet, IConnectPacket, IDisconnectPacket } from './codec/index.js';
import type { Channel } from './channel.js';
import type { ClientInfo } from '../hooks.js';
import type { Will } from '../clients/wills.js';
import type { PublishProperties, QoS } from '../types.js';
import { MqttError, RC } from '../errors.js';

export function willFromConnect(c: IConnectPacket, client: ClientInfo, maxDelaySec: number): Will {
  const w = c.will!;
  const wp = (w.properties ?? {}) as Record<string, unknown>;
  const { willDelayInterval, ...rest } = wp;
  const props = Object.keys(rest).length > 0 ? rest as PublishProperties : null;
  return {
    client, topic: w.topic, payload: Buffer.from(w.payload ?? Buffer.alloc(0)), qos: (w.qos ?? 0) as QoS,
    retain: !!w.retain, properties: props, delaySec: Math.min((willDelayInterval as number | undefined) ?? 0, maxDelaySec),
  };
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
    ch.clients.setExpiry(s, Math.min(newExpiry, ch.cfg.sessionExpirySec));
  }
  // [MQTT-3.14.4-3] normal disconnection discards the will; 0x04 asks for it
  const withWill = rc === RC.DISCONNECT_WITH_WILL || (rc !== 0 && ch.protocolVersion === 5);
  ch.close(rc === 0 ? 'normal' : `client_disconnect_0x${rc.toString(16)}`, withWill);
}
