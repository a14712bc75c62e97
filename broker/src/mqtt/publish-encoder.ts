/**
 * Encode once, write many: the bytes of a PUBLISH without per-subscriber properties are built
 * once per (message, wire format, QoS, retain) and shared by every subscriber they go to. MQTT
 * 3.1 and 3.1.1 PUBLISH bytes are identical, so they share a slot. The packet id is patched in
 * by the caller for QoS > 0 (codec setPacketId).
 *
 * One cache for the process: a fan-out delivers one message to all its subscribers before the
 * next message is published, so remembering the last message is enough.
 */
import type { Message, QoS } from '../types.js';
import { encodePublish } from './codec/index.js';

let cachedMsg: Message | null = null;
const slots: Array<Buffer | undefined> = new Array(12).fill(undefined);

export function encodeShared(msg: Message, version: 3 | 4 | 5, qos: QoS, retain: boolean, dup: boolean): Buffer {
  if (dup) return encodePublish({ topic: msg.topic, payload: msg.payload, qos, retain, dup, messageId: 1 }, version);
  if (cachedMsg !== msg) { cachedMsg = msg; slots.fill(undefined); }
  const slot = (version === 5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
  let buf = slots[slot];
  if (buf === undefined) {
    buf = encodePublish({ topic: msg.topic, payload: msg.payload, qos, retain, dup: false, messageId: qos === 0 ? undefined : 1 }, version);
    slots[slot] = buf;
  }
  return buf;
}
