/**
 * What a gateway benchmark message carries, so the MQTT subscriber can tell which device sent it,
 * which of its messages it is, and when it left (performance.now() of the sending process, which
 * is also the receiving one: one clock).
 *
 * Binary paths (MQTT, MQTT-SN, CoAP, QUIC) send `size` bytes: [0, 8) float64 send time,
 * [8, 12) uint32 device index, [12, 16) uint32 sequence, then filler (bench/lib/packets.ts's layout).
 * OCPP sends a JSON CALL; the gateway republishes it as `{"MessageTypeId":2,"UniqueId":…,
 * "Action":"DataTransfer","Payload":{"vendorId":"bench","messageId":"<device>","data":"<time>"}}`
 * with the sequence number as UniqueId.
 */
import { PAYLOAD_SEQ, PAYLOAD_STREAM, PAYLOAD_TS } from '../lib/packets.js';

export interface Stamp { device: number; seq: number; sentAt: number }

/** Writes the stamp into `buf` at `at` (a payload inside a prebuilt frame). */
export function writeStamp(buf: Buffer, at: number, device: number, seq: number, sentAt: number): void {
  buf.writeDoubleLE(sentAt, at + PAYLOAD_TS);
  buf.writeUInt32LE(device, at + PAYLOAD_STREAM);
  buf.writeUInt32LE(seq, at + PAYLOAD_SEQ);
}

export function ocppCall(device: number, seq: number, sentAt: number): string {
  return `[2,"${seq}","DataTransfer",{"vendorId":"bench","messageId":"${device}","data":"${sentAt}"}]`;
}

/** The stamp of a received payload (buf[start, end)), or null when it carries none. */
export function readStamp(buf: Buffer, start: number, end: number, json: boolean): Stamp | null {
  if (!json) {
    if (end - start < 16) return null;
    return { sentAt: buf.readDoubleLE(start + PAYLOAD_TS), device: buf.readUInt32LE(start + PAYLOAD_STREAM), seq: buf.readUInt32LE(start + PAYLOAD_SEQ) };
  }
  try {
    const m = JSON.parse(buf.toString('utf8', start, end)) as { UniqueId?: unknown; Payload?: { messageId?: unknown; data?: unknown } };
    const seq = Number(m.UniqueId);
    const device = Number(m.Payload?.messageId);
    const sentAt = Number(m.Payload?.data);
    return Number.isInteger(seq) && Number.isInteger(device) && Number.isFinite(sentAt) ? { device, seq, sentAt } : null;
  } catch {
    return null;
  }
}
