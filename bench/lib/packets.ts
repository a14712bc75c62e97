/**
 * Packet building for the load generator. mqtt-packet generates every packet once (CONNECT,
 * SUBSCRIBE, a PUBLISH template); the hot path copies templates and patches the packet id and the
 * payload's sequence fields in place, so no packet is encoded per message. MQTT 3.1.1 only.
 *
 * Payload layout of tracked messages (64 bytes by default):
 *   [0, 8)   float64 send time, performance.now() of the sending process (ms)
 *   [8, 12)  uint32 stream id (publisher index)
 *   [12, 16) uint32 sequence number within the stream
 */
import mqtt from 'mqtt-packet';

export const PAYLOAD_TS = 0;
export const PAYLOAD_STREAM = 8;
export const PAYLOAD_SEQ = 12;
export const MIN_PAYLOAD = 16;

export type QoS = 0 | 1 | 2;

/** Credentials a client sends in CONNECT: a username, and a password when not null. */
export interface Credentials {
  username: string;
  password: string | null;
}

export function connectPacket(clientId: string, clean: boolean, keepalive: number, cred: Credentials | null = null): Buffer {
  return mqtt.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId,
    clean,
    keepalive,
    ...(cred ? { username: cred.username } : {}),
    ...(cred && cred.password !== null ? { password: Buffer.from(cred.password, 'utf8') } : {}),
  });
}

export function subscribePacket(messageId: number, topic: string, qos: QoS): Buffer {
  return mqtt.generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] });
}

export const DISCONNECT = mqtt.generate({ cmd: 'disconnect' });

/** A PUBLISH frame plus the offsets the hot path patches. */
export interface PublishTemplate {
  frame: Buffer;
  /** Offset of the 2-byte packet id, or -1 for QoS 0. */
  pidOffset: number;
  /** Offset of the payload's first byte. */
  payloadOffset: number;
  /** Paced and windowed publishers stamp time, stream and sequence into the payload; not into a fixed body. */
  stamped: boolean;
}

export function publishTemplate(topic: string, qos: QoS, payloadSize: number, retain = false, body?: Buffer): PublishTemplate {
  // `body`: a fixed payload sent untouched (JSON for the rules scenario: QoS 0, flood or paced,
  // no sequence numbers, so no loss or latency per stream).
  const size = body !== undefined ? body.length : Math.max(payloadSize, MIN_PAYLOAD);
  const payload = body ?? Buffer.alloc(size, 0x61);
  const frame = mqtt.generate({
    cmd: 'publish',
    topic,
    payload,
    qos,
    retain,
    dup: false,
    messageId: qos > 0 ? 1 : undefined,
  } as mqtt.IPublishPacket);
  const payloadOffset = frame.length - size;
  const pidOffset = qos > 0 ? payloadOffset - 2 : -1;
  return { frame, pidOffset, payloadOffset, stamped: body === undefined };
}

/** `count` copies of a QoS 0 frame back to back: one write sends them all. */
export function repeatFrame(frame: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  return out;
}

/** Two-byte-body acks: PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70. */
export const PUBACK = 0x40;
export const PUBREC = 0x50;
export const PUBREL = 0x62;
export const PUBCOMP = 0x70;

/**
 * Offset of the payload inside a received PUBLISH body (MQTT 3.1.1): topic length, topic,
 * packet id when QoS > 0.
 */
export function publishPayloadStart(buf: Buffer, start: number, qos: number): number {
  const topicLen = (buf[start] << 8) | buf[start + 1];
  return start + 2 + topicLen + (qos > 0 ? 2 : 0);
}
