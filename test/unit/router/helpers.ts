/** Test helpers for the router area: build Subscriptions and Messages, seeded randomness. */
import type { Message, Subscription, SubOptions } from '../../../broker/src/types.js';
import { parseFilter } from '../../../broker/src/router/index.js';

export function sub(clientId: string, filter: string, options: Partial<SubOptions> = {}): Subscription {
  const p = parseFilter(filter);
  if (p.kind === 'invalid') throw new Error(`invalid filter in test: ${filter}`);
  return {
    clientId,
    filter,
    topicFilter: p.topicFilter,
    group: p.group,
    exclusive: p.exclusive,
    options: { qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0, ...options },
  };
}

let nextId = 1;
export function msg(topic: string, payload: string, extra: Partial<Message> = {}): Message {
  return {
    id: nextId++, topic, payload: Buffer.from(payload), qos: 0, retain: true, properties: null,
    from: 'pub', timestamp: 0, expiresAt: 0, ...extra,
  };
}

/** mulberry32: small seeded PRNG returning [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
