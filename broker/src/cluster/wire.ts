/**
 * Messages and sessions as JSON for etcd values and node-to-node calls: Buffers (payload,
 * correlation data) travel as base64 so a copy decodes to the same bytes.
 */
import type { Message, PublishProperties } from '../types.js';
import type { DeliveryRecord } from '../session/session.js';
import type { SubOptions } from '../types.js';

export interface MessageJson {
  id: number; topic: string; payload: string; qos: 0 | 1 | 2; retain: boolean;
  properties: Record<string, unknown> | null; from: string; timestamp: number; expiresAt: number;
}

export function messageToJson(m: Message): MessageJson {
  let properties: Record<string, unknown> | null = null;
  if (m.properties !== null) {
    properties = { ...m.properties };
    const cd = m.properties.correlationData;
    if (cd !== undefined) properties.correlationData = { $b64: Buffer.from(cd).toString('base64') };
  }
  return { id: m.id, topic: m.topic, payload: m.payload.toString('base64'), qos: m.qos, retain: m.retain, properties, from: m.from, timestamp: m.timestamp, expiresAt: m.expiresAt };
}

export function messageFromJson(j: MessageJson): Message {
  if (typeof j !== 'object' || j === null || typeof j.topic !== 'string' || typeof j.payload !== 'string' || ![0, 1, 2].includes(j.qos)) {
    throw new TypeError('not a message record');
  }
  let properties: PublishProperties | null = null;
  if (j.properties !== null && typeof j.properties === 'object') {
    const p = { ...j.properties } as Record<string, unknown>;
    const cd = p.correlationData as { $b64?: string } | undefined;
    if (cd !== undefined && typeof cd.$b64 === 'string') p.correlationData = Buffer.from(cd.$b64, 'base64');
    properties = p as PublishProperties;
  }
  return {
    id: Number(j.id) || 0, topic: j.topic, payload: Buffer.from(j.payload, 'base64'), qos: j.qos, retain: j.retain === true,
    properties, from: String(j.from ?? ''), timestamp: Number(j.timestamp) || Date.now(), expiresAt: Number(j.expiresAt) || 0,
  };
}

/** A session moving to another node (takeover): subscriptions, queued and in-flight messages, QoS 2 state. */
export interface SessionTransfer {
  clientId: string;
  expiryInterval: number;
  subs: Array<{ filter: string; topicFilter: string; group: string | null; exclusive: boolean; options: SubOptions }>;
  /** [order, delivery] in the order they were queued; the message as MessageJson. */
  deliveries: Array<[number, Omit<DeliveryRecord, 'm'> & { m: MessageJson }]>;
  /** Incoming QoS 2 packet ids whose PUBREL has not come. */
  awaitingRel: number[];
}
